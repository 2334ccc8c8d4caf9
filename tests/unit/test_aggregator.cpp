// Counting semantics of mso::Aggregator (docs/protocol.md, `stats`): hits vs
// matches, truncated findings, counter reports, ordering and the vhost filter.
#include "state/aggregator.h"
#include "state/aggregator_views.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

// The collector wall clock used for every add (Unix seconds).
constexpr std::int64_t k_now = 1763739600;

using json = nlohmann::ordered_json;

mso::Finding finding(std::string id, std::string msg = "msg", std::string severity = "CRITICAL")
{
    mso::Finding f;
    f.id = std::move(id);
    f.msg = std::move(msg);
    f.severity = std::move(severity);
    return f;
}

mso::RequestEvent event(std::string vhost, std::vector<mso::Finding> findings, int status = 200,
                        bool intercepted = false, int port = 443)
{
    mso::RequestEvent e;
    e.vhost = std::move(vhost);
    e.port = port;
    e.status = status;
    e.intercepted = intercepted;
    e.scores = mso::AnomalyScores{};
    e.findings = std::move(findings);
    return e;
}

mso::CounterReport counters(std::string vhost, std::uint64_t requests,
                            std::map<int, std::uint64_t> status, std::uint64_t lost = 0,
                            int port = 443)
{
    mso::CounterReport r;
    r.vhost = std::move(vhost);
    r.port = port;
    r.requests = requests;
    r.status = std::move(status);
    r.events_lost = lost;
    return r;
}

json only_vhost(const json& stats)
{
    EXPECT_EQ(stats.size(), 1u);
    return stats.size() == 1 ? stats[0] : json::object();
}

TEST(Aggregator, EmptyHasNoVhosts)
{
    mso::Aggregator agg;
    EXPECT_EQ(agg.stats(std::nullopt), json::array());
    EXPECT_EQ(agg.vhost_count(), 0u);
}

TEST(Aggregator, HitsAreDedupedPerRequestMatchesAreNot)
{
    mso::Aggregator agg;
    // One request: 942100 matched two arguments, 941100 once.
    agg.add(event("shop", {finding("942100"), finding("942100"), finding("941100")}), k_now);
    // Second request: 942100 once.
    agg.add(event("shop", {finding("942100")}), k_now);

    json v = only_vhost(agg.stats(std::nullopt));
    ASSERT_EQ(v["rules"].size(), 2u);
    EXPECT_EQ(v["rules"][0]["id"], "942100");
    EXPECT_EQ(v["rules"][0]["hits"], 2);
    EXPECT_EQ(v["rules"][0]["matches"], 3);
    EXPECT_EQ(v["rules"][1]["id"], "941100");
    EXPECT_EQ(v["rules"][1]["hits"], 1);
    EXPECT_EQ(v["rules"][1]["matches"], 1);
    EXPECT_EQ(v["requests"], 2);
    EXPECT_EQ(v["flagged"], 2);
    EXPECT_EQ(v["events"], 2);
}

TEST(Aggregator, EngineMessagesAreCountedApartFromTruncation)
{
    mso::Aggregator agg;
    mso::Finding engine = finding("", "JSON parser error");
    engine.engine = true;
    mso::Finding cut = finding("");
    cut.truncated = true;
    agg.add(event("v", {engine, engine, cut}), k_now);
    const json s = agg.stats(std::nullopt)[0];
    EXPECT_EQ(s["engine_messages"], 2);
    EXPECT_EQ(s["truncated_findings"], 1);
    EXPECT_EQ(s["flagged"], 1);
    EXPECT_TRUE(s["rules"].empty());
}

TEST(Aggregator, RulesAreBoundedAcrossVhosts)
{
    mso::Aggregator agg;
    // Invented vhosts and rule ids, as a hostile sender could make them.
    const std::size_t per_vhost = 1000;
    const std::size_t vhosts = mso::k_max_rules_total / per_vhost + 2;
    for (std::size_t v = 0; v < vhosts; ++v) {
        std::vector<mso::Finding> findings;
        for (std::size_t r = 0; r < per_vhost; ++r) {
            findings.push_back(finding(std::to_string(r)));
        }
        agg.add(event("v" + std::to_string(v), findings), k_now);
    }
    std::size_t rules = 0;
    for (const auto& [name, stats] : agg.all()) {
        rules += stats.rules.size();
    }
    EXPECT_EQ(rules, mso::k_max_rules_total);
    EXPECT_EQ(agg.dropped(), 2 * per_vhost);
}

