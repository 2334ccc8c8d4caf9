// Groups of findings with evidence and labels (finding_groups.h).
#include "tuning/finding_groups.h"

#include <algorithm>

namespace mso {
namespace {

std::string plural(std::uint64_t n, std::string_view one, std::string_view many)
{
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string statuses_text(const std::map<int, std::uint64_t>& statuses)
{
    std::string out;
    for (const auto& [status, n] : statuses) {
        if (!out.empty()) {
            out += ", ";
        }
        out += std::to_string(status) + " x" + std::to_string(n);
    }
    return out;
}

void label(FindingGroup& g, const TuneOptions& o)
{
    const std::uint64_t clients = g.clients.size();
    const std::uint64_t suspicious_pct = clients == 0 ? 0 : g.suspicious_clients * 100 / clients;
    const bool few = clients < o.min_clients;
    const bool suspicious =
        g.suspicious_clients > 0 && g.suspicious_clients * 100 > o.max_suspicious_pct * clients;
    g.label = few || suspicious ? GroupLabel::likely_attack : GroupLabel::likely_false_positive;
    g.unsure = few && g.suspicious_clients == 0;
    g.reasons.push_back(
        plural(clients, "distinct client", "distinct clients") +
        (few ? " sent it, fewer than --min-clients " : " sent it, at least --min-clients ") +
        std::to_string(o.min_clients));
    g.reasons.push_back(
        std::to_string(g.suspicious_clients) + " of them (" + std::to_string(suspicious_pct) +
        "%) look like attackers (" + std::to_string(g.scanner_clients) +
        " sent scanner requests, 913xxx; the others fired attack rules of " +
        std::to_string(o.wide_families) + "+ families on " + std::to_string(o.wide_paths) +
        "+ paths, in groups fewer than --min-clients clients share)" +
        (suspicious ? ", more than --max-suspicious-pct " : ", at most --max-suspicious-pct ") +
        std::to_string(o.max_suspicious_pct) + "%");
    g.reasons.push_back(plural(g.requests, "request", "requests") + ", " +
                        plural(g.otherwise_clean, "otherwise clean", "otherwise clean") +
                        " (this rule was their only scoring finding); this rule alone took " +
                        std::to_string(g.decisive) + " of " + std::to_string(g.blocked) +
                        " blocked requests to the threshold");
    if (!g.statuses.empty()) {
        g.reasons.push_back("the application answered " + statuses_text(g.statuses) +
                            " in DetectionOnly");
    }
    if (g.unsure) {
        g.reasons.push_back("unsure: only the client count says attack (none of its clients "
                            "looks like an attacker otherwise); if real users send this, "
                            "lower --min-clients to get an exclusion for it");
    }
}

} // namespace

bool is_attack_family(std::string_view family) noexcept
{
    return family.size() == 3 && family >= "930" && family <= "944";
}

std::string_view group_label_name(GroupLabel l) noexcept
{
    return l == GroupLabel::likely_false_positive ? "likely_false_positive" : "likely_attack";
}

std::map<std::string, ClientProfile> client_profiles(const std::vector<RequestRecord>& records,
                                                     const TuneOptions& options)
{
    // The clients of each group: a group that many share is ordinary traffic.
    std::map<GroupKey, std::set<std::string>> group_clients;
    for (const RequestRecord& r : records) {
        for (const ScoredFinding& f : r.findings) {
            group_clients[GroupKey{f.rule, f.target, r.path, r.method}].insert(r.client);
        }
    }
    std::map<std::string, ClientProfile> out;
    for (const RequestRecord& r : records) {
        ClientProfile& p = out[r.client];
        p.scanner = p.scanner || r.scanner;
        bool attack = false;
        for (const ScoredFinding& f : r.findings) {
            const std::string_view family = rule_family(f.rule);
            if (is_attack_family(family) &&
                group_clients[GroupKey{f.rule, f.target, r.path, r.method}].size() <
                    options.min_clients) {
                p.attack_families.emplace(family);
                attack = true;
            }
        }
        if (attack) {
            p.paths.insert(r.path);
        }
    }
    return out;
}

bool is_suspicious(const ClientProfile& p, const TuneOptions& o) noexcept
{
    return p.scanner ||
           (p.attack_families.size() >= o.wide_families && p.paths.size() >= o.wide_paths);
}

bool in_group(const GroupKey& key, const RequestRecord& r, const ScoredFinding& f) noexcept
{
    return f.rule == key.rule && f.target == key.target && r.path == key.path &&
           r.method == key.method;
}

std::vector<FindingGroup> group_findings(const std::vector<RequestRecord>& records,
                                         const TuneOptions& options)
{
    std::map<GroupKey, FindingGroup> groups;
    for (const RequestRecord& r : records) {
        const bool blocked = blocked_before(r);
        std::set<std::string> rules_here;
        for (const ScoredFinding& f : r.findings) {
            rules_here.insert(f.rule);
        }
        std::set<GroupKey> seen;
        for (std::size_t i = 0; i < r.findings.size(); ++i) {
            const ScoredFinding& f = r.findings[i];
            GroupKey key{f.rule, f.target, r.path, r.method};
            FindingGroup& g = groups[key];
            ++g.hits;
            if (!seen.insert(key).second) {
                continue;
            }
            if (g.requests == 0) {
                g.key = key;
                g.msg = f.msg;
                g.points = f.points;
                g.paranoia_level = f.paranoia_level;
                g.first_us = r.time_us;
                g.last_us = r.time_us;
            }
            ++g.requests;
            g.first_us = std::min(g.first_us, r.time_us);
            g.last_us = std::max(g.last_us, r.time_us);
            g.clients.insert(r.client);
            if (g.examples.size() < k_max_examples && !r.unique_id.empty()) {
                g.examples.push_back(r.unique_id);
            }
            if (r.engine == EngineMode::detection_only) {
                ++g.statuses[r.status];
            }
            g.otherwise_clean += rules_here.size() == 1 ? 1U : 0U;
            if (blocked) {
                ++g.blocked;
                std::vector<bool> removed(r.findings.size());
                for (std::size_t j = 0; j < r.findings.size(); ++j) {
                    removed[j] = in_group(key, r, r.findings[j]);
                }
                g.decisive += blocked_with(r, removed) ? 0U : 1U;
            }
        }
    }
    const auto profiles = client_profiles(records, options);
    std::vector<FindingGroup> out;
    out.reserve(groups.size());
    for (auto& [key, g] : groups) {
        for (const std::string& c : g.clients) {
            const auto it = profiles.find(c);
            if (it != profiles.end()) {
                g.suspicious_clients += is_suspicious(it->second, options) ? 1U : 0U;
                g.scanner_clients += it->second.scanner ? 1U : 0U;
            }
        }
        label(g, options);
        out.push_back(std::move(g));
    }
    std::stable_sort(out.begin(), out.end(), [](const FindingGroup& a, const FindingGroup& b) {
        if (a.decisive != b.decisive) {
            return a.decisive > b.decisive;
        }
        return a.requests > b.requests;
    });
    return out;
}

} // namespace mso
