#include "event.h"

#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <string_view>
#include <utility>

namespace mso {
namespace {

RequestEvent with_rules(std::initializer_list<const char*> ids, bool intercepted)
{
    RequestEvent e;
    e.intercepted = intercepted;
    for (const char* id : ids) {
        Finding f;
        f.id = id;
        e.findings.push_back(f);
    }
    return e;
}

TEST(Verdict, InterceptedElseAKnownThresholdReachedElsePassed)
{
    struct Case {
        const char* name;
        bool intercepted;
        bool scores;
        int inbound, outbound, inbound_threshold, outbound_threshold;
        Verdict expected;
        std::string_view name_expected;
    };
    const Case cases[] = {
        {"intercepted wins", true, true, 0, 0, 5, 4, Verdict::intercepted, "intercepted"},
        {"intercepted without scores", true, false, 0, 0, 0, 0, Verdict::intercepted,
         "intercepted"},
        {"no scores", false, false, 0, 0, 0, 0, Verdict::passed, "passed"},
        {"inbound at threshold", false, true, 5, 0, 5, 4, Verdict::would_block, "would_block"},
        {"inbound below", false, true, 4, 0, 5, 4, Verdict::passed, "passed"},
        {"outbound at threshold", false, true, 0, 4, 5, 4, Verdict::would_block, "would_block"},
        {"unknown thresholds", false, true, 100, 100, 0, 0, Verdict::passed, "passed"},
        {"zero score, zero threshold", false, true, 0, 0, 0, 0, Verdict::passed, "passed"},
    };
    for (const Case& c : cases) {
        RequestEvent e;
        e.intercepted = c.intercepted;
        if (c.scores) {
            AnomalyScores s;
            s.inbound = c.inbound;
            s.outbound = c.outbound;
            s.inbound_threshold = c.inbound_threshold;
            s.outbound_threshold = c.outbound_threshold;
            e.scores = s;
        }
        EXPECT_EQ(verdict_of(e), c.expected) << c.name;
        EXPECT_EQ(verdict_name(verdict_of(e)), c.name_expected) << c.name;
    }
}

TEST(InferredEngineMode, InterceptedIsOnABlockingRuleWithoutInterceptionIsDetectionOnly)
{
    EXPECT_EQ(inferred_engine_mode(with_rules({"942100", "949110"}, true)), EngineMode::on);
    EXPECT_EQ(inferred_engine_mode(with_rules({}, true)), EngineMode::on);
    for (const char* blocking : {"949110", "949111", "959100", "959101"}) {
        SCOPED_TRACE(blocking);
        EXPECT_EQ(inferred_engine_mode(with_rules({"942100", blocking, "980130"}, false)),
                  EngineMode::detection_only);
    }
    // Below the threshold, or a rule that only reports: nothing tells.
    EXPECT_EQ(inferred_engine_mode(with_rules({"920350"}, false)), EngineMode::unknown);
    EXPECT_EQ(inferred_engine_mode(with_rules({"980130", "980170", "9491100"}, false)),
              EngineMode::unknown);
    EXPECT_EQ(inferred_engine_mode(RequestEvent{}), EngineMode::unknown);
}

// Every combination of what the event shows (intercepted: on; a blocking-evaluation rule
// without interception: detection_only; a low score: unknown) and what the vhost's
// configuration says.
TEST(EventEngineMode, WhatTheEventShowsWinsElseAnOnOrDetectionOnlyConfiguration)
{
    const std::pair<const char*, RequestEvent> shown[] = {
        {"intercepted", with_rules({"942100", "949110"}, true)},
        {"would block", with_rules({"942100", "949110"}, false)},
        {"low score", with_rules({"920450"}, false)},
    };
    const struct {
        std::string_view configured;
        EngineMode want[3]; // for each of `shown`
    } cases[] = {
        {"on", {EngineMode::on, EngineMode::detection_only, EngineMode::on}},
        {"detection_only",
         {EngineMode::on, EngineMode::detection_only, EngineMode::detection_only}},
        {"off", {EngineMode::on, EngineMode::detection_only, EngineMode::unknown}},
        {"", {EngineMode::on, EngineMode::detection_only, EngineMode::unknown}},
        // Not a name counter reports use (the decoder refuses them): tells nothing.
        {"DetectionOnly", {EngineMode::on, EngineMode::detection_only, EngineMode::unknown}},
    };
    for (const auto& c : cases) {
        for (std::size_t i = 0; i < std::size(shown); ++i) {
            SCOPED_TRACE(std::string(c.configured) + " / " + shown[i].first);
            EXPECT_EQ(event_engine_mode(shown[i].second, c.configured), c.want[i]);
        }
    }
}

} // namespace
} // namespace mso
