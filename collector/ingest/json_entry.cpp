// JSON audit-log entries of ModSecurity v2 and v3 (json_entry.h).
#include "ingest/json_entry.h"

#include "ingest/audit_fields.h"
#include "modsec_message.h"

#include <simdjson.h>

#include <cctype>
#include <cstdint>
#include <optional>

namespace mso {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string_view str(object o, std::string_view key) noexcept
{
    std::string_view v;
    if (o[key].get(v) != simdjson::SUCCESS)
        return {};
    return v;
}

std::int64_t integer(object o, std::string_view key) noexcept
{
    element e;
    if (o[key].get(e) != simdjson::SUCCESS)
        return 0;
    std::int64_t v = 0;
    if (e.get(v) == simdjson::SUCCESS)
        return v;
    std::string_view s; // v3 writes some numbers as strings
    if (e.get(s) == simdjson::SUCCESS) {
        std::int64_t n = 0;
        for (const char c : s) {
            if (c < '0' || c > '9' || n > 1000000000)
                return 0;
            n = n * 10 + (c - '0');
        }
        return n;
    }
    return 0;
}

int small_int(object o, std::string_view key) noexcept
{
    const std::int64_t v = integer(o, key);
    return v < 0 || v > 65535 ? 0 : static_cast<int>(v);
}

// The object at `key`; nullopt when absent or not an object.
std::optional<object> sub(object o, std::string_view key) noexcept
{
    object out;
    if (o[key].get(out) != simdjson::SUCCESS)
        return std::nullopt;
    return out;
}

// The first header named `name` (any case; repeated headers give repeated keys).
std::string_view header(const std::optional<object>& headers, std::string_view name) noexcept
{
    if (!headers)
        return {};
    for (const auto field : *headers) {
        std::string_view v;
        if (iequals(field.key, name) && field.value.get(v) == simdjson::SUCCESS)
            return v;
    }
    return {};
}

// Replaces every byte that is not part of a well-formed UTF-8 sequence by '?'.
void sanitize_utf8(std::string& s)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = byte(i);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1fU;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0fU;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07U;
        }
        bool valid = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; valid && k < len; ++k) {
            if ((byte(i + k) & 0xc0U) != 0x80U)
                valid = false;
            else
                cp = (cp << 6) | (byte(i + k) & 0x3fU);
        }
        // Overlong forms, surrogates and code points past U+10FFFF.
        if (valid && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                      (cp >= 0xd800 && cp <= 0xdfff)))
            valid = false;
        if (!valid) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

// v3: a finding from messages[]: {message, details{match, ruleId, data, severity, tags}}.
void add_v3_finding(object m, RequestEvent& event)
{
    const std::optional<object> found = sub(m, "details");
    Finding& f = event.findings.emplace_back();
    f.msg.assign(str(m, "message"));
    if (!found)
        return;
    const object details = *found;
    f.id.assign(str(details, "ruleId"));
    f.severity.assign(severity_name(str(details, "severity")));
    f.data.assign(str(details, "data"));
    array tags;
    if (details["tags"].get(tags) == simdjson::SUCCESS) {
        for (const element t : tags) {
            std::string_view tag;
            if (t.get(tag) != simdjson::SUCCESS || f.tags.size() >= k_max_tags)
                continue;
            f.tags.push_back(tag);
            if (tag.starts_with("paranoia-level/") && tag.size() == 16 && tag[15] >= '1' &&
                tag[15] <= '4')
                f.paranoia_level = tag[15] - '0';
        }
    }
    // The target: "... found within ARGS:id: ..." in data, else "against variable `X'".
    const std::string_view data = f.data;
    if (const std::size_t at = data.find(" found within "); at != std::string_view::npos) {
        const std::string_view rest = data.substr(at + 14);
        f.target.assign(rest.substr(0, rest.find(": ")));
    } else {
        const std::string_view match = str(details, "match");
        const std::size_t v = match.find("against variable `");
        if (v != std::string_view::npos) {
            const std::string_view rest = match.substr(v + 18);
            f.target.assign(rest.substr(0, rest.find('\'')));
        }
    }
}

