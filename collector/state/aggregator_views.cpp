// JSON views of the aggregated state for the stats, vhosts, rules, top and timeseries
// queries (docs/protocol.md, section 2). Reading only: nothing here changes counts.
#include "state/aggregator_views.h"

#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace mso {

namespace {

using json = nlohmann::ordered_json;

json histogram_json(const ScoreHistogram& h)
{
    return json{{"bounds", ScoreHistogram::k_bounds},
                {"counts", h.counts},
                {"sum", h.sum},
                {"count", h.count}};
}

// Per paranoia level, PL 1 first; without the bounds, which are inbound's.
json levels_json(const std::array<ScoreHistogram, k_paranoia_levels>& levels)
{
    json out = json::array();
    for (const ScoreHistogram& h : levels) {
        out.push_back(json{{"counts", h.counts}, {"sum", h.sum}, {"count", h.count}});
    }
    return out;
}

} // namespace

json top_rows(const std::vector<TopEntry>& entries)
{
    json out = json::array();
    for (const TopEntry& e : entries) {
        out.push_back(json{{"value", e.key}, {"count", e.count}, {"error", e.error}});
    }
    return out;
}

namespace {

// The vhost's configured SecRuleEngine, in the answers that show a vhost's totals, when
// a counter report has said it.
void add_engine(json& out, const VhostStats& v)
{
    if (!v.engine.empty()) {
        out["engine"] = v.engine;
    }
}

// Rules of a vhost, most hits first, then by id; the first `limit` (0: all).
std::vector<std::pair<const std::string*, const RuleStats*>> sorted_rules(const VhostStats& v,
                                                                          std::size_t limit = 0)
{
    std::vector<std::pair<const std::string*, const RuleStats*>> rules;
    rules.reserve(v.rules.size());
    for (const auto& [id, rule] : v.rules) {
        rules.emplace_back(&id, &rule);
    }
    const auto by_hits = [](const auto& a, const auto& b) {
        if (a.second->hits != b.second->hits) {
            return a.second->hits > b.second->hits;
        }
        return *a.first < *b.first;
    };
    if (limit != 0 && limit < rules.size()) {
        const auto end = rules.begin() + static_cast<std::ptrdiff_t>(limit);
        std::partial_sort(rules.begin(), end, rules.end(), by_hits);
        rules.erase(end, rules.end());
    } else {
        std::sort(rules.begin(), rules.end(), by_hits);
    }
    return rules;
}

json vhost_json(const std::string& name, const VhostStats& v, const StatsShape& shape)
{
    json out = json::object();
    out["vhost"] = name;
    out["ports"] = json(std::vector<int>(v.ports.begin(), v.ports.end()));
    out["requests"] = v.requests;
    out["flagged"] = v.flagged;
    out["intercepted"] = v.intercepted;
    out["would_block"] = v.would_block;
    out["events"] = v.events;
    out["truncated_findings"] = v.truncated_findings;
    out["engine_messages"] = v.engine_messages;
    out["events_without_scores"] = v.events_without_scores;
    out["events_lost"] = v.events_lost;
    add_engine(out, v);
    out["first_seen"] = iso_time_s(v.first_seen);
    out["last_seen"] = iso_time_s(v.last_seen);
    json status = json::object();
    for (const auto& [code, count] : v.status) {
        status[std::to_string(code)] = count;
    }
    out["status"] = std::move(status);
    out["scores"] = json{{"inbound", histogram_json(v.inbound_scores)},
                         {"outbound", histogram_json(v.outbound_scores)}};
    if (shape.score_levels) {
        out["scores"]["inbound_pl"] = levels_json(v.inbound_pl_scores);
        out["scores"]["outbound_pl"] = levels_json(v.outbound_pl_scores);
    }
    json rules = json::array();
    for (const auto& [id, rule] : sorted_rules(v, shape.rules_limit)) {
        rules.push_back(json{{"id", *id},
                             {"msg", rule->msg},
                             {"severity", rule->severity},
                             {"pl", rule->paranoia_level},
                             {"hits", rule->hits},
                             {"matches", rule->matches},
                             {"first_seen", iso_time_s(rule->first_seen)},
                             {"last_seen", iso_time_s(rule->last_seen)}});
    }
    out["rules"] = std::move(rules);
    if (shape.top_clients != 0) {
        out["top_clients"] = top_rows(v.clients.top(shape.top_clients));
    }
    return out;
}

// The same vhost over the last `window` seconds, from its time series.
json window_json(const std::string& name, const VhostStats& v, std::int64_t window,
                 std::int64_t now, const StatsShape& shape)
{
    const SeriesPoint sum = v.series.sum(now, window); // rules by hits, most first
    json rules = json::array();
    for (const auto& [id, hits] : sum.rule_hits) {
        if (shape.rules_limit != 0 && rules.size() == shape.rules_limit) {
            break;
        }
        const auto rule = v.rules.find(id);
        rules.push_back(json{{"id", id},
                             {"msg", rule != v.rules.end() ? rule->second.msg : ""},
                             {"severity", rule != v.rules.end() ? rule->second.severity : ""},
                             {"hits", hits}});
    }
    json out{{"vhost", name},
             {"window_s", window},
             {"since", iso_time_s(sum.start)},
             {"requests", sum.requests},
             {"flagged", sum.flagged},
             {"intercepted", sum.intercepted},
             {"would_block", sum.would_block},
             {"rules", std::move(rules)}};
    add_engine(out, v);
    if (shape.top_clients != 0) {
        out["top_clients"] = top_rows(v.clients.top(shape.top_clients)); // all-time
    }
    return out;
}

} // namespace

