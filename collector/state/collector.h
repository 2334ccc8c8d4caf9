// The collector's state as the query side sees it: the aggregator, the event ring
// and the IngestCounters (datagrams, malformed by reason, bad queries) that `health`
// and /metrics report. The daemon feeds it datagrams; tests feed it directly.
#pragma once

#include "state/aggregator.h"
#include "event_decoder.h"
#include "state/event_ring.h"
#include "state/sources.h"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mso {

// What `health` reports about state snapshots (--state-dir, snapshot.h).
struct SnapshotStatus {
    bool loaded = false;    // the state was restored from a snapshot at start
    std::string last_saved; // ISO 8601 time of the last successful write, "" if none
    std::string last_error; // why the last load or write failed, "" if it did not
    std::string set_aside;  // where an unusable snapshot was moved, "" if none
};

// What `health` shows about the spool (all zero/empty when --spool-dir is not set).
struct SpoolStatus {
    std::string dir; // "" when replay is off
    std::uint64_t files_replayed = 0;
    std::uint64_t lines_replayed = 0; // datagrams fed to the collector (valid or not)
    std::uint64_t lines_too_long = 0; // longer than a datagram may be: counted, skipped
    std::uint64_t errors = 0;         // files that could not be read or removed
    std::string last_error;
};

// What `health` and /metrics show about the history store (--state-dir/history.db; the
// daemon copies the store writer's counters here). All zero when history is off. Event
// counts.
struct HistoryStatus {
    bool enabled = false;
    std::string path;
    std::uint64_t written = 0;         // stored
    std::uint64_t duplicates = 0;      // already stored, skipped
    std::uint64_t queue_full = 0;      // lost: the writer's queue was full
    std::uint64_t disk_full = 0;       // lost: the disk was full
    std::uint64_t io_errors = 0;       // lost: any other error
    std::uint64_t batches = 0;         // committed transactions
    std::uint64_t pruned = 0;          // deleted by retention
    std::uint64_t queued = 0;          // waiting for the writer now
    std::uint64_t file_bytes = 0;      // the database and its WAL
    std::string last_error;            // "" when none yet
    std::string set_aside;             // where a corrupt database was moved at start, "" if none
    std::uint64_t queries = 0;         // history queries answered (errors included)
    std::uint64_t queries_refused = 0; // refused: the worker's queue was full
    std::uint64_t query_errors = 0;    // answered with an error (store unreadable, ...)
    std::uint64_t queries_shared = 0;  // answered by a waiting identical query's answer
};

// What every import ({"cmd":"import"}, docs/protocol.md) did since the collector
// started: `health`'s "import", /metrics' modsec_observe_collector_import_events_total
// {result}. Updated on the loop thread (daemon/import_session.h).
struct ImportCounters {
    std::uint64_t connections = 0; // import commands accepted
    std::uint64_t events = 0;      // event lines decoded and offered to the store
    std::uint64_t inserted = 0;    // stored (as syncs report them)
    std::uint64_t duplicates = 0;  // already stored
    std::uint64_t malformed = 0;   // lines that did not decode, too long, bad commands
    std::uint64_t lost = 0;        // offered but not stored (disk full, I/O error)
    std::uint64_t too_old = 0;     // older than retention by age keeps: not offered
};

// What the console receiver (daemon/console_receiver.h) did for one sensor: `health`'s
// "console", /metrics' modsec_observe_console_*. Updated on the loop thread.
struct SensorCounters {
    std::uint64_t requests = 0;   // uploads answered (refusals included)
    std::uint64_t stored = 0;     // entries committed to history
    std::uint64_t duplicates = 0; // entries already stored (answered 200 again)
    std::uint64_t bytes = 0;      // body bytes of the stored entries
    std::int64_t last_seen = 0;   // Unix seconds of the last upload, 0: never
    std::map<std::string, std::uint64_t, std::less<>> refused; // by refusal reason
};

// Per sensor name ("-": no valid credentials), bounded by the sensors files.
struct ConsoleStatus {
    bool enabled = false;
    std::string listen;            // "http://127.0.0.1:9800", "" when off
    std::uint64_t connections = 0; // open now
    std::uint64_t waiting = 0;     // of which waiting for a thread, or not yet accepted
    std::map<std::string, SensorCounters, std::less<>> sensors;
};

