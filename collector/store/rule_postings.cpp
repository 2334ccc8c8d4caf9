// The postings of rule_postings.h: the batch's sort, the codec, the rows' writer and the
// version 3, 6 and 8 migrations. Their readers in SQL are in posting_hits.cpp.
#include "store/rule_postings.h"

#include "varint.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace mso {
namespace {

std::uint64_t zigzag(std::int64_t v) noexcept
{
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

std::int64_t unzigzag(std::uint64_t v) noexcept
{
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Wrapping arithmetic: a corrupt delta must not be undefined behaviour; the bucket
// check after it rejects whatever it gives.
std::int64_t wrapping_add(std::int64_t a, std::uint64_t b) noexcept
{
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + b);
}

// A lambda, not a function: std::sort then inlines it rather than calling through a pointer.
constexpr auto by_time = [](const KeyedHit& a, const KeyedHit& b) noexcept {
    return a.time_us != b.time_us ? a.time_us < b.time_us : a.event_id < b.event_id;
};

} // namespace

void sort_keyed_hits(std::vector<KeyedHit>& hits, std::vector<KeyedHit>& scratch)
{
    std::uint64_t keys = 0; // every key's bits or'ed: how many digits the keys have
    for (const KeyedHit& h : hits) {
        if (h.key < 0) {
            std::sort(hits.begin(), hits.end());
            return;
        }
        keys |= static_cast<std::uint64_t>(h.key);
    }
    // Least significant digit first; each pass is stable, so hits of one key keep the
    // order they came in. String ids are small: two passes cover 4 million strings.
    constexpr unsigned k_bits = 11;
    constexpr std::size_t k_digits = std::size_t{1} << k_bits;
    std::array<std::size_t, k_digits> start{};
    scratch.resize(hits.size());
    for (unsigned shift = 0; shift < 64 && (keys >> shift) != 0; shift += k_bits) {
        const auto digit = [shift](const KeyedHit& h) {
            return (static_cast<std::uint64_t>(h.key) >> shift) & (k_digits - 1);
        };
        start.fill(0);
        for (const KeyedHit& h : hits) {
            ++start[digit(h)];
        }
        std::size_t at = 0;
        for (std::size_t& n : start) {
            at += std::exchange(n, at);
        }
        for (const KeyedHit& h : hits) {
            scratch[start[digit(h)]++] = h;
        }
        hits.swap(scratch);
    }
    // Then each key's hits in (time, event id) order, where they are not already (an
    // event's time is its request's start and events come as requests end, so the hits
    // of requests that overlapped come out of order).
    for (auto first = hits.begin(); first != hits.end();) {
        const auto last = std::find_if(
            first, hits.end(), [key = first->key](const KeyedHit& h) { return h.key != key; });
        if (!std::is_sorted(first, last, by_time)) {
            std::sort(first, last, by_time);
        }
        first = last;
    }
}

void encode_posting(std::int64_t bucket, const std::vector<RuleHit>& hits, std::string& out)
{
    if (hits.empty()) {
        return; // (and a bucket with hits has a representable start)
    }
    std::int64_t time = bucket * k_posting_bucket_us;
    std::int64_t id = 0;
    bool first = true;
    for (const RuleHit& h : hits) {
        if (first) {
            put_varint(out, zigzag(h.time_us - time));
            first = false;
        } else {
            put_varint(out, static_cast<std::uint64_t>(h.time_us - time));
        }
        put_varint(out, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(h.event_id) -
                                                         static_cast<std::uint64_t>(id))));
        time = h.time_us;
        id = h.event_id;
    }
}

namespace {

// Calls on_hit(RuleHit) for each hit of `blob` (a row of `bucket`) in order; false when it
// does not decode (truncated varint, overflow, a time outside the bucket), after the hits
// before the fault.
template <typename OnHit>
bool walk_posting(std::int64_t bucket, std::string_view blob, OnHit&& on_hit)
{
    if (bucket > std::numeric_limits<std::int64_t>::max() / k_posting_bucket_us ||
        bucket < std::numeric_limits<std::int64_t>::min() / k_posting_bucket_us) {
        return false;
    }
    std::int64_t time = bucket * k_posting_bucket_us;
    std::int64_t id = 0;
    bool first = true;
    while (!blob.empty()) {
        std::uint64_t dt = 0;
        std::uint64_t did = 0;
        if (!get_varint(blob, dt) || !get_varint(blob, did)) {
            return false;
        }
        time = first ? wrapping_add(time, static_cast<std::uint64_t>(unzigzag(dt)))
                     : wrapping_add(time, dt);
        if ((!first && dt >= static_cast<std::uint64_t>(2 * k_posting_bucket_us)) ||
            posting_bucket(time) != bucket) {
            return false;
        }
        first = false;
        id = wrapping_add(id, static_cast<std::uint64_t>(unzigzag(did)));
        on_hit(RuleHit{time, id});
    }
    return true;
}

} // namespace

