// The exclusion file (cli/exclusion_file.h): rendering per scope, stable ids across
// reruns from the marker lines, collisions moved, ranges, and hostile answers: values
// that fail the checks are reported and never written; comments stay on their line.
#include "cli/exclusion_file.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

json proposal(std::string host, std::string rule, std::string target, std::string match,
              std::string path, std::string method = "")
{
    const std::string key = host + " " + rule + " " + (target.empty() ? "*" : target) + " " +
                            match + " " + (path.empty() ? "*" : path) +
                            (method.empty() ? "" : " " + method);
    return json{{"key", key},
                {"host", host},
                {"rule", rule},
                {"target", target},
                {"match", match},
                {"path", path},
                {"method", method},
                {"why", "because"},
                {"hits", 42},
                {"requests", 40},
                {"clients", 25},
                {"first_seen", "2026-12-01T10:00:00Z"},
                {"last_seen", "2026-12-02T10:00:00Z"},
                {"examples", {"Zx1", "Zx2"}},
                {"removes_blocks", 40},
                {"removes_blocks_clients", 25}};
}

json answer(json exclusions)
{
    return json{{"vhost", "www.example.com"},
                {"crs_version", "4"},
                {"paranoia_level", 1},
                {"since", "2026-11-25T00:00:00Z"},
                {"until", "2026-12-02T00:00:00Z"},
                {"events", 100},
                {"what_if",
                 {{"would_block", 45},
                  {"would_block_after", 5},
                  {"attacks_caught", 5},
                  {"attacks_caught_after", 5},
                  {"caveats", {"chained rules ...", "line\nSecRuleEngine Off\\"}}}},
                {"exclusions", std::move(exclusions)}};
}

std::string render(const json& a, long first = 10000)
{
    std::vector<std::string> rejected;
    auto specs = specs_from_answer(a, rejected);
    std::vector<std::string> moved;
    EXPECT_TRUE(assign_ids(specs, {}, IdRange{first, first + 99}, {}, moved));
    return render_exclusion_file(header_from_answer(a), specs);
}

TEST(ExclusionFile, RendersEachScope)
{
    struct Case {
        json p;
        std::string expected;
    };
    const Case cases[] = {
        {proposal("www.example.com", "942100", "ARGS:comment", "exact", "/index.php"),
         "SecRule SERVER_NAME \"@streq www.example.com\" \\\n"
         "    \"id:10000,phase:1,pass,nolog,t:none,t:lowercase,chain\"\n"
         "    SecRule REQUEST_FILENAME \"@streq /index.php\" \\\n"
         "        \"t:none,ctl:ruleRemoveTargetById=942100;ARGS:comment\"\n"},
        {proposal("www.example.com", "941160", "ARGS:content", "prefix", "/wp-admin/"),
         "    SecRule REQUEST_FILENAME \"@beginsWith /wp-admin/\" \\\n"
         "        \"t:none,ctl:ruleRemoveTargetById=941160;ARGS:content\"\n"},
        {proposal("cms.example.com", "941100", "ARGS:body", "exact", "/node/add", "POST"),
         "SecRule SERVER_NAME \"@streq cms.example.com\" \\\n"
         "    \"id:10000,phase:1,pass,nolog,t:none,t:lowercase,chain\"\n"
         "    SecRule REQUEST_METHOD \"@streq POST\" \\\n"
         "        \"t:none,chain\"\n"
         "    SecRule REQUEST_FILENAME \"@streq /node/add\" \\\n"
         "        \"t:none,ctl:ruleRemoveTargetById=941100;ARGS:body\"\n"},
        {proposal("matomo.example.com", "920450", "", "any", ""),
         "SecRule SERVER_NAME \"@streq matomo.example.com\" \\\n"
         "    \"id:10000,phase:1,pass,nolog,t:none,t:lowercase,ctl:ruleRemoveById=920450\"\n"},
    };
    for (const Case& c : cases) {
        const std::string text = render(answer(json::array({c.p})));
        EXPECT_NE(text.find(c.expected), std::string::npos) << text;
        EXPECT_NE(text.find("# mso-exclusion id=10000 key=" + c.p["key"].get<std::string>()),
                  std::string::npos);
        EXPECT_NE(text.find("Made for CRS 4 at blocking paranoia level 1"), std::string::npos);
        EXPECT_NE(text.find("BEFORE the CRS"), std::string::npos);
        EXPECT_NE(text.find("evidence: 42 hits in 40 requests from 25 clients"), std::string::npos);
        EXPECT_NE(text.find("examples (unique ids): Zx1, Zx2"), std::string::npos);
        EXPECT_NE(text.find("would-block requests it removes: 40 (25 clients;"), std::string::npos);
    }
}

