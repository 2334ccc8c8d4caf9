// Opening the history store, interning strings, writing batches of events and finding
// one by unique id (history_store.h). Search and time series are in history_search.cpp,
// retention and size in history_retention.cpp.
#include "store/history_store_impl.h"

#include "util/fnv1a.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>

namespace mso {
namespace {

// FNV-1a with its high bits folded into the low 31 that version 4's keys kept.
std::uint64_t fnv1a(std::string_view text) noexcept
{
    const std::uint64_t hash = fnv1a64(text);
    return hash ^ (hash >> 31U);
}

// The value of a character of mod_unique_id's alphabet: A-Z a-z 0-9 then '-' and '_'
// (base64url, current httpd) or '@' and '-' (older releases; `at_sign`: the id holds an
// '@'); -1 for any other character.
int unique_id_digit(char c, bool at_sign) noexcept
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '@' && at_sign) {
        return 62;
    }
    if (c == '-') {
        return at_sign ? 63 : 62;
    }
    return c == '_' && !at_sign ? 63 : -1;
}

// The lookup keys of a unique id in events_uid: version 5's and the one versions up to 4
// stored (the 31-bit hash alone, below k_first_uid_key). The hash of the id (of the
// content hash when there is none) is computed once for both.
struct UidKeys {
    std::int64_t key;
    std::int64_t legacy;
};

// Version 5's key, from the id and its hash `h`: the time the id carries in its high
// bits, so the index is in time order the way events_time is: a
// batch's inserts land together at a few places instead of on a random page each all
// across the index (a 31-bit hash, as version 4 had, made events_uid the insert's most
// expensive index: docs/BENCHMARKS.md). Bits 62-61 say which shape the id has:
//  - 1: mod_unique_id's (ModSecurity v2), 27 characters of its base64url alphabet that begin
//    with the request's second, 32 bits big-endian: that second above 29 bits of the
//    id's hash (one range per second, so live traffic appends at the index's end);
//  - 2: ModSecurity v3's, ten or more leading digits of which the first ten are the
//    epoch second: that second (34 bits) above 27 bits of the hash;
//  - 3: any other (a random request id; no id: the content hash): 61 bits of the hash.
// Every key is at least 2^61; the keys stored before version 5 are below 2^31.
constexpr std::int64_t k_first_uid_key = std::int64_t{1} << 61U;
std::int64_t uid_key(std::string_view unique_id, std::uint64_t h) noexcept
{
    if (unique_id.size() == 27) {
        const bool at_sign = unique_id.find('@') != std::string_view::npos;
        std::uint64_t second = 0;
        std::size_t i = 0;
        for (int d = 0; i < 6 && (d = unique_id_digit(unique_id[i], at_sign)) >= 0; ++i) {
            second = (second << 6U) | static_cast<std::uint64_t>(d);
        }
        if (i == 6) { // 36 bits: the second, then the root's four
            return static_cast<std::int64_t>((1ULL << 61U) | ((second >> 4U) << 29U) |
                                             (h & ((1ULL << 29U) - 1)));
        }
    }
    std::uint64_t second = 0;
    std::size_t digits = 0;
    for (; digits < unique_id.size() && digits < 10 && unique_id[digits] >= '0' &&
           unique_id[digits] <= '9';
         ++digits) {
        second = second * 10 + static_cast<std::uint64_t>(unique_id[digits] - '0');
    }
    if (digits == 10) {
        return static_cast<std::int64_t>((2ULL << 61U) | ((second & ((1ULL << 34U) - 1)) << 27U) |
                                         (h & ((1ULL << 27U) - 1)));
    }
    return static_cast<std::int64_t>((3ULL << 61U) | (h & ((1ULL << 61U) - 1)));
}

UidKeys uid_keys(std::string_view unique_id, std::uint64_t content_hash) noexcept
{
    const std::uint64_t h = unique_id.empty() ? content_hash : fnv1a(unique_id);
    return {uid_key(unique_id, h), static_cast<std::int64_t>(h & 0x7fffffffU)};
}

} // namespace

