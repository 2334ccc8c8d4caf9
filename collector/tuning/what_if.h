// What the proposed exclusions would have changed, computed from what was recorded:
// each request's findings, scores and thresholds (request_record.h). Before -> after:
// requests blocked (On) or that would have been (DetectionOnly), their distinct
// clients, the attacks still caught, the inbound threshold ladder admins step down
// (100, 50, 20, 10, 5), the blocking paranoia levels 1-4, and per day the blocked
// requests by the rule that scored most.
// The caveats say what this cannot know. Pure, thread-safe.
#pragma once

#include "tuning/exclusion_scope.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mso {

inline constexpr int k_ladder[] = {5, 10, 20, 50, 100};

struct LadderStep {
    int threshold = 0;
    std::uint64_t before = 0; // requests whose inbound score reaches it
    std::uint64_t after = 0;
};

// Requests blocked (or that would be) had every request's blocking paranoia level been
// `level`, before -> after the proposals (blocked_at_level()).
struct ParanoiaStep {
    int level = 0;
    std::uint64_t before = 0;
    std::uint64_t after = 0;
};

struct DayCount {
    std::string day; // YYYY-MM-DD (UTC)
    std::uint64_t blocked = 0;
    std::uint64_t blocked_after = 0;
    std::map<std::string, std::uint64_t> by_rule; // rule that scored most -> blocked requests
    // The same by the CRS rule group of that rule ("941 XSS"; rule_group_name()).
    std::map<std::string, std::uint64_t> by_group;
};

struct WhatIf {
    std::uint64_t requests = 0;
    std::uint64_t blocked = 0;
    std::uint64_t blocked_after = 0;
    std::uint64_t clients_blocked = 0;
    std::uint64_t clients_blocked_after = 0;
    // Requests of likely-attack groups or from suspicious clients, and of those the ones
    // blocked before and after.
    std::uint64_t attacks = 0;
    std::uint64_t attacks_caught = 0;
    std::uint64_t attacks_caught_after = 0;
    // Blocked requests that are not attacks, before and after (what readiness weighs),
    // and their distinct clients.
    std::uint64_t benign_blocked = 0;
    std::uint64_t benign_blocked_after = 0;
    std::uint64_t benign_clients_after = 0;
    // Attacks still blocked after the proposals that only `unsure` groups of attack
    // families (930-944) call attacks (finding_groups.h), and their distinct clients:
    // most likely one-off attacks, but a real user sending the same is blocked too. An
    // unsure group of another family (a protocol rule a lone client trips) is not
    // counted as an attack at all: its blocked requests are benign.
    std::uint64_t unsure_blocked_after = 0;
    std::uint64_t unsure_clients_after = 0;
    std::vector<LadderStep> ladder;
    // Levels 1 up to the highest a finding or a request showed (none when no level was
    // logged).
    std::vector<ParanoiaStep> paranoia;
    std::vector<DayCount> days;
    std::vector<std::string> caveats;
    // Unique ids of blocked requests that the proposals let through (On: real users that
    // were blocked and look like false positives), at most k_max_examples * 4.
    std::vector<std::string> released_examples;
    // Unique ids of blocked requests that do not look like attacks, released or not
    // (On: real users being blocked), at most k_max_examples * 4.
    std::vector<std::string> benign_examples;
};

// Applies `proposal` to `records` and fills each exclusion's removes_blocks.
[[nodiscard]] WhatIf what_if(const std::vector<RequestRecord>& records,
                             const std::vector<FindingGroup>& groups, Proposal& proposal,
                             const TuneOptions& options);

} // namespace mso
