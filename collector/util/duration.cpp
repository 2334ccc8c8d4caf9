// Duration and time parsing for the CLI; see duration.h.
#include "util/duration.h"

#include <charconv>
#include <ctime>
#include <string>

namespace mso {

std::optional<std::int64_t> parse_duration(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    std::int64_t unit = 1;
    switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: unit = 0; break;
    }
    const std::string_view digits = unit == 0 ? text : text.substr(0, text.size() - 1);
    unit = unit == 0 ? 1 : unit;
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size() || value <= 0 ||
        value > INT64_MAX / unit) {
        return std::nullopt;
    }
    return value * unit;
}

std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now)
{
    if (auto d = parse_duration(text)) {
        return d;
    }
    std::tm tm{};
    const std::string owned(text);
    const char* end = strptime(owned.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || (*end != '\0' && std::string_view(end) != "Z")) {
        return std::nullopt;
    }
    const std::int64_t at = static_cast<std::int64_t>(timegm(&tm));
    if (at >= now) {
        return std::nullopt;
    }
    return now - at;
}

std::optional<std::int64_t> parse_byte_size(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    int shift = 0;
    switch (text.back()) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: break;
    }
    const std::string_view digits = shift == 0 ? text : text.substr(0, text.size() - 1);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    constexpr std::int64_t k_max = std::int64_t{1} << 62;
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value < 0 ||
        value > (k_max >> shift)) {
        return std::nullopt;
    }
    return value << shift;
}

} // namespace mso
