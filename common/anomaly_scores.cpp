// Reading CRS anomaly scores from the snippet's environment variables. The variable
// names here must match conf/modsec_observe_rules.conf.
#include "anomaly_scores.h"

namespace mso {
namespace {

// A non-negative decimal from an environment value; `fallback` when empty or invalid.
int to_int(std::string_view s, int fallback) noexcept {
    if (s.empty() || s.size() > 9)
        return fallback;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return fallback;
        v = v * 10 + (c - '0');
    }
    return v;
}

} // namespace

bool scores_from_env(EnvLookup lookup, void* context, AnomalyScores& out) noexcept {
    out = AnomalyScores{};
    if (lookup(context, "MSO_SNIPPET").empty())
        return false;
    auto get = [&](const char* name, int fallback = 0) {
        return to_int(lookup(context, name), fallback);
    };
    static constexpr const char* out_pl[4] = {"MSO_OUT_PL1", "MSO_OUT_PL2", "MSO_OUT_PL3",
                                              "MSO_OUT_PL4"};
    out.inbound_threshold = get("MSO_IN_THRESHOLD");
    out.outbound_threshold = get("MSO_OUT_THRESHOLD");
    for (std::size_t i = 0; i < 4; ++i)
        out.outbound_pl[i] = get(out_pl[i]);

    if (!lookup(context, "MSO_BLOCKING_PL").empty()) { // CRS 4
        static constexpr const char* in_pl[4] = {"MSO_IN_PL1", "MSO_IN_PL2", "MSO_IN_PL3",
                                                 "MSO_IN_PL4"};
        for (std::size_t i = 0; i < 4; ++i)
            out.inbound_pl[i] = get(in_pl[i]);
        out.blocking_pl = get("MSO_BLOCKING_PL", 1);
        out.detection_pl = get("MSO_DETECTION_PL", out.blocking_pl);
        out.inbound = get("MSO_IN_BLOCKING");
        out.outbound = get("MSO_OUT_BLOCKING");
        return true;
    }
    // CRS 3.3: per-level inbound scores are tx.anomaly_score_plN; the blocking totals
    // are the sums up to tx.paranoia_level (tx.inbound_anomaly_score is set only by
    // 949110, above the threshold).
    static constexpr const char* in_pl_v3[4] = {"MSO_IN_PL1_V3", "MSO_IN_PL2_V3",
                                                "MSO_IN_PL3_V3", "MSO_IN_PL4_V3"};
    for (std::size_t i = 0; i < 4; ++i)
        out.inbound_pl[i] = get(in_pl_v3[i]);
    out.blocking_pl = get("MSO_PL_V3", 1);
    out.detection_pl = get("MSO_EXEC_PL_V3", out.blocking_pl);
    for (std::size_t i = 0; i < 4 && static_cast<int>(i) < out.blocking_pl; ++i) {
        out.inbound += out.inbound_pl[i];
        out.outbound += out.outbound_pl[i];
    }
    return true;
}

} // namespace mso
