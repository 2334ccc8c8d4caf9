// CRS anomaly scores, and how they are read from the environment variables that
// conf/modsec_observe_rules.conf sets in phase 5. CRS 3.3 and CRS 4 name their
// transaction variables differently; the snippet exports both sets and
// scores_from_env() picks whichever the running CRS filled. Never allocates.
#pragma once

#include <array>
#include <string_view>

namespace mso {

struct AnomalyScores {
    int inbound = 0;  // blocking inbound score (summed up to the blocking paranoia level)
    int outbound = 0; // blocking outbound score
    std::array<int, 4> inbound_pl{};
    std::array<int, 4> outbound_pl{};
    // 0 when unknown: the snippet exports the thresholds and paranoia levels only for
    // requests a rule with a severity matched (keeps clean requests cheap).
    int inbound_threshold = 0;
    int outbound_threshold = 0;
    int blocking_pl = 0;
    int detection_pl = 0;

    bool operator==(const AnomalyScores&) const = default;
};

// Looks up an environment variable; returns "" when it is not set.
using EnvLookup = std::string_view (*)(void* context, const char* name) noexcept;

// Fills `out` from the snippet's variables. Returns false when none of them is set
// (MSO_SNIPPET where it stopped early, MSO_CRS3 or MSO_CRS4 where it exported scores):
// the snippet is not installed or did not run for the request.
[[nodiscard]] bool scores_from_env(EnvLookup lookup, void* context, AnomalyScores& out) noexcept;

} // namespace mso
