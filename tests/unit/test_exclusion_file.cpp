// The exclusion file (protocol/exclusion_file.h): rendering per scope, stable ids across
// reruns from the marker lines, collisions moved, ranges, and hostile answers: values
// that fail the checks are reported and never written; comments stay on their line.
#include "protocol/exclusion_file.h"

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

// An exclusion the what-if says helps release caught attacks carries a warning; one
// that releases none does not.
TEST(ExclusionFile, WarnsWhenAnExclusionReleasesAttacks)
{
    json p = proposal("www.example.com", "942100", "ARGS:comment", "exact", "/index.php");
    EXPECT_EQ(render(answer(json::array({p}))).find("WARNING"), std::string::npos);
    p["releases_attacks"] = 2;
    EXPECT_NE(render(answer(json::array({p})))
                  .find("# WARNING: it also helps release 2 caught attack requests"),
              std::string::npos);
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
        proposal("www.example.com", "920450", "", "any", "/x\nSecRuleEngine Off\n#"),
        proposal("www.example.com", "920450", "", "any", "/x"),
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

// The dashboard's copy: the same rendering from the answer line, ids from the range's
// first, the header saying there was no previous file and naming what was not written.
TEST(ExclusionFile, FromAnAnswerLineAsTheDashboardOffersIt)
{
    json a = answer(json::array(
        {proposal("h.example", "942100", "ARGS:a", "exact", "/x"),
         proposal("h.example", "942100", "ARGS:b", "exact", "/x\"\nSecRuleEngine Off")}));
    a["ok"] = true;
    const auto file = exclusion_file_from_answer(a.dump(), IdRange{30000, 30009});
    ASSERT_TRUE(file) << file.error();
    EXPECT_NE(file->find("\"id:30000,"), std::string::npos) << *file;
    EXPECT_EQ(file->find("\"id:30001,"), std::string::npos) << *file;
    EXPECT_NE(file->find("# Rendered by the dashboard, which has no previous version"),
              std::string::npos);
    EXPECT_EQ(file->find("A rerun keeps the ids"), std::string::npos);
    EXPECT_NE(file->find("# Not written (failed the checks): rule 942100 target ARGS:b path "
                         "/x\"?SecRuleEngine Off: the path has characters"),
              std::string::npos)
        << *file;
    // Every line is a comment, blank, or part of a rule this renderer wrote.
    std::size_t start = 0;
    while (start < file->size()) {
        const std::size_t end = file->find('\n', start);
        const std::string line = file->substr(start, end - start);
        EXPECT_TRUE(line.empty() || line.starts_with("#") || line.starts_with("SecRule ") ||
                    line.starts_with("    "))
            << line;
        start = end == std::string::npos ? file->size() : end + 1;
    }

    // The CLI's rendering of the same answer differs only in the header's id lines.
    std::string cli = render(a, 30000);
    EXPECT_NE(cli.find("A rerun keeps the ids"), std::string::npos);

    EXPECT_EQ(exclusion_file_from_answer(R"({"ok":false,"error":"tune needs a vhost"})", IdRange{})
                  .error(),
              "tune needs a vhost");
    EXPECT_FALSE(exclusion_file_from_answer("not json", IdRange{}));
    EXPECT_FALSE(exclusion_file_from_answer("[1]", IdRange{}));
    json two = answer(json::array({proposal("h.example", "942100", "ARGS:a", "exact", "/x"),
                                   proposal("h.example", "942100", "ARGS:c", "exact", "/x")}));
    two["ok"] = true;
    EXPECT_FALSE(exclusion_file_from_answer(two.dump(), IdRange{30000, 30000})); // no free id
}

TEST(ExclusionFile, FileNameCarriesOnlyASafeHost)
{
    EXPECT_EQ(exclusion_file_name("shop.example"), "modsec-observe-exclusions-shop.example.conf");
    for (const char* bad : {"", "a\"b", "a\r\nSet-Cookie: x", "../etc", "a/b", "A;b"}) {
        EXPECT_EQ(exclusion_file_name(bad), "modsec-observe-exclusions.conf") << bad;
    }
}

} // namespace
} // namespace mso