bool decode_posting(std::int64_t bucket, std::string_view blob, std::vector<RuleHit>& out)
{
    return walk_posting(bucket, blob, [&](const RuleHit& h) { out.push_back(h); });
}

Result<void> PostingRows::add(Stmt& insert, std::int64_t key, std::int64_t time_us,
                              std::int64_t event_id)
{
    const std::int64_t bucket = posting_bucket(time_us);
    if (!m_hits.empty() && (key != m_key || bucket != m_bucket)) {
        if (auto r = finish(insert); !r) {
            return r;
        }
    }
    m_key = key;
    m_bucket = bucket;
    m_hits.push_back(RuleHit{time_us, event_id});
    return ok();
}

Result<void> PostingRows::finish(Stmt& insert)
{
    if (m_hits.empty()) {
        return ok();
    }
    m_entries.clear();
    encode_posting(m_bucket, m_hits, m_entries);
    std::int64_t first_id = m_hits.front().event_id;
    for (const RuleHit& h : m_hits) {
        first_id = std::min(first_id, h.event_id);
    }
    const auto hits = static_cast<std::int64_t>(m_hits.size());
    m_hits.clear();
    insert.reset();
    insert.bind(1, m_key);
    insert.bind(2, m_bucket);
    insert.bind(3, first_id);
    insert.bind_blob_static(4, m_entries);
    if (insert.parameter_count() >= 5) {
        insert.bind(5, hits);
    }
    auto r = insert.step();
    if (!r) {
        return fail(r.error());
    }
    ++m_rows;
    return ok();
}

namespace {

// Writes the (key, time, event id) rows `read_sql` yields, in that order, as postings
// through `write_sql`, then runs `then`.
Result<void> postings_from(Db& db, const char* read_sql, const char* write_sql, const char* then)
{
    auto read = Stmt::prepare(db, read_sql);
    if (!read) {
        return fail(read.error());
    }
    auto write = Stmt::prepare(db, write_sql);
    if (!write) {
        return fail(write.error());
    }
    PostingRows rows;
    Result<void> added = ok();
    auto read_all = each_row(*read, [&](const Stmt& row) {
        added = rows.add(*write, row.integer(0), row.integer(1), row.integer(2));
        return static_cast<bool>(added);
    });
    if (!read_all) {
        return read_all;
    }
    if (!added) {
        return added;
    }
    if (auto r = rows.finish(*write); !r) {
        return r;
    }
    return db.exec(then);
}

} // namespace

Result<void> postings_from_event_rules(Db& db)
{
    return postings_from(
        db,
        "SELECT rule_id, time_us, event_id FROM event_rules ORDER BY rule_id, time_us, event_id",
        "INSERT INTO rule_postings (rule_id, bucket, first_id, entries) VALUES (?1, ?2, ?3, ?4)",
        "DROP TABLE event_rules");
}

Result<void> postings_from_client_index(Db& db)
{
    // events_client is (client_id, time_us) and ends with the row id: read in its order,
    // no sort.
    return postings_from(db,
                         "SELECT client_id, time_us, id FROM events INDEXED BY events_client "
                         "ORDER BY client_id, time_us, id",
                         "INSERT INTO client_postings (client_id, bucket, first_id, entries, "
                         "hits) VALUES (?1, ?2, ?3, ?4, ?5)",
                         "DROP INDEX events_client");
}

Result<void> postings_from_vhost_index(Db& db)
{
    // events_vhost is (vhost_id, time_us) and ends with the row id: read in its order, no
    // sort.
    return postings_from(db,
                         "SELECT vhost_id, time_us, id FROM events INDEXED BY events_vhost "
                         "ORDER BY vhost_id, time_us, id",
                         "INSERT INTO vhost_postings (vhost_id, bucket, first_id, entries, "
                         "hits) VALUES (?1, ?2, ?3, ?4, ?5)",
                         "DROP INDEX events_vhost");
}

std::optional<std::uint64_t> count_hits(std::int64_t bucket, std::string_view blob, RuleHit from,
                                        std::int64_t until_us) noexcept
{
    std::uint64_t n = 0;
    if (!walk_posting(bucket, blob, [&](const RuleHit& h) {
            n += h >= from && h.time_us < until_us ? 1U : 0U;
        })) {
        return std::nullopt;
    }
    return n;
}

} // namespace mso
