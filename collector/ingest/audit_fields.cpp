// Shared field parsers of the audit-log formats (audit_fields.h).
#include "ingest/audit_fields.h"

#include "modsec_message.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>

namespace mso {
namespace {

constexpr std::array<std::string_view, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept
{
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// Reads exactly `n` digits at `pos`; advances pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) noexcept
{
    if (pos + n > s.size())
        return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) noexcept
{
    if (pos >= s.size() || s[pos] != c)
        return false;
    ++pos;
    return true;
}

int month_number(std::string_view name) noexcept
{
    for (std::size_t i = 0; i < k_months.size(); ++i)
        if (name == k_months[i])
            return static_cast<int>(i) + 1;
    return 0;
}

std::optional<std::int64_t> to_epoch_us(int year, int month, int day, int hour, int minute,
                                        int second, int micros, int offset_minutes) noexcept
{
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 ||
        year < 1970 || year > 9999)
        return std::nullopt;
    const std::int64_t days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds =
        days * 86400 + hour * 3600 + minute * 60 + second - std::int64_t{offset_minutes} * 60;
    return seconds * 1000000 + micros;
}

// The first run of digits at or after `pos` in `s` (at most 9 digits), or -1.
int number_after(std::string_view s, std::string_view marker) noexcept
{
    const std::size_t at = s.find(marker);
    if (at == std::string_view::npos)
        return -1;
    std::size_t pos = at + marker.size();
    int v = 0;
    std::size_t n = 0;
    while (pos < s.size() && n < 9 && s[pos] >= '0' && s[pos] <= '9') {
        v = v * 10 + (s[pos++] - '0');
        ++n;
    }
    return n == 0 ? -1 : v;
}

// "a, b, c, d" or "a-b-c-d" after `marker` into four paranoia-level scores.
void pl_scores(std::string_view s, std::string_view marker, std::array<int, 4>& out) noexcept
{
    const std::size_t at = s.find(marker);
    if (at == std::string_view::npos)
        return;
    s.remove_prefix(at + marker.size());
    for (int& v : out) {
        while (!s.empty() && (s.front() == ' ' || s.front() == ',' || s.front() == '-'))
            s.remove_prefix(1);
        int n = 0;
        std::size_t len = 0;
        while (len < s.size() && len < 9 && s[len] >= '0' && s[len] <= '9')
            n = n * 10 + (s[len++] - '0');
        if (len == 0)
            return;
        v = n;
        s.remove_prefix(len);
    }
}

} // namespace

bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::optional<std::int64_t> parse_audit_time(std::string_view s) noexcept
{
    std::size_t pos = 0;
    int day = 0, year = 0, hour = 0, minute = 0, second = 0, micros = 0;
    if (!digits(s, pos, 2, day) || !expect(s, pos, '/') || pos + 3 > s.size())
        return std::nullopt;
    const int month = month_number(s.substr(pos, 3));
    pos += 3;
    if (month == 0 || !expect(s, pos, '/') || !digits(s, pos, 4, year) || !expect(s, pos, ':') ||
        !digits(s, pos, 2, hour) || !expect(s, pos, ':') || !digits(s, pos, 2, minute) ||
        !expect(s, pos, ':') || !digits(s, pos, 2, second))
        return std::nullopt;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        if (!digits(s, pos, 6, micros))
            return std::nullopt;
    }
    if (!expect(s, pos, ' ') || pos >= s.size())
        return std::nullopt;
    // "+0100", "-0500", and mod_security2's doubled sign for negative offsets: "--0500",
    // where minutes print as "-30" too ("--03-30").
    int sign = 1;
    if (s[pos] == '+') {
        ++pos;
    } else if (s[pos] == '-') {
        sign = -1;
        ++pos;
        if (pos < s.size() && s[pos] == '-')
            ++pos;
    } else {
        return std::nullopt;
    }
    int oh = 0, om = 0;
    if (!digits(s, pos, 2, oh))
        return std::nullopt;
    if (pos < s.size() && s[pos] == '-')
        ++pos;
    if (!digits(s, pos, 2, om) || pos != s.size() || oh > 23 || om > 59)
        return std::nullopt;
    return to_epoch_us(year, month, day, hour, minute, second, micros, sign * (oh * 60 + om));
}

std::optional<std::int64_t> parse_asctime(std::string_view s, int utc_offset_minutes) noexcept
{
    // "Www Mmm dd hh:mm:ss yyyy", the day padded with a space.
    if (s.size() < 24 || s[3] != ' ' || s[7] != ' ')
        return std::nullopt;
    const int month = month_number(s.substr(4, 3));
    std::size_t pos = 8;
    if (s[pos] == ' ')
        ++pos;
    int day = 0;
    const std::size_t day_digits = s.size() > pos + 1 && s[pos + 1] != ' ' ? 2 : 1;
    int hour = 0, minute = 0, second = 0, year = 0;
    if (month == 0 || !digits(s, pos, day_digits, day) || !expect(s, pos, ' ') ||
        !digits(s, pos, 2, hour) || !expect(s, pos, ':') || !digits(s, pos, 2, minute) ||
        !expect(s, pos, ':') || !digits(s, pos, 2, second) || !expect(s, pos, ' ') ||
        !digits(s, pos, 4, year) || pos != s.size())
        return std::nullopt;
    return to_epoch_us(year, month, day, hour, minute, second, 0, utc_offset_minutes);
}

