// Implements the counting rules of the `stats` query (docs/protocol.md, section
// 2) and renders them as the JSON the query protocol promises.
#include "aggregator.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace mso {

namespace {

using json = nlohmann::ordered_json;

// Rule ids already counted as a hit for the event being added; a request
// rarely has more than a handful of findings, so a linear scan is cheapest.
bool seen_before(const std::vector<const std::string*>& seen, const std::string& id)
{
    return std::any_of(seen.begin(), seen.end(), [&](const std::string* s) { return *s == id; });
}

json vhost_json(const std::string& name, const VhostStats& v)
{
    json out = json::object();
    out["vhost"] = name;
    out["ports"] = json(std::vector<int>(v.ports.begin(), v.ports.end()));
    out["requests"] = v.requests;
    out["flagged"] = v.flagged;
    out["intercepted"] = v.intercepted;
    out["events"] = v.events;
    out["truncated_findings"] = v.truncated_findings;
    out["events_without_scores"] = v.events_without_scores;
    out["events_lost"] = v.events_lost;
    json status = json::object();
    for (const auto& [code, count] : v.status) {
        status[std::to_string(code)] = count;
    }
    out["status"] = std::move(status);

    std::vector<std::pair<const std::string*, const RuleStats*>> rules;
    rules.reserve(v.rules.size());
    for (const auto& [id, rule] : v.rules) {
        rules.emplace_back(&id, &rule);
    }
    std::sort(rules.begin(), rules.end(), [](const auto& a, const auto& b) {
        if (a.second->hits != b.second->hits) {
            return a.second->hits > b.second->hits;
        }
        return *a.first < *b.first;
    });
    json rules_json = json::array();
    for (const auto& [id, rule] : rules) {
        json r = json::object();
        r["id"] = *id;
        r["msg"] = rule->msg;
        r["severity"] = rule->severity;
        r["hits"] = rule->hits;
        r["matches"] = rule->matches;
        rules_json.push_back(std::move(r));
    }
    out["rules"] = std::move(rules_json);
    return out;
}

} // namespace

VhostStats* Aggregator::vhost_for(const std::string& vhost)
{
    if (auto it = m_vhosts.find(vhost); it != m_vhosts.end()) {
        return &it->second;
    }
    if (m_vhosts.size() >= k_max_vhosts) {
        ++m_dropped;
        return nullptr;
    }
    return &m_vhosts[vhost];
}

void Aggregator::add_port(VhostStats& stats, int port)
{
    if (stats.ports.count(port) != 0) {
        return;
    }
    if (stats.ports.size() >= k_max_ports_per_vhost) {
        ++m_dropped;
        return;
    }
    stats.ports.insert(port);
}

void Aggregator::add_status(VhostStats& stats, int status, std::uint64_t count)
{
    auto it = stats.status.find(status);
    if (it == stats.status.end()) {
        if (stats.status.size() >= k_max_statuses_per_vhost) {
            ++m_dropped;
            return;
        }
        it = stats.status.emplace(status, 0).first;
    }
    it->second += count;
}

void Aggregator::add(const RequestEvent& event)
{
    VhostStats* v = vhost_for(event.vhost);
    if (v == nullptr) {
        return;
    }
    ++v->requests;
    ++v->events;
    if (!event.findings.empty() || event.findings_dropped > 0) {
        ++v->flagged;
    }
    if (event.intercepted) {
        ++v->intercepted;
    }
    if (!event.scores) {
        ++v->events_without_scores;
    }
    add_port(*v, event.port);
    add_status(*v, event.status, 1);

    std::vector<const std::string*> hit_ids;
    for (const Finding& f : event.findings) {
        if (f.id.empty()) {
            ++v->truncated_findings;
            continue;
        }
        auto it = v->rules.find(f.id);
        if (it == v->rules.end()) {
            if (v->rules.size() >= k_max_rules_per_vhost) {
                ++m_dropped;
                continue;
            }
            it = v->rules.emplace(f.id, RuleStats{}).first;
        }
        RuleStats& rule = it->second;
        ++rule.matches;
        if (!seen_before(hit_ids, f.id)) {
            ++rule.hits;
            hit_ids.push_back(&f.id);
        }
        if (!f.msg.empty()) {
            rule.msg = f.msg;
        }
        if (!f.severity.empty()) {
            rule.severity = f.severity;
        }
    }
}

void Aggregator::add(const CounterReport& report)
{
    m_events_lost += report.events_lost;
    VhostStats* v = vhost_for(report.vhost);
    if (v == nullptr) {
        return;
    }
    v->requests += report.requests;
    v->events_lost += report.events_lost;
    add_port(*v, report.port);
    for (const auto& [code, count] : report.status) {
        add_status(*v, code, count);
    }
}

const VhostStats* Aggregator::find(std::string_view vhost) const
{
    auto it = m_vhosts.find(vhost);
    return it == m_vhosts.end() ? nullptr : &it->second;
}

nlohmann::ordered_json Aggregator::stats(std::optional<std::string_view> vhost) const
{
    json out = json::array();
    if (vhost) {
        if (auto it = m_vhosts.find(*vhost); it != m_vhosts.end()) {
            out.push_back(vhost_json(it->first, it->second));
        }
        return out;
    }
    for (const auto& [name, v] : m_vhosts) {
        out.push_back(vhost_json(name, v));
    }
    return out;
}

} // namespace mso
