// The live view of `top` (cli/live_view.cpp) without a terminal or a collector: the query
// it sends, the rates it computes between two refreshes, and screens from hostile or
// partial answers.
#include "cli/live_view.h"

#include "protocol/query.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace {

using json = nlohmann::ordered_json;

struct RequestCase {
    std::string vhost;
    std::string line;
};

TEST(LiveView, RequestIsALeanStatsQuery)
{
    const std::vector<RequestCase> cases = {
        {"", R"({"cmd":"stats","rules_limit":3,"top_clients":3})"},
        {"shop.example",
         R"({"cmd":"stats","vhost":"shop.example","rules_limit":3,"top_clients":3})"},
    };
    for (const RequestCase& c : cases) {
        SCOPED_TRACE(c.vhost);
        const mso::Query query = mso::LiveView(c.vhost).request();
        EXPECT_EQ(mso::request_line(query), c.line);
        const auto parsed = mso::parse_query(c.line);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(*parsed, query);
    }
}

json stats(std::uint64_t requests, std::uint64_t flagged, std::uint64_t intercepted)
{
    return json{{"vhosts", json::array({{{"vhost", "shop"},
                                         {"requests", requests},
                                         {"flagged", flagged},
                                         {"intercepted", intercepted},
                                         {"would_block", 1U}}})}};
}

// The cells of vhost "shop"'s summary line in a screen.
std::vector<std::string> shop_cells(const std::string& screen)
{
    const auto start = screen.find("\nshop ");
    if (start == std::string::npos) {
        return {};
    }
    std::istringstream line(screen.substr(start + 1, screen.find('\n', start + 1) - start - 1));
    std::vector<std::string> cells;
    for (std::string cell; line >> cell;) {
        cells.push_back(cell);
    }
    return cells;
}

struct RateCase {
    const char* name;
    json before;
    std::int64_t seconds; // between the two refreshes
    json after;
    // The second screen's line: VHOST REQ/S FLAG/S BLOCK/S REQUESTS FLAGGED BLOCKED
    // WOULD-BLOCK.
    std::vector<std::string> cells;
};

TEST(LiveView, RatesBetweenRefreshes)
{
    const std::vector<RateCase> cases = {
        {"steady",
         stats(100, 10, 1),
         2,
         stats(140, 14, 3),
         {"shop", "20.0", "2.0", "1.0", "140", "14", "3", "1"}},
        {"counters went back (collector restarted)",
         stats(100, 10, 1),
         2,
         stats(50, 10, 1),
         {"shop", "-", "0.0", "0.0", "50", "10", "1", "1"}},
        {"same second",
         stats(1, 1, 1),
         0,
         stats(2, 2, 2),
         {"shop", "-", "-", "-", "2", "2", "2", "1"}},
        {"vhost new in the second answer",
         json::object(),
         5,
         stats(9, 0, 0),
         {"shop", "-", "-", "-", "9", "0", "0", "1"}},
        {"a third of a request per second",
         stats(0, 0, 0),
         3,
         stats(1, 0, 0),
         {"shop", "0.3", "0.0", "0.0", "1", "0", "0", "1"}},
    };
    for (const RateCase& c : cases) {
        SCOPED_TRACE(c.name);
        mso::LiveView view;
        (void)view.render(c.before, 1000, false);
        const std::string screen = view.render(c.after, 1000 + c.seconds, false);
        EXPECT_EQ(shop_cells(screen), c.cells) << screen;
    }
}

struct ScreenCase {
    const char* name;
    std::string vhost;
    const char* answer;
    std::vector<std::string> shown;
    std::vector<std::string> hidden = {}; // none of these appears
};

TEST(LiveView, Screens)
{
    const std::vector<ScreenCase> cases = {
        {"no vhosts", "", R"({"vhosts":[]})", {"no vhosts seen yet\n"}},
        {"not an answer", "", R"({"vhosts":"x"})", {"no vhosts seen yet\n"}},
        {"the vhost asked for is unknown",
         "a\x1b[2J",
         R"({})",
         {"vhost \"a\\x1b[2J\" not seen yet\n"}},
        {"a vhost without findings",
         "",
         R"({"vhosts":[{"vhost":"a","requests":3}]})",
         {"a:\n  no findings yet\n"}},
        {"an empty vhost name", "", R"({"vhosts":[{"vhost":""}]})", {"\"\":\n"}},
        {"rules and clients side by side",
         "",
         R"({"vhosts":[{"vhost":"a","rules":[{"id":"942100","msg":"SQLi","hits":4},{"id":"1"},)"
         R"({"id":"third"},{"id":"fourth"}],"top_clients":[{"value":"10.0.0.1","count":7},5]}]})",
         {"HOTTEST RULES", "942100 SQLi", "third", "10.0.0.1"},
         {"fourth"}}, // three rules per vhost
    };
    for (const ScreenCase& c : cases) {
        SCOPED_TRACE(c.name);
        mso::LiveView view(c.vhost);
        const std::string screen = view.render(json::parse(c.answer), 1763739600, false);
        EXPECT_EQ(screen.rfind("\nmodsec-observe top  2025-11-21T15:40:00Z  (^C to quit)\n\n", 0),
                  0U)
            << screen;
        for (const std::string& part : c.shown) {
            EXPECT_NE(screen.find(part), std::string::npos) << "missing: " << part << "\nin:\n"
                                                            << screen;
        }
        for (const std::string& part : c.hidden) {
            EXPECT_EQ(screen.find(part), std::string::npos) << "shown: " << part;
        }
    }
}

TEST(LiveView, ClearsTheScreenOnlyWhenAsked)
{
    mso::LiveView view;
    EXPECT_EQ(view.render(json::object(), 1, true).rfind("\x1b[H\x1b[2J", 0), 0U);
    const std::string plain = view.render(json::object(), 2, false);
    EXPECT_EQ(plain.find('\x1b'), std::string::npos);
}

TEST(LiveView, HostileNamesAreEscaped)
{
    mso::LiveView view;
    const json answer = json::parse(
        R"({"vhosts":[{"vhost":"\u001b]0;t\u0007","rules":[{"id":"\u009b1","msg":"\u202e"}],)"
        R"("top_clients":[{"value":"\u001b[2J","count":18446744073709551615}]}]})");
    const std::string screen = view.render(answer, 1, false);
    for (const char c : screen) {
        const auto byte = static_cast<unsigned char>(c);
        EXPECT_TRUE(byte >= 0x20 || byte == '\n') << static_cast<int>(byte);
    }
    EXPECT_EQ(screen.find("\xc2\x9b"), std::string::npos);
    EXPECT_EQ(screen.find("\xe2\x80\xae"), std::string::npos);
    EXPECT_NE(screen.find("18446744073709551615"), std::string::npos);
}

} // namespace
