// The pieces every audit-log format shares, parsed without allocation where the result
// is a view: ModSecurity's time stamps, the request line, header lookup, alert messages
// into findings, v3's numeric severities and the CRS anomaly scores found in messages.
// Untrusted input throughout: every function bounds its reads and never throws.
#pragma once

#include "event.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mso {

// "02/Dec/2026:05:47:31.657639 +0000" (v2: A part, index line, JSON transaction.time;
// v3 Native: without ".uuuuuu"), brackets already removed. Negative offsets may carry
// mod_security2's doubled sign ("--0500"). Returns microseconds since the epoch, UTC.
// ASCII case-insensitive equality (header and JSON key names).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

[[nodiscard]] std::optional<std::int64_t> parse_audit_time(std::string_view text) noexcept;

// "Wed Dec  2 05:47:45 2026" (v3 JSON time_stamp: the server's local time, no zone).
// `utc_offset_minutes` says what zone that was (0: UTC). Microseconds since the epoch.
[[nodiscard]] std::optional<std::int64_t> parse_asctime(std::string_view text,
                                                        int utc_offset_minutes) noexcept;

// "GET /a/b?x=1 HTTP/1.1" into method, path (no query or fragment), query (after '?',
// before '#') and protocol; "" for the parts a short line lacks.
void split_request_line(std::string_view line, RequestEvent& event);

// The value of header `name` (case-insensitive) in "Name: value" lines, or "".
[[nodiscard]] std::string_view find_header(std::string_view headers,
                                           std::string_view name) noexcept;

// v3 writes severities as numbers ("2"); the module and v2 write names ("CRITICAL").
[[nodiscard]] std::string_view severity_name(std::string_view severity) noexcept;

// Parses one alert text and appends it to event.findings. `text` is the message with or
// without its "ModSecurity: " marker ("Warning. ... [id \"942100\"] ..."); `scratch`
// is reused between calls. Returns false (and adds nothing) when the text is no alert.
bool add_alert_finding(std::string_view text, RequestEvent& event, std::string& scratch);

// Fills event.scores from the CRS scoring findings (949110 / 959100 / 980130 / 980170)
// when any is present; leaves it nullopt otherwise.
void scores_from_findings(RequestEvent& event);

// Decodes ModSecurity's value escaping (\" \\ \xHH) of `raw` into `out`.
void assign_unescaped(std::string& out, std::string_view raw);

} // namespace mso
