// JSON audit-log entries, one object per line, of ModSecurity v2 (SecAuditLogFormat
// JSON: transaction{time, transaction_id, ...}, audit_data{messages[], action, engine_mode})
// and v3 (transaction{time_stamp, unique_id, request, response, producer, messages[]}); the
// version is told by the keys, entry by entry. Parsed with simdjson's DOM parser (already
// the collector's fast JSON path): one tape per entry in reused buffers, strings as views,
// no exceptions. Neither ModSecurity validates UTF-8 (request bodies are copied raw), which
// simdjson rejects: such an entry is parsed again from a copy whose invalid bytes are
// replaced by '?'.
//
// v3 specifics: every detail is a string ("severity":"2", mapped to the v2 names); there is
// no interception flag: the entry counts as intercepted when the engine is On, the status
// is >= 400 and either a CRS blocking-evaluation message (949110, 959100) is present or
// the status is 400 or 403 with any alert (a deny by another rule, e.g. 200002). Its
// time_stamp is local time without a zone: read as UTC plus `utc_offset_minutes`. The
// same JSON is what `SecAuditLogType HTTPS` posts (docs/protocol.md).
#pragma once

#include "ingest/audit_entry.h"
#include "util/result.h"

#include <memory>
#include <string>
#include <string_view>

namespace mso {

class JsonEntryParser {
public:
    // `max_bytes`: the largest entry accepted; `utc_offset_minutes`: the zone of v3's
    // time stamps (0: UTC).
    explicit JsonEntryParser(std::size_t max_bytes, int utc_offset_minutes = 0);
    ~JsonEntryParser();
    JsonEntryParser(const JsonEntryParser&) = delete;
    JsonEntryParser& operator=(const JsonEntryParser&) = delete;

    // Parses one entry's JSON text into `out` (event, engine, format, server_ip,
    // client_port); the caller sets offset, size and hash. Not thread-safe.
    [[nodiscard]] Result<void> parse(std::string_view text, AuditEntry& out);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace mso
