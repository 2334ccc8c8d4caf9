// Parser for ModSecurity v2 alert messages; see modsec_message.h for the format and the
// trust model. Parsing is a single left-to-right pass over string_views.
#include "modsec_message.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mso {
namespace {

constexpr std::string_view k_marker = "ModSecurity: ";
constexpr std::string_view k_hostname_open = " [hostname \"";

int hex_digit(char h) noexcept
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    if (h >= 'A' && h <= 'F')
        return h - 'A' + 10;
    return -1;
}

// Prefixes here are constants, so the compare is a few loads, not a call.
inline bool starts_with(std::string_view s, std::string_view prefix) noexcept
{
    return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

std::string_view trim_right(std::string_view s) noexcept
{
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// Whether the byte at `pos` is escaped: preceded by an odd run of backslashes that
// starts at or after `from`. In ModSecurity's escaping (and httpd's) a backslash always
// escapes the next byte, so scanning left to right from a position that is not inside
// an escape gives the same answer as this count.
bool escaped_at(std::string_view s, std::size_t from, std::size_t pos) noexcept
{
    std::size_t run = 0;
    while (pos > from + run && s[pos - run - 1] == '\\')
        ++run;
    return run % 2 == 1;
}

// The searches for one byte below look at 16 bytes at a time in line (SSE2, which every
// x86-64 has): most of what they cross is a tag or a short value, where calling
// memchr() or memrchr() took longer than the search, for about as many instructions
// (docs/BENCHMARKS.md, "the alert parse's searches in line"). Elsewhere they are those
// calls.
#if defined(__SSE2__)
// Bit i set where base[i] == c, for the 16 bytes from base.
inline unsigned bytes_equal_16(const char* base, char c) noexcept
{
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(c))));
}
#endif

// The offset of the first `c` in s[pos, s.size()), or npos (pos <= s.size()).
inline std::size_t find_byte(std::string_view s, std::size_t pos, char c) noexcept
{
    const std::size_t n = s.size();
#if defined(__SSE2__)
    if (n >= 16) {
        for (; pos + 16 <= n; pos += 16)
            if (const unsigned m = bytes_equal_16(s.data() + pos, c))
                return pos + static_cast<std::size_t>(__builtin_ctz(m));
        if (pos == n)
            return std::string_view::npos;
        // The last 16 bytes, less those before pos.
        const unsigned m = bytes_equal_16(s.data() + n - 16, c) >> (pos - (n - 16));
        return m ? pos + static_cast<std::size_t>(__builtin_ctz(m)) : std::string_view::npos;
    }
#endif
    const void* q = std::memchr(s.data() + pos, c, n - pos);
    return q ? static_cast<std::size_t>(static_cast<const char*>(q) - s.data())
             : std::string_view::npos;
}

// The offset of the last `c` in s[from, end), or npos (from <= end <= s.size()).
inline std::size_t rfind_byte(std::string_view s, std::size_t from, std::size_t end,
                              char c) noexcept
{
#if defined(__SSE2__)
    for (; end >= from + 16; end -= 16)
        if (const unsigned m = bytes_equal_16(s.data() + end - 16, c))
            return end - 16 + 31 - static_cast<std::size_t>(__builtin_clz(m));
    if (end == from)
        return std::string_view::npos;
    if (end >= 16) {
        // The 16 bytes before end, less those before from.
        const std::size_t block = end - 16;
        const unsigned m = bytes_equal_16(s.data() + block, c) & (~0u << (from - block));
        return m ? block + 31 - static_cast<std::size_t>(__builtin_clz(m)) : std::string_view::npos;
    }
#endif
    if (end <= from)
        return std::string_view::npos;
    const void* q = memrchr(s.data() + from, c, end - from);
    return q ? static_cast<std::size_t>(static_cast<const char*>(q) - s.data())
             : std::string_view::npos;
}

