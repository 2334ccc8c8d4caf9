// What the collector's HTTP servers (metrics_http, web_server, console_receiver) share around
// cpp-httplib: a bounded worker pool, and a way to end connections that a slow
// client keeps open so that stopping does not wait for it (or so that a watchdog can
// cut it). Only these files include httplib.h.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mso {

// A fixed pool of `threads` workers whose enqueue() blocks the accepting thread
// while `max_pending` accepted connections already wait (httplib's ThreadPool
// queues without bound), so a flood waits in the kernel's listen queue instead of
// holding descriptors here.
class BoundedPool final : public httplib::TaskQueue {
public:
    // `open`, when given, counts the connections the pool holds (queued or being served).
    BoundedPool(std::size_t threads, std::size_t max_pending,
                std::atomic<std::size_t>* open = nullptr)
        : m_max_pending(max_pending), m_open(open)
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
        if (m_open != nullptr) {
            m_open->fetch_add(1, std::memory_order_relaxed);
        }
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
            if (m_open != nullptr) {
                m_open->fetch_sub(1, std::memory_order_relaxed);
            }
        }
    }

    const std::size_t m_max_pending;
    std::atomic<std::size_t>* m_open;
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::condition_variable m_space;
    std::deque<std::function<void()>> m_jobs;
    bool m_stopping = false;
    std::vector<std::thread> m_threads;
};

// An accepted TCP socket of this process: its descriptor and peer "ip:port" ("" when
// the peer is already gone).
struct Connection {
    int fd = -1;
    std::string peer;
};

// The accepted (not listening) TCP sockets of this process whose local port is
// `port`, found in /proc/self/fd. Only the HTTP endpoints have TCP sockets here;
// query clients use a Unix socket, and the endpoints listen on different ports.
[[nodiscard]] std::vector<Connection> connections_on(int port);

// Shuts down (without closing: the worker owning the descriptor closes it) every
// connection of connections_on(port).
void shutdown_connections(int port);

} // namespace mso
