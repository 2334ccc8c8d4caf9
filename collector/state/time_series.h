// Per-vhost counts over time: one point per minute for the last 24 hours and one per
// hour for the last 30 days, each with requests, flagged, intercepted, would-block and
// per-rule hits. Points exist only for intervals that saw traffic, so a quiet vhost
// costs little. Times are the collector's wall clock when data arrived (Unix seconds),
// passed in by the caller. Owns its data; not thread-safe; never blocks.
#pragma once

#include "protocol/query.h"

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace mso {

struct SeriesPoint {
    std::int64_t start = 0; // Unix seconds at the start of the interval
    std::uint64_t requests = 0;
    std::uint64_t flagged = 0;
    std::uint64_t intercepted = 0;
    std::uint64_t would_block = 0;
    std::vector<std::pair<std::string, std::uint64_t>> rule_hits; // in first-hit order
};

// What one request event or counter report adds.
struct SeriesDelta {
    std::uint64_t requests = 0;
    std::uint64_t flagged = 0;
    std::uint64_t intercepted = 0;
    std::uint64_t would_block = 0;
    const std::vector<const std::string*>* rule_hits = nullptr; // distinct ids hit
};

class TimeSeries {
public:
    static constexpr std::int64_t k_minute = 60;
    static constexpr std::int64_t k_hour = 3600;
    static constexpr std::int64_t k_minute_span = 24 * k_hour;
    static constexpr std::int64_t k_hour_span = 30 * 24 * k_hour;
    // Most distinct rules tracked in one point; more are counted in the point's
    // "other" entry so that a flood of rule ids cannot grow memory.
    static constexpr std::size_t k_max_rules_per_point = 64;

    // `entries_left` is a budget of per-point rule entries shared by every series of
    // the collector: a new entry takes one (when none is left, the hit goes to
    // "other"); pruned points give theirs back.
    void add(std::int64_t now, const SeriesDelta& delta, std::size_t& entries_left);

    // Per-point rule entries held (what this series takes from the budget).
    [[nodiscard]] std::size_t rule_entries() const noexcept { return m_rule_entries; }

    // Points of `resolution` with start >= since, oldest first (pruned to the span).
    [[nodiscard]] std::vector<const SeriesPoint*> points(Resolution resolution,
                                                         std::int64_t since) const;

    // The sum over the last `window` seconds before `now`: minute points when the
    // window fits in 24 hours, hour points otherwise (so up to an hour coarser).
    [[nodiscard]] SeriesPoint sum(std::int64_t now, std::int64_t window) const;

    // Restores a point (snapshot loading), keeping time order.
    void restore(Resolution resolution, SeriesPoint point);

    [[nodiscard]] const std::deque<SeriesPoint>& minutes() const noexcept { return m_minutes; }
    [[nodiscard]] const std::deque<SeriesPoint>& hours() const noexcept { return m_hours; }

private:
    void add_to(std::deque<SeriesPoint>& points, std::int64_t start, const SeriesDelta& delta,
                std::size_t& entries_left);
    void prune(std::int64_t now, std::size_t& entries_left);

    std::deque<SeriesPoint> m_minutes;
    std::deque<SeriesPoint> m_hours;
    std::size_t m_rule_entries = 0;
};

} // namespace mso
