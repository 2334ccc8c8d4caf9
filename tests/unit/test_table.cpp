// Plain-text tables (util/table.cpp): alignment by display width, width limits, missing
// and extra cells, no trailing blanks.
#include "util/table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct TableCase {
    const char* name;
    std::vector<mso::Column> columns;
    std::vector<std::vector<std::string>> rows;
    std::string text;
};

TEST(Table, Render)
{
    using mso::Align;
    const std::vector<TableCase> cases = {
        {"header only", {{"A", Align::left, 0}, {"B", Align::right, 0}}, {}, "A  B\n"},
        {"left and right",
         {{"NAME", Align::left, 0}, {"N", Align::right, 0}},
         {{"a", "1"}, {"bbbbbb", "100"}},
         "NAME      N\n"
         "a         1\n"
         "bbbbbb  100\n"},
        {"no trailing blanks",
         {{"A", Align::left, 0}, {"B", Align::left, 0}},
         {{"xxxx", ""}},
         "A     B\n"
         "xxxx\n"},
        {"missing cells are empty, extra cells ignored",
         {{"A", Align::left, 0}, {"B", Align::right, 0}},
         {{"x"}, {"y", "2", "extra"}},
         "A  B\n"
         "x\n"
         "y  2\n"},
        {"cut to the column's width",
         {{"A", Align::left, 4}, {"B", Align::left, 0}},
         {{"abcdefgh", "z"}},
         "A     B\n"
         "abc…  z\n"},
        {"wide characters count twice",
         {{"A", Align::left, 0}, {"B", Align::left, 0}},
         {{"日本", "x"}, {"abc", "y"}},
         "A     B\n"
         "日本  x\n"
         "abc   y\n"},
        {"combining marks count none",
         {{"A", Align::right, 0}},
         {{"e\xcc\x81"}, {"ab"}},
         " A\n"
         " e\xcc\x81\n"
         "ab\n"},
        {"no columns", {}, {{"x"}}, "\n\n"},
        {"empty headers", {{"", Align::left, 0}, {"", Align::right, 0}}, {{"k", "1"}}, "\nk  1\n"},
    };
    for (const TableCase& c : cases) {
        SCOPED_TRACE(c.name);
        mso::Table table(c.columns);
        for (const auto& row : c.rows) {
            table.add_row(row);
        }
        EXPECT_EQ(table.render(), c.text);
    }
}

} // namespace
