// Distribution of CRS anomaly scores with fixed buckets, for the stats answer and
// Prometheus histograms. Plain value type; not thread-safe; never blocks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace mso {

struct ScoreHistogram {
    // Upper bounds (inclusive) of the finite buckets; CRS scores are small integers,
    // 5 is the default inbound threshold and 4 the outbound one.
    static constexpr std::array<int, 14> k_bounds = {0,  1,  2,  3,  4,  5,  7,
                                                     10, 15, 20, 25, 30, 50, 100};

    std::array<std::uint64_t, k_bounds.size() + 1> counts{}; // last: above 100
    std::uint64_t sum = 0;
    std::uint64_t count = 0;

    void observe(int score, std::uint64_t n = 1) noexcept
    {
        const int s = score < 0 ? 0 : score;
        std::size_t i = 0;
        while (i < k_bounds.size() && s > k_bounds[i]) {
            ++i;
        }
        counts[i] += n;
        sum += static_cast<std::uint64_t>(s) * n;
        count += n;
    }
};

} // namespace mso
