// Bounded JSON writer; see json_writer.h. UTF-8 validation follows RFC 3629 (no
// overlongs, no surrogates, nothing above U+10FFFF).
#include "json_writer.h"

#include "modsec_message.h"
#include "utf8.h"

#include <cstring>

namespace mso {
namespace {

// Eight bytes of which none needs escaping: printable ASCII other than '"' and '\\'.
// Word-at-a-time tests (no byte-order dependence: only "all plain" is asked).
bool plain_word(std::uint64_t w) noexcept
{
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t highs = 0x8080808080808080u;
    // A byte is zero iff (b - 1) & ~b has its high bit set; this flags every byte of
    // the word that is zero, and may also flag bytes above one that is.
    auto zero_byte = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs; // b < 0x20 (or b >= 0x80)
    const std::uint64_t special =
        below_space | (w & highs) | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'));
    return special == 0;
}

// The end of the run of bytes from `i` that need no escaping, at most `n`.
std::size_t plain_run_end(const unsigned char* s, std::size_t i, std::size_t n) noexcept
{
    while (n - i >= 8) {
        std::uint64_t w;
        std::memcpy(&w, s + i, sizeof w);
        if (!plain_word(w))
            break;
        i += 8;
    }
    while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        ++i;
    return i;
}

} // namespace

JsonWriter::JsonWriter(char* buffer, std::size_t capacity) noexcept
    : m_buffer(buffer), m_capacity(capacity), m_limit(capacity)
{
}

void JsonWriter::separator() noexcept
{
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (!m_first[m_depth])
        put(',');
    m_first[m_depth] = false;
}

void JsonWriter::open(char c) noexcept
{
    separator();
    put(c);
    if (m_depth == k_max_depth) {
        m_overflow = true;
        return;
    }
    m_first[++m_depth] = true;
}

void JsonWriter::close(char c) noexcept
{
    put(c);
    if (m_depth > 0)
        --m_depth;
}

void JsonWriter::key(std::string_view name) noexcept
{
    separator();
    // One bounds check for the three parts: a key is written for every field.
    const std::size_t size = name.size() + 3;
    if (m_overflow || size > m_limit - m_size) {
        m_overflow = true;
    } else {
        char* out = m_buffer + m_size;
        out[0] = '"';
        std::memcpy(out + 1, name.data(), name.size());
        out[size - 2] = '"';
        out[size - 1] = ':';
        m_size += size;
    }
    m_after_key = true;
}

void JsonWriter::string(std::string_view value, std::size_t max_bytes, bool* cut) noexcept
{
    separator();
    put('"');
    const auto* s = reinterpret_cast<const unsigned char*>(value.data());
    const std::size_t n = value.size() < max_bytes ? value.size() : max_bytes;
    std::size_t i = 0;
    char escape[8];
    while (i < n && !m_overflow) {
        const unsigned char b = s[i];
        if (b >= 0x80) {
            const std::size_t len = utf8_sequence(s + i, value.size() - i);
            if (len == 0) {
                put("\\ufffd");
                ++i;
            } else if (i + len > n) {
                break; // the limit falls inside this character: stop before it
            } else {
                put(value.substr(i, len));
                i += len;
            }
            continue;
        }
        switch (b) {
        case '"': put("\\\""); break;
        case '\\': put("\\\\"); break;
        case '\n': put("\\n"); break;
        case '\r': put("\\r"); break;
        case '\t': put("\\t"); break;
        default:
            if (b < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                std::memcpy(escape, "\\u00", 4);
                escape[4] = hex[b >> 4];
                escape[5] = hex[b & 0xF];
                put(std::string_view(escape, 6));
            } else {
                // Copy the whole run of characters that need no escaping at once: byte by
                // byte this loop was half of the module's cost per flagged request.
                const std::size_t end = plain_run_end(s, i + 1, n);
                put(value.substr(i, end - i));
                i = end;
                continue;
            }
        }
        ++i;
    }
    put('"');
    if (cut)
        *cut = i < value.size();
}

void JsonWriter::modsec_string(std::string_view raw, std::size_t max_bytes, bool* cut) noexcept
{
    char buffer[k_modsec_decode_bytes];
    const ModsecText decoded = modsec_decoded(raw, buffer);
    bool string_cut = false;
    string(decoded.text, max_bytes, &string_cut);
    if (cut)
        *cut = decoded.cut || string_cut;
}

void JsonWriter::integer(std::int64_t value) noexcept
{
    separator();
    char digits[24];
    std::size_t pos = sizeof digits;
    // Work in unsigned space so INT64_MIN is handled.
    std::uint64_t u =
        value < 0 ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    do {
        digits[--pos] = static_cast<char>('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (value < 0)
        digits[--pos] = '-';
    put(std::string_view(digits + pos, sizeof digits - pos));
}

void JsonWriter::boolean(bool value) noexcept
{
    separator();
    put(value ? "true" : "false");
}

void JsonWriter::null() noexcept
{
    separator();
    put("null");
}

void JsonWriter::reserve(std::size_t bytes) noexcept
{
    m_limit = bytes < m_capacity ? m_capacity - bytes : 0;
}

void JsonWriter::rollback(const Mark& m) noexcept
{
    m_size = m.size;
    m_depth = m.depth;
    m_first[m_depth] = m.first;
    m_after_key = false;
    m_overflow = false;
}

} // namespace mso