json stats_view(const Aggregator& data, std::optional<std::string_view> vhost,
                std::optional<std::int64_t> window, std::int64_t now, const StatsShape& shape)
{
    json out = json::array();
    for (const auto& [name, v] : data.all()) {
        if (vhost && name != *vhost) {
            continue;
        }
        out.push_back(stats_row(name, v, window, now, shape));
    }
    return out;
}

json stats_row(const std::string& name, const VhostStats& v, std::optional<std::int64_t> window,
               std::int64_t now, const StatsShape& shape)
{
    return window ? window_json(name, v, *window, now, shape) : vhost_json(name, v, shape);
}

json vhosts_row(const std::string& name, const VhostStats& v)
{
    json row{{"vhost", name},
             {"requests", v.requests},
             {"flagged", v.flagged},
             {"intercepted", v.intercepted},
             {"would_block", v.would_block},
             {"rules", v.rules.size()},
             {"first_seen", iso_time_s(v.first_seen)},
             {"last_seen", iso_time_s(v.last_seen)}};
    add_engine(row, v);
    return row;
}

void append_rule_rows(json& out, const std::string& name, const VhostStats& v,
                      std::optional<std::string_view> rule)
{
    for (const auto& [id, r] : sorted_rules(v)) {
        if (rule && *id != *rule) {
            continue;
        }
        out.push_back(json{{"vhost", name},
                           {"id", *id},
                           {"msg", r->msg},
                           {"severity", r->severity},
                           {"pl", r->paranoia_level},
                           {"hits", r->hits},
                           {"matches", r->matches},
                           {"first_seen", iso_time_s(r->first_seen)},
                           {"last_seen", iso_time_s(r->last_seen)},
                           {"top_paths", top_rows(r->paths.top())},
                           {"top_targets", top_rows(r->targets.top())}});
    }
}

json Aggregator::stats(std::optional<std::string_view> vhost, std::optional<std::int64_t> window,
                       std::int64_t now) const
{
    return stats_view(*this, vhost, window, now, StatsShape{});
}

json Aggregator::vhosts() const
{
    json out = json::array();
    for (const auto& [name, v] : m_vhosts) {
        out.push_back(vhosts_row(name, v));
    }
    return out;
}

json Aggregator::rules(std::optional<std::string_view> vhost,
                       std::optional<std::string_view> rule) const
{
    json out = json::array();
    for (const auto& [name, v] : m_vhosts) {
        if (vhost && name != *vhost) {
            continue;
        }
        append_rule_rows(out, name, v, rule);
    }
    return out;
}

json Aggregator::top(TopList list, std::optional<std::string_view> vhost, std::size_t limit) const
{
    json out = json::array();
    if (vhost) {
        const auto it = m_vhosts.find(*vhost);
        if (it != m_vhosts.end()) {
            const TopK& top = it->second.top(list);
            for (json& e : top_rows(top.top(limit))) {
                e["vhost"] = it->first;
                out.push_back(std::move(e));
            }
        }
        return out;
    }
    // Across vhosts: merged by value so that counts stay upper bounds (top_k.h).
    std::vector<const TopK*> sketches;
    sketches.reserve(m_vhosts.size());
    for (const auto& [name, v] : m_vhosts) {
        sketches.push_back(&v.top(list));
    }
    return top_rows(merge_top(sketches, limit));
}

// One vhost's entry of the `timeseries` answer: its points since `since`, oldest first.
json series_row(const std::string& vhost, const VhostStats& v, Resolution resolution,
                std::int64_t since, std::optional<std::string_view> rule)
{
    json points = json::array();
    for (const SeriesPoint* p : v.series.points(resolution, since)) {
        json point{{"time", iso_time_s(p->start)},
                   {"requests", p->requests},
                   {"flagged", p->flagged},
                   {"intercepted", p->intercepted},
                   {"would_block", p->would_block}};
        if (rule) {
            std::uint64_t hits = 0;
            for (const auto& [id, n] : p->rule_hits) {
                hits += id == *rule ? n : 0;
            }
            point["rule_hits"] = hits;
        }
        points.push_back(std::move(point));
    }
    return json{{"vhost", vhost},
                {"resolution", resolution == Resolution::minute ? "minute" : "hour"},
                {"points", std::move(points)}};
}

json Aggregator::timeseries(std::optional<std::string_view> vhost, Resolution resolution,
                            std::int64_t since, std::optional<std::string_view> rule) const
{
    json out = json::array();
    for (const auto& [name, v] : m_vhosts) {
        if (vhost && name != *vhost) {
            continue;
        }
        out.push_back(series_row(name, v, resolution, since, rule));
    }
    return out;
}

json Aggregator::timeseries(const std::vector<std::string>& vhosts, Resolution resolution,
                            std::int64_t since, std::optional<std::string_view> rule) const
{
    json out = json::array();
    for (const std::string& name : vhosts) {
        if (const auto it = m_vhosts.find(name); it != m_vhosts.end()) {
            out.push_back(series_row(it->first, it->second, resolution, since, rule));
        }
    }
    return out;
}

} // namespace mso
