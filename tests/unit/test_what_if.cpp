// The what-if arithmetic (what_if.h): blocked before -> after per request against its
// recorded threshold and paranoia level, attacks still caught, the threshold ladder,
// each exclusion's released requests, and the caveats.
#include "tuning/what_if.h"

#include "tuning_records.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

using testing::finding;
using testing::from_clients;
using testing::record;
using testing::RecordSpec;

struct Scenario {
    std::vector<RequestRecord> records;
    std::vector<FindingGroup> groups;
    Proposal proposal;
    WhatIf w;
};

Scenario run(std::vector<RequestRecord> records, const TuneOptions& o = {})
{
    Scenario s;
    s.records = std::move(records);
    s.groups = group_findings(s.records, o);
    s.proposal = propose(s.groups, "shop.example", o);
    s.w = what_if(s.records, s.groups, s.proposal, o);
    return s;
}

TEST(WhatIf, FalsePositivesReleasedAttacksKept)
{
    RecordSpec benign;
    benign.path = "/comment";
    benign.method = "POST";
    benign.findings = {finding("941160", "ARGS:text")};
    auto records = from_clients(benign, 20);
    // Two attackers: SQLi on /product, and one of them also sends the form field with a
    // second critical (so it stays blocked after the exclusion of 941160 on ARGS:text).
    RecordSpec attack;
    attack.path = "/product";
    attack.findings = {finding("942100", "ARGS:id"), finding("942190", "ARGS:id")};
    auto attacks = from_clients(attack, 2, 200);
    records.insert(records.end(), attacks.begin(), attacks.end());
    RecordSpec mixed = benign;
    mixed.client = "10.0.0.200";
    mixed.findings = {finding("941160", "ARGS:text"), finding("942100", "ARGS:text")};
    records.push_back(record(mixed));

    const Scenario s = run(records);
    ASSERT_EQ(s.proposal.exclusions.size(), 1U);
    EXPECT_EQ(s.proposal.exclusions[0].key, "shop.example 941160 ARGS:text exact /comment POST");
    EXPECT_EQ(s.w.requests, 23U);
    EXPECT_EQ(s.w.blocked, 23U);
    EXPECT_EQ(s.w.blocked_after, 3U);
    EXPECT_EQ(s.w.clients_blocked, 22U);
    EXPECT_EQ(s.w.clients_blocked_after, 2U);
    EXPECT_EQ(s.w.attacks, 3U) << "the mixed request has a finding of an attack group";
    EXPECT_EQ(s.w.attacks_caught, 3U);
    EXPECT_EQ(s.w.attacks_caught_after, 3U);
    EXPECT_EQ(s.w.benign_blocked, 20U);
    EXPECT_EQ(s.w.benign_blocked_after, 0U);
    EXPECT_EQ(s.proposal.exclusions[0].removes_blocks, 20U);
    EXPECT_EQ(s.proposal.exclusions[0].removes_blocks_clients, 20U);
    ASSERT_EQ(s.w.days.size(), 1U);
    EXPECT_EQ(s.w.days[0].blocked, 23U);
    EXPECT_EQ(s.w.days[0].by_rule.at("941160"), 21U);
    EXPECT_EQ(s.w.days[0].by_group.at("941 XSS"), 21U);
    EXPECT_EQ(s.w.days[0].by_group.at("942 SQLi"), 2U);
}

// A suspicious client (three attack families on three paths) also sends the form field
// the editors trip: the exclusion releases that request, and says so.
TEST(WhatIf, ExclusionThatReleasesAnAttackIsNamed)
{
    RecordSpec benign;
    benign.path = "/comment";
    benign.method = "POST";
    benign.findings = {finding("941160", "ARGS:text")};
    auto records = from_clients(benign, 20);
    const char* probes[][2] = {{"942100", "/a"}, {"941100", "/b"}, {"930100", "/c"}};
    for (const auto& [rule, path] : probes) {
        RecordSpec p;
        p.client = "10.0.0.250";
        p.path = path;
        p.findings = {finding(rule, "ARGS:id")};
        records.push_back(record(p));
    }
    RecordSpec sneaky = benign;
    sneaky.client = "10.0.0.250";
    records.push_back(record(sneaky));

    const Scenario s = run(records);
    ASSERT_EQ(s.proposal.exclusions.size(), 1U);
    EXPECT_EQ(s.w.attacks_caught, 4U);
    EXPECT_EQ(s.w.attacks_caught_after, 3U);
    EXPECT_EQ(s.proposal.exclusions[0].removes_blocks, 21U);
    EXPECT_EQ(s.proposal.exclusions[0].releases_attacks, 1U);
}

struct LadderCase {
    const char* name;
    int points_fp;    // the false positive's score
    int points_other; // another finding that stays (0: none)
    int threshold;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ladder; // before/after at 5..100
    std::uint64_t blocked;
    std::uint64_t blocked_after;
};