// What the collector counted about its input and its query clients: the one set that
// `health` and /metrics both render. `health` shows every field; /metrics exports every
// field but `malformed` (the sum of its per-reason series) and `tail_dropped`.
struct IngestCounters {
    std::uint64_t datagrams = 0; // malformed ones included
    std::uint64_t request_events = 0;
    std::uint64_t counter_reports = 0;
    std::uint64_t malformed = 0; // the sum of malformed_by_reason
    // Indexed by DecodeError (k_decode_errors gives each index its name).
    std::array<std::uint64_t, k_decode_errors.size()> malformed_by_reason{};
    std::uint64_t bad_queries = 0;
    std::uint64_t refused_clients = 0;      // closed at once at the client limit
    std::uint64_t tail_dropped = 0;         // events a slow `tail` client did not get
    std::uint64_t rejected_senders = 0;     // datagrams from outside --allow-uid/--allow-gid
    std::uint64_t rejected_query_peers = 0; // peers outside --query-allow-uid/--query-allow-gid

    [[nodiscard]] std::uint64_t malformed_for(DecodeError reason) const noexcept
    {
        return malformed_by_reason[static_cast<std::size_t>(reason)];
    }
};

// The collector process's memory as `health` reports it; what could not be read is
// left out of the answer.
struct MemoryUsage {
    std::optional<std::uint64_t> rss_bytes;      // resident set size now
    std::optional<std::uint64_t> rss_peak_bytes; // the largest resident set size so far
};

// Live sources other than the module with aggregates of their own (the views'
// `source` filter); events of further sources share the aggregates of
// k_other_source_id. Each is bounded as the module's (aggregator.h).
inline constexpr std::size_t k_max_source_aggregates = 64;

// Owns all collected data. Not thread-safe (single-threaded daemon); never blocks.
class Collector {
public:
    using Clock = std::chrono::steady_clock;

    explicit Collector(Clock::time_point started = Clock::now(),
                       std::size_t events_ring = k_default_events_ring)
        : m_started(started), m_events(events_ring)
    {
    }

    // Decodes one datagram and aggregates it; returns the failure when it was
    // malformed (already counted) so the caller can log it.
    // `now` is the wall clock (Unix seconds) that time series and first/last seen use.
    [[nodiscard]] std::optional<DecodeFailure> ingest(std::string_view datagram, std::int64_t now);
    // An event already decoded by a receiver (not a datagram): counted under `source`
    // ("sensor:<name>", ...; "module" counts as the module's), aggregated apart from the
    // module's (the views' source filter), and pushed to the ring. `now` is the receive
    // time (Unix seconds); `bytes` what was received for it (0: the decoded size);
    // `engine` the engine mode the source said (unknown: what the event shows).
    void ingest_event(const RequestEvent& event, std::string_view source, std::int64_t now,
                      std::uint64_t bytes = 0, EngineMode engine = EngineMode::unknown);
    // An entry of `source` a receiver refused, by reason ("auth", "too_large",
    // "unparseable", "hash_mismatch", "rate", "store_busy", ...); `now` as above.
    void count_source_refusal(std::string_view source, std::string_view reason,
                              std::int64_t now = 0);
    // Counts a datagram rejected before decoding (e.g. too large for the buffer).
    void count_malformed(DecodeError reason);
    void count_bad_query() noexcept { ++m_counters.bad_queries; }
    // A query client closed at once because the client limit was reached.
    void count_refused_client() noexcept { ++m_counters.refused_clients; }
    // An event a slow `tail` client did not get.
    void count_tail_dropped() noexcept { ++m_counters.tail_dropped; }
    // How many `tail` streams (query socket and /api/tail) are open now: `health`'s
    // `tail_clients`, so a client can tell that its stream is in place.
    void set_tail_clients(std::size_t n) noexcept { m_tail_clients = n; }
    // The kernel's limit on the event socket's queue (net.unix.max_dgram_qlen when the
    // socket was created; the socket holds one datagram more) and whether the loop rests
    // between reads (Server::set_event_queue): `health`'s `event_socket`.
    void set_event_socket(std::uint64_t max_dgram_qlen, bool rests) noexcept
    {
        m_event_socket = EventSocketStatus{max_dgram_qlen, rests};
    }
    // A datagram from a sender outside the allowlist (--allow-uid/--allow-gid).
    void count_rejected_sender() noexcept { ++m_counters.rejected_senders; }
    // A query connection from a peer outside --query-allow-uid/--query-allow-gid.
    void count_rejected_query_peer() noexcept { ++m_counters.rejected_query_peers; }

