// FNV-1a, 64 bits: the history store's unique-id keys (store/history_store.cpp). Stored:
// changing it changes what is on disk. Pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace mso {

inline constexpr std::uint64_t k_fnv1a64_offset = 14695981039346656037ULL;

// FNV-1a 64 over `bytes`, continuing from `hash` (pass the result back to hash in parts).
[[nodiscard]] inline std::uint64_t fnv1a64(std::string_view bytes,
                                           std::uint64_t hash = k_fnv1a64_offset) noexcept
{
    for (const char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return hash;
}

} // namespace mso
