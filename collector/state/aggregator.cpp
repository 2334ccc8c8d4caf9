// Implements the counting rules of the `stats` query (docs/protocol.md, section 2):
// what each request event and counter report adds to its vhost. The JSON views of
// the result are in stats_view.cpp.
#include "state/aggregator.h"

#include <algorithm>
#include <vector>

namespace mso {

namespace {

// Whether the rule whose key in its vhost's rule map is `*id` was already
// counted as a hit for the event being added. Each rule id has one key, so comparing
// the keys' addresses is comparing the ids, without a memcmp() per pair; a request
// rarely has more than a handful of findings, so a linear scan is cheapest.
bool seen_before(const std::vector<const std::string*>& seen, const std::string* id)
{
    return std::find(seen.begin(), seen.end(), id) != seen.end();
}

// Keys of heavy-hitter lists are cut to a bounded length (at a UTF-8 boundary).
std::string_view top_key(std::string_view s)
{
    return utf8_cut(s, k_max_top_key_bytes);
}

} // namespace

const TopK& VhostStats::top(TopList list) const noexcept
{
    switch (list) {
    case TopList::clients: return clients;
    case TopList::paths: return paths;
    case TopList::agents: return agents;
    case TopList::targets: return targets;
    }
    return clients;
}

VhostStats& Aggregator::index_vhost(std::pair<const std::string, VhostStats>& node)
{
    m_vhost_index.by_name.try_emplace(node.first, &node.second);
    return node.second;
}

VhostStats* Aggregator::vhost_for(const std::string& vhost, std::int64_t now)
{
    if (!index_complete()) { // a copy's
        m_vhost_index.by_name.clear();
        for (auto& node : m_vhosts) {
            index_vhost(node);
        }
    }
    VhostStats* v = nullptr;
    if (auto it = m_vhost_index.by_name.find(vhost); it != m_vhost_index.by_name.end()) {
        v = it->second;
    } else {
        if (m_vhosts.size() >= k_max_vhosts) {
            ++m_dropped;
            return nullptr;
        }
        v = &index_vhost(*m_vhosts.try_emplace(vhost).first);
        v->first_seen = now;
    }
    v->last_seen = now;
    return v;
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

void Aggregator::recount()
{
    m_rules_total = 0;
    std::size_t entries = 0;
    for (const auto& [name, v] : m_vhosts) {
        m_rules_total += v.rules.size();
        entries += v.series.rule_entries();
    }
    m_series_entries_left =
        k_max_series_rule_entries - std::min(entries, k_max_series_rule_entries);
    m_restored = false;
}

const VhostStats* Aggregator::add(const RequestEvent& event, std::int64_t now)
{
    if (m_restored) {
        recount();
    }
    VhostStats* v = vhost_for(event.vhost, now);
    if (v == nullptr) {
        return nullptr;
    }
    const bool flagged = !event.findings.empty() || event.findings_dropped > 0;
    const bool blocks = verdict_of(event) == Verdict::would_block;
    ++v->requests;
    ++v->events;
    v->flagged += flagged ? 1 : 0;
    v->intercepted += event.intercepted ? 1 : 0;
    v->would_block += blocks ? 1 : 0;
    if (event.scores) {
        v->inbound_scores.observe(event.scores->inbound);
        v->outbound_scores.observe(event.scores->outbound);
        for (std::size_t pl = 0; pl < k_paranoia_levels; ++pl) {
            v->inbound_pl_scores[pl].observe(event.scores->inbound_pl[pl]);
            v->outbound_pl_scores[pl].observe(event.scores->outbound_pl[pl]);
        }
    } else {
        ++v->events_without_scores;
    }
    add_port(*v, event.port);
    add_status(*v, event.status, 1);
    v->clients.add(top_key(event.client));
    // The path and each target go to the vhost's list and to each rule's: hashed once.
    const TopK::Key path(top_key(event.path));
    v->paths.add(path);
    v->agents.add(top_key(event.user_agent));

    std::vector<const std::string*>& hit_ids = m_hit_ids;
    hit_ids.clear();
    for (const Finding& f : event.findings) {
        const TopK::Key target(top_key(f.target));
        if (!f.target.empty()) {
            v->targets.add(target);
        }
        if (f.id.empty()) {
            ++(f.engine ? v->engine_messages : v->truncated_findings);
            continue;
        }
        auto it = v->rules.find(f.id);
        if (it == v->rules.end()) {
            if (v->rules.size() >= k_max_rules_per_vhost || m_rules_total >= k_max_rules_total) {
                ++m_dropped;
                continue;
            }
            it = v->rules.emplace(f.id, RuleStats{}).first;
            ++m_rules_total;
            it->second.first_seen = now;
        }
        RuleStats& rule = it->second;
        rule.last_seen = now;
        ++rule.matches;
        if (!f.target.empty()) {
            rule.targets.add(target);
        }
        if (!seen_before(hit_ids, &it->first)) {
            ++rule.hits;
            rule.paths.add(path);
            hit_ids.push_back(&it->first);
        }
        if (!f.msg.empty()) {
            rule.msg = f.msg;
        }
        if (!f.severity.empty()) {
            rule.severity = f.severity;
        }
        if (f.paranoia_level != 0) {
            rule.paranoia_level = f.paranoia_level;
        }
    }
    SeriesDelta delta;
    delta.requests = 1;
    delta.flagged = flagged ? 1 : 0;
    delta.intercepted = event.intercepted ? 1 : 0;
    delta.would_block = blocks ? 1 : 0;
    delta.rule_hits = &hit_ids;
    v->series.add(now, delta, m_series_entries_left);
    return v;
}

void Aggregator::add(const CounterReport& report, std::int64_t now)
{
    if (m_restored) {
        recount();
    }
    m_events_lost += report.events_lost;
    VhostStats* v = vhost_for(report.vhost, now);
    if (v == nullptr) {
        return;
    }
    v->requests += report.requests;
    v->events_lost += report.events_lost;
    if (!report.engine.empty()) {
        v->engine = report.engine;
    }
    // Requests without an event had no findings, hence a score of 0; those whose event
    // was lost are left out of the distribution.
    if (report.requests > report.events_lost) {
        const std::uint64_t clean = report.requests - report.events_lost;
        v->inbound_scores.observe(0, clean);
        v->outbound_scores.observe(0, clean);
        for (std::size_t pl = 0; pl < k_paranoia_levels; ++pl) {
            v->inbound_pl_scores[pl].observe(0, clean);
            v->outbound_pl_scores[pl].observe(0, clean);
        }
    }
    add_port(*v, report.port);
    for (const auto& [code, count] : report.status) {
        add_status(*v, code, count);
    }
    SeriesDelta delta;
    delta.requests = report.requests;
    v->series.add(now, delta, m_series_entries_left);
}

const VhostStats* Aggregator::find(std::string_view vhost) const
{
    if (!index_complete()) {
        auto it = m_vhosts.find(vhost);
        return it == m_vhosts.end() ? nullptr : &it->second;
    }
    auto it = m_vhost_index.by_name.find(vhost);
    return it == m_vhost_index.by_name.end() ? nullptr : it->second;
}

} // namespace mso
