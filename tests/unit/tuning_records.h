// Builders of RequestRecords for the tuning tests (test_finding_groups.cpp, ...): a
// request with its scoring findings, its scores as their sum (or as given) and CRS's
// default thresholds.
#pragma once

#include "tuning/request_record.h"

#include <string>
#include <vector>

namespace mso::testing {

inline ScoredFinding finding(std::string rule, std::string target, int points = 5, int pl = 1)
{
    ScoredFinding f;
    f.rule = std::move(rule);
    f.target = std::move(target);
    f.points = points;
    f.paranoia_level = pl;
    f.outbound = is_outbound_rule(f.rule);
    f.msg = "msg of " + f.rule;
    return f;
}

struct RecordSpec {
    std::string client = "192.0.2.1";
    std::string path = "/";
    std::string method = "GET";
    std::vector<ScoredFinding> findings;
    EngineMode engine = EngineMode::detection_only;
    int status = 200;
    bool intercepted = false;
    std::int64_t time_us = 1'700'000'000'000'000;
    std::string unique_id = "uid";
    std::vector<std::string> extra_rules; // non-scoring rule ids (913100, 949110 ...)
    int inbound_threshold = 5;
};

inline RequestRecord record(const RecordSpec& s)
{
    RequestRecord r;
    r.client = s.client;
    r.path = s.path;
    r.method = s.method;
    r.engine = s.engine;
    r.status = s.status;
    r.intercepted = s.intercepted;
    r.time_us = s.time_us;
    r.unique_id = s.unique_id;
    r.scores_recorded = true;
    r.inbound_threshold = s.inbound_threshold;
    r.findings = s.findings;
    for (const ScoredFinding& f : s.findings) {
        r.rule_ids.push_back(f.rule);
        (f.outbound ? r.outbound : r.inbound) += f.points;
    }
    for (const std::string& id : s.extra_rules) {
        r.rule_ids.push_back(id);
        r.scanner = r.scanner || id.starts_with("913");
    }
    return r;
}

// `n` clients 10.0.0.1 .. 10.0.0.n each sending one request like `spec`.
inline std::vector<RequestRecord> from_clients(RecordSpec spec, int n, int first = 1)
{
    std::vector<RequestRecord> out;
    for (int i = first; i < first + n; ++i) {
        spec.client = "10.0.0." + std::to_string(i);
        spec.unique_id = "uid-" + spec.path + "-" + std::to_string(i);
        spec.time_us += 1'000'000;
        out.push_back(record(spec));
    }
    return out;
}

} // namespace mso::testing
