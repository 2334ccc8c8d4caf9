// The snapshot format, version 1 (snapshot.h): compact JSON, objects for records and
// arrays for repeated tuples (status codes, heavy-hitter entries, time-series points).
// Read back by snapshot.cpp; keep the two in step.
#include "daemon/snapshot.h"

#include "daemon/snapshot_reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
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
    return json{{"name", name},
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
                {"clients", top_json(v.clients)},
                {"paths", top_json(v.paths)},
                {"agents", top_json(v.agents)},
                {"targets", top_json(v.targets)},
                {"rules", std::move(rules)},
                {"minutes", series_json(v.series.minutes())},
                {"hours", series_json(v.series.hours())}};
}

} // namespace

json save_state(const Collector& collector, std::int64_t now)
{
    const Aggregator& aggregator = collector.aggregator();
    json vhosts = json::array();
    for (const auto& [name, v] : aggregator.all()) {
        vhosts.push_back(vhost_json(name, v));
    }
    json events = json::array();
    collector.events().for_each(
        [&events](const RequestEvent& e) { events.push_back(snapshot_event(e)); });
    return json{{"format", k_snapshot_format},
                {"version", k_snapshot_version},
                {"saved_at", now},
                {"events_lost", aggregator.events_lost()},
                {"dropped", aggregator.dropped()},
                {"vhosts", std::move(vhosts)},
                {"events", std::move(events)}};
}

} // namespace mso
