// tune and readiness answers (tuning_answer.h).
#include "tuning/tuning_answer.h"

#include "util/time_format.h"

#include <map>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

constexpr std::int64_t k_us = 1'000'000;

std::string iso(std::int64_t time_us)
{
    return iso_time_s(time_us / k_us);
}

Result<std::vector<RequestRecord>> load(HistoryStore& store, const std::string& vhost,
                                        std::int64_t since_us, std::int64_t until_us,
                                        bool& truncated)
{
    std::vector<RequestRecord> out;
    HistoryQuery q;
    q.vhost = vhost;
    q.since_us = since_us;
    q.until_us = until_us;
    q.limit = k_max_history_page;
    for (;;) {
        auto page = store.search(q);
        if (!page) {
            return fail(page.error());
        }
        for (const StoredEvent& s : page->events) {
            if (out.size() >= k_max_tuning_events) {
                truncated = true;
                return out;
            }
            out.push_back(record_of(s));
        }
        if (!page->next) {
            return out;
        }
        q.after = page->next;
    }
}

json strings(const std::vector<std::string>& v)
{
    json out = json::array();
    for (const std::string& s : v) {
        out.push_back(s);
    }
    return out;
}

json group_json(const FindingGroup& g)
{
    json statuses = json::object();
    for (const auto& [status, n] : g.statuses) {
        statuses[std::to_string(status)] = n;
    }
    return json{{"rule", g.key.rule},
                {"target", g.key.target},
                {"path", g.key.path},
                {"method", g.key.method},
                {"msg", g.msg},
                {"score", g.points},
                {"paranoia_level", g.paranoia_level},
                {"label", std::string(group_label_name(g.label))},
                {"unsure", g.unsure},
                {"reasons", strings(g.reasons)},
                {"hits", g.hits},
                {"requests", g.requests},
                {"clients", g.clients.size()},
                {"suspicious_clients", g.suspicious_clients},
                {"scanner_clients", g.scanner_clients},
                {"blocked", g.blocked},
                {"decisive", g.decisive},
                {"otherwise_clean", g.otherwise_clean},
                {"detection_only_statuses", std::move(statuses)},
                {"first_seen", iso(g.first_us)},
                {"last_seen", iso(g.last_us)},
                {"examples", strings(g.examples)}};
}

json exclusion_json(const Exclusion& x)
{
    json groups = json::array();
    for (std::size_t i : x.groups) {
        groups.push_back(i);
    }
    return json{{"key", x.key},
                {"host", x.host},
                {"rule", x.rule},
                {"target", x.target},
                {"match", std::string(path_match_name(x.match))},
                {"path", x.path},
                {"method", x.method},
                {"why", x.why},
                {"groups", std::move(groups)},
                {"hits", x.hits},
                {"requests", x.requests},
                {"clients", x.clients.size()},
                {"first_seen", iso(x.first_us)},
                {"last_seen", iso(x.last_us)},
                {"examples", strings(x.examples)},
                {"removes_blocks", x.removes_blocks},
                {"removes_blocks_clients", x.removes_blocks_clients},
                {"releases_attacks", x.releases_attacks}};
}

json what_if_json(const WhatIf& w)
{
    json ladder = json::array();
    for (const LadderStep& s : w.ladder) {
        ladder.push_back(
            json{{"threshold", s.threshold}, {"before", s.before}, {"after", s.after}});
    }
    json paranoia = json::array();
    for (const ParanoiaStep& s : w.paranoia) {
        paranoia.push_back(json{{"level", s.level}, {"before", s.before}, {"after", s.after}});
    }
    return json{{"requests", w.requests},
                {"would_block", w.blocked},
                {"would_block_after", w.blocked_after},
                {"clients", w.clients_blocked},
                {"clients_after", w.clients_blocked_after},
                {"attacks", w.attacks},
                {"attacks_caught", w.attacks_caught},
                {"attacks_caught_after", w.attacks_caught_after},
                {"benign_blocked", w.benign_blocked},
                {"benign_blocked_after", w.benign_blocked_after},
                {"unsure_blocked_after", w.unsure_blocked_after},
                {"unsure_clients_after", w.unsure_clients_after},
                {"inbound_ladder", std::move(ladder)},
                {"paranoia_levels", std::move(paranoia)},
                {"caveats", strings(w.caveats)}};
}

json days_json(const WhatIf& w)
{
    json out = json::array();
    for (const DayCount& d : w.days) {
        json rules = json::object();
        json groups = json::object();
        for (const auto& [group, n] : d.by_group) {
            groups[group] = n;
        }
        for (const auto& [rule, n] : d.by_rule) {
            rules[rule] = n;
        }
        out.push_back(json{{"day", d.day},
                           {"would_block", d.blocked},
                           {"would_block_after", d.blocked_after},
                           {"by_rule", std::move(rules)},
                           {"by_group", std::move(groups)}});
    }
    return out;
}

json options_json(const TuneOptions& o)
{
    return json{{"min_clients", o.min_clients},     {"max_suspicious_pct", o.max_suspicious_pct},
                {"wide_families", o.wide_families}, {"wide_paths", o.wide_paths},
                {"family_paths", o.family_paths},   {"many_paths", o.many_paths},
                {"many_targets", o.many_targets}};
}

Result<std::vector<std::string>> vhosts_of(HistoryStore& store, const Query& query,
                                           std::int64_t since_us, std::int64_t until_us)
{
    if (query.vhost) {
        return std::vector<std::string>{*query.vhost};
    }
    auto totals = store.vhost_totals(since_us, until_us);
    if (!totals) {
        return fail(totals.error());
    }
    std::vector<std::string> out;
    for (const VhostTotals& t : *totals) {
        out.push_back(t.vhost);
    }
    return out;
}

} // namespace