TEST(Aggregator, ExactStatsObject)
{
    mso::Aggregator agg;
    agg.add(event("shop.example", {finding("942100", "SQL Injection", "CRITICAL")}, 403, true),
            k_now);
    agg.add(counters("shop.example", 10, {{200, 9}, {404, 1}}, 0, 8443), k_now);

    const json expected = json::parse(R"([{
        "vhost": "shop.example", "ports": [443, 8443],
        "requests": 11, "flagged": 1, "intercepted": 1, "would_block": 0, "events": 1,
        "truncated_findings": 0, "engine_messages": 0, "events_without_scores": 0, "events_lost": 0,
        "first_seen": "2025-11-21T15:40:00Z", "last_seen": "2025-11-21T15:40:00Z",
        "status": {"200": 9, "403": 1, "404": 1},
        "scores": {
            "inbound": {"bounds": [0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 25, 30, 50, 100],
                        "counts": [11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                        "sum": 0, "count": 11},
            "outbound": {"bounds": [0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 25, 30, 50, 100],
                         "counts": [11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                         "sum": 0, "count": 11}},
        "rules": [{"id": "942100", "msg": "SQL Injection", "severity": "CRITICAL", "pl": 0,
                   "hits": 1, "matches": 1, "first_seen": "2025-11-21T15:40:00Z", "last_seen": "2025-11-21T15:40:00Z"}]}])");
    EXPECT_EQ(agg.stats(std::nullopt), expected);
}

TEST(Aggregator, TruncatedFindingsAreNotRules)
{
    mso::Aggregator agg;
    agg.add(event("a", {finding(""), finding("", "cut"), finding("920350")}), k_now);
    json v = only_vhost(agg.stats(std::nullopt));
    EXPECT_EQ(v["truncated_findings"], 2);
    ASSERT_EQ(v["rules"].size(), 1u);
    EXPECT_EQ(v["rules"][0]["id"], "920350");
    EXPECT_EQ(v["flagged"], 1);
}

TEST(Aggregator, FlaggedInterceptedAndScores)
{
    struct Case {
        const char* name;
        std::size_t findings;
        std::uint64_t dropped;
        bool intercepted;
        bool scores;
        int flagged, intercepted_count, without_scores;
    };
    const std::vector<Case> cases = {
        {"clean event (all mode)", 0, 0, false, true, 0, 0, 0},
        {"one finding", 1, 0, false, true, 1, 0, 0},
        {"only dropped findings", 0, 3, false, true, 1, 0, 0},
        {"intercepted", 2, 0, true, true, 1, 1, 0},
        {"no scores", 1, 0, false, false, 1, 0, 1},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        mso::Aggregator agg;
        mso::RequestEvent e =
            event("v", std::vector<mso::Finding>(c.findings, finding("1")), 200, c.intercepted);
        e.findings_dropped = c.dropped;
        if (!c.scores) {
            e.scores.reset();
        }
        agg.add(e, k_now);
        json v = only_vhost(agg.stats(std::nullopt));
        EXPECT_EQ(v["requests"], 1);
        EXPECT_EQ(v["events"], 1);
        EXPECT_EQ(v["flagged"], c.flagged);
        EXPECT_EQ(v["intercepted"], c.intercepted_count);
        EXPECT_EQ(v["events_without_scores"], c.without_scores);
    }
}

