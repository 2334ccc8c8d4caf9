// Unique ids as Apache's mod_unique_id makes them (the ids ModSecurity v2 logs), for the
// benchmarks that store events: 20 bytes, the request's second (big-endian), the child's
// random 10-byte root, the child's counter and the connection id, in 27 characters of
// its base64url alphabet (current httpd's; older releases had '@' and '-'). The history
// store keys ids by the second they carry (docs/STORE.md), so a benchmark with random
// ids would measure another store.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace bench {

// Children of one server: their roots and counters are fixed per process (seeded).
inline constexpr std::size_t k_children = 16;

// The id of a request at `time_us` served by child `child % k_children` on `connection`.
inline std::string apache_unique_id(std::int64_t time_us, std::size_t child,
                                    std::uint32_t connection)
{
    struct Child {
        std::array<unsigned char, 10> root{};
        std::uint16_t counter = 0;
    };
    static std::array<Child, k_children> children = [] {
        std::array<Child, k_children> c{};
        std::uint64_t seed = 7;
        auto next = [&seed] { // splitmix64
            std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
            return z ^ (z >> 31U);
        };
        for (auto& one : c) {
            for (auto& b : one.root) {
                b = static_cast<unsigned char>(next());
            }
            one.counter = static_cast<std::uint16_t>(next());
        }
        return c;
    }();
    Child& one = children[child % k_children];
    const auto second = static_cast<std::uint32_t>(time_us / 1'000'000);
    std::array<unsigned char, 21> raw{}; // 20 bytes and a zero pad for the last triple
    for (std::size_t i = 0; i < 4; ++i) {
        raw[i] = static_cast<unsigned char>(second >> (24 - 8 * i));
        raw[16 + i] = static_cast<unsigned char>(connection >> (24 - 8 * i));
    }
    std::memcpy(raw.data() + 4, one.root.data(), one.root.size());
    raw[14] = static_cast<unsigned char>(one.counter >> 8U);
    raw[15] = static_cast<unsigned char>(one.counter);
    ++one.counter;
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string id;
    for (std::size_t i = 0; i < 20; i += 3) {
        const unsigned v = (unsigned{raw[i]} << 16U) | (unsigned{raw[i + 1]} << 8U) | raw[i + 2];
        for (unsigned k = 0; k < 4 && id.size() < 27; ++k) {
            id += k_alphabet[(v >> (18U - 6U * k)) & 63U];
        }
    }
    return id;
}

} // namespace bench
