// Parser for ModSecurity v2 alert messages as Apache's error_log hook receives them:
//   [client 1.2.3.4] ModSecurity: Warning. Pattern match "..." at ARGS:id.
//   [file "..."] [line "..."] [id "942100"] [msg "..."] [data "..."] [severity "CRITICAL"]
//   [ver "..."] [tag "..."]... [hostname "..."] [uri "..."] [unique_id "..."]
// The message is attacker-influenced: ModSecurity escapes quoted values (`\"`), but not
// variable names in the head ("at ARGS:<name>."), so a forged ` [id "1"]` can appear
// there. Metadata is therefore taken only from the last unforgeable ` [file "` onwards.
// ModSecurity formats the head + metadata into a 1024-byte buffer; a message that fills
// it is marked truncated (its [id] may be gone: an evasion signal, never dropped).
//
// Apache's error_log hook receives the message after httpd's own error-log escaping
// (ap_escape_errorlog_item: `\` -> `\\`, controls -> `\n`, `\xHH`); undo that first
// with apache_log_unescape(), which gives back ModSecurity's text exactly.
//
// parse_modsec_message() never allocates and never throws: every view points into the
// input, which must outlive the MessageView. Values stay ModSecurity-escaped; decode
// them with modsec_unescape() or JsonWriter::modsec_string().
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace mso {

inline constexpr std::size_t k_max_tags = 16;
// ModSecurity's own buffer for the head + metadata part of a message (apache2_util.c).
inline constexpr std::size_t k_modsec_message_limit = 1024;

struct MessageView {
    // A finding: a rule alert ("Warning." / "Access ..." / [id]) or an engine message
    // about the request (it carries mod_security2's [hostname]/[unique_id] trailer).
    // ModSecurity records each of these in the audit log's messages too.
    bool is_alert = false;
    // An engine message: no rule, no [id], not truncated ("JSON parser error ...",
    // "Multipart parsing error ...", request body limits). Its text is the head.
    bool engine = false;
    bool intercepted = false; // "Access denied ..." head: this message denied the request
    bool truncated = false;   // cut by ModSecurity's 1024-byte buffer or Apache's limit
    int phase = 0;            // "(phase N)" in the head, 0 when absent
    int status = 0;           // "with code N" in the head, 0 when absent
    int paranoia_level = 0;   // from a "paranoia-level/N" tag, 0 when none
    std::string_view head;    // "Warning. Pattern match ... at ARGS:id."
    std::string_view target;  // "ARGS:id", from the head or from [data] "found within"
    std::string_view id, msg, severity, data, file, line, rev, ver;
    std::string_view hostname, uri, unique_id; // trailer added by mod_security2
    std::array<std::string_view, k_max_tags> tags{};
    std::size_t tag_count = 0;    // distinct tags kept
    std::size_t tags_dropped = 0; // tag occurrences beyond k_max_tags (not deduplicated)
};

// Parses one error-log message. Returns false (and leaves `out` default) when the text
// is not a ModSecurity message at all (no "ModSecurity: " marker).
[[nodiscard]] bool parse_modsec_message(std::string_view text, MessageView& out) noexcept;

// Undoes httpd's error-log escaping in place; returns the new length (never longer).
std::size_t apache_log_unescape(char* text, std::size_t size) noexcept;

// Decodes ModSecurity's log escaping (\" \\ \n \r \t \v \b \xHH) of `raw` into `out`,
// writing at most `cap` bytes; returns the number of bytes written. Stops early rather
// than split an escape. Never allocates.
std::size_t modsec_unescape(std::string_view raw, char* out, std::size_t cap) noexcept;

// A value's decoded text as a finding carries it: `raw` itself when it has no escape
// (most tags, ids, severities: nothing to copy), else its decoding into `buffer`, of at
// most k_modsec_decode_bytes (values in a message are under 1024 bytes); `cut` when the
// decoding did not fit. The module's JSON writer and the collector's reading of version
// 2 alerts both take a value's text from here, so they make the same text of it.
inline constexpr std::size_t k_modsec_decode_bytes = 2048;
struct ModsecText {
    std::string_view text;
    bool cut = false;
};
[[nodiscard]] ModsecText modsec_decoded(std::string_view raw,
                                        char (&buffer)[k_modsec_decode_bytes]) noexcept;

} // namespace mso
