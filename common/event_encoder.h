// Encodes one request event (docs/protocol.md, section 1.1) and counter reports
// (section 1.2) into a caller-owned buffer, for the module's request path: no heap
// allocation, no exceptions, bounded output. Findings that do not fit are dropped
// whole and counted in "findings_dropped", so the datagram is always valid JSON.
#pragma once

#include "anomaly_scores.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mso {

// What the module knows about a request, as views into request memory.
struct RequestRecord {
    std::int64_t time_us = 0;
    std::string_view vhost;
    int port = 0;
    std::string_view unique_id;
    std::string_view client;
    std::string_view method;
    std::string_view path;
    std::string_view query; // written only when include_query
    bool include_query = false;
    int status = 0;
    std::string_view protocol;
    std::string_view user_agent;
    const AnomalyScores* scores = nullptr; // nullptr: the snippet did not run
};

// What a finding's "data" (ModSecurity's logdata, e.g. "Matched Data: <value> found
// within ARGS:password: <value>") may carry: it can hold passwords and tokens.
enum class MatchedDataMode : unsigned char {
    keep, // up to max_data bytes, cut at a UTF-8 boundary ("data_truncated": true)
    hash, // "sha1:<40 hex>" of the data as logged (hash_data), never the data
    off,  // ""
};

// Writes the hash of `data` as exactly 40 lowercase hex digits to `out` (no NUL).
using DataHasher = void (*)(std::string_view data, char* out) noexcept;

// Bounds of a finding's fixed-size fields (bytes of the decoded text); the collector
// applies the same to version 2's raw alerts (raw_alerts.h).
inline constexpr std::size_t k_max_id_bytes = 32;
inline constexpr std::size_t k_max_severity_bytes = 16;
inline constexpr std::size_t k_max_tag_bytes = 128;
inline constexpr std::size_t k_max_target_bytes = 256;

struct EncoderLimits {
    std::size_t max_path = 1024;
    std::size_t max_user_agent = 256;
    std::size_t max_msg = 512;
    std::size_t max_data = 256;
    std::size_t max_findings = 128;
    MatchedDataMode data_mode = MatchedDataMode::keep;
    DataHasher hash_data = nullptr; // required for MatchedDataMode::hash, else "" is sent
};

struct EncodeResult {
    std::size_t size = 0;     // bytes written; 0 when even the header did not fit
    std::size_t findings = 0; // findings written
    std::size_t findings_dropped = 0;
    bool intercepted = false;
};

// `messages` are raw error-log texts of mod_security2 for this request; those that are
// not alerts are skipped. `dropped_before` counts messages the caller already had to
// drop. Needs at least ~2 KiB of buffer to hold the request fields.
EncodeResult encode_request_event(const RequestRecord& request, const std::string_view* messages,
                                  std::size_t message_count, std::size_t dropped_before,
                                  const EncoderLimits& limits, char* buffer,
                                  std::size_t capacity) noexcept;

// Version 2 (docs/protocol.md, section 1.3): the request's fields as JSON with
// "v": 2, "data_max" (limits.max_data) and "findings_dropped", then each message whole
// after a NUL byte, unparsed: the collector parses them with the same parser and the
// same limits, so the decoded event equals version 1's. Costs a copy per message
// instead of parsing and JSON-escaping it. Only for MatchedDataMode::keep (the data
// leaves the process as logged; the collector cuts it to data_max). A message holding a
// NUL is counted in "findings_dropped" (even one that would not have been an alert);
// empty ones are skipped. Returns size 0 when the header or any message does not fit:
// the caller then sends version 1. `findings` in the result: messages sent.
EncodeResult encode_request_event_v2(const RequestRecord& request, const std::string_view* messages,
                                     std::size_t message_count, std::size_t dropped_before,
                                     const EncoderLimits& limits, char* buffer,
                                     std::size_t capacity) noexcept;

// The path of a request target as the client sent it (not percent-decoded), without
// query or fragment. An absolute-form target ("http://host/p?q", proxy requests) gives
// "/p"; "*" stays "*"; an authority without a path gives "".
[[nodiscard]] std::string_view request_target_path(std::string_view target) noexcept;

// Status codes counted individually in a counter report; others fall in the last slot
// (reported as status 0).
inline constexpr int k_min_status = 100;
inline constexpr int k_max_status = 599;
inline constexpr std::size_t k_status_slots = k_max_status - k_min_status + 2;

// The totals one Apache child drained from a vhost's counters, as one counter report
// (the word "snapshot" is kept for the collector's state files).
struct CounterTotals {
    std::string_view vhost;
    int port = 0;
    std::int64_t pid = 0;
    std::uint64_t requests = 0;
    std::uint64_t events_lost = 0;
    const std::uint64_t* status = nullptr; // k_status_slots entries
    std::string_view engine;               // "on", "off", "detection_only"; empty: not sent
};

// Returns the size written, or 0 when it did not fit.
std::size_t encode_counters(const CounterTotals& counters, char* buffer,
                            std::size_t capacity) noexcept;

} // namespace mso