TEST(WhatIf, LadderAndThresholds)
{
    // Six clients send the false positive (942100, a likely-false-positive group); the
    // first two also send another finding (932100 from two clients: a likely attack).
    const LadderCase cases[] = {
        {"crs default 5", 5, 0, 5, {{6, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}, 6, 0},
        {"fp 5 + other 5 at threshold 5: the two stay",
         5,
         5,
         5,
         {{6, 2}, {2, 0}, {0, 0}, {0, 0}, {0, 0}},
         6,
         2},
        {"fp 5 + other 5 at threshold 10 (netnea's step): released",
         5,
         5,
         10,
         {{6, 2}, {2, 0}, {0, 0}, {0, 0}, {0, 0}},
         2,
         0},
        {"warning 3 alone never blocks at 5",
         3,
         0,
         5,
         {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}},
         0,
         0},
    };
    for (const LadderCase& c : cases) {
        RecordSpec s;
        s.path = "/f";
        s.inbound_threshold = c.threshold;
        s.findings = {finding("942100", "ARGS:a", c.points_fp)};
        auto records = from_clients(s, 6);
        if (c.points_other > 0) {
            for (std::size_t i = 0; i < 2; ++i) {
                RecordSpec both = s;
                both.client = records[i].client;
                both.unique_id = records[i].unique_id;
                both.findings.push_back(finding("932100", "ARGS:b", c.points_other));
                records[i] = record(both);
            }
        }
        const Scenario sc = run(records);
        ASSERT_EQ(sc.w.ladder.size(), 5U) << c.name;
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_EQ(sc.w.ladder[i].threshold, k_ladder[i]) << c.name;
            EXPECT_EQ(sc.w.ladder[i].before, c.ladder[i].first) << c.name << " at " << k_ladder[i];
            EXPECT_EQ(sc.w.ladder[i].after, c.ladder[i].second) << c.name << " at " << k_ladder[i];
        }
        EXPECT_EQ(sc.w.blocked, c.blocked) << c.name;
        EXPECT_EQ(sc.w.blocked_after, c.blocked_after) << c.name;
    }
}

TEST(WhatIf, ExclusionsNeededTogetherEachCountTheRelease)
{
    // Two criticals on the same field: neither exclusion alone releases a request.
    RecordSpec s;
    s.path = "/node/add";
    s.findings = {finding("941100", "ARGS:body"), finding("941160", "ARGS:body")};
    const Scenario sc = run(from_clients(s, 7));
    ASSERT_EQ(sc.proposal.exclusions.size(), 2U);
    EXPECT_EQ(sc.w.blocked_after, 0U);
    for (const Exclusion& x : sc.proposal.exclusions) {
        EXPECT_EQ(x.removes_blocks, 7U) << x.key;
        EXPECT_EQ(x.removes_blocks_clients, 7U) << x.key;
    }
}

TEST(WhatIf, ParanoiaLevelAboveBlockingDoesNotCount)
{
    RecordSpec s;
    s.path = "/p";
    ScoredFinding pl2 = finding("942432", "ARGS:a", 3, 2);
    pl2.counts = false; // blocking PL 1
    s.findings = {finding("942100", "ARGS:a", 5, 1), pl2};
    auto records = from_clients(s, 6);
    for (RequestRecord& r : records) {
        r.inbound = 5; // the blocking score: PL 1 only
    }
    // Two requests from two clients that only a PL 2 finding would block (an attack by
    // the labelling rules: too few clients).
    RecordSpec a;
    a.path = "/q";
    ScoredFinding only_pl2 = finding("942432", "ARGS:b", 5, 2);
    only_pl2.counts = false;
    a.findings = {only_pl2};
    for (RequestRecord& r : from_clients(a, 2, 50)) {
        r.inbound = 0;
        records.push_back(std::move(r));
    }
    const Scenario sc = run(records);
    EXPECT_EQ(sc.w.blocked, 6U);
    EXPECT_EQ(sc.w.blocked_after, 0U);
    // Per blocking paranoia level, before -> after: at PL 2 the two join, and stay.
    ASSERT_EQ(sc.w.paranoia.size(), 2U);
    EXPECT_EQ(sc.w.paranoia[0].level, 1);
    EXPECT_EQ(sc.w.paranoia[0].before, 6U);
    EXPECT_EQ(sc.w.paranoia[0].after, 0U);
    EXPECT_EQ(sc.w.paranoia[1].level, 2);
    EXPECT_EQ(sc.w.paranoia[1].before, 8U);
    EXPECT_EQ(sc.w.paranoia[1].after, 2U);
    bool caveat = false;
    for (const std::string& c : sc.w.caveats) {
        caveat =
            caveat || c.find("above their request's blocking paranoia level") != std::string::npos;
    }
    EXPECT_TRUE(caveat);
}

TEST(WhatIf, CaveatsNameChainsAndSideEffects)
{
    const Scenario sc = run({});
    EXPECT_TRUE(sc.w.paranoia.empty()); // no level logged: no rows
    ASSERT_GE(sc.w.caveats.size(), 2U);
    EXPECT_NE(sc.w.caveats[0].find("chain"), std::string::npos);
    EXPECT_NE(sc.w.caveats[1].find("setvar"), std::string::npos);
}

} // namespace
} // namespace mso
