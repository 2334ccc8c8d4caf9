// Answers the queries that need the history store (docs/protocol.md: which do, and why)
// off the loop thread: a worker thread with its own read-only HistoryStore connection
// takes jobs from a bounded queue and hands each answer line to a callback, which the
// server turns into a task on its loop thread (Server::post). The loop never waits on
// the disk: it only queues a job (a mutex, no I/O) and later appends the answer.
//
// route_query() is the rule that decides ring or history; answer_from_history() is one
// job's work, pure but for the store (tests call it directly).
#pragma once

#include "protocol/query.h"
#include "store/history_store.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mso {

// Jobs that may wait for the worker; more are refused with an error answer (counted).
inline constexpr std::size_t k_history_queue = 256;
// Answers kept for questions that accept an older one (`top` with `max_age`): at most
// this many, and this many bytes of answer lines in all; the oldest go first.
inline constexpr std::size_t k_recent_answers = 64;
inline constexpr std::size_t k_recent_answer_bytes = 8 * 1024 * 1024;

// Where a query is answered.
enum class Route { memory, history };

// The routing rule (docs/protocol.md, "Ring or history"). Without the store everything
// is answered from memory. With it:
//  - `event`: history (the loop falls back to the ring when history has no such id);
//  - `events`: history when it has a cursor, an engine or source filter (the ring does
//    not know them), or when its time range reaches before the oldest event the ring
//    holds (`oldest_ring_us`; an empty ring holds nothing; no since/window reaches back
//    to the beginning, except with `limit` 0, which means "all the ring holds"); else
//    the ring, which is ahead of the store by the writer's batch (at most 250 ms). The
//    server also asks history when the ring holds more matches than `limit`
//    (Server::wants_history: only history's answer pages);
//  - `timeseries`: history when the window is longer than memory keeps at that
//    resolution (24 hours of minutes, 30 days of hours);
//  - `stats`: history when the window is longer than 24 hours (memory answers shorter
//    ones from its minute series; longer ones only to the hour, and 30 days at most);
//  - `rules`, `top`: history with any window (memory counts them since the start);
//  - `stats`, `rules`, `timeseries` with a source memory has no aggregates of
//    (`source_in_memory` false: an import, or no such source): history, over every stored
//    event of it when there is no window; with a live source, the rules above (history
//    filters by source too, reading the source's events rather than per-minute counts);
//    `top` with a source: memory (history's top lists have no source filter);
//  - `sources`: both: the loop answers the live sources, history adds the stored ones;
//  - everything else: memory. Pure.
[[nodiscard]] Route route_query(const Query& query, bool history_enabled,
                                std::optional<std::int64_t> oldest_ring_us, std::int64_t wall_now,
                                bool source_in_memory = true);

struct HistoryJob {
    std::uint64_t client = 0; // the server's id of the asking client
    std::string line;         // the request line, to answer from the ring instead
    Query query;
    std::int64_t wall_now = 0; // Unix seconds: where windows end
    // When it was submitted (submit() sets it): a kept answer's age counts from the
    // newest question it answered, not from when the store was read.
    std::chrono::steady_clock::time_point asked{};
    // timeseries without a vhost: the vhosts to give a series each (the collector's).
    std::vector<std::string> vhosts;
    // sources: the live part of the answer, answered on the loop (a JSON object line);
    // the worker adds the sources of the store.
    std::string live;
};

struct HistoryAnswer {
    std::uint64_t client = 0;
    std::string request; // the job's request line
    std::string line;    // the answer, without the newline
    // `event` found nothing in history: answer `request` from the ring instead (the
    // ring is ahead of the store by the writer's batch).
    bool use_ring = false;
};

// One job answered from `store`. Errors become error answers. May block on the disk.
[[nodiscard]] HistoryAnswer answer_from_history(HistoryStore& store, const HistoryJob& job);

// What `health` reports of the history queries.
struct HistoryQueryCounters {
    std::uint64_t answered = 0; // jobs answered (errors included)
    std::uint64_t refused = 0;  // jobs refused because the queue was full
    std::uint64_t errors = 0;   // jobs answered with an error (store unreadable, ...)
    std::uint64_t queued = 0;   // jobs waiting now
    // jobs answered by another job's answer to the same question: one waiting with it, or,
    // when the question has a `max_age`, one answered at most that long ago
    std::uint64_t shared = 0;
};

// Whether `b` asks exactly what `a` asks (the same line with the same live parts), so one
// answer serves both.
[[nodiscard]] bool same_question(const HistoryJob& a, const HistoryJob& b);

// The worker. submit() and counters() are safe from any thread; `deliver` runs on the
// worker thread, once per job, in submission order for each client. Jobs that wait with
// the same question as the one taken are answered with it, by one reading of the store
// (ten dashboards open on one view ask the same `top` lists; each costs a scan): the
// answer is computed after every one of them arrived, with the newest one's clock, so
// none gets an answer older than its question. A question that says it accepts an older
// answer (`top` with `max_age`: a dashboard refreshing its 24-hour lists) gets the last
// answer to the same question if it is no older than that, without reading the store.
class HistoryService {
public:
    using Deliver = std::function<void(HistoryAnswer)>;

    // Opens `path` read-only on the worker thread at the first job (again after a
    // failure: the writer may not have created it yet).
    HistoryService(std::string path, Deliver deliver, std::size_t max_queue = k_history_queue);
    HistoryService(const HistoryService&) = delete;
    HistoryService& operator=(const HistoryService&) = delete;
    ~HistoryService();

    // Queues `job`; false (counted as refused) when max_queue jobs already wait or the
    // service stopped. Never blocks on the disk.
    [[nodiscard]] bool submit(HistoryJob job);
    [[nodiscard]] HistoryQueryCounters counters() const;
    // Answers nothing more: drops waiting jobs, finishes the current one, joins.
    void stop();

private:
    using Clock = std::chrono::steady_clock;
    // An answer kept for questions with a `max_age` (the worker thread's alone).
    struct RecentAnswer {
        HistoryJob question; // line, vhosts, live: what same_question() compares
        std::string line;
        Clock::time_point at; // when the newest question it answered was asked
        [[nodiscard]] std::size_t bytes() const
        {
            return question.line.size() + question.live.size() + line.size();
        }
    };

    void run();
    // The kept answer to `job`'s question no older than its max_age, if any.
    [[nodiscard]] const std::string* recent_answer(const HistoryJob& job) const;
    void keep_answer(const HistoryJob& job, const std::string& line);

    std::string m_path;
    Deliver m_deliver;
    std::size_t m_max_queue;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<HistoryJob> m_jobs;
    bool m_stopping = false;
    HistoryQueryCounters m_counters;
    std::optional<HistoryStore> m_store; // the worker thread's alone
    std::deque<RecentAnswer> m_recent;   // the worker thread's alone, oldest first
    std::thread m_thread;                // last: starts after the members above
};

} // namespace mso
