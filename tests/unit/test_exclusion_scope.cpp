// Scoping (exclusion_scope.h), table-driven: one path, a path family, the host for a
// target on many paths, the whole rule for a protocol rule on a header or a rule on
// many targets everywhere; hostile request data is skipped, never written.
#include "tuning/exclusion_scope.h"

#include "tuning_records.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace mso {
namespace {

using testing::finding;
using testing::from_clients;
using testing::RecordSpec;

std::vector<RequestRecord> traffic(const std::vector<std::pair<std::string, std::string>>& hits,
                                   const std::string& rule, int clients = 6)
{
    std::vector<RequestRecord> out;
    for (const auto& [path, target] : hits) {
        RecordSpec s;
        s.path = path;
        s.findings = {finding(rule, target)};
        auto more = from_clients(s, clients);
        out.insert(out.end(), more.begin(), more.end());
    }
    return out;
}

struct ScopeCase {
    const char* name;
    std::string rule;
    std::vector<std::pair<std::string, std::string>> hits; // path, target
    std::vector<std::string> expected;                     // keys
};

TEST(ExclusionScope, Scopes)
{
    const ScopeCase cases[] = {
        {"one target on one path",
         "942100",
         {{"/index.php", "ARGS:comment"}},
         {"www.example.com 942100 ARGS:comment exact /index.php GET"}},
        {"two paths, no family: one each",
         "942100",
         {{"/a.php", "ARGS:q"}, {"/b.php", "ARGS:q"}},
         {"www.example.com 942100 ARGS:q exact /a.php GET",
          "www.example.com 942100 ARGS:q exact /b.php GET"}},
        {"a path family",
         "941160",
         {{"/wp-admin/post.php", "ARGS:content"},
          {"/wp-admin/edit.php", "ARGS:content"},
          {"/wp-admin/page.php", "ARGS:content"}},
         {"www.example.com 941160 ARGS:content prefix /wp-admin/ GET"}},
        {"many paths, no common directory: the host",
         "942100",
         {{"/a", "ARGS:t"}, {"/b", "ARGS:t"}, {"/c", "ARGS:t"}, {"/d", "ARGS:t"}, {"/e", "ARGS:t"}},
         {"www.example.com 942100 ARGS:t any *"}},
        {"chained protocol rule on a header: the whole rule, host only",
         "920450",
         {{"/matomo.php", "REQUEST_HEADERS:Expect"}},
         {"www.example.com 920450 * any *"}},
        {"chained protocol rule logging its later link: the whole rule, host only",
         "920310",
         {{"/", "REQUEST_HEADERS:User-Agent"}},
         {"www.example.com 920310 * any *"}},
        {"many paths under one directory: the family, not the host",
         "942100",
         {{"/app/a", "ARGS:t"},
          {"/app/b", "ARGS:t"},
          {"/app/c", "ARGS:t"},
          {"/app/d", "ARGS:t"},
          {"/app/e", "ARGS:t"}},
         {"www.example.com 942100 ARGS:t prefix /app/ GET"}},
        {"a chain's TX target on many paths: the rule on each path, never the host",
         "942100",
         {{"/a", "TX:0"}, {"/b", "TX:0"}, {"/c", "TX:0"}, {"/d", "TX:0"}, {"/e", "TX:0"}},
         {"www.example.com 942100 * exact /a GET", "www.example.com 942100 * exact /b GET",
          "www.example.com 942100 * exact /c GET", "www.example.com 942100 * exact /d GET",
          "www.example.com 942100 * exact /e GET"}},
        {"protocol rule on a header it names: that header, host only",
         "920270",
         {{"/a", "REQUEST_HEADERS:Referer"}},
         {"www.example.com 920270 REQUEST_HEADERS:Referer any *"}},
        {"a chain's TX target: the rule on its path",
         "942100",
         {{"/x", "TX:0"}},
         {"www.example.com 942100 * exact /x GET"}},
        {"many targets on many paths: the whole rule, host only",
         "942200",
         {{"/a", "ARGS:1"}, {"/b", "ARGS:2"}, {"/c", "ARGS:3"}, {"/d", "ARGS:4"}, {"/e", "ARGS:5"}},
         {"www.example.com 942200 * any *"}},
    };
    for (const ScopeCase& c : cases) {
        const auto groups = group_findings(traffic(c.hits, c.rule), TuneOptions{});
        const Proposal p = propose(groups, "WWW.Example.com", TuneOptions{});
        std::vector<std::string> keys;
        for (const Exclusion& x : p.exclusions) {
            keys.push_back(x.key);
            EXPECT_EQ(x.host, "www.example.com") << c.name;
            EXPECT_FALSE(x.why.empty()) << c.name;
        }
        EXPECT_EQ(keys, c.expected) << c.name;
        EXPECT_TRUE(p.skipped.empty()) << c.name;
    }
}

TEST(ExclusionScope, MethodWhenTheEvidenceHasOne)
{
    RecordSpec post;
    post.path = "/node/add";
    post.method = "POST";
    post.findings = {finding("941100", "ARGS:body")};
    auto records = from_clients(post, 6);
    Proposal p = propose(group_findings(records, TuneOptions{}), "cms.example", TuneOptions{});
    ASSERT_EQ(p.exclusions.size(), 1U);
    EXPECT_EQ(p.exclusions[0].key, "cms.example 941100 ARGS:body exact /node/add POST");
    EXPECT_EQ(p.exclusions[0].method, "POST");
    EXPECT_NE(p.exclusions[0].why.find("method POST only"), std::string::npos);

    // The same field also sent by PUT: no method scope, one exclusion for both.
    RecordSpec put = post;
    put.method = "PUT";
    auto more = from_clients(put, 6, 20);
    records.insert(records.end(), more.begin(), more.end());
    p = propose(group_findings(records, TuneOptions{}), "cms.example", TuneOptions{});
    ASSERT_EQ(p.exclusions.size(), 1U);
    EXPECT_EQ(p.exclusions[0].key, "cms.example 941100 ARGS:body exact /node/add");
    EXPECT_TRUE(p.exclusions[0].method.empty());

    // A method that cannot be written safely: no method scope.
    RecordSpec odd = post;
    odd.method = "P\"OST";
    p = propose(group_findings(from_clients(odd, 6), TuneOptions{}), "cms.example", TuneOptions{});
    ASSERT_EQ(p.exclusions.size(), 1U);
    EXPECT_TRUE(p.exclusions[0].method.empty());

    // A header rule host-wide: never by method.
    RecordSpec matomo = post;
    matomo.path = "/matomo.php";
    matomo.findings = {finding("920450", "REQUEST_HEADERS:Expect")};
    p = propose(group_findings(from_clients(matomo, 6), TuneOptions{}), "m.example", TuneOptions{});
    ASSERT_EQ(p.exclusions.size(), 1U);
    EXPECT_EQ(p.exclusions[0].key, "m.example 920450 * any *");
}

// A wider scope that would remove an attack group's findings falls back to the next
// narrower one, and says so.
TEST(ExclusionScope, WiderScopesSpareAttackGroups)
{
    struct Case {
        const char* name;
        std::vector<std::pair<std::string, std::string>> fp; // path, target (6 clients each)
        std::string attack_path;
        std::string attack_target;
        std::vector<std::string> expected;
    };
    const Case cases[] = {
        {"not the host: the target on each path",
         {{"/a", "ARGS:t"}, {"/b", "ARGS:t"}, {"/c", "ARGS:t"}, {"/d", "ARGS:t"}, {"/e", "ARGS:t"}},
         "/x",
         "ARGS:t",
         {"h 942100 ARGS:t exact /a GET", "h 942100 ARGS:t exact /b GET",
          "h 942100 ARGS:t exact /c GET", "h 942100 ARGS:t exact /d GET",
          "h 942100 ARGS:t exact /e GET"}},
        {"not the path family: each path",
         {{"/app/a", "ARGS:t"}, {"/app/b", "ARGS:t"}, {"/app/c", "ARGS:t"}},
         "/app/admin",
         "ARGS:t",
         {"h 942100 ARGS:t exact /app/a GET", "h 942100 ARGS:t exact /app/b GET",
          "h 942100 ARGS:t exact /app/c GET"}},
        {"another target of the family is no reason to narrow",
         {{"/app/a", "ARGS:t"}, {"/app/b", "ARGS:t"}, {"/app/c", "ARGS:t"}},
         "/app/admin",
         "ARGS:id",
         {"h 942100 ARGS:t prefix /app/ GET"}},
        {"not the whole rule: each target",
         {{"/a", "ARGS:1"}, {"/b", "ARGS:2"}, {"/c", "ARGS:3"}, {"/d", "ARGS:4"}, {"/e", "ARGS:5"}},
         "/x",
         "ARGS:id",
         {"h 942100 ARGS:1 exact /a GET", "h 942100 ARGS:2 exact /b GET",
          "h 942100 ARGS:3 exact /c GET", "h 942100 ARGS:4 exact /d GET",
          "h 942100 ARGS:5 exact /e GET"}},
    };
    for (const Case& c : cases) {
        auto records = traffic(c.fp, "942100");
        RecordSpec attack;
        attack.client = "198.51.100.7";
        attack.path = c.attack_path;
        attack.findings = {finding("942100", c.attack_target)};
        records.push_back(testing::record(attack));
        const auto groups = group_findings(records, TuneOptions{});
        const Proposal p = propose(groups, "h", TuneOptions{});
        std::vector<std::string> keys;
        for (const Exclusion& x : p.exclusions) {
            keys.push_back(x.key);
            EXPECT_EQ(covered_attack(x, groups), nullptr) << c.name << ": " << x.key;
        }
        EXPECT_EQ(keys, c.expected) << c.name;
        if (c.expected.size() > 1) {
            EXPECT_NE(p.exclusions[0].why.find("likely-attack group 942100"), std::string::npos)
                << c.name << ": " << p.exclusions[0].why;
        }
        EXPECT_TRUE(p.skipped.empty()) << c.name;
    }
}

// A chained protocol rule (920310 logs its later link, User-Agent) whose whole-rule
// removal would spare no scanner: on its path, still the whole rule (a target removal
// could not reach the logged link), never `ctl:ruleRemoveTargetById` on the header.
TEST(ExclusionScope, ChainedProtocolRuleNarrowedKeepsTheWholeRule)
{
    auto records = traffic({{"/api/ping", "REQUEST_HEADERS:User-Agent"}}, "920310");
    RecordSpec scan;
    scan.client = "198.51.100.7";
    scan.path = "/wp-login.php";
    scan.findings = {finding("920310", "REQUEST_HEADERS:User-Agent")};
    scan.extra_rules = {"913100"};
    records.push_back(testing::record(scan));
    const auto groups = group_findings(records, TuneOptions{});
    const Proposal p = propose(groups, "h", TuneOptions{});
    ASSERT_EQ(p.exclusions.size(), 1U);
    EXPECT_EQ(p.exclusions[0].key, "h 920310 * exact /api/ping GET");
    EXPECT_TRUE(p.exclusions[0].target.empty());
    EXPECT_NE(p.exclusions[0].why.find("not the whole rule"), std::string::npos)
        << p.exclusions[0].why;
}

// A rule without a nameable target (a chain's TX variable) on a path an attack also
// fires it on: no exclusion can spare the attack, so the group is skipped, with why.
TEST(ExclusionScope, NoExclusionWhenEvenTheNarrowestRemovesAnAttack)
{
    auto records = traffic({{"/x", "TX:0"}}, "942100");
    RecordSpec attack;
    attack.client = "198.51.100.7";
    attack.path = "/x";
    attack.findings = {finding("942100", "ARGS:id")};
    records.push_back(testing::record(attack));
    const auto groups = group_findings(records, TuneOptions{});
    const Proposal p = propose(groups, "h", TuneOptions{});
    EXPECT_TRUE(p.exclusions.empty());
    ASSERT_EQ(p.skipped.size(), 1U);
    EXPECT_NE(p.skipped[0].reason.find("942100 ARGS:id GET /x"), std::string::npos)
        << p.skipped[0].reason;
}

// The digits after the first "id:" of a configuration line that has some, "" when none.
std::string rule_id_in(const std::string& line)
{
    for (auto at = line.find("id:"); at != std::string::npos; at = line.find("id:", at + 1)) {
        std::size_t end = at + 3;
        while (end < line.size() && line[end] >= '0' && line[end] <= '9') {
            ++end;
        }
        if (end > at + 3) {
            return line.substr(at + 3, end - at - 3);
        }
    }
    return {};
}

// The chained protocol rules this file knows are exactly those of the CRS 3.3.4 and
// 4.28 rule files (Debian's modsecurity-crs and ../shared/crs-4.28.0): a rule set that
// adds one fails here.
TEST(ExclusionScope, ChainedProtocolRulesMatchTheRuleSets)
{
    const std::string dirs[] = {"/usr/share/modsecurity-crs/rules",
                                std::string(MSO_TEST_DATA_DIR) +
                                    "/../../../shared/crs-4.28.0/rules"};
    std::set<std::string> chained;
    std::set<std::string> all;
    int files = 0;
    for (const std::string& dir : dirs) {
        for (const char* name :
             {"/REQUEST-920-PROTOCOL-ENFORCEMENT.conf", "/REQUEST-921-PROTOCOL-ATTACK.conf"}) {
            std::ifstream in(dir + name);
            if (!in) {
                continue;
            }
            ++files;
            // A rule starts at a SecRule in column 0; an indented SecRule is a chain link.
            std::string line;
            std::string current;
            while (std::getline(in, line)) {
                if (line.starts_with("SecRule") || line.starts_with("SecAction")) {
                    current.clear();
                }
                if (const std::string id = rule_id_in(line); current.empty() && !id.empty()) {
                    current = id;
                    all.insert(current);
                }
                const auto first = line.find_first_not_of(" \t");
                if (first != std::string::npos && first > 0 &&
                    line.compare(first, 7, "SecRule") == 0 && !current.empty()) {
                    chained.insert(current);
                }
            }
        }
    }
    ASSERT_EQ(files, 4) << "the CRS 3.3.4 and 4.28 rule files";
    ASSERT_GT(chained.size(), 20U);
    for (const std::string& id : all) {
        EXPECT_EQ(chained_protocol_rule(id), chained.contains(id)) << id;
    }
    EXPECT_FALSE(chained_protocol_rule("920270"));
}

TEST(ExclusionScope, AttacksGetNoExclusion)
{
    const auto groups = group_findings(traffic({{"/x", "ARGS:id"}}, "942100", 2), TuneOptions{});
    ASSERT_EQ(groups.size(), 1U);
    EXPECT_EQ(groups[0].label, GroupLabel::likely_attack);
    EXPECT_TRUE(propose(groups, "h", TuneOptions{}).exclusions.empty());
}

TEST(ExclusionScope, HostileInputIsSkippedAndReported)
{
    const std::vector<std::pair<std::string, std::string>> hostile = {
        {"/a\"b", "ARGS:x"},                  // a quote in the path
        {"/a\nSecRuleEngine Off", "ARGS:x"},  // a newline and a directive
        {"/%{tx.x}", "ARGS:x"},               // a macro
        {"/ok", "ARGS:a,ctl:ruleEngine=Off"}, // a comma ends the ctl action
        {"/ok", "ARGS:a;b"},                  // a ';' splits the target
        {"/ok", "ARGS:/^re$/"},               // a regular expression
        {"/ok", "ARGS:a b"},                  // a space
        {"/ok", "ARGS:a\\"},                  // a backslash
        {"/p%20q", "ARGS:x"},                 // percent-encoding (REQUEST_FILENAME is decoded)
    };
    for (const auto& [path, target] : hostile) {
        const auto groups = group_findings(traffic({{path, target}}, "942100"), TuneOptions{});
        const Proposal p = propose(groups, "www.example.com", TuneOptions{});
        EXPECT_TRUE(p.exclusions.empty()) << path << " " << target;
        ASSERT_EQ(p.skipped.size(), 1U) << path << " " << target;
        EXPECT_FALSE(p.skipped[0].reason.empty());
    }
    const auto groups = group_findings(traffic({{"/ok", "ARGS:x"}}, "942100"), TuneOptions{});
    for (const char* host : {"evil\".com", "a b", "x\ny", "-x", ""}) {
        const Proposal p = propose(groups, host, TuneOptions{});
        EXPECT_TRUE(p.exclusions.empty()) << host;
        EXPECT_EQ(p.skipped.size(), 1U) << host;
    }
}

TEST(ExclusionScope, Excludes)
{
    Exclusion x;
    x.rule = "942100";
    x.target = "ARGS:q";
    x.match = PathMatch::prefix;
    x.path = "/app/";
    RequestRecord r;
    r.path = "/app/search";
    EXPECT_TRUE(excludes(x, r, finding("942100", "ARGS:q")));
    EXPECT_FALSE(excludes(x, r, finding("942100", "ARGS:p")));
    EXPECT_FALSE(excludes(x, r, finding("942101", "ARGS:q")));
    r.path = "/other";
    EXPECT_FALSE(excludes(x, r, finding("942100", "ARGS:q")));
    x.target.clear();
    x.match = PathMatch::any;
    EXPECT_TRUE(excludes(x, r, finding("942100", "REQUEST_HEADERS:x")));
    r.method = "GET";
    x.method = "POST";
    EXPECT_FALSE(excludes(x, r, finding("942100", "REQUEST_HEADERS:x")));
    r.method = "POST";
    EXPECT_TRUE(excludes(x, r, finding("942100", "REQUEST_HEADERS:x")));
}

} // namespace
} // namespace mso
