// stderr logging with a per-call-site rate limit.
#include "util/log.h"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace mso {

void log_line(std::string_view message)
{
    std::string line = "modsec-observed: ";
    line += message;
    line += '\n';
    std::string_view rest = line;
    while (!rest.empty()) {
        const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool RateLimiter::allow(Clock::time_point now, std::uint64_t& suppressed) noexcept
{
    suppressed = 0;
    if (!m_started || now - m_window_start >= m_window) {
        m_started = true;
        m_window_start = now;
        m_in_window = 0;
    }
    if (m_in_window >= m_burst) {
        ++m_suppressed;
        return false;
    }
    ++m_in_window;
    suppressed = m_suppressed;
    m_suppressed = 0;
    return true;
}

void log_limited(RateLimiter& limiter, std::string_view message, RateLimiter::Clock::time_point now)
{
    std::uint64_t suppressed = 0;
    if (!limiter.allow(now, suppressed)) {
        return;
    }
    if (suppressed != 0) {
        log_line(std::to_string(suppressed) + " similar messages suppressed");
    }
    log_line(message);
}

} // namespace mso
