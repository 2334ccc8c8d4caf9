// state/event_detail.cpp: the points each finding adds to the anomaly score, the
// verdict, and the `event` answer's object.
#include "state/event_detail.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mso {
namespace {

struct PointsCase {
    const char* id;
    const char* severity;
    bool engine;
    int points;
};

TEST(ScoreContribution, CrsDefaultSeverityScores)
{
    const std::vector<PointsCase> cases = {
        {"942100", "CRITICAL", false, 5},
        {"942100", "critical", false, 5},
        {"920350", "ERROR", false, 4},
        {"920420", "WARNING", false, 3},
        {"920350", "NOTICE", false, 2},
        {"910000", "INFO", false, 0},
        {"912345", "EMERGENCY", false, 0},
        {"1234", "", false, 0},
        {"", "CRITICAL", false, 5}, // a truncated message with its severity kept
        {"", "CRITICAL", true, 0},  // ModSecurity's own message
        // CRS's evaluation and reporting rules report the score, they do not add to it.
        {"949110", "CRITICAL", false, 0},
        {"959100", "CRITICAL", false, 0},
        {"980130", "CRITICAL", false, 0},
        {"980170", "NOTICE", false, 0},
        {"949111", "CRITICAL", false, 0},
        // Neither their prefix with another length nor a lookalike.
        {"94911", "CRITICAL", false, 5},
        {"9491100", "CRITICAL", false, 5},
        {"948110", "CRITICAL", false, 5},
    };
    for (const PointsCase& c : cases) {
        SCOPED_TRACE(std::string(c.id) + " " + c.severity);
        Finding f;
        f.id = c.id;
        f.severity = c.severity;
        f.engine = c.engine;
        EXPECT_EQ(score_contribution(f), c.points);
    }
}

RequestEvent event_with(bool intercepted, int inbound, int threshold)
{
    RequestEvent e;
    e.unique_id = "u1";
    e.intercepted = intercepted;
    AnomalyScores s;
    s.inbound = inbound;
    s.inbound_threshold = threshold;
    e.scores = s;
    Finding f;
    f.id = "942100";
    f.severity = "CRITICAL";
    f.target = "ARGS:q";
    f.data = "=cmd|' /C calc'!A0";
    f.tags = {"attack-sqli"};
    e.findings = {f, f};
    e.findings[1].id = "949110";
    return e;
}

TEST(EventDetail, VerdictScoresAndOrigin)
{
    const auto j = event_detail_json(event_with(false, 10, 5), "import:x",
                                     EngineMode::detection_only, "would_block");
    EXPECT_EQ(j["unique_id"], "u1");
    EXPECT_EQ(j["source"], "import:x");
    EXPECT_EQ(j["engine"], "detection_only");
    EXPECT_EQ(j["verdict"], "would_block");
    ASSERT_EQ(j["rules"].size(), 2U);
    EXPECT_EQ(j["rules"][0]["score"], 5);
    EXPECT_EQ(j["rules"][0]["data"], "=cmd|' /C calc'!A0");
    EXPECT_EQ(j["rules"][0]["tags"], nlohmann::ordered_json::array({"attack-sqli"}));
    EXPECT_EQ(j["rules"][1]["score"], 0);
    EXPECT_EQ(j["score_sum"], 5);
    // The events list's form has no per-finding scores.
    const auto list =
        event_with_origin_json(event_with(true, 10, 5), "module", EngineMode::on, "intercepted");
    EXPECT_FALSE(list["rules"][0].contains("score"));
    EXPECT_FALSE(list.contains("score_sum"));
    EXPECT_EQ(list["engine"], "on");
}

} // namespace
} // namespace mso
