// Space-Saving heavy hitters: exact while keys fit, and the documented guarantees
// (count - error <= true <= count, error <= N / capacity, heavy keys kept) against
// exact counts on skewed streams, for one sketch and for merged ones (merge_top).
#include "state/top_k.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace mso {
namespace {

TEST(TopK, ExactWhileKeysFit)
{
    TopK top(4);
    for (int i = 0; i < 5; ++i) {
        top.add("a");
    }
    top.add("b", 3);
    top.add("c");
    const auto entries = top.top();
    ASSERT_EQ(entries.size(), 3U);
    EXPECT_EQ(entries[0].key, "a");
    EXPECT_EQ(entries[0].count, 5U);
    EXPECT_EQ(entries[1].key, "b");
    EXPECT_EQ(entries[1].count, 3U);
    EXPECT_EQ(entries[2].error, 0U);
    EXPECT_EQ(top.total(), 9U);
    EXPECT_EQ(top.top(1).size(), 1U);
}

TEST(TopK, ReplacesTheSmallestAndInheritsItsCount)
{
    TopK top(2);
    top.add("a", 5);
    top.add("b", 2);
    top.add("c");
    const auto entries = top.top();
    ASSERT_EQ(entries.size(), 2U);
    EXPECT_EQ(entries[1].key, "c");
    EXPECT_EQ(entries[1].count, 3U); // 2 inherited from b, + 1
    EXPECT_EQ(entries[1].error, 2U);
}

// top(limit) picks the first `limit` of top() without sorting everything.
TEST(TopK, LimitedTopIsThePrefixOfTheFullOrder)
{
    TopK top(16);
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> key(0, 40);
    for (int i = 0; i < 2000; ++i) {
        top.add("k" + std::to_string(key(rng)));
    }
    const auto all = top.top();
    ASSERT_EQ(all.size(), 16U);
    for (const std::size_t limit : {1U, 3U, 15U, 16U, 17U}) {
        SCOPED_TRACE(limit);
        const auto some = top.top(limit);
        ASSERT_EQ(some.size(), std::min<std::size_t>(limit, all.size()));
        for (std::size_t i = 0; i < some.size(); ++i) {
            EXPECT_EQ(some[i].key, all[i].key);
            EXPECT_EQ(some[i].count, all[i].count);
            EXPECT_EQ(some[i].error, all[i].error);
        }
    }
}

struct StreamCase {
    std::size_t capacity;
    int keys;
    double skew;
};

TEST(TopK, GuaranteesHoldOnSkewedStreams)
{
    const StreamCase cases[] = {{16, 1000, 1.2}, {64, 100000, 1.1}, {8, 50, 0.8}};
    for (const StreamCase& c : cases) {
        SCOPED_TRACE(c.capacity);
        std::mt19937 rng(42);
        // Zipf-like: key k drawn with weight 1 / (k+1)^skew.
        std::vector<double> weights;
        for (int k = 0; k < c.keys; ++k) {
            weights.push_back(1.0 / std::pow(k + 1, c.skew));
        }
        std::discrete_distribution<int> pick(weights.begin(), weights.end());
        TopK top(c.capacity);
        std::map<std::string, std::uint64_t> exact;
        const int n = 200000;
        for (int i = 0; i < n; ++i) {
            const std::string key = "k" + std::to_string(pick(rng));
            top.add(key);
            ++exact[key];
        }
        EXPECT_EQ(top.total(), static_cast<std::uint64_t>(n));
        const std::uint64_t bound = top.error_bound();
        for (const TopEntry& e : top.top()) {
            const std::uint64_t truth = exact[e.key];
            EXPECT_LE(e.error, bound) << e.key;
            EXPECT_GE(e.count, truth) << e.key;
            EXPECT_LE(e.count - e.error, truth) << e.key;
        }
        for (const auto& [key, truth] : exact) {
            if (truth > bound) {
                const auto entries = top.top();
                const bool kept = std::any_of(entries.begin(), entries.end(),
                                              [&](const TopEntry& e) { return e.key == key; });
                EXPECT_TRUE(kept) << key << " with " << truth << " > " << bound;
            }
        }
    }
}

} // namespace
} // namespace mso

