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
    for (const auto& [rule, targets] : by_rule) {
        std::set<std::string> all_paths;
        std::vector<std::size_t> all_groups;
        bool protocol_header = false;
        const bool protocol = rule.starts_with("920") || rule.starts_with("921");
        for (const auto& [target, paths] : targets) {
            protocol_header = protocol_header || (protocol && is_header_target(target));
            for (const auto& [path, idx] : paths) {
                all_paths.insert(path);
                all_groups.insert(all_groups.end(), idx.begin(), idx.end());
            }
        }
        const bool everywhere =
            targets.size() >= o.many_targets && all_paths.size() >= o.many_paths;
        if (protocol_header || everywhere) {
            Exclusion x;
            x.rule = rule;
            x.match = PathMatch::any;
            x.why = protocol_header
                        ? "a protocol rule on a request header: it fires on every path, and "
                          "its target cannot be removed by name (chained rule), so the whole "
                          "rule is removed for this host only"
                        : "it fires on " + std::to_string(targets.size()) + " targets across " +
                              std::to_string(all_paths.size()) +
                              " paths, so the whole rule is removed for this host only";
            emit(std::move(x), all_groups);
            continue;
        }
        for (const auto& [target, paths] : targets) {
            std::set<std::string> path_set;
            std::vector<std::size_t> target_groups;
            for (const auto& [path, idx] : paths) {
                path_set.insert(path);
                target_groups.insert(target_groups.end(), idx.begin(), idx.end());
            }
            Exclusion base;
            base.rule = rule;
            base.target = nameable(target) ? target : "";
            const std::string what = base.target.empty() ? "the rule" : "the target " + target;
            const std::string dir = common_directory(path_set);
            if (path_set.size() >= o.family_paths && dir != "/") {
                base.match = PathMatch::prefix;
                base.path = dir;
                base.why = what + " on " + std::to_string(path_set.size()) + " paths under " + dir +
                           ": scoped to that path family";
                scope_method(base, groups, target_groups);
                emit(std::move(base), target_groups);
            } else if (path_set.size() >= o.many_paths) {
                base.match = PathMatch::any;
                base.why = what + " on " + std::to_string(path_set.size()) +
                           " paths with no common directory: scoped to the host";
                emit(std::move(base), target_groups);
            } else {
                for (const auto& [path, idx] : paths) {
                    Exclusion x = base;
                    x.match = PathMatch::exact;
                    x.path = path;
                    x.why = what + " on one path";
                    scope_method(x, groups, idx);
                    emit(std::move(x), idx);
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