void split_request_line(std::string_view line, RequestEvent& event)
{
    const std::size_t sp1 = line.find(' ');
    event.method.assign(line.substr(0, sp1));
    std::string_view target;
    std::string_view protocol;
    if (sp1 != std::string_view::npos) {
        std::string_view rest = line.substr(sp1 + 1);
        const std::size_t sp2 = rest.rfind(' ');
        if (sp2 != std::string_view::npos && rest.substr(sp2 + 1).starts_with("HTTP/")) {
            target = rest.substr(0, sp2);
            protocol = rest.substr(sp2 + 1);
        } else {
            target = rest; // HTTP/0.9 or a cut line
        }
    }
    event.protocol.assign(protocol);
    const std::size_t fragment = target.find('#');
    const std::string_view no_fragment = target.substr(0, fragment);
    const std::size_t q = no_fragment.find('?');
    event.query.assign(q == std::string_view::npos ? std::string_view()
                                                   : no_fragment.substr(q + 1));
    // The module sends r->uri's path: strip an absolute-form request's scheme and host.
    std::string_view path = no_fragment.substr(0, q);
    if (!path.empty() && path.front() != '/' && path != "*") {
        const std::size_t authority = path.find("://");
        const std::size_t slash =
            authority == std::string_view::npos ? 0 : path.find('/', authority + 3);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    event.path.assign(path);
}

std::string_view find_header(std::string_view headers, std::string_view name) noexcept
{
    while (!headers.empty()) {
        const std::size_t eol = headers.find('\n');
        std::string_view line = headers.substr(0, eol);
        headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 1);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || !iequals(line.substr(0, colon), name))
            continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
            value.remove_suffix(1);
        return value;
    }
    return {};
}

std::string_view severity_name(std::string_view severity) noexcept
{
    constexpr std::array<std::string_view, 8> k_names = {
        "EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"};
    if (severity.size() == 1 && severity[0] >= '0' && severity[0] <= '7')
        return k_names[static_cast<std::size_t>(severity[0] - '0')];
    return severity;
}

void assign_unescaped(std::string& out, std::string_view raw)
{
    out.resize(raw.size()); // escapes only shrink
    out.resize(modsec_unescape(raw, out.data(), out.size()));
}

bool add_alert_finding(std::string_view text, RequestEvent& event, std::string& scratch)
{
    constexpr std::string_view k_marker = "ModSecurity: ";
    if (text.find(k_marker) == std::string_view::npos) {
        scratch.assign(k_marker);
        scratch.append(text);
        text = scratch;
    }
    MessageView m;
    if (!parse_modsec_message(text, m) || !m.is_alert)
        return false;
    Finding& f = event.findings.emplace_back();
    assign_unescaped(f.id, m.id);
    assign_unescaped(f.msg, m.engine ? m.head : m.msg);
    std::string severity;
    assign_unescaped(severity, m.severity);
    f.severity.assign(severity_name(severity));
    f.paranoia_level = m.paranoia_level;
    f.phase = m.phase;
    std::string tag;
    for (std::size_t i = 0; i < m.tag_count; ++i) {
        assign_unescaped(tag, m.tags[i]);
        f.tags.push_back(tag);
    }
    assign_unescaped(f.target, m.target);
    assign_unescaped(f.data, m.data);
    f.intercepted = m.intercepted;
    f.truncated = m.truncated;
    f.engine = m.engine;
    return true;
}

void scores_from_findings(RequestEvent& event)
{
    AnomalyScores s;
    bool found = false;
    for (const Finding& f : event.findings) {
        if (f.id == "949110") {
            const int n = number_after(f.msg, "Total Score: ");
            if (n >= 0) {
                s.inbound = n;
                found = true;
            }
        } else if (f.id == "959100") {
            const int n = number_after(f.msg, "Total Score: ");
            if (n >= 0) {
                s.outbound = n;
                found = true;
            }
        } else if (f.id == "980130") { // CRS 3
            const int n = number_after(f.msg, "Total Inbound Score: ");
            if (n >= 0) {
                s.inbound = n;
                found = true;
            }
            pl_scores(f.msg, "individual paranoia level scores:", s.inbound_pl);
        } else if (f.id == "980140") { // CRS 3
            const int n = number_after(f.msg, "(score ");
            if (n >= 0) {
                s.outbound = n;
                found = true;
            }
            pl_scores(f.msg, "individual paranoia level scores:", s.outbound_pl);
        } else if (f.id == "980170") { // CRS 4
            const std::string_view msg = f.msg;
            const std::size_t out_at = msg.find("Outbound Scores:");
            const std::string_view in = msg.substr(0, out_at);
            const std::string_view out =
                out_at == std::string_view::npos ? std::string_view() : msg.substr(out_at);
            const int bi = number_after(in, "blocking=");
            const int bo = number_after(out, "blocking=");
            if (bi >= 0 || bo >= 0)
                found = true;
            s.inbound = bi >= 0 ? bi : s.inbound;
            s.outbound = bo >= 0 ? bo : s.outbound;
            s.inbound_threshold = std::max(0, number_after(in, "threshold="));
            s.outbound_threshold = std::max(0, number_after(out, "threshold="));
            pl_scores(in, "per_pl=", s.inbound_pl);
            pl_scores(out, "per_pl=", s.outbound_pl);
        }
    }
    if (found)
        event.scores = s;
}

} // namespace mso
