// The event schema (version 1) as the collector sees it after decoding: owned
// strings and plain values, independent of how the module encoded them. The wire
// form is documented in docs/protocol.md; encoding lives in event_encoder.h and
// decoding in event_decoder.h.
#pragma once

#include "anomaly_scores.h"
#include "event_fields.h"
#include "tag_list.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

inline constexpr int k_schema_version = 1;
// Version 2 request events carry the alert messages raw after their JSON
// (docs/protocol.md, section 1.3); the decoded event is the same. Counter reports stay
// version 1.
inline constexpr int k_schema_version_raw_alerts = 2;

// ModSecurity's SecRuleEngine for a request, where the source says it: audit logs do
// (v2's Engine-Mode, v3's secrules_engine); for the module's events the collector infers
// it, else takes the vhost's configured one (event_engine_mode() below). "On" blocks,
// "DetectionOnly" only logs. The values are stored (collector/store): never renumber.
enum class EngineMode : std::uint8_t { unknown = 0, on = 1, detection_only = 2 };

// "on", "detection_only" or "unknown": the names that answers and filters use.
[[nodiscard]] constexpr std::string_view engine_mode_name(EngineMode mode) noexcept
{
    switch (mode) {
    case EngineMode::on: return "on";
    case EngineMode::detection_only: return "detection_only";
    case EngineMode::unknown: break;
    }
    return "unknown";
}

// Whether `name` is a vhost's configured SecRuleEngine as counter reports (and
// snapshots) carry it: "on", "off" or "detection_only".
[[nodiscard]] constexpr bool is_configured_engine(std::string_view name) noexcept
{
    return name == "on" || name == "off" || name == "detection_only";
}

// One ModSecurity alert message about a request.
struct Finding {
    std::string id; // "" when the message carried no [id] (see truncated)
    std::string msg;
    std::string severity;
    int paranoia_level = 0;
    int phase = 0;
    TagList tags;
    std::string target;
    std::string data;
    bool data_truncated = false;
    bool intercepted = false;
    bool truncated = false;
    bool engine = false; // ModSecurity's own message (body parser error, limit), no rule

    bool operator==(const Finding&) const = default;
};

// One request that ModSecurity had findings for (or any request in "all" mode).
struct RequestEvent {
    std::int64_t time_us = 0;
    std::string vhost;
    int port = 0;
    std::string unique_id;
    std::string client;
    std::string method;
    std::string path;
    std::string query;
    int status = 0;
    std::string protocol;
    std::string user_agent;
    bool intercepted = false;
    int phase = 0;
    std::optional<AnomalyScores> scores; // nullopt: the snippet is not installed
    std::vector<Finding> findings;
    std::uint64_t findings_dropped = 0;

    bool operator==(const RequestEvent&) const = default;
};

// Per-vhost totals of one Apache child for requests not sent as RequestEvents.
struct CounterReport {
    std::string vhost;
    int port = 0;
    std::int64_t pid = 0;
    std::uint64_t requests = 0;
    std::map<int, std::uint64_t> status; // status code -> requests
    std::uint64_t events_lost = 0;
    // SecRuleEngine as the vhost's configuration sets it: "on", "off",
    // "detection_only", or empty (not said: no mod_security2, or an older module).
    std::string engine;

    bool operator==(const CounterReport&) const = default;
};

// The engine mode a request event shows, for sources that do not say it (the module):
// intercepted means On; a CRS blocking-evaluation rule (949110, 949111, 959100, 959101,
// all `deny`) that fired without intercepting means the engine only detected
// (SecRuleEngine DetectionOnly, or ctl:ruleEngine=DetectionOnly for that request);
// anything else does not tell (unknown).
[[nodiscard]] inline EngineMode inferred_engine_mode(const RequestEvent& event) noexcept
{
    if (event.intercepted) {
        return EngineMode::on;
    }
    for (const Finding& f : event.findings) {
        if (f.id == "949110" || f.id == "949111" || f.id == "959100" || f.id == "959101") {
            return EngineMode::detection_only;
        }
    }
    return EngineMode::unknown;
}

// The engine mode of one of the module's events, given its vhost's configured
// SecRuleEngine as counter reports say it (`configured`: "on", "off", "detection_only",
// or "" when not said yet). What the event shows (inferred_engine_mode()) wins: a rule's
// ctl:ruleEngine may change the mode for one request. Otherwise the configuration
// decides, so that a DetectionOnly vhost's events below the threshold (the false
// positives to find before switching to On) count as detection_only. An event from a
// vhost configured "off" had its engine turned on some other way (ctl:ruleEngine, a
// <Location>): unknown.
[[nodiscard]] inline EngineMode event_engine_mode(const RequestEvent& event,
                                                  std::string_view configured) noexcept
{
    if (const EngineMode shown = inferred_engine_mode(event); shown != EngineMode::unknown) {
        return shown;
    }
    if (configured == engine_mode_name(EngineMode::on)) {
        return EngineMode::on;
    }
    if (configured == engine_mode_name(EngineMode::detection_only)) {
        return EngineMode::detection_only;
    }
    return EngineMode::unknown;
}

// What happened to the request: blocked by ModSecurity (intercepted), not blocked
// although its scores reached a known inbound or outbound threshold (would_block: the
// engine only detected, or a threshold above the blocking paranoia level's), or passed.
// The values are stored (collector/store): never renumber.
enum class Verdict : std::uint8_t { passed = 0, would_block = 1, intercepted = 2 };

// The one rule for the verdict: aggregates (`would_block` counts), ring and tail rows and
// history rows all take it from here.
[[nodiscard]] inline Verdict verdict_of(const RequestEvent& event) noexcept
{
    if (event.intercepted) {
        return Verdict::intercepted;
    }
    if (!event.scores) {
        return Verdict::passed;
    }
    const AnomalyScores& s = *event.scores;
    const bool reached = (s.inbound_threshold > 0 && s.inbound >= s.inbound_threshold) ||
                         (s.outbound_threshold > 0 && s.outbound >= s.outbound_threshold);
    return reached ? Verdict::would_block : Verdict::passed;
}

// "intercepted", "would_block" or "passed": the names that answers and filters use.
[[nodiscard]] constexpr std::string_view verdict_name(Verdict verdict) noexcept
{
    switch (verdict) {
    case Verdict::intercepted: return "intercepted";
    case Verdict::would_block: return "would_block";
    case Verdict::passed: break;
    }
    return "passed";
}

} // namespace mso
