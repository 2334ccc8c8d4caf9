// Answers over every vhost built in slices (state/sliced_answer.h) against the single
// pass of answer(): byte for byte the same when nothing arrives between the slices, and
// well-formed, with every vhost after the cursor, when vhosts arrive meanwhile.
#include "state/sliced_answer.h"

#include "state/query_answer.h"

#include "sensor_event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace {

using json = nlohmann::ordered_json;
using Clock = mso::Collector::Clock;
using mso::test_support::sensor_event;
using Steady = mso::SlicedAnswer::Clock;

constexpr std::int64_t k_arrived = 1763739600;
constexpr std::int64_t k_wall = k_arrived + 30;

// A module datagram for `vhost` from `client` with one finding of `rule`.
std::string request(const std::string& vhost, const std::string& client, const std::string& rule,
                    int status)
{
    return R"({"v":1,"type":"request","time_us":1763739600123456,"vhost":")" + vhost +
           R"(","port":443,"client":")" + client + R"(","method":"GET","path":"/p","status":)" +
           std::to_string(status) +
           R"(,"protocol":"HTTP/1.1","intercepted":false,"phase":2,"scores":null,"findings":[)"
           R"({"id":")" +
           rule +
           R"(","msg":"m","severity":"CRITICAL","pl":1,"phase":2,"tags":[],)"
           R"("target":"ARGS:id","data":"","intercepted":false,"truncated":false}]})";
}

// Builds the answer to `line` a slice at a time; `vhosts_per_step` 0: all in one step.
// `between` runs after every step that did not finish.
template <typename Between>
std::string sliced(const std::string& line, mso::Collector& collector, Between&& between,
                   int* steps = nullptr)
{
    auto query = mso::parse_query(line);
    EXPECT_TRUE(query.has_value()) << line;
    EXPECT_TRUE(mso::answers_in_slices(*query)) << line;
    mso::SlicedAnswer answer(*query, collector, k_wall);
    int n = 1;
    // A deadline already past: one vhost per step.
    while (!answer.step(collector, Steady::now() - std::chrono::seconds(1))) {
        between();
        ++n;
    }
    if (steps != nullptr) {
        *steps = n;
    }
    return answer.take_line();
}

class SlicedAnswers : public ::testing::Test {
protected:
    const Clock::time_point m_start{std::chrono::seconds(1000)};
    mso::Collector m_collector{m_start};

    // `vhosts` vhosts (their names not in insertion order), each with a few rules and
    // clients; with `sensor`, a second source with some of them.
    void feed(int vhosts, bool sensor) { feed(m_collector, vhosts, sensor); }
    static void feed(mso::Collector& collector, int vhosts, bool sensor)
    {
        for (int v = 0; v < vhosts; ++v) {
            const std::string vhost = "v" + std::to_string((v * 7919) % 1000) + ".example";
            for (int i = 0; i <= v % 5; ++i) {
                ASSERT_FALSE(
                    collector
                        .ingest(request(vhost,
                                        "10.0." + std::to_string(v % 7) + "." + std::to_string(i),
                                        std::to_string(942100 + (v + i) % 4),
                                        i % 2 == 0 ? 403 : 200),
                                k_arrived)
                        .has_value());
            }
            if (sensor && v % 3 == 0) {
                collector.ingest_event(sensor_event(vhost, "941100"), "sensor:web2", k_arrived);
            }
        }
    }

    std::string single_pass(const std::string& line) { return single_pass(line, m_collector); }
    std::string single_pass(const std::string& line, mso::Collector& collector)
    {
        return mso::answer(line, collector, m_start, k_wall).line;
    }
};

const std::vector<std::string> k_queries = {
    R"({"cmd":"stats"})",
    R"({"cmd":"stats","rules_limit":3,"top_clients":3})",
    R"({"cmd":"stats","score_levels":true})",
    R"({"cmd":"stats","window":3600})",
    R"({"cmd":"vhosts"})",
    R"({"cmd":"rules"})",
    R"({"cmd":"rules","rule":"942101"})",
    R"({"cmd":"rules","rule":"999999"})",
    R"({"cmd":"stats","source":"module"})",
    R"({"cmd":"vhosts","source":"sensor:web2"})",
    R"({"cmd":"stats","source":"sensor:nobody"})",
    R"({"cmd":"top","list":"clients"})",
    R"({"cmd":"top","list":"clients","limit":500})",
    R"({"cmd":"top","list":"paths","limit":3})",
    R"({"cmd":"top","list":"targets"})",
    R"({"cmd":"top","list":"agents","source":"sensor:web2"})",
    R"({"cmd":"timeseries"})",
    R"({"cmd":"timeseries","resolution":"hour","window":86400})",
    R"({"cmd":"timeseries","rule":"942101","window":600})",
    R"({"cmd":"timeseries","source":"module"})",
    R"({"cmd":"events"})",
    R"({"cmd":"events","limit":0})",
    R"({"cmd":"events","limit":7})",
    R"({"cmd":"events","vhost":"v919.example","limit":0})",
    R"({"cmd":"events","rule":"942101","status":403})",
    R"({"cmd":"events","source":"sensor:web2","limit":0})",
    R"({"cmd":"events","window":60})",
    R"({"cmd":"events","window":10})",
};

