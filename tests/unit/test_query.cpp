// The query language without sockets: parse_query() on good and bad lines, and
// request_line() for every request the CLI sends, read back by parse_query().
#include "protocol/query.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

struct GoodCase {
    const char* line;
    mso::QueryCommand command;
    std::optional<std::string> vhost;
};

TEST(ParseQuery, GoodLines)
{
    const std::vector<GoodCase> cases = {
        {R"({"cmd":"stats"})", mso::QueryCommand::stats, std::nullopt},
        {R"({"cmd": "stats", "vhost": "shop.example"})", mso::QueryCommand::stats, "shop.example"},
        {R"({"cmd":"stats","vhost":""})", mso::QueryCommand::stats, ""},
        {R"(  {"cmd":"health"}  )", mso::QueryCommand::health, std::nullopt},
        {R"({"cmd":"health","future_key":[1,2]})", mso::QueryCommand::health, std::nullopt},
    };
    for (const GoodCase& c : cases) {
        SCOPED_TRACE(c.line);
        const auto parsed = mso::parse_query(c.line);
        ASSERT_TRUE(parsed.has_value()) << parsed.error();
        const auto& query = *parsed;
        EXPECT_EQ(query.command, c.command);
        EXPECT_EQ(query.vhost, c.vhost);
    }
}

struct BadCase {
    std::string line;
    std::string error;
};

TEST(ParseQuery, BadLines)
{
    const std::vector<BadCase> cases = {
        {"", "invalid json in request line"},
        {"{", "invalid json in request line"},
        {"stats", "invalid json in request line"},
        {R"({"cmd":"stats"} {"cmd":"stats"})", "invalid json in request line"},
        {"[1,2]", "request must be a json object, got array"},
        {"\"stats\"", "request must be a json object, got string"},
        {"null", "request must be a json object, got null"},
        {"{}", "missing \"cmd\" (expected one of: stats, vhosts, rules, top, timeseries, events, "
               "tail, health)"},
        {R"({"cmd":7})", "\"cmd\" must be a string, got number"},
        {R"({"cmd":"drop_tables"})", "unknown cmd \"drop_tables\" (expected one of: stats, vhosts, "
                                     "rules, top, timeseries, events, tail, health)"},
        {R"({"cmd":"\u001b[2J"})", "unknown cmd \"\\u001b[2J\" (expected one of: stats, vhosts, "
                                   "rules, top, timeseries, events, tail, health)"},
        {R"({"cmd":"stats","vhost":1})", "\"vhost\" must be a string, got number"},
        {R"({"cmd":"stats","vhost":null})", "\"vhost\" must be a string, got null"},
        {R"({"cmd":"stats","vhost":["a"]})", "\"vhost\" must be a string, got array"},
        {R"({"cmd":"events","rule":942100})", "\"rule\" must be a string, got number"},
        {R"({"cmd":"events","client":false})", "\"client\" must be a string, got boolean"},
        {R"({"cmd":"events","intercepted":"yes"})",
         "\"intercepted\" must be a boolean, got string"},
        {R"({"cmd":"events","limit":-1})", "\"limit\" must be a non-negative integer"},
        {R"({"cmd":"events","limit":1.5})", "\"limit\" must be a non-negative integer"},
        {R"({"cmd":"top"})", "\"list\" must be one of: clients, paths, agents, targets"},
        {R"({"cmd":"top","list":"cookies"})",
         "\"list\" must be one of: clients, paths, agents, targets"},
        {R"({"cmd":"timeseries","resolution":"second"})",
         "\"resolution\" must be \"minute\" or \"hour\""},
        {R"({"cmd":"stats","window":0})",
         "\"window\" must be a number of seconds from 1 to 2592000"},
        {R"({"cmd":"stats","window":2592001})",
         "\"window\" must be a number of seconds from 1 to 2592000"},
        {R"({"cmd":"stats","window":"1h"})",
         "\"window\" must be a number of seconds from 1 to 2592000"},
        {R"({"cmd":"rules","rule":1})", "\"rule\" must be a string, got number"},
        {R"({"cmd":"stats","rules_limit":-1})", "\"rules_limit\" must be a non-negative integer"},
        {R"({"cmd":"stats","top_clients":"3"})", "\"top_clients\" must be a non-negative integer"},
        {std::string(mso::k_max_query_line_bytes + 1, ' '),
         "request line too long (more than 65536 bytes)"},
    };
    for (const BadCase& c : cases) {
        SCOPED_TRACE(c.line.substr(0, 80));
        const auto parsed = mso::parse_query(c.line);
        ASSERT_FALSE(parsed.has_value());
        EXPECT_EQ(parsed.error(), c.error);
    }
}

TEST(ParseQuery, LongUnknownCommandIsCutInTheError)
{
    const std::string line = R"({"cmd":")" + std::string(1000, 'x') + R"("})";
    const auto parsed = mso::parse_query(line);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(
        parsed.error(),
        "unknown cmd \"" + std::string(64, 'x') +
            "\"... (expected one of: stats, vhosts, rules, top, timeseries, events, tail, health)");
}

TEST(ParseQuery, MaximumLengthLineIsAccepted)
{
    std::string line = R"({"cmd":"stats"})";
    line.resize(mso::k_max_query_line_bytes, ' ');
    EXPECT_TRUE(mso::parse_query(line).has_value());
}

TEST(ErrorAnswer, IsOneJsonLine)
{
    EXPECT_EQ(mso::error_answer("bad \"thing\"\n"), R"({"ok":false,"error":"bad \"thing\"\n"})");
    // Invalid UTF-8 never makes the answer invalid JSON.
    EXPECT_EQ(mso::error_answer("x\xff"), "{\"ok\":false,\"error\":\"x\xEF\xBF\xBD\"}");
}

