// Scoping exclusions (exclusion_scope.h).
#include "tuning/exclusion_scope.h"

#include <algorithm>
#include <map>

namespace mso {
namespace {

bool is_header_target(std::string_view target) noexcept
{
    return target.starts_with("REQUEST_HEADERS") || target.starts_with("TX:") || target.empty();
}

// A target ctl:ruleRemoveTargetById can name: not a TX variable (set by a chain) and
// not empty.
bool nameable(std::string_view target) noexcept
{
    return !target.empty() && !target.starts_with("TX:") && !target.starts_with("TX");
}

bool is_protocol_rule(std::string_view rule) noexcept
{
    return rule.starts_with("920") || rule.starts_with("921");
}

// Whether ctl:ruleRemoveTargetById can reach the logged `target` of `rule`: a nameable
// target, and not a chained protocol rule's (its log shows a later link's variable).
bool removable_by_name(std::string_view rule, std::string_view target) noexcept
{
    return nameable(target) && !(is_protocol_rule(rule) && chained_protocol_rule(rule));
}

// "RULE TARGET METHOD PATH" of a group, for the reasons.
std::string group_name(const FindingGroup& g)
{
    return g.key.rule + " " + (g.key.target.empty() ? "(no target)" : g.key.target) + " " +
           g.key.method + " " + g.key.path;
}

// The longest common directory ("/a/b/") of `paths`; "/" when none.
std::string common_directory(const std::set<std::string>& paths)
{
    if (paths.empty()) {
        return "/";
    }
    std::string prefix = *paths.begin();
    for (const std::string& p : paths) {
        std::size_t n = 0;
        while (n < prefix.size() && n < p.size() && prefix[n] == p[n]) {
            ++n;
        }
        prefix.resize(n);
    }
    const std::size_t slash = prefix.rfind('/');
    return slash == std::string::npos ? "/" : prefix.substr(0, slash + 1);
}

void add_evidence(Exclusion& x, const FindingGroup& g, std::size_t index)
{
    x.groups.push_back(index);
    x.hits += g.hits;
    x.requests += g.requests;
    x.clients.insert(g.clients.begin(), g.clients.end());
    x.first_us = x.first_us == 0 ? g.first_us : std::min(x.first_us, g.first_us);
    x.last_us = std::max(x.last_us, g.last_us);
    for (const std::string& id : g.examples) {
        if (x.examples.size() < k_max_examples) {
            x.examples.push_back(id);
        }
    }
}

std::string make_key(const Exclusion& x)
{
    return x.host + " " + x.rule + " " + (x.target.empty() ? "*" : x.target) + " " +
           std::string(path_match_name(x.match)) + " " + (x.path.empty() ? "*" : x.path) +
           (x.method.empty() ? "" : " " + x.method);
}

// The one method every group of `idx` shows, "" when they differ or it cannot be
// written safely.
std::string one_method(const std::vector<FindingGroup>& groups, const std::vector<std::size_t>& idx)
{
    std::string method;
    for (std::size_t i : idx) {
        if (!method.empty() && groups[i].key.method != method) {
            return {};
        }
        method = groups[i].key.method;
    }
    return safe_method(method) ? method : std::string();
}

void scope_method(Exclusion& x, const std::vector<FindingGroup>& groups,
                  const std::vector<std::size_t>& idx)
{
    x.method = one_method(groups, idx);
    if (!x.method.empty()) {
        x.why += ", method " + x.method + " only (every request of the evidence used it)";
    }
}

} // namespace

bool chained_protocol_rule(std::string_view rule) noexcept
{
    // The chained rules of REQUEST-920 and REQUEST-921 in CRS 3.3.4 and 4.x
    // (test_exclusion_scope.cpp checks this list against both rule sets).
    static constexpr std::string_view k_chained[] = {
        "920170", "920171", "920180", "920181", "920190", "920200", "920201", "920202",
        "920220", "920240", "920250", "920300", "920310", "920311", "920340", "920341",
        "920360", "920370", "920380", "920390", "920400", "920410", "920420", "920440",
        "920450", "920451", "920480", "920490", "920510", "920640", "920650", "921180"};
    return std::find(std::begin(k_chained), std::end(k_chained), rule) != std::end(k_chained);
}

const FindingGroup* covered_attack(const Exclusion& x, const std::vector<FindingGroup>& groups)
{
    for (const FindingGroup& g : groups) {
        if (g.label != GroupLabel::likely_attack || g.key.rule != x.rule ||
            (!x.target.empty() && g.key.target != x.target) ||
            (!x.method.empty() && g.key.method != x.method)) {
            continue;
        }
        const bool on_path = x.match == PathMatch::any ||
                             (x.match == PathMatch::prefix && g.key.path.starts_with(x.path)) ||
                             (x.match == PathMatch::exact && g.key.path == x.path);
        if (on_path) {
            return &g;
        }
    }
    return nullptr;
}

std::string_view path_match_name(PathMatch m) noexcept
{
    switch (m) {
    case PathMatch::exact: return "exact";
    case PathMatch::prefix: return "prefix";
    case PathMatch::any: break;
    }
    return "any";
}

bool excludes(const Exclusion& x, const RequestRecord& r, const ScoredFinding& f) noexcept
{
    if (f.rule != x.rule || (!x.target.empty() && f.target != x.target) ||
        (!x.method.empty() && r.method != x.method)) {
        return false;
    }
    switch (x.match) {
    case PathMatch::exact: return r.path == x.path;
    case PathMatch::prefix: return r.path.starts_with(x.path);
    case PathMatch::any: break;
    }
    return true;
}

Proposal propose(const std::vector<FindingGroup>& groups, std::string_view vhost,
                 const TuneOptions& o)
{
    // SERVER_NAME is compared lowercased (t:lowercase): host names are case-insensitive.
    std::string host(vhost);
    std::transform(host.begin(), host.end(), host.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    Proposal out;
    // rule -> target -> path -> group indexes
    std::map<std::string, std::map<std::string, std::map<std::string, std::vector<std::size_t>>>>
        by_rule;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const FindingGroup& g = groups[i];
        if (g.label != GroupLabel::likely_false_positive) {
            continue;
        }
        std::string why;
        if (!safe_host(host)) {
            why = "the vhost name cannot be written safely as SERVER_NAME (only a-z, 0-9, '.' "
                  "and '-')";
        } else if (!safe_rule_id(g.key.rule)) {
            why = "the rule id is not a number";
        } else if (!safe_path(g.key.path)) {
            why = "the path has characters an exclusion cannot carry safely (only letters, "
                  "digits and / . _ ~ -)";
        } else if (!g.key.target.empty() && nameable(g.key.target) && !safe_target(g.key.target)) {
            why = "the target has characters an exclusion cannot carry safely";
        }
        if (!why.empty()) {
            out.skipped.push_back({i, why});
            continue;
        }
        by_rule[g.key.rule][g.key.target][g.key.path].push_back(i);
    }
    std::map<std::string, Exclusion> made;
    auto emit = [&](Exclusion x, const std::vector<std::size_t>& idx) {
        x.host = host;
        x.key = make_key(x);
        Exclusion& into = made.try_emplace(x.key, std::move(x)).first->second;
        for (std::size_t i : idx) {
            add_evidence(into, groups[i], i);
        }
    };
    // The widest scope that removes no likely-attack group's findings wins; the first
    // wider one that would is named in the reason (`narrowed`).
    auto fits = [&](const Exclusion& x, std::string_view wider, std::string& narrowed) {
        const FindingGroup* attack = covered_attack(x, groups);
        if (attack != nullptr && narrowed.empty()) {
            narrowed = "; not " + std::string(wider) +
                       ", which would also remove the findings of the likely-attack group " +
                       group_name(*attack);
        }
        return attack == nullptr;
    };
    for (const auto& [rule, targets] : by_rule) {
        std::set<std::string> all_paths;
        std::vector<std::size_t> all_groups;
        bool unnamed_protocol_header = false;
        const bool protocol = is_protocol_rule(rule);
        for (const auto& [target, paths] : targets) {
            unnamed_protocol_header =
                unnamed_protocol_header ||
                (protocol && is_header_target(target) && !removable_by_name(rule, target));
            for (const auto& [path, idx] : paths) {
                all_paths.insert(path);
                all_groups.insert(all_groups.end(), idx.begin(), idx.end());
            }
        }
        const bool everywhere =
            targets.size() >= o.many_targets && all_paths.size() >= o.many_paths;
        std::string narrowed;
        if (unnamed_protocol_header || everywhere) {
            Exclusion x;
            x.rule = rule;
            x.match = PathMatch::any;
            x.why = unnamed_protocol_header
                        ? "a protocol rule on a request header that cannot be removed by name "
                          "(a chained rule logs its later link's variable; ctl removes targets "
                          "of the first link only): it fires on every path, so the whole rule "
                          "is removed for this host only"
                        : "it fires on " + std::to_string(targets.size()) + " targets across " +
                              std::to_string(all_paths.size()) +
                              " paths, so the whole rule is removed for this host only";
            if (fits(x, "the whole rule", narrowed)) {
                emit(std::move(x), all_groups);
                continue;
            }
        }
        for (const auto& [target, paths] : targets) {
            std::string target_narrowed = narrowed;
            std::set<std::string> path_set;
            std::vector<std::size_t> target_groups;
            for (const auto& [path, idx] : paths) {
                path_set.insert(path);
                target_groups.insert(target_groups.end(), idx.begin(), idx.end());
            }
            Exclusion base;
            base.rule = rule;
            // A target ctl cannot reach: the whole rule (on a path, when not on the host).
            base.target = removable_by_name(rule, target) ? target : "";
            const std::string what = base.target.empty() ? "the rule" : "the target " + target;
            const std::string dir = common_directory(path_set);
            const bool named_header = protocol && is_header_target(target) && !base.target.empty();
            // The host for a named header, or a named target on many paths with no common
            // directory; a rule without a nameable target only by the rule-level cases
            // above (never because of its paths alone).
            const bool host_wide = named_header || (!base.target.empty() && dir == "/" &&
                                                    path_set.size() >= o.many_paths);
            if (host_wide) {
                Exclusion x = base;
                x.match = PathMatch::any;
                x.why = named_header
                            ? what + ": a protocol rule on a request header fires on every "
                                     "path, so the target is removed for this host only"
                            : what + " on " + std::to_string(path_set.size()) +
                                  " paths with no common directory: scoped to the host";
                if (fits(x, "the whole host", target_narrowed)) {
                    x.why += target_narrowed;
                    emit(std::move(x), target_groups);
                    continue;
                }
            }
            if (path_set.size() >= o.family_paths && dir != "/") {
                Exclusion x = base;
                x.match = PathMatch::prefix;
                x.path = dir;
                x.why = what + " on " + std::to_string(path_set.size()) + " paths under " + dir +
                        ": scoped to that path family";
                scope_method(x, groups, target_groups);
                if (fits(x, "the path family " + dir, target_narrowed)) {
                    x.why += target_narrowed;
                    emit(std::move(x), target_groups);
                    continue;
                }
            }
            for (const auto& [path, idx] : paths) {
                std::string path_narrowed = target_narrowed;
                Exclusion x = base;
                x.match = PathMatch::exact;
                x.path = path;
                x.why = what + " on one path";
                scope_method(x, groups, idx);
                if (fits(x, "every method", path_narrowed)) {
                    x.why += path_narrowed;
                    emit(std::move(x), idx);
                    continue;
                }
                // One exclusion per method; a group whose own scope still removes an
                // attack's findings (a rule without a nameable target) gets none.
                for (std::size_t i : idx) {
                    Exclusion one = base;
                    one.match = PathMatch::exact;
                    one.path = path;
                    one.method = safe_method(groups[i].key.method) ? groups[i].key.method : "";
                    one.why = what + " on one path, method " + one.method + " only";
                    const FindingGroup* attack =
                        one.method.empty() ? nullptr : covered_attack(one, groups);
                    if (one.method.empty() || attack != nullptr) {
                        out.skipped.push_back(
                            {i, attack != nullptr
                                    ? "even one path and one method would also remove the "
                                      "findings of the likely-attack group " +
                                          group_name(*attack)
                                    : "its method cannot be written safely, and every method "
                                      "would also remove a likely-attack group's findings"});
                        continue;
                    }
                    one.why += path_narrowed;
                    emit(std::move(one), {i});
                }
            }
        }
    }
    for (auto& [key, x] : made) {
        out.exclusions.push_back(std::move(x));
    }
    return out;
}

} // namespace mso
