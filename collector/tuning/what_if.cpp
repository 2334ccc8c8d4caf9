// The before/after arithmetic of the proposals (what_if.h).
#include "tuning/what_if.h"

#include <algorithm>
#include <ctime>
#include <set>

namespace mso {
namespace {

std::string day_of(std::int64_t time_us)
{
    const std::time_t t = static_cast<std::time_t>(time_us / 1'000'000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::vector<bool> removed_by(const RequestRecord& r, const std::vector<Exclusion>& xs)
{
    std::vector<bool> removed(r.findings.size(), false);
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
        for (const Exclusion& x : xs) {
            if (excludes(x, r, r.findings[i])) {
                removed[i] = true;
                break;
            }
        }
    }
    return removed;
}

int inbound_with(const RequestRecord& r, const std::vector<bool>& removed)
{
    int inbound = r.inbound;
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
        if (removed[i] && r.findings[i].counts && !r.findings[i].outbound) {
            inbound -= r.findings[i].points;
        }
    }
    return inbound;
}

const ScoredFinding* top_finding(const RequestRecord& r)
{
    const ScoredFinding* top = nullptr;
    for (const ScoredFinding& f : r.findings) {
        if (top == nullptr || f.points > top->points) {
            top = &f;
        }
    }
    return top;
}

} // namespace

WhatIf what_if(const std::vector<RequestRecord>& records, const std::vector<FindingGroup>& groups,
               Proposal& proposal, const TuneOptions& options)
{
    WhatIf w;
    std::set<GroupKey> attack_groups;
    std::set<GroupKey> unsure_groups; // of attack families only
    for (const FindingGroup& g : groups) {
        if (g.label != GroupLabel::likely_attack) {
            continue;
        }
        if (!g.unsure) {
            attack_groups.insert(g.key);
        } else if (is_attack_family(rule_family(g.key.rule))) {
            unsure_groups.insert(g.key);
        }
    }
    const auto profiles = client_profiles(records, options);
    std::set<std::string> clients_before;
    std::set<std::string> clients_after;
    std::set<std::string> benign_clients_after;
    std::set<std::string> unsure_clients_after;
    std::vector<std::set<std::string>> removed_clients(proposal.exclusions.size());
    std::map<std::string, DayCount> days;
    std::uint64_t no_scores = 0;
    std::uint64_t assumed = 0;
    std::uint64_t not_by_score = 0;
    std::uint64_t above_pl = 0;
    for (LadderStep step :
         {LadderStep{k_ladder[0]}, LadderStep{k_ladder[1]}, LadderStep{k_ladder[2]},
          LadderStep{k_ladder[3]}, LadderStep{k_ladder[4]}}) {
        w.ladder.push_back(step);
    }
    int highest_pl = 0;
    for (const RequestRecord& r : records) {
        highest_pl = std::max(highest_pl, r.blocking_pl);
        for (const ScoredFinding& f : r.findings) {
            highest_pl = std::max(highest_pl, f.paranoia_level);
        }
    }
    for (int level = 1; level <= std::min(highest_pl, 4); ++level) {
        w.paranoia.push_back(ParanoiaStep{level});
    }
    for (const RequestRecord& r : records) {
        ++w.requests;
        no_scores += r.scores_recorded ? 0U : 1U;
        assumed += r.threshold_assumed ? 1U : 0U;
        for (const ScoredFinding& f : r.findings) {
            above_pl += f.counts ? 0U : 1U;
        }
        bool attack = false;
        bool unsure = false;
        for (const ScoredFinding& f : r.findings) {
            const GroupKey key{f.rule, f.target, r.path, r.method};
            attack = attack || attack_groups.contains(key);
            unsure = unsure || unsure_groups.contains(key);
        }
        const auto profile = profiles.find(r.client);
        attack = attack || (profile != profiles.end() && is_suspicious(profile->second, options));
        unsure = unsure && !attack;
        attack = attack || unsure;
        const std::vector<bool> removed = removed_by(r, proposal.exclusions);
        const bool before = blocked_before(r);
        const bool after = blocked_with(r, removed);
        if (before && r.intercepted && r.inbound < r.inbound_threshold &&
            r.outbound < r.outbound_threshold) {
            ++not_by_score;
        }
        const int in_before = r.inbound;
        const int in_after = inbound_with(r, removed);
        for (LadderStep& step : w.ladder) {
            step.before += in_before >= step.threshold ? 1U : 0U;
            step.after += in_after >= step.threshold ? 1U : 0U;
        }
        for (ParanoiaStep& step : w.paranoia) {
            step.before += blocked_at_level(r, step.level, {}) ? 1U : 0U;
            step.after += blocked_at_level(r, step.level, removed) ? 1U : 0U;
        }
        w.attacks += attack ? 1U : 0U;
        if (before) {
            ++w.blocked;
            clients_before.insert(r.client);
            w.attacks_caught += attack ? 1U : 0U;
            w.benign_blocked += attack ? 0U : 1U;
            if (!attack && w.benign_examples.size() < k_max_examples * 4) {
                w.benign_examples.push_back(r.unique_id);
            }
            DayCount& d = days[day_of(r.time_us)];
            ++d.blocked;
            if (const ScoredFinding* top = top_finding(r)) {
                ++d.by_rule[top->rule];
                ++d.by_group[rule_group_name(top->rule)];
            } else {
                ++d.by_rule["(no scoring rule)"];
                ++d.by_group["(no scoring rule)"];
            }
            d.blocked_after += after ? 1U : 0U;
            if (!after && w.released_examples.size() < k_max_examples * 4) {
                w.released_examples.push_back(r.unique_id);
            }
            // What each exclusion contributes to: requests the proposals release in which
            // it removes a finding.
            for (std::size_t k = 0; !after && k < proposal.exclusions.size(); ++k) {
                bool any = false;
                for (const ScoredFinding& f : r.findings) {
                    any = any || excludes(proposal.exclusions[k], r, f);
                }
                if (any) {
                    ++proposal.exclusions[k].removes_blocks;
                    proposal.exclusions[k].releases_attacks += attack ? 1U : 0U;
                    removed_clients[k].insert(r.client);
                }
            }
        }
        if (after) {
            ++w.blocked_after;
            clients_after.insert(r.client);
            w.attacks_caught_after += attack ? 1U : 0U;
            if (!attack) {
                ++w.benign_blocked_after;
                benign_clients_after.insert(r.client);
            }
            if (unsure) {
                ++w.unsure_blocked_after;
                unsure_clients_after.insert(r.client);
            }
        }
    }
    w.clients_blocked = clients_before.size();
    w.clients_blocked_after = clients_after.size();
    w.benign_clients_after = benign_clients_after.size();
    w.unsure_clients_after = unsure_clients_after.size();
    for (std::size_t k = 0; k < proposal.exclusions.size(); ++k) {
        proposal.exclusions[k].removes_blocks_clients = removed_clients[k].size();
    }
    for (auto& [day, d] : days) {
        d.day = day;
        w.days.push_back(std::move(d));
    }
    w.caveats.push_back(
        "computed from the recorded findings and scores: a chained rule is seen only by its "
        "logged link, so removing a target of a chain's first rule may change more than "
        "the recorded finding");
    w.caveats.push_back(
        "rules with side effects (ctl, setvar on collections, skipAfter, drop, their own "
        "deny) may change what other rules do once removed; this cannot be computed from "
        "the logs");
    w.caveats.push_back(
        "the severity scores are CRS's defaults (CRITICAL 5, ERROR 4, WARNING 3, NOTICE "
        "2); a site that changed them in crs-setup.conf gets other sums");
    w.caveats.push_back(
        "only requests with findings are recorded: clean requests cannot become blocked by "
        "removing a rule, so they do not change the counts");
    if (!w.paranoia.empty()) {
        w.caveats.push_back(
            "per paranoia level: a level above the one the requests were executed at shows "
            "nothing new (its rules did not run; CRS 4 runs the levels up to "
            "tx.detection_paranoia_level and logs them without counting them), so raising "
            "the level can block more than the table says");
    }
    if (no_scores > 0) {
        w.caveats.push_back(std::to_string(no_scores) +
                            " requests had no recorded scores (the score snippet is not "
                            "installed): their scores are the sums of their findings");
    }
    if (assumed > 0) {
        w.caveats.push_back(std::to_string(assumed) +
                            " requests had no recorded threshold: CRS's defaults (inbound 5, "
                            "outbound 4) were assumed");
    }
    if (not_by_score > 0) {
        w.caveats.push_back(std::to_string(not_by_score) +
                            " requests were intercepted although their recorded scores were "
                            "below the thresholds (a rule with its own deny): they stay blocked");
    }
    if (above_pl > 0) {
        w.caveats.push_back(std::to_string(above_pl) +
                            " findings were above their request's blocking paranoia level "
                            "(detection only): they never counted towards blocking");
    }
    return w;
}

} // namespace mso
