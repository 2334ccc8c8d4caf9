// The live terminal view of `modsec-observe top`, in the spirit of apachetop: per vhost
// the request, flagged and blocked rates since the previous refresh, totals, the hottest
// rule, and the top clients. Keeps the previous totals to compute rates. Strings from
// the collector are made terminal-safe. Not thread-safe; never blocks.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace mso {

class LiveView {
public:
    // One screen from a `stats` answer and a `top clients` answer taken at `now`
    // (Unix seconds). Starts with a clear-screen sequence when `clear` is set.
    [[nodiscard]] std::string render(const nlohmann::ordered_json& stats,
                                     const nlohmann::ordered_json& clients, std::int64_t now,
                                     bool clear);

private:
    struct Totals {
        std::uint64_t requests = 0;
        std::uint64_t flagged = 0;
        std::uint64_t intercepted = 0;
    };
    std::map<std::string, Totals> m_previous;
    std::int64_t m_previous_time = 0;
};

} // namespace mso