// The offset of the next unescaped '"' at or after `pos` (escapes counted from `from`),
// or npos.
std::size_t find_unescaped_quote(std::string_view s, std::size_t from, std::size_t pos) noexcept
{
    while (pos < s.size()) {
        pos = find_byte(s, pos, '"');
        if (pos == std::string_view::npos)
            return pos;
        if (!escaped_at(s, from, pos))
            return pos;
        ++pos;
    }
    return std::string_view::npos;
}

// The offset of the last occurrence of `item` (" [key \"") in `s`, or npos: each '['
// is found from the end, so a message is not compared at every byte, and the key's
// first letter turns most other items ([tag "...]) away before a compare.
std::size_t rfind_item(std::string_view s, std::string_view item) noexcept
{
    const char key_first = item[2];
    std::size_t end = s.size();
    while (end > 1) {
        const std::size_t b = rfind_byte(s, 1, end, '[');
        if (b == std::string_view::npos)
            return b;
        const std::size_t at = b - 1;
        if (at + 2 < s.size() && s[at + 2] == key_first && s.compare(at, item.size(), item) == 0)
            return at;
        end = at + 1;
    }
    return std::string_view::npos;
}

// Parses the decimal number at the start of `s` (at most 6 digits); 0 when none.
int leading_number(std::string_view s) noexcept
{
    int value = 0;
    std::size_t i = 0;
    for (; i < s.size() && i < 6 && s[i] >= '0' && s[i] <= '9'; ++i)
        value = value * 10 + (s[i] - '0');
    return i == 0 ? 0 : value;
}

// Reads ` [key "value"]` items from `meta` (values are ModSecurity-escaped, so a raw
// quote followed by `]` always ends a value). Calls on_item(key, value) for each
// complete item; returns the offset where parsing stopped.
template <typename OnItem> std::size_t read_items(std::string_view meta, OnItem&& on_item) noexcept
{
    std::size_t i = 0;
    while (i + 2 < meta.size() && meta[i] == ' ' && meta[i + 1] == '[') {
        const std::size_t key_start = i + 2;
        // Keys are short words (at most 16 bytes): their end is the first ` "` among the
        // next 18 bytes, found byte by byte (a search call costs more than the key); a
        // [tag], most items, is recognised at once (its key has no ` "` before its end).
        const std::size_t key_limit = std::min(meta.size(), key_start + 18);
        std::size_t key_end = key_start;
        if (key_limit - key_start >= 5 && std::memcmp(meta.data() + key_start, "tag \"", 5) == 0)
            key_end = key_start + 3;
        else
            while (key_end + 1 < key_limit && !(meta[key_end] == ' ' && meta[key_end + 1] == '"'))
                ++key_end;
        if (key_end + 1 >= key_limit || key_end - key_start > 16)
            break;
        const std::size_t value_start = key_end + 2;
        // A value ends at the first unescaped quote that a ']' follows.
        std::size_t j = value_start;
        while ((j = find_unescaped_quote(meta, value_start, j)) != std::string_view::npos &&
               !(j + 1 < meta.size() && meta[j + 1] == ']'))
            ++j;
        if (j == std::string_view::npos)
            break;
        on_item(meta.substr(key_start, key_end - key_start),
                meta.substr(value_start, j - value_start));
        i = j + 2;
    }
    return i;
}

// The variable an operator head names: `... at ARGS:id.` or `against "VAR" required.`
std::string_view target_from_head(std::string_view head) noexcept
{
    // Skip past the quoted pattern or match, whose quotes are escaped inside: after the
    // last unescaped quote.
    std::size_t after_quotes = 0;
    for (std::size_t end = head.size(); end > 0;) {
        const void* q = memrchr(head.data(), '"', end);
        if (!q)
            break;
        const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - head.data());
        if (!escaped_at(head, 0, at)) {
            after_quotes = at + 1;
            break;
        }
        end = at;
    }
    // ` against "VAR"`: its quote is one of the head's few, so look at quotes only.
    constexpr std::string_view against = " against ";
    for (std::size_t q = head.find('"', against.size()); q != std::string_view::npos;
         q = head.find('"', q + 1)) {
        if (head.compare(q - against.size(), against.size(), against) == 0) {
            const std::size_t end = head.find('"', q + 1);
            if (end != std::string_view::npos)
                return head.substr(q + 1, end - q - 1);
            break;
        }
    }
    constexpr std::string_view at = " at ";
    std::size_t a = head.find(at, after_quotes);
    if (a == std::string_view::npos)
        return {};
    std::string_view t = head.substr(a + at.size());
    if (!t.empty() && t.back() == '.')
        t.remove_suffix(1);
    return t;
}

