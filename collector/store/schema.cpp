// The schema versions of history.db and the connection set-up of schema.h. Every table,
// column and index is explained in docs/STORE.md; change both together, and add a
// migration rather than editing one that has shipped.
#include "store/schema.h"

#include "store/posting_hits.h"
#include "store/rule_postings.h"

#include <sqlite3.h>

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <system_error>

namespace mso {
namespace {

constexpr std::string_view k_v1 = R"sql(
CREATE TABLE strings (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    time_us          INTEGER NOT NULL,
    source_id        INTEGER NOT NULL,
    vhost_id         INTEGER NOT NULL,
    port             INTEGER NOT NULL,
    client_id        INTEGER NOT NULL,
    method_id        INTEGER NOT NULL,
    protocol_id      INTEGER NOT NULL,
    user_agent_id    INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    phase            INTEGER NOT NULL,
    verdict          INTEGER NOT NULL,
    engine_mode      INTEGER NOT NULL,
    findings_dropped INTEGER NOT NULL,
    uid_key          INTEGER NOT NULL,
    content_hash     INTEGER NOT NULL,
    scores           BLOB,
    path             TEXT NOT NULL,
    query            TEXT NOT NULL,
    unique_id        TEXT NOT NULL,
    findings         BLOB NOT NULL
);
CREATE INDEX events_time ON events (time_us);
CREATE INDEX events_vhost ON events (vhost_id, time_us);
CREATE INDEX events_client ON events (client_id, time_us);
CREATE INDEX events_uid ON events (uid_key);
CREATE TABLE event_rules (
    rule_id  INTEGER NOT NULL,
    time_us  INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (rule_id, time_us, event_id)
) WITHOUT ROWID;
CREATE TABLE minutes (
    rule_id     INTEGER NOT NULL,
    vhost_id    INTEGER NOT NULL,
    minute      INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    flagged     INTEGER NOT NULL,
    intercepted INTEGER NOT NULL,
    would_block INTEGER NOT NULL,
    PRIMARY KEY (rule_id, vhost_id, minute)
) WITHOUT ROWID;
)sql";

// WAL pages before SQLite checkpoints on its own: 64 MiB of 4 KiB pages. SQLite's default
// (1,000) made nearly every batch of 4,096 events pay for a checkpoint that wrote back the
// same index pages again and again (about 15 % of the insert time).
constexpr int k_wal_autocheckpoint_pages = 16384;

// Version 2: each source's event count and newest time, kept by the writer and retention
// (`sources` read them with a scan of every event: 90 ms at 300,000 events, seconds at
// millions). Filled from the events already stored.
constexpr std::string_view k_v2 = R"sql(
CREATE TABLE source_totals (
    source_id    INTEGER PRIMARY KEY,
    events       INTEGER NOT NULL,
    last_time_us INTEGER NOT NULL
);
INSERT INTO source_totals (source_id, events, last_time_us)
    SELECT source_id, count(*), max(time_us) FROM events GROUP BY source_id;
)sql";

// Version 3: the rule index as postings (rule_postings.h): one row per rule, ten-second
// bucket and batch instead of one row per event and rule, the largest share of the
// writer's B-tree inserts (docs/STORE.md). postings_from_event_rules() fills it from
// event_rules in that table's key order (a GROUP BY on the bucket would sort every row
// in memory first) and drops event_rules.
constexpr std::string_view k_v3 = R"sql(
CREATE TABLE rule_postings (
    rule_id  INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    entries  BLOB NOT NULL,
    PRIMARY KEY (rule_id, bucket, first_id)
) WITHOUT ROWID;
CREATE INDEX rule_postings_bucket ON rule_postings (bucket);
)sql";

// Version 4: events_time also holds each event's id and path. A `--path PREFIX` search
// without an indexed filter walks events_time newest first; with the path in the index,
// SQLite tests the prefix on the index entry and reads the table row of a match only
// (5x faster for a rare prefix at 1M events, docs/BENCHMARKS.md). The id keeps the
// index in (time_us, id) order, the order of every page. Rebuilding the index reads the
// table once (tens of seconds at 10M events, at the first start of this version).
constexpr std::string_view k_v4 = R"sql(
DROP INDEX events_time;
CREATE INDEX events_time ON events (time_us, id, path);
)sql";

// Version 5: uid_key holds the second a unique id carries in its high bits
// (history_store.cpp), so events_uid is in time order. Nothing is rewritten: the keys
// stored before stay below 2^31, and lookups ask for both while such events are left.
// The version bump keeps older builds, which would look for the 31-bit key only and miss
// every newer event, from opening the file.
constexpr std::string_view k_v5 = "";

