// Opening the history store, interning strings, the per-batch counts, and finding one
// event by unique id (history_store.h). Writing batches is in history_writer.cpp, search
// and time series in history_search.cpp, retention and size in history_retention.cpp.
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
// Every key is at least k_first_uid_key (2^61); the keys stored before version 5 are
// below 2^31.
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

} // namespace

UidKeys uid_keys(std::string_view unique_id, std::uint64_t content_hash) noexcept
{
    const std::uint64_t h = unique_id.empty() ? content_hash : fnv1a(unique_id);
    return {uid_key(unique_id, h), static_cast<std::int64_t>(h & 0x7fffffffU)};
}

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
