// Native entries of ModSecurity v2 and v3: separators, and every field of a real entry.
#include "ingest/native_entry.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace mso {
namespace {

std::string first_entry(const char* file)
{
    std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/audit/" + file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    const std::string all = s.str();
    const std::size_t z = all.find("-Z--\n");
    return all.substr(0, z + 5);
}

TEST(NativeEntry, RecognisesSeparators)
{
    struct Case {
        const char* line;
        AuditFormat format;
        char part;
    };
    const Case cases[] = {
        {"--91b39000-A--", AuditFormat::v2_native, 'A'},
        {"--91b39000-Z--\r", AuditFormat::v2_native, 'Z'},
        {"---LqVdP0I0---H--", AuditFormat::v3_native, 'H'},
        {"--91B39000-A--", AuditFormat::unknown, 0}, // v2 boundaries are lowercase hex
        {"--91b3900-A--", AuditFormat::unknown, 0},
        {"--91b39000-a--", AuditFormat::unknown, 0},
        {"--91b39000-A-", AuditFormat::unknown, 0},
        {"---LqVd-0I0---H--", AuditFormat::unknown, 0},
        {"", AuditFormat::unknown, 0},
    };
    for (const Case& c : cases) {
        const auto sep = native_separator(c.line);
        EXPECT_EQ(sep.has_value(), c.format != AuditFormat::unknown) << c.line;
        if (sep) {
            EXPECT_EQ(sep->format, c.format) << c.line;
            EXPECT_EQ(sep->part, c.part) << c.line;
        }
    }
}

TEST(NativeEntry, ParsesARealV2Entry)
{
    AuditEntry e;
    std::string scratch;
    const auto r = parse_native_entry(first_entry("v2_native_serial_kc_newyork.log"), e, scratch);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(e.format, AuditFormat::v2_native);
    EXPECT_EQ(e.engine, EngineMode::on);
    EXPECT_EQ(e.event.unique_id.size(), 27U);
    EXPECT_EQ(e.event.client, "127.0.0.1");
    EXPECT_GT(e.client_port, 0);
    EXPECT_EQ(e.server_ip, "127.0.0.1");
    EXPECT_GT(e.event.port, 0);
    EXPECT_EQ(e.event.method, "GET");
    EXPECT_EQ(e.event.path, "/");
    EXPECT_EQ(e.event.query, "id=1%27%20OR%201%3D1--");
    EXPECT_EQ(e.event.protocol, "HTTP/1.1");
    EXPECT_EQ(e.event.vhost, "block.test");
    EXPECT_NE(e.event.user_agent.find("Firefox"), std::string::npos);
    EXPECT_EQ(e.event.status, 403);
    EXPECT_TRUE(e.event.intercepted);
    EXPECT_EQ(e.event.phase, 2);
    ASSERT_GE(e.event.findings.size(), 2U);
    EXPECT_EQ(e.event.findings[0].id, "942100");
    EXPECT_EQ(e.event.findings[0].target, "ARGS:id");
    EXPECT_EQ(e.event.findings[0].severity, "CRITICAL");
    ASSERT_TRUE(e.event.scores.has_value());
    EXPECT_EQ(e.event.scores->inbound, 5);
}

TEST(NativeEntry, ParsesARealV3Entry)
{
    AuditEntry e;
    std::string scratch;
    const auto r = parse_native_entry(first_entry("v3_native.log"), e, scratch);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(e.format, AuditFormat::v3_native);
    EXPECT_FALSE(e.event.unique_id.empty());
    EXPECT_EQ(e.event.method, "GET");
    EXPECT_EQ(e.event.vhost, "detect.test");
    EXPECT_EQ(e.event.status, 200);
    EXPECT_FALSE(e.event.intercepted);
    EXPECT_EQ(e.engine, EngineMode::unknown); // v3 Native does not record DetectionOnly
    ASSERT_FALSE(e.event.findings.empty());
    EXPECT_EQ(e.event.findings.front().severity, "CRITICAL"); // "2" in the log
}

TEST(NativeEntry, RejectsBrokenEntries)
{
    const std::string good = first_entry("v2_native_serial.log");
    struct Case {
        const char* name;
        std::string raw;
    };
    std::string no_z = good.substr(0, good.size() - 15);
    std::string bad_time = good;
    bad_time[16] = 'X';
    std::string other_boundary = good;
    other_boundary.replace(other_boundary.size() - 13, 8, "00000000");
    const Case cases[] = {
        {"empty", ""},
        {"no A line", good.substr(15)},
        {"no Z part", no_z},
        {"bad time", bad_time},
        {"Z of another boundary", other_boundary},
        {"A only", "--01234567-A--\n--01234567-Z--\n"},
    };
    for (const Case& c : cases) {
        AuditEntry e;
        std::string scratch;
        EXPECT_FALSE(parse_native_entry(c.raw, e, scratch)) << c.name;
    }
}

} // namespace
} // namespace mso
