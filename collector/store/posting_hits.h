// The readers of the rule and client postings (store/rule_postings.h) as SQL functions,
// registered on every connection: the table-valued functions mso_rule_hits(rule_id,
// since_us, until_us), mso_client_hits(client_id, since_us, until_us) and
// mso_vhost_hits(vhost_id, since_us, until_us) (eponymous virtual tables over
// rule_postings, over client_postings with client_postings_recent, and over
// vhost_postings; columns time_us and event_id, newest first) and the scalar
// mso_posting_count(bucket, entries, from_time_us, from_event_id, until_us).
#pragma once

struct sqlite3;

namespace mso {

// Registers the four functions above on `db` (mso_posting_count is count_hits() of
// store/rule_postings.h, an error when the posting does not decode). SQLITE_OK or
// SQLite's error code.
int register_postings(sqlite3* db);

} // namespace mso
