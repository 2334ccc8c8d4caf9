// HistoryStore::write_batch (history_store.h): the writer's statements, each event's
// duplicate check and row, the batch's postings (rule, client, vhost), per-minute and
// per-source counts, in one transaction; and the passive checkpoint after it.
#include "store/history_store_impl.h"

#include "store/stored_event.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace mso {
namespace {

// The writer's statements, prepared on first use and kept.
Result<void> prepare_writer(HistoryStore::Impl& m)
{
    auto& w = m.writer;
    if (w.insert_vhost_posting != nullptr) {
        return ok();
    }
    std::string error;
    w.same_uid = m.statement(
        std::string("SELECT unique_id, content_hash, client_id, method_id, path FROM events "
                    "WHERE uid_key ") +
            (m.legacy_uid_keys ? "IN (?1, ?2)" : "= ?1"),
        error);
    w.insert_event =
        w.same_uid == nullptr
            ? nullptr
            : m.statement("INSERT INTO events (time_us, source_id, vhost_id, port, client_id, "
                          "method_id, protocol_id, user_agent_id, status, phase, verdict, "
                          "engine_mode, findings_dropped, uid_key, content_hash, scores, path, "
                          "query, unique_id, findings, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                          "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
                          error);
    // OR REPLACE: a posting's key (key, bucket, first_id) could only come back with an
    // event id given again, which the writer never does while the store holds postings
    // (write_batch numbers events above every id deleted; once the store is empty every
    // posting goes too). Should it happen, the newer posting is the one to keep.
    w.insert_posting = w.insert_event == nullptr
                           ? nullptr
                           : m.statement("INSERT OR REPLACE INTO rule_postings (rule_id, bucket, "
                                         "first_id, entries) VALUES (?1, ?2, ?3, ?4)",
                                         error);
    w.insert_client_posting =
        w.insert_posting == nullptr
            ? nullptr
            : m.statement("INSERT OR REPLACE INTO client_postings_recent (client_id, bucket, "
                          "first_id, entries, hits) VALUES (?1, ?2, ?3, ?4, ?5)",
                          error);
    w.insert_vhost_posting =
        w.insert_client_posting == nullptr
            ? nullptr
            : m.statement("INSERT OR REPLACE INTO vhost_postings (vhost_id, bucket, first_id, "
                          "entries, hits) VALUES (?1, ?2, ?3, ?4, ?5)",
                          error);
    if (w.insert_vhost_posting == nullptr) {
        w = HistoryStore::Impl::Writer{};
        return fail(error);
    }
    return ok();
}

// Writes a batch's hits as postings through `insert`: one row per key and bucket.
Result<void> write_postings(HistoryStore::Impl& m,
                            std::vector<HistoryStore::Impl::Writer::Hit>& hits, Stmt& insert)
{
    auto& w = m.writer;
    sort_keyed_hits(hits, w.sort_scratch);
    for (const auto& h : hits) {
        if (auto r = w.postings.add(insert, h.key, h.time_us, h.event_id); !r) {
            return r;
        }
    }
    hits.clear();
    return w.postings.finish(insert);
}

// Writes the batch's client hits into client_postings_recent, and moves that table's rows
// to client_postings once it holds HistoryOptions::recent_client_rows (schema.cpp,
// version 7): read in key order, so each client's leaf of client_postings is written once
// for the many batches the rows came from.
Result<void> write_client_postings(HistoryStore::Impl& m)
{
    auto& w = m.writer;
    if (!w.recent_client_rows) { // rare: at the first batch, after a rollback or a sweep
        auto rows = m.db.integer("SELECT count(*) FROM client_postings_recent");
        if (!rows) {
            return fail(rows.error());
        }
        w.recent_client_rows = *rows;
    }
    const std::int64_t before = w.postings.rows();
    if (auto r = write_postings(m, w.client_hits, *w.insert_client_posting); !r) {
        return r;
    }
    *w.recent_client_rows += w.postings.rows() - before;
    if (*w.recent_client_rows < w.recent_client_limit) {
        return ok();
    }
    if (auto r = m.db.exec("INSERT OR REPLACE INTO client_postings (client_id, bucket, "
                           "first_id, entries, hits) SELECT client_id, bucket, first_id, "
                           "entries, hits FROM client_postings_recent; DELETE FROM "
                           "client_postings_recent");
        !r) {
        return r;
    }
    w.recent_client_rows = 0;
    return ok();
}

// Inserts one event unless it is a duplicate; true when inserted.
Result<bool> insert_event(HistoryStore::Impl& m, const EventRef& stored, Dedup dedup,
                          MinuteDeltas& minutes)
{
    auto& w = m.writer;
    const RequestEvent& e = *stored.event;
    const std::uint64_t hash = content_hash(e);
    const UidKeys keys = uid_keys(e.unique_id, hash);
    Stmt* same = w.same_uid;
    same->reset();
    // Dedup::request compares string ids: a client or method never interned matches no row.
    std::optional<std::int64_t> client_id;
    std::optional<std::int64_t> method_id;
    if (dedup == Dedup::request && !e.unique_id.empty()) {
        client_id = m.lookup(e.client);
        method_id = m.lookup(e.method);
    }
    same->bind(1, keys.key);
    if (m.legacy_uid_keys) {
        same->bind(2, keys.legacy);
    }
    bool duplicate = false;
    // Walks the rows with the key until one is a duplicate (false stops the walk).
    auto probed = each_row(*same, [&](const Stmt& row) {
        if (row.text(0) != e.unique_id) {
            return true;
        }
        duplicate = static_cast<std::uint64_t>(row.integer(1)) == hash;
        if (!duplicate && !e.unique_id.empty()) {
            duplicate = dedup == Dedup::unique_id ||
                        (dedup == Dedup::request && client_id && method_id &&
                         row.integer(2) == *client_id && row.integer(3) == *method_id &&
                         row.text(4) == e.path);
        }
        return !duplicate;
    });
    if (!probed) {
        return fail(probed.error());
    }
    if (duplicate) {
        return false;
    }
    std::array<std::int64_t, 6> sid{};
    const std::array<std::string_view, 6> texts{stored.source, e.vhost,    e.client,
                                                e.method,      e.protocol, e.user_agent};
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto id = texts[i].empty() ? std::optional<std::int64_t>(0) : m.id_of(texts[i]);
        if (!id) {
            return m.db.error("cannot intern a string");
        }
        sid[i] = *id;
    }
    w.findings.clear();
    if (!encode_findings(e.findings, m, w.findings)) {
        return m.db.error("cannot intern a finding's string");
    }
    const Verdict verdict = verdict_of(e);
    Stmt* s = w.insert_event;
    s->reset();
    const std::array<std::int64_t, 15> values{e.time_us,
                                              sid[0],
                                              sid[1],
                                              e.port,
                                              sid[2],
                                              sid[3],
                                              sid[4],
                                              sid[5],
                                              e.status,
                                              e.phase,
                                              static_cast<std::int64_t>(verdict),
                                              static_cast<std::int64_t>(stored.engine_mode),
                                              static_cast<std::int64_t>(e.findings_dropped),
                                              keys.key,
                                              static_cast<std::int64_t>(hash)};
    for (std::size_t i = 0; i < values.size(); ++i) {
        s->bind(static_cast<int>(i + 1), values[i]);
    }
    w.scores.clear();
    append_scores(e.scores, w.scores);
    if (!w.scores.empty()) {
        s->bind_blob_static(16, w.scores);
    }
    // Static binds: the event and the buffers outlive the step.
    s->bind_static(17, e.path);
    s->bind_static(18, e.query);
    s->bind_static(19, e.unique_id);
    s->bind_blob_static(20, w.findings);
    const std::int64_t row_id = w.next_id;
    s->bind(21, row_id);
    if (auto r = s->step(); !r) {
        return fail(r.error());
    }
    ++w.next_id;
    finding_rule_ids(w.findings, w.rules);
    for (const std::int64_t id : w.rules) {
        w.hits.push_back({id, e.time_us, row_id});
    }
    w.client_hits.push_back({sid[2], e.time_us, row_id});
    w.vhost_hits.push_back({sid[1], e.time_us, row_id});
    const bool flagged = !e.findings.empty() || e.findings_dropped > 0;
    HistoryStore::Impl::count_minute(minutes, e.time_us, sid[1], verdict, flagged, w.rules, 1);
    w.sources.count(sid[0], e.time_us, 1);
    return true;
}

} // namespace

