// The Concurrent index line, on the real index of tests/data/audit and on the quirks
// mod_security2 writes: doubled negative sign, escaped request line, cut line (" L").
#include "ingest/concurrent_index.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace mso {
namespace {

constexpr const char* k_real =
    R"(detect.test 127.0.0.1 - - [02/Dec/2026:05:47:31.849181 +0000] "GET /a\"b\\c?file=../x HTTP/1.1" 404 236 "-" "-" aw-w80A_4qUBKvPQbQwEpQAAAAc "-" /www-data/20261202/20261202-0547/20261202-054731-aw-w80A_4qUBKvPQbQwEpQAAAAc 0 13706 md5:54406750df3b00ef380090585d527fed )";

TEST(ConcurrentIndex, ParsesARealLine)
{
    const auto line = parse_index_line(k_real);
    ASSERT_TRUE(line) << line.error();
    EXPECT_EQ(line->host, "detect.test");
    EXPECT_EQ(line->client, "127.0.0.1");
    EXPECT_EQ(line->time_us, 1796190451849181);
    EXPECT_EQ(line->request_line, "GET /a\"b\\c?file=../x HTTP/1.1");
    EXPECT_EQ(line->status, 404);
    EXPECT_EQ(line->unique_id, "aw-w80A_4qUBKvPQbQwEpQAAAAc");
    EXPECT_EQ(line->session_id, "-");
    EXPECT_EQ(line->path,
              "/www-data/20261202/20261202-0547/20261202-054731-aw-w80A_4qUBKvPQbQwEpQAAAAc");
    EXPECT_EQ(line->size, 13706U);
    EXPECT_EQ(line->md5, "54406750df3b00ef380090585d527fed");
    EXPECT_FALSE(line->cut);
}

TEST(ConcurrentIndex, HandlesQuirks)
{
    const auto nyc = parse_index_line(
        R"(h 10.0.0.1 - bob [02/Dec/2026:00:47:31.849181 --0500] "GET /\x41\x0 HTTP/1.1" 200 1 "-" "-" U "s" /p 0 1 md5:ab L)");
    ASSERT_TRUE(nyc) << nyc.error();
    EXPECT_EQ(nyc->time_us, 1796190451849181);
    EXPECT_EQ(nyc->request_line, "GET /Ax0 HTTP/1.1"); // a cut \xN escape keeps its text
    EXPECT_TRUE(nyc->cut);
    EXPECT_EQ(nyc->md5, "ab");
}

TEST(ConcurrentIndex, RejectsBrokenLines)
{
    const char* bad[] = {
        "",
        "host",
        "h c - - [bad time] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" U \"-\" /p 0 1 md5:x ",
        "h c - - [02/Dec/2026:05:47:31 +0000] GET 200 1 \"-\" \"-\" U \"-\" /p 0 1 md5:x ",
        "h c - - [02/Dec/2026:05:47:31 +0000] \"GET / HTTP/1.1\" x 1 \"-\" \"-\" U \"-\" /p 0 1",
        "h c - - [02/Dec/2026:05:47:31 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" U \"-\" "
        "/../etc/passwd 0 1 md5:x ",
        "h c - - [02/Dec/2026:05:47:31 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" U \"-\" "
        "/a/.. 0 1 md5:x ",
        "h c - - [02/Dec/2026:05:47:31 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" U \"-\" "
        "p 0 1 md5:x ",
        "h c - - [02/Dec/2026:05:47:31 +0000] \"unterminated",
    };
    for (const char* line : bad)
        EXPECT_FALSE(parse_index_line(line)) << line;
}

TEST(ConcurrentIndex, ParsesEveryCapturedLine)
{
    for (const char* dir : {"v2_native_concurrent", "v2_json_concurrent"}) {
        std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/audit/" + dir + "/index");
        int lines = 0;
        for (std::string line; std::getline(in, line); ++lines) {
            const auto parsed = parse_index_line(line);
            ASSERT_TRUE(parsed) << parsed.error() << ": " << line;
            EXPECT_EQ(parsed->md5.size(), 32U);
        }
        EXPECT_EQ(lines, 7) << dir;
    }
}

} // namespace
} // namespace mso
