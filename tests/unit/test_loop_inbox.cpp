#include "daemon/loop_inbox.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>
#include <vector>

namespace mso {
namespace {

bool readable(int fd, int timeout_ms)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

TEST(LoopInbox, WakesThePollAndRunsTasksInOrder)
{
    auto inbox = LoopInbox::create();
    ASSERT_TRUE(inbox) << inbox.error();
    EXPECT_FALSE(readable(inbox->fd(), 0)); // nothing posted
    std::vector<int> ran;
    inbox->post([&] { ran.push_back(1); });
    inbox->post([&] { ran.push_back(2); });
    ASSERT_TRUE(readable(inbox->fd(), 0));
    inbox->run_posted();
    EXPECT_EQ(ran, (std::vector<int>{1, 2}));
    EXPECT_FALSE(readable(inbox->fd(), 0)); // the wake-up was cleared
    inbox->run_posted();                    // nothing left: runs nothing, does not block
    EXPECT_EQ(ran.size(), 2U);
}

TEST(LoopInbox, ATaskPostedWhileRunningWaitsForTheNextWakeUp)
{
    auto inbox = LoopInbox::create();
    ASSERT_TRUE(inbox) << inbox.error();
    int runs = 0;
    inbox->post([&] {
        ++runs;
        inbox->post([&] { ++runs; });
    });
    inbox->run_posted();
    EXPECT_EQ(runs, 1);
    ASSERT_TRUE(readable(inbox->fd(), 0));
    inbox->run_posted();
    EXPECT_EQ(runs, 2);
}

TEST(LoopInbox, TasksFromOtherThreadsAllRunOnTheLoop)
{
    auto inbox = LoopInbox::create();
    ASSERT_TRUE(inbox) << inbox.error();
    constexpr int k_threads = 4;
    constexpr int k_per_thread = 1000;
    int runs = 0; // touched by the loop (this thread) only
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < k_per_thread; ++i) {
                inbox->post([&] { ++runs; });
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    while (readable(inbox->fd(), 0)) {
        inbox->run_posted();
    }
    EXPECT_EQ(runs, k_threads * k_per_thread);
}

} // namespace
} // namespace mso
