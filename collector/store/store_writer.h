// The history store's writer: its own thread and a bounded queue, so whoever produces
// events (the daemon's ingest loop, an import) never waits on the disk. The thread
// commits a batch every `batch_interval` or `batch_events`, whichever comes first (a
// kill -9 loses at most the events queued since the last commit), runs one retention
// step between batches, and counts what it could not take. Logs at a bounded rate
// through the caller's logger.
//
// Producers: every offer names the producer it comes from (0, the default, is the
// daemon's live ingest; new_producer() gives others, e.g. one per import connection) and
// the duplicate rule for that event. A marker (offer_marker) is queued like an event;
// when the writer reaches it, everything queued before it is committed or lost, and
// its callback learns what became of that producer's events since its previous marker.
// Bulk offers (imports) may fill at most `bulk_share` of the queue, so an import can
// never take the room live events need: beyond it they are refused with no_room (not
// counted as lost; the producer waits and offers again).
//
// Thread-safety: offer(), offer_marker(), flush(), counters() may be called from any
// thread. offer() takes a mutex for a push and never blocks on I/O. Marker callbacks run
// on the writer thread: keep them short (post the result elsewhere).
#pragma once

#include "store/history_store.h"
#include "util/log.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace mso {

struct StoreWriterOptions {
    std::size_t max_queue = 100'000;  // events waiting; offer() refuses beyond
    std::size_t batch_events = 32768; // commit when this many wait (docs/STORE.md)
    std::chrono::milliseconds batch_interval{250};
    Dedup dedup = Dedup::content; // of offer(StoredEvent&&)
    // Bulk events may be at most this share of max_queue (at least 1 event).
    double bulk_share = 0.5;
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
    std::uint64_t written = 0;     // stored
    std::uint64_t duplicates = 0;  // already stored, skipped
    std::uint64_t queue_full = 0;  // refused by offer(): the queue was full
    std::uint64_t disk_full = 0;   // lost: SQLITE_FULL
    std::uint64_t io_errors = 0;   // lost: any other error
    std::uint64_t batches = 0;     // committed transactions
    std::uint64_t pruned = 0;      // deleted by retention
    std::uint64_t queued = 0;      // waiting now
    std::uint64_t bulk_queued = 0; // of which bulk (imports)
    std::string last_error;        // "" when none yet
    // The newest request time (time_us) among the lost events (queue full, disk full,
    // I/O error) that the ring also has (Offer::in_ring: the module's); nullopt when none
    // was. Events at or after it may be in the ring only.
    std::optional<std::int64_t> newest_lost_us;
};

// Who offered an event: 0 is the default producer; new_producer() gives the others.
using Producer = std::uint64_t;

// How one event is offered.
struct Offer {
    Producer producer = 0;
    Dedup dedup = Dedup::content;
    bool bulk = false; // an import: limited to bulk_share of the queue
    // The collector's ring has the event too (the module's events, which the loop keeps
    // whether or not they are stored): its loss is counted in newest_lost_us.
    bool in_ring = false;
};

enum class OfferResult : std::uint8_t {
    accepted,
    refused, // the queue is full or the writer stopped: lost, counted as queue_full
    no_room, // bulk: its share of the queue is used; not counted, offer it again later
};

// What became of one producer's events between two of its markers.
struct MarkerResult {
    std::uint64_t inserted = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t lost = 0; // disk full or I/O error (offers refused are the producer's to count)

    bool operator==(const MarkerResult&) const = default;
};

using MarkerCallback = std::function<void(const MarkerResult&)>;

class StoreWriter {
public:
    // Starts the thread; it owns `store` from now on.
    StoreWriter(HistoryStore store, StoreWriterOptions options);
    StoreWriter(const StoreWriter&) = delete;
    StoreWriter& operator=(const StoreWriter&) = delete;
    ~StoreWriter(); // stop()