// The variable CRS names in [data]: `Matched Data: X found within ARGS:id: value`.
std::string_view target_from_data(std::string_view data) noexcept
{
    constexpr std::string_view within = "found within ";
    const std::size_t w = data.find(within);
    if (w == std::string_view::npos)
        return {};
    std::string_view t = data.substr(w + within.size());
    const std::size_t colon = t.find(": ");
    return colon == std::string_view::npos ? t : t.substr(0, colon);
}

void add_tag(MessageView& m, std::string_view tag) noexcept
{
    constexpr std::string_view pl = "paranoia-level/";
    if (starts_with(tag, pl) && m.paranoia_level == 0)
        m.paranoia_level = leading_number(tag.substr(pl.size()));
    for (std::size_t i = 0; i < m.tag_count; ++i)
        if (m.tags[i] == tag)
            return;
    if (m.tag_count == m.tags.size()) {
        ++m.tags_dropped;
        return;
    }
    m.tags[m.tag_count++] = tag;
}

// Which field a key names: by its length first, so most keys take one compare
// (a [tag] item, the commonest, takes one).
[[gnu::always_inline]] inline void set_item(MessageView& m, std::string_view key,
                                            std::string_view value) noexcept
{
    switch (key.size()) {
    case 2:
        if (key == "id")
            m.id = value;
        break;
    case 3:
        if (key == "tag")
            add_tag(m, value);
        else if (key == "msg")
            m.msg = value;
        else if (key == "rev")
            m.rev = value;
        else if (key == "ver")
            m.ver = value;
        else if (key == "uri")
            m.uri = value;
        break;
    case 4:
        if (key == "data")
            m.data = value;
        else if (key == "file")
            m.file = value;
        else if (key == "line")
            m.line = value;
        break;
    case 8:
        if (key == "severity")
            m.severity = value;
        else if (key == "hostname")
            m.hostname = value;
        break;
    case 9:
        if (key == "unique_id")
            m.unique_id = value;
        break;
    default: break;
    }
}

void parse_head(MessageView& m, std::string_view head) noexcept
{
    m.head = head;
    constexpr std::string_view denied = "Access denied";
    m.intercepted = starts_with(head, denied);
    m.is_alert = m.intercepted || starts_with(head, "Warning.") || starts_with(head, "Access ");
    constexpr std::string_view code = "Access denied with code ";
    if (starts_with(head, code))
        m.status = leading_number(head.substr(code.size()));
    constexpr std::string_view phase = "(phase ";
    if (m.is_alert && !starts_with(head, "Warning.")) {
        if (std::size_t p = head.find(phase); p != std::string_view::npos)
            m.phase = leading_number(head.substr(p + phase.size()));
    }
    m.target = target_from_head(head);
}

// Every message mod_security2 logs about a request (with its trailer) is a finding;
// one without a rule id that was not cut is the engine's own.
void classify(MessageView& m) noexcept
{
    if (!m.hostname.empty() || !m.unique_id.empty() || m.truncated)
        m.is_alert = true;
    m.engine = m.is_alert && m.id.empty() && !m.truncated;
}

} // namespace

