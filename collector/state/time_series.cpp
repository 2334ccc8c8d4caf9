// Minute and hour series; see time_series.h. New data almost always belongs to the
// newest point, so points are kept in time order and located from the back.
#include "state/time_series.h"

#include <algorithm>
#include <cstring>

namespace mso {
namespace {

std::int64_t floor_to(std::int64_t t, std::int64_t step)
{
    const std::int64_t q = t / step;
    return (t % step < 0 ? q - 1 : q) * step;
}

// Four bytes of `s` from `at` as one word.
inline std::uint32_t word_at(const std::string& s, std::size_t at) noexcept
{
    std::uint32_t w;
    std::memcpy(&w, s.data() + at, sizeof w);
    return w;
}

// Whether two rule ids are equal. A point holds up to k_max_rules_per_point ids, most of
// them six digits alike in length and often in their first three, so each event compares
// its ids with dozens: ids of 4-8 bytes are compared as their first and last four bytes
// (two loads each, overlapping), in line, for a fraction of a memcmp() call apiece.
inline bool same_id(const std::string& a, const std::string& b) noexcept
{
    const std::size_t n = a.size();
    if (n != b.size()) {
        return false;
    }
    if (n >= 4 && n <= 8) {
        return word_at(a, 0) == word_at(b, 0) && word_at(a, n - 4) == word_at(b, n - 4);
    }
    return a == b;
}

// Adds `n` hits of `id` to `point`; returns whether a new entry was made. A new entry
// needs room in the point and a unit of `entries_left` (when given).
bool merge_rule(SeriesPoint& point, const std::string& id, std::uint64_t n,
                std::size_t* entries_left = nullptr)
{
    for (auto& [rule, hits] : point.rule_hits) {
        if (same_id(rule, id)) {
            hits += n;
            return false;
        }
    }
    if (point.rule_hits.size() < TimeSeries::k_max_rules_per_point &&
        (entries_left == nullptr || *entries_left > 0)) {
        point.rule_hits.emplace_back(id, n);
        if (entries_left != nullptr) {
            --*entries_left;
        }
        return true;
    }
    // Keep the total right even when the id itself cannot get its own entry.
    for (auto& [rule, hits] : point.rule_hits) {
        if (rule == "other") {
            hits += n;
            return false;
        }
    }
    if (point.rule_hits.empty()) {
        // No entry to fold into and none may be made: only the point's totals count it.
        return false;
    }
    point.rule_hits.back() = {"other", point.rule_hits.back().second + n};
    return false;
}

void accumulate(SeriesPoint& into, const SeriesPoint& p)
{
    into.requests += p.requests;
    into.flagged += p.flagged;
    into.intercepted += p.intercepted;
    into.would_block += p.would_block;
    for (const auto& [id, n] : p.rule_hits) {
        merge_rule(into, id, n);
    }
}

} // namespace

void TimeSeries::add_to(std::deque<SeriesPoint>& points, std::int64_t start,
                        const SeriesDelta& delta, std::size_t& entries_left)
{
    // Find the point from the back; data arriving late (clock steps) is inserted in order.
    auto it = points.end();
    while (it != points.begin() && std::prev(it)->start > start) {
        --it;
    }
    if (it == points.begin() || std::prev(it)->start != start) {
        SeriesPoint point;
        point.start = start;
        it = points.insert(it, std::move(point));
    } else {
        --it;
    }
    SeriesPoint& p = *it;
    p.requests += delta.requests;
    p.flagged += delta.flagged;
    p.intercepted += delta.intercepted;
    p.would_block += delta.would_block;
    if (delta.rule_hits) {
        for (const std::string* id : *delta.rule_hits) {
            if (merge_rule(p, *id, 1, &entries_left)) {
                ++m_rule_entries;
            }
        }
    }
}

void TimeSeries::add(std::int64_t now, const SeriesDelta& delta, std::size_t& entries_left)
{
    add_to(m_minutes, floor_to(now, k_minute), delta, entries_left);
    add_to(m_hours, floor_to(now, k_hour), delta, entries_left);
    prune(now, entries_left);
}

void TimeSeries::prune(std::int64_t now, std::size_t& entries_left)
{
    auto drop_front = [&](std::deque<SeriesPoint>& points) {
        const std::size_t n = points.front().rule_hits.size();
        m_rule_entries -= std::min(n, m_rule_entries);
        entries_left += n;
        points.pop_front();
    };
    while (!m_minutes.empty() && m_minutes.front().start <= now - k_minute_span) {
        drop_front(m_minutes);
    }
    while (!m_hours.empty() && m_hours.front().start <= now - k_hour_span) {
        drop_front(m_hours);
    }
}

std::vector<const SeriesPoint*> TimeSeries::points(Resolution resolution, std::int64_t since) const
{
    const auto& source = resolution == Resolution::minute ? m_minutes : m_hours;
    std::vector<const SeriesPoint*> out;
    for (const SeriesPoint& p : source) {
        if (p.start >= since) {
            out.push_back(&p);
        }
    }
    return out;
}

SeriesPoint TimeSeries::sum(std::int64_t now, std::int64_t window) const
{
    SeriesPoint total;
    const bool fine = window <= k_minute_span;
    const std::int64_t step = fine ? k_minute : k_hour;
    // The interval that contains now - window is included whole.
    const std::int64_t since = floor_to(now - window, step);
    total.start = since;
    for (const SeriesPoint* p : points(fine ? Resolution::minute : Resolution::hour, since)) {
        accumulate(total, *p);
    }
    std::sort(total.rule_hits.begin(), total.rule_hits.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    return total;
}

void TimeSeries::restore(Resolution resolution, SeriesPoint point)
{
    m_rule_entries += point.rule_hits.size();
    auto& target = resolution == Resolution::minute ? m_minutes : m_hours;
    auto it = target.end();
    while (it != target.begin() && std::prev(it)->start > point.start) {
        --it;
    }
    target.insert(it, std::move(point));
}

} // namespace mso