    // Queues one of the module's events (the default producer and dedup, in the ring);
    // false (and counted as queue_full) when the queue is full or the writer stopped.
    // Never waits on the disk.
    bool offer(StoredEvent&& event);
    // The same for one of the module's events that the collector's ring holds too (not
    // null; false for null, nothing counted): the queue shares it instead of copying it
    // (docs/BENCHMARKS.md, "The ring's event shared with the writer"). Whoever lets go
    // of it last frees it.
    bool offer(std::shared_ptr<const RequestEvent> event, EngineMode engine);
    // Queues one event as `how` says; never waits on the disk.
    OfferResult offer(StoredEvent&& event, const Offer& how);
    // Queues a marker of `producer`: `done` runs on the writer thread once every item
    // queued before it is committed or counted lost, with that producer's results since
    // its previous marker. False (and `done` never runs) when the writer stopped.
    // `commit_now`: someone waits for this marker (an HTTP client), so the writer
    // commits what is queued as soon as it is free instead of at the batch interval;
    // markers that arrive while it commits ride the next batch together (group commit).
    bool offer_marker(Producer producer, MarkerCallback done, bool commit_now = false);
    // offer(event, how) followed by offer_marker(how.producer, done, commit_now), under
    // one lock and with at most one wake-up of the writer (an upload that waits for its
    // commit). Not accepted: neither is queued and `done` never runs. Out of memory for
    // the marker (std::bad_alloc from the queue): the event stays queued, `done` never
    // runs, the exception reaches the caller.
    OfferResult offer_marked(StoredEvent&& event, const Offer& how, MarkerCallback done,
                             bool commit_now);
    // What runs on the writer thread after the marker callbacks of each batch that had
    // any (empty: nothing), e.g. to hand on their results at once. Returns once no call
    // of the previous one is running. Keep it short, as the callbacks.
    void set_after_markers(std::function<void()> hook);
    // A producer id never given before (1, 2, ...).
    [[nodiscard]] Producer new_producer() noexcept;
    // Whether a bulk offer would find room now (a hint: another thread may take it).
    [[nodiscard]] bool bulk_room() const;
    // Whether retention by age would delete an event of request time `time_us` (µs since
    // the epoch) at its next step, so that an import or a receiver does not store it
    // (docs/STORE.md, "Retention"). Never with no limit by age. Any thread.
    [[nodiscard]] bool too_old(std::int64_t time_us) const;
    [[nodiscard]] std::int64_t max_age_days() const noexcept { return m_options.max_age_days; }
    // Returns when every event offered before the call is committed (or counted lost).
    void flush();
    // Writes what is queued, then joins the thread. Idempotent.
    void stop();

    [[nodiscard]] StoreWriterCounters counters() const;

private:
    // One queued event or marker.
    struct Item {
        std::shared_ptr<const RequestEvent> event; // null for a marker
        std::string source;
        EngineMode engine = EngineMode::unknown;
        Offer how;
        MarkerCallback marker; // set: a marker of how.producer
    };

    // How the module's events are offered: the default producer and dedup, in the ring.
    [[nodiscard]] Offer module_offer() const noexcept
    {
        return Offer{0, m_options.dedup, false, true};
    }
    // Queues an event (m_mutex held), moving `item` into the queue; false when refused
    // or no room, as `result` says, and `item` is left as it was.
    bool push_event(Item& item, OfferResult& result);
    // Queues `item`, and the marker `done` after it when not null, under one lock with at
    // most one wake-up.
    OfferResult offer_item(Item& item, MarkerCallback* done, bool commit_now);
    // offer_item() for an event the caller owns: moved into a shared event of its own,
    // and moved back into `event` when not accepted.
    OfferResult offer_owned(StoredEvent& event, const Offer& how, MarkerCallback* done,
                            bool commit_now);
    // Queues a marker (m_mutex held); whether the writer needs a wake-up.
    bool push_marker(Producer producer, MarkerCallback&& done, bool commit_now);
    void run();
    void write(std::vector<Item>& batch);
    void prune();
    void log(const std::string& message);

    HistoryStore m_store;
    StoreWriterOptions m_options;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;    // the thread waits for events or stop
    std::condition_variable m_flushed; // flush() waits for m_done
    std::deque<Item> m_queue;
    std::size_t m_queued_events = 0; // events in m_queue (markers not counted)
    std::size_t m_queued_bulk = 0;   // bulk events in m_queue
    std::size_t m_bulk_limit = 1;
    std::uint64_t m_offered = 0; // items accepted
    std::uint64_t m_done = 0;    // committed or counted lost
    bool m_flush_wanted = false;
    bool m_commit_now = false; // a waited-for marker is queued
    bool m_stopping = false;
    std::string m_last_error;

    std::atomic<std::uint64_t> m_written{0};
    std::atomic<std::uint64_t> m_duplicates{0};
    std::atomic<std::uint64_t> m_queue_full{0};
    std::atomic<std::uint64_t> m_disk_full{0};
    std::atomic<std::uint64_t> m_io_errors{0};
    std::atomic<std::int64_t> m_newest_lost_us{std::numeric_limits<std::int64_t>::min()};
    void lost(std::int64_t time_us) noexcept; // raises m_newest_lost_us to time_us
    std::atomic<std::uint64_t> m_batches{0};
    std::atomic<std::uint64_t> m_pruned{0};
    std::atomic<Producer> m_next_producer{1};

    std::chrono::steady_clock::time_point m_first_at{}; // when the oldest queued came

    std::mutex m_hook_mutex; // held while m_after_markers runs
    std::function<void()> m_after_markers;

    // Writer thread only.
    std::unordered_map<Producer, MarkerResult> m_since_marker;
    RateLimiter m_limiter;
    std::chrono::steady_clock::time_point m_next_prune{};

    std::thread m_thread; // last: starts after every member exists
};

} // namespace mso