TEST_F(SlicedAnswers, SameBytesAsTheSinglePass)
{
    for (const bool sensor : {false, true}) {
        mso::Collector collector(m_start);
        feed(collector, 300, sensor);
        for (const std::string& line : k_queries) {
            SCOPED_TRACE(line + (sensor ? " with a sensor" : ""));
            int steps = 0;
            const std::string expected = single_pass(line, collector);
            EXPECT_EQ(sliced(
                          line, collector, [] {}, &steps),
                      expected);
            if (line == k_queries.front()) {
                EXPECT_GE(steps, sensor ? 400 : 300); // a vhost per step
            }
            // Taken as it is built, a step at a time: the same bytes in order.
            {
                mso::SlicedAnswer parts(*mso::parse_query(line), collector, k_wall);
                std::string streamed;
                while (!parts.step(collector, Steady::now() - std::chrono::seconds(1))) {
                    streamed += parts.take_ready();
                }
                streamed += parts.take_ready();
                const std::string rest = parts.take_line();
                EXPECT_LE(rest.size(), 400U); // the closing bytes (top: its extras) only
                streamed += rest;
                EXPECT_EQ(streamed, expected);
            }
            // And in one step, with time to spare.
            auto query = mso::parse_query(line);
            mso::SlicedAnswer whole(*query, collector, k_wall);
            EXPECT_TRUE(whole.step(collector, Steady::now() + std::chrono::hours(1)));
            EXPECT_EQ(whole.take_line(), expected);
        }
    }
}

// A list merged across vhosts whose sketches are full (more clients than slots): the
// absent bounds of the sketches that lack a key add up across slices as in one pass.
TEST_F(SlicedAnswers, TopOfFullSketchesSameBytesAsTheSinglePass)
{
    for (int v = 0; v < 12; ++v) {
        const std::string vhost = "full" + std::to_string(v) + ".example";
        for (int c = 0; c < 70 + 10 * v; ++c) {
            const std::string client = "192.0.2." + std::to_string((c * (v + 3)) % 200);
            for (int n = 0; n <= c % 3; ++n) {
                ASSERT_FALSE(m_collector.ingest(request(vhost, client, "942100", 403), k_arrived)
                                 .has_value());
            }
        }
    }
    for (const std::string& line : {std::string(R"({"cmd":"top","list":"clients"})"),
                                    std::string(R"({"cmd":"top","list":"clients","limit":300})")}) {
        SCOPED_TRACE(line);
        const std::string expected = single_pass(line);
        EXPECT_GT(json::parse(expected)["error_bound"].get<std::uint64_t>(), 0U);
        EXPECT_EQ(sliced(line, m_collector, [] {}), expected);
    }
}

TEST_F(SlicedAnswers, EmptyCollector)
{
    for (const std::string& line : k_queries) {
        SCOPED_TRACE(line);
        EXPECT_EQ(sliced(line, m_collector, [] {}), single_pass(line));
    }
}

TEST_F(SlicedAnswers, VhostsArrivingBetweenSlicesKeepItWellFormed)
{
    feed(50, true);
    const std::set<std::string> before = [&] {
        std::set<std::string> names;
        const json answer = json::parse(single_pass(R"({"cmd":"vhosts"})"));
        for (const json& v : answer["vhosts"]) { // not the temporary's member: it would die first
            names.insert(v["vhost"].get<std::string>());
        }
        return names;
    }();
    int added = 0;
    // Between slices: new vhosts on both sides of the cursor, and a new source.
    const std::string line = sliced(R"({"cmd":"stats"})", m_collector, [&] {
        const std::string vhost = (added % 2 == 0 ? "a" : "z") + std::to_string(added) + ".new";
        ASSERT_FALSE(
            m_collector.ingest(request(vhost, "192.0.2.1", "942100", 403), k_arrived).has_value());
        if (added == 3) {
            m_collector.ingest_event(sensor_event("late.example", "941100"), "sensor:late",
                                     k_arrived);
        }
        ++added;
    });
    const json parsed = json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    EXPECT_EQ(parsed["ok"], true);
    std::set<std::string> module;
    std::string previous;
    for (const json& row : parsed["vhosts"]) {
        if (row["source"] != "module") {
            continue;
        }
        const auto name = row["vhost"].get<std::string>();
        EXPECT_LT(previous, name); // in name order, each once
        previous = name;
        module.insert(name);
    }
    for (const std::string& name : before) {
        EXPECT_EQ(module.count(name), 1U) << name; // every vhost there at the start
    }
    EXPECT_GT(module.size(), before.size()); // and the "z" ones that came after the cursor
    EXPECT_EQ(module.count("z1.new"), 1U);
    EXPECT_EQ(module.count("a0.new"), 0U); // before the cursor when it came
}

