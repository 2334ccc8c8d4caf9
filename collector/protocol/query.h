// The query language both programs speak (docs/protocol.md, section 2), without any
// I/O: the request types, parse_query() that the daemon runs on every request line, and
// request_line() that the CLI sends. The key and value names live here once, for both.
// Answering a query from the collector's state is state/query_answer.h.
#pragma once

#include "event.h"
#include "util/result.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

// The keys of a request line, as parse_query() reads them and request_line() writes them.
namespace query_key {
inline constexpr const char k_cmd[] = "cmd";
inline constexpr const char k_vhost[] = "vhost";
inline constexpr const char k_vhosts[] = "vhosts";
inline constexpr const char k_rule[] = "rule";
inline constexpr const char k_window[] = "window";
inline constexpr const char k_list[] = "list";
inline constexpr const char k_resolution[] = "resolution";
inline constexpr const char k_limit[] = "limit";
inline constexpr const char k_max_age[] = "max_age";
inline constexpr const char k_rules_limit[] = "rules_limit";
inline constexpr const char k_top_clients[] = "top_clients";
inline constexpr const char k_score_levels[] = "score_levels";
inline constexpr const char k_client[] = "client";
inline constexpr const char k_intercepted[] = "intercepted";
inline constexpr const char k_path[] = "path";
inline constexpr const char k_status[] = "status";
inline constexpr const char k_would_block[] = "would_block";
inline constexpr const char k_engine[] = "engine";
inline constexpr const char k_source[] = "source";
inline constexpr const char k_since[] = "since";
inline constexpr const char k_until[] = "until";
inline constexpr const char k_grep[] = "grep";
inline constexpr const char k_cursor[] = "cursor";
inline constexpr const char k_unique_id[] = "unique_id";
inline constexpr const char k_min_clients[] = "min_clients";
inline constexpr const char k_max_suspicious_pct[] = "max_suspicious_pct";
inline constexpr const char k_wide_families[] = "wide_families";
inline constexpr const char k_wide_paths[] = "wide_paths";
inline constexpr const char k_family_paths[] = "family_paths";
inline constexpr const char k_many_paths[] = "many_paths";
inline constexpr const char k_many_targets[] = "many_targets";
} // namespace query_key

// Longest `max_age` a `top` query may accept.
inline constexpr std::size_t k_max_answer_age_s = 300;

// What the top lists count, as named in the `top` query.
enum class TopList { clients, paths, agents, targets };

// The resolutions of the `timeseries` query.
enum class Resolution { minute, hour };

// The options of `stats` that make its answer smaller.
struct StatsShape {
    std::size_t rules_limit = 0; // at most this many rules per vhost, most hits first (0: all)
    std::size_t top_clients = 0; // this many heaviest clients per vhost (0: none)
    bool score_levels = false;   // the score histograms per paranoia level too

    bool operator==(const StatsShape&) const = default;
};

// The tunable rules of `tune` and `readiness` (collector/tuning/: finding_groups.h for the
// labels, exclusion_scope.h for the scopes; docs/TUNING.md).
struct TuneOptions {
    std::uint64_t min_clients = 5;         // fewer distinct clients: likely attack
    std::uint64_t max_suspicious_pct = 10; // more suspicious clients (percent): likely attack
    std::uint64_t wide_families = 3;       // a client firing this many attack families ...
    std::uint64_t wide_paths = 3;          // ... on this many paths is suspicious
    std::uint64_t family_paths = 3;        // paths under one directory: @beginsWith
    std::uint64_t many_paths = 5;          // paths with no common directory: the host
    std::uint64_t many_targets = 5;        // targets on many paths: the whole rule, host only

    bool operator==(const TuneOptions&) const = default;
};

// The default window of `tune` and `readiness`: 7 days.
inline constexpr std::int64_t k_default_tune_window_s = 7 * 24 * 3600;
// Largest value of a TuneOptions count.
inline constexpr std::uint64_t k_max_tune_option = 1'000'000;

// Where a page of history ended (the store's cursor, history_store.h, without the
// store): the next page holds the events strictly older in (time_us, row_id) order. On
// the wire it is an opaque string (format_cursor / parse_cursor).
struct EventCursor {
    std::int64_t time_us = 0;
    std::int64_t row_id = 0;

    bool operator==(const EventCursor&) const = default;
};

// Filters of the `events` query; every set one must match (AND).
struct EventFilter {
    std::optional<std::string> vhost;
    std::optional<std::string> rule; // an event with a finding of this id
    std::optional<std::string> client;
    std::optional<bool> intercepted;
    std::optional<std::int64_t> since_us;   // requests that started at or after (µs, epoch)
    std::size_t limit = 100;                // matching events to return; 0 = all
    std::optional<std::string> path_prefix; // byte prefix of the path (no query string)
    std::optional<int> status;
    std::optional<bool> would_block;      // not intercepted, but a score reached its threshold
    std::optional<EngineMode> engine;     // on or detection_only
    std::optional<std::string> source;    // "module", "import:<name>", ...
    std::optional<std::int64_t> until_us; // requests that started before (µs, epoch)
    std::optional<std::string> grep;      // substring of a finding's msg or matched data
    std::optional<EventCursor> cursor;    // continue after the previous page

