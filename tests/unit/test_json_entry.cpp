// JSON entries of ModSecurity v2 and v3: every field of real entries, invalid UTF-8,
// and broken documents.
#include "ingest/json_entry.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace mso {
namespace {

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

} // namespace
} // namespace mso
