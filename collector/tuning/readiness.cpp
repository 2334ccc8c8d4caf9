// The readiness verdict (readiness.h).
#include "tuning/readiness.h"

#include <map>

namespace mso {

std::string_view readiness_name(ReadinessVerdict v) noexcept
{
    switch (v) {
    case ReadinessVerdict::ready: return "ready";
    case ReadinessVerdict::ready_after_exclusions: return "ready_after_exclusions";
    case ReadinessVerdict::not_ready: break;
    }
    return "not_ready";
}

Readiness readiness_of(const std::vector<RequestRecord>& records, const WhatIf& w,
                       const Proposal& proposal)
{
    Readiness out;
    std::map<EngineMode, std::uint64_t> modes;
    for (const RequestRecord& r : records) {
        ++modes[r.engine];
    }
    std::uint64_t most = 0;
    for (const auto& [mode, n] : modes) {
        if (mode != EngineMode::unknown && n > most) {
            out.engine = mode;
            most = n;
        }
    }
    const bool on = out.engine == EngineMode::on;
    const std::string blocked_word = on ? "were blocked" : "would be blocked";
    const std::string n_exclusions = std::to_string(proposal.exclusions.size());
    out.now = w.benign_blocked > 0 ? ReadinessVerdict::not_ready : ReadinessVerdict::ready;
    if (records.empty()) {
        out.verdict = ReadinessVerdict::ready;
        out.reasons.push_back("no request of this vhost had findings in the window");
        return out;
    }
    const std::uint64_t lost = w.attacks_caught - w.attacks_caught_after;
    if (w.benign_blocked_after > 0) {
        out.verdict = ReadinessVerdict::not_ready;
        out.reasons.push_back(std::to_string(w.benign_blocked_after) + " requests from " +
                              std::to_string(w.benign_clients_after) +
                              " clients that do not look like attacks " + blocked_word +
                              " even with the " + n_exclusions +
                              " proposed exclusions: look at the groups labelled likely "
                              "attack with few clients, or lower --min-clients");
    } else if (lost > 0) {
        out.verdict = ReadinessVerdict::not_ready;
        out.reasons.push_back(
            "the proposals would let " + std::to_string(lost) +
            " caught attack requests through: narrow the exclusions marked WARNING (or leave "
            "them out) before use");
    } else if (w.benign_blocked > 0) {
        out.verdict = ReadinessVerdict::ready_after_exclusions;
        out.reasons.push_back(std::to_string(w.benign_blocked) +
                              " requests that do not look like attacks " + blocked_word + "; the " +
                              n_exclusions + " proposed exclusions release every one of them");
    } else {
        out.verdict = ReadinessVerdict::ready;
        out.reasons.push_back(std::string("no request that does not look like an attack ") +
                              (on ? "was blocked" : "would be blocked"));
    }
    if (!proposal.skipped.empty()) {
        out.reasons.push_back(std::to_string(proposal.skipped.size()) +
                              " likely-false-positive groups got no exclusion (no safe one, or "
                              "none that spares an attack group): `tune` lists them under "
                              "Skipped, with why");
    }
    if (w.unsure_blocked_after > 0) {
        out.reasons.push_back(
            std::to_string(w.unsure_blocked_after) + " requests from " +
            std::to_string(w.unsure_clients_after) + " clients " + (on ? "stay" : "would stay") +
            " blocked by attack rules that fewer than --min-clients clients triggered and none "
            "of which looks like an attacker otherwise (groups marked unsure): most likely "
            "one-off attacks, but a real user sending the same is blocked too; look at them");
    }
    if (lost == 0 && w.attacks_caught > 0) {
        out.reasons.push_back("all " + std::to_string(w.attacks_caught) +
                              " caught attack requests stay blocked after the proposals");
    }
    if (on && w.benign_blocked > 0) {
        out.reasons.push_back("the engine is On: " + std::to_string(w.benign_blocked) +
                              " blocked requests look like false positives (real users "
                              "blocked)");
    }
    return out;
}

} // namespace mso
