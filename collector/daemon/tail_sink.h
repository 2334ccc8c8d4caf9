// A `tail` stream for a reader on another thread (the dashboard's /api/tail): the
// loop appends the lines of matching events (Server::publish), the reader takes them
// in batches and waits for more. Bounded like a socket tail client's backlog: when the
// reader falls behind, further events are dropped and counted, and the next batch
// starts with a {"dropped":N} line.
//
// Thread-safety: every method from any thread. offer() never waits on the reader (a
// mutex held only for an append or a swap).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace mso {

class TailSink {
public:
    explicit TailSink(std::size_t max_backlog_bytes) : m_max_backlog(max_backlog_bytes) {}

    // Appends `line` (with its newline) unless the backlog is full; false when it was
    // dropped (the caller counts it).
    bool offer(const std::string& line);
    // Waits up to `timeout` for lines and takes them all ("" when none came or the
    // sink is closed).
    [[nodiscard]] std::string take(std::chrono::milliseconds timeout);
    // The reader is gone: the loop forgets the sink at its next event.
    void close();
    [[nodiscard]] bool closed() const;

private:
    const std::size_t m_max_backlog;
    mutable std::mutex m_mutex;
    std::condition_variable m_ready;
    std::string m_lines;
    std::uint64_t m_dropped = 0;
    bool m_closed = false;
};

} // namespace mso
