// What the collector's two HTTP servers (metrics_http, web_server) share around
// cpp-httplib: a bounded worker pool, and a way to end connections that a slow
// client keeps open so that stopping does not wait for it. Only these three files
// include httplib.h.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mso {

// A fixed pool of `threads` workers whose enqueue() blocks the accepting thread
// while `max_pending` accepted connections already wait (httplib's ThreadPool
// queues without bound), so a flood waits in the kernel's listen queue instead of
// holding descriptors here.
class BoundedPool final : public httplib::TaskQueue {
public:
    BoundedPool(std::size_t threads, std::size_t max_pending) : m_max_pending(max_pending)
    {
        for (std::size_t i = 0; i < threads; ++i) {
            m_threads.emplace_back([this] { work(); });
        }
    }
    BoundedPool(const BoundedPool&) = delete;
    BoundedPool& operator=(const BoundedPool&) = delete;
    ~BoundedPool() override { shutdown(); }

    void enqueue(std::function<void()> fn) override
    {
        std::unique_lock lock(m_mutex);
        m_space.wait(lock, [&] { return m_jobs.size() < m_max_pending; });
        m_jobs.push_back(std::move(fn));
        m_ready.notify_one();
    }

    // Runs what is queued (every job owns an accepted socket), then joins.
    void shutdown() override
    {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_ready.notify_all();
        for (std::thread& t : m_threads) {
            if (t.joinable()) {
                t.join();
            }
        }
    }

private:
    void work()
    {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(m_mutex);
                m_ready.wait(lock, [&] { return m_stopping || !m_jobs.empty(); });
                if (m_jobs.empty()) {
                    return;
                }
                job = std::move(m_jobs.front());
                m_jobs.pop_front();
            }
            m_space.notify_one();
            job();
        }
    }

    const std::size_t m_max_pending;
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::condition_variable m_space;
    std::deque<std::function<void()>> m_jobs;
    bool m_stopping = false;
    std::vector<std::thread> m_threads;
};

// Shuts down (without closing: the worker owning the descriptor closes it)
// every accepted TCP socket of this process whose local port is `port`. Only
// the HTTP endpoints have TCP sockets here; query clients use a Unix socket, and
// the two endpoints listen on different ports.
void shutdown_connections(int port);

} // namespace mso
