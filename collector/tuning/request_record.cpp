// Requests as the tuning logic sees them (request_record.h).
#include "tuning/request_record.h"

#include "state/event_detail.h"

#include <algorithm>

namespace mso {

bool is_outbound_rule(std::string_view rule) noexcept
{
    return rule.size() == 6 && rule.starts_with("95");
}

std::string rule_group_name(std::string_view rule)
{
    // The subjects of CRS's rule files (REQUEST-9xx-*.conf, RESPONSE-95x-*.conf).
    static constexpr std::pair<std::string_view, std::string_view> k_groups[] = {
        {"911", "method enforcement"},
        {"913", "scanner detection"},
        {"920", "protocol enforcement"},
        {"921", "protocol attack"},
        {"922", "multipart attack"},
        {"930", "LFI"},
        {"931", "RFI"},
        {"932", "RCE"},
        {"933", "PHP"},
        {"934", "generic attack"},
        {"941", "XSS"},
        {"942", "SQLi"},
        {"943", "session fixation"},
        {"944", "Java"},
        {"950", "data leakages"},
        {"951", "SQL leakage"},
        {"952", "Java leakage"},
        {"953", "PHP leakage"},
        {"954", "IIS leakage"},
        {"955", "web shells"},
        {"956", "Ruby leakage"},
    };
    const std::string_view family = rule_family(rule);
    if (family.empty()) {
        return "other";
    }
    for (const auto& [id, name] : k_groups) {
        if (id == family) {
            return std::string(family) + " " + std::string(name);
        }
    }
    return std::string(family);
}

std::string_view rule_family(std::string_view rule) noexcept
{
    if (rule.size() != 6 ||
        !std::all_of(rule.begin(), rule.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return {};
    }
    return rule.substr(0, 3);
}

RequestRecord record_of(const StoredEvent& stored)
{
    const RequestEvent& e = stored.event;
    RequestRecord r;
    r.time_us = e.time_us;
    r.unique_id = e.unique_id;
    r.client = e.client;
    r.method = e.method;
    r.path = e.path;
    r.user_agent = e.user_agent;
    r.status = e.status;
    // The stored mode (the module's events: resolved with the vhost's configured engine
    // when they arrived); else what the event shows, for sources that did not record it.
    r.engine =
        stored.engine_mode == EngineMode::unknown ? inferred_engine_mode(e) : stored.engine_mode;
    r.intercepted = e.intercepted;
    if (e.scores) {
        r.blocking_pl = e.scores->blocking_pl;
    }
    int inbound_sum = 0;
    int outbound_sum = 0;
    for (const Finding& f : e.findings) {
        if (f.id.empty()) {
            continue;
        }
        r.rule_ids.push_back(f.id);
        if (f.id.starts_with("913")) {
            r.scanner = true;
        }
        const int points = score_contribution(f);
        if (points <= 0) {
            continue;
        }
        ScoredFinding s;
        s.rule = f.id;
        s.target = f.target;
        s.msg = f.msg;
        s.points = points;
        s.paranoia_level = f.paranoia_level;
        s.outbound = is_outbound_rule(f.id);
        s.counts = r.blocking_pl == 0 || f.paranoia_level == 0 || f.paranoia_level <= r.blocking_pl;
        if (s.counts) {
            (s.outbound ? outbound_sum : inbound_sum) += points;
        }
        r.findings.push_back(std::move(s));
    }
    if (e.scores) {
        r.scores_recorded = true;
        r.inbound = e.scores->inbound;
        r.outbound = e.scores->outbound;
        if (e.scores->inbound_threshold > 0) {
            r.inbound_threshold = e.scores->inbound_threshold;
        } else {
            r.threshold_assumed = true;
        }
        if (e.scores->outbound_threshold > 0) {
            r.outbound_threshold = e.scores->outbound_threshold;
        } else {
            r.threshold_assumed = true;
        }
    } else {
        r.inbound = inbound_sum;
        r.outbound = outbound_sum;
        r.threshold_assumed = true;
    }
    return r;
}

namespace {

bool reaches(int inbound, int outbound, const RequestRecord& r) noexcept
{
    return inbound >= r.inbound_threshold || outbound >= r.outbound_threshold;
}

} // namespace

bool blocked_with(const RequestRecord& r, const std::vector<bool>& removed) noexcept
{
    const bool by_score = reaches(r.inbound, r.outbound, r);
    if (r.intercepted && !by_score) {
        return true;
    }
    int inbound = r.inbound;
    int outbound = r.outbound;
    for (std::size_t i = 0; i < r.findings.size() && i < removed.size(); ++i) {
        const ScoredFinding& f = r.findings[i];
        if (removed[i] && f.counts) {
            (f.outbound ? outbound : inbound) -= f.points;
        }
    }
    return reaches(inbound, outbound, r);
}

bool blocked_at_level(const RequestRecord& r, int level, const std::vector<bool>& removed) noexcept
{
    if (r.intercepted && !reaches(r.inbound, r.outbound, r)) {
        return true;
    }
    int inbound = r.inbound;
    int outbound = r.outbound;
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
        const ScoredFinding& f = r.findings[i];
        const bool at_level = f.paranoia_level == 0 ? f.counts : f.paranoia_level <= level;
        const bool now = at_level && !(i < removed.size() && removed[i]);
        if (now != f.counts) {
            (f.outbound ? outbound : inbound) += now ? f.points : -f.points;
        }
    }
    return reaches(inbound, outbound, r);
}

bool blocked_before(const RequestRecord& r) noexcept
{
    return r.intercepted || reaches(r.inbound, r.outbound, r);
}

} // namespace mso
