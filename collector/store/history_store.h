// The history store: every request event kept on disk (SQLite, WAL mode, at
// --state-dir/history.db) and searchable by vhost, rule, client, path, verdict, source,
// time and text; per-bucket counts for time series; retention by age and size in small
// steps. The schema is docs/STORE.md.
//
// A HistoryStore is one connection: use it from one thread at a time. The collector
// has one writer (store_writer.h owns it on its own thread) and opens further stores
// with `read_only` for queries; WAL lets them read while the writer commits. Every call
// may block on the disk, and on another connection's lock for up to busy_timeout_ms.
#pragma once

#include "store/schema.h"
#include "store/stored_event.h"
#include "util/result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mso {

struct HistoryOptions : ConnectOptions {
    // How many client posting rows wait in client_postings_recent before the writer moves
    // them to client_postings (schema version 7, docs/STORE.md); tests lower it.
    std::int64_t recent_client_rows = 65536;
};

// What makes an event a duplicate of one already stored. Each needs the same unique id;
// `content` also the same content hash (the same request read again, from any source),
// `unique_id` only the id (an audit log entry of a request the module already sent),
// `request` also the same client, method and path: the fields every view of one
// request agrees on (the module's event and any audit log's entry), which tell apart
// two servers' requests that happen to share an id (nginx's are time-based). Without a
// unique id, every mode compares the content hash. docs/STORE.md has the reasons.
enum class Dedup : std::uint8_t { content, unique_id, request };

struct WriteStats {
    std::size_t inserted = 0;
    std::size_t duplicates = 0;
};

// Where a page ended: the (time, row id) of its last, oldest, event. The next page holds
// the events strictly older in (time_us, row_id) order.
struct Cursor {
    std::int64_t time_us = 0;
    std::int64_t row_id = 0;

    bool operator==(const Cursor&) const = default;
};

// Filters of a search, all optional, combined with AND.
struct HistoryQuery {
    std::optional<std::string> vhost;
    std::optional<std::string> rule; // a finding's rule id
    std::optional<std::string> client;
    std::optional<std::string> path_prefix; // byte prefix of the path (no query string)
    std::optional<int> status;
    std::optional<bool> intercepted; // true: intercepted; false: not
    std::optional<bool> would_block; // true: would have been blocked; false: not
    std::optional<EngineMode> engine_mode;
    std::optional<std::string> source;
    std::optional<std::int64_t> since_us; // time_us >= since_us
    std::optional<std::int64_t> until_us; // time_us < until_us
    std::optional<std::string> grep;      // substring of a finding's msg or data
    std::size_t limit = 50;
    std::optional<Cursor> after; // the previous page's `next`
};

struct Page {
    std::vector<StoredEvent> events; // newest first
    std::optional<Cursor> next;      // set when more events match
};

// Counts of one time bucket [start_us, start_us + step).
struct SeriesRow {
    std::int64_t start_us = 0;
    std::uint64_t events = 0;
    std::uint64_t flagged = 0;
    std::uint64_t intercepted = 0;
    std::uint64_t would_block = 0;

    bool operator==(const SeriesRow&) const = default;
};

// One rule over a window (`rules` from history): the events with at least one finding of
// that rule id.
struct RuleCount {
    std::string rule_id;
    std::string msg;               // the rule's message in its newest event of the window
    std::uint64_t hits = 0;        // events with a finding of the rule
    std::int64_t last_seen_us = 0; // time_us of that newest event

    bool operator==(const RuleCount&) const = default;
};

// One vhost over a window (`stats` from history).
struct VhostTotals {
    std::string vhost;
    std::uint64_t events = 0;
    std::uint64_t flagged = 0; // with findings (or dropped findings)
    std::uint64_t intercepted = 0;
    std::uint64_t would_block = 0;

    bool operator==(const VhostTotals&) const = default;
};

// The events of one source in the store (`sources` from history).
struct SourceCount {
    std::string source;
    std::uint64_t events = 0;
    std::int64_t last_event_us = 0; // the newest event's time_us

    bool operator==(const SourceCount&) const = default;
};

// The lists of `top` from history. clients, paths (without query string) and agents
// (User-Agent) count events; targets count findings (ARGS:q, ...), as the live lists do.
enum class HistoryList : std::uint8_t { clients, paths, agents, targets };

struct TopRow {
    std::string key;
    std::uint64_t count = 0;

    bool operator==(const TopRow&) const = default;
};

// One request path and one matched variable, and the findings of a rule with both.
struct PathTarget {
    std::string path;
    std::string target;
    std::uint64_t count = 0;

    bool operator==(const PathTarget&) const = default;
};

// Where one rule matched over a window (`rules` with a rule and a window from history):
// the paths of its hits (events) and the targets of its findings, as memory's per-rule
// lists count them, and which targets matched on which paths.
struct RuleWhere {
    std::vector<TopRow> paths;   // per event with a finding of the rule
    std::vector<TopRow> targets; // per finding of the rule with a target
    // Per finding of the rule with a target: its event's path and its target; the
    // `limit` × `limit` most frequent pairs.
    std::vector<PathTarget> pairs;
    // Set when more than `max_hits` hits lie in the window: the lists count the newest
    // `max_hits` of them, which begin at this time_us.
    std::optional<std::int64_t> counted_since_us;

    bool operator==(const RuleWhere&) const = default;
};

// The size of the database file (not counting its WAL).
struct StoreSize {
    std::int64_t page_size = 0;
    std::int64_t page_count = 0;
    std::int64_t freelist_count = 0;

    [[nodiscard]] std::int64_t file_bytes() const noexcept { return page_size * page_count; }
    [[nodiscard]] std::int64_t used_bytes() const noexcept
    {
        return page_size * (page_count - freelist_count);
    }
};

