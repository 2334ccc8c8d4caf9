// Tasks other threads hand to the loop thread: the history worker's answers, the store
// writer's acknowledgements. post() queues a task and wakes the loop through an eventfd
// that the loop polls; the loop runs the queued tasks in the order they were posted.
//
// Thread-safety: post() from any thread (a mutex for a push and an 8-byte write, never
// waits on the loop); fd() and run_posted() on the loop thread only.
#pragma once

#include "util/fd.h"
#include "util/result.h"

#include <functional>
#include <mutex>
#include <vector>

namespace mso {

class LoopInbox {
public:
    [[nodiscard]] static Result<LoopInbox> create();
    LoopInbox(LoopInbox&& other) noexcept : m_wake(std::move(other.m_wake)) {}
    LoopInbox& operator=(LoopInbox&&) = delete;

    // Queues `task` to run on the loop thread. Never blocks on the loop; may throw
    // std::bad_alloc like any push.
    void post(std::function<void()> task);
    // The descriptor to poll for POLLIN.
    [[nodiscard]] int fd() const noexcept { return m_wake.get(); }
    // Clears the wake-up and runs every task posted so far (tasks posted while they run
    // wait for the next call, which the eventfd announces).
    void run_posted();

private:
    explicit LoopInbox(Fd wake) : m_wake(std::move(wake)) {}

    Fd m_wake; // eventfd, non-blocking
    std::mutex m_mutex;
    std::vector<std::function<void()>> m_tasks;
};

} // namespace mso