    // Whether `e`, received from `event_source`, passes every filter but the cursor.
    // The engine mode is not in a RequestEvent: `event_engine` is the one the collector
    // resolved when the event arrived (EventRing::push(), event_engine_mode() in
    // common/event.h).
    [[nodiscard]] bool matches(const RequestEvent& e, EngineMode event_engine,
                               std::string_view event_source = "module") const;
    bool operator==(const EventFilter&) const = default;
};

// The source of the events the module sends.
inline constexpr const char k_module_source[] = "module";

// Largest `limit` of an events query (a ring never holds more).
inline constexpr std::uint64_t k_max_events_limit = 10'000'000;
// Largest page of an events query answered from history; `limit` 0 or more asks for
// this many and the answer's "next" continues.
inline constexpr std::size_t k_max_history_page = 10'000;
// Longest `grep` text.
inline constexpr std::size_t k_max_grep_bytes = 1024;
// Longest window of `events` and `timeseries` (history may keep more than memory's 30
// days; --history-days).
inline constexpr std::int64_t k_max_history_window_s = 3660LL * 24 * 3600;

// The cursor as the opaque string an answer's "next" carries, and back (nullopt: not a
// string format_cursor() wrote). Pure.
[[nodiscard]] std::string format_cursor(const EventCursor& cursor);
[[nodiscard]] std::optional<EventCursor> parse_cursor(std::string_view text);

// Largest `rules_limit` and `top_clients` of a stats query: as many rules and top
// clients as the collector keeps per vhost (state/aggregator.h checks that they agree).
inline constexpr std::size_t k_max_rules_limit = 5000;
inline constexpr std::size_t k_max_top_clients = 64;

// Most vhosts one `timeseries` may list in `vhosts` (the dashboard's Overview asks for
// the 50 rows of a page at once).
inline constexpr std::size_t k_max_listed_vhosts = 100;

// Longest request line accepted, not counting the newline.
inline constexpr std::size_t k_max_query_line_bytes = 65536;

enum class QueryCommand {
    stats,
    vhosts,
    rules,
    top,
    timeseries,
    events,
    tail,
    health,
    event,
    sources,
    tune,
    readiness
};

struct Query {
    QueryCommand command = QueryCommand::stats;
    std::optional<std::string> vhost; // restrict to this vhost
    // timeseries: restrict to these vhosts, as listed (1 to k_max_listed_vhosts; never
    // with `vhost`); empty when not given.
    std::vector<std::string> vhosts;
    std::optional<std::string> rule; // rules, timeseries: restrict to this rule id
    // stats, vhosts, rules, top, timeseries: restrict to this source ("module",
    // "sensor:<name>", ...); events, tail and event have theirs in `events.source`.
    std::optional<std::string> source;
    std::optional<std::int64_t> window;         // stats, timeseries: the last N seconds
    TopList list = TopList::clients;            // top
    Resolution resolution = Resolution::minute; // timeseries
    std::size_t limit = 20;                     // top
    // top: an answer from history may be one computed for the same question up to this
    // many seconds ago (0: always read the store; at most k_max_answer_age_s).
    std::size_t max_age = 0;
    StatsShape shape; // stats: rules_limit, top_clients
    // events, tail: the filters; parse_query() copies vhost and rule above into them.
    // event: `source` alone.
    EventFilter events;
    std::optional<std::string> unique_id; // event: the request's UNIQUE_ID (required)
    TuneOptions tune;                     // tune (vhost required), readiness

    bool operator==(const Query&) const = default;
};

// `query.vhosts` by name, each once: the vhosts a `timeseries` answer lists. Pure.
[[nodiscard]] std::vector<std::string> listed_vhosts(const Query& query);

// The command names, in the order error messages list them.
inline constexpr const char* k_query_commands =
    "stats, vhosts, rules, top, timeseries, events, tail, health, event, sources, tune, "
    "readiness";

// The query of one request line (without its newline), or why it was rejected
// (lowercase, with context; sent back to the client). Pure: no state, no I/O, never
// throws on any input.
[[nodiscard]] Result<Query> parse_query(std::string_view line);

// The request line (without the newline) that parse_query() reads back as `query`: the
// command's keys that are set, in a fixed order. Values beyond the limits parse_query()
// applies (a `limit` above its cap) come back capped. For events and tail, the filter's
// vhost and rule must equal `query.vhost` and `query.rule` (only those are written);
// tail has no limit (a stream sends every match), so it keeps the default; tail takes
// neither cursor nor since/until. Times are written in whole seconds. Pure.
[[nodiscard]] std::string request_line(const Query& query);

// The wire names of the top lists and resolutions, in their declaration order (the CLI
// offers them as choices), and the values they name.
[[nodiscard]] std::vector<std::string> top_list_names();
[[nodiscard]] std::vector<std::string> resolution_names();
[[nodiscard]] std::optional<TopList> top_list_named(std::string_view name);
[[nodiscard]] std::optional<Resolution> resolution_named(std::string_view name);
// The engine modes a filter may name ("on", "detection_only"), and the mode named.
[[nodiscard]] std::vector<std::string> engine_filter_names();
[[nodiscard]] std::optional<EngineMode> engine_filter_named(std::string_view name);

// One JSON value as one answer line: no newline, invalid UTF-8 replaced.
[[nodiscard]] std::string dump_line(const nlohmann::ordered_json& j);

// `{"ok":false,"error":message}` as one line without the trailing newline.
[[nodiscard]] std::string error_answer(std::string_view message);
// Whether an answer line is an error answer (as error_answer() writes it). Pure.
[[nodiscard]] bool is_error_answer(std::string_view line);

} // namespace mso
