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

// `n` distinct vhost names as the elements of a JSON array: "v0.test","v1.test",...
std::string names_json(std::size_t n)
{
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += (i ? ",\"v" : "\"v") + std::to_string(i) + ".test\"";
    }
    return out;
}

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
               "tail, health, event, sources, tune, readiness)"},
        {R"({"cmd":7})", "\"cmd\" must be a string, got number"},
        {R"({"cmd":"drop_tables"})",
         "unknown cmd \"drop_tables\" (expected one of: stats, vhosts, "
         "rules, top, timeseries, events, tail, health, event, sources, tune, readiness)"},
        {R"({"cmd":"\u001b[2J"})",
         "unknown cmd \"\\u001b[2J\" (expected one of: stats, vhosts, "
         "rules, top, timeseries, events, tail, health, event, sources, tune, readiness)"},
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
        {R"({"cmd":"top","list":"paths","max_age":-1})",
         "\"max_age\" must be a non-negative integer"},
        {R"({"cmd":"top","list":"paths","max_age":"10s"})",
         "\"max_age\" must be a non-negative integer"},
        {R"({"cmd":"timeseries","resolution":"second"})",
         "\"resolution\" must be \"minute\" or \"hour\""},
        {R"({"cmd":"stats","window":0})",
         "\"window\" must be a number of seconds from 1 to 316224000"},
        {R"({"cmd":"stats","window":316224001})",
         "\"window\" must be a number of seconds from 1 to 316224000"},
        {R"({"cmd":"top","list":"paths","window":316224001})",
         "\"window\" must be a number of seconds from 1 to 316224000"},
        {R"({"cmd":"stats","window":"1h"})",
         "\"window\" must be a number of seconds from 1 to 316224000"},
        {R"({"cmd":"rules","rule":1})", "\"rule\" must be a string, got number"},
        {R"({"cmd":"stats","rules_limit":-1})", "\"rules_limit\" must be a non-negative integer"},
        {R"({"cmd":"stats","top_clients":"3"})", "\"top_clients\" must be a non-negative integer"},
        {std::string(mso::k_max_query_line_bytes + 1, ' '),
         "request line too long (more than 65536 bytes)"},
        // The filters that history answers.
        {R"({"cmd":"events","path":7})", "\"path\" must be a string, got number"},
        {R"({"cmd":"events","source":[]})", "\"source\" must be a string, got array"},
        {R"({"cmd":"stats","source":1})", "\"source\" must be a string, got number"},
        {R"({"cmd":"tail","source":{}})", "\"source\" must be a string, got object"},
        {R"({"cmd":"events","status":99})",
         "\"status\" must be an HTTP status code from 100 to 999"},
        {R"({"cmd":"events","status":1000})",
         "\"status\" must be an HTTP status code from 100 to 999"},
        {R"({"cmd":"events","status":"403"})",
         "\"status\" must be an HTTP status code from 100 to 999"},
        {R"({"cmd":"events","status":-403})",
         "\"status\" must be an HTTP status code from 100 to 999"},
        {R"({"cmd":"events","would_block":1})", "\"would_block\" must be a boolean, got number"},
        {R"({"cmd":"stats","score_levels":1})", "\"score_levels\" must be a boolean, got number"},
        {R"({"cmd":"events","engine":"off"})", "\"engine\" must be \"on\" or \"detection_only\""},
        {R"({"cmd":"events","engine":"detection-only"})",
         "\"engine\" must be \"on\" or \"detection_only\""},
        {R"({"cmd":"events","engine":true})", "\"engine\" must be a string, got boolean"},
        {R"({"cmd":"events","until":-1})",
         "\"until\" must be a time in Unix seconds from 0 to 253402300799"},
        {R"({"cmd":"events","since":"yesterday"})",
         "\"since\" must be a time in Unix seconds from 0 to 253402300799"},
        {R"({"cmd":"events","since":253402300800})",
         "\"since\" must be a time in Unix seconds from 0 to 253402300799"},
        {R"({"cmd":"events","since":1700000000,"window":60})",
         "\"since\" and \"window\" cannot be combined (since is a time, window a duration back "
         "from now)"},
        {R"({"cmd":"events","grep":""})", "\"grep\" must be 1 to 1024 bytes"},
        {R"({"cmd":"events","grep":")" + std::string(1025, 'x') + R"("})",
         "\"grep\" must be 1 to 1024 bytes"},
        {R"({"cmd":"events","cursor":"xyz"})",
         "\"cursor\" must be the \"next\" string of a previous events answer"},
        {R"({"cmd":"events","cursor":12})",
         "\"cursor\" must be the \"next\" string of a previous events answer"},
        {R"({"cmd":"events","cursor":"c1.10"})",
         "\"cursor\" must be the \"next\" string of a previous events answer"},
        {R"({"cmd":"events","cursor":"c1.-1.2"})",
         "\"cursor\" must be the \"next\" string of a previous events answer"},
        {R"({"cmd":"events","cursor":"c1.8000000000000000.1"})",
         "\"cursor\" must be the \"next\" string of a previous events answer"},
        {R"({"cmd":"events","window":316224001})",
         "\"window\" must be a number of seconds from 1 to 316224000"},
        {R"({"cmd":"event"})", "\"unique_id\" (a non-empty string) is required"},
        {R"({"cmd":"event","unique_id":""})", "\"unique_id\" (a non-empty string) is required"},
        {R"({"cmd":"event","unique_id":5})", "\"unique_id\" must be a string, got number"},
        {R"({"cmd":"event","unique_id":"x","source":5})",
         "\"source\" must be a string, got number"},
        // The list of timeseries (the Overview's sparklines).
        {R"({"cmd":"timeseries","vhosts":[]})",
         "\"vhosts\" must be an array of 1 to 100 vhost names, got 0 names"},
        {R"({"cmd":"timeseries","vhosts":"a.test"})",
         "\"vhosts\" must be an array of 1 to 100 vhost names, got string"},
        {R"({"cmd":"timeseries","vhosts":null})",
         "\"vhosts\" must be an array of 1 to 100 vhost names, got null"},
        {R"({"cmd":"timeseries","vhosts":["a.test",7]})",
         "\"vhosts\" must hold strings, got number"},
        {R"({"cmd":"timeseries","vhosts":[["a.test"]]})",
         "\"vhosts\" must hold strings, got array"},
        {R"({"cmd":"timeseries","vhosts":[)" + names_json(mso::k_max_listed_vhosts + 1) + "]}",
         "\"vhosts\" must be an array of 1 to 100 vhost names, got 101 names"},
        {R"({"cmd":"timeseries","vhost":"a.test","vhosts":["a.test"]})",
         "\"vhost\" and \"vhosts\" cannot be combined (list the one vhost in \"vhosts\")"},
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
    EXPECT_EQ(parsed.error(), "unknown cmd \"" + std::string(64, 'x') +
                                  "\"... (expected one of: stats, vhosts, rules, top, timeseries, "
                                  "events, tail, health, event, sources, tune, readiness)");
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

TEST(ErrorAnswer, IsToldFromOtherAnswers)
{
    EXPECT_TRUE(mso::is_error_answer(mso::error_answer("no")));
    EXPECT_FALSE(mso::is_error_answer(R"({"ok":true,"top":[]})"));
    EXPECT_FALSE(mso::is_error_answer(""));
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

TEST(ParseQuery, HistoryFilters)
{
    const auto parsed = mso::parse_query(
        R"({"cmd":"events","path":"/admin","status":403,"would_block":false,"engine":"detection_only",)"
        R"("source":"import:old","since":1700000000,"until":1700003600,"grep":"union select",)"
        R"("cursor":"c1.60a7b1c0f4e00.2a","limit":5})");
    ASSERT_TRUE(parsed.has_value()) << parsed.error();
    const mso::EventFilter& f = parsed->events;
    EXPECT_EQ(f.path_prefix, "/admin");
    EXPECT_EQ(f.status, 403);
    EXPECT_EQ(f.would_block, false);
    EXPECT_EQ(f.engine, mso::EngineMode::detection_only);
    EXPECT_EQ(f.source, "import:old");
    EXPECT_EQ(f.since_us, 1'700'000'000'000'000);
    EXPECT_EQ(f.until_us, 1'700'003'600'000'000);
    EXPECT_EQ(f.grep, "union select");
    ASSERT_TRUE(f.cursor.has_value());
    EXPECT_EQ(f.cursor->time_us, 0x60a7b1c0f4e00);
    EXPECT_EQ(f.cursor->row_id, 42);
    EXPECT_EQ(f.limit, 5U);
    // tail streams what arrives: the history filters are not read for it.
    const auto tail = mso::parse_query(R"({"cmd":"tail","cursor":"bad","status":1})");
    ASSERT_TRUE(tail.has_value()) << tail.error();
    EXPECT_FALSE(tail->events.cursor || tail->events.status);
    // Windows longer than memory's 30 days for what history answers, not for the others.
    for (const char* cmd : {"events", "timeseries", "stats", "rules"}) {
        EXPECT_TRUE(mso::parse_query(std::string(R"({"window":31536000,"cmd":")") + cmd + "\"}"))
            << cmd;
    }
    EXPECT_TRUE(mso::parse_query(R"({"cmd":"top","list":"paths","window":31536000})"));
    EXPECT_FALSE(mso::parse_query(R"({"cmd":"vhosts","window":31536000})").has_value());
}

TEST(ParseQuery, EventCommand)
{
    const auto parsed = mso::parse_query(R"({"cmd":"event","unique_id":"aR9x","source":"module"})");
    ASSERT_TRUE(parsed.has_value()) << parsed.error();
    EXPECT_EQ(parsed->command, mso::QueryCommand::event);
    EXPECT_EQ(parsed->unique_id, "aR9x");
    EXPECT_EQ(parsed->events.source, "module");
}

TEST(Cursor, RoundTripsAndRejectsWhatItDidNotWrite)
{
    const std::vector<mso::EventCursor> cursors = {
        {0, 0}, {1, 1}, {1'763'739'600'123'456, 987654321}, {INT64_MAX, INT64_MAX}};
    for (const auto& c : cursors) {
        const std::string text = mso::format_cursor(c);
        SCOPED_TRACE(text);
        EXPECT_TRUE(text.starts_with("c1."));
        EXPECT_EQ(mso::parse_cursor(text), c);
    }
    for (const char* bad :
         {"", "c1.", "c1..", "c1.1.", "c1..1", "c1.1.2.3", "c2.1.2", "C1.1.2", "c1.0x1.2",
          "c1.1 .2", "c1.+1.2", "c1.g.2", "c1.10000000000000000.1", "1.2"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(mso::parse_cursor(bad).has_value());
    }
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

TEST(ParseQuery, ListOfVhosts)
{
    const auto most = mso::parse_query(R"({"cmd":"timeseries","vhosts":[)" +
                                       names_json(mso::k_max_listed_vhosts) + "]}");
    ASSERT_TRUE(most) << most.error();
    ASSERT_EQ(most->vhosts.size(), mso::k_max_listed_vhosts);
    EXPECT_EQ(most->vhosts[99], "v99.test");
    EXPECT_FALSE(most->vhost);
    // As listed; the answers name each vhost once, by name.
    const auto repeated =
        mso::parse_query(R"({"cmd":"timeseries","vhosts":["b.test","","a.test","b.test"]})");
    ASSERT_TRUE(repeated) << repeated.error();
    EXPECT_EQ(repeated->vhosts, (std::vector<std::string>{"b.test", "", "a.test", "b.test"}));
    EXPECT_EQ(mso::listed_vhosts(*repeated), (std::vector<std::string>{"", "a.test", "b.test"}));
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
        {"stats --vhost with the levels (the dashboard's Vhost view)",
         with(make(C::stats, "a"), [](mso::Query& q) { q.shape.score_levels = true; }),
         R"({"cmd":"stats","vhost":"a","score_levels":true})",
         R"({"cmd":"stats","score_levels":true,"vhost":"a"})"},
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
        {"top paths with max_age (the dashboard's lists)",
         with(make(C::top, "a"),
              [](mso::Query& q) {
                  q.list = mso::TopList::paths;
                  q.limit = 10;
                  q.max_age = 10;
              }),
         R"({"cmd":"top","list":"paths","vhost":"a","limit":10,"max_age":10})",
         R"({"cmd":"top","list":"paths","vhost":"a","limit":10,"max_age":10})"},
        {"top max_age beyond the cap is capped",
         with(make(C::top), [](mso::Query& q) { q.max_age = mso::k_max_answer_age_s; }),
         R"({"cmd":"top","list":"clients","limit":20,"max_age":300})",
         R"({"cmd":"top","list":"clients","max_age":100000})"},
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
        {"timeseries with a list of vhosts (the dashboard's Overview)",
         with(make(C::timeseries),
              [](mso::Query& q) {
                  q.vhosts = {"b.test", "a.test", "\"\x1b[2J", "b.test"};
                  q.window = 3600;
              }),
         R"({"cmd":"timeseries","resolution":"minute","vhosts":["b.test","a.test","\"\u001b[2J","b.test"],"window":3600})",
         R"({"cmd":"timeseries","vhosts":["b.test","a.test","\"\u001b[2J","b.test"],"window":3600,"resolution":"minute"})"},
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
        {"events with every history filter and a cursor",
         with(make(C::events, "a", "942100"),
              [](mso::Query& q) {
                  q.events.client = "10.0.0.1";
                  q.events.path_prefix = "/admin";
                  q.events.status = 403;
                  q.events.would_block = true;
                  q.events.engine = mso::EngineMode::on;
                  q.events.source = "import:old";
                  q.events.since_us = 1'700'000'000'000'000;
                  q.events.until_us = 1'700'003'600'000'000;
                  q.events.grep = "=cmd|\"x\"";
                  q.events.cursor = mso::EventCursor{1'700'000'100'000'000, 77};
                  q.events.limit = 1000;
              }),
         R"({"cmd":"events","vhost":"a","rule":"942100","client":"10.0.0.1","path":"/admin",)"
         R"("status":403,"would_block":true,"engine":"on","source":"import:old",)"
         R"("since":1700000000,"until":1700003600,"grep":"=cmd|\"x\"",)"
         R"("cursor":"c1.60a241e142100.4d","limit":1000})",
         R"({"cmd":"events","vhost":"a","rule":"942100","client":"10.0.0.1","path":"/admin",)"
         R"("status":403,"would_block":true,"engine":"on","source":"import:old",)"
         R"("since":1700000000,"until":1700003600,"grep":"=cmd|\"x\"",)"
         R"("cursor":"c1.60a241e142100.4d","limit":1000})"},
        {"events --engine detection-only --window 90d",
         with(make(C::events),
              [](mso::Query& q) {
                  q.events.engine = mso::EngineMode::detection_only;
                  q.window = 90 * 86400;
              }),
         R"({"cmd":"events","engine":"detection_only","window":7776000,"limit":100})",
         R"({"cmd":"events","engine":"detection_only","window":7776000,"limit":100})"},
        {"event UNIQUE_ID --source",
         with(make(C::event),
              [](mso::Query& q) {
                  q.unique_id = "aR9xAAAB";
                  q.events.source = "module";
              }),
         R"({"cmd":"event","unique_id":"aR9xAAAB","source":"module"})",
         R"({"cmd":"event","source":"module","unique_id":"aR9xAAAB"})"},
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
        {"sources", make(C::sources), R"({"cmd":"sources"})", R"({"cmd":"sources"})"},
        {"stats --source",
         with(make(C::stats, "a"), [](mso::Query& q) { q.source = "sensor:web2"; }),
         R"({"cmd":"stats","vhost":"a","source":"sensor:web2"})",
         R"({"cmd":"stats","source":"sensor:web2","vhost":"a"})"},
        {"rules --source", with(make(C::rules), [](mso::Query& q) { q.source = "import:old"; }),
         R"({"cmd":"rules","source":"import:old"})", R"({"cmd":"rules","source":"import:old"})"},
        {"timeseries --source",
         with(make(C::timeseries), [](mso::Query& q) { q.source = "module"; }),
         R"({"cmd":"timeseries","resolution":"minute","source":"module"})",
         R"({"cmd":"timeseries","source":"module"})"},
        {"top clients --source", with(make(C::top), [](mso::Query& q) { q.source = "sensor:a"; }),
         R"({"cmd":"top","list":"clients","source":"sensor:a","limit":20})",
         R"({"cmd":"top","list":"clients","source":"sensor:a"})"},
        {"vhosts --source", with(make(C::vhosts), [](mso::Query& q) { q.source = "sensor:a"; }),
         R"({"cmd":"vhosts","source":"sensor:a"})", R"({"cmd":"vhosts","source":"sensor:a"})"},
        {"tail --source", with(make(C::tail), [](mso::Query& q) { q.events.source = "sensor:a"; }),
         R"({"cmd":"tail","source":"sensor:a"})", R"({"cmd":"tail","source":"sensor:a"})"},
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

namespace mso {
namespace {

TEST(ParseQuery, TuneAndReadiness)
{
    auto tune = parse_query(R"({"cmd":"tune","vhost":"cms.example","window":86400,)"
                            R"("min_clients":8,"max_suspicious_pct":20,"many_paths":9})");
    ASSERT_TRUE(tune) << tune.error();
    EXPECT_EQ(tune->command, QueryCommand::tune);
    EXPECT_EQ(tune->tune.min_clients, 8U);
    EXPECT_EQ(tune->tune.max_suspicious_pct, 20U);
    EXPECT_EQ(tune->tune.many_paths, 9U);
    EXPECT_EQ(tune->tune.wide_families, TuneOptions{}.wide_families);
    const auto tune_back = parse_query(request_line(*tune));
    ASSERT_TRUE(tune_back) << tune_back.error();
    EXPECT_EQ(*tune_back, *tune);

    auto ready = parse_query(R"({"cmd":"readiness"})");
    ASSERT_TRUE(ready) << ready.error();
    EXPECT_FALSE(ready->vhost);
    const auto ready_back = parse_query(request_line(*ready));
    ASSERT_TRUE(ready_back) << ready_back.error();
    EXPECT_EQ(*ready_back, *ready);

    for (const char* bad : {R"({"cmd":"tune"})", R"({"cmd":"tune","vhost":""})",
                            R"({"cmd":"tune","vhost":"v","min_clients":-1})",
                            R"({"cmd":"tune","vhost":"v","min_clients":"5"})",
                            R"({"cmd":"readiness","max_suspicious_pct":101})"}) {
        EXPECT_FALSE(parse_query(bad)) << bad;
    }
}

} // namespace
} // namespace mso
