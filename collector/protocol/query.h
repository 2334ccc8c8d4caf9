// The query protocol (docs/protocol.md, section 2) without any I/O: parsing one
// request line into a Query, and answering it from the Collector's state. The
// server only moves lines between sockets and these functions.
#pragma once

#include "event.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mso {

// What the top lists count, as named in the `top` query.
enum class TopList { clients, paths, agents, targets };

// The resolutions of the `timeseries` query.
enum class Resolution { minute, hour };

// The options of `stats` that make its answer smaller.
struct StatsShape {
    std::size_t rules_limit = 0; // at most this many rules per vhost, most hits first (0: all)
    std::size_t top_clients = 0; // this many heaviest clients per vhost (0: none)
};

// Filters of the `events` query; every set one must match (AND).
struct EventFilter {
    std::optional<std::string> vhost;
    std::optional<std::string> rule; // an event with a finding of this id
    std::optional<std::string> client;
    std::optional<bool> intercepted;
    std::optional<std::int64_t> since_us; // requests that started at or after (µs, epoch)
    std::size_t limit = 100;              // matching events to return; 0 = all

    [[nodiscard]] bool matches(const RequestEvent& e) const;
};

// Largest `limit` of an events query (a ring never holds more).
inline constexpr std::uint64_t k_max_events_limit = 10'000'000;

// Largest `rules_limit` and `top_clients` of a stats query: as many rules and top
// clients as the collector keeps per vhost (state/aggregator.h checks that they agree).
inline constexpr std::size_t k_max_rules_limit = 5000;
inline constexpr std::size_t k_max_top_clients = 64;

// Longest request line accepted, not counting the newline.
inline constexpr std::size_t k_max_query_line_bytes = 65536;

enum class QueryCommand { stats, vhosts, rules, top, timeseries, events, tail, health };

struct Query {
    QueryCommand command = QueryCommand::stats;
    std::optional<std::string> vhost;           // restrict to this vhost
    std::optional<std::string> rule;            // rules, timeseries: restrict to this rule id
    std::optional<std::int64_t> window;         // stats, timeseries: the last N seconds
    TopList list = TopList::clients;            // top
    Resolution resolution = Resolution::minute; // timeseries
    std::size_t limit = 20;                     // top
    StatsShape shape;                           // stats: rules_limit, top_clients
    EventFilter events;                         // events, tail: the filters (vhost among them)
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

// One JSON value as one answer line: no newline, invalid UTF-8 replaced.
[[nodiscard]] std::string dump_line(const nlohmann::ordered_json& j);

// `{"ok":false,"error":message}` as one line without the trailing newline.
[[nodiscard]] std::string error_answer(std::string_view message);

} // namespace mso
