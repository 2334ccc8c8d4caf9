// Durations and points in time as the CLI accepts them: "90", "90s", "15m", "1h", "7d"
// (seconds when no unit), and for --since also an ISO 8601 UTC time
// ("2025-11-21T15:40:00Z"); and sizes in bytes ("2G"). Pure; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mso {

// Seconds in `text`, or nullopt when it is not a positive duration.
[[nodiscard]] std::optional<std::int64_t> parse_duration(std::string_view text);

// The window that reaches back from `now` to `text` (a duration, or an ISO time in the
// past); nullopt when it is neither, or lies in the future.
[[nodiscard]] std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now);

// Bytes in `text`: a whole number with an optional binary unit K, M, G or T (1024-based;
// "512M", "2G", "1048576"), or 0; nullopt when it is anything else or above 2^62.
[[nodiscard]] std::optional<std::int64_t> parse_byte_size(std::string_view text);

} // namespace mso
