// Space-Saving heavy hitters: exact while keys fit, and the documented guarantees
// (count - error <= true <= count, error <= N / capacity, heavy keys kept) against
// exact counts on skewed streams.
#include "top_k.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

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
