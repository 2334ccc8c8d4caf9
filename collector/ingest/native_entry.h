// ModSecurity's Native audit-log entries, v2 (mod_security2) and v3 (libmodsecurity):
// parts between separator lines, "--<8 hex>-<LETTER>--" in v2 (order A B C I F E H J K
// Z) and "---<8 alphanumerics>---<LETTER>--" in v3 (alphabetical). The boundary is taken
// from the A line only and a part ends only at a separator with that boundary, so body
// bytes that look like separators (another entry's, a forged one) stay body bytes.
// Parts used: A (time, unique id, client and server address), B (request line, Host,
// User-Agent), F (status), H (v2: "Message:", "Action: Intercepted (phase N)",
// "Engine-Mode:"; v3: "ModSecurity: ..." alert lines). v3 Native records no engine
// mode: an "Access denied" message means On, otherwise the mode stays unknown.
#pragma once

#include "ingest/audit_entry.h"
#include "util/result.h"

#include <optional>
#include <string>
#include <string_view>

namespace mso {

struct NativeSeparator {
    AuditFormat format = AuditFormat::unknown; // v2_native or v3_native
    std::string_view boundary;                 // the 8 characters, a view into the line
    char part = 0;                             // 'A'..'Z'
};

// Whether `line` (without its '\n'; a trailing '\r' is allowed) is a part separator.
[[nodiscard]] std::optional<NativeSeparator> native_separator(std::string_view line) noexcept;

// Parses one entry: `raw` runs from its A separator line through its Z separator line
// (or to its end when the Z part is missing, as in a cut Concurrent file: then an error).
// Fills `out.event`, `out.engine`, `out.format`, `out.server_ip`, `out.client_port`;
// the caller sets offset, size and hash. `scratch` is reused between calls.
[[nodiscard]] Result<void> parse_native_entry(std::string_view raw, AuditEntry& out,
                                              std::string& scratch);

} // namespace mso