// Version 6: the client index as postings, as the rule index is since version 3
// (rule_postings.h): events_client took one B-tree insert per event at as many places as
// the batch had clients (5,000 in store_bench), the writer's dearest index after the rule
// index and the unique-id key (docs/BENCHMARKS.md). postings_from_client_index() fills
// client_postings from events_client in its order and drops the index. No index on the
// bucket, unlike rule_postings: where events are sparse (an import of old logs, a quiet
// site) a client's row holds one or two hits, and such an index cost ~20 bytes per event;
// retention sweeps the table client by client instead, now and then
// (history_retention.cpp). `hits` (how many entries the row holds; 1 costs no byte) lets
// top clients sum whole buckets inside SQLite without decoding them. retention_frontier
// holds the newest (time, id) retention has deleted: every posting of a pruned event is at
// or before it, so top clients can count the postings after it without reading events;
// and the largest id deleted, which new events are numbered above (history_writer.cpp), so
// no posting of a pruned event ever meets a new event.
constexpr std::string_view k_v6 = R"sql(
CREATE TABLE client_postings (
    client_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    first_id  INTEGER NOT NULL,
    hits      INTEGER NOT NULL,
    entries   BLOB NOT NULL,
    PRIMARY KEY (client_id, bucket, first_id)
) WITHOUT ROWID;
CREATE TABLE retention_frontier (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    time_us  INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    max_id   INTEGER NOT NULL
);
)sql";

// Version 7: the writer's newest client postings wait in client_postings_recent (same
// columns and key) and move to client_postings in one pass once it holds
// HistoryOptions::recent_client_rows (history_writer.cpp). Written once per batch,
// client_postings took one leaf per client seen in every batch (5,000 in store_bench),
// spread over a table that grows with the store: from a few million events on, 63 % of
// the pages a commit wrote (docs/BENCHMARKS.md). The recent table stays small, so a
// batch's rows land on its few MB whatever the store's size; the move writes each
// client's leaf once for many batches. Readers read both tables. Nothing to rewrite:
// the table starts empty.
constexpr std::string_view k_v7 = R"sql(
CREATE TABLE client_postings_recent (
    client_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    first_id  INTEGER NOT NULL,
    hits      INTEGER NOT NULL,
    entries   BLOB NOT NULL,
    PRIMARY KEY (client_id, bucket, first_id)
) WITHOUT ROWID;
)sql";

// Version 8: the vhost index as postings, as the rule and client indexes are (versions 3
// and 6): events_vhost took one B-tree insert per event at as many places as the batch
// had vhosts (docs/BENCHMARKS.md, "the vhost index as postings"). A batch now writes one
// row per vhost (and ten-second bucket) it saw. postings_from_vhost_index() fills
// vhost_postings from events_vhost in its order and drops the index. No recent table as
// for clients: a site has few vhosts, and with many, each batch wrote one leaf of
// events_vhost per vhost before just as it writes one row per vhost now. No index on the
// bucket: retention sweeps the table vhost by vhost, as client_postings.
constexpr std::string_view k_v8 = R"sql(
CREATE TABLE vhost_postings (
    vhost_id INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    hits     INTEGER NOT NULL,
    entries  BLOB NOT NULL,
    PRIMARY KEY (vhost_id, bucket, first_id)
) WITHOUT ROWID;
)sql";

constexpr std::array<Migration, 8> k_migrations{{
    {1, "events, findings, interned strings, the rule index and per-minute counts", k_v1},
    {2, "events and newest time per source", k_v2},
    {3, "the rule index as postings per ten-second bucket", k_v3, postings_from_event_rules},
    {4, "events_time covers the path", k_v4},
    {5, "unique-id keys in the order of the second in the id", k_v5},
    {6, "the client index as postings per ten-second bucket", k_v6, postings_from_client_index},
    {7, "the newest client postings in a table of their own", k_v7},
    {8, "the vhost index as postings per ten-second bucket", k_v8, postings_from_vhost_index},
}};

std::string errno_message(int err)
{
    return std::error_code(err, std::generic_category()).message();
}

bool exists(const std::string& path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

bool empty_or_missing(const std::string& path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) != 0 || st.st_size == 0;
}

// Runs quick_check: "" when the file is sound, else what is wrong. An error that says
// nothing about the file (busy, permission) is returned as a Result error instead.
Result<std::string> check(Db& db)
{
    auto stmt = Stmt::prepare(db, "PRAGMA quick_check");
    if (!stmt) {
        if (db.last_failure() == SqliteFailure::corrupt) {
            return stmt.error();
        }
        return fail(stmt.error());
    }
    std::string problems;
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            if (db.last_failure() == SqliteFailure::corrupt) {
                return row.error();
            }
            return fail(row.error());
        }
        if (!*row) {
            break;
        }
        const std::string_view line = stmt->text(0);
        if (line != "ok" && problems.size() < 400) {
            problems += problems.empty() ? "" : "; ";
            problems += line;
        }
    }
    return problems;
}

