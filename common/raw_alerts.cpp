// Findings from raw alert messages (protocol version 2); see raw_alerts.h. Every limit
// and rule below is the version 1 encoder's (write_finding() in event_encoder.cpp and
// JsonWriter::string/modsec_string): tests/unit/test_raw_alerts.cpp and the
// modsec_message fuzz target hold the two versions' decoded events equal.
#include "raw_alerts.h"

#include "event_encoder.h"
#include "modsec_message.h"
#include "utf8.h"
#include "varint.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mso {
namespace {

// The end of the run of ASCII bytes in s[i, n), found eight bytes at a time.
std::size_t ascii_run_end(const unsigned char* s, std::size_t i, std::size_t n) noexcept
{
    for (std::uint64_t w; n - i >= 8; i += 8) {
        std::memcpy(&w, s + i, sizeof w);
        if (w & 0x8080808080808080u)
            break;
    }
    while (i < n && s[i] < 0x80)
        ++i;
    return i;
}

// What JsonWriter::string() writes, as its JSON string decodes: at most `max_bytes`
// bytes of `value`, invalid UTF-8 bytes as U+FFFD, never half a character.
void append_sanitized(std::string_view value, std::size_t max_bytes, std::string& out, bool* cut)
{
    const auto* s = reinterpret_cast<const unsigned char*>(value.data());
    const std::size_t n = value.size() < max_bytes ? value.size() : max_bytes;
    std::size_t i = 0;
    while (i < n) {
        // Runs of ASCII go whole (JSON's escapes of them decode to the same bytes).
        const std::size_t end = ascii_run_end(s, i, n);
        out.append(value.data() + i, end - i);
        i = end;
        if (i == n)
            break;
        const std::size_t len = utf8_sequence(s + i, value.size() - i);
        if (len == 0) {
            out.append("\xEF\xBF\xBD");
            ++i;
        } else if (i + len > n) {
            break;
        } else {
            out.append(value.data() + i, len);
            i += len;
        }
    }
    if (cut)
        *cut = i < value.size();
}

// Whether `s` holds neither a backslash nor a byte of 0x80 or above, in one pass: such
// a value (most ids, tags, severities, CRS's messages) decodes to itself and is valid
// UTF-8. Two scans, memchr() for the backslash and then ascii_run_end(), cost twice
// this on values of tens of bytes. Sixteen bytes at a time with SSE2 (every x86-64 has
// it; the last block may overlap the one before), else eight.
bool plain_ascii(std::string_view s) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i backslash = _mm_set1_epi8('\\');
        // High bit set in a byte of `bytes` of 0x80 or above, or equal to a backslash.
        const auto unplain = [&](std::size_t at) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
            return _mm_movemask_epi8(_mm_or_si128(bytes, _mm_cmpeq_epi8(bytes, backslash)));
        };
        for (; n - i > 16; i += 16)
            if (unplain(i))
                return false;
        return unplain(n - 16) == 0;
    }
#endif
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t highs = 0x8080808080808080u;
    constexpr std::uint64_t backslashes = ones * static_cast<unsigned char>('\\');
    for (std::uint64_t w; n - i >= 8; i += 8) {
        std::memcpy(&w, p + i, sizeof w);
        const std::uint64_t x = w ^ backslashes; // a zero byte where w has a backslash
        if ((w | ((x - ones) & ~x)) & highs)
            return false;
    }
    for (; i < n; ++i)
        if (p[i] >= 0x80 || p[i] == '\\')
            return false;
    return true;
}

// modsec_text() into `buffer` or, when it has to be rewritten, `scratch`.
std::string_view modsec_text_view(std::string_view raw, std::size_t max_bytes,
                                  char (&buffer)[k_modsec_decode_bytes], std::string& scratch,
                                  bool* cut)
{
    // What the two steps below give such a value, without them: itself, not cut.
    if (raw.size() <= std::min(max_bytes, k_modsec_decode_bytes) && plain_ascii(raw)) {
        if (cut)
            *cut = false;
        return raw;
    }
    const ModsecText decoded = modsec_decoded(raw, buffer);
    // Most values (ids, tags, CRS's messages) are short ASCII that fits: taken as they are.
    const auto* bytes = reinterpret_cast<const unsigned char*>(decoded.text.data());
    if (decoded.text.size() <= max_bytes &&
        ascii_run_end(bytes, 0, decoded.text.size()) == decoded.text.size()) {
        if (cut)
            *cut = decoded.cut;
        return decoded.text;
    }
    scratch.clear();
    bool string_cut = false;
    append_sanitized(decoded.text, max_bytes, scratch, &string_cut);
    if (cut)
        *cut = decoded.cut || string_cut;
    return scratch;
}

