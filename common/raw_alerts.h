// The collector's half of protocol version 2 (docs/protocol.md, section 1.3): the
// module sends mod_security2's alert messages unparsed, and they become findings here,
// through the same parser (modsec_message.h) and the same limits and text rules as the
// module's version 1 encoder (event_encoder.cpp), so that both versions decode to the
// same RequestEvent. Untrusted input: never throws on content, never reads past it.
#pragma once

#include "event.h"

#include <cstddef>
#include <string_view>

namespace mso {

// Appends the findings of `section` (messages separated by NUL bytes) to `event`, with
// what version 1 derives from them: the request's "intercepted" and "phase" (the first
// denying alert's), and "findings_dropped" for alerts beyond 128. Messages that are not
// ModSecurity alerts are skipped, as the version 1 encoder skips them. `data_max`: the
// module's ModSecObserveMatchedData limit for each finding's data.
void add_raw_alert_findings(std::string_view section, std::size_t data_max, RequestEvent& event);

// ModSecurity-escaped `raw` as version 1 carries it after a JSON round trip: decoded
// (at most k_modsec_decode_bytes), invalid UTF-8 made U+FFFD, at most `max_bytes` of the
// decoded text, cut before a character. `cut`: whether anything was left out.
[[nodiscard]] std::string modsec_text(std::string_view raw, std::size_t max_bytes,
                                      bool* cut = nullptr);

} // namespace mso