// An event to store, by reference: what a StoredEvent holds, without owning it.
struct EventRef {
    const RequestEvent* event = nullptr; // not null
    std::string_view source;
    EngineMode engine_mode = EngineMode::unknown;
};

class HistoryStore {
public:
    HistoryStore(HistoryStore&&) noexcept;
    HistoryStore& operator=(HistoryStore&&) noexcept;
    ~HistoryStore();

    [[nodiscard]] static Result<HistoryStore> open(const std::string& path,
                                                   const HistoryOptions& options = {});
    // What open found: created, migrated, or moved aside as corrupt.
    [[nodiscard]] const OpenReport& open_report() const noexcept;

    // Stores `events` in one transaction; a duplicate (see Dedup) is counted, not stored.
    // On error nothing of the batch is stored; last_failure() tells a full disk. With
    // `inserted`, it is set to one flag per event: stored (true) or a duplicate.
    [[nodiscard]] Result<WriteStats> write_batch(std::span<const StoredEvent> events,
                                                 Dedup dedup = Dedup::content,
                                                 std::vector<bool>* inserted = nullptr);
    // The same for events held elsewhere (the writer's queue shares the module's events
    // with the collector's ring instead of copying them).
    [[nodiscard]] Result<WriteStats> write_batch(std::span<const EventRef> events,
                                                 Dedup dedup = Dedup::content,
                                                 std::vector<bool>* inserted = nullptr);
    [[nodiscard]] SqliteFailure last_failure() const noexcept;

    [[nodiscard]] Result<Page> search(const HistoryQuery& query);
    // The newest event with this unique id (and source, when given).
    [[nodiscard]] Result<std::optional<StoredEvent>>
    find(const std::string& unique_id, const std::optional<std::string>& source = std::nullopt);
    // Non-empty buckets of [since_us, until_us), oldest first, aligned to multiples of
    // step_seconds since the epoch. From per-minute counts when step_seconds is a multiple
    // of 60, else from the events.
    // With a `source`, from the events of that source (a scan of the window).
    [[nodiscard]] Result<std::vector<SeriesRow>>
    timeseries(const std::optional<std::string>& vhost, const std::optional<std::string>& rule,
               std::int64_t since_us, std::int64_t until_us, std::int64_t step_seconds,
               const std::optional<std::string>& source = std::nullopt);

    // Aggregates over [since_us, until_us) for windows longer than the collector's memory
    // holds, exact at any boundary: whole minutes come from the per-minute counts, the
    // partial minutes at either end from the events. An unknown vhost gives no rows.
    //
    // Rules with hits, most hits first (then rule id), at most `limit` (0: all).
    [[nodiscard]] Result<std::vector<RuleCount>>
    rule_counts(const std::optional<std::string>& vhost, std::int64_t since_us,
                std::int64_t until_us, std::size_t limit,
                const std::optional<std::string>& source = std::nullopt);
    // Every source with stored events, by name: one row each of source_totals, which the
    // writer and retention keep (schema version 2), not a scan of the events.
    [[nodiscard]] Result<std::vector<SourceCount>> source_counts();
    // Every vhost with events in the window, by name.
    // With a `source`, only its events (the per-minute counts are not kept per source:
    // rule_counts and vhost_totals then read every event of the source in the window).
    [[nodiscard]] Result<std::vector<VhostTotals>>
    vhost_totals(std::int64_t since_us, std::int64_t until_us,
                 const std::optional<std::string>& source = std::nullopt);
    // The heaviest keys of `list`, most first (then key), at most `limit` (0: all). Exact
    // counts, read from every event of the window (or, for the clients of every vhost over
    // a wide window, from the client postings): a scan (docs/STORE.md has its cost).
    [[nodiscard]] Result<std::vector<TopRow>>
    top(HistoryList list, const std::optional<std::string>& vhost, std::int64_t since_us,
        std::int64_t until_us, std::size_t limit,
        const std::optional<std::string>& source = std::nullopt);
    // The paths and targets of `rule`'s hits in [since_us, until_us) (of one vhost and
    // source when set), each most first (then key), at most `limit` (0: all). Reads the
    // rule's index, newest first, and at most `max_hits` of its events (0: all): the cost
    // is the rule's hits in the window (of every vhost), not the window's events.
    [[nodiscard]] Result<RuleWhere>
    rule_where(const std::string& rule, const std::optional<std::string>& vhost,
               std::int64_t since_us, std::int64_t until_us, std::size_t limit,
               std::size_t max_hits, const std::optional<std::string>& source = std::nullopt);

    // Deletes at most `max_rows` of the oldest events when they are older than
    // `max_age_days` (0: no limit; older: time_us < oldest_kept_us()) or the used size
    // exceeds `max_bytes` (0: no limit); returns how many it deleted (0: nothing to do).
    // Call it again until it returns 0; each call is one short transaction. Also returns
    // free pages to the file system, a bounded number per call, when a quarter of the
    // file is free.
    [[nodiscard]] Result<std::size_t> prune_step(std::int64_t now_us, std::int64_t max_age_days,
                                                 std::int64_t max_bytes, std::size_t max_rows);
    [[nodiscard]] Result<StoreSize> size();
    [[nodiscard]] Result<std::int64_t> event_count();

    struct Impl;

private:
    explicit HistoryStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

inline constexpr std::int64_t k_us_per_day = 86'400'000'000;

// The oldest request time (µs since the epoch) that retention by age keeps at `now_us`
// with `max_age_days` (> 0): prune_step() deletes the events before it.
[[nodiscard]] constexpr std::int64_t oldest_kept_us(std::int64_t now_us,
                                                    std::int64_t max_age_days) noexcept
{
    return now_us - max_age_days * k_us_per_day;
}

} // namespace mso