bool parse_modsec_message(std::string_view text, MessageView& out) noexcept
{
    out = MessageView{};
    const std::size_t marker = text.find(k_marker);
    if (marker == std::string_view::npos)
        return false;
    std::string_view body = trim_right(text.substr(marker + k_marker.size()));

    // The trailer mod_security2 appends after its 1024-byte part; the last occurrence is
    // genuine because every value after it is escaped.
    std::string_view part = body;
    if (const std::size_t h = rfind_item(body, k_hostname_open); h != std::string_view::npos) {
        part = body.substr(0, h);
        read_items(body.substr(h),
                   [&](std::string_view k, std::string_view v) { set_item(out, k, v); });
    } else {
        out.truncated = true; // Apache cut the whole line before the trailer
    }
    if (part.size() >= k_modsec_message_limit - 1)
        out.truncated = true;

    std::size_t meta = rfind_item(part, " [file \"");
    if (meta == std::string_view::npos)
        meta = rfind_item(part, " [id \"");
    if (meta == std::string_view::npos) {
        parse_head(out, trim_right(part));
        classify(out);
        return true;
    }
    // The trailer's fields are kept even if the metadata repeats a key.
    const std::string_view hostname = out.hostname, uri = out.uri, unique_id = out.unique_id;
    parse_head(out, trim_right(part.substr(0, meta)));
    read_items(part.substr(meta),
               [&](std::string_view k, std::string_view v) { set_item(out, k, v); });
    out.hostname = hostname;
    out.uri = uri;
    out.unique_id = unique_id;
    if (!out.id.empty())
        out.is_alert = true;
    if (out.target.empty())
        out.target = target_from_data(out.data);
    classify(out);
    return true;
}

namespace {

// Undoes one backslash-escaping layer: runs without a backslash are copied whole (most
// messages have none or few), an escape becomes its byte. `in` and `out` may be the
// same buffer (the output is never ahead of the input). `quote`: `\"` is an escape too
// (ModSecurity's layer; httpd's does not escape quotes). An unknown escape, a lone
// trailing backslash or `\x` without two hex digits keeps the backslash.
std::size_t unescape_runs(const char* in, std::size_t size, char* out, std::size_t cap,
                          bool quote) noexcept
{
    std::size_t i = 0, n = 0;
    while (i < size && n < cap) {
        const void* found = std::memchr(in + i, '\\', size - i);
        std::size_t run =
            found ? static_cast<std::size_t>(static_cast<const char*>(found) - (in + i)) : size - i;
        if (run > cap - n)
            run = cap - n;
        if (out + n != in + i)
            std::memmove(out + n, in + i, run);
        n += run;
        i += run;
        if (i >= size || n >= cap)
            break;
        // in[i] is a backslash.
        char c = '\\';
        std::size_t used = 1;
        if (i + 1 < size) {
            switch (in[i + 1]) {
            case '\\':
                c = '\\';
                used = 2;
                break;
            case 'b':
                c = '\b';
                used = 2;
                break;
            case 'n':
                c = '\n';
                used = 2;
                break;
            case 'r':
                c = '\r';
                used = 2;
                break;
            case 't':
                c = '\t';
                used = 2;
                break;
            case 'v':
                c = '\v';
                used = 2;
                break;
            case '"':
                if (quote) {
                    c = '"';
                    used = 2;
                }
                break;
            case 'x':
                if (i + 3 < size && hex_digit(in[i + 2]) >= 0 && hex_digit(in[i + 3]) >= 0) {
                    c = static_cast<char>(hex_digit(in[i + 2]) * 16 + hex_digit(in[i + 3]));
                    used = 4;
                }
                break;
            default: break;
            }
        }
        out[n++] = c;
        i += used;
    }
    return n;
}

} // namespace

std::size_t apache_log_unescape(char* text, std::size_t size) noexcept
{
    return unescape_runs(text, size, text, size, false);
}

std::size_t modsec_unescape(std::string_view raw, char* out, std::size_t cap) noexcept
{
    return unescape_runs(raw.data(), raw.size(), out, cap, true);
}

ModsecText modsec_decoded(std::string_view raw, char (&buffer)[k_modsec_decode_bytes]) noexcept
{
    if (raw.size() <= k_modsec_decode_bytes &&
        (raw.empty() || !std::memchr(raw.data(), '\\', raw.size())))
        return {raw, false};
    const std::size_t n = modsec_unescape(raw, buffer, k_modsec_decode_bytes);
    return {std::string_view(buffer, n),
            raw.size() > k_modsec_decode_bytes && n == k_modsec_decode_bytes};
}

} // namespace mso
