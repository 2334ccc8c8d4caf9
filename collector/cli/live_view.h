// The live terminal view of `modsec-observe top`, in the spirit of apachetop: a summary
// line per vhost (request, flagged and blocked rates since the previous refresh, and
// totals), then per vhost its hottest rules and its top clients. One lean `stats` query
// per refresh asks for just that (request()). Keeps the previous totals to compute
// rates. Strings from the collector are made terminal-safe. Not thread-safe; never
// blocks.
#pragma once

#include "protocol/query.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace mso {

// Rules and clients shown per vhost.
inline constexpr std::size_t k_live_top_rules = 3;
inline constexpr std::size_t k_live_top_clients = 3;

class LiveView {
public:
    // All vhosts, or only `vhost` when it is not empty.
    explicit LiveView(std::string vhost = {}) : m_vhost(std::move(vhost)) {}

    // The query to send before each render(): `stats` with at most k_live_top_rules
    // rules and k_live_top_clients top clients per vhost.
    [[nodiscard]] Query request() const;

    // One screen from the answer to request() taken at `now` (Unix seconds). Starts
    // with a clear-screen sequence when `clear` is set.
    [[nodiscard]] std::string render(const nlohmann::ordered_json& stats, std::int64_t now,
                                     bool clear);

private:
    struct Totals {
        std::uint64_t requests = 0;
        std::uint64_t flagged = 0;
        std::uint64_t intercepted = 0;
    };
    std::string m_vhost;
    std::map<std::string, Totals> m_previous;
    std::int64_t m_previous_time = 0;
};

} // namespace mso