Result<void> set_aside(const std::string& path, std::int64_t now, OpenReport& report)
{
    const std::string aside = path + ".corrupt-" + std::to_string(now);
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::string from = path + suffix;
        if (exists(from) && std::rename(from.c_str(), (aside + suffix).c_str()) != 0) {
            return fail("cannot move " + from + " aside to " + aside + suffix + ": " +
                        errno_message(errno));
        }
    }
    report.set_aside = aside;
    return ok();
}

Result<void> migrate(Db& db, OpenReport& report)
{
    auto version = db.integer("PRAGMA user_version");
    if (!version) {
        return fail(version.error());
    }
    if (*version > latest_schema_version()) {
        return fail("history schema version " + std::to_string(*version) +
                    " is newer than this build's " + std::to_string(latest_schema_version()));
    }
    for (const Migration& m : k_migrations) {
        if (m.version <= *version) {
            continue;
        }
        if (report.migrated_from < 0) {
            report.migrated_from = static_cast<int>(*version);
        }
        if (auto r = db.exec("BEGIN IMMEDIATE"); !r) {
            return r;
        }
        auto r = db.exec(m.sql);
        if (r && m.step != nullptr) {
            r = m.step(db);
        }
        if (r) {
            r = db.exec("PRAGMA user_version = " + std::to_string(m.version));
        }
        if (r) {
            r = db.exec("COMMIT");
        }
        if (!r) {
            db.rollback();
            return fail("cannot migrate history to version " + std::to_string(m.version) + ": " +
                        r.error());
        }
    }
    return ok();
}

Result<void> configure(Db& db, const ConnectOptions& options)
{
    std::string pragmas = "PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms) +
                          "; PRAGMA cache_size = -" + std::to_string(options.cache_kib) +
                          "; PRAGMA temp_store = MEMORY;";
    if (options.max_page_count > 0) {
        pragmas += " PRAGMA max_page_count = " + std::to_string(options.max_page_count) + ";";
    }
    if (!options.read_only) {
        // auto_vacuum only takes effect before the first table exists.
        pragmas += " PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;"
                   " PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = " +
                   std::to_string(k_wal_autocheckpoint_pages) + ";";
    }
    return db.exec(pragmas);
}

} // namespace

int latest_schema_version() noexcept
{
    return k_migrations.back().version;
}

Result<Db> connect(const std::string& path, const ConnectOptions& options, OpenReport& report)
{
    report = OpenReport{};
    report.created = !options.read_only && empty_or_missing(path);
    auto db = Db::open(path, !options.read_only);
    if (!db) {
        return fail(db.error());
    }
    if (register_postings(db->handle()) != SQLITE_OK) {
        return fail("cannot register the postings' functions on " + path);
    }
    if (auto r = db->exec("PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms)); !r) {
        return fail(r.error());
    }
    std::string problem;
    if (!options.read_only && options.check_integrity && !report.created) {
        auto checked = check(*db);
        if (!checked) {
            return fail("cannot check " + path + ": " + checked.error());
        }
        problem = *checked;
    }
    auto configured = problem.empty() ? configure(*db, options) : fail("");
    if (!configured && problem.empty()) {
        if (db->last_failure() != SqliteFailure::corrupt) {
            return fail(configured.error());
        }
        problem = configured.error();
    }
    if (!problem.empty()) {
        *db = Db();
        const std::int64_t now =
            options.now_seconds != 0 ? options.now_seconds : std::time(nullptr);
        if (auto r = set_aside(path, now, report); !r) {
            return fail(problem + "; " + r.error());
        }
        report.problem = problem;
        report.created = true;
        db = Db::open(path, true);
        if (!db) {
            return fail(db.error());
        }
        if (register_postings(db->handle()) != SQLITE_OK) {
            return fail("cannot register the postings' functions on " + path);
        }
        if (auto r = configure(*db, options); !r) {
            return fail(r.error());
        }
    }
    if (options.read_only) {
        auto version = db->integer("PRAGMA user_version");
        if (!version) {
            return fail(version.error());
        }
        if (*version != latest_schema_version()) {
            return fail("history schema version " + std::to_string(*version) + ", expected " +
                        std::to_string(latest_schema_version()));
        }
        return db;
    }
    if (auto r = migrate(*db, report); !r) {
        return fail(r.error());
    }
    return db;
}

} // namespace mso
