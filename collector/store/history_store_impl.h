// The inside of HistoryStore, shared by its source files (history_store.cpp: open,
// interning, the per-batch counts, find; history_writer.cpp: write_batch;
// history_search.cpp: search and time series; history_aggregates.cpp: counts over a
// window; history_top.cpp: top lists over a window; history_retention.cpp: prune and
// size). Not part of the store's interface.
#pragma once

#include "store/history_store.h"
#include "store/rule_postings.h"
#include "store/sqlite_db.h"
#include "store/text_ids.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mso {

inline constexpr std::int64_t k_us_per_minute = 60'000'000;
// Caches stay bounded: interned strings grow with distinct clients and user agents.
inline constexpr std::size_t k_max_cached_strings = 200'000;
// The vhost id of the minutes rows that count every vhost (0 is the empty vhost).
inline constexpr std::int64_t k_all_vhosts = -1;
// The longest write_batch lets pass without a checkpoint (SQLite's own come every 64 MiB
// of WAL, schema.cpp): a checkpoint fsyncs the WAL, bounding what a power loss can take.
inline constexpr std::chrono::seconds k_checkpoint_interval{30};

// The lookup keys of a unique id in events_uid: version 5's and the one versions up to 4
// stored (the 31-bit hash alone, below k_first_uid_key). The hash of the id (of the
// content hash when there is none) is computed once for both (history_store.cpp).
inline constexpr std::int64_t k_first_uid_key = std::int64_t{1} << 61U;
struct UidKeys {
    std::int64_t key;
    std::int64_t legacy;
};
[[nodiscard]] UidKeys uid_keys(std::string_view unique_id, std::uint64_t content_hash) noexcept;

// The columns every read selects from `events e`, in the order read_event() expects.
inline constexpr std::string_view k_event_columns =
    "e.id, e.time_us, e.source_id, e.vhost_id, e.port, e.client_id, e.method_id, "
    "e.protocol_id, e.user_agent_id, e.status, e.phase, e.verdict, e.engine_mode, "
    "e.findings_dropped, e.scores, e.path, e.query, e.unique_id, e.findings";

// Per-minute counts to add to (or subtract from) the minutes table, keyed by
// (rule id string id or 0 for all events, vhost string id or k_all_vhosts, minute).
struct MinuteKey {
    std::int64_t rule_id;
    std::int64_t vhost_id;
    std::int64_t minute;
    auto operator<=>(const MinuteKey&) const = default;
};
struct MinuteCounts {
    std::int64_t events = 0;
    std::int64_t flagged = 0;
    std::int64_t intercepted = 0;
    std::int64_t would_block = 0;
};
// Per-minute counts summed over a batch: a batch adds to it ~5 times per event, so it is
// an open-addressing table over a dense vector of entries (no allocation per key; kept
// and reused from batch to batch). apply_minutes() sorts the entries once and clears it.
class MinuteDeltas {
public:
    using Entry = std::pair<MinuteKey, MinuteCounts>;

    MinuteCounts& operator[](const MinuteKey& key)
    {
        if ((m_entries.size() + 1) * 2 > m_slots.size()) {
            grow();
        }
        const std::size_t mask = m_slots.size() - 1;
        for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
            const std::uint32_t slot = m_slots[i];
            if (slot == 0) {
                m_entries.emplace_back(key, MinuteCounts{});
                m_slots[i] = static_cast<std::uint32_t>(m_entries.size());
                return m_entries.back().second;
            }
            if (m_entries[slot - 1].first == key) {
                return m_entries[slot - 1].second;
            }
        }
    }
    void clear() noexcept
    {
        if (!m_entries.empty()) {
            m_entries.clear();
            std::fill(m_slots.begin(), m_slots.end(), 0U);
        }
    }
    [[nodiscard]] bool empty() const noexcept { return m_entries.empty(); }
    // The keys in the order first added; mutable for apply_minutes(), which sorts them
    // (the table no longer finds anything until clear()).
    [[nodiscard]] std::vector<Entry>& entries() noexcept { return m_entries; }

private:
    static std::size_t hash(const MinuteKey& k) noexcept
    {
        auto h = static_cast<std::uint64_t>(k.minute) * 0x9e3779b97f4a7c15ULL;
        h ^= static_cast<std::uint64_t>(k.rule_id) * 0xbf58476d1ce4e5b9ULL;
        h ^= static_cast<std::uint64_t>(k.vhost_id) * 0x94d049bb133111ebULL;
        return static_cast<std::size_t>(h ^ (h >> 29U));
    }
    void grow()
    {
        m_slots.assign(std::max<std::size_t>(1024, m_slots.size() * 2), 0U);
        const std::size_t mask = m_slots.size() - 1;
        for (std::size_t e = 0; e < m_entries.size(); ++e) {
            std::size_t i = hash(m_entries[e].first) & mask;
            while (m_slots[i] != 0) {
                i = (i + 1) & mask;
            }
            m_slots[i] = static_cast<std::uint32_t>(e + 1);
        }
    }

    std::vector<Entry> m_entries;
    std::vector<std::uint32_t> m_slots; // 1 + index into m_entries; 0: empty
};

// A batch's change to one source's row of source_totals (schema version 2).
struct SourceDelta {
    std::int64_t source_id = 0;
    std::int64_t events = 0;       // added (negative: removed)
    std::int64_t last_time_us = 0; // the newest added event's time (unused when removing)
};

