// The writer thread of store_writer.h.
#include "store/store_writer.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace mso {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What became of one event of a batch.
constexpr std::uint8_t k_lost = 0;
constexpr std::uint8_t k_inserted = 1;
constexpr std::uint8_t k_duplicate = 2;

std::int64_t system_now_us()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

StoreWriter::StoreWriter(HistoryStore store, StoreWriterOptions options)
    : m_store(std::move(store)),
      m_options(std::move(options)),
      m_limiter(m_options.log_burst, m_options.log_window)
{
    m_options.batch_events = std::max<std::size_t>(m_options.batch_events, 1);
    m_bulk_limit = std::max<std::size_t>(
        static_cast<std::size_t>(static_cast<double>(m_options.max_queue) * m_options.bulk_share),
        1);
    if (!m_options.now_us) {
        m_options.now_us = system_now_us;
    }
    m_thread = std::thread([this] { run(); });
}

StoreWriter::~StoreWriter()
{
    stop();
}

bool StoreWriter::offer(StoredEvent&& event)
{
    return offer(std::move(event), module_offer()) == OfferResult::accepted;
}

bool StoreWriter::offer(std::shared_ptr<const RequestEvent> event, EngineMode engine)
{
    if (event == nullptr) {
        return false;
    }
    Item item{std::move(event), std::string(k_source_module), engine, module_offer(), {}};
    return offer_item(item, nullptr, false) == OfferResult::accepted;
}

OfferResult StoreWriter::offer(StoredEvent&& event, const Offer& how)
{
    return offer_owned(event, how, nullptr, false);
}

OfferResult StoreWriter::offer_owned(StoredEvent& event, const Offer& how, MarkerCallback* done,
                                     bool commit_now)
{
    auto owned = std::make_shared<RequestEvent>(std::move(event.event));
    Item item{owned, std::move(event.source), event.engine_mode, how, {}};
    const OfferResult result = offer_item(item, done, commit_now);
    if (result != OfferResult::accepted) { // left with the caller, as it came
        event.event = std::move(*owned);
        event.source = std::move(item.source);
    }
    return result;
}

OfferResult StoreWriter::offer_item(Item& item, MarkerCallback* done, bool commit_now)
{
    OfferResult result = OfferResult::accepted;
    const Producer producer = item.how.producer;
    bool wake = false;
    {
        const std::lock_guard lock(m_mutex);
        if (!push_event(item, result)) {
            return result;
        }
        // Wake the thread to start the batch timer, and when a batch is full; with a
        // marker, once for both (the event alone would wake the thread to start the
        // batch timer, then the marker again to commit now).
        wake = m_queue.size() == 1 || m_queue.size() == m_options.batch_events;
        if (done != nullptr) {
            try {
                wake = push_marker(producer, std::move(*done), commit_now) || wake;
            } catch (...) {
                // Out of memory queueing the marker: the event is queued all the same, so
                // the thread must still hear of it (it starts the batch timer on a wake),
                // or the event would wait for a full batch. The caller gets the error.
                if (wake) {
                    m_wake.notify_one();
                }
                throw;
            }
        }
    }
    if (wake) {
        m_wake.notify_one();
    }
    return result;
}

bool StoreWriter::offer_marker(Producer producer, MarkerCallback done, bool commit_now)
{
    bool wake = false;
    {
        const std::lock_guard lock(m_mutex);
        if (m_stopping) {
            return false;
        }
        wake = push_marker(producer, std::move(done), commit_now);
    }
    if (wake) {
        m_wake.notify_one();
    }
    return true;
}

OfferResult StoreWriter::offer_marked(StoredEvent&& event, const Offer& how, MarkerCallback done,
                                      bool commit_now)
{
    return offer_owned(event, how, &done, commit_now);
}

bool StoreWriter::push_event(Item& item, OfferResult& result)
{
    const Offer how = item.how;
    const bool full = m_stopping || m_queued_events >= m_options.max_queue;
    if (how.bulk && !m_stopping && (full || m_queued_bulk >= m_bulk_limit)) {
        result = OfferResult::no_room;
        return false;
    }
    if (full) {
        m_queue_full.fetch_add(1, std::memory_order_relaxed);
        if (how.in_ring) {
            lost(item.event->time_us);
        }
        result = OfferResult::refused;
        return false;
    }
    if (m_queue.empty()) {
        m_first_at = SteadyClock::now();
    }
    m_queue.push_back(std::move(item));
    ++m_queued_events;
    m_queued_bulk += how.bulk ? 1 : 0;
    ++m_offered;
    result = OfferResult::accepted;
    return true;
}

