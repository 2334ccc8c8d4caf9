// Reading CRS anomaly scores from the snippet's environment variables. The variable
// names here must match conf/modsec_observe_rules.conf.
#include "anomaly_scores.h"

namespace mso {
namespace {

// A non-negative decimal from an environment value; `fallback` when empty or invalid.
int to_int(std::string_view s, int fallback) noexcept
{
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

// Splits "a,b,,d" into up to `n` integers (an empty or invalid field is 0, and an
// empty one sets its bit in `empty`); returns the number of fields.
std::size_t split_ints(std::string_view s, int* out, std::size_t n, unsigned& empty) noexcept
{
    std::size_t count = 0;
    empty = 0;
    while (count < n) {
        const std::size_t comma = s.find(',');
        const std::string_view field = s.substr(0, comma);
        if (field.empty()) {
            empty |= 1u << count;
        }
        out[count++] = to_int(field, 0);
        if (comma == std::string_view::npos)
            break;
        s.remove_prefix(comma + 1);
    }
    return count;
}

// Fields 0-3, the same in both variables: inbound and outbound thresholds, then the
// blocking paranoia level (CRS 3: tx.paranoia_level; empty, hence 1, where the snippet
// exports detection level 1: CRS calls a blocking level above the detection one illegal,
// conf/modsec_observe_rules.conf says where that is not exact) and the detection one
// (CRS 3: tx.executing_paranoia_level), defaulting to the blocking one.
void read_thresholds_and_levels(const int* f, AnomalyScores& out) noexcept
{
    out.inbound_threshold = f[0];
    out.outbound_threshold = f[1];
    out.blocking_pl = f[2] > 0 ? f[2] : 1;
    out.detection_pl = f[3] > 0 ? f[3] : out.blocking_pl;
}

// The per-level scores summed up to the blocking paranoia level: CRS's blocking total.
int sum_to_blocking(const std::array<int, 4>& per_level, const AnomalyScores& scores) noexcept
{
    int sum = 0;
    for (std::size_t i = 0; i < per_level.size() && static_cast<int>(i) < scores.blocking_pl; ++i) {
        sum += per_level[i];
    }
    return sum;
}

} // namespace

bool scores_from_env(EnvLookup lookup, void* context, AnomalyScores& out) noexcept
{
    out = AnomalyScores{};
    // The snippet sets MSO_SNIPPET where it stops early (no rule with a severity
    // matched), else one of the two score variables; earlier snippets set MSO_SNIPPET
    // always.
    int f[14] = {};
    unsigned empty = 0;
    if (const std::string_view v4 = lookup(context, "MSO_CRS4"); !v4.empty()) {
        // thresholds in/out, blocking PL, detection PL, blocking in/out, in PL1-4, out PL1-4
        split_ints(v4, f, 14, empty);
        read_thresholds_and_levels(f, out);
        for (std::size_t i = 0; i < 4; ++i) {
            out.inbound_pl[i] = f[6 + i];
            out.outbound_pl[i] = f[10 + i];
        }
        // At detection level 1 the snippet leaves the blocking totals out (empty, not
        // missing: a field past the end sets no bit): they are the per-level scores summed
        // up to the blocking level, as CRS 4's 949/959 sum them.
        out.inbound = (empty & (1u << 4)) != 0 ? sum_to_blocking(out.inbound_pl, out) : f[4];
        out.outbound = (empty & (1u << 5)) != 0 ? sum_to_blocking(out.outbound_pl, out) : f[5];
        return true;
    }
    if (const std::string_view v3 = lookup(context, "MSO_CRS3"); !v3.empty()) {
        // thresholds in/out, paranoia_level, executing_paranoia_level, in PL1-4, out PL1-4.
        // The blocking totals are the sums up to tx.paranoia_level (tx.inbound_anomaly_score
        // is set only by 949110, above the threshold).
        split_ints(v3, f, 12, empty);
        read_thresholds_and_levels(f, out);
        for (std::size_t i = 0; i < 4; ++i) {
            out.inbound_pl[i] = f[4 + i];
            out.outbound_pl[i] = f[8 + i];
        }
        out.inbound = sum_to_blocking(out.inbound_pl, out);
        out.outbound = sum_to_blocking(out.outbound_pl, out);
        return true;
    }
    // Else the snippet ran but no anomaly score was raised (all 0), or it did not run.
    return !lookup(context, "MSO_SNIPPET").empty();
}

} // namespace mso
