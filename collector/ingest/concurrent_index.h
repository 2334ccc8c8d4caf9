// The index line of mod_security2's Concurrent audit log (one per entry; what mlogc reads
// on stdin and sends as X-ForensicLog-Summary):
//   host client identd user [time] "request line" status bytes "-" "-" unique_id
//   "session_id" /<user>/YYYYMMDD/YYYYMMDD-HHMM/YYYYMMDD-HHMMSS-<unique_id> 0 size md5:<hex>
// with a trailing " " or " L" (a line cut at ~3,980 bytes). Negative UTC offsets carry
// a doubled sign ("--0500"); quoted fields are escaped (\" \\ \xNN). The entry itself is
// in the file `path` under SecAuditLogStorageDir.
#pragma once

#include "util/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace mso {

struct IndexLine {
    std::string host;
    std::string client;
    std::int64_t time_us = 0; // UTC
    std::string request_line; // unescaped
    int status = 0;
    std::string unique_id;
    std::string session_id; // "-" when none
    std::string path;       // relative to the storage directory, starts with '/'
    std::uint64_t size = 0; // of the entry file
    std::string md5;        // 32 hex digits, the first token after "md5:"; "" when absent
    bool cut = false;       // the line ended in " L": cut by mod_security2
};

// Parses one index line (without its '\n').
[[nodiscard]] Result<IndexLine> parse_index_line(std::string_view line);

} // namespace mso
