// Requests as the tuning logic sees them: scores, thresholds and paranoia levels from
// the stored event, and the blocked-with-removals arithmetic (CRS 3 and 4 thresholds).
#include "tuning/request_record.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

Finding crs_finding(std::string id, std::string severity, int pl, std::string target = "ARGS:q")
{
    Finding f;
    f.id = std::move(id);
    f.severity = std::move(severity);
    f.paranoia_level = pl;
    f.target = std::move(target);
    return f;
}

StoredEvent stored(std::vector<Finding> findings, std::optional<AnomalyScores> scores,
                   bool intercepted = false)
{
    StoredEvent s;
    s.event.client = "192.0.2.7";
    s.event.path = "/x";
    s.event.method = "GET";
    s.event.findings = std::move(findings);
    s.event.scores = scores;
    s.event.intercepted = intercepted;
    s.engine_mode = intercepted ? EngineMode::on : EngineMode::detection_only;
    return s;
}

TEST(RequestRecord, KeepsOnlyScoringFindingsAndReadsRecordedScores)
{
    AnomalyScores sc;
    sc.inbound = 10;
    sc.inbound_threshold = 5;
    sc.outbound_threshold = 4;
    sc.blocking_pl = 1;
    const RequestRecord r = record_of(
        stored({crs_finding("942100", "CRITICAL", 1), crs_finding("942432", "WARNING", 2),
                crs_finding("949110", "CRITICAL", 0), crs_finding("913100", "CRITICAL", 1)},
               sc));
    ASSERT_EQ(r.findings.size(), 3U); // 949110 reports the score, it adds nothing
    EXPECT_TRUE(r.findings[0].counts);
    EXPECT_FALSE(r.findings[1].counts) << "PL 2 above blocking PL 1: detection only";
    EXPECT_TRUE(r.scanner);
    EXPECT_EQ(r.inbound, 10);
    EXPECT_FALSE(r.threshold_assumed);
    EXPECT_EQ(r.rule_ids.size(), 4U);
}

TEST(RequestRecord, WithoutScoresSumsFindingsAndAssumesDefaults)
{
    const RequestRecord r = record_of(stored(
        {crs_finding("941100", "CRITICAL", 1), crs_finding("951100", "ERROR", 1)}, std::nullopt));
    EXPECT_FALSE(r.scores_recorded);
    EXPECT_TRUE(r.threshold_assumed);
    EXPECT_EQ(r.inbound, 5);
    EXPECT_EQ(r.outbound, 4);
    EXPECT_TRUE(blocked_before(r));
}

struct BlockCase {
    const char* name;
    int inbound;
    int threshold;
    std::vector<std::pair<int, bool>> findings; // points, counts
    std::vector<bool> removed;
    bool intercepted;
    bool before;
    bool after;
};

TEST(RequestRecord, BlockedWithRemovals)
{
    const BlockCase cases[] = {
        {"one critical, removed", 5, 5, {{5, true}}, {true}, false, true, false},
        {"two criticals, one removed",
         10,
         5,
         {{5, true}, {5, true}},
         {true, false},
         false,
         true,
         true},
        {"crs 3 threshold 10 (netnea)",
         10,
         10,
         {{5, true}, {5, true}},
         {true, false},
         false,
         true,
         false},
        {"threshold 100 never reached", 15, 100, {{5, true}}, {false}, false, false, false},
        {"removed finding above blocking PL changes nothing",
         5,
         5,
         {{5, true}, {3, false}},
         {false, true},
         false,
         true,
         true},
        {"intercepted below threshold: own deny stays",
         3,
         5,
         {{3, true}},
         {true},
         true,
         true,
         true},
        {"intercepted by score, released", 5, 5, {{5, true}}, {true}, true, true, false},
    };
    for (const BlockCase& c : cases) {
        RequestRecord r;
        r.inbound = c.inbound;
        r.inbound_threshold = c.threshold;
        r.intercepted = c.intercepted;
        for (const auto& [points, counts] : c.findings) {
            ScoredFinding f;
            f.rule = "942100";
            f.points = points;
            f.counts = counts;
            r.findings.push_back(f);
        }
        EXPECT_EQ(blocked_before(r), c.before) << c.name;
        EXPECT_EQ(blocked_with(r, c.removed), c.after) << c.name;
    }
}

