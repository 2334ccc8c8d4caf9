// Durations and --since values as the CLI parses them.
#include "util/duration.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

TEST(ParseDuration, UnitsAndRejects)
{
    const std::pair<const char*, std::optional<std::int64_t>> cases[] = {
        {"90", 90},
        {"90s", 90},
        {"15m", 900},
        {"1h", 3600},
        {"7d", 604800},
        {"", std::nullopt},
        {"0", std::nullopt},
        {"-5m", std::nullopt},
        {"1w", std::nullopt},
        {"h", std::nullopt},
        {"1.5h", std::nullopt},
        {"10 m", std::nullopt},
        {"99999999999999999999d", std::nullopt},
    };
    for (const auto& [text, want] : cases) {
        EXPECT_EQ(parse_duration(text), want) << text;
    }
}

TEST(ParseSince, DurationOrPastTime)
{
    constexpr std::int64_t now = 1763739600; // 2025-11-21T15:40:00Z
    EXPECT_EQ(parse_since("1h", now), 3600);
    EXPECT_EQ(parse_since("2025-11-21T15:00:00Z", now), 2400);
    EXPECT_EQ(parse_since("2025-11-21T15:00:00", now), 2400);
    EXPECT_EQ(parse_since("2025-11-21T16:00:00Z", now), std::nullopt); // future
    EXPECT_EQ(parse_since("2025-11-21 15:00", now), std::nullopt);
    EXPECT_EQ(parse_since("yesterday", now), std::nullopt);
}

} // namespace
} // namespace mso