Result<WriteStats> HistoryStore::write_batch(std::span<const StoredEvent> events, Dedup dedup,
                                             std::vector<bool>* inserted_flags)
{
    std::vector<EventRef> refs;
    refs.reserve(events.size());
    for (const StoredEvent& e : events) {
        refs.push_back({&e.event, e.source, e.engine_mode});
    }
    return write_batch(std::span<const EventRef>(refs), dedup, inserted_flags);
}

Result<WriteStats> HistoryStore::write_batch(std::span<const EventRef> events, Dedup dedup,
                                             std::vector<bool>* inserted_flags)
{
    if (inserted_flags != nullptr) {
        inserted_flags->clear();
    }
    Impl& m = *m_impl;
    m.db.clear_failure();
    if (m.read_only) {
        return fail("history store opened read-only");
    }
    if (auto r = m.db.exec("BEGIN IMMEDIATE"); !r) {
        return fail(r.error());
    }
    WriteStats stats;
    MinuteDeltas& minutes = m.writer.minutes;
    minutes.clear();
    m.writer.sources.clear();
    m.writer.hits.clear();
    m.writer.client_hits.clear();
    m.writer.vhost_hits.clear();
    Result<void> result = prepare_writer(m);
    if (result) {
        // Events are numbered above every id the store has held since it was last empty
        // (retention_frontier.max_id): SQLite's own choice, the largest id + 1, gives a
        // pruned event's id again when it was the largest, and a posting of the pruned
        // event would then join the new one (docs/STORE.md).
        std::string error;
        Stmt* next = m.statement("SELECT max(coalesce((SELECT max(id) FROM events), 0), "
                                 "coalesce((SELECT max_id FROM retention_frontier), 0)) + 1",
                                 error);
        auto row = next != nullptr ? next->step() : Result<bool>(fail(error));
        if (row && *row) {
            m.writer.next_id = next->integer(0);
            next->reset(); // one row: end the statement (and its read) here
        } else {
            result = fail(row ? "no next event id" : row.error());
        }
    }
    for (const EventRef& e : events) {
        if (!result) {
            break;
        }
        auto inserted = insert_event(m, e, dedup, minutes);
        if (!inserted) {
            result = fail(inserted.error());
            break;
        }
        ++(*inserted ? stats.inserted : stats.duplicates);
        if (inserted_flags != nullptr) {
            inserted_flags->push_back(*inserted);
        }
    }
    if (result) {
        result = write_postings(m, m.writer.hits, *m.writer.insert_posting);
    }
    if (result) {
        result = write_client_postings(m);
    }
    if (result) {
        result = write_postings(m, m.writer.vhost_hits, *m.writer.insert_vhost_posting);
    }
    if (result) {
        result = m.apply_minutes(minutes);
    }
    if (result) {
        result = m.apply_sources(m.writer.sources);
    }
    if (result) {
        result = m.db.exec("COMMIT");
    }
    if (!result) {
        m.db.rollback();
        m.forget_ids(); // ids interned in the rolled-back transaction are gone
        m.writer.recent_client_rows.reset();
        return fail("cannot store " + std::to_string(events.size()) + " events: " + result.error());
    }
    // A slow trickle of events would leave the WAL unsynced for long between SQLite's own
    // checkpoints (every 64 MiB); a passive one never waits for readers.
    const auto now = std::chrono::steady_clock::now();
    if (now - m.writer.checkpointed >= k_checkpoint_interval) {
        m.writer.checkpointed = now;
        // The batch is committed either way; a checkpoint that fails is retried later.
        if (auto r = m.db.exec("PRAGMA wal_checkpoint(PASSIVE)"); !r) {
            m.db.clear_failure();
        }
    }
    return stats;
}

} // namespace mso
