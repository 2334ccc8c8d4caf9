// URL parameters into request lines (protocol/url_query.h): each key's conversion, and
// that parse_query() reads the result back as the query the URL meant.
#include "protocol/query.h"
#include "protocol/url_query.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

struct Case {
    const char* command;
    Params params;
    const char* line; // nullptr: an error containing `error`
    const char* error;
};

TEST(UrlQuery, TranslatesEachKindOfKey)
{
    const Case cases[] = {
        {"stats", {}, R"({"cmd":"stats"})", nullptr},
        {"stats",
         {{"vhost", "shop.example"}, {"window", "24h"}},
         R"({"cmd":"stats","vhost":"shop.example","window":86400})",
         nullptr},
        {"stats", {{"window", "3600"}}, R"({"cmd":"stats","window":3600})", nullptr},
        {"stats",
         {{"vhost", "a"}, {"score_levels", "true"}},
         R"({"cmd":"stats","vhost":"a","score_levels":true})",
         nullptr},
        {"events",
         {{"rule", "942100"}, {"intercepted", "true"}, {"limit", "5"}},
         R"({"cmd":"events","rule":"942100","intercepted":true,"limit":5})",
         nullptr},
        {"events",
         {{"status", "403"}, {"would_block", "false"}, {"since", "1763600000"}},
         R"({"cmd":"events","status":403,"would_block":false,"since":1763600000})",
         nullptr},
        {"top",
         {{"list", "clients"}, {"window", "24h"}, {"max_age", "10"}},
         R"({"cmd":"top","list":"clients","window":86400,"max_age":10})",
         nullptr},
        {"top",
         {{"list", "clients"}, {"max_age", "soon"}},
         nullptr,
         "\"max_age\" must be a non-negative integer"},
        // A vhost that looks like a number stays a string.
        {"stats", {{"vhost", "123"}}, R"({"cmd":"stats","vhost":"123"})", nullptr},
        // Hostile text is just a string value, escaped by the JSON writer.
        {"events",
         {{"path", "/\"><script>"}},
         R"({"cmd":"events","path":"/\"><script>"})",
         nullptr},
        {"events", {{"limit", "-1"}}, nullptr, "\"limit\" must be a non-negative integer"},
        {"events", {{"limit", "5x"}}, nullptr, "\"limit\" must be a non-negative integer"},
        {"events", {{"intercepted", "yes"}}, nullptr, "\"intercepted\" must be true or false"},
        {"stats", {{"window", "soon"}}, nullptr, "\"window\" must be a duration"},
        {"stats", {{"cmd", "health"}}, nullptr, "unknown parameter \"cmd\""},
        {"stats", {{"bogus", "1"}}, nullptr, "unknown parameter \"bogus\""},
        {"stats", {{"vhost", "a"}, {"vhost", "b"}}, nullptr, "\"vhost\" is given more than once"},
        // `vhosts` is a list: repeated, one name each, in order; the other keys stay single.
        {"timeseries",
         {{"vhosts", "a.test"}, {"window", "3600"}, {"vhosts", "b.test"}, {"resolution", "minute"}},
         R"({"cmd":"timeseries","vhosts":["a.test","b.test"],"window":3600,"resolution":"minute"})",
         nullptr},
        {"timeseries",
         {{"vhosts", "a.test"}},
         R"({"cmd":"timeseries","vhosts":["a.test"]})",
         nullptr},
        {"timeseries",
         {{"vhosts", "1"}, {"vhosts", ""}, {"vhosts", "1"}},
         R"({"cmd":"timeseries","vhosts":["1","","1"]})",
         nullptr},
        {"timeseries",
         {{"vhosts", "a"}, {"vhosts", "b"}, {"window", "1h"}, {"window", "2h"}},
         nullptr,
         "\"window\" is given more than once"},
        {"timeseries",
         {{"vhosts", "a"}, {"resolution", "minute"}, {"resolution", "hour"}},
         nullptr,
         "\"resolution\" is given more than once"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.line ? c.line : c.error);
        const auto line = mso::request_line_from_url(c.command, c.params);
        if (c.line) {
            ASSERT_TRUE(line) << line.error();
            EXPECT_EQ(*line, c.line);
            EXPECT_TRUE(mso::parse_query(*line));
        } else {
            ASSERT_FALSE(line);
            EXPECT_NE(line.error().find(c.error), std::string::npos) << line.error();
        }
    }
}

TEST(UrlQuery, LeavesValidationToParseQuery)
{
    // Translated fine, refused by the protocol's own checks, with the protocol's words.
    const auto line = mso::request_line_from_url("events", {{"status", "42"}});
    ASSERT_TRUE(line);
    const auto query = mso::parse_query(*line);
    ASSERT_FALSE(query);
    EXPECT_NE(query.error().find("\"status\" must be an HTTP status code"), std::string::npos);
    const auto unknown = mso::parse_query(*mso::request_line_from_url("nope", {}));
    ASSERT_FALSE(unknown);
    // `vhost` with `vhosts`, and more than the protocol's most names.
    const auto both = mso::parse_query(
        *mso::request_line_from_url("timeseries", {{"vhost", "a"}, {"vhosts", "a"}}));
    ASSERT_FALSE(both);
    EXPECT_NE(both.error().find("cannot be combined"), std::string::npos) << both.error();
    std::vector<std::pair<std::string, std::string>> many;
    for (std::size_t i = 0; i <= mso::k_max_listed_vhosts; ++i) {
        many.emplace_back("vhosts", "v" + std::to_string(i));
    }
    const auto too_many = mso::parse_query(*mso::request_line_from_url("timeseries", many));
    ASSERT_FALSE(too_many);
    EXPECT_NE(too_many.error().find("got 101 names"), std::string::npos) << too_many.error();
    many.pop_back();
    const auto most = mso::parse_query(*mso::request_line_from_url("timeseries", many));
    ASSERT_TRUE(most) << most.error();
    EXPECT_EQ(most->vhosts.size(), mso::k_max_listed_vhosts);
}

} // namespace
