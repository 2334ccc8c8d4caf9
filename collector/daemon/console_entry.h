// What the console receiver decides about one upload, without sockets: the Basic
// credentials, the X-Content-Hash check, the entry's parse into a StoredEvent, and the
// answer each outcome gets (status and reason phrase, as mlogc reads them: exactly 200
// is done, exactly 409 is dropped for good, anything else is retried later). Pure
// functions apart from the parser's reused buffers; tested table-driven.
#pragma once

#include "ingest/audit_entry.h"
#include "ingest/json_entry.h"
#include "store/stored_event.h"
#include "util/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mso {

// Why an upload was not stored; each is counted per sensor (health "console",
// modsec_observe_console_refused_total{reason}).
enum class ConsoleRefusal : std::uint8_t {
    unauthorized,         // 401: no or wrong credentials, unknown or wrong token
    forbidden,            // 403: a v3 sensor's token from outside its allowed networks
    not_found,            // 404: another path or method
    too_large,            // 409: the body exceeds --console-max-body (it never will fit)
    malformed,            // 409: not an audit entry we can read
    hash_mismatch,        // 409: X-Content-Hash does not match the body
    rate_limited,         // 503: the sensor sends faster than --console-rate allows
    store_busy,           // 503: the history writer has no room now
    store_error,          // 503: the entry could not be committed (disk full, I/O error)
    no_history,           // 503: the collector keeps no history (--no-history)
    slow_client,          // the connection was closed: a request took longer than allowed
    bad_request,          // 400: not HTTP as the receiver speaks it (e.g. chunked, headers)
    too_many_connections, // 503: every worker busy and the waiting room full
    login_blocked,        // 429: too many failed logins from the client's address
    too_old,              // 409: older than the store keeps (--history-days)
};

inline constexpr std::array<std::string_view, 15> k_console_refusals = {"unauthorized",
                                                                        "forbidden",
                                                                        "not_found",
                                                                        "too_large",
                                                                        "malformed",
                                                                        "hash_mismatch",
                                                                        "rate_limited",
                                                                        "store_busy",
                                                                        "store_error",
                                                                        "no_history",
                                                                        "slow_client",
                                                                        "bad_request",
                                                                        "too_many_connections",
                                                                        "login_blocked",
                                                                        "too_old"};

[[nodiscard]] constexpr std::string_view refusal_name(ConsoleRefusal r) noexcept
{
    return k_console_refusals[static_cast<std::size_t>(r)];
}

// The HTTP answer for a refusal: status and a reason phrase (URL-encoded: mlogc
// decodes it into its error log).
struct ConsoleAnswer {
    int status = 200;
    std::string reason; // the reason phrase, already URL-encoded
};

[[nodiscard]] ConsoleAnswer answer_for(ConsoleRefusal refusal, std::string_view detail);

// Percent-encodes everything but unreserved characters ("A-Za-z0-9-._~"), spaces as %20.
[[nodiscard]] std::string url_encode(std::string_view text);

struct BasicCredentials {
    std::string user;
    std::string password;
};

// The user and password of an `Authorization: Basic <base64>` value; nullopt when it is
// not Basic, not valid base64, or has no ':' (the user name cannot hold one).
[[nodiscard]] std::optional<BasicCredentials> parse_basic_auth(std::string_view header);

enum class HashCheck : std::uint8_t { absent, match, mismatch, malformed };

// Checks `X-Content-Hash: md5:<32 hex>` against the MD5 of `body`. Only the first token
// counts (mlogc appends the rest of its index line); an empty header is absent.
[[nodiscard]] HashCheck check_content_hash(std::string_view header, std::string_view body);

// Parses one uploaded entry (v2 or v3, Native or JSON, told by its first byte) into the
// event to store with `source` ("sensor:<name>"). The event's vhost is the entry's Host
// header, or `fallback_vhost` (the sensor's name) when it has none. Each finding keeps
// at most `max_data` bytes of its matched data (--console-matched-data; 0: none). The
// error says why it cannot be read (for the 409 reason).
[[nodiscard]] Result<StoredEvent> decode_upload(std::string_view body, std::string source,
                                                std::string_view fallback_vhost,
                                                std::size_t max_data, JsonEntryParser& json,
                                                std::string& scratch);

} // namespace mso
