// Unsigned LEB128 varints: the lengths in a finding's tag list (tag_list.h) and the
// numbers of the history store's blobs (docs/STORE.md). Untrusted input: get_varint()
// never reads past `in` and refuses a value over 64 bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mso {

// Writes `value` at `out`, which has room for 10 bytes; returns the bytes written.
inline std::size_t put_varint(char* out, std::uint64_t value) noexcept
{
    std::size_t n = 0;
    while (value >= 0x80U) {
        out[n++] = static_cast<char>((value & 0x7fU) | 0x80U);
        value >>= 7U;
    }
    out[n++] = static_cast<char>(value);
    return n;
}

inline void put_varint(std::string& out, std::uint64_t value)
{
    while (value >= 0x80U) {
        out.push_back(static_cast<char>((value & 0x7fU) | 0x80U));
        value >>= 7U;
    }
    out.push_back(static_cast<char>(value));
}

// Reads one varint from the front of `in` and removes it; false (and `in` partly
// consumed) when `in` ends first or the value does not fit 64 bits.
[[nodiscard]] inline bool get_varint(std::string_view& in, std::uint64_t& value) noexcept
{
    value = 0;
    for (unsigned shift = 0; shift < 64 && !in.empty(); shift += 7) {
        const auto byte = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        if (shift == 63 && byte > 1) {
            return false;
        }
        value |= static_cast<std::uint64_t>(byte & 0x7fU) << shift;
        if ((byte & 0x80U) == 0) {
            return true;
        }
    }
    return false;
}

} // namespace mso
