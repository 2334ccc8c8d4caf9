// Grouping and the labelling rules (finding_groups.h), table-driven: distinct clients
// against --min-clients, suspicious clients (scanner rules, many attack families on
// many paths) against --max-suspicious-pct, and the evidence of each group.
#include "tuning/finding_groups.h"

#include "tuning_records.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

using testing::finding;
using testing::from_clients;
using testing::record;
using testing::RecordSpec;

const FindingGroup* find_group(const std::vector<FindingGroup>& groups, const std::string& rule,
                               const std::string& target)
{
    for (const FindingGroup& g : groups) {
        if (g.key.rule == rule && g.key.target == target) {
            return &g;
        }
    }
    return nullptr;
}

struct LabelCase {
    const char* name;
    int clients;
    int scanners; // of them, clients that also fired 913100
    TuneOptions options;
    GroupLabel expected;
};

TEST(FindingGroups, LabelRules)
{
    TuneOptions strict;
    strict.min_clients = 30;
    TuneOptions lenient_suspicious;
    lenient_suspicious.max_suspicious_pct = 50;
    const LabelCase cases[] = {
        {"many clients, none suspicious", 25, 0, {}, GroupLabel::likely_false_positive},
        {"exactly --min-clients", 5, 0, {}, GroupLabel::likely_false_positive},
        {"one fewer than --min-clients", 4, 0, {}, GroupLabel::likely_attack},
        {"raised --min-clients", 25, 0, strict, GroupLabel::likely_attack},
        {"10% scanners is at most 10%", 20, 2, {}, GroupLabel::likely_false_positive},
        {"15% scanners", 20, 3, {}, GroupLabel::likely_attack},
        {"15% scanners, --max-suspicious-pct 50", 20, 3, lenient_suspicious,
         GroupLabel::likely_false_positive},
    };
    for (const LabelCase& c : cases) {
        RecordSpec spec;
        spec.path = "/post";
        spec.method = "POST";
        spec.findings = {finding("941160", "ARGS:body")};
        std::vector<RequestRecord> records = from_clients(spec, c.clients);
        for (int i = 0; i < c.scanners; ++i) {
            RecordSpec scan;
            scan.client = records[static_cast<std::size_t>(i)].client;
            scan.extra_rules = {"913100"};
            records.push_back(record(scan));
        }
        const auto groups = group_findings(records, c.options);
        const FindingGroup* g = find_group(groups, "941160", "ARGS:body");
        ASSERT_NE(g, nullptr) << c.name;
        EXPECT_EQ(g->label, c.expected) << c.name;
        EXPECT_EQ(g->clients.size(), static_cast<std::size_t>(c.clients)) << c.name;
        EXPECT_FALSE(g->reasons.empty()) << c.name;
    }
}

TEST(FindingGroups, WideClientsAreSuspicious)
{
    // 6 clients post the form; 1 of them also probes SQLi, XSS and LFI on 3 paths.
    RecordSpec spec;
    spec.path = "/form";
    spec.findings = {finding("941100", "ARGS:html")};
    auto records = from_clients(spec, 6);
    const char* probes[][2] = {{"942100", "/a"}, {"941100", "/b"}, {"930100", "/c"}};
    for (const auto& [rule, path] : probes) {
        RecordSpec p;
        p.client = "10.0.0.1";
        p.path = path;
        p.findings = {finding(rule, "ARGS:id")};
        records.push_back(record(p));
    }
    const auto groups = group_findings(records, TuneOptions{});
    const FindingGroup* form = find_group(groups, "941100", "ARGS:html");
    ASSERT_NE(form, nullptr);
    EXPECT_EQ(form->suspicious_clients, 1U);
    EXPECT_EQ(form->label, GroupLabel::likely_attack) << "1 of 6 is 16%, above 10%";
    TuneOptions wider;
    wider.wide_families = 4;
    const auto relaxed = group_findings(records, wider);
    EXPECT_EQ(find_group(relaxed, "941100", "ARGS:html")->label, GroupLabel::likely_false_positive);
}

