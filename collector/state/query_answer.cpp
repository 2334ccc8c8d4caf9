// Answers parsed queries from the Collector's state (docs/protocol.md, section 2). No
// I/O: the daemon passes what it read elsewhere (the clock, the process's memory).
#include "state/query_answer.h"

#include "state/aggregator_views.h"
#include "state/event_detail.h"
#include "state/time_series.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace mso {

using json = nlohmann::ordered_json;

namespace {

// The largest error of the answered list: the sum of N / capacity over the vhosts' lists
// (merging adds errors, top_k.h).
std::uint64_t top_error_bound(const Aggregator& data, TopList list,
                              std::optional<std::string_view> vhost)
{
    if (vhost) {
        const VhostStats* stats = data.find(*vhost);
        return stats ? stats->top(list).error_bound() : 0;
    }
    std::uint64_t bound = 0;
    for (const auto& [name, stats] : data.all()) {
        bound += stats.top(list).error_bound();
    }
    return bound;
}

// The newest event of the ring with this unique id (and source, when given).
const RequestEvent* find_in_ring(const EventRing& ring, const Query& query)
{
    const RequestEvent* found = nullptr;
    if (query.events.source && *query.events.source != k_module_source) {
        return found;
    }
    ring.for_each([&](const RequestEvent& e) {
        if (e.unique_id == query.unique_id) {
            found = &e; // oldest first: the last one seen is the newest
        }
    });
    return found;
}

// Why memory cannot answer `query`'s window (empty: it can). Only history answers these
// (daemon/history_service.h, route_query); memory sees them when there is none.
std::string beyond_memory(const Query& query)
{
    const std::string no_history = " needs the history store, which this collector does not "
                                   "keep (--no-history)";
    if (!query.window) {
        return {};
    }
    if (query.command == QueryCommand::stats && *query.window > TimeSeries::k_hour_span) {
        return "a \"window\" of stats longer than 30 days" + no_history;
    }
    if (query.command == QueryCommand::rules || query.command == QueryCommand::top) {
        return std::string("a \"window\" of ") +
               (query.command == QueryCommand::rules ? "rules" : "top") + no_history +
               " (memory counts them since the start)";
    }
    return {};
}

} // namespace

std::string no_such_event(const Query& query, std::string_view where)
{
    std::string out = "no request with unique_id " + dump_line(json(query.unique_id.value_or("")));
    if (query.events.source) {
        out += " from source " + dump_line(json(*query.events.source));
    }
    return out + " " + std::string(where);
}

QueryAnswer answer(std::string_view line, Collector& collector, Collector::Clock::time_point now,
                   std::int64_t wall_now, MemoryProbe memory)
{
    const auto parsed = parse_query(line);
    if (!parsed) {
        collector.count_bad_query();
        return {error_answer(parsed.error()), std::nullopt};
    }
    const Query& query = *parsed;
    const Aggregator& data = collector.aggregator();
    std::optional<std::string_view> vhost;
    if (query.vhost) {
        vhost = *query.vhost;
    }
    std::optional<std::string_view> rule;
    if (query.rule) {
        rule = *query.rule;
    }
    if (auto beyond = beyond_memory(query); !beyond.empty()) {
        collector.count_bad_query();
        return {error_answer(beyond), std::nullopt};
    }
    json out = json::object();
    out["ok"] = true;
    std::optional<EventFilter> tail;
    switch (query.command) {
    case QueryCommand::stats:
        out["vhosts"] = stats_view(data, vhost, query.window, wall_now, query.shape);
        break;
    case QueryCommand::vhosts: out["vhosts"] = data.vhosts(); break;
    case QueryCommand::rules: out["rules"] = data.rules(vhost, rule); break;
    case QueryCommand::top:
        out["top"] = data.top(query.list, vhost, query.limit);
        out["capacity"] = k_top_capacity; // slots per vhost and list
        out["error_bound"] = top_error_bound(data, query.list, vhost);
        break;
    case QueryCommand::timeseries: {
        const std::int64_t window =
            query.window.value_or(query.resolution == Resolution::minute ? 3600 : 24 * 3600);
        out["series"] = data.timeseries(vhost, query.resolution, wall_now - window, rule);
        break;
    }
    case QueryCommand::events: {
        if (query.events.cursor) {
            collector.count_bad_query();
            return {error_answer("\"cursor\" pages through history, which this collector does "
                                 "not keep (--no-history)"),
                    std::nullopt};
        }
        EventFilter filter = query.events;
        if (query.window) {
            filter.since_us = (wall_now - *query.window) * 1'000'000;
        }
        out["from"] = "ring";
        out["events"] = collector.events().select(filter);
        break;
    }
    case QueryCommand::event: {
        const RequestEvent* e = find_in_ring(collector.events(), query);
        if (e == nullptr) {
            return {
                error_answer(no_such_event(query, "among the recent events the collector keeps")),
                std::nullopt};
        }
        out["from"] = "ring";
        out["event"] =
            event_detail_json(*e, k_module_source, inferred_engine_mode(*e), verdict_of_event(*e));
        break;
    }
    case QueryCommand::tail:
        out["tail"] = true; // the events follow, one line each, as they arrive
        tail = query.events;
        break;
    case QueryCommand::tune:
    case QueryCommand::readiness:
        collector.count_bad_query();
        return {
            error_answer(std::string(query.command == QueryCommand::tune ? "tune" : "readiness") +
                         " reads the history store, which this collector does not keep "
                         "(--no-history)"),
            std::nullopt};
    case QueryCommand::health: {
        json health = collector.health(now, memory ? memory() : MemoryUsage{});
        for (auto it = health.begin(); it != health.end(); ++it) {
            out[it.key()] = std::move(it.value());
        }
        break;
    }
    }
    return {dump_line(out), std::move(tail)};
}

std::string answer_query(std::string_view line, Collector& collector,
                         Collector::Clock::time_point now, std::int64_t wall_now)
{
    return answer(line, collector, now, wall_now, nullptr).line;
}

} // namespace mso
