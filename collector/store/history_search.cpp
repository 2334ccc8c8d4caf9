// Search and time series over the history store (history_store.h). A search is one
// SELECT built from the filters that are set, newest first, driven by the index that
// fits: the rule postings (mso_rule_hits, posting_hits.h) when a rule is given, else the
// client postings (mso_client_hits) when a client is, else the vhost postings
// (mso_vhost_hits) when a vhost is, else events_time, each of which yields rows in
// (time_us, id) order so the LIMIT stops the scan early.
// docs/STORE.md lists which filters are indexed.
#include "store/history_store_impl.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace mso {
namespace {

constexpr const char* k_grep_pointer = "mso_grep";

// What mso_grep() matches: a needle in a finding's data, or a msg among `msg_ids` (the
// strings that contain the needle, looked up once per search).
struct GrepContext {
    std::string needle;
    std::unordered_set<std::int64_t> msg_ids;
};

void grep_function(sqlite3_context* context, int argc, sqlite3_value** argv)
{
    const auto* grep =
        argc == 2 ? static_cast<const GrepContext*>(sqlite3_value_pointer(argv[1], k_grep_pointer))
                  : nullptr;
    const void* p = argc == 2 ? sqlite3_value_blob(argv[0]) : nullptr;
    if (grep == nullptr || p == nullptr) {
        sqlite3_result_int(context, 0);
        return;
    }
    std::string_view blob(static_cast<const char*>(p),
                          static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
    BlobFinding f;
    int found = 0;
    while (found == 0 && !blob.empty() && next_finding(blob, f)) {
        found = grep->msg_ids.contains(f.strings[BlobFinding::k_msg]) ||
                        f.data.find(grep->needle) != std::string_view::npos
                    ? 1
                    : 0;
    }
    sqlite3_result_int(context, found);
}

// A search's SQL and its parameters, built filter by filter.
struct Sql {
    std::string text;
    std::vector<std::int64_t> numbers; // ?1.. in order
    std::vector<std::pair<int, std::string>> strings;
    int next = 1;

    std::string number(std::int64_t v)
    {
        numbers.push_back(v);
        return "?" + std::to_string(next++);
    }
    std::string string(std::string v)
    {
        strings.emplace_back(next, std::move(v));
        numbers.push_back(0); // placeholder, bound as text below
        return "?" + std::to_string(next++);
    }
};

} // namespace

void register_grep(sqlite3* db)
{
    sqlite3_create_function_v2(db, "mso_grep", 2, SQLITE_UTF8, nullptr, grep_function, nullptr,
                               nullptr, nullptr);
}

Result<Page> HistoryStore::search(const HistoryQuery& q)
{
    Impl& m = *m_impl;
    Page page;
    // A filter on a string the store has never seen matches nothing.
    auto id = [&](const std::optional<std::string>& text) { return m.lookup(*text); };
    Sql sql;
    // The postings that drive the search, if any: a rule's, else a client's, else a
    // vhost's (the key, the table-valued function that reads them and its key column; no
    // key: none).
    struct Driver {
        const std::optional<std::string>* key = nullptr;
        const char* function = "";
        const char* column = "";
    };
    const Driver driver = q.rule     ? Driver{&q.rule, "mso_rule_hits", "r.rule_id"}
                          : q.client ? Driver{&q.client, "mso_client_hits", "r.client_id"}
                          : q.vhost  ? Driver{&q.vhost, "mso_vhost_hits", "r.vhost_id"}
                                     : Driver{};
    const bool by_hits = driver.key != nullptr;
    // The time column of the driving table, so the index yields the ORDER BY.
    const std::string t = by_hits ? "r.time_us" : "e.time_us";
    const std::string i = by_hits ? "r.event_id" : "e.id";
    std::string where;
    auto add = [&](const std::string& condition) {
        where += where.empty() ? " WHERE " : " AND ";
        where += condition;
    };
    if (by_hits) {
        const auto key = id(*driver.key);
        if (!key) {
            return page;
        }
        add(std::string(driver.column) + " = " + sql.number(*key));
    }
    const std::array<std::pair<const std::optional<std::string>*, const char*>, 3> interned{
        {{&q.vhost, "e.vhost_id"}, {&q.client, "e.client_id"}, {&q.source, "e.source_id"}}};
    for (const auto& [text, column] : interned) {
        // Also the driving client or vhost, checked on the event row, which is read anyway: a guard
        // should a posting ever meet an event other than its own (ids are not given again
        // while postings exist; docs/STORE.md).
        if (text->has_value()) {
            const auto sid = id(*text);
            if (!sid) {
                return page;
            }
            add(std::string(column) + " = " + sql.number(*sid));
        }
    }
    if (q.status) {
        add("e.status = " + sql.number(*q.status));
    }
    if (q.intercepted) {
        add(std::string("e.verdict ") + (*q.intercepted ? "= " : "<> ") +
            std::to_string(static_cast<int>(Verdict::intercepted)));
    }
    if (q.would_block) {
        add(std::string("e.verdict ") + (*q.would_block ? "= " : "<> ") +
            std::to_string(static_cast<int>(Verdict::would_block)));
    }
    if (q.engine_mode) {
        add("e.engine_mode = " + sql.number(static_cast<std::int64_t>(*q.engine_mode)));
    }
    if (q.path_prefix && !q.path_prefix->empty()) {
        // A byte prefix as a range of the text (BINARY collation compares bytes): two
        // comparisons in SQLite's VM per row instead of substr() and two casts. The end is
        // the prefix with its last byte that is not 0xFF raised by one (none: no end).
        std::string end = *q.path_prefix;
        while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) {
            end.pop_back();
        }
        add("e.path >= " + sql.string(*q.path_prefix));
        if (!end.empty()) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            add("e.path < " + sql.string(std::move(end)));
        }
    }
    if (q.since_us) {
        add(t + " >= " + sql.number(*q.since_us));
    }
    if (q.until_us) {
        add(t + " < " + sql.number(*q.until_us));
    }
    if (q.after) {
        add("(" + t + ", " + i + ") < (" + sql.number(q.after->time_us) + ", " +
            sql.number(q.after->row_id) + ")");
    }
    if (by_hits) {
        // The window's ends bound the postings' walk (the conditions above filter its
        // rows again); the cursor's time ends it too.
        if (q.since_us) {
            add("r.since_us = " + sql.number(*q.since_us));
        }
        std::optional<std::int64_t> until = q.until_us;
        if (q.after && q.after->time_us < std::numeric_limits<std::int64_t>::max()) {
            until = std::min(until.value_or(std::numeric_limits<std::int64_t>::max()),
                             q.after->time_us + 1);
        }
        if (until) {
            add("r.until_us = " + sql.number(*until));
        }
    }
    GrepContext grep;
    int grep_param = 0;
    if (q.grep && !q.grep->empty()) {
        grep.needle = *q.grep;
        std::string error;
        Stmt* s = m.statement("SELECT id FROM strings WHERE instr(text, ?1) > 0", error);
        if (s == nullptr) {
            return fail(error);
        }
        s->bind(1, std::string_view(grep.needle));
        auto found = each_row(*s, [&](const Stmt& row) { grep.msg_ids.insert(row.integer(0)); });
        if (!found) {
            return fail(found.error());
        }
        grep_param = sql.next;
        add("mso_grep(e.findings, " + sql.number(0) + ")");
    }
    const std::size_t limit = std::max<std::size_t>(q.limit, 1);
    sql.text = "SELECT " + std::string(k_event_columns) +
               (!by_hits ? std::string(" FROM events e")
                         : std::string(" FROM ") + driver.function +
                               " r CROSS JOIN events e ON e.id = r.event_id AND e.time_us = "
                               "r.time_us") +
               where + " ORDER BY " + t + " DESC, " + i + " DESC LIMIT " +
               sql.number(static_cast<std::int64_t>(limit + 1));
    std::string error;
    Stmt* s = m.statement(sql.text, error);
    if (s == nullptr) {
        return fail(error);
    }
    for (std::size_t n = 0; n < sql.numbers.size(); ++n) {
        s->bind(static_cast<int>(n + 1), sql.numbers[n]);
    }
    for (const auto& [index, text] : sql.strings) {
        s->bind(index, std::string_view(text));
    }
    if (grep_param != 0) {
        s->bind_pointer(grep_param, &grep, k_grep_pointer);
    }
    for (;;) {
        auto row = s->step();
        if (!row) {
            return fail(row.error());
        }
        if (!*row) {
            break;
        }
        if (page.events.size() == limit) {
            const StoredEvent& last = page.events.back();
            page.next = Cursor{last.event.time_us, last.row_id};
            s->reset();
            break;
        }
        auto event = m.read_event(*s);
        if (!event) {
            const std::int64_t row_id = s->integer(0); // before reset() ends the row
            s->reset();
            return fail("history: event " + std::to_string(row_id) + " does not decode");
        }
        page.events.push_back(std::move(*event));
    }
    s->reset(); // drops the pointer to `grep`
    return page;
}

