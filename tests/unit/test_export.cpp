// cli/export.cpp: CSV cells and rows with hostile strings, JSON lines, and paging through
// the cursor until the answers have no "next".
#include "cli/export.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

struct CellCase {
    std::string text;
    std::string cell;
};

TEST(CsvCell, QuotesAndNeutralisesFormulas)
{
    const std::vector<CellCase> cases = {
        {"", ""},
        {"/shop/cart", "/shop/cart"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"line\nbreak", "\"line\nbreak\""},
        {"cr\rhere", "\"cr\rhere\""},
        {"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
        {"+1+1", "'+1+1"},
        {"-2+3", "'-2+3"},
        {"@SUM(A1)", "'@SUM(A1)"},
        {"\tx", "'\tx"},
        {"\r=x", "\"'\r=x\""},
        {"=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
        {"a=b", "a=b"}, // only a leading formula character matters
        {"\x1b[2J", "\x1b[2J"},
    };
    for (const CellCase& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(csv_cell(c.text), c.cell);
    }
}

json hostile_event()
{
    return json{
        {"unique_id", "u\"1"},
        {"vhost", "shop,example"},
        {"port", 443},
        {"time", "2025-11-21T15:40:00.123456Z"},
        {"client", "203.0.113.7"},
        {"method", "GET"},
        {"path", "/\x1b[31mred\"quoted\""},
        {"query", "=cmd|' /C calc'!A0"},
        {"status", 403},
        {"verdict", "intercepted"},
        {"engine", "on"},
        {"source", "module"},
        {"user_agent", "-x\ny"},
        {"scores",
         {{"inbound", 10}, {"outbound", 0}, {"inbound_threshold", 5}, {"outbound_threshold", 4}}},
        {"rules",
         json::array({{{"id", "942100"}}, {{"id", "949110"}}, {{"id", "942100"}}, {{"id", ""}}})}};
}

TEST(CsvRow, OneRowPerEventEveryCellSafe)
{
    EXPECT_EQ(csv_header(), "time,unique_id,vhost,port,client,method,path,query,status,verdict,"
                            "engine,source,inbound,outbound,inbound_threshold,"
                            "outbound_threshold,rules,user_agent\r\n");
    EXPECT_EQ(csv_row(hostile_event(), false),
              "2025-11-21T15:40:00.123456Z,\"u\"\"1\",\"shop,example\",443,203.0.113.7,GET,"
              "\"/\x1b[31mred\"\"quoted\"\"\",'=cmd|' /C calc'!A0,403,intercepted,on,module,10,0,"
              "5,4,942100;949110,\"'-x\ny\"\r\n");
    // On a terminal the control characters are escaped as well.
    EXPECT_EQ(csv_row(hostile_event(), true),
              "2025-11-21T15:40:00.123456Z,\"u\"\"1\",\"shop,example\",443,203.0.113.7,GET,"
              "\"/\\x1b[31mred\"\"quoted\"\"\",'=cmd|' /C calc'!A0,403,intercepted,on,module,10,0,"
              "5,4,942100;949110,'-x\\x0ay\r\n");
    // Missing and wrong-typed fields are empty cells.
    EXPECT_EQ(csv_row(json{{"path", json::array()}}, false), ",,,,,,,,,,,,,,,,,\r\n");
}

TEST(JsonlLine, OneLineEscapedOnATerminal)
{
    const json e{{"path", "/\x1b[2J\xc2\x9b"}};
    EXPECT_EQ(jsonl_line(e, false), "{\"path\":\"/\\u001b[2J\xc2\x9b\"}\n");
    EXPECT_EQ(jsonl_line(e, true), "{\"path\":\"/\\u001b[2J\\u009b\"}\n");
}

// A fake collector: `total` events, newest first, paged by the cursor it hands out.
struct FakeHistory {
    explicit FakeHistory(int events, bool from_ring = false) : total(events), ring(from_ring) {}

    int total;
    bool ring;
    std::vector<std::string> requests;

    Result<json> operator()(const std::string& line)
    {
        requests.push_back(line);
        const auto q = parse_query(line);
        if (!q) {
            return fail(q.error());
        }
        const int start = q->events.cursor ? static_cast<int>(q->events.cursor->row_id) : total;
        const int limit =
            q->events.limit == 0 ? (ring ? total : 10000) : static_cast<int>(q->events.limit);
        json events = json::array();
        int row = start;
        for (; row > 0 && static_cast<int>(events.size()) < limit; --row) {
            events.push_back({{"unique_id", "e" + std::to_string(row)}});
        }
        json out{{"ok", true}, {"from", ring ? "ring" : "history"}, {"events", events}};
        if (!ring && row > 0) {
            out["next"] = format_cursor(EventCursor{row, row});
        }
        return out;
    }
};

Query export_query(std::size_t limit = 0)
{
    Query q;
    q.command = QueryCommand::events;
    q.events.limit = limit;
    q.events.since_us = 1'700'000'000'000'000;
    return q;
}

std::vector<std::string> lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

TEST(ExportEvents, PagesUntilNoNextEachEventOnce)
{
    FakeHistory fake(2500);
    std::ostringstream out;
    const auto written = export_events(
        export_query(), ExportFormat::jsonl, false, [&](const std::string& l) { return fake(l); },
        out);
    ASSERT_TRUE(written) << written.error();
    EXPECT_EQ(*written, 2500U);
    const auto got = lines(out.str());
    ASSERT_EQ(got.size(), 2500U);
    EXPECT_EQ(got.front(), R"({"unique_id":"e2500"})");
    EXPECT_EQ(got.back(), R"({"unique_id":"e1"})");
    ASSERT_EQ(fake.requests.size(), 3U); // pages of 1000
    EXPECT_EQ(fake.requests[0], R"({"cmd":"events","since":1700000000,"limit":1000})");
    EXPECT_EQ(fake.requests[1],
              R"({"cmd":"events","since":1700000000,"cursor":"c1.5dc.5dc","limit":1000})");
}

TEST(ExportEvents, LimitStopsEarlyAndCsvHasOneHeader)
{
    FakeHistory fake(2500);
    std::ostringstream out;
    const auto written = export_events(
        export_query(1200), ExportFormat::csv, false, [&](const std::string& l) { return fake(l); },
        out);
    ASSERT_TRUE(written) << written.error();
    EXPECT_EQ(*written, 1200U);
    const auto got = lines(out.str());
    ASSERT_EQ(got.size(), 1201U);
    EXPECT_TRUE(got[0].starts_with("time,unique_id,"));
    EXPECT_EQ(fake.requests.size(), 2U);
    EXPECT_NE(fake.requests[1].find(R"("limit":200)"), std::string::npos) << fake.requests[1];
}

TEST(ExportEvents, RingWithoutPagesIsAskedOnceForAll)
{
    FakeHistory fake(1500, /*from_ring=*/true);
    std::ostringstream out;
    const auto written = export_events(
        export_query(), ExportFormat::jsonl, false, [&](const std::string& l) { return fake(l); },
        out);
    ASSERT_TRUE(written) << written.error();
    EXPECT_EQ(*written, 1500U);
    ASSERT_EQ(fake.requests.size(), 2U);
    EXPECT_NE(fake.requests[1].find(R"("limit":0)"), std::string::npos);
}

TEST(ExportEvents, ErrorsStopTheExport)
{
    std::ostringstream out;
    const auto written = export_events(
        export_query(), ExportFormat::jsonl, false,
        [](const std::string&) -> Result<json> { return fail("the collector refused"); }, out);
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error(), "the collector refused");
}

} // namespace
} // namespace mso