// blocked_at_level(): the blocking paranoia level moved to 1-4, against the recorded
// scores. The request was run with blocking PL 2: 942100 (PL 1, 5 points) and 942200
// (PL 2, 3 points) counted, 942300 (PL 3, 5 points) was logged without counting.
TEST(RequestRecord, BlockedAtEachParanoiaLevel)
{
    struct LevelCase {
        const char* name;
        int recorded_inbound;
        std::vector<bool> removed; // 942100, 942200, 942300
        bool intercepted;
        bool expected[4]; // at levels 1, 2, 3, 4
    };
    const LevelCase cases[] = {
        {"nothing removed", 8, {false, false, false}, false, {true, true, true, true}},
        {"942100 removed: only PL 3's finding blocks",
         8,
         {true, false, false},
         false,
         {false, false, true, true}},
        {"942100 and 942300 removed", 8, {true, false, true}, false, {false, false, false, false}},
        {"942300 removed: PL 3 adds nothing",
         8,
         {false, false, true},
         false,
         {true, true, true, true}},
        // 2 points of the recorded score come from no logged finding: they stay.
        {"unexplained points stay", 10, {true, false, false}, false, {false, true, true, true}},
        {"intercepted below its threshold (own deny) at every level",
         3,
         {true, true, true},
         true,
         {true, true, true, true}},
    };
    for (const LevelCase& c : cases) {
        RequestRecord r;
        r.blocking_pl = 2;
        r.inbound = c.recorded_inbound;
        r.intercepted = c.intercepted;
        const int points[] = {5, 3, 5};
        const char* rules[] = {"942100", "942200", "942300"};
        for (int i = 0; i < 3; ++i) {
            ScoredFinding f;
            f.rule = rules[i];
            f.points = points[i];
            f.paranoia_level = i + 1;
            f.counts = i < 2;
            r.findings.push_back(f);
        }
        for (int level = 1; level <= 4; ++level) {
            EXPECT_EQ(blocked_at_level(r, level, c.removed), c.expected[level - 1])
                << c.name << " at level " << level;
        }
        if (!c.intercepted) {
            EXPECT_EQ(blocked_at_level(r, 2, c.removed), blocked_with(r, c.removed)) << c.name;
        }
    }
    // A finding without a logged level counts as it did, at every level.
    RequestRecord r;
    r.blocking_pl = 1;
    r.inbound = 5;
    ScoredFinding f;
    f.rule = "920450";
    f.points = 5;
    r.findings.push_back(f);
    for (int level = 1; level <= 4; ++level) {
        EXPECT_TRUE(blocked_at_level(r, level, {})) << level;
        EXPECT_FALSE(blocked_at_level(r, level, {true})) << level;
    }
}

TEST(RequestRecord, RuleFamiliesAndOutbound)
{
    EXPECT_EQ(rule_family("942100"), "942");
    EXPECT_EQ(rule_family("12345"), "");
    EXPECT_EQ(rule_family("94210a"), "");
    EXPECT_TRUE(is_outbound_rule("951100"));
    EXPECT_FALSE(is_outbound_rule("942100"));
}

TEST(RequestRecord, RuleGroupNames)
{
    const std::pair<const char*, const char*> cases[] = {
        {"920450", "920 protocol enforcement"},
        {"941160", "941 XSS"},
        {"942100", "942 SQLi"},
        {"951110", "951 SQL leakage"},
        {"999001", "999"},
        {"12345", "other"},
        {"", "other"},
    };
    for (const auto& [rule, name] : cases) {
        EXPECT_EQ(rule_group_name(rule), name) << rule;
    }
}

} // namespace
} // namespace mso