// modsec_text() into `out`, in place: a finding's five texts are written where they stay,
// not made in a temporary and moved there (a move and a destruction each).
void assign_modsec_text(std::string& out, std::string_view raw, std::size_t max_bytes,
                        bool* cut = nullptr)
{
    char buffer[k_modsec_decode_bytes];
    const std::string_view text = modsec_text_view(raw, max_bytes, buffer, out, cut);
    if (text.data() != out.data())
        out.assign(text);
}

} // namespace

std::string modsec_text(std::string_view raw, std::size_t max_bytes, bool* cut)
{
    std::string out;
    assign_modsec_text(out, raw, max_bytes, cut);
    return out;
}

void add_raw_alert_findings(std::string_view section, std::size_t data_max, RequestEvent& event)
{
    if (section.empty())
        return;
    const EncoderLimits limits; // the module's limits besides data_max
    char buffer[k_modsec_decode_bytes];
    std::string scratch;
    // A finding's tags in the list's encoding. A tag's text is at most three times
    // k_max_tag_bytes (each invalid UTF-8 byte of the first k_max_tag_bytes becomes
    // U+FFFD's three), after a length of at most two bytes (under 16 KiB).
    constexpr std::size_t k_max_tag_text = 3 * k_max_tag_bytes;
    static_assert(k_max_tag_text < 0x4000);
    char tags[k_max_tags * (k_max_tag_text + 2)];
    // One allocation for the findings, not one per doubling: the messages are counted
    // first (memchr() from separator to separator; std::count, a byte loop at -O2, cost
    // more than the allocations it saved: docs/BENCHMARKS.md, "two builds at once").
    // The first separators found are kept, so the section is searched once, not twice.
    constexpr std::size_t k_ends_kept = 64;
    std::array<std::size_t, k_ends_kept> ends;
    std::size_t messages = 1;
    for (const char *p = section.data(), *end = p + section.size();
         (p = static_cast<const char*>(std::memchr(p, '\0', static_cast<std::size_t>(end - p))));
         ++p) {
        if (messages <= k_ends_kept)
            ends[messages - 1] = static_cast<std::size_t>(p - section.data());
        ++messages;
    }
    event.findings.reserve(event.findings.size() + std::min(messages, limits.max_findings));
    std::size_t pos = 0;
    for (std::size_t index = 0; pos < section.size(); ++index) {
        std::size_t end = section.size();
        if (index + 1 < messages) { // a separator follows this message
            if (index < k_ends_kept) {
                end = ends[index];
            } else {
                end = static_cast<std::size_t>(
                    static_cast<const char*>(
                        std::memchr(section.data() + pos, '\0', section.size() - pos)) -
                    section.data());
            }
        }
        const std::string_view message = section.substr(pos, end - pos);
        pos = end + 1;
        MessageView m;
        if (!parse_modsec_message(message, m) || !m.is_alert)
            continue;
        if (m.intercepted && !event.intercepted) {
            event.intercepted = true;
            event.phase = m.phase;
        }
        if (event.findings.size() == limits.max_findings) {
            ++event.findings_dropped;
            continue;
        }
        Finding& f = event.findings.emplace_back();
        assign_modsec_text(f.id, m.id, k_max_id_bytes);
        assign_modsec_text(f.msg, m.engine ? m.head : m.msg, limits.max_msg);
        assign_modsec_text(f.severity, m.severity, k_max_severity_bytes);
        f.paranoia_level = m.paranoia_level;
        f.phase = m.phase;
        // The tags encoded here first, then copied into the list at once: one
        // allocation and one copy, not two appends per tag.
        std::size_t tag_bytes = 0;
        for (std::size_t i = 0; i < m.tag_count; ++i) {
            const std::string_view tag =
                modsec_text_view(m.tags[i], k_max_tag_bytes, buffer, scratch, nullptr);
            tag_bytes += put_varint(tags + tag_bytes, tag.size());
            std::memcpy(tags + tag_bytes, tag.data(), tag.size());
            tag_bytes += tag.size();
        }
        f.tags.append_encoded(std::string_view(tags, tag_bytes), m.tag_count);
        assign_modsec_text(f.target, m.target, k_max_target_bytes);
        assign_modsec_text(f.data, m.data, data_max, &f.data_truncated);
        f.intercepted = m.intercepted;
        f.truncated = m.truncated;
        f.engine = m.engine;
    }
}

} // namespace mso
