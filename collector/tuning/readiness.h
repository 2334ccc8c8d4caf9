// The verdict on a vhost: can it switch to (or stay in) SecRuleEngine On? From the
// what-if of its proposals (what_if.h):
//
//  - `not_ready` when requests that do not look like attacks would still be blocked
//    after the proposals (real users would be blocked), or when the proposals would
//    release an attack that was caught;
//  - `ready_after_exclusions` when every such request is released by the proposals;
//  - `ready` when no such request was blocked in the window.
//
// Requests that only `unsure` attack groups keep blocked (what_if.h) do not change the
// verdict (one-off attacks look like that) but are named in the reasons.
//
// `now` is the verdict on the vhost as it is, without the proposals: `not_ready` while
// requests that do not look like attacks are (or would be) blocked, else `ready`. Before
// the exclusions are applied a vhost with false positives is `ready_after_exclusions`
// and, now, `not_ready`; once they are applied and the traffic no longer trips them,
// both are `ready`.
//
// The reasons say it in plain words. Pure, thread-safe.
#pragma once

#include "tuning/what_if.h"

#include <string>
#include <string_view>
#include <vector>

namespace mso {

enum class ReadinessVerdict { ready, ready_after_exclusions, not_ready };

[[nodiscard]] std::string_view readiness_name(ReadinessVerdict v) noexcept;

struct Readiness {
    ReadinessVerdict verdict = ReadinessVerdict::not_ready;
    ReadinessVerdict now = ReadinessVerdict::not_ready; // without the proposals
    EngineMode engine = EngineMode::unknown;            // the mode most requests showed
    std::vector<std::string> reasons;
};

[[nodiscard]] Readiness readiness_of(const std::vector<RequestRecord>& records, const WhatIf& w,
                                     const Proposal& proposal);

} // namespace mso
