// Native audit-log entries of ModSecurity v2 and v3 (native_entry.h).
#include "ingest/native_entry.h"

#include "ingest/audit_fields.h"

#include <array>
#include <cctype>
#include <charconv>

namespace mso {
namespace {

bool is_hex_lower(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_alnum(char c) noexcept
{
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// The next line of `rest` (without '\n' and a trailing '\r'); consumes it from `rest`.
std::string_view next_line(std::string_view& rest) noexcept
{
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

// The next space-separated token of `rest`; consumes it and the spaces after it.
std::string_view next_token(std::string_view& rest) noexcept
{
    const std::size_t sp = rest.find(' ');
    const std::string_view token = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
    while (!rest.empty() && rest.front() == ' ')
        rest.remove_prefix(1);
    return token;
}

int to_int(std::string_view s) noexcept
{
    int v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && ptr == s.data() + s.size() ? v : 0;
}

// A: "[02/Dec/2026:05:47:31.657639 +0000] unique_id client_ip client_port server_ip port"
Result<void> parse_part_a(std::string_view a, AuditEntry& out)
{
    std::string_view rest = a;
    const std::string_view line = next_line(rest);
    if (line.size() < 2 || line.front() != '[')
        return fail("part A does not start with a [time]");
    const std::size_t close = line.find(']');
    if (close == std::string_view::npos)
        return fail("part A has no closing ] after the time");
    const auto time = parse_audit_time(line.substr(1, close - 1));
    if (!time)
        return fail("part A has an invalid time");
    std::string_view fields = line.substr(close + 1);
    while (!fields.empty() && fields.front() == ' ')
        fields.remove_prefix(1);
    const std::string_view uid = next_token(fields);
    const std::string_view client = next_token(fields);
    const std::string_view client_port = next_token(fields);
    const std::string_view server = next_token(fields);
    const std::string_view server_port = next_token(fields);
    if (uid.empty() || client.empty())
        return fail("part A lacks the unique id or the client address");
    out.event.time_us = *time;
    out.event.unique_id.assign(uid);
    out.event.client.assign(client);
    out.client_port = to_int(client_port);
    out.server_ip.assign(server);
    out.event.port = to_int(server_port);
    return ok();
}

void parse_part_b(std::string_view b, RequestEvent& event)
{
    std::string_view headers = b;
    split_request_line(next_line(headers), event);
    event.vhost.assign(find_header(headers, "Host"));
    event.user_agent.assign(find_header(headers, "User-Agent"));
}

// F: "HTTP/1.1 403 Forbidden" (v3: "HTTP/1.1 403").
void parse_part_f(std::string_view f, RequestEvent& event)
{
    std::string_view line = next_line(f);
    next_token(line);
    event.status = to_int(next_token(line));
}

void parse_part_h_v2(std::string_view h, AuditEntry& out, std::string& scratch)
{
    while (!h.empty()) {
        const std::string_view line = next_line(h);
        if (line.starts_with("Message: ")) {
            add_alert_finding(line.substr(9), out.event, scratch);
        } else if (line.starts_with("Action: Intercepted")) {
            out.event.intercepted = true;
            const std::size_t phase = line.find("(phase ");
            if (phase != std::string_view::npos)
                out.event.phase = to_int(line.substr(phase + 7, line.find(')', phase) - phase - 7));
        } else if (line.starts_with("Engine-Mode: ")) {
            const std::string_view mode = line.substr(13);
            if (mode == "\"ENABLED\"")
                out.engine = EngineMode::on;
            else if (mode == "\"DETECTION_ONLY\"")
                out.engine = EngineMode::detection_only;
        }
    }
}

void parse_part_h_v3(std::string_view h, AuditEntry& out, std::string& scratch)
{
    while (!h.empty()) {
        const std::string_view line = next_line(h);
        if (!line.starts_with("ModSecurity: ") || !add_alert_finding(line, out.event, scratch))
            continue;
        const Finding& f = out.event.findings.back();
        if (f.intercepted && !out.event.intercepted) {
            out.event.intercepted = true;
            out.event.phase = f.phase;
            out.engine = EngineMode::on; // only the On engine denies
        }
    }
}

} // namespace

std::optional<NativeSeparator> native_separator(std::string_view line) noexcept
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    const auto letter = [](char c) { return c >= 'A' && c <= 'Z'; };
    // v2: "--xxxxxxxx-A--"
    if (line.size() == 14 && line.starts_with("--") && line[10] == '-' && letter(line[11]) &&
        line.ends_with("--")) {
        const std::string_view b = line.substr(2, 8);
        for (const char c : b)
            if (!is_hex_lower(c))
                return std::nullopt;
        return NativeSeparator{AuditFormat::v2_native, b, line[11]};
    }
    // v3: "---xxxxxxxx---A--"
    if (line.size() == 17 && line.starts_with("---") && line.substr(11, 3) == "---" &&
        letter(line[14]) && line.ends_with("--")) {
        const std::string_view b = line.substr(3, 8);
        for (const char c : b)
            if (!is_alnum(c))
                return std::nullopt;
        return NativeSeparator{AuditFormat::v3_native, b, line[14]};
    }
    return std::nullopt;
}

Result<void> parse_native_entry(std::string_view raw, AuditEntry& out, std::string& scratch)
{
    std::string_view rest = raw;
    const auto first = native_separator(next_line(rest));
    if (!first || first->part != 'A')
        return fail("the entry does not start with an A separator line");
    out.format = first->format;
    const std::string_view boundary = first->boundary;

    std::array<std::string_view, 26> parts{};
    std::array<bool, 26> seen{};
    char current = 'A';
    const char* part_begin = rest.data();
    bool ended = false;
    while (!rest.empty()) {
        const char* line_begin = rest.data();
        const auto sep = native_separator(next_line(rest));
        if (!sep || sep->boundary != boundary || sep->format != first->format)
            continue;
        const auto index = static_cast<std::size_t>(current - 'A');
        parts[index] =
            std::string_view(part_begin, static_cast<std::size_t>(line_begin - part_begin));
        seen[index] = true;
        current = sep->part;
        part_begin = rest.data();
        if (sep->part == 'Z') {
            ended = true;
            break;
        }
    }
    if (!ended)
        return fail("the entry ends without its Z part");
    if (!seen[0])
        return fail("the entry has no A part");
    if (auto a = parse_part_a(parts[0], out); !a)
        return a;
    if (seen['B' - 'A'])
        parse_part_b(parts['B' - 'A'], out.event);
    if (seen['F' - 'A'])
        parse_part_f(parts['F' - 'A'], out.event);
    if (seen['H' - 'A']) {
        if (out.format == AuditFormat::v2_native)
            parse_part_h_v2(parts['H' - 'A'], out, scratch);
        else
            parse_part_h_v3(parts['H' - 'A'], out, scratch);
    }
    scores_from_findings(out.event);
    return ok();
}

} // namespace mso
