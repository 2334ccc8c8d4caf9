// Names of the audit-log formats and engine modes, and entry reuse (audit_entry.h).
#include "ingest/audit_entry.h"

namespace mso {

std::string_view format_name(AuditFormat format) noexcept
{
    switch (format) {
    case AuditFormat::v2_native: return "v2-native";
    case AuditFormat::v2_json: return "v2-json";
    case AuditFormat::v3_native: return "v3-native";
    case AuditFormat::v3_json: return "v3-json";
    case AuditFormat::unknown: break;
    }
    return "unknown";
}

void reset_entry(AuditEntry& entry)
{
    RequestEvent& e = entry.event;
    e.time_us = 0;
    e.vhost.clear();
    e.port = 0;
    e.unique_id.clear();
    e.client.clear();
    e.method.clear();
    e.path.clear();
    e.query.clear();
    e.status = 0;
    e.protocol.clear();
    e.user_agent.clear();
    e.intercepted = false;
    e.phase = 0;
    e.scores.reset();
    e.findings.clear();
    e.findings_dropped = 0;
    entry.engine = EngineMode::unknown;
    entry.format = AuditFormat::unknown;
    entry.server_ip.clear();
    entry.client_port = 0;
    entry.offset = 0;
    entry.size = 0;
}

} // namespace mso
