// Timestamps as the query answers show them: ISO 8601 in UTC. Pure; never blocks.
#pragma once

#include <cstdint>
#include <string>

namespace mso {

// "2025-11-21T15:40:00.123456Z" from microseconds since the Unix epoch.
[[nodiscard]] std::string iso_time_us(std::int64_t time_us);
// "2025-11-21T15:40:00Z" from seconds since the Unix epoch; "" for 0 (never).
[[nodiscard]] std::string iso_time_s(std::int64_t time_s);
// The wall clock in Unix seconds.
[[nodiscard]] std::int64_t wall_clock_now();

} // namespace mso
