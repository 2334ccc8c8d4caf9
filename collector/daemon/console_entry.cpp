// The per-upload decisions of console_entry.h. Base64 and MD5 come from APR-util (the
// library the sensors' passwords are checked with); entries are parsed by ingest/, the
// code `modsec-observe import` uses, so an entry received and the same entry imported
// give the same event.
#include "daemon/console_entry.h"

#include "ingest/native_entry.h"
#include "protocol/import_line.h"

#include <apr_base64.h>
#include <apr_md5.h>

namespace mso {
namespace {

bool is_base64(std::string_view s) noexcept
{
    std::size_t padding = 0;
    for (const char c : s) {
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding > 0) {
            return false; // data after padding
        }
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) {
            return false;
        }
    }
    return padding <= 2 && s.size() % 4 == 0;
}

std::string_view first_token(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    const std::size_t end = s.find_first_of(" \t");
    return s.substr(0, end);
}

char lower(char c) noexcept
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

std::string url_encode(std::string_view text)
{
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto b = static_cast<unsigned char>(c);
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(k_hex[b >> 4]);
            out.push_back(k_hex[b & 15]);
        }
    }
    return out;
}

ConsoleAnswer answer_for(ConsoleRefusal refusal, std::string_view detail)
{
    int status = 503;
    std::string_view what;
    switch (refusal) {
    case ConsoleRefusal::unauthorized:
        status = 401;
        what = "unauthorized: unknown sensor or wrong password";
        break;
    case ConsoleRefusal::forbidden:
        status = 403;
        what = "forbidden: this sensor may not send from this address";
        break;
    case ConsoleRefusal::not_found:
        status = 404;
        what = "not found";
        break;
    case ConsoleRefusal::too_large:
        status = 409;
        what = "entry too large";
        break;
    case ConsoleRefusal::malformed:
        status = 409;
        what = "entry not readable";
        break;
    case ConsoleRefusal::hash_mismatch:
        status = 409;
        what = "content hash mismatch";
        break;
    case ConsoleRefusal::rate_limited: what = "sensor over its rate, retry later"; break;
    case ConsoleRefusal::store_busy: what = "store busy, retry later"; break;
    case ConsoleRefusal::store_error: what = "store error, retry later"; break;
    case ConsoleRefusal::no_history: what = "collector keeps no history"; break;
    case ConsoleRefusal::slow_client:
        status = 408;
        what = "request took too long";
        break;
    case ConsoleRefusal::bad_request:
        status = 400;
        what = "bad request";
        break;
    case ConsoleRefusal::too_many_connections: what = "too many connections, retry later"; break;
    case ConsoleRefusal::login_blocked:
        status = 429;
        what = "too many failed logins from this address, retry later";
        break;
    case ConsoleRefusal::too_old:
        status = 409;
        what = "entry older than the collector keeps";
        break;
    }
    std::string text(what);
    if (!detail.empty()) {
        text += ": ";
        text += detail.substr(0, 200);
    }
    return ConsoleAnswer{status, url_encode(text)};
}

std::optional<BasicCredentials> parse_basic_auth(std::string_view header)
{
    while (!header.empty() && header.front() == ' ') {
        header.remove_prefix(1);
    }
    if (header.size() < 6 || lower(header[0]) != 'b' || lower(header[1]) != 'a' ||
        lower(header[2]) != 's' || lower(header[3]) != 'i' || lower(header[4]) != 'c' ||
        header[5] != ' ') {
        return std::nullopt;
    }
    const std::string coded(first_token(header.substr(6)));
    if (coded.empty() || coded.size() > 4096 || !is_base64(coded)) {
        return std::nullopt;
    }
    std::string plain(static_cast<std::size_t>(apr_base64_decode_len(coded.c_str())), '\0');
    const int length =
        apr_base64_decode_binary(reinterpret_cast<unsigned char*>(plain.data()), coded.c_str());
    if (length < 0) {
        return std::nullopt;
    }
    plain.resize(static_cast<std::size_t>(length));
    const std::size_t colon = plain.find(':');
    if (colon == std::string::npos || colon == 0) {
        return std::nullopt;
    }
    return BasicCredentials{plain.substr(0, colon), plain.substr(colon + 1)};
}

HashCheck check_content_hash(std::string_view header, std::string_view body)
{
    const std::string_view token = first_token(header);
    if (token.empty()) {
        return HashCheck::absent;
    }
    if (token.size() != 36 || lower(token[0]) != 'm' || lower(token[1]) != 'd' || token[2] != '5' ||
        token[3] != ':') {
        return HashCheck::malformed;
    }
    unsigned char digest[APR_MD5_DIGESTSIZE];
    if (apr_md5(digest, body.data(), body.size()) != APR_SUCCESS) {
        return HashCheck::malformed;
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < APR_MD5_DIGESTSIZE; ++i) {
        const char hi = lower(token[4 + 2 * i]);
        const char lo = lower(token[5 + 2 * i]);
        const bool hex = std::string_view(k_hex).find(hi) != std::string_view::npos &&
                         std::string_view(k_hex).find(lo) != std::string_view::npos;
        if (!hex) {
            return HashCheck::malformed;
        }
        if (hi != k_hex[digest[i] >> 4] || lo != k_hex[digest[i] & 15]) {
            return HashCheck::mismatch;
        }
    }
    return HashCheck::match;
}

Result<StoredEvent> decode_upload(std::string_view body, std::string source,
                                  std::string_view fallback_vhost, std::size_t max_data,
                                  JsonEntryParser& json, std::string& scratch)
{
    std::string_view text = body;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                             text.front() == '\n')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
        text.remove_suffix(1);
    }
    if (text.empty()) {
        return fail("empty body");
    }
    AuditEntry entry;
    reset_entry(entry);
    if (text.front() == '{') {
        if (auto parsed = json.parse(text, entry); !parsed) {
            return fail(parsed.error());
        }
    } else if (text.starts_with("--")) {
        if (auto parsed = parse_native_entry(text, entry, scratch); !parsed) {
            return fail(parsed.error());
        }
    } else {
        return fail("neither a Native entry (--xxxxxxxx-A--) nor JSON");
    }
    StoredEvent stored;
    stored.event = std::move(entry.event);
    if (stored.event.vhost.empty()) {
        stored.event.vhost = std::string(fallback_vhost);
    }
    for (Finding& f : stored.event.findings) {
        limit_matched_data(f, max_data);
    }
    stored.source = std::move(source);
    stored.engine_mode = entry.engine;
    return stored;
}

} // namespace mso