Stmt* HistoryStore::Impl::statement(std::string_view sql, std::string& error)
{
    auto it = statements.find(sql);
    if (it == statements.end()) {
        auto stmt = Stmt::prepare(db, sql);
        if (!stmt) {
            error = stmt.error();
            return nullptr;
        }
        it = statements.emplace(std::string(sql), std::move(*stmt)).first;
    }
    it->second.reset();
    return &it->second;
}

std::optional<std::int64_t> HistoryStore::Impl::lookup(std::string_view text)
{
    if (text.empty()) {
        return 0;
    }
    if (const auto id = ids.find(text)) {
        return id;
    }
    std::string error;
    Stmt* s = statement("SELECT id FROM strings WHERE text = ?1", error);
    if (s == nullptr) {
        return std::nullopt;
    }
    s->bind(1, text);
    auto row = s->step();
    if (!row || !*row) {
        return std::nullopt;
    }
    const std::int64_t id = s->integer(0);
    s->reset();
    ids.insert(text, id);
    return id;
}

std::optional<std::int64_t> HistoryStore::Impl::id_of(std::string_view text)
{
    if (auto id = lookup(text); id || read_only) {
        return id;
    }
    std::string error;
    Stmt* s = statement("INSERT INTO strings (text) VALUES (?1)", error);
    if (s == nullptr) {
        return std::nullopt;
    }
    s->bind(1, text);
    if (auto row = s->step(); !row) {
        return std::nullopt;
    }
    const std::int64_t id = db.last_rowid();
    ids.insert(text, id);
    return id;
}

std::optional<std::string> HistoryStore::Impl::text_of(std::int64_t id)
{
    if (const auto it = texts.find(id); it != texts.end()) {
        return it->second;
    }
    std::string error;
    Stmt* s = statement("SELECT text FROM strings WHERE id = ?1", error);
    if (s == nullptr) {
        return std::nullopt;
    }
    s->bind(1, id);
    auto row = s->step();
    if (!row || !*row) {
        return std::nullopt;
    }
    std::string text(s->text(0));
    s->reset();
    if (texts.size() >= k_max_cached_strings) {
        texts.clear();
    }
    texts.emplace(id, text);
    return text;
}

std::optional<StoredEvent> HistoryStore::Impl::read_event(const Stmt& s)
{
    StoredEvent out;
    RequestEvent& e = out.event;
    out.row_id = s.integer(0);
    e.time_us = s.integer(1);
    const std::array<std::pair<int, std::string*>, 6> strings{{{2, &out.source},
                                                               {3, &e.vhost},
                                                               {5, &e.client},
                                                               {6, &e.method},
                                                               {7, &e.protocol},
                                                               {8, &e.user_agent}}};
    for (const auto& [column, field] : strings) {
        const std::int64_t id = s.integer(column);
        auto text = id == 0 ? std::optional<std::string>("") : text_of(id);
        if (!text) {
            return std::nullopt;
        }
        *field = std::move(*text);
    }
    e.port = static_cast<int>(s.integer(4));
    e.status = static_cast<int>(s.integer(9));
    e.phase = static_cast<int>(s.integer(10));
    e.intercepted = s.integer(11) == static_cast<int>(Verdict::intercepted);
    const std::int64_t mode = s.integer(12);
    out.engine_mode = mode == 1   ? EngineMode::on
                      : mode == 2 ? EngineMode::detection_only
                                  : EngineMode::unknown;
    e.findings_dropped = static_cast<std::uint64_t>(s.integer(13));
    if (!s.is_null(14)) {
        e.scores = decode_scores(s.blob(14));
        if (!e.scores) {
            return std::nullopt;
        }
    }
    e.path = s.text(15);
    e.query = s.text(16);
    e.unique_id = s.text(17);
    auto findings = decode_findings(s.blob(18), *this);
    if (!findings) {
        return std::nullopt;
    }
    e.findings = std::move(*findings);
    return out;
}

