// The answers of `tune` and `readiness` (docs/protocol.md) from the history store:
// reads a vhost's events of the window page by page (at most k_max_tuning_events),
// groups, proposes, computes the what-if and the verdict, and renders the JSON. Runs on
// the history worker thread (daemon/history_service.h); may block on the disk.
#pragma once

#include "protocol/query.h"
#include "store/history_store.h"
#include "tuning/readiness.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mso {

// Most events one vhost's analysis reads; beyond, the answer says "truncated" (the
// newest are read first).
inline constexpr std::size_t k_max_tuning_events = 500'000;

// One vhost's analysis, pure: what tune and readiness answer.
struct TuningReport {
    std::string vhost;
    std::vector<RequestRecord> records;
    std::vector<FindingGroup> groups;
    Proposal proposal;
    WhatIf what_if;
    Readiness readiness;
    int paranoia_level = 0;  // the blocking PL most requests recorded (0: unknown)
    std::string crs_version; // "3", "4" or "" from the correlation rule (980130 / 980170)
    bool truncated = false;
};

[[nodiscard]] TuningReport analyse(std::string vhost, std::vector<RequestRecord> records,
                                   const TuneOptions& options);

// The JSON of one vhost's tune answer body and of its readiness entry.
[[nodiscard]] nlohmann::ordered_json tune_json(const TuningReport& report);
[[nodiscard]] nlohmann::ordered_json readiness_json(const TuningReport& report);

// The whole answers, read from `store` over [since_us, until_us).
[[nodiscard]] Result<nlohmann::ordered_json>
tune_answer(HistoryStore& store, const Query& query, std::int64_t since_us, std::int64_t until_us);
[[nodiscard]] Result<nlohmann::ordered_json> readiness_answer(HistoryStore& store,
                                                              const Query& query,
                                                              std::int64_t since_us,
                                                              std::int64_t until_us);

} // namespace mso
