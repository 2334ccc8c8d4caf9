// Tests of the bounded JSON writer: escaping, UTF-8 repair, limits, overflow, rollback.
// Every output is checked by parsing it back with nlohmann/json.
#include "json_writer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace mso {
namespace {

std::string write_string(std::string_view value, std::size_t max = SIZE_MAX, bool* cut = nullptr)
{
    char buffer[512];
    JsonWriter w(buffer, sizeof buffer);
    w.string(value, max, cut);
    return std::string(w.view());
}

struct StringCase {
    std::string in;
    std::string json;    // exact output
    std::string decoded; // what a JSON parser reads back
};

TEST(JsonWriterString, EscapesAndRepairs)
{
    const StringCase cases[] = {
        {"plain", "\"plain\"", "plain"},
        {"q\"b\\s", "\"q\\\"b\\\\s\"", "q\"b\\s"},
        {"\n\r\t", "\"\\n\\r\\t\"", "\n\r\t"},
        {"\x1b[31m", "\"\\u001b[31m\"", "\x1b[31m"},
        {std::string("a\0b", 3), "\"a\\u0000b\"", std::string("a\0b", 3)},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\"", "caf\xc3\xa9"},
        {"\xff", "\"\\ufffd\"", "\xef\xbf\xbd"},
        {"\xc3", "\"\\ufffd\"", "\xef\xbf\xbd"}, // cut sequence
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                       // surrogate
        {"\xc0\xaf", "\"\\ufffd\\ufffd\"", "\xef\xbf\xbd\xef\xbf\xbd"}, // overlong
        {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"", "\xf0\x9f\x98\x80"},
        // Runs of plain characters between escapes, at both ends (copied as runs).
        {"ab\"cd\\ef\x01gh\xc3\xa9ij\n", "\"ab\\\"cd\\\\ef\\u0001gh\xc3\xa9ij\\n\"",
         "ab\"cd\\ef\x01gh\xc3\xa9ij\n"},
    };
    for (const auto& c : cases) {
        const std::string out = write_string(c.in);
        EXPECT_EQ(out, c.json);
        const auto parsed = nlohmann::json::parse(out, nullptr, false);
        ASSERT_FALSE(parsed.is_discarded()) << out;
        EXPECT_EQ(parsed.get<std::string>(), c.decoded);
    }
}

TEST(JsonWriterString, LimitCutsAtCharacterBoundary)
{
    bool cut = false;
    EXPECT_EQ(write_string("abcdef", 3, &cut), "\"abc\"");
    EXPECT_TRUE(cut);
    EXPECT_EQ(write_string("ab\xc3\xa9", 3, &cut), "\"ab\""); // é would straddle the limit
    EXPECT_TRUE(cut);
    EXPECT_EQ(write_string("a\"bcdef", 4, &cut), "\"a\\\"bc\""); // limit inside a run
    EXPECT_TRUE(cut);
    EXPECT_EQ(write_string("abc", 3, &cut), "\"abc\"");
    EXPECT_FALSE(cut);
}

TEST(JsonWriterString, ModSecurityEscapesAreDecoded)
{
    char buffer[128];
    JsonWriter w(buffer, sizeof buffer);
    bool cut = true;
    w.modsec_string("1\\\" OR \\x01", 100, &cut);
    EXPECT_EQ(w.view(), "\"1\\\" OR \\u0001\"");
    EXPECT_FALSE(cut);
}

TEST(JsonWriterStructure, CommasAndNesting)
{
    char buffer[256];
    JsonWriter w(buffer, sizeof buffer);
    w.begin_object();
    w.key("a");
    w.integer(-9223372036854775807LL - 1);
    w.key("b");
    w.begin_array();
    w.boolean(true);
    w.null();
    w.begin_object();
    w.end_object();
    w.end_array();
    w.key("c");
    w.integer(0);
    w.end_object();
    EXPECT_EQ(w.view(), "{\"a\":-9223372036854775808,\"b\":[true,null,{}],\"c\":0}");
    EXPECT_FALSE(w.overflowed());
}

TEST(JsonWriterBounds, OverflowNeverWritesPastBuffer)
{
    char buffer[16 + 8];
    std::fill(std::begin(buffer), std::end(buffer), '#');
    JsonWriter w(buffer, 16);
    w.begin_array();
    for (int i = 0; i < 10; ++i)
        w.string("abcdef");
    EXPECT_TRUE(w.overflowed());
    EXPECT_LE(w.view().size(), 16U);
    for (std::size_t i = 16; i < sizeof buffer; ++i)
        EXPECT_EQ(buffer[i], '#');
}

TEST(JsonWriterBounds, RollbackDropsAWholeElementAndStaysValid)
{
    char buffer[40];
    JsonWriter w(buffer, sizeof buffer);
    w.begin_object();
    w.key("list");
    w.reserve(2);
    w.begin_array();
    int kept = 0;
    for (int i = 0; i < 10; ++i) {
        const auto mark = w.mark();
        w.string("0123456");
        if (w.overflowed()) {
            w.rollback(mark);
            continue;
        }
        ++kept;
    }
    w.release_reserve();
    w.end_array();
    w.end_object();
    ASSERT_FALSE(w.overflowed());
    const auto parsed = nlohmann::json::parse(w.view(), nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << w.view();
    EXPECT_EQ(static_cast<int>(parsed["list"].size()), kept);
    EXPECT_EQ(kept, 3);
}

// Byte by byte, as the writer escaped before it looked at eight bytes at a time.
std::string reference_escape(std::string_view s)
{
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b == '"')
            out += "\\\"";
        else if (b == '\\')
            out += "\\\\";
        else if (b == '\n')
            out += "\\n";
        else if (b == '\r')
            out += "\\r";
        else if (b == '\t')
            out += "\\t";
        else if (b < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[b >> 4];
            out += hex[b & 0xF];
        } else if (b >= 0x80)
            out += "\\ufffd"; // the cases below use only lone bytes above 0x7f
        else
            out += static_cast<char>(b);
    }
    return out + "\"";
}

// Plain runs are tested eight bytes at a time: a byte that needs escaping must be seen
// at every offset within a word and across word boundaries, and 0x7f stays plain.
TEST(JsonWriterString, SpecialByteAtEveryOffsetOfAPlainRun)
{
    const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\x80', '\xff', '\0'};
    for (std::size_t size = 1; size <= 40; ++size) {
        for (std::size_t at = 0; at < size; ++at) {
            for (const char special : specials) {
                std::string in(size, 'a');
                in[size / 2] = '\x7f';
                in[at] = special;
                EXPECT_EQ(write_string(in), reference_escape(in)) << size << " " << at;
            }
        }
    }
}

} // namespace
} // namespace mso
