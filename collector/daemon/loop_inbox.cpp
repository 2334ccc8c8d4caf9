#include "daemon/loop_inbox.h"

#include "util/errno_text.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace mso {

Result<LoopInbox> LoopInbox::create()
{
    Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake) {
        return fail("eventfd: " + errno_text(errno));
    }
    return LoopInbox(std::move(wake));
}

void LoopInbox::post(std::function<void()> task)
{
    bool was_empty = false;
    {
        const std::lock_guard lock(m_mutex);
        was_empty = m_tasks.empty();
        m_tasks.push_back(std::move(task));
    }
    if (was_empty) {
        // Cannot fail but on counter overflow (2^64 - 2 wake-ups without a read).
        const std::uint64_t one = 1;
        (void)!::write(m_wake.get(), &one, sizeof(one));
    }
}

void LoopInbox::run_posted()
{
    std::uint64_t count = 0;
    (void)!::read(m_wake.get(), &count, sizeof(count)); // EAGAIN: nothing to clear
    std::vector<std::function<void()>> tasks;
    {
        const std::lock_guard lock(m_mutex);
        tasks.swap(m_tasks);
    }
    for (auto& task : tasks) {
        task();
    }
}

} // namespace mso