bool StoreWriter::push_marker(Producer producer, MarkerCallback&& done, bool commit_now)
{
    if (m_queue.empty()) {
        m_first_at = SteadyClock::now();
    }
    Item item;
    item.how.producer = producer;
    item.marker = std::move(done);
    m_queue.push_back(std::move(item));
    ++m_offered;
    const bool wake = m_queue.size() == 1 || m_queue.size() == m_options.batch_events ||
                      (commit_now && !m_commit_now);
    m_commit_now = m_commit_now || commit_now;
    return wake;
}

void StoreWriter::set_after_markers(std::function<void()> hook)
{
    const std::lock_guard lock(m_hook_mutex);
    m_after_markers = std::move(hook);
}

Producer StoreWriter::new_producer() noexcept
{
    return m_next_producer.fetch_add(1, std::memory_order_relaxed);
}

bool StoreWriter::bulk_room() const
{
    const std::lock_guard lock(m_mutex);
    return !m_stopping && m_queued_bulk < m_bulk_limit && m_queued_events < m_options.max_queue;
}

bool StoreWriter::too_old(std::int64_t time_us) const
{
    return m_options.max_age_days > 0 &&
           time_us < oldest_kept_us(m_options.now_us(), m_options.max_age_days);
}

void StoreWriter::flush()
{
    std::unique_lock lock(m_mutex);
    const std::uint64_t target = m_offered;
    m_flush_wanted = true;
    m_wake.notify_one();
    m_flushed.wait(lock, [&] { return m_done >= target; });
}

