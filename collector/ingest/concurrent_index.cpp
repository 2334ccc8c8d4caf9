// The Concurrent audit log's index line (concurrent_index.h).
#include "ingest/concurrent_index.h"

#include "ingest/audit_fields.h"

#include <charconv>

namespace mso {
namespace {

class Cursor {
public:
    explicit Cursor(std::string_view s) : m_rest(s) {}

    // A space-delimited token.
    std::string_view token() noexcept
    {
        skip_spaces();
        const std::size_t sp = m_rest.find(' ');
        const std::string_view t = m_rest.substr(0, sp);
        m_rest.remove_prefix(t.size());
        return t;
    }

    // "[...]" without the brackets; false when absent.
    bool bracketed(std::string_view& out) noexcept
    {
        skip_spaces();
        if (m_rest.empty() || m_rest.front() != '[')
            return false;
        const std::size_t close = m_rest.find(']');
        if (close == std::string_view::npos)
            return false;
        out = m_rest.substr(1, close - 1);
        m_rest.remove_prefix(close + 1);
        return true;
    }

    // "..." with \" \\ \xNN decoded into `out`; false when not a complete quoted field.
    bool quoted(std::string& out)
    {
        skip_spaces();
        out.clear();
        if (m_rest.empty() || m_rest.front() != '"')
            return false;
        std::size_t i = 1;
        while (i < m_rest.size()) {
            const char c = m_rest[i];
            if (c == '"') {
                m_rest.remove_prefix(i + 1);
                return true;
            }
            if (c == '\\' && i + 1 < m_rest.size()) {
                const char n = m_rest[i + 1];
                if (n == 'x' && i + 3 < m_rest.size()) {
                    unsigned v = 0;
                    const char* first = m_rest.data() + i + 2;
                    const auto [ptr, ec] = std::from_chars(first, first + 2, v, 16);
                    if (ec == std::errc() && ptr == first + 2) {
                        out.push_back(static_cast<char>(v));
                        i += 4;
                        continue;
                    }
                }
                out.push_back(n);
                i += 2;
                continue;
            }
            out.push_back(c);
            ++i;
        }
        return false;
    }

    [[nodiscard]] std::string_view rest() const noexcept { return m_rest; }

private:
    void skip_spaces() noexcept
    {
        while (!m_rest.empty() && m_rest.front() == ' ')
            m_rest.remove_prefix(1);
    }

    std::string_view m_rest;
};

template <typename T> bool number(std::string_view s, T& out) noexcept
{
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

} // namespace

Result<IndexLine> parse_index_line(std::string_view line)
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    IndexLine out;
    Cursor c(line);
    out.host.assign(c.token());
    out.client.assign(c.token());
    c.token(); // identd user
    c.token(); // auth user
    std::string_view time;
    if (out.client.empty() || !c.bracketed(time))
        return fail("index line: no [time] after host, client and users");
    const auto us = parse_audit_time(time);
    if (!us)
        return fail("index line: invalid time \"" + std::string(time) + "\"");
    out.time_us = *us;
    if (!c.quoted(out.request_line))
        return fail("index line: no quoted request line");
    if (!number(c.token(), out.status))
        return fail("index line: invalid status");
    c.token(); // bytes sent
    std::string ignored;
    if (!c.quoted(ignored) || !c.quoted(ignored))
        return fail("index line: no quoted referer and user agent");
    out.unique_id.assign(c.token());
    if (out.unique_id.empty() || !c.quoted(out.session_id))
        return fail("index line: no unique id and session id");
    out.path.assign(c.token());
    // A path that climbs out of the storage directory is refused.
    if (out.path.empty() || out.path.front() != '/' ||
        (out.path + "/").find("/../") != std::string::npos)
        return fail("index line: invalid entry path");
    c.token(); // offset, always 0
    if (!number(c.token(), out.size))
        return fail("index line: invalid entry size");
    const std::string_view hash = c.token();
    if (hash.starts_with("md5:"))
        out.md5.assign(hash.substr(4));
    out.cut = c.token() == "L";
    return out;
}

} // namespace mso