Result<std::vector<SeriesRow>> HistoryStore::timeseries(const std::optional<std::string>& vhost,
                                                        const std::optional<std::string>& rule,
                                                        std::int64_t since_us,
                                                        std::int64_t until_us,
                                                        std::int64_t step_seconds,
                                                        const std::optional<std::string>& source)
{
    Impl& m = *m_impl;
    std::vector<SeriesRow> rows;
    if (step_seconds <= 0 || until_us <= since_us) {
        return rows;
    }
    std::optional<std::int64_t> vhost_id;
    std::int64_t rule_id = 0;
    if (vhost) {
        vhost_id = m.lookup(*vhost);
    }
    if (rule) {
        const auto r = m.lookup(*rule);
        rule_id = r.value_or(-1);
    }
    std::optional<std::int64_t> source_id;
    if (source) {
        source_id = m.lookup(*source);
    }
    if ((vhost && !vhost_id) || rule_id < 0 || (source && !source_id)) {
        return rows;
    }
    const std::int64_t step_us = step_seconds * 1'000'000;
    // Per-minute counts answer whole-minute buckets when the range is whole minutes (they
    // are not kept per source).
    const bool minutes = !source && step_seconds % 60 == 0 && since_us % k_us_per_minute == 0 &&
                         until_us % k_us_per_minute == 0;
    std::string sql;
    if (minutes) {
        sql = "SELECT minute * 60000000 AS t, events AS n, flagged AS f, intercepted AS i, "
              "would_block AS w FROM minutes WHERE rule_id = ?1 AND vhost_id = ?4 AND "
              "minute >= ?2 / 60000000 AND minute < ?3 / 60000000";
    } else if (rule) {
        sql = "SELECT r.time_us AS t, 1 AS n, 1 AS f, e.verdict = 2 AS i, e.verdict = 1 AS w "
              "FROM mso_rule_hits(?1, ?2, ?3) r CROSS JOIN events e ON e.id = r.event_id AND "
              "e.time_us = r.time_us WHERE (?4 IS NULL OR e.vhost_id = ?4) AND (?6 IS NULL OR "
              "e.source_id = ?6)";
    } else {
        sql = "SELECT e.time_us AS t, 1 AS n, e.findings <> x'' OR e.findings_dropped > 0 AS f, "
              "e.verdict = 2 AS i, e.verdict = 1 AS w FROM events e WHERE ?1 = 0 AND "
              "e.time_us >= ?2 AND e.time_us < ?3 AND (?4 IS NULL OR e.vhost_id = ?4) AND "
              "(?6 IS NULL OR e.source_id = ?6)";
    }
    sql = "SELECT t - ((t % ?5) + ?5) % ?5 AS bucket, sum(n), sum(f), sum(i), sum(w) FROM (" + sql +
          ") GROUP BY bucket ORDER BY bucket";
    std::string error;
    Stmt* s = m.statement(sql, error);
    if (s == nullptr) {
        return fail(error);
    }
    s->bind(1, rule_id);
    s->bind(2, since_us);
    s->bind(3, until_us);
    if (vhost_id) {
        s->bind(4, *vhost_id);
    } else if (minutes) {
        s->bind(4, k_all_vhosts);
    }
    s->bind(5, step_us);
    if (source_id) {
        s->bind(6, *source_id);
    }
    auto read = each_row(*s, [&](const Stmt& row) {
        rows.push_back(SeriesRow{row.integer(0), static_cast<std::uint64_t>(row.integer(1)),
                                 static_cast<std::uint64_t>(row.integer(2)),
                                 static_cast<std::uint64_t>(row.integer(3)),
                                 static_cast<std::uint64_t>(row.integer(4))});
    });
    if (!read) {
        return fail(read.error());
    }
    return rows;
}

} // namespace mso
