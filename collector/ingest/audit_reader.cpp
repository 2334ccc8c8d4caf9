// The streaming audit-log reader (audit_reader.h).
#include "ingest/audit_reader.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace mso {
namespace {

constexpr std::size_t k_read_chunk = 1024 * 1024;
constexpr std::string_view k_long_line = "a line longer than the entry size limit";

std::string_view trim_line(std::string_view line) noexcept
{
    if (!line.empty() && line.back() == '\n')
        line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

std::string_view skip_blanks(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    return s;
}

} // namespace

AuditFormat detect_format(std::string_view head) noexcept
{
    while (!head.empty()) {
        const std::size_t nl = head.find('\n');
        const std::string_view line = trim_line(head.substr(0, nl));
        head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
        if (const auto sep = native_separator(line); sep && sep->part == 'A')
            return sep->format;
        const std::string_view text = skip_blanks(line);
        if (text.starts_with("{")) {
            if (text.find("\"transaction_id\"") != std::string_view::npos)
                return AuditFormat::v2_json;
            if (text.find("\"time_stamp\"") != std::string_view::npos ||
                text.find("\"client_ip\"") != std::string_view::npos)
                return AuditFormat::v3_json;
        }
    }
    return AuditFormat::unknown;
}

AuditReader::AuditReader(AuditReaderOptions options)
    : m_options(options), m_json(options.max_entry_bytes, options.utc_offset_minutes)
{
}

void AuditReader::feed(std::string_view chunk, AuditSink& sink)
{
    m_buf.append(chunk);
    const std::size_t max = m_options.max_entry_bytes;
    while (m_scan < m_buf.size()) {
        const void* nl = std::memchr(m_buf.data() + m_scan, '\n', m_buf.size() - m_scan);
        if (nl == nullptr)
            break;
        const auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - m_buf.data()) + 1;
        if (m_drop_line) {
            stray(m_scan, end, k_long_line);
            m_drop_line = false;
        } else {
            process_line(m_scan, end, sink);
        }
        m_scan = end;
    }
    // An entry whose complete lines, or whose unfinished last line, pass the bound is
    // too large however it ends (the partial line may be the next entry's A line, so it
    // stays to be read).
    if (m_state == State::native && (m_scan - m_entry_begin > max || m_buf.size() - m_scan > max))
        skip_oversized(m_scan, sink);
    if (m_state != State::native && m_buf.size() - m_scan > max) {
        stray(m_scan, m_buf.size(), k_long_line);
        m_scan = m_buf.size();
        m_drop_line = true;
    }
    // Keep only what is still needed: the Native entry being read, or the partial line.
    const std::size_t keep = m_state == State::native ? m_entry_begin : m_scan;
    if (keep > 0) {
        m_buf.erase(0, keep);
        m_base += keep;
        m_scan -= keep;
        if (m_state == State::native)
            m_entry_begin -= keep;
    }
}

void AuditReader::finish(AuditSink& sink)
{
    if (m_drop_line) {
        stray(m_scan, m_buf.size(), k_long_line);
        m_scan = m_buf.size();
    } else if (m_scan < m_buf.size()) {
        process_line(m_scan, m_buf.size(), sink); // the last line, without '\n'
        m_scan = m_buf.size();
    }
    if (m_state == State::native) {
        if (m_buf.size() - m_entry_begin > m_options.max_entry_bytes)
            skip_oversized(m_buf.size(), sink); // as feed() decides it in pieces
        else
            report(m_base + m_entry_begin, m_buf.size() - m_entry_begin,
                   "the input ends inside an entry (no Z part)", sink);
    }
    flush_stray(sink);
    m_buf.clear();
    m_base = 0;
    m_scan = 0;
    m_state = State::outside;
    m_drop_line = false;
}

Result<void> AuditReader::read_fd(int fd, AuditSink& sink)
{
    std::vector<char> buffer(k_read_chunk);
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            finish(sink);
            return fail(std::string("cannot read: ") + std::strerror(err));
        }
        if (n == 0)
            break;
        feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), sink);
    }
    finish(sink);
    return ok();
}

