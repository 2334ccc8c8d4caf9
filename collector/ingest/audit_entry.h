// One audit-log entry as the importer sees it: the request event the module would have
// sent for the same request (common/event.h), plus what only an audit log tells
// (ModSecurity's engine mode, which format it came in) and where it was (byte offset
// and size, for error reports). Duplicates are told apart by the store (docs/STORE.md,
// "Content hash and duplicates"), not here.
//
// Field mapping, the same for every format (docs: ../shared/docs/audit-logs-and-mlogc.md):
//  - time_us: the entry's own time (A part / transaction time), UTC.
//  - vhost: the Host request header as sent (the label map comes later, in the importer);
//    port: the server port.
//  - client: the client IP; method, path, query, protocol: from the request line
//    (path without query or fragment, as the module sends it).
//  - findings: one per ModSecurity alert of the entry, parsed by common/modsec_message.h.
//  - intercepted / phase: the entry's interception ("Action: Intercepted (phase N)",
//    audit_data.action, or for ModSecurity v3 an "Access denied" message).
//  - scores: from the CRS scoring messages (949110, 959100, 980130, 980170) when any is
//    present, else nullopt.
#pragma once

#include "event.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mso {

// The audit-log dialects the importer reads.
enum class AuditFormat {
    unknown,
    v2_native, // mod_security2, SecAuditLogFormat Native (Serial or Concurrent)
    v2_json,   // mod_security2, SecAuditLogFormat JSON
    v3_native, // libmodsecurity 3 (nginx), Native
    v3_json,   // libmodsecurity 3 (nginx), JSON
};

[[nodiscard]] std::string_view format_name(AuditFormat format) noexcept;

// One parsed entry. Owned strings; reused from entry to entry by the reader.
struct AuditEntry {
    RequestEvent event;
    EngineMode engine = EngineMode::unknown;
    AuditFormat format = AuditFormat::unknown;
    std::string server_ip; // the A part's / transaction's server address
    int client_port = 0;
    std::uint64_t offset = 0; // byte offset of the entry's first byte in its input
    // Bytes of the raw entry: from the A separator through the end of the Z separator
    // line (Native), or the JSON text without its newline.
    std::uint64_t size = 0;
};

// Clears every field of `entry`, keeping the strings' capacity for the next entry.
void reset_entry(AuditEntry& entry);

// A malformed entry or stray bytes that the reader skipped.
struct AuditError {
    std::uint64_t offset = 0; // where the skipped bytes start in the input
    std::uint64_t size = 0;   // how many bytes were skipped
    std::string message;      // lowercase, no offset in it
};

} // namespace mso
