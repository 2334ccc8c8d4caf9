// UTF-8 validation shared by the module's JSON writer and the collector's reading of
// version 2 alerts, so both make the same text of the same bytes. RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>

namespace mso {

// Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 when it is not one.
inline std::size_t utf8_sequence(const unsigned char* s, std::size_t n) noexcept
{
    const unsigned char b = s[0];
    if (b < 0x80)
        return 1;
    auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        return i < n && s[i] >= lo && s[i] <= hi;
    };
    if (b >= 0xC2 && b <= 0xDF)
        return cont(1) ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        const unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;
        const unsigned char hi = b == 0xED ? 0x9F : 0xBF;
        return cont(1, lo, hi) && cont(2) ? 3 : 0;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        const unsigned char lo = b == 0xF0 ? 0x90 : 0x80;
        const unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;
        return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

} // namespace mso
