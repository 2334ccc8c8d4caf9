// Answers parsed queries from the Collector's state (docs/protocol.md, section 2). No
// I/O: the daemon passes what it read elsewhere (the clock, the process's memory).
#include "state/query_answer.h"

#include "state/aggregator_views.h"

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

} // namespace

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
        EventFilter filter = query.events;
        if (query.window) {
            filter.since_us = (wall_now - *query.window) * 1'000'000;
        }
        out["events"] = collector.events().select(filter);
        break;
    }
    case QueryCommand::tail:
        out["tail"] = true; // the events follow, one line each, as they arrive
        tail = query.events;
        break;
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