TEST(ParseQuery, EventsFilters)
{
    const auto parsed = mso::parse_query(
        R"({"cmd":"events","vhost":"a","rule":"942100","client":"10.0.0.1","intercepted":true,"limit":0})");
    ASSERT_TRUE(parsed.has_value());
    const auto& q = *parsed;
    EXPECT_EQ(q.command, mso::QueryCommand::events);
    EXPECT_EQ(q.events.vhost, "a");
    EXPECT_EQ(q.events.rule, "942100");
    EXPECT_EQ(q.events.client, "10.0.0.1");
    EXPECT_EQ(q.events.intercepted, true);
    EXPECT_EQ(q.events.limit, 0U);
    const auto defaults = *mso::parse_query(R"({"cmd":"events"})");
    EXPECT_FALSE(defaults.events.vhost || defaults.events.rule || defaults.events.client ||
                 defaults.events.intercepted);
    EXPECT_EQ(defaults.events.limit, 100U);
}

// A query as the CLI builds it: events and tail filter on the vhost and rule above.
mso::Query make(mso::QueryCommand command, std::optional<std::string> vhost = std::nullopt,
                std::optional<std::string> rule = std::nullopt)
{
    mso::Query q;
    q.command = command;
    q.vhost = std::move(vhost);
    q.rule = std::move(rule);
    if (command == mso::QueryCommand::events || command == mso::QueryCommand::tail) {
        q.events.vhost = q.vhost;
        q.events.rule = q.rule;
    }
    return q;
}

mso::Query with(mso::Query q, void (*change)(mso::Query&))
{
    change(q);
    return q;
}

struct RequestCase {
    const char* name;
    mso::Query query;
    std::string line;     // request_line(query)
    std::string cli_line; // the line the CLI built by hand before request_line()
};

