// Tests for util/log: the RateLimiter over sequences of calls at injected times
// (table-driven: bursts, window roll-over, suppressed counts), and what log_line and
// log_limited write to stderr.
#include "util/log.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = mso::RateLimiter::Clock;
using std::chrono::milliseconds;

// One call of allow() at `at` after the start, and what it must answer.
struct Call {
    long long at_ms;
    bool allowed;
    std::uint64_t suppressed;
};

TEST(RateLimiter, BurstsWindowsAndSuppressedCounts)
{
    const struct {
        const char* name;
        std::size_t burst;
        milliseconds window;
        std::vector<Call> calls;
    } cases[] = {
        {"within the burst", 3, milliseconds(1000), {{0, true, 0}, {1, true, 0}, {2, true, 0}}},
        {"beyond the burst",
         2,
         milliseconds(1000),
         {{0, true, 0}, {0, true, 0}, {0, false, 0}, {500, false, 0}, {999, false, 0}}},
        {"the next window reports what was suppressed",
         2,
         milliseconds(1000),
         {{0, true, 0},
          {1, true, 0},
          {2, false, 0},
          {3, false, 0},
          {4, false, 0},
          {1000, true, 3},
          {1001, true, 0},
          {1002, false, 0},
          {5000, true, 1}}},
        {"a window starts at the first call after the last one ended",
         1,
         milliseconds(1000),
         {{0, true, 0}, {1500, true, 0}, {2400, false, 0}, {2500, true, 1}}},
        {"quiet windows do not reset the count",
         1,
         milliseconds(10),
         {{0, true, 0}, {5, false, 0}, {6, false, 0}, {100000, true, 2}}},
        {"burst zero allows nothing", 0, milliseconds(10), {{0, false, 0}, {20, false, 0}}},
        {"the default: 5 per 10 s",
         5,
         milliseconds(10000),
         {{0, true, 0},
          {1, true, 0},
          {2, true, 0},
          {3, true, 0},
          {4, true, 0},
          {5, false, 0},
          {9999, false, 0},
          {10000, true, 2}}},
    };
    const Clock::time_point start = Clock::time_point{} + std::chrono::hours(1);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        mso::RateLimiter limiter(c.burst, c.window);
        for (std::size_t i = 0; i < c.calls.size(); ++i) {
            const Call& call = c.calls[i];
            SCOPED_TRACE("call " + std::to_string(i) + " at " + std::to_string(call.at_ms) + " ms");
            std::uint64_t suppressed = 99;
            EXPECT_EQ(limiter.allow(start + milliseconds(call.at_ms), suppressed), call.allowed);
            EXPECT_EQ(suppressed, call.suppressed);
        }
    }
}

TEST(RateLimiter, DefaultsAreFivePerTenSeconds)
{
    mso::RateLimiter limiter;
    const Clock::time_point now = Clock::now();
    std::uint64_t suppressed = 0;
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(limiter.allow(now, suppressed));
    }
    EXPECT_FALSE(limiter.allow(now + std::chrono::seconds(9), suppressed));
    EXPECT_TRUE(limiter.allow(now + std::chrono::seconds(10), suppressed));
    EXPECT_EQ(suppressed, 1U);
}

// Captures what is written to stderr (fd 2) while it lives.
class StderrCapture {
public:
    StderrCapture()
    {
        char pattern[] = "/tmp/mso-log-XXXXXX";
        m_file = ::mkstemp(pattern);
        if (m_file < 0) {
            throw std::runtime_error("mkstemp failed");
        }
        ::unlink(pattern);
        std::fflush(stderr);
        m_saved = ::dup(STDERR_FILENO);
        ::dup2(m_file, STDERR_FILENO);
    }
    ~StderrCapture()
    {
        ::dup2(m_saved, STDERR_FILENO);
        ::close(m_saved);
        ::close(m_file);
    }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

    // Everything written so far.
    [[nodiscard]] std::string text() const
    {
        std::string out;
        char buffer[4096];
        for (off_t offset = 0;;) {
            const ssize_t n = ::pread(m_file, buffer, sizeof(buffer), offset);
            if (n <= 0) {
                return out;
            }
            out.append(buffer, static_cast<std::size_t>(n));
            offset += n;
        }
    }

private:
    int m_file = -1;
    int m_saved = -1;
};

TEST(LogLine, PrefixesAndEndsTheLine)
{
    const StderrCapture capture;
    mso::log_line("listening on events=/run/e.sock query=/run/q.sock");
    mso::log_line("");
    EXPECT_EQ(capture.text(), "modsec-observed: listening on events=/run/e.sock query=/run/q.sock\n"
                              "modsec-observed: \n");
}

TEST(LogLimited, ReportsWhatItSuppressedWithTheNextLine)
{
    const StderrCapture capture;
    mso::RateLimiter limiter(1, std::chrono::seconds(10));
    const Clock::time_point start = Clock::time_point{} + std::chrono::hours(1);
    mso::log_limited(limiter, "malformed datagram (1)", start);
    mso::log_limited(limiter, "malformed datagram (2)", start + std::chrono::seconds(1));
    mso::log_limited(limiter, "malformed datagram (3)", start + std::chrono::seconds(2));
    mso::log_limited(limiter, "malformed datagram (4)", start + std::chrono::seconds(10));
    EXPECT_EQ(capture.text(), "modsec-observed: malformed datagram (1)\n"
                              "modsec-observed: 2 similar messages suppressed\n"
                              "modsec-observed: malformed datagram (4)\n");
}

} // namespace