TEST(ExclusionFile, EveryLineIsACommentOrOurDirective)
{
    // A caveat with a newline and a trailing backslash stays one comment line.
    const std::string text =
        render(answer(json::array({proposal("h.example", "942100", "ARGS:a", "exact", "/x")})));
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        EXPECT_TRUE(line.empty() || line.starts_with("#") || line.starts_with("SecRule ") ||
                    line.starts_with("    "))
            << line;
        if (line.starts_with("#")) {
            EXPECT_FALSE(line.ends_with("\\")) << line;
        }
    }
    EXPECT_EQ(text.find("\nSecRuleEngine"), std::string::npos);
}

TEST(ExclusionFile, HostileAnswersAreRejected)
{
    const json bad[] = {
        proposal("www.example.com", "942100", "ARGS:a,ctl:ruleEngine=Off", "exact", "/x"),
        proposal("www.example.com", "942100", "ARGS:a", "exact", "/x\"\nSecRuleEngine Off"),
        proposal("evil\" \"x", "942100", "ARGS:a", "exact", "/x"),
        proposal("www.example.com", "942100,ctl:ruleEngine=Off", "ARGS:a", "exact", "/x"),
        proposal("www.example.com", "942100", "ARGS:a", "regex", "/x"),
        proposal("www.example.com", "942100", "ARGS:a", "exact", "/x", "POST\"\nSecRuleEngine Off"),
        proposal("www.example.com", "942100", "ARGS:a", "exact", "/x", "post"),
        proposal("www.example.com", "920450", "", "any", "", "POST"),
        json{{"key", "x"}},
        json("not an object"),
    };
    for (const json& p : bad) {
        std::vector<std::string> rejected;
        const auto specs = specs_from_answer(answer(json::array({p})), rejected);
        EXPECT_TRUE(specs.empty()) << p.dump();
        EXPECT_EQ(rejected.size(), 1U) << p.dump();
    }
    // A key that does not match its fields (so a rerun could not find it).
    json p = proposal("h.example", "942100", "ARGS:a", "exact", "/x");
    p["key"] = "h.example 942100 ARGS:b exact /x";
    std::vector<std::string> rejected;
    EXPECT_TRUE(specs_from_answer(answer(json::array({p})), rejected).empty());
}

TEST(ExclusionFile, IdsStableAcrossRerunsAndMovedOffLoadedOnes)
{
    const json a = answer(json::array({proposal("h.example", "942100", "ARGS:a", "exact", "/x"),
                                       proposal("h.example", "942100", "ARGS:b", "exact", "/x")}));
    std::vector<std::string> rejected;
    auto specs = specs_from_answer(a, rejected);
    std::vector<std::string> moved;
    ASSERT_TRUE(assign_ids(specs, {}, IdRange{10000, 10099}, {10000}, moved));
    EXPECT_EQ(specs[0].id, 10001);
    EXPECT_EQ(specs[1].id, 10002);
    const std::string first = render_exclusion_file(header_from_answer(a), specs);
    const auto previous = ids_in_file(first);
    ASSERT_EQ(previous.size(), 2U);

    // Rerun: a new exclusion sorts first, the old ones keep their ids.
    const json b = answer(json::array({proposal("h.example", "941100", "ARGS:c", "exact", "/y"),
                                       proposal("h.example", "942100", "ARGS:a", "exact", "/x"),
                                       proposal("h.example", "942100", "ARGS:b", "exact", "/x")}));
    auto again = specs_from_answer(b, rejected);
    ASSERT_TRUE(assign_ids(again, previous, IdRange{10000, 10099}, {10000}, moved));
    EXPECT_EQ(again[0].id, 10003);
    EXPECT_EQ(again[1].id, 10001);
    EXPECT_EQ(again[2].id, 10002);
    EXPECT_TRUE(moved.empty());

    // 10001 is now loaded elsewhere: moved and reported.
    ASSERT_TRUE(assign_ids(again, previous, IdRange{10000, 10099}, {10000, 10001}, moved));
    EXPECT_EQ(again[1].id, 10004);
    ASSERT_EQ(moved.size(), 1U);
    EXPECT_NE(moved[0].find("10001"), std::string::npos);

    // The range is full.
    EXPECT_FALSE(assign_ids(again, {}, IdRange{10000, 10001}, {}, moved));
}

TEST(ExclusionFile, IdRanges)
{
    EXPECT_EQ(parse_id_range("10000-19999")->first, 10000);
    EXPECT_EQ(parse_id_range("10000-19999")->last, 19999);
    for (const char* bad : {"", "10000", "20000-10000", "0-10", "900000-900100", "a-b", "1-2-3"}) {
        EXPECT_FALSE(parse_id_range(bad)) << bad;
    }
}

TEST(ExclusionFile, CommentSafe)
{
    EXPECT_EQ(comment_safe("a\nb\\c\x1b[31m"), "a?b?c?[31m");
    EXPECT_EQ(comment_safe("abcdef", 3), "abc...");
}

} // namespace
} // namespace mso