void StoreWriter::stop()
{
    {
        const std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_one();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

void StoreWriter::lost(std::int64_t time_us) noexcept
{
    std::int64_t newest = m_newest_lost_us.load(std::memory_order_relaxed);
    while (time_us > newest &&
           !m_newest_lost_us.compare_exchange_weak(newest, time_us, std::memory_order_relaxed)) {
    }
}

StoreWriterCounters StoreWriter::counters() const
{
    StoreWriterCounters c;
    c.written = m_written.load(std::memory_order_relaxed);
    c.duplicates = m_duplicates.load(std::memory_order_relaxed);
    c.queue_full = m_queue_full.load(std::memory_order_relaxed);
    c.disk_full = m_disk_full.load(std::memory_order_relaxed);
    c.io_errors = m_io_errors.load(std::memory_order_relaxed);
    c.batches = m_batches.load(std::memory_order_relaxed);
    c.pruned = m_pruned.load(std::memory_order_relaxed);
    if (const auto newest = m_newest_lost_us.load(std::memory_order_relaxed);
        newest != std::numeric_limits<std::int64_t>::min()) {
        c.newest_lost_us = newest;
    }
    const std::lock_guard lock(m_mutex);
    c.queued = m_queued_events;
    c.bulk_queued = m_queued_bulk;
    c.last_error = m_last_error;
    return c;
}

void StoreWriter::run()
{
    const bool retention = m_options.max_age_days > 0 || m_options.max_bytes > 0;
    std::vector<Item> batch;
    for (;;) {
        bool last = false;
        {
            std::unique_lock lock(m_mutex);
            while (!m_stopping && !m_flush_wanted && !m_commit_now &&
                   m_queue.size() < m_options.batch_events) {
                const auto now = SteadyClock::now();
                if (!m_queue.empty()) {
                    const auto deadline = m_first_at + m_options.batch_interval;
                    if (now >= deadline) {
                        break;
                    }
                    m_wake.wait_until(lock, deadline);
                } else if (retention && now >= m_next_prune) {
                    break; // idle: time for a retention step
                } else {
                    m_wake.wait_until(lock, retention ? m_next_prune : now + std::chrono::hours(1));
                }
            }
            const std::size_t n = std::min(m_queue.size(), m_options.batch_events);
            std::move(m_queue.begin(), m_queue.begin() + static_cast<std::ptrdiff_t>(n),
                      std::back_inserter(batch));
            for (const Item& item : batch) {
                if (!item.marker) {
                    --m_queued_events;
                    m_queued_bulk -= item.how.bulk ? 1 : 0;
                }
            }
            m_queue.erase(m_queue.begin(), m_queue.begin() + static_cast<std::ptrdiff_t>(n));
            if (m_queue.empty()) {
                m_flush_wanted = false;
            }
            // What is left beyond batch_events may hold the waited-for marker: go on.
            m_commit_now = m_commit_now && !m_queue.empty();
            last = m_stopping && m_queue.empty();
        }
        if (!batch.empty()) {
            write(batch);
        }
        if (last) {
            return;
        }
        if (retention) {
            prune();
        }
    }
}

void StoreWriter::write(std::vector<Item>& batch)
{
    // One transaction per duplicate rule for the whole batch (usually one): markers do
    // not split it, so the HTTP clients waiting for theirs share a commit (group commit).
    // Each event's outcome is kept, then the batch is walked in order so that every
    // marker gets its producer's results since its previous marker, as before.
    std::vector<std::uint8_t> outcome(batch.size(), k_lost);
    std::vector<EventRef> events;
    std::vector<std::size_t> index;
    std::vector<bool> inserted;
    std::vector<bool> taken(batch.size(), false);
    for (std::size_t first = 0; first < batch.size(); ++first) {
        if (taken[first] || batch[first].marker) {
            continue;
        }
        const Dedup dedup = batch[first].how.dedup;
        events.clear();
        index.clear();
        for (std::size_t i = first; i < batch.size(); ++i) {
            if (!taken[i] && !batch[i].marker && batch[i].how.dedup == dedup) {
                taken[i] = true;
                const Item& item = batch[i];
                events.push_back({item.event.get(), item.source, item.engine});
                index.push_back(i);
            }
        }
        auto stats = m_store.write_batch(std::span<const EventRef>(events), dedup, &inserted);
        if (stats && inserted.size() == index.size()) {
            m_written.fetch_add(stats->inserted, std::memory_order_relaxed);
            m_duplicates.fetch_add(stats->duplicates, std::memory_order_relaxed);
            m_batches.fetch_add(1, std::memory_order_relaxed);
            for (std::size_t k = 0; k < index.size(); ++k) {
                outcome[index[k]] = inserted[k] ? k_inserted : k_duplicate;
            }
        } else {
            const auto n = static_cast<std::uint64_t>(events.size());
            const bool full = m_store.last_failure() == SqliteFailure::full;
            (full ? m_disk_full : m_io_errors).fetch_add(n, std::memory_order_relaxed);
            for (std::size_t k = 0; k < index.size(); ++k) {
                if (batch[index[k]].how.in_ring) {
                    lost(events[k].event->time_us);
                }
            }
            log(stats.error() + (full ? " (disk full)" : ""));
        }
    }
    bool markers = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Producer producer = batch[i].how.producer;
        if (!batch[i].marker) {
            MarkerResult& mine = m_since_marker[producer];
            ++(outcome[i] == k_inserted    ? mine.inserted
               : outcome[i] == k_duplicate ? mine.duplicates
                                           : mine.lost);
            continue;
        }
        MarkerResult result;
        if (const auto it = m_since_marker.find(producer); it != m_since_marker.end()) {
            result = it->second;
            m_since_marker.erase(it);
        }
        batch[i].marker(result);
        markers = true;
    }
    if (markers) {
        const std::lock_guard lock(m_hook_mutex);
        if (m_after_markers) {
            m_after_markers();
        }
    }
    const auto n = static_cast<std::uint64_t>(batch.size());
    batch.clear();
    {
        const std::lock_guard lock(m_mutex);
        m_done += n;
    }
    m_flushed.notify_all();
}

void StoreWriter::prune()
{
    const auto now = SteadyClock::now();
    if (now < m_next_prune) {
        return;
    }
    auto pruned = m_store.prune_step(m_options.now_us(), m_options.max_age_days,
                                     m_options.max_bytes, m_options.prune_rows);
    if (!pruned) {
        log(pruned.error());
        m_next_prune = now + m_options.prune_interval;
        return;
    }
    m_pruned.fetch_add(*pruned, std::memory_order_relaxed);
    // More to delete: go on between the next batches; else rest.
    m_next_prune = *pruned >= m_options.prune_rows ? now : now + m_options.prune_interval;
}

void StoreWriter::log(const std::string& message)
{
    {
        const std::lock_guard lock(m_mutex);
        m_last_error = message;
    }
    std::uint64_t suppressed = 0;
    if (!m_options.log || !m_limiter.allow(SteadyClock::now(), suppressed)) {
        return;
    }
    if (suppressed > 0) {
        m_options.log(std::to_string(suppressed) + " similar history messages suppressed");
    }
    m_options.log(message);
}

} // namespace mso