namespace mso {
namespace {

// Keys added in order, each `times` times.
struct Adds {
    std::string key;
    std::uint64_t times;
};

TopK sketch_of(std::size_t capacity, const std::vector<Adds>& adds)
{
    TopK top(capacity);
    for (const Adds& a : adds) {
        for (std::uint64_t i = 0; i < a.times; ++i) {
            top.add(a.key);
        }
    }
    return top;
}

// The sketch's slots, key for key, against Space-Saving written plainly (a whole scan
// for the first smallest count at every new key, a linear search for each key): the
// tags' sixteen-at-a-time search (capacities 17 and 64 reach it) and the smallest
// count's cursor must change nothing, whatever the weights (0 included), the keys'
// repeats, and restores in between.
TEST(TopK, SlotsAreThoseOfAPlainSpaceSaving)
{
    struct Plain {
        std::size_t capacity;
        std::vector<TopEntry> entries;
        void add(const std::string& key, std::uint64_t weight)
        {
            for (TopEntry& e : entries) {
                if (e.key == key) {
                    e.count += weight;
                    return;
                }
            }
            if (entries.size() < capacity) {
                entries.push_back(TopEntry{key, weight, 0});
                return;
            }
            auto smallest = entries.begin();
            for (auto it = entries.begin(); it != entries.end(); ++it) {
                if (it->count < smallest->count) {
                    smallest = it;
                }
            }
            *smallest = TopEntry{key, smallest->count + weight, smallest->count};
        }
    };
    std::mt19937 rng(15);
    for (const std::size_t capacity : {1U, 3U, 8U, 17U, 64U}) {
        TopK top(capacity);
        Plain plain{capacity, {}};
        std::uniform_int_distribution<int> key_of(0, static_cast<int>(capacity) * 3);
        std::uniform_int_distribution<int> weight_of(0, 3);
        for (int i = 0; i < 20000; ++i) {
            const std::string key = "k" + std::to_string(key_of(rng));
            const auto weight = static_cast<std::uint64_t>(weight_of(rng));
            top.add(key, weight);
            plain.add(key, weight);
            if (i == 5000) {
                // A restored sketch, partly filled with a count below the others'.
                top = TopK(capacity);
                plain = Plain{capacity, {}};
                for (std::size_t k = 0; k + 1 < capacity; ++k) {
                    const TopEntry e{"r" + std::to_string(k), 40 - k % 7, k % 3};
                    top.restore(e, 1000);
                    plain.entries.push_back(e);
                }
            }
            const auto& got = top.entries();
            ASSERT_EQ(got.size(), plain.entries.size()) << "capacity " << capacity;
            for (std::size_t k = 0; k < got.size(); ++k) {
                ASSERT_EQ(got[k].key, plain.entries[k].key)
                    << "capacity " << capacity << ", add " << i << ", slot " << k;
                ASSERT_EQ(got[k].count, plain.entries[k].count);
                ASSERT_EQ(got[k].error, plain.entries[k].error);
            }
        }
    }
}

TEST(TopK, AbsentBoundIsZeroWithRoomElseTheSmallestCount)
{
    EXPECT_EQ(sketch_of(3, {}).absent_bound(), 0U);
    EXPECT_EQ(sketch_of(3, {{"a", 5}, {"b", 1}}).absent_bound(), 0U);
    EXPECT_EQ(sketch_of(3, {{"a", 5}, {"b", 2}, {"c", 3}}).absent_bound(), 2U);
    // d evicts b (2): d = 3 with error 2; the smallest count left is 3.
    EXPECT_EQ(sketch_of(3, {{"a", 5}, {"b", 2}, {"c", 3}, {"d", 1}}).absent_bound(), 3U);
}

struct MergeCase {
    const char* name;
    std::vector<std::vector<Adds>> sketches; // capacity 3 each
    std::vector<TopEntry> merged;            // all entries, sorted
};

TEST(MergeTop, TableOfCases)
{
    const std::vector<MergeCase> cases = {
        {"no sketches", {}, {}},
        {"one sketch is itself", {{{"a", 2}, {"b", 1}}}, {{"a", 2, 0}, {"b", 1, 0}}},
        {"room everywhere: exact sums",
         {{{"a", 2}, {"b", 1}}, {{"b", 4}, {"c", 1}}},
         {{"b", 5, 0}, {"a", 2, 0}, {"c", 1, 0}}},
        // Second sketch full (smallest count 1) without a: a may have been seen once there.
        {"a full sketch without the key adds its smallest count",
         {{{"a", 4}}, {{"x", 3}, {"y", 2}, {"z", 1}}},
         {{"a", 5, 1}, {"x", 3, 0}, {"y", 2, 0}, {"z", 1, 0}}},
        // First sketch: a (1) evicted by d (2, error 1); smallest count 2 (b, c).
        {"a key evicted from one sketch",
         {{{"a", 1}, {"b", 2}, {"c", 2}, {"d", 1}}, {{"a", 6}}},
         {{"a", 8, 2}, {"b", 2, 0}, {"c", 2, 0}, {"d", 2, 1}}},
        // Both full: a key in neither is not listed; each key gets the other's minimum.
        {"two full sketches",
         {{{"a", 5}, {"b", 1}, {"c", 1}}, {{"d", 4}, {"e", 2}, {"a", 3}}},
         {{"a", 8, 0}, {"d", 5, 1}, {"b", 3, 2}, {"c", 3, 2}, {"e", 3, 1}}},
    };
    for (const MergeCase& c : cases) {
        SCOPED_TRACE(c.name);
        std::vector<TopK> owned;
        for (const auto& adds : c.sketches) {
            owned.push_back(sketch_of(3, adds));
        }
        std::vector<const TopK*> sketches;
        for (const TopK& t : owned) {
            sketches.push_back(&t);
        }
        const auto merged = merge_top(sketches);
        ASSERT_EQ(merged.size(), c.merged.size());
        for (std::size_t i = 0; i < merged.size(); ++i) {
            SCOPED_TRACE(c.merged[i].key);
            EXPECT_EQ(merged[i].key, c.merged[i].key);
            EXPECT_EQ(merged[i].count, c.merged[i].count);
            EXPECT_EQ(merged[i].error, c.merged[i].error);
        }
        if (!merged.empty()) {
            EXPECT_EQ(merge_top(sketches, 1).size(), 1U);
        }
    }
}

// Against exact counts of skewed streams split over sketches: every merged count is an
// upper bound, count - error a lower bound, and error at most the sum of error bounds.
TEST(MergeTop, GuaranteesHoldOnSkewedStreams)
{
    std::mt19937 rng(11);
    std::vector<double> weights;
    for (int k = 0; k < 500; ++k) {
        weights.push_back(1.0 / std::pow(k + 1, 1.05));
    }
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    std::vector<TopK> owned(5, TopK(16));
    std::map<std::string, std::uint64_t> exact;
    for (std::size_t s = 0; s < owned.size(); ++s) {
        for (int i = 0; i < 5000; ++i) {
            const std::string key =
                "k" + std::to_string((static_cast<std::size_t>(pick(rng)) + 37 * s) % 500);
            owned[s].add(key);
            ++exact[key];
        }
    }
    std::vector<const TopK*> sketches;
    std::uint64_t bound = 0;
    for (const TopK& t : owned) {
        sketches.push_back(&t);
        bound += t.error_bound();
    }
    for (const TopEntry& e : merge_top(sketches)) {
        SCOPED_TRACE(e.key);
        EXPECT_GE(e.count, exact[e.key]);
        EXPECT_LE(e.count - e.error, exact[e.key]);
        EXPECT_LE(e.error, bound);
    }
}

} // namespace
} // namespace mso
