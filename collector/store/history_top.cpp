// Top lists over a window of the history store (history_store.h), for `top` when the
// window reaches past what the collector holds in memory. Top lists have no per-minute
// counts: they read every event of the window, except the clients of every vhost over
// most of the stored time, counted from the client postings alone.
#include "store/history_store_impl.h"
#include "store/stored_event.h"
#include "util/utf8_cut.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

namespace mso {
namespace {

// Whether a window spans enough of the stored time that counting the clients' postings
// beats seeking each of the window's rows: through events_time a row costs a seek into
// the table (~0.4 us at 1M events, ~0.45-0.5 at 10M on a warm cache), so reading the
// postings is cheaper once the window holds more than about a sixth of the events
// (docs/BENCHMARKS.md, measured with the covering index that preceded the postings). The
// share is estimated from the time span (two index seeks), which is what the choice
// needs; both ways count the same events, so an error here only keeps the usual way.
// When it does, the answer is where to count from: the window's start, or just after the
// retention frontier (the newest (time, id) retention deleted) if that is later, so that
// the hits of pruned events (left in a bucket retention has not emptied or swept yet) are
// not counted. An event stored at or before the frontier (a late or imported one that
// arrived after its neighbours were pruned) would not be counted either: then the usual
// way. Run inside a read transaction with the count, so both see one state of the file.
std::optional<RuleHit> wide_window_start(HistoryStore::Impl& m, std::int64_t since_us,
                                         std::int64_t until_us)
{
    std::string error;
    Stmt* s = m.statement(
        "SELECT o.time_us, o.id, (SELECT max(time_us) FROM events), f.time_us, f.event_id "
        "FROM (SELECT time_us, id FROM events ORDER BY time_us, id LIMIT 1) o "
        "LEFT JOIN retention_frontier f",
        error);
    if (s == nullptr) {
        return std::nullopt;
    }
    auto row = s->step();
    const bool some = row && *row;
    const RuleHit oldest{some ? s->integer(0) : 0, some ? s->integer(1) : 0};
    const std::int64_t newest = some ? s->integer(2) : 0;
    const std::optional<RuleHit> frontier =
        some && !s->is_null(3) ? std::optional<RuleHit>(RuleHit{s->integer(3), s->integer(4)})
                               : std::nullopt;
    s->reset(); // one row: end the statement here
    if (!some || (frontier && oldest <= *frontier)) {
        return std::nullopt;
    }
    const std::int64_t from = std::max(since_us, oldest.time_us);
    const std::int64_t to = std::min(until_us - 1, newest);
    if (to < from) {
        return std::nullopt;
    }
    // In doubles: times are any 64-bit value an import or datagram carried.
    const double stored = static_cast<double>(newest) - static_cast<double>(oldest.time_us) + 1.0;
    const double spanned = static_cast<double>(to) - static_cast<double>(from) + 1.0;
    if (spanned < stored / 6.0) {
        return std::nullopt;
    }
    const RuleHit start{since_us, std::numeric_limits<std::int64_t>::min()};
    if (!frontier) {
        return start;
    }
    // Just after the frontier (oldest > frontier, so its time and id are not both maximal).
    const RuleHit after =
        frontier->event_id < std::numeric_limits<std::int64_t>::max()
            ? RuleHit{frontier->time_us, frontier->event_id + 1}
            : RuleHit{frontier->time_us + 1, std::numeric_limits<std::int64_t>::min()};
    return std::max(start, after);
}

// Counts the hits of every client's postings from `from` until `until_us` into `by_id`,
// in SQLite: the rows come in key order (client, bucket), so the GROUP BY needs no sort;
// a bucket strictly inside the window counts its `hits` whole, and only the two buckets
// at its ends are decoded (mso_posting_count), to test each hit's time.
// Both tables of client postings (schema version 7) are counted, one after the other.
Result<void> count_clients(HistoryStore::Impl& m, RuleHit from, std::int64_t until_us,
                           std::unordered_map<std::int64_t, std::uint64_t>& by_id)
{
    for (const std::string_view table : {"client_postings", "client_postings_recent"}) {
        std::string error;
        Stmt* s = m.statement(
            "SELECT client_id, sum(CASE WHEN bucket > ?1 AND bucket < ?2 THEN hits ELSE "
            "mso_posting_count(bucket, entries, ?3, ?4, ?5) END) FROM " +
                std::string(table) + " WHERE bucket >= ?1 AND bucket <= ?2 GROUP BY client_id",
            error);
        if (s == nullptr) {
            return fail(error);
        }
        s->bind(1, posting_bucket(from.time_us));
        s->bind(2, posting_bucket(until_us - 1));
        s->bind(3, from.time_us);
        s->bind(4, from.event_id);
        s->bind(5, until_us);
        auto counted = each_row(*s, [&](const Stmt& row) {
            if (const std::int64_t n = row.integer(1); n > 0) {
                by_id[row.integer(0)] += static_cast<std::uint64_t>(n);
            }
        });
        if (!counted) {
            return counted;
        }
    }
    return ok();
}

// The clients of every vhost over most of the store, counted from the client postings
// alone, without reading an event, into `by_id`; false (nothing counted) when the window
// is not wide enough or the frontier rules the postings out (wide_window_start). The
// frontier and the postings are read in one transaction (a deferred BEGIN reads one
// snapshot of the WAL): a prune committed in between must not count.
Result<bool> clients_from_postings(HistoryStore::Impl& m, std::int64_t since_us,
                                   std::int64_t until_us,
                                   std::unordered_map<std::int64_t, std::uint64_t>& by_id)
{
    if (auto r = m.db.exec("BEGIN"); !r) {
        return fail(r.error());
    }
    const std::optional<RuleHit> from = wide_window_start(m, since_us, until_us);
    Result<void> counted = from ? count_clients(m, *from, until_us, by_id) : ok();
    if (auto r = m.db.exec("COMMIT"); !r || !counted) {
        m.db.rollback();
        return fail(counted ? r.error() : counted.error());
    }
    return from.has_value();
}

} // namespace

Result<std::vector<TopRow>> HistoryStore::top(HistoryList list,
                                              const std::optional<std::string>& vhost,
                                              std::int64_t since_us, std::int64_t until_us,
                                              std::size_t limit,
                                              const std::optional<std::string>& source)
{
    Impl& m = *m_impl;
    std::vector<TopRow> out;
    const auto vhost_id = string_filter(m, vhost);
    const auto source_id = string_filter(m, source);
    if (until_us <= since_us || vhost_id == -2 || source_id == -2) {
        return out;
    }
    const char* column = list == HistoryList::clients  ? "client_id"
                         : list == HistoryList::agents ? "user_agent_id"
                         : list == HistoryList::paths  ? "path"
                                                       : "findings";
    std::unordered_map<std::int64_t, std::uint64_t> by_id;  // clients, agents, targets
    std::unordered_map<std::string, std::uint64_t> by_text; // paths
    bool counted = false;
    if (list == HistoryList::clients && !vhost_id && !source_id) {
        auto wide = clients_from_postings(m, since_us, until_us, by_id);
        if (!wide) {
            return fail(wide.error());
        }
        counted = *wide;
    }
    if (!counted) {
        // Otherwise two forms: a vhost filter walks the vhost's postings (mso_vhost_hits) and
        // reads each event by its id; no filter walks events_time (whose entries hold the
        // path: paths are read from the index alone). A source filter reads each event's
        // source (?4).
        const std::string sql =
            vhost_id ? std::string("SELECT e.") + column +
                           " FROM mso_vhost_hits(?3, ?1, ?2) r CROSS JOIN events e ON e.id = "
                           "r.event_id AND e.time_us = r.time_us WHERE e.vhost_id = ?3 AND "
                           "e.time_us >= ?1 AND e.time_us < ?2 AND (?4 IS NULL OR e.source_id = ?4)"
                     : std::string("SELECT ") + column +
                           " FROM events WHERE time_us >= ?1 AND time_us < ?2 AND (?4 IS NULL OR "
                           "source_id = ?4)";
        std::string error;
        Stmt* s = m.statement(sql, error);
        if (s == nullptr) {
            return fail(error);
        }
        s->bind(1, since_us);
        s->bind(2, until_us);
        if (vhost_id) {
            s->bind(3, *vhost_id);
        }
        if (source_id) {
            s->bind(4, *source_id);
        }
        BlobFinding f;
        auto read = each_row(*s, [&](const Stmt& row) {
            if (list == HistoryList::paths) {
                ++by_text[std::string(utf8_cut(row.text(0), k_max_top_key_bytes))];
            } else if (list == HistoryList::targets) {
                std::string_view blob = row.blob(0);
                while (!blob.empty() && next_finding(blob, f)) {
                    if (f.strings[BlobFinding::k_target] != 0) {
                        ++by_id[f.strings[BlobFinding::k_target]];
                    }
                }
            } else {
                ++by_id[row.integer(0)];
            }
        });
        if (!read) {
            return fail(read.error());
        }
    }
    for (auto& [text, n] : by_text) {
        out.push_back(TopRow{text, n});
    }
    for (const auto& [id, n] : by_id) {
        auto text = id == 0 ? std::optional<std::string>("") : m.text_of(id);
        if (!text) {
            return fail("history: string " + std::to_string(id) + " does not resolve");
        }
        out.push_back(TopRow{std::move(*text), n});
    }
    rank(
        out, limit, [](const TopRow& r) { return r.count; },
        [](const TopRow& r) -> const std::string& { return r.key; });
    return out;
}

} // namespace mso
