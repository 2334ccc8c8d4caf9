// The rule, client and vhost indexes of history.db as postings (schema versions 3, 6 and
// 8, docs/STORE.md): one row of `rule_postings` per rule, ten-second bucket and written
// batch, holding the (time, event id) of every event of the batch in that bucket that the
// rule matched, delta-encoded; `client_postings` the same per client address (whose
// newest rows wait in `client_postings_recent` since version 7, read with it) and
// `vhost_postings` per vhost. A batch writes a few rows per rule and one per client and
// vhost (and bucket) instead of one row or index entry per (event, rule) and two per
// event: at a live stream's density ~4.3 B-tree inserts per event for the rules, and one
// each for the client and the vhost, become a few per batch and key.
//
// Readers go through the table-valued functions mso_rule_hits(rule_id, since_us,
// until_us), mso_client_hits(client_id, since_us, until_us) and mso_vhost_hits(vhost_id,
// since_us, until_us) (columns time_us and event_id, newest first; store/posting_hits.h),
// registered on every connection, so the searches stay SQL:
// `FROM mso_rule_hits(?, ?, ?) r CROSS JOIN events e ON e.id = r.event_id AND e.time_us =
// r.time_us`. The join drops the entries of events already pruned (retention deletes
// whole rows only once their bucket is gone; docs/STORE.md).
#pragma once

#include "store/sqlite_db.h"
#include "util/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

// Width of a posting's bucket: every entry of a row has posting_bucket(time) == bucket,
// which for times >= 0 is [bucket * width, (bucket + 1) * width) (truncating division:
// bucket 0 also takes the 10 s before the epoch, and a negative bucket b is ((b - 1) *
// width, b * width]). Ten seconds: a live batch (at most 250 ms of events) spans one or
// two, and a page walking back from the newest bucket never decodes more than ten
// seconds of one rule's hits.
inline constexpr std::int64_t k_posting_bucket_us = 10'000'000;

// The bucket of `time_us` (integer division truncating toward zero, as SQLite's `/`).
constexpr std::int64_t posting_bucket(std::int64_t time_us) noexcept
{
    return time_us / k_posting_bucket_us;
}

struct RuleHit {
    std::int64_t time_us;
    std::int64_t event_id;
    auto operator<=>(const RuleHit&) const = default;
};

// One hit of a batch with its key (rule, client or vhost string id), as the writer collects
// them before grouping them into posting rows.
struct KeyedHit {
    std::int64_t key;
    std::int64_t time_us;
    std::int64_t event_id;
    auto operator<=>(const KeyedHit&) const = default;
};
// Sorts `hits` ascending (key, then time, then event id), as PostingRows takes them: a
// stable radix sort on the key (a few linear passes, where std::sort's comparisons of
// whole hits showed in the writer's profile), then std::sort of each key's hits by time
// where they are not in time order already. A negative key (no string id is) makes it
// std::sort the whole. `scratch` is a buffer kept between calls.
void sort_keyed_hits(std::vector<KeyedHit>& hits, std::vector<KeyedHit>& scratch);
// Appends the encoding of `hits` (sorted ascending by time, then id; all in `bucket`) to
// `out`: per hit, the time's distance from the previous one (the first from the bucket's
// start, zigzag) and the id's (the first from 0, zigzag), as unsigned LEB128 varints.
void encode_posting(std::int64_t bucket, const std::vector<RuleHit>& hits, std::string& out);

// Appends the hits of `blob` (a row of `bucket`) to `out`; false when the blob does not
// decode (truncated varint, overflow, a time outside the bucket), with `out` holding the
// hits before the fault.
[[nodiscard]] bool decode_posting(std::int64_t bucket, std::string_view blob,
                                  std::vector<RuleHit>& out);

// Turns hits given in (key, time, event id) order into posting rows: one per key (rule,
// client or vhost) and bucket, written through `insert` (bound as ?1 the key, ?2 bucket, ?3
// first_id, the group's smallest event id, ?4 entries). Holds one group at a time; its
// buffers are kept from one use to the next. The history writer (a batch's sorted hits)
// and the version 3, 6 and 8 migrations (rows in key order) write postings with it. A
// statement with a fifth parameter gets the row's number of hits there (client_postings'
// and vhost_postings' `hits`).
class PostingRows {
public:
    // Adds a hit; when it starts another (key, bucket), writes the group before it.
    [[nodiscard]] Result<void> add(Stmt& insert, std::int64_t key, std::int64_t time_us,
                                   std::int64_t event_id);
    // Writes the last group, if any. After any error nothing is left held, so a batch
    // rolled back leaves no hit behind for the next.
    [[nodiscard]] Result<void> finish(Stmt& insert);
    // How many rows this object has written, ever.
    [[nodiscard]] std::int64_t rows() const noexcept { return m_rows; }

private:
    std::int64_t m_key = 0;
    std::int64_t m_bucket = 0;
    std::vector<RuleHit> m_hits;
    std::string m_entries;
    std::int64_t m_rows = 0;
};

// How many hits of the posting `blob` (a row of `bucket`) are at or after `from` (in
// (time, event id) order) and before `until_us`; nullopt when it does not decode.
[[nodiscard]] std::optional<std::uint64_t> count_hits(std::int64_t bucket, std::string_view blob,
                                                      RuleHit from, std::int64_t until_us) noexcept;

// Schema version 3's migration step: fills rule_postings from version 2's event_rules
// (one row per rule and bucket, read in that table's key order, so memory holds one
// bucket's hits at a time) and drops event_rules. Runs inside the migration's
// transaction.
[[nodiscard]] Result<void> postings_from_event_rules(Db& db);

// Schema version 6's migration step: fills client_postings from events_client (read in
// that index's order, one (client, bucket) group held at a time) and drops the index.
// Runs inside the migration's transaction.
[[nodiscard]] Result<void> postings_from_client_index(Db& db);

// Schema version 8's migration step: fills vhost_postings from events_vhost (read in that
// index's order, one (vhost, bucket) group held at a time) and drops the index. Runs
// inside the migration's transaction.
[[nodiscard]] Result<void> postings_from_vhost_index(Db& db);

} // namespace mso
