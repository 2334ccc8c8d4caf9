// ISO 8601 timestamps (util/time_format.cpp) at the epoch, around it, at microsecond
// edges and where gmtime cannot go.
#include "util/time_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

struct TimeCase {
    std::int64_t time;
    std::string text;
};

TEST(TimeFormat, IsoTimeUs)
{
    const std::vector<TimeCase> cases = {
        {0, "1970-01-01T00:00:00.000000Z"},
        {1, "1970-01-01T00:00:00.000001Z"},
        {999999, "1970-01-01T00:00:00.999999Z"},
        {1000000, "1970-01-01T00:00:01.000000Z"},
        {-1, "1969-12-31T23:59:59.999999Z"},
        {-1000000, "1969-12-31T23:59:59.000000Z"},
        {-1000001, "1969-12-31T23:59:58.999999Z"},
        {1763739600123456, "2025-11-21T15:40:00.123456Z"},
        {951782400000000, "2000-02-29T00:00:00.000000Z"},
        {253402300799999999, "9999-12-31T23:59:59.999999Z"},
        {std::numeric_limits<std::int64_t>::max(), "294247-01-10T04:00:54.775807Z"},
    };
    for (const TimeCase& c : cases) {
        SCOPED_TRACE(c.time);
        EXPECT_EQ(mso::iso_time_us(c.time), c.text);
    }
}

TEST(TimeFormat, IsoTimeS)
{
    const std::vector<TimeCase> cases = {
        {0, ""}, // never
        {1, "1970-01-01T00:00:01Z"},
        {-1, "1969-12-31T23:59:59Z"},
        {1763739600, "2025-11-21T15:40:00Z"},
        {253402300799, "9999-12-31T23:59:59Z"},
        {std::numeric_limits<std::int64_t>::max(), ""}, // beyond gmtime's years
        {std::numeric_limits<std::int64_t>::min(), ""},
    };
    for (const TimeCase& c : cases) {
        SCOPED_TRACE(c.time);
        EXPECT_EQ(mso::iso_time_s(c.time), c.text);
    }
}

TEST(TimeFormat, WallClockIsNow)
{
    const std::int64_t now = mso::wall_clock_now();
    EXPECT_GT(now, 1763739600); // after this code was written
    EXPECT_LE(now - mso::wall_clock_now(), 0);
}

} // namespace