// The few sources of a batch (usually one): a short vector searched from the end.
class SourceDeltas {
public:
    void count(std::int64_t source_id, std::int64_t time_us, int sign)
    {
        auto it = std::find_if(m_rows.rbegin(), m_rows.rend(),
                               [&](const SourceDelta& d) { return d.source_id == source_id; });
        if (it == m_rows.rend()) {
            m_rows.push_back(SourceDelta{source_id, 0, time_us});
            it = m_rows.rbegin();
        }
        it->events += sign;
        it->last_time_us = std::max(it->last_time_us, time_us);
    }
    const std::vector<SourceDelta>& rows() const noexcept { return m_rows; }
    void clear() noexcept { m_rows.clear(); }

private:
    std::vector<SourceDelta> m_rows;
};

struct HistoryStore::Impl final : StringIds {
    Db db;
    OpenReport report;
    bool read_only = false;
    // Whether events stored before version 5 (31-bit uid keys) may be left: the writer's
    // duplicate check then asks for both keys (find() always does).
    bool legacy_uid_keys = false;
    // The oldest event's posting bucket when retention last swept client_postings (which
    // has no index on its bucket; history_retention.cpp), unset before the first sweep.
    std::optional<std::int64_t> client_postings_swept;
    TextIds ids{k_max_cached_strings}; // interning (the writer's cache of the strings table)
    std::unordered_map<std::int64_t, std::string> texts; // id -> text (reading)
    std::map<std::string, Stmt, std::less<>> statements; // prepared, by SQL text
    MinuteDeltas minute_totals;                          // apply_minutes()' all-vhosts rows
    // The writer's per-event statements and buffers, prepared once and reused (the map
    // lookup by SQL text and the per-event allocations showed in the profile).
    struct Writer {
        Stmt* same_uid = nullptr;
        Stmt* insert_event = nullptr;
        Stmt* insert_posting = nullptr;
        Stmt* insert_client_posting = nullptr; // into client_postings_recent
        Stmt* insert_vhost_posting = nullptr;
        // How many rows client_postings_recent holds; unknown (counted at the next batch)
        // after a rollback or a retention sweep.
        std::optional<std::int64_t> recent_client_rows;
        std::int64_t recent_client_limit = 65536; // HistoryOptions::recent_client_rows
        std::int64_t next_id = 1; // the next event's id, set at the start of each batch
        std::string findings;
        std::string scores;
        std::vector<std::int64_t> rules;
        // The batch's (rule, time, event), (client, time, event) and (vhost, time, event)
        // triples, written as postings at its end.
        using Hit = KeyedHit;
        std::vector<Hit> hits;
        std::vector<Hit> client_hits;
        std::vector<Hit> vhost_hits;
        std::vector<Hit> sort_scratch; // sort_keyed_hits()' buffer
        PostingRows postings;          // groups them into rows (buffers kept across batches)
        MinuteDeltas minutes;          // the batch's per-minute counts
        SourceDeltas sources;          // the batch's per-source counts
        // When the WAL was last checkpointed (and so fsynced) by write_batch.
        std::chrono::steady_clock::time_point checkpointed = std::chrono::steady_clock::now();
    } writer;

    // The cached statement for `sql`, reset; nullptr (and `error` set) on failure.
    Stmt* statement(std::string_view sql, std::string& error);

    // StringIds: interns (inserting when absent) unless read_only.
    std::optional<std::int64_t> id_of(std::string_view text) override;
    std::optional<std::string> text_of(std::int64_t id) override;
    // The id of `text` without inserting it; 0 for "", nullopt when absent or on error.
    std::optional<std::int64_t> lookup(std::string_view text);
    void forget_ids() { ids.clear(); }

    // Reads the row at `s` (k_event_columns from column 0); nullopt when a string id or
    // the findings blob does not resolve.
    std::optional<StoredEvent> read_event(const Stmt& s);
    // Adds (sign +1) or subtracts (-1) one event to `deltas`.
    static void count_minute(MinuteDeltas& deltas, std::int64_t time_us, std::int64_t vhost_id,
                             Verdict verdict, bool flagged, const std::vector<std::int64_t>& rules,
                             int sign);
    // Adds the all-vhosts rows to `deltas` and applies them; rows left with no events go.
    // Leaves `deltas` empty.
    Result<void> apply_minutes(MinuteDeltas& deltas);
    // Applies `deltas` to source_totals; a source left with no events goes. Leaves
    // `deltas` empty.
    Result<void> apply_sources(SourceDeltas& deltas);
};

// Registers mso_grep(findings, context) on a connection (history_search.cpp).
void register_grep(sqlite3* db);

// The string id of an optional vhost or source filter: nullopt when unset, -2 when the
// store has never seen it (matches nothing) (history_aggregates.cpp).
[[nodiscard]] std::optional<std::int64_t> string_filter(HistoryStore::Impl& m,
                                                        const std::optional<std::string>& value);

// Sorts by count descending then key, and keeps `limit` (0: all).
template <typename T, typename Count, typename Key>
void rank(std::vector<T>& rows, std::size_t limit, Count count, Key key)
{
    std::sort(rows.begin(), rows.end(), [&](const T& a, const T& b) {
        return count(a) != count(b) ? count(a) > count(b) : key(a) < key(b);
    });
    if (limit > 0 && rows.size() > limit) {
        rows.resize(limit);
    }
}

} // namespace mso
