// The console's sensors files (htpasswd, v3 tokens), networks, authentication and tokens.
#include "daemon/console_sensors.h"

#include <gtest/gtest.h>

#include <set>

namespace mso {
namespace {

// Made with `htpasswd -nbB web1 pw1` and `htpasswd -nbm web2 pw2` (apr1).
constexpr const char* k_web1 = "web1:$2y$05$EADXVw7KCYppw1d/l0W6d.XRpQXm8XR.l1m76ikiH6a6UNnJY2qaS";
constexpr const char* k_web2 = "web2:$apr1$0GX0qOy0$cWyucOfVXsBeBGYhN9q84.";

TEST(ConsoleSensors, HtpasswdLinesAndTheirErrors)
{
    struct Case {
        std::string text;
        std::size_t sensors; // when it parses
        std::string error;   // substring, when it does not
    };
    const std::vector<Case> cases = {
        {"", 0, ""},
        {"# comment\n\n" + std::string(k_web1) + "\n", 1, ""},
        {std::string(k_web1) + "\r\n" + k_web2 + "\n", 2, ""},
        {"web1:plaintext\n", 0, "line 1: sensor web1: unsupported hash"},
        {"web1:abJnggxhB/yWI\n", 0, "unsupported hash"}, // DES crypt
        {"no colon here\n", 0, "line 1: expected name:hash"},
        {"\n" + std::string(k_web1) + "\n" + k_web1 + "\n", 0, "line 3: sensor web1 appears twice"},
        {"bad/name:$2y$05$x\n", 0, "is not 1-64 of letters"},
        {":$2y$05$x\n", 0, "is not 1-64"},
    };
    for (const Case& c : cases) {
        const auto parsed = parse_htpasswd(c.text);
        if (c.error.empty()) {
            ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
            EXPECT_EQ(parsed->size(), c.sensors) << c.text;
        } else {
            ASSERT_FALSE(parsed) << c.text;
            EXPECT_NE(parsed.error().find(c.error), std::string::npos) << parsed.error();
        }
    }
}

TEST(ConsoleSensors, V3LinesAndTheirErrors)
{
    const std::string token(64, 'a');
    const std::string other(64, 'b');
    struct Case {
        std::string text;
        std::size_t sensors;
        std::string error;
    };
    const std::vector<Case> cases = {
        {"nginx1 " + token + "\n", 1, ""},
        {"nginx1 " + token + " 10.0.0.0/8,::1\nnginx2 " + other + "\n", 2, ""},
        {"nginx1\n", 0, "expected: name token"},
        {"nginx1 " + token + " 10.0.0.0/8 extra\n", 0, "expected: name token"},
        {"nginx1 abc\n", 0, "32 to 128 hex digits"},
        {"nginx1 " + std::string(64, 'g') + "\n", 0, "hex digits"},
        {"nginx1 " + token + " 10.0.0.0/33\n", 0, "invalid prefix length"},
        {"nginx1 " + token + " example.com\n", 0, "not an IP address"},
        {"a " + token + "\nb " + token + "\n", 0, "line 2: sensor b: its token is another"},
        {"a " + token + "\na " + other + "\n", 0, "line 2: sensor a appears twice"},
    };
    for (const Case& c : cases) {
        const auto parsed = parse_v3_sensors(c.text);
        if (c.error.empty()) {
            ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
            EXPECT_EQ(parsed->size(), c.sensors) << c.text;
        } else {
            ASSERT_FALSE(parsed) << c.text;
            EXPECT_NE(parsed.error().find(c.error), std::string::npos) << parsed.error();
        }
    }
}

TEST(ConsoleSensors, NetworksContainTheirAddresses)
{
    struct Case {
        std::string network;
        std::string address;
        bool inside;
    };
    const std::vector<Case> cases = {
        {"10.0.0.0/8", "10.1.2.3", true},
        {"10.0.0.0/8", "11.0.0.1", false},
        {"192.168.1.128/25", "192.168.1.200", true},
        {"192.168.1.128/25", "192.168.1.100", false},
        {"127.0.0.1", "127.0.0.1", true},
        {"127.0.0.1", "127.0.0.2", false},
        {"127.0.0.0/8", "::ffff:127.0.0.9", true}, // dual-stack socket
        {"::1", "::1", true},
        {"2001:db8::/32", "2001:db8:1::5", true},
        {"2001:db8::/32", "2001:db9::5", false},
        {"10.0.0.0/8", "::1", false},
        {"0.0.0.0/0", "203.0.113.7", true},
        {"10.0.0.0/8", "not an address", false},
    };
    for (const Case& c : cases) {
        const auto net = parse_network(c.network);
        ASSERT_TRUE(net) << c.network;
        EXPECT_EQ(network_contains(*net, c.address), c.inside) << c.network << " " << c.address;
    }
}

TEST(ConsoleSensors, AuthenticationDecisions)
{
    auto sensors = parse_htpasswd(std::string(k_web1) + "\n" + k_web2 + "\n");
    ASSERT_TRUE(sensors) << sensors.error();
    const SensorTable table(std::move(*sensors), {});
    struct Case {
        std::string user;
        std::string password;
        std::optional<std::string> sensor;
    };
    const std::vector<Case> cases = {
        {"web1", "pw1", "web1"},
        {"web1", "pw1", "web1"}, // the cached path answers the same
        {"web2", "pw2", "web2"},
        {"web1", "pw2", std::nullopt},
        {"web1", "pw1 ", std::nullopt},
        {"web1", "", std::nullopt},
        {"nobody", "pw1", std::nullopt},
        {"WEB1", "pw1", std::nullopt},
        {"web1", std::string("pw1\0x", 5), std::nullopt}, // a NUL cannot cut the password
    };
    for (const Case& c : cases) {
        EXPECT_EQ(table.authenticate(c.user, c.password), c.sensor) << c.user << ":" << c.password;
    }
    // A cached success does not let a wrong password through afterwards.
    EXPECT_EQ(table.authenticate("web1", "pw1"), "web1");
    EXPECT_EQ(table.authenticate("web1", "wrong"), std::nullopt);
}

TEST(ConsoleSensors, TokensAreFoundOnlyWhole)
{
    const std::string token(64, 'c');
    auto sensors = parse_v3_sensors("nginx1 " + token + " 127.0.0.1\n");
    ASSERT_TRUE(sensors);
    const SensorTable table({}, std::move(*sensors));
    ASSERT_NE(table.find_token(token), nullptr);
    EXPECT_EQ(table.find_token(token)->name, "nginx1");
    EXPECT_EQ(table.find_token(token.substr(0, 63)), nullptr);
    EXPECT_EQ(table.find_token(token + "c"), nullptr);
    EXPECT_EQ(table.find_token(""), nullptr);
    EXPECT_EQ(table.find_token(std::string(64, 'C')), nullptr);
}

TEST(ConsoleSensors, NewTokensAreHexAndDiffer)
{
    std::set<std::string> seen;
    for (int i = 0; i < 8; ++i) {
        const auto token = new_token();
        ASSERT_TRUE(token) << token.error();
        EXPECT_EQ(token->size(), 64U);
        EXPECT_EQ(token->find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(*token);
        EXPECT_TRUE(parse_v3_sensors("s " + *token + "\n")) << "a new token is accepted";
    }
    EXPECT_EQ(seen.size(), 8U);
}

TEST(ConsoleSensors, ConstantTimeEqual)
{
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("xbc", "abc"));
}

} // namespace
} // namespace mso
