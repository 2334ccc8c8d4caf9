// Answers parsed queries from the Collector's state (docs/protocol.md, section 2). No
// I/O: the daemon passes what it read elsewhere (the clock, the process's memory).
#include "state/query_answer.h"

#include "state/aggregator_views.h"
#include "state/event_detail.h"
#include "state/time_series.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>
#include <vector>

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

// An event of the ring with where it came from and its engine mode.
struct RingEvent {
    const RequestEvent* event = nullptr;
    SourceId source = k_module_source_id;
    EngineMode engine = EngineMode::unknown;
};

// The newest event of the ring with this unique id (and source, when given).
RingEvent find_in_ring(const Collector& collector, const Query& query)
{
    RingEvent found;
    collector.events().for_each_with_origin([&](const RequestEvent& e, SourceId source,
                                                EngineMode engine) {
        if (e.unique_id == query.unique_id &&
            (!query.events.source || collector.sources().name(source) == *query.events.source)) {
            found = {&e, source, engine}; // oldest first: the last one seen is the newest
        }
    });
    return found;
}

} // namespace

std::vector<SourceAggregates> aggregates_for(const Collector& collector,
                                             const std::optional<std::string>& source)
{
    std::vector<SourceAggregates> out;
    const SourceTable& sources = collector.sources();
    if (source) {
        const SourceId id = sources.find(*source);
        if (id == k_other_source_id && *source != k_other_source_name) {
            return out;
        }
        if (const Aggregator* data = collector.aggregates_of(id)) {
            out.push_back({sources.name(id), data});
        }
        return out;
    }
    out.push_back({sources.name(k_module_source_id), &collector.aggregator()});
    for (const auto& [id, data] : collector.source_aggregates()) {
        out.push_back({sources.name(id), &data});
    }
    // By name after the module's: ids depend on the order sources were first seen (and
    // change across a snapshot), answers should not.
    std::sort(out.begin() + 1, out.end(), [](const SourceAggregates& a, const SourceAggregates& b) {
        return a.source < b.source;
    });
    return out;
}

namespace {

// The rows of every source's view in one array; each row names its source when
// `tag` (several live sources, or a source filter).
template <typename View>
json concat(const std::vector<SourceAggregates>& parts, bool tag, View&& view)
{
    json out = json::array();
    for (const SourceAggregates& part : parts) {
        for (json& row : view(*part.data)) {
            if (tag) {
                row["source"] = std::string(part.source);
            }
            out.push_back(std::move(row));
        }
    }
    return out;
}

// The `timeseries` answer for a list of vhosts: each source's series of the listed
// vhosts it has, by name, then an empty one for each listed vhost that no source has
// (the list's vhosts all appear, each source's once).
json listed_series(const std::vector<SourceAggregates>& parts, bool tag, const Query& query,
                   std::int64_t since, std::optional<std::string_view> rule)
{
    const std::vector<std::string> names = listed_vhosts(query);
    json out = concat(parts, tag, [&](const Aggregator& data) {
        return data.timeseries(names, query.resolution, since, rule);
    });
    for (const std::string& name : names) {
        const bool seen = std::any_of(parts.begin(), parts.end(), [&](const SourceAggregates& p) {
            return p.data->find(name) != nullptr;
        });
        if (seen) {
            continue;
        }
        json empty{{"vhost", name},
                   {"resolution", query.resolution == Resolution::minute ? "minute" : "hour"},
                   {"points", json::array()}};
        if (query.source) {
            empty["source"] = *query.source;
        }
        out.push_back(std::move(empty));
    }
    return out;
}

} // namespace

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

bool tags_sources(const Query& query, const Collector& collector)
{
    return query.source.has_value() || collector.sources().with_events() > 1 ||
           !collector.source_aggregates().empty();
}

EventFilter ring_filter(const Query& query, std::int64_t wall_now)
{
    EventFilter filter = query.events;
    if (query.window) {
        filter.since_us = (wall_now - *query.window) * 1'000'000;
    }
    return filter;
}

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
    const std::vector<SourceAggregates> parts = aggregates_for(collector, query.source);
    // Rows name their source when more than one source is live or the query names one.
    const bool tag = tags_sources(query, collector);
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
        out["vhosts"] = concat(parts, tag, [&](const Aggregator& data) {
            return stats_view(data, vhost, query.window, wall_now, query.shape);
        });
        break;
    case QueryCommand::vhosts:
        out["vhosts"] = concat(parts, tag, [](const Aggregator& data) { return data.vhosts(); });
        break;
    case QueryCommand::rules:
        out["rules"] =
            concat(parts, tag, [&](const Aggregator& data) { return data.rules(vhost, rule); });
        break;
    case QueryCommand::top: {
        // One list per source (a list across sources would merge their sketches).
        out["top"] = concat(parts, tag, [&](const Aggregator& data) {
            return data.top(query.list, vhost, query.limit);
        });
        out["capacity"] = k_top_capacity; // slots per vhost and list
        std::uint64_t bound = 0;
        for (const SourceAggregates& part : parts) {
            bound = std::max(bound, top_error_bound(*part.data, query.list, vhost));
        }
        out["error_bound"] = bound;
        break;
    }
    case QueryCommand::timeseries: {
        const std::int64_t window =
            query.window.value_or(query.resolution == Resolution::minute ? 3600 : 24 * 3600);
        if (!query.vhosts.empty()) {
            out["series"] = listed_series(parts, tag, query, wall_now - window, rule);
            break;
        }
        out["series"] = concat(parts, tag, [&](const Aggregator& data) {
            return data.timeseries(vhost, query.resolution, wall_now - window, rule);
        });
        break;
    }
    case QueryCommand::sources:
        out["from"] = "memory";
        out["now"] = iso_time_s(wall_now);
        out["sources"] = collector.sources().view(wall_now);
        break;
    case QueryCommand::events: {
        if (query.events.cursor) {
            collector.count_bad_query();
            return {error_answer("\"cursor\" pages through history, which this collector does "
                                 "not keep (--no-history)"),
                    std::nullopt};
        }
        out["from"] = "ring";
        out["events"] = collector.events().select(ring_filter(query, wall_now),
                                                  collector.sources().names(), tag);
        break;
    }
    case QueryCommand::event: {
        const auto [e, source, engine] = find_in_ring(collector, query);
        if (e == nullptr) {
            return {
                error_answer(no_such_event(query, "among the recent events the collector keeps")),
                std::nullopt};
        }
        out["from"] = "ring";
        out["event"] = event_detail_json(*e, collector.sources().name(source), engine,
                                         verdict_name(verdict_of(*e)));
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