TuningReport analyse(std::string vhost, std::vector<RequestRecord> records,
                     const TuneOptions& options)
{
    TuningReport r;
    r.vhost = std::move(vhost);
    r.records = std::move(records);
    r.groups = group_findings(r.records, options);
    r.proposal = propose(r.groups, r.vhost, options);
    r.what_if = what_if(r.records, r.groups, r.proposal, options);
    r.readiness = readiness_of(r.records, r.what_if, r.proposal);
    std::map<int, std::uint64_t> pls;
    bool crs3 = false;
    bool crs4 = false;
    for (const RequestRecord& rec : r.records) {
        if (rec.blocking_pl > 0) {
            ++pls[rec.blocking_pl];
        }
        for (const std::string& id : rec.rule_ids) {
            crs3 = crs3 || id == "980130";
            crs4 = crs4 || id == "980170";
        }
    }
    std::uint64_t most = 0;
    for (const auto& [pl, n] : pls) {
        if (n > most) {
            r.paranoia_level = pl;
            most = n;
        }
    }
    if (crs4) {
        r.crs_version = "4";
    } else if (crs3) {
        r.crs_version = "3";
    }
    return r;
}

json tune_json(const TuningReport& r)
{
    json groups = json::array();
    for (const FindingGroup& g : r.groups) {
        groups.push_back(group_json(g));
    }
    json exclusions = json::array();
    for (const Exclusion& x : r.proposal.exclusions) {
        exclusions.push_back(exclusion_json(x));
    }
    json skipped = json::array();
    for (const SkippedGroup& s : r.proposal.skipped) {
        const FindingGroup& g = r.groups[s.group];
        skipped.push_back(json{{"group", s.group},
                               {"rule", g.key.rule},
                               {"target", g.key.target},
                               {"path", g.key.path},
                               {"reason", s.reason}});
    }
    return json{{"vhost", r.vhost},
                {"events", r.records.size()},
                {"truncated", r.truncated},
                {"crs_version", r.crs_version},
                {"paranoia_level", r.paranoia_level},
                {"engine", std::string(engine_mode_name(r.readiness.engine))},
                {"groups", std::move(groups)},
                {"exclusions", std::move(exclusions)},
                {"skipped", std::move(skipped)},
                {"what_if", what_if_json(r.what_if)},
                {"verdict", std::string(readiness_name(r.readiness.verdict))},
                {"verdict_now", std::string(readiness_name(r.readiness.now))},
                {"reasons", strings(r.readiness.reasons)}};
}

json readiness_json(const TuningReport& r)
{
    const WhatIf& w = r.what_if;
    const bool on = r.readiness.engine == EngineMode::on;
    json out{{"vhost", r.vhost},
             {"engine", std::string(engine_mode_name(r.readiness.engine))},
             {"verdict", std::string(readiness_name(r.readiness.verdict))},
             {"verdict_now", std::string(readiness_name(r.readiness.now))},
             {"reasons", strings(r.readiness.reasons)},
             {"requests", w.requests},
             {"would_block", w.blocked},
             {"would_block_after", w.blocked_after},
             {"explained", w.blocked - w.blocked_after},
             {"clients", w.clients_blocked},
             {"clients_after", w.clients_blocked_after},
             {"benign_blocked", w.benign_blocked},
             {"benign_blocked_after", w.benign_blocked_after},
             {"unsure_blocked_after", w.unsure_blocked_after},
             {"unsure_clients_after", w.unsure_clients_after},
             {"attacks_caught", w.attacks_caught},
             {"attacks_caught_after", w.attacks_caught_after},
             {"exclusions", r.proposal.exclusions.size()},
             {"days", days_json(w)},
             {"truncated", r.truncated}};
    if (on) {
        out["false_positive_blocks"] = w.benign_blocked;
        out["false_positive_examples"] = strings(w.benign_examples);
    }
    return out;
}

Result<json> tune_answer(HistoryStore& store, const Query& query, std::int64_t since_us,
                         std::int64_t until_us)
{
    if (!query.vhost) {
        return fail("tune needs a \"vhost\"");
    }
    bool truncated = false;
    auto records = load(store, *query.vhost, since_us, until_us, truncated);
    if (!records) {
        return fail(records.error());
    }
    TuningReport report = analyse(*query.vhost, std::move(*records), query.tune);
    report.truncated = truncated;
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    out["since"] = iso(since_us);
    out["until"] = iso(until_us);
    out["options"] = options_json(query.tune);
    json body = tune_json(report);
    for (auto it = body.begin(); it != body.end(); ++it) {
        out[it.key()] = std::move(it.value());
    }
    return out;
}

Result<json> readiness_answer(HistoryStore& store, const Query& query, std::int64_t since_us,
                              std::int64_t until_us)
{
    auto vhosts = vhosts_of(store, query, since_us, until_us);
    if (!vhosts) {
        return fail(vhosts.error());
    }
    json list = json::array();
    for (const std::string& vhost : *vhosts) {
        bool truncated = false;
        auto records = load(store, vhost, since_us, until_us, truncated);
        if (!records) {
            return fail(records.error());
        }
        TuningReport report = analyse(vhost, std::move(*records), query.tune);
        report.truncated = truncated;
        list.push_back(readiness_json(report));
    }
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    out["since"] = iso(since_us);
    out["until"] = iso(until_us);
    out["options"] = options_json(query.tune);
    out["vhosts"] = std::move(list);
    return out;
}

} // namespace mso
