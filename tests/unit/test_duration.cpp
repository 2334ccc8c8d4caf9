// Durations and --since values as the CLI parses them.
#include "util/duration.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

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

TEST(ParseByteSize, NumbersAndBinaryUnits)
{
    const std::pair<std::string_view, std::optional<std::int64_t>> cases[] = {
        {"0", 0},
        {"1048576", 1048576},
        {"1K", 1024},
        {"512M", std::int64_t{512} << 20},
        {"2G", std::int64_t{2} << 30},
        {"3T", std::int64_t{3} << 40},
        {"4194304T", std::int64_t{1} << 62}, // the largest accepted
        {"4194305T", std::nullopt},
        {"", std::nullopt},
        {"G", std::nullopt},
        {"-1", std::nullopt},
        {"2GB", std::nullopt},
        {"2g", std::nullopt},
        {"1.5G", std::nullopt},
        {" 2G", std::nullopt},
        {"99999999999999999999", std::nullopt},
    };
    for (const auto& [text, want] : cases) {
        EXPECT_EQ(parse_byte_size(text), want) << text;
    }
}

} // namespace
} // namespace mso
