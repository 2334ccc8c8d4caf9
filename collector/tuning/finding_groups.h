// The findings that raised a vhost's scores, grouped by (rule, target, path, method),
// each group with its evidence and a label, likely false positive or likely attack,
// by explicit rules (TuneOptions in protocol/query.h, documented in docs/TUNING.md):
//
//  1. fewer distinct clients than `min_clients` sent it: likely attack (a few clients,
//     a scanner, a test); `unsure` when none of them is suspicious (rule 2): nothing but
//     the count says attack, and a real user of a rarely used page looks the same;
//  2. more than `max_suspicious_pct` percent of its clients are suspicious (they also
//     fired a scanner rule 913xxx, or attack rules of at least `wide_families` families
//     930-944 on at least `wide_paths` paths): likely attack. Only findings of groups
//     that fewer than `min_clients` clients share count towards a client's families: a
//     rule that many clients fire on the same path and target is what the application's
//     users do (a CMS form posting HTML), not evidence against one of them;
//  3. otherwise: likely false positive.
//
// Every group is returned, whatever its label; the reasons say why in plain words.
// Pure, thread-safe.
#pragma once

#include "protocol/query.h"
#include "tuning/request_record.h"

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mso {

enum class GroupLabel { likely_false_positive, likely_attack };

[[nodiscard]] std::string_view group_label_name(GroupLabel label) noexcept;

// Whether a CRS rule family ("942") is one of the attack families 930-944.
[[nodiscard]] bool is_attack_family(std::string_view family) noexcept;

struct GroupKey {
    std::string rule;
    std::string target;
    std::string path;
    std::string method;

    auto operator<=>(const GroupKey&) const = default;
};

// How many example unique ids a group or an exclusion keeps.
inline constexpr std::size_t k_max_examples = 3;

struct FindingGroup {
    GroupKey key;
    std::string msg;
    int points = 0;
    int paranoia_level = 0;
    std::uint64_t hits = 0;     // findings
    std::uint64_t requests = 0; // requests with at least one
    std::set<std::string> clients;
    std::uint64_t suspicious_clients = 0; // of `clients`: scanner rules or many families
    std::uint64_t scanner_clients = 0;
    std::int64_t first_us = 0;
    std::int64_t last_us = 0;
    std::vector<std::string> examples;     // unique ids, oldest first
    std::map<int, std::uint64_t> statuses; // status -> requests, in DetectionOnly
    std::uint64_t blocked = 0;             // requests blocked or that would have been
    std::uint64_t decisive = 0;            // of those: not without this group's findings
    std::uint64_t otherwise_clean = 0;     // requests whose only scoring rule is this one
    GroupLabel label = GroupLabel::likely_attack;
    bool unsure = false; // likely attack by the client count alone (rule 1)
    std::vector<std::string> reasons;
};

// What a client did over the window (for rule 2).
struct ClientProfile {
    std::set<std::string> attack_families; // 930 ... 944
    std::set<std::string> paths;
    bool scanner = false;
};

[[nodiscard]] std::map<std::string, ClientProfile>
client_profiles(const std::vector<RequestRecord>& records, const TuneOptions& options);
[[nodiscard]] bool is_suspicious(const ClientProfile& p, const TuneOptions& options) noexcept;

// The groups of `records`, labelled: the groups that make requests block first (most
// decisive requests), then by requests, then by key.
[[nodiscard]] std::vector<FindingGroup> group_findings(const std::vector<RequestRecord>& records,
                                                       const TuneOptions& options);

// Whether finding `f` of a request belongs to group `key` (rule, target, path, method).
[[nodiscard]] bool in_group(const GroupKey& key, const RequestRecord& r,
                            const ScoredFinding& f) noexcept;

} // namespace mso
