// The tune and readiness answers from a real history store (tuning_answer.h): events
// written, read back page by page, the JSON keys the CLI and docs/protocol.md name.
#include "tuning/tuning_answer.h"

#include "store_test_events.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

StoredEvent event(int n, const std::string& client, const std::string& path,
                  const std::string& rule, const std::string& target)
{
    StoredEvent s;
    s.source = "module";
    s.engine_mode = EngineMode::detection_only;
    RequestEvent& e = s.event;
    e.time_us = test::k_t0 + n * 1'000'000LL;
    e.vhost = "cms.example";
    e.unique_id = "uid" + std::to_string(n);
    e.client = client;
    e.method = "POST";
    e.path = path;
    e.status = 200;
    Finding f;
    f.id = rule;
    f.severity = "CRITICAL";
    f.paranoia_level = 1;
    f.target = target;
    f.msg = "XSS";
    Finding eval;
    eval.id = "949110";
    eval.severity = "CRITICAL";
    e.findings = {f, eval};
    AnomalyScores sc;
    sc.inbound = 5;
    sc.inbound_pl = {5, 0, 0, 0};
    sc.inbound_threshold = 5;
    sc.outbound_threshold = 4;
    sc.blocking_pl = 1;
    e.scores = sc;
    return s;
}

TEST(TuningAnswer, TuneAndReadinessFromTheStore)
{
    test::TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store);
    std::vector<StoredEvent> events;
    for (int i = 0; i < 12; ++i) {
        events.push_back(
            event(i, "10.1.0." + std::to_string(i), "/node/add", "941160", "ARGS:body"));
    }
    events.push_back(event(20, "10.9.9.9", "/search", "942100", "ARGS:q"));
    ASSERT_TRUE(store->write_batch(events));

    Query q;
    q.command = QueryCommand::tune;
    q.vhost = "cms.example";
    const std::int64_t since = test::k_t0 - 1;
    const std::int64_t until = test::k_t0 + 3600LL * 1'000'000;
    auto tune = tune_answer(*store, q, since, until);
    ASSERT_TRUE(tune) << tune.error();
    const auto& t = *tune;
    EXPECT_EQ(t["events"], 13);
    EXPECT_EQ(t["crs_version"], "");
    EXPECT_EQ(t["paranoia_level"], 1);
    ASSERT_EQ(t["groups"].size(), 2U);
    EXPECT_EQ(t["groups"][0]["label"], "likely_false_positive");
    EXPECT_EQ(t["groups"][1]["label"], "likely_attack");
    ASSERT_EQ(t["exclusions"].size(), 1U);
    EXPECT_EQ(t["exclusions"][0]["key"], "cms.example 941160 ARGS:body exact /node/add POST");
    EXPECT_EQ(t["exclusions"][0]["removes_blocks"], 12);
    EXPECT_EQ(t["what_if"]["would_block"], 13);
    EXPECT_EQ(t["what_if"]["would_block_after"], 1);
    EXPECT_EQ(t["verdict"], "ready_after_exclusions");
    EXPECT_EQ(t["verdict_now"], "not_ready");
    ASSERT_EQ(t["what_if"]["paranoia_levels"].size(), 1U);
    EXPECT_EQ(t["what_if"]["paranoia_levels"][0]["level"], 1);
    EXPECT_EQ(t["what_if"]["paranoia_levels"][0]["before"], 13);
    EXPECT_EQ(t["what_if"]["paranoia_levels"][0]["after"], 1);

    q.command = QueryCommand::readiness;
    q.vhost.reset();
    auto ready = readiness_answer(*store, q, since, until);
    ASSERT_TRUE(ready) << ready.error();
    ASSERT_EQ((*ready)["vhosts"].size(), 1U);
    const auto& v = (*ready)["vhosts"][0];
    EXPECT_EQ(v["vhost"], "cms.example");
    EXPECT_EQ(v["verdict"], "ready_after_exclusions");
    EXPECT_EQ(v["verdict_now"], "not_ready");
    EXPECT_EQ(v["would_block"], 13);
    EXPECT_EQ(v["would_block_after"], 1);
    EXPECT_EQ(v["engine"], "detection_only");
}

TEST(TuningAnswer, TuneNeedsAVhostAndAnEmptyWindowIsReady)
{
    test::TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store);
    Query q;
    q.command = QueryCommand::tune;
    EXPECT_FALSE(tune_answer(*store, q, 0, 1));
    q.vhost = "none.example";
    auto t = tune_answer(*store, q, 0, 1);
    ASSERT_TRUE(t);
    EXPECT_EQ((*t)["verdict"], "ready");
    EXPECT_EQ((*t)["verdict_now"], "ready");
    EXPECT_TRUE((*t)["exclusions"].empty());
}

} // namespace
} // namespace mso
