// The query protocol (docs/protocol.md, section 2) without any I/O: parsing one
// request line into a Query, and answering it from the Collector's state. The
// server only moves lines between sockets and these functions.
#pragma once

#include "collector.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mso {

// Largest `limit` of an events query (a ring never holds more).
inline constexpr std::uint64_t k_max_events_limit = 10'000'000;

// Longest request line accepted, not counting the newline.
inline constexpr std::size_t k_max_query_line_bytes = 65536;

enum class QueryCommand { stats, health, events };

struct Query {
    QueryCommand command = QueryCommand::stats;
    std::optional<std::string> vhost; // stats: restrict to this vhost
    EventFilter events;               // events: the filters (vhost among them)
};

// Why a request line was rejected; `message` is lowercase with context.
struct QueryError {
    std::string message;
};

// Pure: no state, no I/O, never throws on any input.
[[nodiscard]] std::variant<Query, QueryError> parse_query(std::string_view line);

// `{"ok":false,"error":message}` as one line without the trailing newline.
[[nodiscard]] std::string error_answer(std::string_view message);

// Answers one request line (without its newline) as one line without the
// trailing newline; counts bad queries in `collector`. Never blocks.
[[nodiscard]] std::string answer_query(std::string_view line, Collector& collector,
                                       Collector::Clock::time_point now);

} // namespace mso
