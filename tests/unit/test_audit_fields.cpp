// The shared field parsers of the audit-log formats: time stamps (with mod_security2's
// doubled sign), asctime, request lines, headers, severities and CRS scores.
#include "ingest/audit_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace mso {
namespace {

constexpr std::int64_t k_utc_0547 = 1796190451000000; // 2026-12-02 05:47:31 UTC

TEST(AuditFields, ParsesAuditTimes)
{
    struct Case {
        const char* text;
        std::optional<std::int64_t> want;
    };
    const Case cases[] = {
        {"02/Dec/2026:05:47:31.657639 +0000", k_utc_0547 + 657639},
        {"02/Dec/2026:05:47:31 +0000", k_utc_0547},             // v3 Native: no microseconds
        {"02/Dec/2026:00:47:31.000001 --0500", k_utc_0547 + 1}, // doubled sign
        {"02/Dec/2026:00:47:31.000001 -0500", k_utc_0547 + 1},
        {"02/Dec/2026:02:17:31 --03-30", k_utc_0547}, // minutes with a sign too
        {"02/Dec/2026:06:47:31 +0100", k_utc_0547},
        {"01/Jan/1970:00:00:00 +0000", 0},
        {"02/Dec/2026:05:47:31", std::nullopt},
        {"02/Foo/2026:05:47:31 +0000", std::nullopt},
        {"32/Dec/2026:05:47:31 +0000", std::nullopt},
        {"02/Dec/2026:25:47:31 +0000", std::nullopt},
        {"02/Dec/2026:05:47:31.12 +0000", std::nullopt},
        {"02/Dec/2026:05:47:31 +0000 trailing", std::nullopt},
        {"02/Dec/2026:05:47:31 ---0500", std::nullopt},
        {"", std::nullopt},
    };
    for (const Case& c : cases)
        EXPECT_EQ(parse_audit_time(c.text), c.want) << c.text;
}

TEST(AuditFields, ParsesAsctimeInAGivenZone)
{
    EXPECT_EQ(parse_asctime("Wed Dec  2 05:47:31 2026", 0), k_utc_0547);
    EXPECT_EQ(parse_asctime("Wed Dec  2 00:47:31 2026", -300), k_utc_0547);
    EXPECT_EQ(parse_asctime("Sat Dec 12 05:47:31 2026", 0), k_utc_0547 + 10 * 86400000000LL);
    EXPECT_EQ(parse_asctime("Wed Dec  2 05:47:31", 0), std::nullopt);
    EXPECT_EQ(parse_asctime("Wed Xyz  2 05:47:31 2026", 0), std::nullopt);
    EXPECT_EQ(parse_asctime("", 0), std::nullopt);
}

TEST(AuditFields, SplitsRequestLines)
{
    struct Case {
        const char* line;
        const char* method;
        const char* path;
        const char* query;
        const char* protocol;
    };
    const Case cases[] = {
        {"GET /?id=1%27 HTTP/1.1", "GET", "/", "id=1%27", "HTTP/1.1"},
        {"POST /upload HTTP/1.0", "POST", "/upload", "", "HTTP/1.0"},
        {"GET /a b?x HTTP/1.1", "GET", "/a b", "x", "HTTP/1.1"},
        {"GET /p#frag?no HTTP/1.1", "GET", "/p", "", "HTTP/1.1"},
        {"GET http://h.test/x/y?q=1 HTTP/1.1", "GET", "/x/y", "q=1", "HTTP/1.1"},
        {"OPTIONS * HTTP/1.1", "OPTIONS", "*", "", "HTTP/1.1"},
        {"GET /old", "GET", "/old", "", ""},
        {"GARBAGE", "GARBAGE", "", "", ""},
        {"", "", "", "", ""},
    };
    for (const Case& c : cases) {
        RequestEvent e;
        split_request_line(c.line, e);
        EXPECT_EQ(e.method, c.method) << c.line;
        EXPECT_EQ(e.path, c.path) << c.line;
        EXPECT_EQ(e.query, c.query) << c.line;
        EXPECT_EQ(e.protocol, c.protocol) << c.line;
    }
}

TEST(AuditFields, FindsHeadersInAnyCase)
{
    const std::string headers = "Host: shop.test\r\nuser-agent:  curl/8 \nX: y\nHostile\n";
    EXPECT_EQ(find_header(headers, "Host"), "shop.test");
    EXPECT_EQ(find_header(headers, "User-Agent"), "curl/8");
    EXPECT_EQ(find_header(headers, "Missing"), "");
    EXPECT_EQ(find_header("", "Host"), "");
}

TEST(AuditFields, NamesNumericSeverities)
{
    EXPECT_EQ(severity_name("2"), "CRITICAL");
    EXPECT_EQ(severity_name("0"), "EMERGENCY");
    EXPECT_EQ(severity_name("7"), "DEBUG");
    EXPECT_EQ(severity_name("8"), "8");
    EXPECT_EQ(severity_name("WARNING"), "WARNING");
}

TEST(AuditFields, AddsAlertFindingsWithOrWithoutTheMarker)
{
    RequestEvent e;
    std::string scratch;
    EXPECT_TRUE(add_alert_finding(
        R"m(Warning. Pattern match "x" at ARGS:a. [file "f"] [line "1"] [id "941100"] [msg "XSS \"a\""] [data "Matched Data: x found within ARGS:a: x"] [severity "2"] [tag "paranoia-level/2"])m",
        e, scratch));
    EXPECT_TRUE(add_alert_finding(
        R"m(ModSecurity: Access denied with code 403 (phase 2). Operator GE matched 5 at TX:anomaly_score. [file "f"] [line "1"] [id "949110"] [msg "Inbound Anomaly Score Exceeded (Total Score: 5)"] [severity "CRITICAL"])m",
        e, scratch));
    ASSERT_EQ(e.findings.size(), 2U);
    EXPECT_EQ(e.findings[0].id, "941100");
    EXPECT_EQ(e.findings[0].msg, "XSS \"a\"");
    EXPECT_EQ(e.findings[0].severity, "CRITICAL");
    EXPECT_EQ(e.findings[0].paranoia_level, 2);
    EXPECT_EQ(e.findings[0].target, "ARGS:a");
    EXPECT_FALSE(e.findings[0].intercepted);
    EXPECT_TRUE(e.findings[1].intercepted);
    EXPECT_EQ(e.findings[1].phase, 2);
}

