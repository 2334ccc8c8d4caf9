// JSON entries of ModSecurity v2 and v3: every field of real entries, invalid UTF-8,
// and broken documents.
#include "ingest/json_entry.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace mso {
namespace {

std::string read_file(const std::string& file)
{
    std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/audit/" + file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> lines(const char* file)
{
    std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/audit/" + file, std::ios::binary);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

TEST(JsonEntry, ParsesARealV2Entry)
{
    JsonEntryParser p(1 << 20);
    AuditEntry e;
    const auto r = p.parse(lines("v2_json_serial.log").at(1), e);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(e.format, AuditFormat::v2_json);
    EXPECT_EQ(e.engine, EngineMode::on);
    EXPECT_EQ(e.event.unique_id.size(), 27U);
    EXPECT_EQ(e.event.client, "127.0.0.1");
    EXPECT_EQ(e.event.method, "GET");
    EXPECT_EQ(e.event.path, "/");
    EXPECT_EQ(e.event.vhost, "block.test");
    EXPECT_EQ(e.event.status, 403);
    EXPECT_TRUE(e.event.intercepted);
    EXPECT_EQ(e.event.phase, 2);
    ASSERT_FALSE(e.event.findings.empty());
    EXPECT_EQ(e.event.findings.front().id, "942100");
}

TEST(JsonEntry, ReadsANonUtf8Body)
{
    JsonEntryParser p(1 << 20);
    int seen = 0;
    for (const std::string& line : lines("v2_json_serial.log")) {
        if (line.find("caf\xe9") == std::string::npos)
            continue;
        ++seen;
        AuditEntry e;
        const auto r = p.parse(line, e);
        ASSERT_TRUE(r) << r.error();
        EXPECT_EQ(e.event.method, "POST");
        EXPECT_FALSE(e.event.findings.empty());
    }
    EXPECT_EQ(seen, 1);
}

TEST(JsonEntry, ParsesARealV3Entry)
{
    JsonEntryParser p(1 << 20);
    AuditEntry e;
    const auto r = p.parse(lines("v3_json.log").at(0), e);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(e.format, AuditFormat::v3_json);
    EXPECT_FALSE(e.event.unique_id.empty());
    EXPECT_EQ(e.event.protocol, "HTTP/1.1");
    EXPECT_GT(e.event.time_us, 1700000000000000);
    ASSERT_FALSE(e.event.findings.empty());
    EXPECT_EQ(e.event.findings.front().severity, "CRITICAL");
    // The zone option shifts v3's zoneless local time.
    JsonEntryParser ny(1 << 20, -300);
    AuditEntry shifted;
    ASSERT_TRUE(ny.parse(lines("v3_json.log").at(0), shifted));
    EXPECT_EQ(shifted.event.time_us - e.event.time_us, 300LL * 60 * 1000000);
}

TEST(JsonEntry, RejectsBrokenDocuments)
{
    const char* bad[] = {
        "",
        "{",
        "[1,2]",
        "{\"transaction\":1}",
        "{\"request\":{}}",
        "{\"transaction\":{\"transaction_id\":\"x\",\"time\":\"nonsense\"}}",
        "{\"transaction\":{\"transaction_id\":\"\",\"time\":\"02/Dec/2026:05:47:31 +0000\"}}",
        "{\"transaction\":{\"time_stamp\":\"Wed Dec  2 05:47:45 2026\"}}",
        "{\"transaction\":{\"unique_id\":\"u\",\"time_stamp\":\"yesterday\"}}",
    };
    JsonEntryParser p(1 << 20);
    for (const char* text : bad) {
        AuditEntry e;
        EXPECT_FALSE(p.parse(text, e)) << text;
    }
    JsonEntryParser tiny(64);
    AuditEntry e;
    EXPECT_FALSE(tiny.parse(lines("v3_json.log").at(0), e));
}

TEST(JsonEntry, ToleratesOddTypes)
{
    JsonEntryParser p(1 << 20);
    AuditEntry e;
    const auto r = p.parse(
        R"({"transaction":{"unique_id":"u","time_stamp":"Wed Dec  2 05:47:45 2026","client_port":"x","request":{"method":1,"headers":[]},"response":{"http_code":"403"},"producer":{"secrules_engine":"Enabled"},"messages":[1,{"message":"m"},{"details":{"ruleId":"949110","tags":[1,"paranoia-level/3"]}}]}})",
        e);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(e.event.status, 403);
    EXPECT_EQ(e.engine, EngineMode::on);
    EXPECT_TRUE(e.event.intercepted);
    ASSERT_EQ(e.event.findings.size(), 2U);
    EXPECT_EQ(e.event.findings[1].paranoia_level, 3);
}

// What real nginx 1.22 + libmodsecurity 3.0.9 + CRS 3.3.4 posted with SecAuditLogType
// HTTPS (tests/integration/test_nginx_v3.py captured it), against nginx's own error log:
// the rule ids, "Access denied" (intercepted), Host, engine and the client's status.
TEST(JsonEntry, ReadsWhatNginxPostedAsItsErrorLogSaysIt)
{
    const auto expected = nlohmann::json::parse(read_file("v3_https/expected.json"));
    JsonEntryParser p(1 << 20);
    std::size_t seen = 0;
    std::size_t denied_without_crs_verdict = 0;
    for (const std::string& line : lines("v3_https/posts.jsonl")) {
        AuditEntry e;
        const auto r = p.parse(line, e);
        ASSERT_TRUE(r) << r.error();
        const auto want = expected.find(e.event.unique_id);
        ASSERT_NE(want, expected.end()) << e.event.unique_id;
        ++seen;
        std::set<std::string> ids;
        for (const Finding& f : e.event.findings) {
            ids.insert(f.id);
            EXPECT_EQ(f.severity, "CRITICAL") << f.id; // "severity":"2", every CRS alert here
        }
        EXPECT_EQ(ids, (*want)["rules"].get<std::set<std::string>>()) << e.event.unique_id;
        const bool denied = (*want)["denied"].get<bool>();
        EXPECT_EQ(e.event.intercepted, denied) << e.event.unique_id;
        if (denied && !ids.contains("949110"))
            ++denied_without_crs_verdict;
        if ((*want)["host"].is_null())
            continue; // nginx cut that request's error-log lines at 2,048 bytes
        EXPECT_EQ(e.event.vhost, (*want)["host"].get<std::string>());
        EXPECT_EQ(e.engine,
                  (*want)["engine"] == "on" ? EngineMode::on : EngineMode::detection_only);
        EXPECT_EQ(e.event.status, (*want)["status"].get<int>());
        EXPECT_EQ(e.event.protocol, "HTTP/1.1");
        EXPECT_EQ(e.event.path.rfind("/", 0), 0U);
    }
    EXPECT_EQ(seen, expected.size());
    EXPECT_EQ(denied_without_crs_verdict, 1U); // 200002's deny with status 400
}

TEST(JsonEntry, InfersV3InterceptionFromEngineStatusAndAlerts)
{
    const auto entry = [](const char* engine, int status, const char* rule) {
        return std::string(
                   R"({"transaction":{"unique_id":"u","time_stamp":"Wed Dec  2 05:47:45 2026",)") +
               R"("response":{"http_code":)" + std::to_string(status) +
               R"(},"producer":{"secrules_engine":")" + engine + R"("},"messages":[)" +
               (rule[0] != '\0'
                    ? std::string(R"({"message":"m","details":{"ruleId":")") + rule + R"("}})"
                    : std::string()) +
               "]}}";
    };
    const struct {
        const char* engine;
        int status;
        const char* rule;
        bool intercepted;
    } cases[] = {
        {"Enabled", 403, "949110", true},        {"Enabled", 403, "959100", true},
        {"Enabled", 400, "200002", true},        {"Enabled", 403, "123456", true},
        {"Enabled", 404, "941100", false},       {"Enabled", 405, "920420", false},
        {"Enabled", 200, "949110", false},       {"DetectionOnly", 403, "949110", false},
        {"DetectionOnly", 400, "200002", false}, {"Enabled", 403, "", false},
        {"Enabled", 404, "949110", true},
    };
    JsonEntryParser p(1 << 20);
    for (const auto& c : cases) {
        AuditEntry e;
        const std::string text = entry(c.engine, c.status, c.rule);
        ASSERT_TRUE(p.parse(text, e)) << text;
        EXPECT_EQ(e.event.intercepted, c.intercepted) << text;
        if (c.intercepted) {
            ASSERT_FALSE(e.event.findings.empty());
            EXPECT_TRUE(e.event.findings.back().intercepted) << text;
        }
    }
}

} // namespace
} // namespace mso
