// A string cut to at most `max` bytes at a UTF-8 character boundary: the keys of the
// heavy-hitter lists (paths, user agents, targets) are bounded the same way whether
// they are counted in memory (state/aggregator.cpp) or from history
// (store/history_top.cpp, history_aggregates.cpp), so a long path has one key in both. Pure.
#pragma once

#include <cstddef>
#include <string_view>

namespace mso {

// Longest key kept in a heavy-hitter list (paths, user agents, targets): longer ones are
// cut, in memory and from history alike.
inline constexpr std::size_t k_max_top_key_bytes = 256;

[[nodiscard]] inline std::string_view utf8_cut(std::string_view s, std::size_t max) noexcept
{
    if (s.size() <= max) {
        return s;
    }
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
        --n;
    }
    return s.substr(0, n);
}

} // namespace mso
