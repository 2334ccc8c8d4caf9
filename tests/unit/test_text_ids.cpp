// store/text_ids.cpp: the writer's interned-string cache finds every text it holds with
// its id (across the table's growth, the empty text, texts that are prefixes of one
// another, texts whose hashes collide) and nothing else, and forgets on clear().
#include "store/text_ids.h"

#include <gtest/gtest.h>

#include <string>

namespace mso {
namespace {

TEST(TextIds, FindsWhatItHoldsAcrossGrowth)
{
    TextIds ids(100'000);
    EXPECT_FALSE(ids.find("a"));
    constexpr int k_texts = 20'000; // several doublings past the first 1,024 slots
    for (int i = 0; i < k_texts; ++i) {
        ids.insert("text " + std::to_string(i), 1'000 + i);
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(k_texts));
    for (int i = 0; i < k_texts; ++i) {
        const auto id = ids.find("text " + std::to_string(i));
        ASSERT_TRUE(id) << i;
        EXPECT_EQ(*id, 1'000 + i);
    }
    EXPECT_FALSE(ids.find("text " + std::to_string(k_texts)));
    EXPECT_FALSE(ids.find("text "));
    EXPECT_FALSE(ids.find("text 1 "));
}

TEST(TextIds, TellsApartTextsThatShareAPrefixOrAreEmpty)
{
    TextIds ids(100'000);
    ids.insert("", 1);
    ids.insert("ab", 2);
    ids.insert("abc", 3);
    ids.insert(std::string("a\0b", 3), 4);
    EXPECT_EQ(ids.find(""), 1);
    EXPECT_EQ(ids.find("ab"), 2);
    EXPECT_EQ(ids.find("abc"), 3);
    EXPECT_EQ(ids.find(std::string("a\0b", 3)), 4);
    EXPECT_FALSE(ids.find("a"));
    EXPECT_FALSE(ids.find(std::string("a\0c", 3)));
}

// With a hash that is the same for every text, every probe meets slots whose hash bits
// agree: only the texts' comparison tells them apart, and the probe runs past the
// table's end back to its start.
TEST(TextIds, TextsWhoseHashesCollideAreToldApartByTheirText)
{
    TextIds ids(1'000,
                [](std::string_view) noexcept { return std::uint64_t{0xabcd'ef01'ffff'ffffULL}; });
    for (int i = 0; i < 600; ++i) {
        ids.insert("t" + std::to_string(i), i);
    }
    for (int i = 0; i < 600; ++i) {
        EXPECT_EQ(ids.find("t" + std::to_string(i)), i);
    }
    EXPECT_FALSE(ids.find("t600"));
    EXPECT_FALSE(ids.find("t"));
}

// It never holds more than it was given: the next text past the limit starts afresh.
TEST(TextIds, ForgetsEverythingWhenFull)
{
    TextIds ids(3);
    ids.insert("a", 1);
    ids.insert("b", 2);
    ids.insert("c", 3);
    EXPECT_EQ(ids.size(), 3U);
    EXPECT_EQ(ids.find("a"), 1);
    ids.insert("d", 4);
    EXPECT_EQ(ids.size(), 1U);
    EXPECT_FALSE(ids.find("a"));
    EXPECT_FALSE(ids.find("c"));
    EXPECT_EQ(ids.find("d"), 4);
}

TEST(TextIds, ClearForgetsEverything)
{
    TextIds ids(100'000);
    for (int i = 0; i < 3'000; ++i) {
        ids.insert(std::to_string(i), i);
    }
    ids.clear();
    EXPECT_EQ(ids.size(), 0U);
    for (int i = 0; i < 3'000; ++i) {
        EXPECT_FALSE(ids.find(std::to_string(i))) << i;
    }
    ids.insert("7", 70); // usable again, with its old capacity
    EXPECT_EQ(ids.find("7"), 70);
    EXPECT_FALSE(ids.find("8"));
}

} // namespace
} // namespace mso
