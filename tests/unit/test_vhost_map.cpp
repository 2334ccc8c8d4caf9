// cli/vhost_map.cpp: the `HOST LABEL` file of `import --vhost-map`: parsing, its errors
// with line numbers, and the lookup (case, port, `*`, unmapped hosts). Also the other
// option of `import` with a syntax of its own, --matched-data (cli/import.cpp).
#include "cli/import.h"
#include "cli/vhost_map.h"
#include "protocol/import_line.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

TEST(VhostMap, MapsHostsCaseInsensitivelyWithAndWithoutPort)
{
    const auto map = VhostMap::parse("# labels of the module\n"
                                     "shop.example   shop\n"
                                     "\n"
                                     "   # indented comment\n"
                                     "Admin.Example:8443\tadmin-tls\r\n"
                                     "admin.example admin\n"
                                     "[::1] loopback\n",
                                     "map");
    ASSERT_TRUE(map) << map.error();
    EXPECT_EQ(map->size(), 4U);
    struct Case {
        const char* host;
        const char* label;
    };
    const Case cases[] = {
        {"shop.example", "shop"},
        {"SHOP.example", "shop"},
        {"shop.example:80", "shop"},         // without the port
        {"admin.example:8443", "admin-tls"}, // the exact entry first
        {"admin.example:9000", "admin"},
        {"[::1]:8080", "loopback"},
        {"::1", "::1"},                     // not a port: unmapped
        {"other.example", "other.example"}, // unmapped keeps the Host
        {"", ""},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(map->label(c.host), c.label) << c.host;
    }
}

TEST(VhostMap, StarLabelsTheUnmapped)
{
    const auto map = VhostMap::parse("shop.example shop\n* other\n", "map");
    ASSERT_TRUE(map) << map.error();
    EXPECT_EQ(map->label("shop.example"), "shop");
    EXPECT_EQ(map->label("evil.example"), "other");
}

TEST(VhostMap, ErrorsNameTheLine)
{
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"shop.example\n", "m:1: expected HOST LABEL, found 1 field"},
        {"# c\nshop.example shop extra\n", "m:2: expected HOST LABEL, found 3 fields"},
        {"a.example x\nA.EXAMPLE y\n", "m:2: host A.EXAMPLE is named twice"},
        {"* x\n* y\n", "m:2: `*` is named twice"},
        {"a.example ", nullptr},
    };
    for (const Case& c : cases) {
        const auto map = VhostMap::parse(c.text, "m");
        if (c.error == nullptr) {
            EXPECT_FALSE(map) << c.text;
            continue;
        }
        ASSERT_FALSE(map) << c.text;
        EXPECT_EQ(map.error(), c.error);
    }
    const auto long_label = VhostMap::parse("a.example " + std::string(257, 'x') + "\n", "m");
    ASSERT_FALSE(long_label);
    EXPECT_EQ(long_label.error(), "m:1: the label is longer than 256 bytes");
    EXPECT_TRUE(VhostMap::parse("a.example " + std::string(256, 'x') + "\n", "m"));
}

TEST(VhostMap, LoadReportsAMissingFile)
{
    const auto map = VhostMap::load("/nonexistent/map");
    ASSERT_FALSE(map);
    EXPECT_NE(map.error().find("/nonexistent/map: "), std::string::npos) << map.error();
}

TEST(ImportMatchedData, TakesWhatTheModuleDirectiveTakes)
{
    EXPECT_EQ(matched_data_bytes("").value(), k_import_data_default);
    EXPECT_EQ(matched_data_bytes("full").value(), k_import_data_max);
    EXPECT_EQ(matched_data_bytes("off").value(), 0U);
    EXPECT_EQ(matched_data_bytes("truncate:32").value(), 32U);
    EXPECT_EQ(matched_data_bytes("truncate:0").value(), 0U);
    EXPECT_EQ(matched_data_bytes("truncate:4096").value(), 4096U);
    for (const char* bad : {"truncate:4097", "truncate:", "truncate:-1", "truncate:3x", "hash",
                            "FULL", "truncate: 5", "truncate:99999999999999999999999"}) {
        const auto r = matched_data_bytes(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().find("is not full, truncate:N"), std::string::npos) << r.error();
    }
}

} // namespace
} // namespace mso