TEST(AuditFields, ReadsScoresFromCrsMessages)
{
    struct Case {
        const char* id;
        const char* msg;
        AnomalyScores want;
    };
    AnomalyScores crs3;
    crs3.inbound = 10;
    crs3.inbound_pl = {5, 5, 0, 0};
    AnomalyScores crs3_out;
    crs3_out.outbound = 4;
    AnomalyScores crs4;
    crs4.inbound = 5;
    crs4.outbound = 4;
    crs4.inbound_pl = {5, 0, 0, 0};
    crs4.outbound_pl = {0, 4, 0, 0};
    crs4.inbound_threshold = 5;
    crs4.outbound_threshold = 4;
    AnomalyScores crs3_949;
    crs3_949.inbound = 7;
    const Case cases[] = {
        {"949110", "Inbound Anomaly Score Exceeded (Total Score: 7)", crs3_949},
        {"980130",
         "Inbound Anomaly Score Exceeded (Total Inbound Score: 10 - SQLI=5,XSS=5,RFI=0): "
         "individual paranoia level scores: 5, 5, 0, 0",
         crs3},
        {"959100", "Outbound Anomaly Score Exceeded (Total Score: 4)", crs3_out},
        {"980170",
         "Anomaly Scores: (Inbound Scores: blocking=5, detection=5, per_pl=5-0-0-0, "
         "threshold=5) - (Outbound Scores: blocking=4, detection=4, per_pl=0-4-0-0, "
         "threshold=4) - (SQLI=5, XSS=0)",
         crs4},
    };
    for (const Case& c : cases) {
        RequestEvent e;
        Finding& f = e.findings.emplace_back();
        f.id = c.id;
        f.msg = c.msg;
        scores_from_findings(e);
        ASSERT_TRUE(e.scores.has_value()) << c.id;
        EXPECT_EQ(*e.scores, c.want) << c.id;
    }
    RequestEvent none;
    none.findings.emplace_back().id = "942100";
    scores_from_findings(none);
    EXPECT_FALSE(none.scores.has_value());
}

TEST(AuditFields, UnescapesValues)
{
    std::string out;
    assign_unescaped(out, R"(a\"b\\c\x41)");
    EXPECT_EQ(out, "a\"b\\cA");
}

} // namespace
} // namespace mso
