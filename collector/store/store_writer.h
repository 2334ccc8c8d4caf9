// The history store's writer: its own thread and a bounded queue, so whoever produces
// events (the daemon's ingest loop, an import) never waits on the disk. The thread
// commits a batch every `batch_interval` or `batch_events`, whichever comes first (a
// kill -9 loses at most the events queued since the last commit), runs one retention
// step between batches, and counts what it could not take. Logs at a bounded rate
// through the caller's logger.
//
// Thread-safety: offer(), flush(), counters() may be called from any thread. offer()
// takes a mutex for a push and never blocks on I/O.
#pragma once

#include "store/history_store.h"
#include "util/log.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace mso {

struct StoreWriterOptions {
    std::size_t max_queue = 100'000; // events waiting; offer() refuses beyond
    std::size_t batch_events = 4096; // commit when this many wait
    std::chrono::milliseconds batch_interval{250};
    Dedup dedup = Dedup::content;
    // Retention (0: no limit): one step of at most prune_rows rows between batches.
    std::int64_t max_age_days = 30;
    std::int64_t max_bytes = 0;
    std::size_t prune_rows = 2000;
    std::chrono::milliseconds prune_interval{1000}; // between steps when idle or done
    // Where log lines go (without a prefix); at most log_burst per log_window.
    std::function<void(std::string_view)> log;
    std::size_t log_burst = 5;
    std::chrono::seconds log_window{60};
    // The clock for retention, in µs since the epoch (tests inject one).
    std::function<std::int64_t()> now_us;
};

// What the writer did and could not do, for `health` and /metrics. Event counts.
struct StoreWriterCounters {
    std::uint64_t written = 0;    // stored
    std::uint64_t duplicates = 0; // already stored, skipped
    std::uint64_t queue_full = 0; // refused by offer(): the queue was full
    std::uint64_t disk_full = 0;  // lost: SQLITE_FULL
    std::uint64_t io_errors = 0;  // lost: any other error
    std::uint64_t batches = 0;    // committed transactions
    std::uint64_t pruned = 0;     // deleted by retention
    std::uint64_t queued = 0;     // waiting now
    std::string last_error;       // "" when none yet
};

class StoreWriter {
public:
    // Starts the thread; it owns `store` from now on.
    StoreWriter(HistoryStore store, StoreWriterOptions options);
    StoreWriter(const StoreWriter&) = delete;
    StoreWriter& operator=(const StoreWriter&) = delete;
    ~StoreWriter(); // stop()

    // Queues one event; false (and counted as queue_full) when the queue is full or the
    // writer stopped. Never waits on the disk.
    bool offer(StoredEvent&& event);
    // Returns when every event offered before the call is committed (or counted lost).
    void flush();
    // Writes what is queued, then joins the thread. Idempotent.
    void stop();

    [[nodiscard]] StoreWriterCounters counters() const;

private:
    void run();
    void write(std::vector<StoredEvent>& batch);
    void prune();
    void log(const std::string& message);

    HistoryStore m_store;
    StoreWriterOptions m_options;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;    // the thread waits for events or stop
    std::condition_variable m_flushed; // flush() waits for m_done
    std::deque<StoredEvent> m_queue;
    std::uint64_t m_offered = 0; // accepted by offer()
    std::uint64_t m_done = 0;    // committed or counted lost
    bool m_flush_wanted = false;
    bool m_stopping = false;
    std::string m_last_error;

    std::atomic<std::uint64_t> m_written{0};
    std::atomic<std::uint64_t> m_duplicates{0};
    std::atomic<std::uint64_t> m_queue_full{0};
    std::atomic<std::uint64_t> m_disk_full{0};
    std::atomic<std::uint64_t> m_io_errors{0};
    std::atomic<std::uint64_t> m_batches{0};
    std::atomic<std::uint64_t> m_pruned{0};

    std::chrono::steady_clock::time_point m_first_at{}; // when the oldest queued came

    // Writer thread only.
    RateLimiter m_limiter;
    std::chrono::steady_clock::time_point m_next_prune{};

    std::thread m_thread; // last: starts after every member exists
};

} // namespace mso
