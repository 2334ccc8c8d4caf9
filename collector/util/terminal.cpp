// A strict UTF-8 decoder (no overlong forms, no surrogates, nothing above
// U+10FFFF) drives both escaping and column counting, so that what is measured
// is exactly what is printed.
#include "util/terminal.h"

#include <array>
#include <cstdint>

namespace mso {

namespace {

constexpr char32_t k_invalid = 0xFFFFFFFF;

struct Decoded {
    char32_t code_point; // k_invalid when the sequence at the position is invalid
    std::size_t length;  // bytes consumed (1 for an invalid byte)
};

// Decodes the code point starting at text[pos].
Decoded decode_at(std::string_view text, std::size_t pos)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char b0 = byte(pos);
    if (b0 < 0x80) {
        return {b0, 1};
    }
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
        cp = b0 & 0x1Fu;
        min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        cp = b0 & 0x0Fu;
        min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        cp = b0 & 0x07u;
        min = 0x10000;
    } else {
        return {k_invalid, 1};
    }
    if (text.size() - pos < length) {
        return {k_invalid, 1};
    }
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned char b = byte(pos + i);
        if ((b & 0xC0u) != 0x80u) {
            return {k_invalid, 1};
        }
        cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return {k_invalid, 1};
    }
    return {cp, length};
}

bool needs_escape(char32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || // C0, DEL, C1
           (cp >= 0x200E && cp <= 0x200F) ||          // LRM, RLM
           (cp >= 0x2028 && cp <= 0x202E) ||          // separators, bidi embeddings
           (cp >= 0x2066 && cp <= 0x2069);            // bidi isolates
}

void append_hex(std::string& out, std::uint32_t value, int digits)
{
    static constexpr std::array<char, 16> k_hex{'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
        out += k_hex[(value >> shift) & 0xFu];
    }
}

struct Range {
    char32_t first;
    char32_t last;
};

// Combining marks and zero-width characters (a practical subset).
constexpr std::array<Range, 9> k_zero_width{{
    {0x0300, 0x036F},
    {0x0483, 0x0489},
    {0x0591, 0x05BD},
    {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF},
    {0x200B, 0x200D},
    {0x20D0, 0x20FF},
    {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F},
}};

// East Asian wide and fullwidth characters and emoji (a practical subset).
constexpr std::array<Range, 12> k_wide{{
    {0x1100, 0x115F},
    {0x2E80, 0x303E},
    {0x3041, 0x33FF},
    {0x3400, 0x4DBF},
    {0x4E00, 0x9FFF},
    {0xA000, 0xA4CF},
    {0xAC00, 0xD7A3},
    {0xF900, 0xFAFF},
    {0xFE30, 0xFE4F},
    {0xFF00, 0xFF60},
    {0xFFE0, 0xFFE6},
    {0x1F300, 0x3FFFD},
}};

bool in(const auto& ranges, char32_t cp)
{
    for (const Range& r : ranges) {
        if (cp >= r.first && cp <= r.last) {
            return true;
        }
    }
    return false;
}

std::size_t columns(char32_t cp)
{
    if (cp == k_invalid) {
        return 1;
    }
    if (in(k_zero_width, cp)) {
        return 0;
    }
    return in(k_wide, cp) ? 2 : 1;
}

} // namespace

std::string terminal_safe(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size();) {
        const Decoded d = decode_at(text, pos);
        if (d.code_point == k_invalid) {
            out += "\\x";
            append_hex(out, static_cast<unsigned char>(text[pos]), 2);
        } else if (d.code_point < 0x80 && needs_escape(d.code_point)) {
            out += "\\x";
            append_hex(out, d.code_point, 2);
        } else if (needs_escape(d.code_point)) {
            out += "\\u";
            append_hex(out, d.code_point, 4);
        } else {
            out.append(text.substr(pos, d.length));
        }
        pos += d.length;
    }
    return out;
}

std::size_t display_width(std::string_view text)
{
    std::size_t width = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const Decoded d = decode_at(text, pos);
        width += columns(d.code_point);
        pos += d.length;
    }
    return width;
}

std::string fit_width(std::string_view text, std::size_t width)
{
    if (display_width(text) <= width) {
        return std::string(text);
    }
    if (width == 0) {
        return {};
    }
    static constexpr std::string_view k_ellipsis = "\xE2\x80\xA6"; // U+2026, one column
    std::string out;
    std::size_t used = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const Decoded d = decode_at(text, pos);
        const std::size_t w = columns(d.code_point);
        if (used + w > width - 1) {
            break;
        }
        out.append(text.substr(pos, d.length));
        used += w;
        pos += d.length;
    }
    out += k_ellipsis;
    return out;
}

} // namespace mso
