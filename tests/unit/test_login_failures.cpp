// LoginFailures: when an address is blocked, for how long, and the table's bound.
#include "daemon/login_failures.h"

#include <gtest/gtest.h>

#include <string>

namespace mso {
namespace {

using std::chrono::seconds;
const LoginFailures::Clock::time_point t0{};

TEST(LoginFailures, BlocksAnAddressAtTheLimitUntilItsWindowEnds)
{
    LoginFailures f(3, seconds(60));
    EXPECT_FALSE(f.failed("192.0.2.1", t0));
    EXPECT_FALSE(f.failed("192.0.2.1", t0 + seconds(1)));
    EXPECT_FALSE(f.blocked("192.0.2.1", t0 + seconds(2)));
    EXPECT_TRUE(f.failed("192.0.2.1", t0 + seconds(2))); // the third: blocked from now
    EXPECT_TRUE(f.blocked("192.0.2.1", t0 + seconds(3)));
    EXPECT_TRUE(f.blocked("192.0.2.1", t0 + seconds(59)));
    EXPECT_FALSE(f.blocked("192.0.2.2", t0 + seconds(3)));  // another address
    EXPECT_FALSE(f.blocked("192.0.2.1", t0 + seconds(60))); // the window ended
    EXPECT_FALSE(f.failed("192.0.2.1", t0 + seconds(61)));  // a new window
    EXPECT_FALSE(f.blocked("192.0.2.1", t0 + seconds(61)));
}

TEST(LoginFailures, FailuresSpreadOverWindowsDoNotBlock)
{
    LoginFailures f(2, seconds(10));
    for (int i = 0; i < 5; ++i) {
        EXPECT_FALSE(f.failed("198.51.100.7", t0 + seconds(11 * i)));
        EXPECT_FALSE(f.blocked("198.51.100.7", t0 + seconds(11 * i + 1)));
    }
}

TEST(LoginFailures, ClearForgetsAndZeroNeverBlocks)
{
    LoginFailures f(1, seconds(60));
    EXPECT_TRUE(f.failed("::1", t0));
    EXPECT_TRUE(f.blocked("::1", t0));
    f.clear();
    EXPECT_FALSE(f.blocked("::1", t0));
    LoginFailures off(0, seconds(60));
    EXPECT_FALSE(off.failed("::1", t0));
    EXPECT_FALSE(off.blocked("::1", t0));
    EXPECT_EQ(off.size(), 0U);
}

TEST(LoginFailures, HoldsAtMostItsBoundDroppingTheOldestWindow)
{
    LoginFailures f(1, seconds(60), 3);
    for (int i = 0; i < 3; ++i) {
        (void)f.failed("10.0.0." + std::to_string(i), t0 + seconds(i));
    }
    EXPECT_EQ(f.size(), 3U);
    (void)f.failed("10.0.0.9", t0 + seconds(5)); // drops 10.0.0.0, whose window is oldest
    EXPECT_EQ(f.size(), 3U);
    EXPECT_FALSE(f.blocked("10.0.0.0", t0 + seconds(6)));
    EXPECT_TRUE(f.blocked("10.0.0.1", t0 + seconds(6)));
    EXPECT_TRUE(f.blocked("10.0.0.9", t0 + seconds(6)));
    // Expired ones go first.
    (void)f.failed("10.0.0.10", t0 + seconds(62)); // 10.0.0.1 and .2 expired
    EXPECT_TRUE(f.blocked("10.0.0.9", t0 + seconds(62)));
    EXPECT_TRUE(f.blocked("10.0.0.10", t0 + seconds(62)));
}

} // namespace
} // namespace mso
