// One request in full, as the `event` query answers it (docs/protocol.md): the event of
// the `events` answer plus where it came from, its engine mode and verdict, and for
// every finding the points it added to the anomaly score. Shared by the ring's answer
// (state/query_answer.cpp) and the history's (daemon/history_service.cpp). Pure.
#pragma once

#include "event.h"

#include <nlohmann/json_fwd.hpp>

#include <string_view>

namespace mso {

// The points `finding` added to its request's anomaly score under CRS's default
// severity scores (crs-setup.conf; ../shared/docs/tuning.md): CRITICAL 5, ERROR 4,
// WARNING 3, NOTICE 2, anything else 0. Also 0 for CRS's own evaluation and reporting
// rules, which report the score rather than add to it (949xxx and 959xxx blocking
// evaluation, 980xxx correlation: 949110, 959100, 980130, 980170), and for engine
// messages. A site that changed the severity scores in crs-setup.conf gets other sums.
[[nodiscard]] int score_contribution(const Finding& finding) noexcept;

// event_json(e) with "source", "engine" (engine_mode_name) and "verdict": an event of
// an `events` answer from history.
[[nodiscard]] nlohmann::ordered_json event_with_origin_json(const RequestEvent& e,
                                                            std::string_view source,
                                                            EngineMode engine,
                                                            std::string_view verdict);

// event_with_origin_json() with each finding's "score" (score_contribution) and the
// event's "score_sum" (their total): the "event" object of an `event` answer.
[[nodiscard]] nlohmann::ordered_json event_detail_json(const RequestEvent& e,
                                                       std::string_view source, EngineMode engine,
                                                       std::string_view verdict);

} // namespace mso
