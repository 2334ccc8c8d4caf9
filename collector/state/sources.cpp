// Per-source accounting: interning of source names and the counters behind `sources`.
#include "state/sources.h"

#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace mso {

using json = nlohmann::ordered_json;

namespace {

// The record `from` folded into `into` (restoring beyond the bound).
void merge(SourceStats& into, const SourceStats& from)
{
    into.events += from.events;
    into.bytes += from.bytes;
    if (from.first_seen != 0 && (into.first_seen == 0 || from.first_seen < into.first_seen)) {
        into.first_seen = from.first_seen;
    }
    into.last_seen = std::max(into.last_seen, from.last_seen);
    into.last_event_us = std::max(into.last_event_us, from.last_event_us);
    if (from.skew_known) {
        into.skew_min_us =
            into.skew_known ? std::min(into.skew_min_us, from.skew_min_us) : from.skew_min_us;
        into.skew_max_us =
            into.skew_known ? std::max(into.skew_max_us, from.skew_max_us) : from.skew_max_us;
        into.skew_last_us = from.skew_last_us;
        into.skew_known = true;
    }
    for (const auto& [reason, count] : from.refusals) {
        into.refusals[reason] += count;
    }
    into.last_refused = std::max(into.last_refused, from.last_refused);
}

double seconds(std::int64_t us)
{
    return static_cast<double>(us) / 1e6;
}

} // namespace

std::uint64_t SourceStats::refused() const noexcept
{
    std::uint64_t n = 0;
    for (const auto& [reason, count] : refusals) {
        n += count;
    }
    return n;
}

SourceTable::SourceTable()
{
    (void)intern("module");
}

SourceId SourceTable::intern(std::string_view name)
{
    if (auto it = m_ids.find(name); it != m_ids.end()) {
        return it->second;
    }
    if (m_names.size() >= k_max_sources) {
        return k_other_source_id;
    }
    const auto id = static_cast<SourceId>(m_names.size());
    m_names.emplace_back(name);
    m_stats.emplace_back();
    m_ids.emplace(std::string(name), id);
    return id;
}

SourceId SourceTable::find(std::string_view name) const noexcept
{
    auto it = m_ids.find(name);
    return it == m_ids.end() ? k_other_source_id : it->second;
}

SourceStats& SourceTable::record(SourceId id) noexcept
{
    return id < m_stats.size() ? m_stats[id] : m_other;
}

const SourceStats& SourceTable::stats(SourceId id) const noexcept
{
    return id < m_stats.size() ? m_stats[id] : m_other;
}

const std::string& SourceTable::name(SourceId id) const noexcept
{
    return id < m_names.size() ? m_names[id] : m_names_other;
}

void SourceTable::count_event(SourceId source, std::int64_t now, std::int64_t event_time_us,
                              std::uint64_t bytes) noexcept
{
    SourceStats& s = record(source);
    ++s.events;
    s.bytes += bytes;
    if (s.first_seen == 0) {
        s.first_seen = now;
    }
    s.last_seen = now;
    s.last_event_us = std::max(s.last_event_us, event_time_us);
    if (event_time_us <= 0) {
        return; // no timestamp: no skew to learn from
    }
    const std::int64_t skew = now * 1'000'000 - event_time_us;
    s.skew_min_us = s.skew_known ? std::min(s.skew_min_us, skew) : skew;
    s.skew_max_us = s.skew_known ? std::max(s.skew_max_us, skew) : skew;
    s.skew_last_us = skew;
    s.skew_known = true;
}

void SourceTable::count_refusal(std::string_view source, std::string_view reason, std::int64_t now)
{
    SourceStats& s = record(intern(source));
    auto it = s.refusals.find(reason);
    if (it == s.refusals.end()) {
        it = s.refusals.size() < k_max_refusal_reasons
                 ? s.refusals.emplace(std::string(reason), 0).first
                 : s.refusals.try_emplace("other", 0).first;
    }
    ++it->second;
    s.last_refused = now;
}

std::size_t SourceTable::with_events() const noexcept
{
    const auto n = static_cast<std::size_t>(std::count_if(
        m_stats.begin(), m_stats.end(), [](const SourceStats& s) { return s.events != 0; }));
    return n + (m_other.events != 0 ? 1 : 0);
}

bool SourceTable::restore(std::string_view name, const SourceStats& stats)
{
    const SourceId id = name == k_other_source_name ? k_other_source_id : intern(name);
    if (id == k_other_source_id) {
        merge(m_other, stats);
        return name == k_other_source_name;
    }
    m_stats[id] = stats;
    return true;
}

json source_json(std::string_view name, const SourceStats& s, std::int64_t now)
{
    json out = json::object();
    out["source"] = std::string(name);
    out["events"] = s.events;
    out["bytes"] = s.bytes;
    out["first_seen"] = s.first_seen != 0 ? json(iso_time_s(s.first_seen)) : json(nullptr);
    out["last_seen"] = s.last_seen != 0 ? json(iso_time_s(s.last_seen)) : json(nullptr);
    out["last_seen_unix"] = s.last_seen;
    if (now != 0) {
        out["last_seen_ago_s"] =
            s.last_seen != 0 ? json(std::max<std::int64_t>(now - s.last_seen, 0)) : json(nullptr);
    }
    out["last_event_time"] =
        s.last_event_us != 0 ? json(iso_time_us(s.last_event_us)) : json(nullptr);
    out["last_event_time_us"] = s.last_event_us;
    if (s.skew_known) {
        out["clock_skew_s"] = json{{"min", seconds(s.skew_min_us)},
                                   {"max", seconds(s.skew_max_us)},
                                   {"last", seconds(s.skew_last_us)}};
    } else {
        out["clock_skew_s"] = nullptr;
    }
    json refusals = json::object();
    for (const auto& [reason, count] : s.refusals) {
        refusals[reason] = count;
    }
    out["refused"] = s.refused();
    out["refusals"] = std::move(refusals);
    out["last_refused"] = s.last_refused != 0 ? json(iso_time_s(s.last_refused)) : json(nullptr);
    return out;
}

json SourceTable::view(std::int64_t now) const
{
    std::vector<std::pair<const std::string*, const SourceStats*>> shown;
    for_each([&](SourceId, const std::string& name, const SourceStats& s) {
        if (s.events != 0 || !s.refusals.empty()) {
            shown.emplace_back(&name, &s);
        }
    });
    std::stable_sort(shown.begin(), shown.end(), [](const auto& a, const auto& b) {
        return std::max(a.second->last_seen, a.second->last_refused) >
               std::max(b.second->last_seen, b.second->last_refused);
    });
    json out = json::array();
    for (const auto& [name, s] : shown) {
        out.push_back(source_json(*name, *s, now));
    }
    return out;
}

} // namespace mso
