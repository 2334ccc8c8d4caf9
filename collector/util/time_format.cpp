// ISO 8601 formatting with gmtime_r (thread-safe, no locale).
#include "util/time_format.h"

#include <cstdio>
#include <ctime>

namespace mso {
namespace {

// Writes "YYYY-MM-DDTHH:MM:SS" for `seconds` into text; returns its length, 0 on error.
std::size_t format_seconds(std::int64_t seconds, char* text, std::size_t size)
{
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (!gmtime_r(&t, &tm)) {
        return 0;
    }
    return std::strftime(text, size, "%Y-%m-%dT%H:%M:%S", &tm);
}

} // namespace

std::string iso_time_us(std::int64_t time_us)
{
    const std::int64_t seconds = time_us >= 0 ? time_us / 1000000 : (time_us - 999999) / 1000000;
    const auto micros = static_cast<long>(time_us - seconds * 1000000);
    char text[48];
    const std::size_t n = format_seconds(seconds, text, sizeof text);
    if (n == 0) {
        return "";
    }
    std::snprintf(text + n, sizeof text - n, ".%06ldZ", micros);
    return text;
}

std::string iso_time_s(std::int64_t time_s)
{
    if (time_s == 0) {
        return "";
    }
    char text[48];
    const std::size_t n = format_seconds(time_s, text, sizeof text);
    if (n == 0) {
        return "";
    }
    return std::string(text, n) + "Z";
}

std::int64_t wall_clock_now()
{
    return static_cast<std::int64_t>(std::time(nullptr));
}

} // namespace mso