void HistoryStore::Impl::count_minute(MinuteDeltas& deltas, std::int64_t time_us,
                                      std::int64_t vhost_id, Verdict verdict, bool flagged,
                                      const std::vector<std::int64_t>& rules, int sign)
{
    // Floor division: times before 1970 land in the minute that holds them.
    std::int64_t minute = time_us / k_us_per_minute;
    if (time_us < 0 && minute * k_us_per_minute != time_us) {
        --minute;
    }
    // The all-vhosts rows are summed in apply_minutes().
    auto add = [&](std::int64_t rule) {
        MinuteCounts& c = deltas[MinuteKey{rule, vhost_id, minute}];
        c.events += sign;
        c.flagged += flagged ? sign : 0;
        c.intercepted += verdict == Verdict::intercepted ? sign : 0;
        c.would_block += verdict == Verdict::would_block ? sign : 0;
    };
    add(0);
    for (const std::int64_t rule : rules) {
        add(rule);
    }
}

Result<void> HistoryStore::Impl::apply_minutes(MinuteDeltas& deltas)
{
    MinuteDeltas& totals = minute_totals;
    totals.clear();
    for (const auto& [key, c] : deltas.entries()) {
        MinuteCounts& t = totals[MinuteKey{key.rule_id, k_all_vhosts, key.minute}];
        t.events += c.events;
        t.flagged += c.flagged;
        t.intercepted += c.intercepted;
        t.would_block += c.would_block;
    }
    // In key order, so the upserts walk the minutes table's b-tree forward.
    std::vector<MinuteDeltas::Entry>& rows = deltas.entries();
    rows.insert(rows.end(), totals.entries().begin(), totals.entries().end());
    totals.clear();
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    struct Clear {
        MinuteDeltas& d;
        ~Clear() { d.clear(); }
    } clear_after{deltas};
    std::string error;
    Stmt* s = statement("INSERT INTO minutes VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                        "ON CONFLICT DO UPDATE SET events = events + excluded.events, "
                        "flagged = flagged + excluded.flagged, "
                        "intercepted = intercepted + excluded.intercepted, "
                        "would_block = would_block + excluded.would_block",
                        error);
    Stmt* drop = s == nullptr ? nullptr
                              : statement("DELETE FROM minutes WHERE rule_id = ?1 AND vhost_id = "
                                          "?2 AND minute = ?3 AND events <= 0",
                                          error);
    if (drop == nullptr) {
        return fail(error);
    }
    for (const auto& [key, c] : rows) {
        if (c.events == 0 && c.flagged == 0 && c.intercepted == 0 && c.would_block == 0) {
            continue;
        }
        s->reset();
        const std::array<std::int64_t, 7> values{key.rule_id, key.vhost_id,  key.minute,   c.events,
                                                 c.flagged,   c.intercepted, c.would_block};
        for (std::size_t i = 0; i < values.size(); ++i) {
            s->bind(static_cast<int>(i + 1), values[i]);
        }
        if (auto r = s->step(); !r) {
            return fail(r.error());
        }
        if (c.events < 0) {
            drop->reset();
            drop->bind(1, key.rule_id);
            drop->bind(2, key.vhost_id);
            drop->bind(3, key.minute);
            if (auto r = drop->step(); !r) {
                return fail(r.error());
            }
        }
    }
    return ok();
}

Result<void> HistoryStore::Impl::apply_sources(SourceDeltas& deltas)
{
    struct Clear {
        SourceDeltas& d;
        ~Clear() { d.clear(); }
    } clear_after{deltas};
    std::string error;
    Stmt* s = statement("INSERT INTO source_totals VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE "
                        "SET events = events + excluded.events, "
                        "last_time_us = max(last_time_us, excluded.last_time_us)",
                        error);
    Stmt* drop = s == nullptr ? nullptr
                              : statement("DELETE FROM source_totals WHERE source_id = ?1 AND "
                                          "events <= 0",
                                          error);
    if (drop == nullptr) {
        return fail(error);
    }
    for (const SourceDelta& d : deltas.rows()) {
        if (d.events == 0) {
            continue;
        }
        // A removal never moves the newest time: retention deletes the oldest first, so
        // a source's newest event goes only with the last of its events (and the row).
        s->reset();
        s->bind(1, d.source_id);
        s->bind(2, d.events);
        s->bind(3, d.events > 0 ? d.last_time_us : std::numeric_limits<std::int64_t>::min());
        if (auto r = s->step(); !r) {
            return fail(r.error());
        }
        if (d.events < 0) {
            drop->reset();
            drop->bind(1, d.source_id);
            if (auto r = drop->step(); !r) {
                return fail(r.error());
            }
        }
    }
    return ok();
}

