// The CLI's formatters: one per answer (stats, vhosts, rules, top, timeseries, events,
// health) and the header and lines that `tail` streams, each turning the answer into the
// text a person reads (--json prints the answer itself). The live view of `top` is
// live_view.h. The answers come from a socket, so every field is read defensively
// (missing or wrong-typed fields show as "-" or are skipped) and every string is passed
// through terminal_safe() before it is printed.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <string>

namespace mso {

// Rules listed per vhost by format_stats().
inline constexpr std::size_t k_stats_top_rules = 10;
// Width format_stats() aims to stay within.
inline constexpr std::size_t k_stats_columns = 100;

// The `stats` answer (an object with "vhosts") as a summary table plus the top
// rules of each vhost. Pure.
[[nodiscard]] std::string format_stats(const nlohmann::ordered_json& answer);

// The `events` answer as one line per event: time, vhost, client, request, status,
// verdict and the ids of its rules (each once, in order); then, when the answer has a
// next page, "more: --cursor X". Pure.
[[nodiscard]] std::string format_events(const nlohmann::ordered_json& answer);

// The `event` answer: one request in full, its findings as a table (rule, severity,
// paranoia level, phase, score contribution, target) and then each with its message,
// matched data and tags; scores against thresholds, verdict, engine mode and source.
// Pure.
[[nodiscard]] std::string format_event_detail(const nlohmann::ordered_json& answer);

// `tail`: a header line, then one fixed-width line per streamed event. Pure.
[[nodiscard]] std::string format_event_header();
[[nodiscard]] std::string format_event_line(const nlohmann::ordered_json& event);

// The vhosts, rules, top and timeseries answers as tables. Pure.
[[nodiscard]] std::string format_vhosts(const nlohmann::ordered_json& answer);
[[nodiscard]] std::string format_rules(const nlohmann::ordered_json& answer);
[[nodiscard]] std::string format_top(const nlohmann::ordered_json& answer);
[[nodiscard]] std::string format_timeseries(const nlohmann::ordered_json& answer);

// The `sources` answer: each live source (events, bytes, last seen and how long ago,
// clock skew, refusals by reason), then the sources in history when the answer has them.
// Pure.
[[nodiscard]] std::string format_sources(const nlohmann::ordered_json& answer);

// The `health` answer as aligned "key: value" lines. Pure.
[[nodiscard]] std::string format_health(const nlohmann::ordered_json& answer);

// `tune`: the groups with labels and reasons, the proposed exclusions, the what-if and
// its caveats, the verdict; `readiness`: per vhost the verdict, its reasons and the
// would-block requests per day (formatters_tuning.cpp). Pure.
[[nodiscard]] std::string format_tune(const nlohmann::ordered_json& answer);
[[nodiscard]] std::string format_readiness(const nlohmann::ordered_json& answer);

} // namespace mso
