// The characters an exclusion may carry (protocol/exclusion_syntax.h), table-driven with
// hostile inputs: anything that could end a quoted argument, an action or a line, or
// start a macro or a regular expression, is refused.
#include "protocol/exclusion_syntax.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

TEST(ExclusionSyntax, Hosts)
{
    for (const char* ok : {"www.example.com", "a", "x-1.example", "10.0.0.1"}) {
        EXPECT_TRUE(safe_host(ok)) << ok;
    }
    for (const char* bad : {"", "WWW.example.com", "a\"b", "a b", "a\nb", "-a", ".a", "a:80",
                            "a%{x}", "a\\b", "a,b"}) {
        EXPECT_FALSE(safe_host(bad)) << bad;
    }
    EXPECT_FALSE(safe_host(std::string(254, 'a')));
}

TEST(ExclusionSyntax, Paths)
{
    for (const char* ok : {"/", "/index.php", "/wp-admin/post.php", "/a_b/~c/d-e.f"}) {
        EXPECT_TRUE(safe_path(ok)) << ok;
    }
    for (const char* bad : {"", "index.php", "/a\"b", "/a b", "/a\nSecRuleEngine Off", "/%{tx.x}",
                            "/a%20b", "/a\\", "/a,b", "/a;b", "/a'b", "/a?b"}) {
        EXPECT_FALSE(safe_path(bad)) << bad;
    }
    EXPECT_FALSE(safe_path(std::string_view("/a\0b", 4)));
}

TEST(ExclusionSyntax, Targets)
{
    for (const char* ok :
         {"ARGS:comment", "REQUEST_HEADERS:Expect", "ARGS:json.a.b", "ARGS:a[b]",
          "REQUEST_COOKIES:_ga", "REQUEST_BODY", "ARGS_NAMES:x-y", "REQUEST_HEADERS:a/b"}) {
        EXPECT_TRUE(safe_target(ok)) << ok;
    }
    for (const char* bad : {"", "args:x", "ARGS:", "ARGS:a,ctl:ruleEngine=Off", "ARGS:a;b",
                            "ARGS:/re/", "ARGS:a b", "ARGS:a\"", "ARGS:a'", "ARGS:a\\", "ARGS:a\n",
                            "ARGS:%{x}", "ARGS|ARGS_NAMES", "!ARGS:x"}) {
        EXPECT_FALSE(safe_target(bad)) << bad;
    }
}

TEST(ExclusionSyntax, RuleIds)
{
    EXPECT_TRUE(safe_rule_id("942100"));
    EXPECT_TRUE(safe_rule_id("1"));
    for (const char* bad : {"", "0", "0942100", "94210a", "1234567890", "-1", "942100,"}) {
        EXPECT_FALSE(safe_rule_id(bad)) << bad;
    }
}

TEST(ExclusionSyntax, Methods)
{
    for (const char* good : {"GET", "POST", "PROPFIND", "A"}) {
        EXPECT_TRUE(safe_method(good)) << good;
    }
    for (const char* bad : {"", "post", "GE T", "POST\"", "POST,ctl:ruleEngine=Off", "GET\n",
                            "%{tx.x}", "ABCDEFGHIJKLMNOPQ"}) {
        EXPECT_FALSE(safe_method(bad)) << bad;
    }
}

} // namespace
} // namespace mso