// Whether a v3 JSON entry was intercepted, which it does not say. The engine must be On
// and the status an error; then a CRS blocking evaluation (949110, 959100) decides, and
// without one a 400 or 403 with an alert is taken as a deny by another rule (ModSecurity's
// default deny status is 403; the recommended configuration's body checks deny with 400).
// A 404 or 405 that nginx answered itself after a mere warning stays "not intercepted".
// Measured on nginx 1.22 + libmodsecurity 3.0.9 against the error log's "Access denied"
// lines (tests/data/audit/v3_https/expected.json).
bool v3_interception(EngineMode engine, int status, bool blocking_message,
                     bool any_message) noexcept
{
    if (engine != EngineMode::on || status < 400)
        return false;
    return blocking_message || (any_message && (status == 400 || status == 403));
}

} // namespace

struct JsonEntryParser::Impl {
    explicit Impl(std::size_t max_bytes) : parser(max_bytes) {}

    // Its capacity is set here: simdjson 3.0's set_max_capacity() caps any value above 32.
    simdjson::dom::parser parser;
    std::string copy;
    std::string scratch;
    int utc_offset_minutes = 0;

    Result<void> parse_v2(object root, object tx, AuditEntry& out);
    Result<void> parse_v3(object tx, AuditEntry& out);
};

JsonEntryParser::JsonEntryParser(std::size_t max_bytes, int utc_offset_minutes)
    : m_impl(std::make_unique<Impl>(max_bytes))
{
    m_impl->utc_offset_minutes = utc_offset_minutes;
}

JsonEntryParser::~JsonEntryParser() = default;

Result<void> JsonEntryParser::parse(std::string_view text, AuditEntry& out)
{
    Impl& p = *m_impl;
    object root;
    auto error = p.parser.parse(text.data(), text.size()).get(root);
    if (error == simdjson::UTF8_ERROR) {
        p.copy.assign(text);
        sanitize_utf8(p.copy);
        error = p.parser.parse(p.copy.data(), p.copy.size()).get(root);
    }
    if (error == simdjson::INCORRECT_TYPE)
        return fail("the entry is not a JSON object");
    if (error != simdjson::SUCCESS)
        return fail(std::string("invalid JSON: ") + simdjson::error_message(error));
    const std::optional<object> tx = sub(root, "transaction");
    if (!tx)
        return fail("the entry has no \"transaction\" object");
    element probe;
    if ((*tx)["transaction_id"].get(probe) == simdjson::SUCCESS)
        return p.parse_v2(root, *tx, out);
    return p.parse_v3(*tx, out);
}

Result<void> JsonEntryParser::Impl::parse_v2(object root, object tx, AuditEntry& out)
{
    out.format = AuditFormat::v2_json;
    RequestEvent& e = out.event;
    const auto time = parse_audit_time(str(tx, "time"));
    if (!time)
        return fail("transaction.time is missing or invalid");
    e.time_us = *time;
    e.unique_id.assign(str(tx, "transaction_id"));
    e.client.assign(str(tx, "remote_address"));
    out.client_port = small_int(tx, "remote_port");
    out.server_ip.assign(str(tx, "local_address"));
    e.port = small_int(tx, "local_port");
    if (e.unique_id.empty())
        return fail("transaction.transaction_id is empty");

    if (const auto request = sub(root, "request")) {
        split_request_line(str(*request, "request_line"), e);
        const auto headers = sub(*request, "headers");
        e.vhost.assign(header(headers, "Host"));
        e.user_agent.assign(header(headers, "User-Agent"));
    }
    if (const auto response = sub(root, "response"))
        e.status = small_int(*response, "status");

    if (const auto found = sub(root, "audit_data")) {
        const object audit = *found;
        array messages;
        if (audit["messages"].get(messages) == simdjson::SUCCESS) {
            for (const element m : messages) {
                std::string_view text;
                if (m.get(text) == simdjson::SUCCESS)
                    add_alert_finding(text, e, scratch);
            }
        }
        const auto action = sub(audit, "action");
        bool intercepted = false;
        if (action && (*action)["intercepted"].get(intercepted) == simdjson::SUCCESS &&
            intercepted) {
            e.intercepted = true;
            e.phase = small_int(*action, "phase");
        }
        const std::string_view mode = str(audit, "engine_mode");
        if (mode == "ENABLED")
            out.engine = EngineMode::on;
        else if (mode == "DETECTION_ONLY")
            out.engine = EngineMode::detection_only;
    }
    scores_from_findings(e);
    return ok();
}

