// The table-valued functions mso_rule_hits(), mso_client_hits() and mso_vhost_hits() and the scalar
// mso_posting_count() of posting_hits.h, over the postings' codec in rule_postings.h.
// SQLite calls these through C function pointers: nothing may throw out of them, so
// each entry point turns an allocation failure into SQLITE_NOMEM.
#include "store/posting_hits.h"

#include "store/rule_postings.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <string_view>
#include <vector>

namespace mso {
namespace {

// ---- mso_rule_hits(rule_id, ...), mso_client_hits(client_id, ...), mso_vhost_hits(vhost_id, ...)

enum Column : int { k_time, k_event, k_key, k_since, k_until };
constexpr int k_has_since = 1;
constexpr int k_has_until = 2;

// What differs between the three functions: the name, the key column, the table read.
struct PostingKind {
    const char* function;
    const char* declaration; // the virtual table's columns
    const char* rows;        // the key's rows in a bucket range, newest bucket first
    const char* corrupt;     // the error of a row that does not decode
};

constexpr PostingKind k_rule_kind{
    "mso_rule_hits",
    "CREATE TABLE x(time_us INTEGER, event_id INTEGER, rule_id HIDDEN, since_us HIDDEN, "
    "until_us HIDDEN)",
    "SELECT bucket, entries FROM rule_postings WHERE rule_id = ?1 AND bucket >= ?2 AND "
    "bucket <= ?3 ORDER BY bucket DESC",
    "a rule posting does not decode"};

constexpr PostingKind k_client_kind{
    "mso_client_hits",
    "CREATE TABLE x(time_us INTEGER, event_id INTEGER, client_id HIDDEN, since_us HIDDEN, "
    "until_us HIDDEN)",
    // Both tables (schema version 7), merged in bucket order: each arm walks its key.
    "SELECT bucket, entries FROM client_postings WHERE client_id = ?1 AND bucket >= ?2 AND "
    "bucket <= ?3 UNION ALL SELECT bucket, entries FROM client_postings_recent WHERE "
    "client_id = ?1 AND bucket >= ?2 AND bucket <= ?3 ORDER BY bucket DESC",
    "a client posting does not decode"};

constexpr PostingKind k_vhost_kind{
    "mso_vhost_hits",
    "CREATE TABLE x(time_us INTEGER, event_id INTEGER, vhost_id HIDDEN, since_us HIDDEN, "
    "until_us HIDDEN)",
    "SELECT bucket, entries FROM vhost_postings WHERE vhost_id = ?1 AND bucket >= ?2 AND "
    "bucket <= ?3 ORDER BY bucket DESC",
    "a vhost posting does not decode"};

struct HitsTable {
    sqlite3_vtab base{};
    sqlite3* db = nullptr;
    const PostingKind* kind = nullptr;
};

struct HitsCursor {
    sqlite3_vtab_cursor base{};
    sqlite3_stmt* rows = nullptr; // the key's postings (rule, client or vhost), newest bucket first
    bool row_ready = false;       // `rows` stands on a row not read yet
    std::vector<RuleHit> hits;    // the current bucket's, newest first
    std::size_t next = 0;
    std::int64_t key = 0;
    std::int64_t since = std::numeric_limits<std::int64_t>::min();
    std::int64_t until = std::numeric_limits<std::int64_t>::max();
    std::int64_t rowid = 0;
};

const PostingKind& kind_of(const sqlite3_vtab_cursor* cursor)
{
    return *reinterpret_cast<const HitsTable*>(cursor->pVtab)->kind;
}

int set_error(sqlite3_vtab_cursor* cursor, int code, const char* text)
{
    sqlite3_free(cursor->pVtab->zErrMsg);
    cursor->pVtab->zErrMsg = sqlite3_mprintf("%s: %s", kind_of(cursor).function, text);
    return code;
}

int hits_connect(sqlite3* db, void* aux, int /*argc*/, const char* const* /*argv*/,
                 sqlite3_vtab** out, char** /*error*/)
{
    const auto* kind = static_cast<const PostingKind*>(aux);
    const int rc = sqlite3_declare_vtab(db, kind->declaration);
    if (rc != SQLITE_OK) {
        return rc;
    }
    auto* table = new (std::nothrow) HitsTable();
    if (table == nullptr) {
        return SQLITE_NOMEM;
    }
    table->db = db;
    table->kind = kind;
    *out = &table->base;
    return SQLITE_OK;
}

int hits_disconnect(sqlite3_vtab* vtab)
{
    delete reinterpret_cast<HitsTable*>(vtab);
    return SQLITE_OK;
}

// The key (rule, client or vhost) must be given (an equality on it); the window's two ends are used
// when given. The rows come newest first, so an ORDER BY time_us DESC[, event_id DESC] is consumed
// and a LIMIT stops the walk early.
int hits_best_index(sqlite3_vtab* /*vtab*/, sqlite3_index_info* info)
{
    int key = -1;
    int since = -1;
    int until = -1;
    for (int i = 0; i < info->nConstraint; ++i) {
        const auto& c = info->aConstraint[i];
        if (c.op != SQLITE_INDEX_CONSTRAINT_EQ) {
            continue;
        }
        if (c.iColumn == k_key) {
            if (c.usable == 0) {
                return SQLITE_CONSTRAINT;
            }
            key = i;
        } else if (c.iColumn == k_since && c.usable != 0) {
            since = i;
        } else if (c.iColumn == k_until && c.usable != 0) {
            until = i;
        }
    }
    if (key < 0) {
        return SQLITE_CONSTRAINT;
    }
    int arg = 1;
    info->aConstraintUsage[key].argvIndex = arg++;
    info->aConstraintUsage[key].omit = 1;
    info->idxNum = 0;
    if (since >= 0) {
        info->aConstraintUsage[since].argvIndex = arg++;
        info->aConstraintUsage[since].omit = 1;
        info->idxNum |= k_has_since;
    }
    if (until >= 0) {
        info->aConstraintUsage[until].argvIndex = arg++;
        info->aConstraintUsage[until].omit = 1;
        info->idxNum |= k_has_until;
    }
    bool newest_first = info->nOrderBy >= 1 && info->nOrderBy <= 2;
    for (int i = 0; newest_first && i < info->nOrderBy; ++i) {
        newest_first = info->aOrderBy[i].iColumn == i && info->aOrderBy[i].desc != 0;
    }
    info->orderByConsumed = newest_first ? 1 : 0;
    info->estimatedCost = 100.0;
    info->estimatedRows = 1000;
    return SQLITE_OK;
}

int hits_open(sqlite3_vtab* /*vtab*/, sqlite3_vtab_cursor** out)
{
    auto* cursor = new (std::nothrow) HitsCursor();
    if (cursor == nullptr) {
        return SQLITE_NOMEM;
    }
    *out = &cursor->base;
    return SQLITE_OK;
}

int hits_close(sqlite3_vtab_cursor* base)
{
    auto* cursor = reinterpret_cast<HitsCursor*>(base);
    sqlite3_finalize(cursor->rows);
    delete cursor;
    return SQLITE_OK;
}

// Steps `rows`; SQLITE_OK with row_ready set or cleared, else the error.
int step_rows(HitsCursor& c)
{
    const int rc = sqlite3_step(c.rows);
    c.row_ready = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        return SQLITE_OK;
    }
    return set_error(&c.base, rc, sqlite3_errmsg(reinterpret_cast<HitsTable*>(c.base.pVtab)->db));
}

// Reads the next bucket that has hits in the window into `hits`, newest first; `hits`
// stays empty at the end.
int load_bucket(HitsCursor& c)
{
    c.hits.clear();
    c.next = 0;
    while (c.hits.empty() && c.row_ready) {
        const std::int64_t bucket = sqlite3_column_int64(c.rows, 0);
        while (c.row_ready && sqlite3_column_int64(c.rows, 0) == bucket) {
            const void* p = sqlite3_column_blob(c.rows, 1);
            const auto n = static_cast<std::size_t>(sqlite3_column_bytes(c.rows, 1));
            if (!decode_posting(bucket, std::string_view(static_cast<const char*>(p), n), c.hits)) {
                return set_error(&c.base, SQLITE_CORRUPT, kind_of(&c.base).corrupt);
            }
            if (const int rc = step_rows(c); rc != SQLITE_OK) {
                return rc;
            }
        }
        std::erase_if(
            c.hits, [&](const RuleHit& h) { return h.time_us < c.since || h.time_us >= c.until; });
        std::sort(c.hits.begin(), c.hits.end(),
                  [](const RuleHit& a, const RuleHit& b) { return b < a; });
    }
    return SQLITE_OK;
}

int hits_filter(sqlite3_vtab_cursor* base, int idx_num, const char* /*idx_str*/, int argc,
                sqlite3_value** argv)
{
    auto& c = *reinterpret_cast<HitsCursor*>(base);
    c.hits.clear();
    c.next = 0;
    c.rowid = 0;
    c.row_ready = false;
    int arg = 0;
    auto bound = [&](int flag, std::int64_t unset) -> std::int64_t {
        if ((idx_num & flag) == 0 || arg >= argc) {
            return unset;
        }
        sqlite3_value* v = argv[arg++];
        return sqlite3_value_type(v) == SQLITE_NULL ? unset : sqlite3_value_int64(v);
    };
    if (argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        return SQLITE_OK; // no key: no hits
    }
    c.key = sqlite3_value_int64(argv[arg++]);
    c.since = bound(k_has_since, std::numeric_limits<std::int64_t>::min());
    c.until = bound(k_has_until, std::numeric_limits<std::int64_t>::max());
    if (c.until <= c.since) {
        return SQLITE_OK;
    }
    if (c.rows == nullptr) {
        const int rc =
            sqlite3_prepare_v3(reinterpret_cast<HitsTable*>(base->pVtab)->db, kind_of(base).rows,
                               -1, SQLITE_PREPARE_PERSISTENT, &c.rows, nullptr);
        if (rc != SQLITE_OK) {
            return set_error(base, rc,
                             sqlite3_errmsg(reinterpret_cast<HitsTable*>(base->pVtab)->db));
        }
    }
    sqlite3_reset(c.rows);
    sqlite3_bind_int64(c.rows, 1, c.key);
    sqlite3_bind_int64(c.rows, 2, posting_bucket(c.since));
    sqlite3_bind_int64(c.rows, 3, posting_bucket(c.until - 1));
    try {
        const int rc = step_rows(c);
        return rc != SQLITE_OK ? rc : load_bucket(c);
    } catch (const std::bad_alloc&) {
        return SQLITE_NOMEM;
    }
}

int hits_next(sqlite3_vtab_cursor* base)
{
    auto& c = *reinterpret_cast<HitsCursor*>(base);
    ++c.rowid;
    if (++c.next < c.hits.size()) {
        return SQLITE_OK;
    }
    try {
        return load_bucket(c);
    } catch (const std::bad_alloc&) {
        return SQLITE_NOMEM;
    }
}

int hits_eof(sqlite3_vtab_cursor* base)
{
    const auto& c = *reinterpret_cast<HitsCursor*>(base);
    return c.next >= c.hits.size() ? 1 : 0;
}

int hits_column(sqlite3_vtab_cursor* base, sqlite3_context* context, int column)
{
    const auto& c = *reinterpret_cast<HitsCursor*>(base);
    const RuleHit& h = c.hits[c.next];
    switch (column) {
    case k_time: sqlite3_result_int64(context, h.time_us); break;
    case k_event: sqlite3_result_int64(context, h.event_id); break;
    case k_key: sqlite3_result_int64(context, c.key); break;
    case k_since: sqlite3_result_int64(context, c.since); break;
    default: sqlite3_result_int64(context, c.until); break;
    }
    return SQLITE_OK;
}

int hits_rowid(sqlite3_vtab_cursor* base, sqlite3_int64* rowid)
{
    *rowid = reinterpret_cast<HitsCursor*>(base)->rowid;
    return SQLITE_OK;
}

const sqlite3_module& hits_module()
{
    static const sqlite3_module module = [] {
        sqlite3_module m{};
        m.iVersion = 0;
        m.xCreate = nullptr; // eponymous only: mso_rule_hits(...) in a FROM clause
        m.xConnect = hits_connect;
        m.xBestIndex = hits_best_index;
        m.xDisconnect = hits_disconnect;
        m.xDestroy = hits_disconnect;
        m.xOpen = hits_open;
        m.xClose = hits_close;
        m.xFilter = hits_filter;
        m.xNext = hits_next;
        m.xEof = hits_eof;
        m.xColumn = hits_column;
        m.xRowid = hits_rowid;
        return m;
    }();
    return module;
}

// mso_posting_count(bucket, entries, from_time_us, from_event_id, until_us).
void posting_count_function(sqlite3_context* context, int argc, sqlite3_value** argv)
{
    if (argc != 5) {
        sqlite3_result_error(context, "mso_posting_count: five arguments", -1);
        return;
    }
    const void* p = sqlite3_value_blob(argv[1]);
    const auto n =
        count_hits(sqlite3_value_int64(argv[0]),
                   std::string_view(
                       static_cast<const char*>(p),
                       p == nullptr ? 0U : static_cast<std::size_t>(sqlite3_value_bytes(argv[1]))),
                   RuleHit{sqlite3_value_int64(argv[2]), sqlite3_value_int64(argv[3])},
                   sqlite3_value_int64(argv[4]));
    if (!n) {
        sqlite3_result_error(context, "mso_posting_count: a posting does not decode", -1);
        sqlite3_result_error_code(context, SQLITE_CORRUPT);
        return;
    }
    sqlite3_result_int64(context, static_cast<sqlite3_int64>(*n));
}

} // namespace

int register_postings(sqlite3* db)
{
    if (const int rc = sqlite3_create_function_v2(
            db, "mso_posting_count", 5, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
            posting_count_function, nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
        return rc;
    }
    for (const PostingKind* kind : {&k_rule_kind, &k_client_kind, &k_vhost_kind}) {
        // The kinds are constants: the module's aux pointer is never written through.
        if (const int rc = sqlite3_create_module_v2(db, kind->function, &hits_module(),
                                                    const_cast<PostingKind*>(kind), nullptr);
            rc != SQLITE_OK) {
            return rc;
        }
    }
    return SQLITE_OK;
}

} // namespace mso
