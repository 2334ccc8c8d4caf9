// The query protocol (docs/protocol.md, section 2) without any I/O: parsing one
// request line into a Query, and answering it from the Collector's state. The
// server only moves lines between sockets and these functions.
#pragma once

#include "collector.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mso {

// Longest request line accepted, not counting the newline.
inline constexpr std::size_t k_max_query_line_bytes = 65536;

enum class QueryCommand { stats, health };

struct Query {
    QueryCommand command = QueryCommand::stats;
    std::optional<std::string> vhost; // stats only: restrict to this vhost
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
