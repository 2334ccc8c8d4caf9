// Logging for the daemon: plain lines on stderr (journald or the service
// manager adds timestamps), rate-limited per call site so a flood of bad
// datagrams cannot flood the log.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mso {

// Writes "modsec-observed: <message>\n" to stderr in one write(2). Thread-safe;
// may block briefly if stderr is a full pipe.
void log_line(std::string_view message);

// Allows at most `burst` lines per `window` for one call site, then counts what
// it suppressed and reports the count with the next allowed line. Not
// thread-safe (one per call site in the single-threaded daemon); never blocks.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    explicit RateLimiter(std::size_t burst = 5,
                         Clock::duration window = std::chrono::seconds(10)) noexcept
        : m_burst(burst), m_window(window)
    {
    }

    // True when a line may be written now. `suppressed` is set to the number of
    // lines dropped since the last allowed one (0 when none).
    [[nodiscard]] bool allow(Clock::time_point now, std::uint64_t& suppressed) noexcept;

private:
    std::size_t m_burst;
    Clock::duration m_window;
    Clock::time_point m_window_start{};
    bool m_started = false;
    std::size_t m_in_window = 0;
    std::uint64_t m_suppressed = 0;
};

// Logs through `limiter`, preceded by "N similar messages suppressed" when
// lines were dropped.
void log_limited(RateLimiter& limiter, std::string_view message,
                 RateLimiter::Clock::time_point now = RateLimiter::Clock::now());

} // namespace mso