// Every request the CLI sends: each subcommand with each of its options.
TEST(RequestLine, EveryCliRequestParsesBackToItsQuery)
{
    using C = mso::QueryCommand;
    const std::vector<RequestCase> cases = {
        {"vhosts", make(C::vhosts), R"({"cmd":"vhosts"})", R"({"cmd":"vhosts"})"},
        {"stats", make(C::stats), R"({"cmd":"stats"})", R"({"cmd":"stats"})"},
        {"stats --vhost", make(C::stats, "shop.example"),
         R"({"cmd":"stats","vhost":"shop.example"})", R"({"cmd":"stats","vhost":"shop.example"})"},
        {"stats --window 15m --vhost",
         with(make(C::stats, "a"), [](mso::Query& q) { q.window = 900; }),
         R"({"cmd":"stats","vhost":"a","window":900})",
         R"({"cmd":"stats","vhost":"a","window":900})"},
        {"stats --since 30d", with(make(C::stats), [](mso::Query& q) { q.window = 2592000; }),
         R"({"cmd":"stats","window":2592000})", R"({"cmd":"stats","window":2592000})"},
        {"top (live view)",
         with(make(C::stats),
              [](mso::Query& q) {
                  q.shape.rules_limit = 3;
                  q.shape.top_clients = 3;
              }),
         R"({"cmd":"stats","rules_limit":3,"top_clients":3})",
         R"({"cmd":"stats","rules_limit":3,"top_clients":3})"},
        {"top --vhost (live view)",
         with(make(C::stats, "a"),
              [](mso::Query& q) {
                  q.shape.rules_limit = 3;
                  q.shape.top_clients = 3;
              }),
         R"({"cmd":"stats","vhost":"a","rules_limit":3,"top_clients":3})",
         R"({"cmd":"stats","rules_limit":3,"top_clients":3,"vhost":"a"})"},
        {"rules", make(C::rules), R"({"cmd":"rules"})", R"({"cmd":"rules"})"},
        {"rules --vhost --rule", make(C::rules, "a", "942100"),
         R"({"cmd":"rules","vhost":"a","rule":"942100"})",
         R"({"cmd":"rules","vhost":"a","rule":"942100"})"},
        {"rules --rule", make(C::rules, std::nullopt, "942100"),
         R"({"cmd":"rules","rule":"942100"})", R"({"cmd":"rules","rule":"942100"})"},
        {"top clients", make(C::top), R"({"cmd":"top","list":"clients","limit":20})",
         R"({"cmd":"top","list":"clients","limit":20})"},
        {"top paths --vhost --limit 5",
         with(make(C::top, "a"),
              [](mso::Query& q) {
                  q.list = mso::TopList::paths;
                  q.limit = 5;
              }),
         R"({"cmd":"top","list":"paths","vhost":"a","limit":5})",
         R"({"cmd":"top","list":"paths","limit":5,"vhost":"a"})"},
        {"top agents --limit 0",
         with(make(C::top),
              [](mso::Query& q) {
                  q.list = mso::TopList::agents;
                  q.limit = 0;
              }),
         R"({"cmd":"top","list":"agents","limit":0})",
         R"({"cmd":"top","list":"agents","limit":0})"},
        {"top targets", with(make(C::top), [](mso::Query& q) { q.list = mso::TopList::targets; }),
         R"({"cmd":"top","list":"targets","limit":20})",
         R"({"cmd":"top","list":"targets","limit":20})"},
        {"timeseries", make(C::timeseries), R"({"cmd":"timeseries","resolution":"minute"})",
         R"({"cmd":"timeseries","resolution":"minute"})"},
        {"timeseries --resolution hour --vhost --rule --window 1d",
         with(make(C::timeseries, "a", "942100"),
              [](mso::Query& q) {
                  q.resolution = mso::Resolution::hour;
                  q.window = 86400;
              }),
         R"({"cmd":"timeseries","resolution":"hour","vhost":"a","rule":"942100","window":86400})",
         R"({"cmd":"timeseries","resolution":"hour","vhost":"a","rule":"942100","window":86400})"},
        {"events", make(C::events), R"({"cmd":"events","limit":100})",
         R"({"cmd":"events","limit":100})"},
        {"events with every filter --limit 0 --window 90s",
         with(make(C::events, "a", "942100"),
              [](mso::Query& q) {
                  q.events.client = "10.0.0.1";
                  q.events.intercepted = true;
                  q.events.limit = 0;
                  q.window = 90;
              }),
         R"({"cmd":"events","vhost":"a","rule":"942100","client":"10.0.0.1","intercepted":true,)"
         R"("window":90,"limit":0})",
         R"({"cmd":"events","vhost":"a","rule":"942100","client":"10.0.0.1","intercepted":true,)"
         R"("limit":0,"window":90})"},
        {"tail", make(C::tail), R"({"cmd":"tail"})", R"({"cmd":"tail"})"},
        {"tail with every filter",
         with(make(C::tail, "a", "942100"),
              [](mso::Query& q) {
                  q.events.client = "::1";
                  q.events.intercepted = true;
              }),
         R"({"cmd":"tail","vhost":"a","rule":"942100","client":"::1","intercepted":true})",
         R"({"cmd":"tail","vhost":"a","rule":"942100","client":"::1","intercepted":true})"},
        {"health", make(C::health), R"({"cmd":"health"})", R"({"cmd":"health"})"},
        {"strings that need escaping", make(C::rules, "\"\x1b[2J\\", "\xce\xbb"),
         "{\"cmd\":\"rules\",\"vhost\":\"\\\"\\u001b[2J\\\\\",\"rule\":\"\xce\xbb\"}",
         "{\"cmd\":\"rules\",\"vhost\":\"\\\"\\u001b[2J\\\\\",\"rule\":\"\xce\xbb\"}"},
    };
    for (const RequestCase& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string line = mso::request_line(c.query);
        EXPECT_EQ(line, c.line);
        const auto parsed = mso::parse_query(line);
        ASSERT_TRUE(parsed.has_value()) << parsed.error();
        EXPECT_EQ(*parsed, c.query);
        // The daemon reads the same query from the line the CLI sent before.
        const auto before = mso::parse_query(c.cli_line);
        ASSERT_TRUE(before.has_value()) << before.error();
        EXPECT_EQ(*before, c.query);
    }
}

TEST(RequestLine, ChoicesAreTheWireNames)
{
    EXPECT_EQ(mso::top_list_names(),
              (std::vector<std::string>{"clients", "paths", "agents", "targets"}));
    EXPECT_EQ(mso::resolution_names(), (std::vector<std::string>{"minute", "hour"}));
    for (const std::string& name : mso::top_list_names()) {
        SCOPED_TRACE(name);
        const auto list = mso::top_list_named(name);
        ASSERT_TRUE(list.has_value());
        mso::Query q = make(mso::QueryCommand::top);
        q.list = *list;
        EXPECT_EQ(mso::request_line(q), R"({"cmd":"top","list":")" + name + R"(","limit":20})");
    }
    for (const std::string& name : mso::resolution_names()) {
        SCOPED_TRACE(name);
        EXPECT_TRUE(mso::resolution_named(name).has_value());
    }
    EXPECT_FALSE(mso::top_list_named("cookies"));
    EXPECT_FALSE(mso::resolution_named("second"));
}

} // namespace
