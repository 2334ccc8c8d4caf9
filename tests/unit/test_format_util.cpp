// Defensive field access of the CLI's formatters (cli/format_util.cpp): every field of
// every type, present or not, on objects and on what is not an object, and the vhost
// display name that the formatters and the live view share.
#include "cli/format_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using json = nlohmann::ordered_json;

struct FieldCase {
    const char* object;
    std::string field;    // format_util::field(object, "k")
    std::uint64_t number; // format_util::number(object, "k")
};

TEST(FormatUtil, FieldAndNumber)
{
    const std::vector<FieldCase> cases = {
        {R"({"k":"text"})", "text", 0},
        {R"({"k":""})", "", 0},
        {R"({"k":"\u001b[2J"})", "\\x1b[2J", 0},
        {R"({"k":"\u009b\u202e"})", "\\u009b\\u202e", 0},
        {R"({"k":7})", "7", 7},
        {R"({"k":18446744073709551615})", "18446744073709551615", 18446744073709551615U},
        {R"({"k":-3})", "-3", 0},
        {R"({"k":1.5})", "1.5", 0},
        {R"({"k":true})", "true", 0},
        {R"({"k":null})", "-", 0},
        {R"({"k":[1]})", "-", 0},
        {R"({"k":{"a":1}})", "-", 0},
        {R"({"other":1})", "-", 0},
        {R"({})", "-", 0},
        {R"([{"k":1}])", "-", 0},
        {R"("k")", "-", 0},
        {R"(null)", "-", 0},
        {R"(5)", "-", 0},
    };
    for (const FieldCase& c : cases) {
        SCOPED_TRACE(c.object);
        const json object = json::parse(c.object);
        EXPECT_EQ(mso::format_util::field(object, "k"), c.field);
        EXPECT_EQ(mso::format_util::number(object, "k"), c.number);
    }
}

TEST(FormatUtil, FieldKeepsNulAndInvalidUtf8Visible)
{
    json object = json::object();
    object["k"] = std::string("a\0b\xff", 4);
    EXPECT_EQ(mso::format_util::field(object, "k"), "a\\x00b\\xff");
}

struct VhostNameCase {
    json answer;
    std::string shown;
};

TEST(FormatUtil, VhostName)
{
    const VhostNameCase cases[] = {
        {json{{"vhost", "shop.test"}}, "shop.test"},
        {json{{"vhost", ""}}, "\"\""}, // a vhost without a ServerName stays visible
        {json{{"vhost", "-"}}, "-"},
        {json{{"vhost", "evil\x1b[2J"}}, "evil\\x1b[2J"}, // escaped for the terminal
        {json{{"requests", 1}}, "-"},                     // missing
        {json{{"vhost", nullptr}}, "-"},
        {json{{"vhost", 7}}, "7"},
        {json::array(), "-"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(mso::format_util::vhost_name(c.answer), c.shown) << c.answer.dump();
    }
}

struct DumpCase {
    json value;
    std::string text;
};

TEST(FormatUtil, DumpSafe)
{
    const std::vector<DumpCase> cases = {
        {json(1), "1"},
        {json("a"), "\"a\""},
        {json("\x1b"), "\"\\u001b\""},                   // JSON escapes C0 itself
        {json("\xc2\x9b"), "\"\\u009b\""},               // C1 is left to terminal_safe
        {json(std::string("\xff")), "\"\xef\xbf\xbd\""}, // invalid UTF-8 replaced
        {json::array({1, "x"}), "[1,\"x\"]"},
        {json(nullptr), "null"},
    };
    for (const DumpCase& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(mso::format_util::dump_safe(c.value), c.text);
    }
}

struct IndentCase {
    std::string text;
    std::size_t spaces;
    std::string indented;
};

TEST(FormatUtil, Indent)
{
    const std::vector<IndentCase> cases = {
        {"", 2, ""},           {"a\n", 2, "  a\n"},     {"a\nb\n", 3, "   a\n   b\n"},
        {"a\nb", 1, " a\n b"}, {"\n\n", 2, "  \n  \n"}, {"a\n", 0, "a\n"},
    };
    for (const IndentCase& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(mso::format_util::indent(c.text, c.spaces), c.indented);
    }
}

} // namespace
