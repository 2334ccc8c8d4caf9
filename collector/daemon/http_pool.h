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

// What a BoundedPool tells its owner about connections, all optional. The atomics must
// outlive the pool.
struct PoolGauges {
    std::atomic<std::size_t>* open = nullptr;    // connections held (waiting or served)
    std::atomic<std::size_t>* waiting = nullptr; // accepted, waiting for a thread
};

// Connections beyond the bound: with `threads` > 0, a connection that finds every worker
// busy and `max_pending` already waiting is served by one of these threads instead, with
// shedding() true there, so the server can answer it with a refusal it counts (the
// console's 503 "too many connections") rather than leave it unseen in the kernel's
// listen queue. `unseen` runs after a shed connection whose handlers never called
// shed_seen() (it sent no request): so that it is counted too.
struct Overflow {
    std::size_t threads = 0; // 0: the accepting thread waits for room (no shedding)
    std::function<void()> unseen;
};

// A fixed pool of `threads` workers whose enqueue() never queues more than `max_pending`
// accepted connections (httplib's ThreadPool queues without bound). Beyond that, without
// an Overflow, enqueue() blocks the accepting thread, so a flood waits in the kernel's
// listen queue instead of holding descriptors here; with one, the connection goes to
// the overflow threads (at most `max_pending` waiting there too; beyond both, enqueue()
// blocks as well).
class BoundedPool final : public httplib::TaskQueue {
public:
    BoundedPool(std::size_t threads, std::size_t max_pending, PoolGauges gauges = {},
                Overflow overflow = {})
        : m_max_pending(max_pending), m_gauges(gauges), m_overflow(std::move(overflow))
    {
        for (std::size_t i = 0; i < threads; ++i) {
            m_threads.emplace_back([this] { work(m_jobs, false); });
        }
        for (std::size_t i = 0; i < m_overflow.threads; ++i) {
            m_threads.emplace_back([this] { work(m_shed, true); });
        }
    }
    BoundedPool(const BoundedPool&) = delete;
    BoundedPool& operator=(const BoundedPool&) = delete;
    ~BoundedPool() override { shutdown(); }

    void enqueue(std::function<void()> fn) override
    {
        add(m_gauges.open, 1);
        add(m_gauges.waiting, 1);
        std::unique_lock lock(m_mutex);
        const bool shed = m_overflow.threads > 0 && m_jobs.size() >= m_max_pending;
        std::deque<std::function<void()>>& lane = shed ? m_shed : m_jobs;
        m_space.wait(lock, [&] { return lane.size() < m_max_pending; });
        lane.push_back(std::move(fn));
        (shed ? m_shed_ready : m_ready).notify_one();
    }

    // Runs what is queued (every job owns an accepted socket), then joins.
    void shutdown() override
    {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_ready.notify_all();
        m_shed_ready.notify_all();
        for (std::thread& t : m_threads) {
            if (t.joinable()) {
                t.join();
            }
        }
    }

    // True on an overflow thread while it serves a connection beyond the bound.
    [[nodiscard]] static bool shedding() noexcept { return t_shedding; }
    // The shed connection's request was answered and counted by the server.
    static void shed_seen() noexcept { t_shed_seen = true; }

private:
    static void add(std::atomic<std::size_t>* gauge, std::size_t n) noexcept
    {
        if (gauge != nullptr) {
            gauge->fetch_add(n, std::memory_order_relaxed);
        }
    }
    static void sub(std::atomic<std::size_t>* gauge) noexcept
    {
        if (gauge != nullptr) {
            gauge->fetch_sub(1, std::memory_order_relaxed);
        }
    }

    void work(std::deque<std::function<void()>>& lane, bool shed)
    {
        std::condition_variable& ready = shed ? m_shed_ready : m_ready;
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(m_mutex);
                ready.wait(lock, [&] { return m_stopping || !lane.empty(); });
                if (lane.empty()) {
                    return;
                }
                job = std::move(lane.front());
                lane.pop_front();
            }
            m_space.notify_all();
            sub(m_gauges.waiting);
            t_shedding = shed;
            t_shed_seen = false;
            job();
            t_shedding = false;
            if (shed && !t_shed_seen && m_overflow.unseen) {
                m_overflow.unseen();
            }
            sub(m_gauges.open);
        }
    }

    static inline thread_local bool t_shedding = false;
    static inline thread_local bool t_shed_seen = false;

    const std::size_t m_max_pending;
    PoolGauges m_gauges;
    Overflow m_overflow;
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::condition_variable m_shed_ready;
    std::condition_variable m_space;
    std::deque<std::function<void()>> m_jobs;
    std::deque<std::function<void()>> m_shed;
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
