// The alert messages of each request in a captured Apache error log (tests/data), as the
// module's error_log hook stores them (after apache_log_unescape), grouped by unique_id
// in the order the requests first appear. Shared by the benchmarks that feed the
// module's encoder with real CRS messages, and the scores they send with them.
#pragma once

#include "anomaly_scores.h"
#include "modsec_message.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace mso::bench {

inline std::vector<std::vector<std::string>> captured_requests(const std::string& file)
{
    std::ifstream in(file);
    std::map<std::string, std::vector<std::string>> by_uid;
    std::vector<std::string> order;
    for (std::string line; std::getline(in, line);) {
        const auto u = line.find("[unique_id \"");
        const auto m = line.find("[client 127.0.0.1] ModSecurity: ");
        if (u == std::string::npos || m == std::string::npos) {
            continue;
        }
        const std::string uid = line.substr(u, line.find('"', u + 12) - u);
        std::string text = line.substr(m);
        text.resize(mso::apache_log_unescape(text.data(), text.size()));
        if (by_uid[uid].empty()) {
            order.push_back(uid);
        }
        by_uid[uid].push_back(std::move(text));
    }
    std::vector<std::vector<std::string>> out;
    for (const auto& uid : order) {
        out.push_back(by_uid[uid]);
    }
    return out;
}

// The scores of a flagged request at PL1 with the default thresholds, as the snippet
// reports them.
inline mso::AnomalyScores flagged_scores()
{
    mso::AnomalyScores scores;
    scores.inbound = 10;
    scores.inbound_pl = {10, 0, 0, 0};
    scores.inbound_threshold = 5;
    scores.outbound_threshold = 4;
    scores.blocking_pl = scores.detection_pl = 1;
    return scores;
}

} // namespace mso::bench