// Per paranoia level: each level's histogram counts the score that level's rules added;
// clean requests count 0 at every level, events without scores at none.
TEST(Aggregator, ScoresPerParanoiaLevel)
{
    mso::Aggregator agg;
    mso::RequestEvent e = event("v", {finding("942100")});
    e.scores->inbound = 8;
    e.scores->inbound_pl = {5, 3, 0, 0};
    e.scores->outbound = 4;
    e.scores->outbound_pl = {0, 0, 0, 4};
    agg.add(e, k_now);
    e.scores->inbound = 30;
    e.scores->inbound_pl = {0, 10, 0, 20};
    e.scores->outbound_pl = {0, 0, 0, 0};
    agg.add(e, k_now);
    mso::RequestEvent no_scores = event("v", {finding("1")});
    no_scores.scores.reset();
    agg.add(no_scores, k_now);
    agg.add(counters("v", 7, {{200, 7}}, 1), k_now); // 6 clean requests, 1 lost

    // Only when asked for (`score_levels`): they would double the answer.
    EXPECT_FALSE(only_vhost(agg.stats(std::nullopt))["scores"].contains("inbound_pl"));
    mso::StatsShape shape;
    shape.score_levels = true;
    const json scores =
        only_vhost(mso::stats_view(agg, std::nullopt, std::nullopt, k_now, shape))["scores"];
    ASSERT_EQ(scores["inbound_pl"].size(), 4u);
    ASSERT_EQ(scores["outbound_pl"].size(), 4u);
    // bucket index of a score: 0 -> 0, 3 -> 3, 5 -> 5, 10 -> 7, 20 -> 9, 4 -> 4
    const std::vector<std::vector<std::pair<std::size_t, int>>> inbound = {
        {{0, 7}, {5, 1}}, // PL 1: 6 clean + the 0 of the second event; one 5
        {{0, 6}, {3, 1}, {7, 1}},
        {{0, 8}},
        {{0, 7}, {9, 1}},
    };
    const std::vector<int> inbound_sums = {5, 13, 0, 20};
    for (std::size_t pl = 0; pl < 4; ++pl) {
        SCOPED_TRACE("PL " + std::to_string(pl + 1));
        const json& h = scores["inbound_pl"][pl];
        EXPECT_EQ(h.find("bounds"), h.end());
        EXPECT_EQ(h["count"], scores["inbound"]["count"]);
        EXPECT_EQ(h["count"], 8);
        EXPECT_EQ(h["sum"], inbound_sums[pl]);
        std::vector<std::uint64_t> expected(15, 0);
        for (const auto& [bucket, n] : inbound[pl]) {
            expected[bucket] = static_cast<std::uint64_t>(n);
        }
        EXPECT_EQ(h["counts"].get<std::vector<std::uint64_t>>(), expected);
    }
    EXPECT_EQ(scores["outbound_pl"][3]["counts"][4], 1);
    EXPECT_EQ(scores["outbound_pl"][3]["sum"], 4);
    for (std::size_t pl = 0; pl < 3; ++pl) {
        EXPECT_EQ(scores["outbound_pl"][pl]["sum"], 0);
        EXPECT_EQ(scores["outbound_pl"][pl]["counts"][0], 8);
    }
}

TEST(Aggregator, CounterReportsAddRequestsStatusAndLostEvents)
{
    mso::Aggregator agg;
    agg.add(event("v", {finding("1")}, 403), k_now);
    agg.add(counters("v", 100, {{200, 95}, {403, 5}}, 2), k_now);
    agg.add(counters("v", 50, {{200, 50}}, 1), k_now);
    json v = only_vhost(agg.stats(std::nullopt));
    EXPECT_EQ(v["requests"], 151);
    EXPECT_EQ(v["events"], 1);
    EXPECT_EQ(v["flagged"], 1);
    EXPECT_EQ(v["events_lost"], 3);
    EXPECT_EQ(v["status"], json::parse(R"({"200": 145, "403": 6})"));
    EXPECT_EQ(v["ports"], json::parse("[443]"));
    EXPECT_EQ(agg.events_lost(), 3u);
}

TEST(Aggregator, TheEngineIsTheLatestReportThatSaidIt)
{
    mso::Aggregator agg;
    agg.add(event("v", {finding("1")}, 403), k_now);
    EXPECT_FALSE(only_vhost(agg.stats(std::nullopt)).contains("engine")); // not said yet
    auto report = counters("v", 0, {}, 0); // a report of zero counts, for its engine
    report.engine = "detection_only";
    agg.add(report, k_now);
    EXPECT_EQ(only_vhost(agg.stats(std::nullopt))["engine"], "detection_only");
    agg.add(counters("v", 5, {{200, 5}}, 0), k_now); // an older module's: says nothing
    EXPECT_EQ(only_vhost(agg.stats(std::nullopt))["engine"], "detection_only");
    report.engine = "on"; // the configuration changed (a graceful restart)
    agg.add(report, k_now);
    const mso::VhostStats* v = agg.find("v");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(mso::vhosts_row("v", *v)["engine"], "on");
    EXPECT_EQ(only_vhost(agg.stats(std::nullopt))["requests"], 6); // zero added nothing
}