HistoryStore::HistoryStore(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
HistoryStore::HistoryStore(HistoryStore&&) noexcept = default;
HistoryStore& HistoryStore::operator=(HistoryStore&&) noexcept = default;
HistoryStore::~HistoryStore() = default;

Result<HistoryStore> HistoryStore::open(const std::string& path, const HistoryOptions& options)
{
    auto impl = std::make_unique<Impl>();
    auto db = connect(path, options, impl->report);
    if (!db) {
        return fail("history " + path + ": " + db.error());
    }
    impl->db = std::move(*db);
    impl->read_only = options.read_only;
    impl->writer.recent_client_limit = std::max<std::int64_t>(1, options.recent_client_rows);
    auto legacy = impl->db.integer("SELECT EXISTS (SELECT 1 FROM events WHERE uid_key < " +
                                   std::to_string(k_first_uid_key) + ")");
    if (!legacy) {
        return fail("history " + path + ": " + legacy.error());
    }
    impl->legacy_uid_keys = *legacy != 0;
    register_grep(impl->db.handle());
    return HistoryStore(std::move(impl));
}

const OpenReport& HistoryStore::open_report() const noexcept
{
    return m_impl->report;
}

SqliteFailure HistoryStore::last_failure() const noexcept
{
    return m_impl->db.last_failure();
}

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
    for (;;) {
        auto row = same->step();
        if (!row) {
            return fail(row.error());
        }
        if (!*row) {
            break;
        }
        if (same->text(0) != e.unique_id) {
            continue;
        }
        bool duplicate = static_cast<std::uint64_t>(same->integer(1)) == hash;
        if (!duplicate && !e.unique_id.empty()) {
            duplicate = dedup == Dedup::unique_id ||
                        (dedup == Dedup::request && client_id && method_id &&
                         same->integer(2) == *client_id && same->integer(3) == *method_id &&
                         same->text(4) == e.path);
        }
        if (duplicate) {
            same->reset();
            return false;
        }
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

Result<std::optional<StoredEvent>> HistoryStore::find(const std::string& unique_id,
                                                      const std::optional<std::string>& source)
{
    Impl& m = *m_impl;
    std::optional<std::int64_t> source_id;
    if (source) {
        source_id = m.lookup(*source);
        if (!source_id) {
            return std::optional<StoredEvent>();
        }
    }
    std::string error;
    Stmt* s = m.statement("SELECT " + std::string(k_event_columns) +
                              " FROM events e WHERE e.uid_key IN (?1, ?4) AND e.unique_id = ?2 AND "
                              "(?3 IS NULL OR e.source_id = ?3) ORDER BY e.time_us DESC, e.id "
                              "DESC LIMIT 1",
                          error);
    if (s == nullptr) {
        return fail(error);
    }
    const UidKeys keys = uid_keys(unique_id, 0);
    s->bind(1, keys.key);
    s->bind(4, keys.legacy);
    s->bind(2, std::string_view(unique_id));
    if (source_id) {
        s->bind(3, *source_id);
    }
    auto row = s->step();
    if (!row) {
        return fail(row.error());
    }
    if (!*row) {
        return std::optional<StoredEvent>();
    }
    auto event = m.read_event(*s);
    s->reset();
    if (!event) {
        return fail("history: event " + unique_id + " does not decode");
    }
    return std::optional<StoredEvent>(std::move(*event));
}

Result<std::int64_t> HistoryStore::event_count()
{
    return m_impl->db.integer("SELECT count(*) FROM events");
}

} // namespace mso