Result<void> JsonEntryParser::Impl::parse_v3(object tx, AuditEntry& out)
{
    out.format = AuditFormat::v3_json;
    RequestEvent& e = out.event;
    const auto time = parse_asctime(str(tx, "time_stamp"), utc_offset_minutes);
    if (!time)
        return fail("transaction.time_stamp is missing or invalid");
    e.time_us = *time;
    std::string_view uid = str(tx, "unique_id");
    if (uid.empty())
        uid = str(tx, "id"); // before libmodsecurity 3.0.3
    if (uid.empty())
        return fail("transaction.unique_id is missing");
    e.unique_id.assign(uid);
    e.client.assign(str(tx, "client_ip"));
    out.client_port = small_int(tx, "client_port");
    out.server_ip.assign(str(tx, "host_ip"));
    e.port = small_int(tx, "host_port");

    if (const auto found = sub(tx, "request")) {
        const object request = *found;
        scratch.assign(str(request, "method"));
        scratch.append(" ");
        scratch.append(str(request, "uri"));
        double version = 0;
        if (request["http_version"].get(version) == simdjson::SUCCESS && version > 0 &&
            version < 10) {
            const int tenths = static_cast<int>(version * 10 + 0.5);
            scratch.append(" HTTP/");
            scratch.append(std::to_string(tenths / 10));
            if (tenths != 20 && tenths != 30) {
                scratch.append(".");
                scratch.append(std::to_string(tenths % 10));
            }
        }
        split_request_line(scratch, e);
        const auto headers = sub(request, "headers");
        e.vhost.assign(header(headers, "Host"));
        e.user_agent.assign(header(headers, "User-Agent"));
    }
    if (const auto response = sub(tx, "response"))
        e.status = small_int(*response, "http_code");
    if (const auto producer = sub(tx, "producer")) {
        const std::string_view mode = str(*producer, "secrules_engine");
        if (mode == "Enabled")
            out.engine = EngineMode::on;
        else if (mode == "DetectionOnly")
            out.engine = EngineMode::detection_only;
    }
    array messages;
    bool blocking = false;
    if (tx["messages"].get(messages) == simdjson::SUCCESS) {
        for (const element m : messages) {
            object msg;
            if (m.get(msg) != simdjson::SUCCESS)
                continue;
            add_v3_finding(msg, e);
            const std::string& id = e.findings.back().id;
            if (id == "949110" || id == "959100") {
                blocking = true;
                e.phase = e.phase != 0 ? e.phase : (id == "949110" ? 2 : 4);
            }
        }
    }
    // v3 JSON has no interception flag (v3_interception() says what stands in for it).
    e.intercepted = v3_interception(out.engine, e.status, blocking, !e.findings.empty());
    if (!e.intercepted) {
        e.phase = 0;
    } else if (blocking) {
        for (Finding& f : e.findings) { // as v3 Native's "Access denied" message says
            if (f.id == "949110" || f.id == "959100") {
                f.intercepted = true;
                f.phase = e.phase;
                break;
            }
        }
    } else {
        // A deny by a rule of its own (e.g. the recommended configuration's 200002,
        // status:400): rules stop at the disruptive one, so it is the last message;
        // its phase is not in the entry.
        e.findings.back().intercepted = true;
    }
    scores_from_findings(e);
    return ok();
}

} // namespace mso
