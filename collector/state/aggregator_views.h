// The `stats` view with the options that make its answer smaller (docs/protocol.md,
// section 2): the live view asks for a few rules and clients per vhost at every refresh,
// and the collector answers on its ingest thread, so it builds only what is asked for.
#pragma once

#include "state/aggregator.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mso {

// The `vhosts` array of the `stats` answer, shaped; Aggregator::stats() is this with the
// default shape. Reads `data` only; never blocks.
[[nodiscard]] nlohmann::ordered_json stats_view(const Aggregator& data,
                                                std::optional<std::string_view> vhost,
                                                std::optional<std::int64_t> window,
                                                std::int64_t now, const StatsShape& shape);

// One vhost's part of the views over every vhost, exactly as those views write it: the
// daemon builds these answers a few vhosts at a time (state/sliced_answer.h).
// A row of stats_view().
[[nodiscard]] nlohmann::ordered_json stats_row(const std::string& name, const VhostStats& v,
                                               std::optional<std::int64_t> window, std::int64_t now,
                                               const StatsShape& shape);
// A row of Aggregator::vhosts().
[[nodiscard]] nlohmann::ordered_json vhosts_row(const std::string& name, const VhostStats& v);
// The rows of Aggregator::rules() for this vhost (only `rule`'s, when given), appended to
// the array `out`.
void append_rule_rows(nlohmann::ordered_json& out, const std::string& name, const VhostStats& v,
                      std::optional<std::string_view> rule);
// A row of Aggregator::timeseries(): the vhost's points since `since`, oldest first.
[[nodiscard]] nlohmann::ordered_json series_row(const std::string& name, const VhostStats& v,
                                                Resolution resolution, std::int64_t since,
                                                std::optional<std::string_view> rule);
// Top-list entries as the views write them (`top`, a vhost's top clients, a rule's
// paths and targets); Aggregator::top() over every vhost is these of the merged entries.
[[nodiscard]] nlohmann::ordered_json top_rows(const std::vector<TopEntry>& entries);

} // namespace mso