void AuditReader::process_line(std::size_t begin, std::size_t end, AuditSink& sink)
{
    const std::string_view line = trim_line(std::string_view(m_buf).substr(begin, end - begin));
    const auto sep = line.size() >= 14 && line[0] == '-' ? native_separator(line) : std::nullopt;
    const std::size_t max = m_options.max_entry_bytes;
    if (m_state == State::native) {
        if (!sep)
            return;
        const bool ours = sep->format == m_flavor && sep->boundary == m_boundary;
        if (ours && sep->part == 'Z') {
            end_native(end, sink);
            return;
        }
        if (sep->part != 'A')
            return; // another part, or another boundary's separator inside a body
        if (begin - m_entry_begin > max) { // as feed() decides it in pieces
            skip_oversized(begin, sink);
            flush_stray(sink);
            begin_native(begin, *sep);
            return;
        }
        report(m_base + m_entry_begin, begin - m_entry_begin,
               "an entry without its Z part (a new entry starts)", sink);
        begin_native(begin, *sep);
        return;
    }
    if (sep && sep->part == 'A') {
        flush_stray(sink);
        begin_native(begin, *sep);
        return;
    }
    if (m_state == State::skipping) {
        stray(begin, end, m_stray_reason);
        return;
    }
    if (end - begin > max) { // decided as feed() does when the line comes in pieces
        stray(begin, end, k_long_line);
        return;
    }
    const std::string_view text = skip_blanks(line);
    if (text.empty())
        return; // Serial's blank line after Z, or blank lines between JSON entries
    if (text.front() == '{') {
        flush_stray(sink);
        parse_json(begin, end, sink);
        return;
    }
    stray(begin, end, "bytes outside any entry");
}

void AuditReader::begin_native(std::size_t begin, const NativeSeparator& separator)
{
    m_state = State::native;
    m_entry_begin = begin;
    m_boundary.assign(separator.boundary);
    m_flavor = separator.format;
}

void AuditReader::skip_oversized(std::size_t end, AuditSink& sink)
{
    flush_stray(sink);
    stray(m_entry_begin, end,
          "an entry larger than the entry size limit (skipped up to the next entry)");
    m_state = State::skipping;
}

void AuditReader::end_native(std::size_t end, AuditSink& sink)
{
    if (end - m_entry_begin > m_options.max_entry_bytes) {
        skip_oversized(end, sink); // as feed() decides when the entry comes in pieces
        return;
    }
    m_state = State::outside;
    const std::string_view raw = std::string_view(m_buf).substr(m_entry_begin, end - m_entry_begin);
    reset_entry(m_entry);
    if (auto parsed = parse_native_entry(raw, m_entry, m_scratch); !parsed) {
        report(m_base + m_entry_begin, raw.size(), parsed.error(), sink);
        return;
    }
    m_entry.offset = m_base + m_entry_begin;
    m_entry.size = raw.size();
    sink.entry(m_entry);
}

void AuditReader::parse_json(std::size_t begin, std::size_t end, AuditSink& sink)
{
    const std::string_view text = trim_line(std::string_view(m_buf).substr(begin, end - begin));
    reset_entry(m_entry);
    if (auto parsed = m_json.parse(text, m_entry); !parsed) {
        report(m_base + begin, text.size(), parsed.error(), sink);
        return;
    }
    m_entry.offset = m_base + begin;
    m_entry.size = text.size();
    sink.entry(m_entry);
}

void AuditReader::stray(std::size_t begin, std::size_t end, std::string_view reason)
{
    if (!m_has_stray) {
        m_has_stray = true;
        m_stray_begin = m_base + begin;
        m_stray_reason = reason;
    }
    m_stray_end = m_base + end;
}

void AuditReader::flush_stray(AuditSink& sink)
{
    if (!m_has_stray)
        return;
    m_has_stray = false;
    if (m_state == State::skipping)
        m_state = State::outside;
    report(m_stray_begin, m_stray_end - m_stray_begin, std::string(m_stray_reason), sink);
}

void AuditReader::report(std::uint64_t offset, std::uint64_t size, std::string message,
                         AuditSink& sink)
{
    AuditError error;
    error.offset = offset;
    error.size = size;
    error.message = std::move(message);
    sink.error(error);
}

} // namespace mso
