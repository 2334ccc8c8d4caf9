// The CLI's defensive field access (cli/format_util.h): here the vhost display name
// that the formatters and the live view share.
#include "cli/format_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

using json = nlohmann::ordered_json;

struct VhostNameCase {
    json answer;
    std::string shown;
};

TEST(FormatUtil, VhostName)
{
    const VhostNameCase cases[] = {
        {json{{"vhost", "shop.test"}}, "shop.test"},
        {json{{"vhost", ""}}, "\"\""}, // a vhost without a ServerName stays visible
        {json{{"vhost", "-"}}, "-"},
        {json{{"vhost", "evil\x1b[2J"}}, "evil\\x1b[2J"}, // escaped for the terminal
        {json{{"requests", 1}}, "-"},                     // missing
        {json{{"vhost", nullptr}}, "-"},
        {json{{"vhost", 7}}, "7"},
        {json::array(), "-"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(mso::format_util::vhost_name(c.answer), c.shown) << c.answer.dump();
    }
}

} // namespace