// An `events` answer shows the ring as it was when asked: events arriving between its
// slices are not in it, and those it shows are whole although the ring moved on.
TEST_F(SlicedAnswers, EventsShowTheRingAsItWasWhenAsked)
{
    feed(40, true);
    const std::string line = R"({"cmd":"events","limit":0})";
    const std::string expected = single_pass(line);
    const std::size_t shown = json::parse(expected)["events"].size();
    ASSERT_GT(shown, 100U);
    int added = 0;
    int steps = 0;
    EXPECT_EQ(sliced(
                  line, m_collector,
                  [&] {
                      ASSERT_FALSE(m_collector
                                       .ingest(request("late.example", "192.0.2.9", "942100", 403),
                                               k_arrived)
                                       .has_value());
                      ++added;
                  },
                  &steps),
              expected);
    EXPECT_EQ(steps, static_cast<int>(shown)); // an event per step
    EXPECT_EQ(added, steps - 1);
    // The ring has them: the next answer shows them first.
    const json after = json::parse(single_pass(line))["events"];
    ASSERT_EQ(after.size(), shown + static_cast<std::size_t>(added));
    EXPECT_EQ(after[0]["vhost"], "late.example");
}

// The events an answer shows outlive their eviction (a small ring, every event pushed
// out before it is written) and a resize of the ring (SIGHUP) between the slices.
TEST_F(SlicedAnswers, EventsEvictedOrResizedAwayAreStillWrittenWhole)
{
    m_collector.resize_events(8);
    feed(40, false);
    const std::string line = R"({"cmd":"events","limit":0})";
    const std::string expected = single_pass(line);
    ASSERT_EQ(json::parse(expected)["events"].size(), 8U);
    int turn = 0;
    EXPECT_EQ(sliced(line, m_collector,
                     [&] {
                         if (++turn == 3) {
                             m_collector.resize_events(1);
                         }
                         for (int i = 0; i < 9; ++i) { // more than the ring holds
                             ASSERT_FALSE(
                                 m_collector
                                     .ingest(request("late.example", "192.0.2.9", "942100", 403),
                                             k_arrived)
                                     .has_value());
                         }
                     }),
              expected);
    EXPECT_EQ(json::parse(single_pass(line))["events"].size(), 1U);
}

TEST(AnswersInSlices, OnlyViewsOverEveryVhostThatMemoryAnswers)
{
    const std::vector<std::pair<std::string, bool>> cases = {
        {R"({"cmd":"stats"})", true},
        {R"({"cmd":"vhosts"})", true},
        {R"({"cmd":"rules","rule":"942100"})", true},
        {R"({"cmd":"stats","window":3600})", true},
        {R"({"cmd":"stats","vhost":"a.example"})", false},
        {R"({"cmd":"rules","vhost":"a.example"})", false},
        {R"({"cmd":"stats","window":31536000})", false}, // beyond memory: an error
        {R"({"cmd":"rules","window":3600})", false},     // ditto
        {R"({"cmd":"top","list":"clients"})", true},
        {R"({"cmd":"top","list":"clients","vhost":"a.example"})", false},
        {R"({"cmd":"top","list":"clients","window":3600})", false}, // beyond memory
        {R"({"cmd":"timeseries"})", true},
        {R"({"cmd":"timeseries","vhost":"a.example"})", false},
        {R"({"cmd":"timeseries","vhosts":["a.example","b.example"]})", false},
        {R"({"cmd":"events"})", true},
        {R"({"cmd":"events","vhost":"a.example","window":600})", true},
        {R"({"cmd":"events","cursor":"c1.1.1"})", false}, // history's paging: an error here
        {R"({"cmd":"health"})", false},
    };
    for (const auto& [line, expected] : cases) {
        SCOPED_TRACE(line);
        const auto query = mso::parse_query(line);
        ASSERT_TRUE(query.has_value()) << query.error();
        EXPECT_EQ(mso::answers_in_slices(*query), expected);
    }
}

} // namespace