// A client's families count only from groups that fewer than --min-clients clients
// share: editors whose form posts fire three attack families on three paths are the
// application's users, not attackers.
TEST(FindingGroups, SharedFalsePositivesDoNotMakeClientsSuspicious)
{
    std::vector<RequestRecord> records;
    const char* forms[][2] = {{"941100", "/a"}, {"942100", "/b"}, {"932100", "/c"}};
    for (const auto& [rule, path] : forms) {
        RecordSpec s;
        s.path = path;
        s.findings = {finding(rule, "ARGS:body")};
        auto more = from_clients(s, 6);
        records.insert(records.end(), more.begin(), more.end());
    }
    const auto groups = group_findings(records, TuneOptions{});
    ASSERT_EQ(groups.size(), 3U);
    for (const FindingGroup& g : groups) {
        EXPECT_EQ(g.suspicious_clients, 0U) << g.key.rule;
        EXPECT_EQ(g.label, GroupLabel::likely_false_positive) << g.key.rule;
        EXPECT_FALSE(g.unsure);
    }
    const auto profiles = client_profiles(records, TuneOptions{});
    ASSERT_EQ(profiles.size(), 6U);
    for (const auto& [client, p] : profiles) {
        EXPECT_TRUE(p.attack_families.empty()) << client;
    }
    // With --min-clients above 6 the same groups are rare: every client is suspicious.
    TuneOptions strict;
    strict.min_clients = 7;
    for (const FindingGroup& g : group_findings(records, strict)) {
        EXPECT_EQ(g.suspicious_clients, 6U) << g.key.rule;
        EXPECT_FALSE(g.unsure) << g.key.rule;
    }
}

TEST(FindingGroups, Evidence)
{
    // 5 requests where 942100 alone reaches 5; 1 with another critical too.
    RecordSpec spec;
    spec.path = "/search";
    spec.findings = {finding("942100", "ARGS:q")};
    auto records = from_clients(spec, 5);
    RecordSpec both = spec;
    both.client = "10.0.0.99";
    both.findings = {finding("942100", "ARGS:q"), finding("942200", "ARGS:q")};
    records.push_back(record(both));
    RecordSpec on = spec;
    on.engine = EngineMode::on;
    on.client = "10.0.0.98";
    on.status = 403;
    on.intercepted = true;
    records.push_back(record(on));
    const auto groups = group_findings(records, TuneOptions{});
    const FindingGroup* g = find_group(groups, "942100", "ARGS:q");
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->requests, 7U);
    EXPECT_EQ(g->hits, 7U);
    EXPECT_EQ(g->blocked, 7U);
    EXPECT_EQ(g->decisive, 6U) << "the request with 942200 too stays blocked without it";
    EXPECT_EQ(g->otherwise_clean, 6U);
    EXPECT_EQ(g->statuses.at(200), 6U) << "statuses only of DetectionOnly requests";
    EXPECT_FALSE(g->statuses.contains(403));
    EXPECT_EQ(g->examples.size(), k_max_examples);
    EXPECT_EQ(groups.front().key.rule, "942100") << "most decisive first";
}

TEST(FindingGroups, KeyIncludesTargetPathAndMethod)
{
    std::vector<RequestRecord> records;
    for (const auto& [target, path, method] :
         {std::tuple{"ARGS:a", "/x", "GET"}, std::tuple{"ARGS:b", "/x", "GET"},
          std::tuple{"ARGS:a", "/y", "GET"}, std::tuple{"ARGS:a", "/x", "POST"}}) {
        RecordSpec s;
        s.path = path;
        s.method = method;
        s.findings = {finding("942100", target)};
        records.push_back(record(s));
    }
    EXPECT_EQ(group_findings(records, TuneOptions{}).size(), 4U);
}

} // namespace
} // namespace mso