TEST(Aggregator, VhostsSortedByNameRulesByHitsThenId)
{
    mso::Aggregator agg;
    agg.add(event("zeta", {finding("1")}), k_now);
    agg.add(event("alpha", {finding("300"), finding("200")}), k_now);
    agg.add(event("alpha", {finding("300"), finding("100")}), k_now);
    agg.add(event("mid", {}), k_now);

    json stats = agg.stats(std::nullopt);
    ASSERT_EQ(stats.size(), 3u);
    EXPECT_EQ(stats[0]["vhost"], "alpha");
    EXPECT_EQ(stats[1]["vhost"], "mid");
    EXPECT_EQ(stats[2]["vhost"], "zeta");
    std::vector<std::string> ids;
    for (const auto& rule : stats[0]["rules"]) {
        ids.push_back(rule["id"].get<std::string>());
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"300", "100", "200"}));
    EXPECT_EQ(stats[1]["rules"], json::array());
}

TEST(Aggregator, VhostFilter)
{
    mso::Aggregator agg;
    agg.add(event("a", {finding("1")}), k_now);
    agg.add(event("b", {finding("2")}), k_now);
    json only_b = agg.stats(std::string_view("b"));
    ASSERT_EQ(only_b.size(), 1u);
    EXPECT_EQ(only_b[0]["vhost"], "b");
    EXPECT_EQ(agg.stats(std::string_view("unknown")), json::array());
    EXPECT_EQ(agg.stats(std::string_view("")), json::array());
}

TEST(Aggregator, RuleKeepsLatestNonEmptyMessageAndSeverity)
{
    mso::Aggregator agg;
    agg.add(event("v", {finding("949110", "Inbound Anomaly Score Exceeded (Total Score: 5)", "")}),
            k_now);
    agg.add(event("v", {finding("949110", "Inbound Anomaly Score Exceeded (Total Score: 10)",
                                "CRITICAL")}),
            k_now);
    agg.add(event("v", {finding("949110", "", "")}), k_now);
    json rule = only_vhost(agg.stats(std::nullopt))["rules"][0];
    EXPECT_EQ(rule["msg"], "Inbound Anomaly Score Exceeded (Total Score: 10)");
    EXPECT_EQ(rule["severity"], "CRITICAL");
    EXPECT_EQ(rule["hits"], 3);
}

TEST(Aggregator, VhostCountIsBounded)
{
    mso::Aggregator agg;
    for (std::size_t i = 0; i < mso::k_max_vhosts + 5; ++i) {
        agg.add(counters("v" + std::to_string(i), 1, {}), k_now);
    }
    EXPECT_EQ(agg.vhost_count(), mso::k_max_vhosts);
    EXPECT_EQ(agg.dropped(), 5u);
}

} // namespace

// Vhosts are found through an index into the aggregator's own records: a copy (the
// query fuzzer copies a prototype collector) and a moved-to aggregator count into their
// own records, and the original is not touched by the copy's adds.
TEST(Aggregator, CopiesAndMovesCountIntoTheirOwnVhosts)
{
    mso::Aggregator original;
    original.add(event("shop", {finding("942100")}), k_now);
    original.add(event("blog", {finding("941100")}), k_now);

    mso::Aggregator copy = original;
    EXPECT_NE(copy.find("shop"), nullptr);
    EXPECT_NE(copy.find("shop"), original.find("shop"));
    copy.add(event("shop", {finding("942100")}), k_now);
    copy.add(event("news", {}), k_now);
    EXPECT_EQ(copy.find("shop")->requests, 2u);
    EXPECT_EQ(copy.find("news")->requests, 1u);
    EXPECT_EQ(original.find("shop")->requests, 1u);
    EXPECT_EQ(original.find("news"), nullptr);

    mso::Aggregator assigned;
    assigned.add(event("old", {}), k_now);
    assigned = original;
    EXPECT_EQ(assigned.find("old"), nullptr);
    assigned.add(event("blog", {}), k_now);
    EXPECT_EQ(assigned.find("blog")->requests, 2u);
    EXPECT_EQ(original.find("blog")->requests, 1u);

    mso::Aggregator moved = std::move(copy);
    moved.add(event("shop", {}), k_now);
    EXPECT_EQ(moved.find("shop")->requests, 3u);
    EXPECT_EQ(moved.vhost_count(), 3u);
}
