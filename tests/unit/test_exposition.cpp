// The Prometheus text format writer: label escaping of hostile bytes, family
// headers, number formatting and histograms, table-driven with exact output.
#include "daemon/exposition.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

struct EscapeCase {
    std::string in;
    std::string out;
};

TEST(Exposition, LabelValuesAreEscapedAndValidUtf8)
{
    const std::vector<EscapeCase> cases = {
        {"shop.test", "shop.test"},
        {"", ""},
        {"a\\b", "a\\\\b"},
        {"say \"hi\"", "say \\\"hi\\\""},
        {"two\nlines", "two\\nlines"},
        {"tab\tand\rcr", "tab\tand\rcr"}, // allowed as they are
        {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {"bad\xFFx", "bad\xEF\xBF\xBDx"},
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                 // overlong '/'
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, // surrogate
        {"\xF4\x90\x80\x80",                                      // above U+10FFFF
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"cut\xE2\x82", "cut\xEF\xBF\xBD\xEF\xBF\xBD"}, // truncated sequence
        {std::string("nul\0x", 5), std::string("nul\0x", 5)},
    };
    for (const EscapeCase& c : cases) {
        SCOPED_TRACE(c.in);
        std::string out;
        mso::append_label_value(out, c.in);
        EXPECT_EQ(out, c.out);
    }
}

TEST(Exposition, FamilyHeader)
{
    std::string out;
    mso::append_family(out, "x_total", "Counts \"x\"\\y\nz.", mso::MetricType::counter);
    mso::append_family(out, "g", "A gauge.", mso::MetricType::gauge);
    mso::append_family(out, "h", "A histogram.", mso::MetricType::histogram);
    EXPECT_EQ(out, "# HELP x_total Counts \"x\"\\\\y\\nz.\n# TYPE x_total counter\n"
                   "# HELP g A gauge.\n# TYPE g gauge\n"
                   "# HELP h A histogram.\n# TYPE h histogram\n");
}

TEST(Exposition, Samples)
{
    std::string out;
    const mso::Label labels[] = {{"vhost", "a\"b"}, {"status", "200"}};
    mso::append_sample(out, "r_total", labels, std::uint64_t{18446744073709551615U});
    mso::append_sample(out, "up", {}, std::uint64_t{1});
    mso::append_sample(out, "t", {}, 1700000000.25);
    EXPECT_EQ(out, "r_total{vhost=\"a\\\"b\",status=\"200\"} 18446744073709551615\n"
                   "up 1\n"
                   "t 1700000000.25\n");
}

TEST(Exposition, Numbers)
{
    const std::vector<std::pair<double, std::string>> cases = {
        {0.0, "0"},
        {5.0, "5"},
        {0.1, "0.1"},
        {-2.5, "-2.5"},
        {1e21, "1e+21"},
        {std::numeric_limits<double>::infinity(), "+Inf"},
        {-std::numeric_limits<double>::infinity(), "-Inf"},
        {std::numeric_limits<double>::quiet_NaN(), "NaN"},
    };
    for (const auto& [value, text] : cases) {
        std::string out;
        mso::append_number(out, value);
        EXPECT_EQ(out, text);
    }
}

TEST(Exposition, Histogram)
{
    std::string out;
    const mso::Label labels[] = {{"vhost", "shop.test"}};
    const std::array<double, 3> bounds = {0, 5, 10.5};
    const std::array<std::uint64_t, 3> cumulative = {3, 7, 7};
    ASSERT_TRUE(mso::append_histogram(out, "score", labels, bounds, cumulative, 42, 9));
    EXPECT_EQ(out, "score_bucket{vhost=\"shop.test\",le=\"0\"} 3\n"
                   "score_bucket{vhost=\"shop.test\",le=\"5\"} 7\n"
                   "score_bucket{vhost=\"shop.test\",le=\"10.5\"} 7\n"
                   "score_bucket{vhost=\"shop.test\",le=\"+Inf\"} 9\n"
                   "score_sum{vhost=\"shop.test\"} 42\n"
                   "score_count{vhost=\"shop.test\"} 9\n");

    out.clear();
    ASSERT_TRUE(mso::append_histogram(out, "empty", {}, {}, {}, 0, 0));
    EXPECT_EQ(out, "empty_bucket{le=\"+Inf\"} 0\nempty_sum 0\nempty_count 0\n");
}

struct BadHistogram {
    const char* why;
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;
    std::uint64_t count;
};

TEST(Exposition, HistogramRejectsWhatIsNotOne)
{
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<BadHistogram> cases = {
        {"sizes differ", {1, 2}, {1}, 5},       {"bounds not increasing", {2, 1}, {1, 2}, 5},
        {"bounds equal", {1, 1}, {1, 2}, 5},    {"infinite bound", {1, inf}, {1, 2}, 5},
        {"counts decrease", {1, 2}, {3, 2}, 5}, {"last bucket above count", {1, 2}, {1, 6}, 5},
    };
    for (const BadHistogram& c : cases) {
        SCOPED_TRACE(c.why);
        std::string out = "kept";
        EXPECT_FALSE(mso::append_histogram(out, "h", {}, c.bounds, c.cumulative, 0, c.count));
        EXPECT_EQ(out, "kept");
    }
}

} // namespace
