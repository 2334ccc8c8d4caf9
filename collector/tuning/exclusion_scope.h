// From the likely-false-positive groups of one vhost to run-time exclusions, each
// scoped as narrowly as the evidence allows (../shared/docs/tuning.md):
//
//  - one target of one rule on one path (`REQUEST_FILENAME @streq`), the default;
//  - one target on a path family (`@beginsWith /dir/`) when at least `family_paths`
//    paths under one directory other than "/" show it;
//  - one target on every path of the host when it shows on `many_paths` paths or more
//    with no common directory;
//  - one header on every path of the host for a protocol rule (920xxx, 921xxx) firing
//    on a request header it names (920270 on REQUEST_HEADERS:Referer);
//  - the whole rule on the host only where the target cannot be excluded by name: a
//    protocol rule firing on a TX variable or a header of a chained rule (the log shows
//    the chain's later link; ctl target removal applies to a chain's first rule only),
//    or a rule firing on `many_targets` targets or more across `many_paths` paths or
//    more;
//  - a wider scope is used only when it removes no finding of a likely-attack group
//    (same rule, target, method, path in scope): else the next narrower one is tried,
//    down to one path and one method; a group whose narrowest exclusion would still
//    remove an attack's findings gets none and is reported as skipped;
//  - a one-path or path-family exclusion is also scoped to the method when every request
//    of its evidence used the same one (`REQUEST_METHOD @streq POST`: a form's field);
//    host-wide ones are not (a header rule fires whatever the method);
//  - never global (always the vhost's SERVER_NAME), never by tag.
//
// Request data (paths, argument names, the vhost) ends up in ModSecurity's quoted
// strings and in a `ctl` action: only characters that need no escaping there are
// accepted (protocol/exclusion_syntax.h); anything else is skipped and reported,
// never escaped into a directive. Pure, thread-safe.
#pragma once

#include "protocol/exclusion_syntax.h"
#include "protocol/query.h"
#include "tuning/finding_groups.h"

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

enum class PathMatch { exact, prefix, any };

[[nodiscard]] std::string_view path_match_name(PathMatch m) noexcept;

struct Exclusion {
    std::string key;  // stable across reruns: "host rule target-or-* match path[ method]"
    std::string host; // SERVER_NAME @streq
    std::string rule;
    std::string target; // "" removes the whole rule
    PathMatch match = PathMatch::exact;
    std::string path;                // "" with PathMatch::any
    std::string method;              // "": any method
    std::string why;                 // the scoping decision in plain words
    std::vector<std::size_t> groups; // indexes into the groups it comes from
    // Evidence over those groups.
    std::uint64_t hits = 0;
    std::uint64_t requests = 0;
    std::set<std::string> clients;
    std::int64_t first_us = 0;
    std::int64_t last_us = 0;
    std::vector<std::string> examples;
    // Filled by what_if(): requests blocked (or that would have been) that the
    // proposals let through and in which this exclusion removes a finding (with the
    // others: a request may need several), and their distinct clients.
    std::uint64_t removes_blocks = 0;
    std::uint64_t removes_blocks_clients = 0;
    // Of removes_blocks: caught attack requests (what_if.h's `attacks`) it helps release.
    std::uint64_t releases_attacks = 0;
};

struct SkippedGroup {
    std::size_t group = 0;
    std::string reason;
};

struct Proposal {
    std::vector<Exclusion> exclusions;
    std::vector<SkippedGroup> skipped; // false-positive groups left without an exclusion
};

// Whether `rule` is a chained CRS protocol rule (920xxx, 921xxx): the target its log
// shows may belong to a later link, out of reach of ctl:ruleRemoveTargetById.
[[nodiscard]] bool chained_protocol_rule(std::string_view rule) noexcept;

// The first likely-attack group of `groups` whose findings `x` would remove, or null.
[[nodiscard]] const FindingGroup* covered_attack(const Exclusion& x,
                                                 const std::vector<FindingGroup>& groups);

// Whether exclusion `x` removes finding `f` of request `r` (of x's vhost).
[[nodiscard]] bool excludes(const Exclusion& x, const RequestRecord& r,
                            const ScoredFinding& f) noexcept;

// The exclusions for the likely-false-positive groups of `groups` on `host`, sorted by
// key.
[[nodiscard]] Proposal propose(const std::vector<FindingGroup>& groups, std::string_view host,
                               const TuneOptions& options);

} // namespace mso
