// terminal_safe(), display_width() and fit_width(): nothing a remote party put
// into a vhost or rule message may reach the terminal as a control sequence.
#include "util/table.h"
#include "util/terminal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct SafeCase {
    const char* name;
    std::string input;
    std::string expected;
};

TEST(TerminalSafe, Table)
{
    const std::vector<SafeCase> cases = {
        {"plain ascii", "shop.example", "shop.example"},
        {"empty", "", ""},
        {"esc csi clear screen", "a\x1b[2Jb", "a\\x1b[2Jb"},
        {"osc window title", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"},
        {"newline tab cr", "a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"},
        {"nul", std::string("a\0b", 3), "a\\x00b"},
        {"del", "a\x7f", "a\\x7f"},
        {"c1 csi as utf-8",
         "a\xc2\x9b"
         "31m",
         "a\\u009b31m"},
        {"c1 nel", "\xc2\x85", "\\u0085"},
        {"raw c1 byte (invalid utf-8)",
         "a\x9b"
         "2J",
         "a\\x9b2J"},
        {"lone continuation", "\x80", "\\x80"},
        {"truncated sequence", "ab\xe2\x82", "ab\\xe2\\x82"},
        {"overlong slash", "\xc0\xaf", "\\xc0\\xaf"},
        {"utf-16 surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
        {"above U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
        {"bidi override",
         "abc\xe2\x80\xae"
         "def",
         "abc\\u202edef"},
        {"valid multibyte kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5",
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5"},
        {"nbsp kept",
         "a\xc2\xa0"
         "b",
         "a\xc2\xa0"
         "b"},
        {"backslash kept", "C:\\dir", "C:\\dir"},
    };
    for (const SafeCase& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(mso::terminal_safe(c.input), c.expected);
    }
}

TEST(TerminalSafe, OutputNeverContainsControlBytes)
{
    std::string all;
    for (int b = 0; b < 256; ++b) {
        all += static_cast<char>(b);
    }
    const std::string safe = mso::terminal_safe(all);
    for (const char ch : safe) {
        const auto b = static_cast<unsigned char>(ch);
        EXPECT_FALSE(b < 0x20 || b == 0x7f) << "byte " << int(b);
    }
    // Every byte >= 0x80 alone is invalid UTF-8, so none survives raw.
    EXPECT_EQ(safe.find('\x80'), std::string::npos);
    EXPECT_EQ(safe.find('\x9b'), std::string::npos);
}

struct WidthCase {
    const char* name;
    std::string input;
    std::size_t width;
};

TEST(DisplayWidth, Table)
{
    const std::vector<WidthCase> cases = {
        {"ascii", "hello", 5},
        {"two-byte", "caf\xc3\xa9", 4},
        {"euro sign", "\xe2\x82\xac", 1},
        {"cjk is wide", "\xe6\x97\xa5\xe6\x9c\xac", 4},
        {"emoji is wide", "\xf0\x9f\x98\x80", 2},
        {"combining acute", "e\xcc\x81", 1},
        {"escaped output", "\\x1b", 4},
    };
    for (const WidthCase& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(mso::display_width(c.input), c.width);
    }
}

TEST(FitWidth, CutsOnCodePointsWithEllipsis)
{
    EXPECT_EQ(mso::fit_width("short", 10), "short");
    EXPECT_EQ(mso::fit_width("exactly10!", 10), "exactly10!");
    EXPECT_EQ(mso::fit_width("abcdefghijk", 5), "abcd\xe2\x80\xa6");
    EXPECT_EQ(mso::fit_width("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3),
              "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    // A wide character that does not fit is left out entirely.
    EXPECT_EQ(mso::fit_width("a\xe6\x97\xa5\xe6\x97\xa5", 3), "a\xe2\x80\xa6");
    EXPECT_EQ(mso::fit_width("abc", 0), "");
    EXPECT_EQ(mso::display_width(mso::fit_width("a very long rule message", 12)), 12u);
}

} // namespace

namespace {

TEST(Table, AlignsByDisplayWidthNotBytes)
{
    mso::Table table({{"NAME", mso::Align::left, 0}, {"N", mso::Align::right, 0}});
    table.add_row({"caf\xc3\xa9", "1"});
    table.add_row({"ab", "100"});
    EXPECT_EQ(table.render(), "NAME    N\n"
                              "caf\xc3\xa9    1\n"
                              "ab    100\n");
}

TEST(Table, CutsLongCellsAndPadsMissingOnes)
{
    mso::Table table({{"ID", mso::Align::left, 0}, {"MESSAGE", mso::Align::left, 8}});
    table.add_row({"942100", "SQL Injection Attack"});
    table.add_row({"1"});
    EXPECT_EQ(table.render(), "ID      MESSAGE\n"
                              "942100  SQL Inj\xe2\x80\xa6\n"
                              "1\n");
}

} // namespace
