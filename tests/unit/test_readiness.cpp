// The readiness verdict (readiness.h): ready, ready_after_exclusions, not_ready, from
// the what-if, with reasons; On vhosts report blocked false positives.
#include "tuning/readiness.h"

#include "tuning_records.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

using testing::finding;
using testing::from_clients;
using testing::RecordSpec;

Readiness verdict_of(const std::vector<RequestRecord>& records, const TuneOptions& o = {})
{
    const auto groups = group_findings(records, o);
    Proposal p = propose(groups, "v.example", o);
    const WhatIf w = what_if(records, groups, p, o);
    return readiness_of(records, w, p);
}

struct VerdictCase {
    const char* name;
    int fp_clients;       // clients sending a false positive (941160 on /c)
    bool fp_unsafe_path;  // the false positive's path cannot be excluded
    int attackers;        // clients sending SQLi (2 criticals)
    bool below_threshold; // the false positive only scores 3
    ReadinessVerdict expected;
    ReadinessVerdict now; // without the proposals
};

TEST(Readiness, Verdicts)
{
    const VerdictCase cases[] = {
        {"only attacks", 0, false, 2, false, ReadinessVerdict::ready, ReadinessVerdict::ready},
        {"nothing reaches the threshold", 6, false, 0, true, ReadinessVerdict::ready,
         ReadinessVerdict::ready},
        {"false positives the proposals remove", 6, false, 2, false,
         ReadinessVerdict::ready_after_exclusions, ReadinessVerdict::not_ready},
        {"false positives on a path no exclusion can carry", 6, true, 0, false,
         ReadinessVerdict::not_ready, ReadinessVerdict::not_ready},
        {"a false positive from too few clients", 3, false, 0, false, ReadinessVerdict::ready,
         ReadinessVerdict::ready},
    };
    for (const VerdictCase& c : cases) {
        std::vector<RequestRecord> records;
        if (c.fp_clients > 0) {
            RecordSpec s;
            s.path = c.fp_unsafe_path ? "/c%2e" : "/c";
            s.findings = {finding("941160", "ARGS:t", c.below_threshold ? 3 : 5)};
            records = from_clients(s, c.fp_clients);
        }
        if (c.attackers > 0) {
            RecordSpec a;
            a.path = "/p";
            a.findings = {finding("942100", "ARGS:id"), finding("942190", "ARGS:id")};
            auto more = from_clients(a, c.attackers, 100);
            records.insert(records.end(), more.begin(), more.end());
        }
        const Readiness r = verdict_of(records);
        EXPECT_EQ(r.verdict, c.expected) << c.name;
        EXPECT_EQ(r.now, c.now) << c.name;
        EXPECT_FALSE(r.reasons.empty()) << c.name;
        bool names_skipped = false;
        for (const std::string& reason : r.reasons) {
            names_skipped = names_skipped || reason.find("under Skipped") != std::string::npos;
        }
        EXPECT_EQ(names_skipped, c.fp_unsafe_path) << c.name;
    }
}

// A group that only its few clients call an attack (none of them suspicious): an attack
// rule keeps the verdict but is named in the reasons; a protocol rule a lone client trips
// is no attack, so its blocked requests make the vhost not ready.
TEST(Readiness, UnsureGroups)
{
    RecordSpec xss;
    xss.path = "/c";
    xss.findings = {finding("941160", "ARGS:t")};
    const auto attack_family = from_clients(xss, 3);
    const auto groups = group_findings(attack_family, TuneOptions{});
    ASSERT_EQ(groups.size(), 1U);
    EXPECT_EQ(groups[0].label, GroupLabel::likely_attack);
    EXPECT_TRUE(groups[0].unsure);
    Proposal p = propose(groups, "v.example", TuneOptions{});
    const WhatIf w = what_if(attack_family, groups, p, TuneOptions{});
    EXPECT_EQ(w.attacks_caught_after, 3U);
    EXPECT_EQ(w.unsure_blocked_after, 3U);
    EXPECT_EQ(w.unsure_clients_after, 3U);
    const Readiness r = readiness_of(attack_family, w, p);
    EXPECT_EQ(r.verdict, ReadinessVerdict::ready);
    bool named = false;
    for (const std::string& reason : r.reasons) {
        named = named || reason.find("(groups marked unsure)") != std::string::npos;
    }
    EXPECT_TRUE(named);

    RecordSpec host_ip = xss;
    host_ip.findings = {finding("920350", "REQUEST_HEADERS:Host")};
    const Readiness protocol = verdict_of(from_clients(host_ip, 2));
    EXPECT_EQ(protocol.verdict, ReadinessVerdict::not_ready);
    EXPECT_EQ(protocol.now, ReadinessVerdict::not_ready);

    // One of the few clients is a scanner: a sure attack, nothing unsure.
    auto with_scanner = from_clients(xss, 3);
    RecordSpec scan;
    scan.client = with_scanner[0].client;
    scan.extra_rules = {"913100"};
    with_scanner.push_back(testing::record(scan));
    const auto sure = group_findings(with_scanner, TuneOptions{});
    Proposal none = propose(sure, "v.example", TuneOptions{});
    EXPECT_EQ(what_if(with_scanner, sure, none, TuneOptions{}).unsure_blocked_after, 0U);
}

// On: the false positives blocked are named with examples, whether or not the proposals
// release them.
TEST(Readiness, OnVhostReportsBlockedFalsePositives)
{
    RecordSpec s;
    s.path = "/c";
    s.engine = EngineMode::on;
    s.intercepted = true;
    s.status = 403;
    s.findings = {finding("941160", "ARGS:t")};
    const Readiness r = verdict_of(from_clients(s, 8));
    EXPECT_EQ(r.engine, EngineMode::on);
    EXPECT_EQ(r.verdict, ReadinessVerdict::ready_after_exclusions);
    EXPECT_EQ(r.now, ReadinessVerdict::not_ready);
    bool named = false;
    for (const std::string& reason : r.reasons) {
        named = named || reason.find("real users blocked") != std::string::npos;
    }
    EXPECT_TRUE(named);
}

TEST(Readiness, Names)
{
    EXPECT_EQ(readiness_name(ReadinessVerdict::ready), "ready");
    EXPECT_EQ(readiness_name(ReadinessVerdict::ready_after_exclusions), "ready_after_exclusions");
    EXPECT_EQ(readiness_name(ReadinessVerdict::not_ready), "not_ready");
}

} // namespace
} // namespace mso
