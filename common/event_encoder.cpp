// Event encoding for the module; see event_encoder.h. Key order follows
// docs/protocol.md except that the verdict ("intercepted", "phase") follows the
// findings, since it is derived from them in the same pass.
#include "event_encoder.h"

#include "event_fields.h"
#include "json_writer.h"
#include "modsec_message.h"

#include <cstring>
#include <utility>

namespace mso {
namespace {

// Room kept free while writing findings for the keys that close the event.
constexpr std::size_t k_tail_reserve = 96;

void write_scores(JsonWriter& w, const AnomalyScores* s)
{
    w.key(k_field_scores);
    if (!s) {
        w.null();
        return;
    }
    w.begin_object();
    w.key(k_field_inbound);
    w.integer(s->inbound);
    w.key(k_field_outbound);
    w.integer(s->outbound);
    w.key(k_field_inbound_pl);
    w.begin_array();
    for (int v : s->inbound_pl)
        w.integer(v);
    w.end_array();
    w.key(k_field_outbound_pl);
    w.begin_array();
    for (int v : s->outbound_pl)
        w.integer(v);
    w.end_array();
    // 0 is "unknown": the snippet exports these only for requests that scored.
    const std::pair<std::string_view, int> known_if_set[] = {
        {k_field_inbound_threshold, s->inbound_threshold},
        {k_field_outbound_threshold, s->outbound_threshold},
        {k_field_blocking_pl, s->blocking_pl},
        {k_field_detection_pl, s->detection_pl}};
    for (const auto& [key, value] : known_if_set) {
        if (value > 0) {
            w.key(key);
            w.integer(value);
        }
    }
    w.end_object();
}

void write_finding(JsonWriter& w, const MessageView& m, const EncoderLimits& limits)
{
    w.begin_object();
    w.key(k_field_id);
    w.modsec_string(m.id, k_max_id_bytes);
    w.key(k_field_msg);
    // An engine message has no [msg]: its text is the head.
    w.modsec_string(m.engine ? m.head : m.msg, limits.max_msg);
    w.key(k_field_severity);
    w.modsec_string(m.severity, k_max_severity_bytes);
    w.key(k_field_pl);
    w.integer(m.paranoia_level);
    w.key(k_field_phase);
    w.integer(m.phase);
    w.key(k_field_tags);
    w.begin_array();
    for (std::size_t i = 0; i < m.tag_count; ++i)
        w.modsec_string(m.tags[i], k_max_tag_bytes);
    w.end_array();
    w.key(k_field_target);
    w.modsec_string(m.target, k_max_target_bytes);
    w.key(k_field_data);
    bool data_cut = false;
    if (limits.data_mode == MatchedDataMode::keep) {
        w.modsec_string(m.data, limits.max_data, &data_cut);
    } else if (limits.data_mode == MatchedDataMode::hash && limits.hash_data && !m.data.empty()) {
        char hashed[5 + 40] = {'s', 'h', 'a', '1', ':'};
        limits.hash_data(m.data, hashed + 5);
        w.string(std::string_view(hashed, sizeof hashed), sizeof hashed);
    } else {
        w.string(std::string_view(), 0);
    }
    if (data_cut) {
        w.key(k_field_data_truncated);
        w.boolean(true);
    }
    w.key(k_field_intercepted);
    w.boolean(m.intercepted);
    w.key(k_field_truncated);
    w.boolean(m.truncated);
    if (m.engine) {
        w.key(k_field_engine);
        w.boolean(true);
    }
    w.end_object();
}

// The request's own fields, shared by both versions; the object is left open.
void write_request_header(JsonWriter& w, int version, const RequestRecord& r,
                          const EncoderLimits& limits) noexcept
{
    w.begin_object();
    w.key(k_field_version);
    w.integer(version);
    w.key(k_field_type);
    w.string(k_type_request);
    w.key(k_field_time_us);
    w.integer(r.time_us);
    w.key(k_field_vhost);
    w.string(r.vhost, 256);
    w.key(k_field_port);
    w.integer(r.port);
    w.key(k_field_unique_id);
    w.string(r.unique_id, 128);
    w.key(k_field_client);
    w.string(r.client, 64);
    w.key(k_field_method);
    w.string(r.method, 32);
    w.key(k_field_path);
    w.string(r.path, limits.max_path);
    if (r.include_query) {
        w.key(k_field_query);
        w.string(r.query, limits.max_path);
    }
    w.key(k_field_status);
    w.integer(r.status);
    w.key(k_field_protocol);
    w.string(r.protocol, 32);
    w.key(k_field_user_agent);
    w.string(r.user_agent, limits.max_user_agent);
    write_scores(w, r.scores);
}

} // namespace

EncodeResult encode_request_event(const RequestRecord& r, const std::string_view* messages,
                                  std::size_t message_count, std::size_t dropped_before,
                                  const EncoderLimits& limits, char* buffer,
                                  std::size_t capacity) noexcept
{
    EncodeResult result;
    JsonWriter w(buffer, capacity);
    write_request_header(w, 1, r, limits);
    if (w.overflowed())
        return result;

    w.reserve(k_tail_reserve);
    w.key(k_field_findings);
    w.begin_array();
    int phase = 0;
    std::size_t dropped = dropped_before;
    for (std::size_t i = 0; i < message_count; ++i) {
        MessageView m;
        if (!parse_modsec_message(messages[i], m) || !m.is_alert)
            continue;
        if (m.intercepted && !result.intercepted) {
            result.intercepted = true;
            phase = m.phase;
        }
        if (result.findings == limits.max_findings) {
            ++dropped;
            continue;
        }
        const JsonWriter::Mark before = w.mark();
        write_finding(w, m, limits);
        if (w.overflowed()) {
            w.rollback(before);
            ++dropped;
            continue;
        }
        ++result.findings;
    }
    w.release_reserve();
    w.end_array();
    w.key(k_field_findings_dropped);
    w.integer(static_cast<std::int64_t>(dropped));
    w.key(k_field_intercepted);
    w.boolean(result.intercepted);
    w.key(k_field_phase);
    w.integer(phase);
    w.end_object();
    if (w.overflowed())
        return EncodeResult{};
    result.findings_dropped = dropped;
    result.size = w.view().size();
    return result;
}

EncodeResult encode_request_event_v2(const RequestRecord& r, const std::string_view* messages,
                                     std::size_t message_count, std::size_t dropped_before,
                                     const EncoderLimits& limits, char* buffer,
                                     std::size_t capacity) noexcept
{
    JsonWriter w(buffer, capacity);
    write_request_header(w, 2, r, limits);
    w.key(k_field_data_max);
    w.integer(static_cast<std::int64_t>(limits.max_data));
    // The closing `,"findings_dropped":<up to 20 digits>}` must fit whatever is dropped.
    constexpr std::size_t k_close = 48;
    if (w.overflowed() || capacity - w.view().size() < k_close)
        return EncodeResult{};
    std::size_t left = capacity - w.view().size() - k_close;
    // Every message goes whole, or the event does not go as version 2 at all (the
    // caller encodes version 1, which derives the verdict from every message, also
    // those it has no room to send). One holding a NUL, which would end it early on
    // the wire, is dropped and counted; an empty one is no alert, as version 1 skips it.
    auto sendable = [](std::string_view m) {
        return !m.empty() && std::memchr(m.data(), '\0', m.size()) == nullptr;
    };
    std::size_t sent = 0, dropped = dropped_before;
    for (std::size_t i = 0; i < message_count; ++i) {
        if (!sendable(messages[i])) {
            if (!messages[i].empty())
                ++dropped;
            continue;
        }
        if (messages[i].size() + 1 > left)
            return EncodeResult{};
        left -= messages[i].size() + 1;
        ++sent;
    }
    w.key(k_field_findings_dropped);
    w.integer(static_cast<std::int64_t>(dropped));
    w.end_object();
    if (w.overflowed())
        return EncodeResult{};
    std::size_t size = w.view().size();
    for (std::size_t i = 0; i < message_count; ++i) {
        const std::string_view m = messages[i];
        if (!sendable(m))
            continue;
        buffer[size] = '\0';
        std::memcpy(buffer + size + 1, m.data(), m.size());
        size += m.size() + 1;
    }
    EncodeResult result;
    result.size = size;
    result.findings = sent;
    result.findings_dropped = dropped;
    return result;
}

std::string_view request_target_path(std::string_view target) noexcept
{
    if (!target.empty() && target.front() != '/' && target != "*") {
        const std::size_t authority = target.find("://");
        const std::size_t slash =
            authority == std::string_view::npos ? 0 : target.find('/', authority + 3);
        target = slash == std::string_view::npos ? std::string_view() : target.substr(slash);
    }
    return target.substr(0, target.find_first_of("?#"));
}

std::size_t encode_counters(const CounterTotals& c, char* buffer, std::size_t capacity) noexcept
{
    JsonWriter w(buffer, capacity);
    w.begin_object();
    w.key(k_field_version);
    w.integer(1);
    w.key(k_field_type);
    w.string(k_type_counters);
    w.key(k_field_vhost);
    w.string(c.vhost, 256);
    w.key(k_field_port);
    w.integer(c.port);
    w.key(k_field_pid);
    w.integer(c.pid);
    w.key(k_field_requests);
    w.integer(static_cast<std::int64_t>(c.requests));
    w.key(k_field_events_lost);
    w.integer(static_cast<std::int64_t>(c.events_lost));
    if (!c.engine.empty()) {
        w.key(k_field_engine);
        w.string(c.engine, 16);
    }
    w.key(k_field_status);
    w.begin_object();
    for (std::size_t i = 0; i < k_status_slots; ++i) {
        if (c.status[i] == 0)
            continue;
        const int code = i + 1 == k_status_slots ? 0 : k_min_status + static_cast<int>(i);
        char digits[4] = {static_cast<char>('0' + code / 100),
                          static_cast<char>('0' + code / 10 % 10),
                          static_cast<char>('0' + code % 10), 0};
        w.key(code == 0 ? std::string_view("0") : std::string_view(digits, 3));
        w.integer(static_cast<std::int64_t>(c.status[i]));
    }
    w.end_object();
    w.end_object();
    return w.overflowed() ? 0 : w.view().size();
}

} // namespace mso