    [[nodiscard]] Aggregator& aggregator() noexcept { return m_aggregator; }
    [[nodiscard]] const Aggregator& aggregator() const noexcept { return m_aggregator; }
    [[nodiscard]] const EventRing& events() const noexcept { return m_events; }
    [[nodiscard]] const SourceTable& sources() const noexcept { return m_sources; }
    [[nodiscard]] SourceTable& sources() noexcept { return m_sources; }
    // The aggregates of one live source (the module's is aggregator()); nullptr when it
    // has none.
    [[nodiscard]] const Aggregator* aggregates_of(SourceId source) const noexcept;
    // The aggregates of the live sources other than the module, by source id.
    [[nodiscard]] const std::map<SourceId, Aggregator>& source_aggregates() const noexcept
    {
        return m_source_aggregates;
    }
    // Snapshot loading: the aggregates of `source` replaced (false beyond the bound).
    bool restore_source_aggregates(SourceId source, Aggregator aggregator);

    // Snapshot loading: replaces the aggregates and the ring wholesale (snapshot.cpp
    // builds both apart and hands them over only when the whole snapshot was valid).
    void restore(Aggregator aggregator, EventRing events)
    {
        m_aggregator = std::move(aggregator);
        m_events = std::move(events);
    }
    // Snapshot loading (version 2): the per-source accounting and the aggregates of the
    // sources other than the module, whose ids the restored ring's events use.
    void restore_sources(SourceTable sources, std::map<SourceId, Aggregator> aggregates)
    {
        m_sources = std::move(sources);
        m_source_aggregates = std::move(aggregates);
    }
    // SIGHUP reload of --events-ring: keeps the newest events that fit.
    void resize_events(std::size_t capacity) { m_events.resize(capacity); }
    [[nodiscard]] SnapshotStatus& snapshot_status() noexcept { return m_snapshot; }
    [[nodiscard]] const SnapshotStatus& snapshot_status() const noexcept { return m_snapshot; }
    [[nodiscard]] SpoolStatus& spool_status() noexcept { return m_spool; }
    [[nodiscard]] const SpoolStatus& spool_status() const noexcept { return m_spool; }
    [[nodiscard]] ImportCounters& import_counters() noexcept { return m_import; }
    [[nodiscard]] const ImportCounters& import_counters() const noexcept { return m_import; }
    [[nodiscard]] ConsoleStatus& console_status() noexcept { return m_console; }
    [[nodiscard]] const ConsoleStatus& console_status() const noexcept { return m_console; }
    [[nodiscard]] HistoryStatus& history_status() noexcept { return m_history; }
    [[nodiscard]] const HistoryStatus& history_status() const noexcept { return m_history; }

    // The `health` answer without "ok" (docs/protocol.md, section 2), with `memory`
    // after the uptime. Reads no files itself (the query side passes the memory).
    [[nodiscard]] nlohmann::ordered_json health(Clock::time_point now,
                                                const MemoryUsage& memory = {}) const;

    [[nodiscard]] const IngestCounters& ingest_counters() const noexcept { return m_counters; }
    [[nodiscard]] std::uint64_t datagrams() const noexcept { return m_counters.datagrams; }
    [[nodiscard]] std::uint64_t malformed() const noexcept { return m_counters.malformed; }
    [[nodiscard]] std::uint64_t bad_queries() const noexcept { return m_counters.bad_queries; }
    // Whole seconds since the collector started (0 if `now` is earlier).
    [[nodiscard]] std::int64_t uptime_seconds(Clock::time_point now) const noexcept;

private:
    void note_malformed(DecodeError reason);

    Clock::time_point m_started;
    Aggregator m_aggregator; // the module's events
    std::map<SourceId, Aggregator> m_source_aggregates;
    EventRing m_events;
    SourceTable m_sources;
    IngestCounters m_counters;
    std::size_t m_tail_clients = 0;
    struct EventSocketStatus {
        std::uint64_t max_dgram_qlen = 0;
        bool rests = true;
    };
    std::optional<EventSocketStatus> m_event_socket; // unknown until the server says
    SnapshotStatus m_snapshot;
    SpoolStatus m_spool;
    HistoryStatus m_history;
    ImportCounters m_import;
    ConsoleStatus m_console;
};

} // namespace mso
