#include "tag_list.h"

#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mso {
namespace {

static_assert(std::forward_iterator<TagList::const_iterator>);

std::vector<std::string> tags_of(const TagList& list)
{
    return {list.begin(), list.end()};
}

TEST(TagList, KeepsEachTagWholeInOrderInTheStoresEncoding)
{
    const std::string long_tag(300, 'x'); // a length of two varint bytes
    struct Case {
        const char* name;
        std::vector<std::string> tags;
        std::string encoded; // each tag's length (LEB128), then its bytes
    };
    const std::vector<Case> cases = {
        {"none", {}, ""},
        {"one", {"attack-sqli"}, std::string("\x0b") + "attack-sqli"},
        {"empty tags kept",
         {"", "a", ""},
         std::string("\x00\x01"
                     "a\x00",
                     4)},
        {"NUL and newline inside",
         {std::string("a\0b", 3), "c\nd"},
         std::string("\x03"
                     "a\0b"
                     "\x03"
                     "c\nd",
                     8)},
        {"not UTF-8", {"\xff\xfe"}, "\x02\xff\xfe"},
        {"127 bytes: one length byte", {std::string(127, 'y')}, "\x7f" + std::string(127, 'y')},
        {"300 bytes: two length bytes", {long_tag}, "\xac\x02" + long_tag},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        TagList list;
        for (const auto& t : c.tags) {
            list.push_back(t);
        }
        EXPECT_EQ(list.size(), c.tags.size());
        EXPECT_EQ(list.empty(), c.tags.empty());
        EXPECT_EQ(tags_of(list), c.tags);
        EXPECT_EQ(list.encoded(), c.encoded);
        EXPECT_EQ(std::distance(list.begin(), list.end()),
                  static_cast<std::ptrdiff_t>(c.tags.size()));

        const auto back = TagList::from_encoded(c.encoded);
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, list);
        EXPECT_EQ(back->size(), c.tags.size());
        EXPECT_EQ(tags_of(*back), c.tags);
    }
}

TEST(TagList, RefusesAnEncodingWhoseLengthRunsPastItsEndOrNeverEnds)
{
    for (const std::string& bad : {
             std::string("\x05"
                         "abcd"), // 5 bytes announced, 4 there
             std::string("\x01"
                         "a"
                         "\x02"
                         "b"),        // the second runs past the end
             std::string("\x80"),     // a length that never ends
             std::string(11, '\xff'), // more than 64 bits
             std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10), // 2^64 - 1 bytes
             std::string("\x80\x00", 2),                                  // 0 in two bytes: padded
             std::string("\x81\x00"
                         "a",
                         3), // 1 in two bytes
         }) {
        SCOPED_TRACE(testing::PrintToString(bad));
        EXPECT_FALSE(TagList::from_encoded(bad).has_value());
    }
}

TEST(TagList, EqualOnlyWithTheSameTagsNotTheSameBytesSplitElsewhere)
{
    const TagList a{"ab", "c"};
    EXPECT_EQ(a, (TagList{"ab", "c"}));
    EXPECT_NE(a, (TagList{"a", "bc"}));
    EXPECT_NE(a, (TagList{"abc"}));
    EXPECT_NE(a, (TagList{"ab"}));

    TagList cleared = a;
    cleared.clear();
    EXPECT_TRUE(cleared.empty());
    EXPECT_EQ(cleared, TagList{});
    cleared.push_back("z");
    EXPECT_EQ(tags_of(cleared), std::vector<std::string>{"z"});
}

TEST(TagList, AMovedFromListIsEmptyAndAListTakesATagOfItsOwn)
{
    TagList from{"application-multi", "attack-sqli"};
    const TagList to = std::move(from);
    EXPECT_EQ(tags_of(to), (std::vector<std::string>{"application-multi", "attack-sqli"}));
    EXPECT_TRUE(from.empty()); // NOLINT(bugprone-use-after-move): what is tested
    EXPECT_EQ(from.size(), 0U);
    from.push_back("z");
    EXPECT_EQ(from, TagList{"z"});

    TagList assigned{"a"};
    assigned = TagList{"b", "c"};
    TagList source{"d"};
    assigned = std::move(source);
    EXPECT_EQ(assigned, TagList{"d"});
    EXPECT_EQ(source.size(), 0U); // NOLINT(bugprone-use-after-move)
    TagList& alias = assigned;    // a list moved onto itself stays as it was
    assigned = std::move(alias);
    EXPECT_EQ(assigned, TagList{"d"});
    EXPECT_EQ(tags_of(assigned), std::vector<std::string>{"d"});

    // A tag that views the list itself, as its buffer grows under it.
    TagList self{std::string(40, 'x')};
    for (int i = 0; i < 6; ++i) {
        self.push_back(*self.begin());
    }
    EXPECT_EQ(tags_of(self), std::vector<std::string>(7, std::string(40, 'x')));
}

TEST(TagList, HasRoomForWhatItHoldsAndWhatWasReserved)
{
    const TagList big{std::string(64, 'x')};
    EXPECT_GE(big.capacity(), 65U); // a length byte and 64 bytes
    TagList reserved;
    reserved.reserve(300);
    EXPECT_GE(reserved.capacity(), 300U);
    EXPECT_TRUE(reserved.empty());
}

} // namespace
} // namespace mso
