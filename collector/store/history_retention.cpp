// Retention of the history store (history_store.h): the oldest events go first, a
// bounded number per transaction so the writer never holds the lock for long, with
// the rule postings of the buckets they leave empty and their share of the per-minute and
// per-source counts; then free pages go back to the file system a bounded number at a time
// (auto_vacuum = INCREMENTAL).
#include "store/history_store_impl.h"

#include <algorithm>
#include <array>

namespace mso {
namespace {

// Pages returned to the file system per prune step (4 MiB with 4 KiB pages).
constexpr std::int64_t k_vacuum_pages = 1024;

struct Doomed {
    std::int64_t id;
    std::int64_t time_us;
    std::int64_t source_id;
    std::int64_t vhost_id;
    Verdict verdict;
    bool flagged;
    std::vector<std::int64_t> rules;
};

Result<std::vector<Doomed>> oldest(HistoryStore::Impl& m, std::optional<std::int64_t> before,
                                   std::size_t max_rows)
{
    std::string error;
    Stmt* s = m.statement("SELECT id, time_us, source_id, vhost_id, verdict, findings_dropped, "
                          "findings "
                          "FROM events WHERE ?1 IS NULL OR time_us < ?1 ORDER BY time_us, id "
                          "LIMIT ?2",
                          error);
    if (s == nullptr) {
        return fail(error);
    }
    if (before) {
        s->bind(1, *before);
    }
    s->bind(2, static_cast<std::int64_t>(max_rows));
    std::vector<Doomed> out;
    auto r = each_row(*s, [&](const Stmt& row) {
        const std::string_view findings = row.blob(6);
        const std::int64_t verdict = row.integer(4);
        out.push_back(Doomed{row.integer(0), row.integer(1), row.integer(2), row.integer(3),
                             verdict == 2   ? Verdict::intercepted
                             : verdict == 1 ? Verdict::would_block
                                            : Verdict::passed,
                             !findings.empty() || row.integer(5) > 0, finding_rule_ids(findings)});
    });
    if (!r) {
        return fail(r.error());
    }
    return out;
}

// How far (in posting buckets: an hour) the oldest event moves between two sweeps of
// client_postings.
constexpr std::int64_t k_client_sweep_buckets = 360;

// The sweep of a postings table without a bucket index: a skip over the distinct values
// of `key` (its primary key's first column), one range delete of each key's buckets
// before ?1.
std::string sweep_sql(std::string_view table, std::string_view key)
{
    const std::string t(table);
    const std::string k(key);
    return "WITH RECURSIVE c(id) AS (SELECT min(" + k + ") FROM " + t +
           " UNION ALL SELECT (SELECT min(" + k + ") FROM " + t + " WHERE " + k +
           " > c.id) FROM c WHERE c.id IS NOT NULL) DELETE FROM " + t + " WHERE " + k +
           " IN (SELECT id FROM c) AND bucket < ?1";
}

// Drops the postings no stored event is left in: every bucket before the oldest event's
// (all of them when no event is left, so that a reused event id can never meet an old
// posting; the retention frontier goes too). A bucket the oldest events only partly left
// stays until a later step; its pruned entries find no event to join (rule_postings.h),
// and top clients counts only what is after the frontier. rule_postings goes by its
// bucket index at every step. client_postings and vhost_postings have no such index
// (schema.cpp, versions 6 and 8): each is swept key by key (a skip over the distinct
// client or vhost ids of its key, one range delete each, about a microsecond per distinct
// key). vhost_postings at every step: a site has few vhosts, and every search or top of a
// vhost that walks back to its oldest buckets would read the pruned hits otherwise.
// client_postings once the oldest event has moved k_client_sweep_buckets since the last
// sweep, so its cost is paid once per hour of pruned events (or at each step where a step
// prunes more than an hour), and what it keeps of pruned events meanwhile is at most that
// hour's postings.
Result<void> drop_postings(HistoryStore::Impl& m)
{
    std::string error;
    Stmt* oldest = m.statement("SELECT min(time_us) FROM events", error);
    if (oldest == nullptr) {
        return fail(error);
    }
    auto row = oldest->step();
    if (!row) {
        return fail(row.error());
    }
    const bool empty = !*row || oldest->is_null(0);
    const std::int64_t bucket = empty ? 0 : posting_bucket(oldest->integer(0));
    oldest->reset();
    // Runs `sql`, with the oldest event's bucket as ?1 when it has one.
    auto run = [&](std::string_view sql) -> Result<void> {
        Stmt* s = m.statement(sql, error);
        if (s == nullptr) {
            return fail(error);
        }
        if (!empty) {
            s->bind(1, bucket);
        }
        auto r = s->step();
        return r ? ok() : fail(r.error());
    };
    if (empty) {
        // No event left: no posting either, and so no frontier to count from.
        m.client_postings_swept.reset();
        m.writer.recent_client_rows = 0;
        for (const char* sql : {"DELETE FROM rule_postings", "DELETE FROM client_postings",
                                "DELETE FROM client_postings_recent", "DELETE FROM vhost_postings",
                                "DELETE FROM retention_frontier"}) {
            if (auto r = run(sql); !r) {
                return r;
            }
        }
        return ok();
    }
    if (auto r = run("DELETE FROM rule_postings WHERE bucket < ?1"); !r) {
        return r;
    }
    if (auto r = run(sweep_sql("vhost_postings", "vhost_id")); !r) {
        return r;
    }
    if (m.client_postings_swept && bucket - *m.client_postings_swept < k_client_sweep_buckets) {
        return ok();
    }
    auto swept = run(sweep_sql("client_postings", "client_id"));
    if (swept) {
        // client_postings_recent (small: a scan) would bring its pruned rows back later.
        swept = run("DELETE FROM client_postings_recent WHERE bucket < ?1");
        m.writer.recent_client_rows.reset();
    }
    if (swept) {
        m.client_postings_swept = bucket;
    }
    return swept;
}

Result<void> remove(HistoryStore::Impl& m, const std::vector<Doomed>& doomed)
{
    std::string error;
    Stmt* event = m.statement("DELETE FROM events WHERE id = ?1", error);
    if (event == nullptr) {
        return fail(error);
    }
    MinuteDeltas minutes;
    SourceDeltas sources;
    // The newest (time, id) deleted (docs/STORE.md, retention_frontier).
    // And the largest id deleted, which new events are numbered above.
    Stmt* frontier = m.statement(
        "INSERT INTO retention_frontier (id, time_us, event_id, max_id) VALUES (1, ?1, ?2, ?3) "
        "ON CONFLICT (id) DO UPDATE SET max_id = max(max_id, excluded.max_id), time_us = CASE "
        "WHEN (excluded.time_us, excluded.event_id) > (time_us, event_id) THEN excluded.time_us "
        "ELSE time_us END, event_id = CASE WHEN (excluded.time_us, excluded.event_id) > "
        "(time_us, event_id) THEN excluded.event_id ELSE event_id END",
        error);
    if (frontier == nullptr) {
        return fail(error);
    }
    for (const Doomed& d : doomed) {
        event->reset();
        event->bind(1, d.id);
        if (auto r = event->step(); !r) {
            return fail(r.error());
        }
        HistoryStore::Impl::count_minute(minutes, d.time_us, d.vhost_id, d.verdict, d.flagged,
                                         d.rules, -1);
        sources.count(d.source_id, d.time_us, -1);
    }
    if (!doomed.empty()) {
        frontier->reset();
        frontier->bind(1, doomed.back().time_us);
        frontier->bind(2, doomed.back().id);
        frontier->bind(
            3, std::max_element(doomed.begin(), doomed.end(), [](const Doomed& a, const Doomed& b) {
                   return a.id < b.id;
               })->id);
        if (auto r = frontier->step(); !r) {
            return fail(r.error());
        }
        if (auto r = drop_postings(m); !r) {
            return r;
        }
    }
    if (auto r = m.apply_sources(sources); !r) {
        return r;
    }
    return m.apply_minutes(minutes);
}

// How many of the oldest events to delete so that `size` comes down to `max_bytes`: the
// excess over the mean size of an event, at least 1, at most `max_rows`. The mean is
// over the id range (ids grow and the oldest go first, so it is about the event count,
// read from the primary key's two ends rather than by counting; imports of old times
// leave gaps, which make the mean smaller and a step delete a little more). Deleting does not free
// index pages that other events still share, so the next step measures again and
// deletes the rest; asking for the whole excess at once would empty the store.
Result<std::size_t> rows_over_size(HistoryStore::Impl& m, const StoreSize& size,
                                   std::int64_t max_bytes, std::size_t max_rows)
{
    std::string error;
    Stmt* s = m.statement("SELECT max(id) - min(id) + 1 FROM events", error);
    if (s == nullptr) {
        return fail(error);
    }
    s->reset();
    auto row = s->step();
    if (!row) {
        return fail(row.error());
    }
    const std::int64_t events = *row ? s->integer(0) : 0;
    s->reset();
    const std::int64_t used = size.used_bytes();
    if (events <= 0 || used <= max_bytes) {
        return std::size_t{1};
    }
    const std::int64_t per_event = std::max<std::int64_t>(1, used / events);
    const std::int64_t want = (used - max_bytes + per_event - 1) / per_event;
    return static_cast<std::size_t>(
        std::clamp<std::int64_t>(want, 1, static_cast<std::int64_t>(max_rows)));
}

} // namespace

Result<StoreSize> HistoryStore::size()
{
    StoreSize out;
    const std::array<std::pair<const char*, std::int64_t*>, 3> pragmas{
        {{"PRAGMA page_size", &out.page_size},
         {"PRAGMA page_count", &out.page_count},
         {"PRAGMA freelist_count", &out.freelist_count}}};
    for (const auto& [sql, field] : pragmas) {
        auto v = m_impl->db.integer(sql);
        if (!v) {
            return fail(v.error());
        }
        *field = *v;
    }
    return out;
}

Result<std::size_t> HistoryStore::prune_step(std::int64_t now_us, std::int64_t max_age_days,
                                             std::int64_t max_bytes, std::size_t max_rows)
{
    Impl& m = *m_impl;
    m.db.clear_failure();
    if (m.read_only || max_rows == 0 || (max_age_days <= 0 && max_bytes <= 0)) {
        return std::size_t{0};
    }
    auto before_size = size();
    if (!before_size) {
        return fail(before_size.error());
    }
    const bool too_big = max_bytes > 0 && before_size->used_bytes() > max_bytes;
    std::optional<std::int64_t> before;
    if (!too_big) {
        if (max_age_days <= 0) {
            return std::size_t{0};
        }
        before = oldest_kept_us(now_us, max_age_days);
    }
    if (too_big) {
        auto rows = rows_over_size(m, *before_size, max_bytes, max_rows);
        if (!rows) {
            return fail("cannot prune history: " + rows.error());
        }
        max_rows = *rows;
    }
    if (auto r = m.db.exec("BEGIN IMMEDIATE"); !r) {
        return fail(r.error());
    }
    auto doomed = oldest(m, before, max_rows);
    Result<void> done = doomed ? remove(m, *doomed) : fail(doomed.error());
    if (done) {
        done = m.db.exec("COMMIT");
    }
    if (!done) {
        m.db.rollback();
        m.client_postings_swept.reset(); // a sweep rolled back: the next step sweeps again
        m.writer.recent_client_rows.reset();
        return fail("cannot prune history: " + done.error());
    }
    const StoreSize& s = *before_size;
    if (s.freelist_count > 0 && s.freelist_count * 4 >= s.page_count) {
        if (auto r = m.db.exec("PRAGMA incremental_vacuum(" + std::to_string(k_vacuum_pages) + ")");
            !r) {
            return fail("cannot return free pages: " + r.error());
        }
    }
    return doomed->size();
}

} // namespace mso
