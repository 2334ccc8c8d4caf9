// Minute and hour series: bucketing, pruning at 24 h / 30 days, window sums, rule hits.
#include "state/time_series.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mso {
namespace {

constexpr std::int64_t k_t0 = 1763739600; // 2025-11-21T15:40:00Z, a whole hour + 40 min

SeriesDelta requests(std::uint64_t n, std::uint64_t flagged = 0,
                     const std::vector<const std::string*>* rules = nullptr)
{
    SeriesDelta d;
    d.requests = n;
    d.flagged = flagged;
    d.rule_hits = rules;
    return d;
}

// A budget large enough not to matter, for the tests that are not about it.
void add(TimeSeries& s, std::int64_t now, const SeriesDelta& delta)
{
    static std::size_t budget = 1000000;
    s.add(now, delta, budget);
}

TEST(TimeSeries, BucketsByMinuteAndHour)
{
    TimeSeries s;
    const std::string r1 = "942100";
    const std::vector<const std::string*> hits{&r1};
    add(s, k_t0 + 5, requests(1, 1, &hits));
    add(s, k_t0 + 59, requests(2));
    add(s, k_t0 + 60, requests(4, 1, &hits));
    add(s, k_t0 + 25 * 60, requests(8)); // next hour
    ASSERT_EQ(s.minutes().size(), 3U);
    EXPECT_EQ(s.minutes()[0].start, k_t0);
    EXPECT_EQ(s.minutes()[0].requests, 3U);
    EXPECT_EQ(s.minutes()[1].requests, 4U);
    ASSERT_EQ(s.hours().size(), 2U);
    EXPECT_EQ(s.hours()[0].start, k_t0 - 40 * 60);
    EXPECT_EQ(s.hours()[0].requests, 7U);
    EXPECT_EQ(s.hours()[0].rule_hits,
              (std::vector<std::pair<std::string, std::uint64_t>>{{"942100", 2}}));
    EXPECT_EQ(s.hours()[1].requests, 8U);
}

TEST(TimeSeries, LateDataIsInsertedInOrder)
{
    TimeSeries s;
    add(s, k_t0 + 120, requests(1));
    add(s, k_t0, requests(1)); // the clock stepped back
    ASSERT_EQ(s.minutes().size(), 2U);
    EXPECT_LT(s.minutes()[0].start, s.minutes()[1].start);
}

TEST(TimeSeries, PrunesBeyondTheSpans)
{
    TimeSeries s;
    add(s, k_t0, requests(1));
    add(s, k_t0 + TimeSeries::k_minute_span, requests(1));
    EXPECT_EQ(s.minutes().size(), 1U); // the first minute is exactly 24 h old
    EXPECT_EQ(s.hours().size(), 2U);
    add(s, k_t0 + TimeSeries::k_hour_span + TimeSeries::k_hour, requests(1));
    ASSERT_EQ(s.hours().size(), 2U); // the first hour is gone; the one 24 h later stays
    EXPECT_EQ(s.hours()[0].start, k_t0 - 40 * 60 + TimeSeries::k_minute_span);
}

struct WindowCase {
    std::int64_t window;
    std::uint64_t requests;
};

TEST(TimeSeries, WindowSums)
{
    TimeSeries s;
    add(s, k_t0 - 2 * 24 * 3600, requests(100)); // two days ago: only in hours
    add(s, k_t0 - 3600, requests(10));           // an hour ago
    add(s, k_t0 - 90, requests(1));              // 90 s ago
    add(s, k_t0, requests(1));
    const WindowCase cases[] = {
        {60, 1}, {120, 2}, {3600, 12}, {24 * 3600, 12}, {3 * 24 * 3600, 112}};
    for (const WindowCase& c : cases) {
        EXPECT_EQ(s.sum(k_t0, c.window).requests, c.requests) << c.window;
    }
}

// Ids that differ in one byte, at every position, for every length from 1 to 12 (the
// ids of 4-8 bytes are compared as two words): each keeps its own count.
TEST(TimeSeries, RuleIdsDifferingInOneByteAreCountedApart)
{
    for (std::size_t n = 1; n <= 12; ++n) {
        TimeSeries s;
        std::vector<std::string> ids{std::string(n, '9')};
        for (std::size_t at = 0; at < n; ++at) {
            ids.push_back(ids.front());
            ids.back()[at] = '4';
        }
        ids.push_back(std::string(n + 1, '9')); // one byte longer
        for (std::size_t k = 0; k < ids.size(); ++k) {
            const std::vector<const std::string*> hit{&ids[k]};
            for (std::size_t times = 0; times <= k; ++times) {
                add(s, k_t0, requests(1, 1, &hit));
            }
        }
        ASSERT_EQ(s.minutes().size(), 1U);
        const auto& rule_hits = s.minutes().front().rule_hits;
        ASSERT_EQ(rule_hits.size(), ids.size()) << "length " << n;
        for (std::size_t k = 0; k < ids.size(); ++k) {
            EXPECT_EQ(rule_hits[k].first, ids[k]);
            EXPECT_EQ(rule_hits[k].second, k + 1) << "length " << n << ", id " << ids[k];
        }
    }
}

TEST(TimeSeries, RuleIdsPerPointAreBounded)
{
    TimeSeries s;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < TimeSeries::k_max_rules_per_point + 10; ++i) {
        ids.push_back(std::to_string(100000 + i));
    }
    for (const std::string& id : ids) {
        const std::vector<const std::string*> hit{&id};
        add(s, k_t0, requests(1, 1, &hit));
    }
    const SeriesPoint& p = s.minutes().front();
    EXPECT_EQ(p.rule_hits.size(), TimeSeries::k_max_rules_per_point);
    std::uint64_t total = 0;
    for (const auto& [id, n] : p.rule_hits) {
        total += n;
    }
    EXPECT_EQ(total, ids.size()); // nothing lost from the total
}

} // namespace
} // namespace mso

namespace mso {
namespace {

TEST(TimeSeries, SharedBudgetOfRuleEntries)
{
    TimeSeries a, b;
    std::size_t budget = 3;
    const std::string r1 = "1", r2 = "2";
    const std::vector<const std::string*> both{&r1, &r2};
    SeriesDelta d;
    d.requests = 1;
    d.rule_hits = &both;
    a.add(k_t0, d, budget); // minute + hour point, two entries each: only 3 fit
    EXPECT_EQ(budget, 0U);
    EXPECT_EQ(a.rule_entries(), 3U);
    b.add(k_t0, d, budget); // nothing left: totals count, no entries
    EXPECT_EQ(b.rule_entries(), 0U);
    EXPECT_EQ(b.minutes().front().requests, 1U);
    // Pruning gives entries back.
    SeriesDelta later;
    later.requests = 1;
    a.add(k_t0 + TimeSeries::k_hour_span + 2 * TimeSeries::k_hour, later, budget);
    EXPECT_EQ(a.rule_entries(), 0U);
    EXPECT_EQ(budget, 3U);
}

} // namespace
} // namespace mso
