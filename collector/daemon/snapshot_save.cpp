// The snapshot format, version 3 (snapshot.h; version 1 lacked the sources, version 2 the
// score histograms per paranoia level): compact JSON, objects
// for records and arrays for repeated tuples (status codes, heavy-hitter entries, time-series
// points). Read back by snapshot.cpp; keep the two in step.
#include "daemon/snapshot.h"

#include "daemon/snapshot_reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

namespace mso {
namespace {

using json = nlohmann::json;

json top_json(const TopK& top)
{
    json entries = json::array();
    for (const TopEntry& e : top.top()) {
        entries.push_back(json::array({e.key, e.count, e.error}));
    }
    return json{{"total", top.total()}, {"entries", std::move(entries)}};
}

json histogram_json(const ScoreHistogram& h)
{
    return json{{"counts", h.counts}, {"sum", h.sum}, {"count", h.count}};
}

json levels_json(const std::array<ScoreHistogram, k_paranoia_levels>& levels)
{
    json out = json::array();
    for (const ScoreHistogram& h : levels) {
        out.push_back(histogram_json(h));
    }
    return out;
}

json series_json(const std::deque<SeriesPoint>& points)
{
    json out = json::array();
    for (const SeriesPoint& p : points) {
        json rules = json::array();
        for (const auto& [id, hits] : p.rule_hits) {
            rules.push_back(json::array({id, hits}));
        }
        out.push_back(json::array(
            {p.start, p.requests, p.flagged, p.intercepted, p.would_block, std::move(rules)}));
    }
    return out;
}

json rule_json(const std::string& id, const RuleStats& r)
{
    return json{{"id", id},
                {"msg", r.msg},
                {"severity", r.severity},
                {"pl", r.paranoia_level},
                {"hits", r.hits},
                {"matches", r.matches},
                {"first_seen", r.first_seen},
                {"last_seen", r.last_seen},
                {"paths", top_json(r.paths)},
                {"targets", top_json(r.targets)}};
}

json vhost_json(const std::string& name, const VhostStats& v)
{
    json status = json::array();
    for (const auto& [code, count] : v.status) {
        status.push_back(json::array({code, count}));
    }
    // Rules by id, so that the same state always gives the same document.
    std::vector<const std::pair<const std::string, RuleStats>*> sorted;
    sorted.reserve(v.rules.size());
    for (const auto& entry : v.rules) {
        sorted.push_back(&entry);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    json rules = json::array();
    for (const auto* entry : sorted) {
        rules.push_back(rule_json(entry->first, entry->second));
    }
    json out{{"name", name},
             {"requests", v.requests},
             {"flagged", v.flagged},
             {"intercepted", v.intercepted},
             {"would_block", v.would_block},
             {"events", v.events},
             {"truncated_findings", v.truncated_findings},
             {"engine_messages", v.engine_messages},
             {"events_without_scores", v.events_without_scores},
             {"events_lost", v.events_lost},
             {"first_seen", v.first_seen},
             {"last_seen", v.last_seen},
             {"ports", std::vector<int>(v.ports.begin(), v.ports.end())},
             {"status", std::move(status)},
             {"inbound_scores", histogram_json(v.inbound_scores)},
             {"outbound_scores", histogram_json(v.outbound_scores)},
             {"inbound_pl_scores", levels_json(v.inbound_pl_scores)},
             {"outbound_pl_scores", levels_json(v.outbound_pl_scores)},
             {"clients", top_json(v.clients)},
             {"paths", top_json(v.paths)},
             {"agents", top_json(v.agents)},
             {"targets", top_json(v.targets)},
             {"rules", std::move(rules)},
             {"minutes", series_json(v.series.minutes())},
             {"hours", series_json(v.series.hours())}};
    if (!v.engine.empty()) { // since 2026-12-04; absent: not said yet
        out["engine"] = v.engine;
    }
    return out;
}

json vhosts_json(const Aggregator& aggregator)
{
    json vhosts = json::array();
    for (const auto& [name, v] : aggregator.all()) {
        vhosts.push_back(vhost_json(name, v));
    }
    return vhosts;
}

json source_stats_json(const std::string& name, const SourceStats& s)
{
    json refusals = json::array();
    for (const auto& [reason, count] : s.refusals) {
        refusals.push_back(json::array({reason, count}));
    }
    json skew =
        s.skew_known ? json::array({s.skew_min_us, s.skew_max_us, s.skew_last_us}) : json(nullptr);
    return json{{"name", name},
                {"events", s.events},
                {"bytes", s.bytes},
                {"first_seen", s.first_seen},
                {"last_seen", s.last_seen},
                {"last_event_us", s.last_event_us},
                {"skew_us", std::move(skew)},
                {"refusals", std::move(refusals)},
                {"last_refused", s.last_refused}};
}

} // namespace

json save_state(const Collector& collector, std::int64_t now)
{
    const Aggregator& aggregator = collector.aggregator();
    const SourceTable& table = collector.sources();
    json events = json::array();
    // The sources of the ring's events other than the module's: [index, name] pairs.
    json event_sources = json::array();
    // The engine modes that the event alone would not give (the vhost's configured
    // engine decided them when the event arrived): [index, name] pairs. Saved rather
    // than resolved again at load, when the vhost's engine may be another or have been
    // unknown when the event came, so the ring keeps answering what history stored.
    json event_engines = json::array();
    collector.events().for_each_with_origin(
        [&](const RequestEvent& e, SourceId source, EngineMode engine) {
            if (source != k_module_source_id) {
                event_sources.push_back(json::array({events.size(), table.name(source)}));
            }
            if (engine != inferred_engine_mode(e)) {
                event_engines.push_back(json::array({events.size(), engine_mode_name(engine)}));
            }
            events.push_back(snapshot_event(e));
        });
    json sources = json::array();
    table.for_each([&](SourceId, const std::string& name, const SourceStats& s) {
        sources.push_back(source_stats_json(name, s));
    });
    // By name, so that the same state always gives the same document (ids depend on the
    // order sources were first seen).
    std::map<std::string_view, const Aggregator*> by_name;
    for (const auto& [id, data] : collector.source_aggregates()) {
        by_name.emplace(table.name(id), &data);
    }
    json source_aggregates = json::array();
    for (const auto& [name, data] : by_name) {
        source_aggregates.push_back(json{{"source", name},
                                         {"events_lost", data->events_lost()},
                                         {"dropped", data->dropped()},
                                         {"vhosts", vhosts_json(*data)}});
    }
    return json{{"format", k_snapshot_format},
                {"version", k_snapshot_version},
                {"saved_at", now},
                {"events_lost", aggregator.events_lost()},
                {"dropped", aggregator.dropped()},
                {"vhosts", vhosts_json(aggregator)},
                {"events", std::move(events)},
                {"event_sources", std::move(event_sources)},
                {"event_engines", std::move(event_engines)},
                {"sources", std::move(sources)},
                {"source_aggregates", std::move(source_aggregates)}};
}

} // namespace mso
