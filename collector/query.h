// The query protocol (docs/protocol.md, section 2) without any I/O: parsing one
// request line into a Query, and answering it from the Collector's state. The
// server only moves lines between sockets and these functions.
#pragma once

#include "collector.h"
#include "stats_view.h"

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

enum class QueryCommand { stats, vhosts, rules, top, timeseries, events, tail, health };

struct Query {
    QueryCommand command = QueryCommand::stats;
    std::optional<std::string> vhost;  // restrict to this vhost
    std::optional<std::string> rule;   // rules, timeseries: restrict to this rule id
    std::optional<std::int64_t> window; // stats, timeseries: the last N seconds
    TopList list = TopList::clients;   // top
    Resolution resolution = Resolution::minute; // timeseries
    std::size_t limit = 20;            // top
    StatsShape shape;                  // stats: rules_limit, top_clients
    EventFilter events;                // events, tail: the filters (vhost among them)
};

// The command names, in the order error messages list them.
inline constexpr const char* k_query_commands =
    "stats, vhosts, rules, top, timeseries, events, tail, health";

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
// The wall clock in Unix seconds.
[[nodiscard]] std::int64_t wall_clock_now();

struct QueryAnswer {
    std::string line;                // the answer, without the trailing newline
    std::optional<EventFilter> tail; // set for `tail`: stream matching events after it
};

// Answers one request line; `wall_now` (Unix seconds) anchors windows (tests pass a
// fixed one). For `tail` the answer is {"ok":true,"tail":true} and the caller streams
// every later event that matches the returned filter, one `event_json` line each.
[[nodiscard]] QueryAnswer answer(std::string_view line, Collector& collector,
                                 Collector::Clock::time_point now, std::int64_t wall_now);

// answer(...).line.
[[nodiscard]] std::string answer_query(std::string_view line, Collector& collector,
                                       Collector::Clock::time_point now,
                                       std::int64_t wall_now = wall_clock_now());


} // namespace mso
