// One recorded request as the tuning logic sees it: the findings that raised its
// anomaly scores (rule, target, points, paranoia level, inbound or outbound, whether
// they count towards the blocking score), its recorded scores and thresholds, and
// whether it was blocked or would have been. Built from what the history store keeps
// (store/stored_event.h); the score of each finding is state/event_detail.h's
// score_contribution(). Pure, thread-safe.
#pragma once

#include "store/stored_event.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

// CRS's default thresholds (crs-setup.conf), assumed when a request did not record its own.
inline constexpr int k_default_inbound_threshold = 5;
inline constexpr int k_default_outbound_threshold = 4;

struct ScoredFinding {
    std::string rule;
    std::string target; // "ARGS:comment", "REQUEST_HEADERS:Expect", "" when none was logged
    std::string msg;
    int points = 0;         // score_contribution(): CRITICAL 5, ERROR 4, WARNING 3, NOTICE 2
    int paranoia_level = 0; // 0: not logged
    bool outbound = false;  // a response rule (95xxxx): adds to the outbound score
    bool counts = true;     // at or below the request's blocking paranoia level
};

struct RequestRecord {
    std::int64_t time_us = 0;
    std::string unique_id;
    std::string client;
    std::string method;
    std::string path;
    std::string user_agent;
    int status = 0;
    EngineMode engine = EngineMode::unknown;
    bool intercepted = false;
    bool scores_recorded = false; // false: the scores are the sums of the findings
    bool threshold_assumed = false;
    int inbound = 0;
    int outbound = 0;
    int inbound_threshold = k_default_inbound_threshold;
    int outbound_threshold = k_default_outbound_threshold;
    int blocking_pl = 0;
    bool scanner = false;                // a 913xxx finding (scanner user agent or behaviour)
    std::vector<std::string> rule_ids;   // every finding's rule id, scoring or not
    std::vector<ScoredFinding> findings; // only those with points > 0
};

// The record of a stored event.
[[nodiscard]] RequestRecord record_of(const StoredEvent& stored);

// Whether a rule id is a CRS response rule (950000-959999): it adds to the outbound score.
[[nodiscard]] bool is_outbound_rule(std::string_view rule) noexcept;

// The CRS rule family of an id: its first three digits ("942" for 942100), "" for ids
// that are not six digits.
[[nodiscard]] std::string_view rule_family(std::string_view rule) noexcept;

// The CRS rule group of a rule id as admins name it: its family and the rule file's
// subject ("941 XSS", "920 protocol enforcement"); the family alone for others, "other"
// for ids that are not six digits.
[[nodiscard]] std::string rule_group_name(std::string_view rule);

// Whether the scores of `r` minus the points of the removed findings (removed[i] for
// r.findings[i]) still reach a threshold. A request that was intercepted although its
// recorded scores did not reach the thresholds (a rule with its own deny, a chain the
// scores do not show) stays blocked.
[[nodiscard]] bool blocked_with(const RequestRecord& r, const std::vector<bool>& removed) noexcept;
// blocked_with() had the request's blocking paranoia level been `level` (1-4): the
// findings of levels above it leave the scores, those of detection-only levels up to it
// (logged above the recorded blocking level) join them; a finding without a logged level
// counts as it did. Levels above the one the request was executed at cannot be known
// (their rules did not run): they give the same as the highest executed one.
[[nodiscard]] bool blocked_at_level(const RequestRecord& r, int level,
                                    const std::vector<bool>& removed) noexcept;
// blocked_with() with nothing removed: blocked or would have been, as recorded.
[[nodiscard]] bool blocked_before(const RequestRecord& r) noexcept;

} // namespace mso
