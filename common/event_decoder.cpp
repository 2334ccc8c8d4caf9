// Decodes event datagrams with nlohmann/json in its non-throwing mode. Every field is
// type-checked; a wrong type is a DecodeFailure naming the field, so a bad sender is
// visible in the collector's health counters instead of corrupting aggregates.
// Request events take the simdjson fast path first (event_decoder_fast.cpp), which
// leaves every case it cannot decide the same way to the nlohmann code here.
#include "event_decoder.h"
#include "event_decoder_internal.h"
#include "event_fields.h"
#include "raw_alerts.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <limits>
#include <utility>

namespace mso {
namespace {

using json = nlohmann::json;

struct Reader {
    const json& obj;
    std::optional<DecodeFailure> failure;

    const json* field(std::string_view key, bool required)
    {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required && !failure)
                failure = DecodeFailure{DecodeError::missing_field,
                                        detail::field_text("missing field ", key)};
            return nullptr;
        }
        return &*it;
    }

    void wrong_type(std::string_view key, const char* expected)
    {
        if (!failure)
            failure = DecodeFailure{DecodeError::bad_field_type,
                                    detail::field_text("field ", key) + " is not " + expected};
    }

    void too_big(std::string_view key)
    {
        if (!failure)
            failure = DecodeFailure{DecodeError::out_of_bounds,
                                    detail::field_text("field ", key) + " is too large"};
    }

    void string(std::string_view key, std::string& out, bool required = true)
    {
        const json* v = field(key, required);
        if (!v)
            return;
        if (!v->is_string())
            return wrong_type(key, "a string");
        const auto& s = v->get_ref<const std::string&>();
        if (s.size() > k_max_field_bytes)
            return too_big(key);
        out = s;
    }

    template <typename Int> void integer(std::string_view key, Int& out, bool required = true)
    {
        const json* v = field(key, required);
        if (!v)
            return;
        if (!v->is_number_integer())
            return wrong_type(key, "an integer");
        if (v->is_number_unsigned()) {
            auto u = v->get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<Int>::max()))
                return wrong_type(key, "an integer in range");
            out = static_cast<Int>(u);
            return;
        }
        auto i = v->get<std::int64_t>();
        if (i < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
            (i > 0 && static_cast<std::uint64_t>(i) >
                          static_cast<std::uint64_t>(std::numeric_limits<Int>::max())))
            return wrong_type(key, "an integer in range");
        out = static_cast<Int>(i);
    }

    void boolean(std::string_view key, bool& out, bool required = true)
    {
        const json* v = field(key, required);
        if (!v)
            return;
        if (!v->is_boolean())
            return wrong_type(key, "a boolean");
        out = v->get<bool>();
    }

    void int_array4(std::string_view key, std::array<int, 4>& out)
    {
        const json* v = field(key, false);
        if (!v)
            return;
        if (!v->is_array() || v->size() != out.size())
            return wrong_type(key, "an array of 4 integers");
        for (std::size_t i = 0; i < out.size(); ++i) {
            const json& e = (*v)[i];
            if (!e.is_number_integer())
                return wrong_type(key, "an array of 4 integers");
            out[i] = e.get<int>();
        }
    }
};

// Whether brackets outside strings nest deeper than `limit`; one pass, no allocation.
// Invalid JSON is left to the parser.
bool nested_deeper_than(std::string_view text, std::size_t limit)
{
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit)
                return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

std::optional<DecodeFailure> read_scores(const json& j, AnomalyScores& s)
{
    if (!j.is_object())
        return DecodeFailure{DecodeError::bad_field_type,
                             detail::field_text("field ", k_field_scores) + " is not an object"};
    Reader r{j, {}};
    r.integer(k_field_inbound, s.inbound, false);
    r.integer(k_field_outbound, s.outbound, false);
    r.int_array4(k_field_inbound_pl, s.inbound_pl);
    r.int_array4(k_field_outbound_pl, s.outbound_pl);
    r.integer(k_field_inbound_threshold, s.inbound_threshold, false);
    r.integer(k_field_outbound_threshold, s.outbound_threshold, false);
    r.integer(k_field_blocking_pl, s.blocking_pl, false);
    r.integer(k_field_detection_pl, s.detection_pl, false);
    return r.failure;
}

std::optional<DecodeFailure> read_finding(const json& j, Finding& f)
{
    if (!j.is_object())
        return DecodeFailure{DecodeError::bad_field_type, "a finding is not an object"};
    Reader r{j, {}};
    r.string(k_field_id, f.id);
    r.string(k_field_msg, f.msg, false);
    r.string(k_field_severity, f.severity, false);
    r.integer(k_field_pl, f.paranoia_level, false);
    r.integer(k_field_phase, f.phase, false);
    r.string(k_field_target, f.target, false);
    r.string(k_field_data, f.data, false);
    r.boolean(k_field_data_truncated, f.data_truncated, false);
    r.boolean(k_field_intercepted, f.intercepted, false);
    r.boolean(k_field_truncated, f.truncated, false);
    r.boolean(k_field_engine, f.engine, false);
    if (const json* tags = r.field(k_field_tags, false)) {
        if (!tags->is_array()) {
            r.wrong_type(k_field_tags, "an array of strings");
        } else if (tags->size() > k_max_tags_per_finding) {
            r.too_big(k_field_tags);
        } else {
            for (const json& t : *tags) {
                if (!t.is_string()) {
                    r.wrong_type(k_field_tags, "an array of strings");
                    break;
                }
                if (t.get_ref<const std::string&>().size() > k_max_field_bytes) {
                    r.too_big(k_field_tags);
                    break;
                }
                f.tags.push_back(t.get_ref<const std::string&>());
            }
        }
    }
    return r.failure;
}

Decoded read_request(const json& j, std::int64_t version, std::optional<std::string_view> alerts)
{
    RequestEvent e;
    Reader r{j, {}};
    r.integer(k_field_time_us, e.time_us);
    r.string(k_field_vhost, e.vhost);
    r.integer(k_field_port, e.port);
    r.string(k_field_unique_id, e.unique_id, false);
    r.string(k_field_client, e.client);
    r.string(k_field_method, e.method);
    r.string(k_field_path, e.path);
    r.string(k_field_query, e.query, false);
    r.integer(k_field_status, e.status);
    r.string(k_field_protocol, e.protocol);
    r.string(k_field_user_agent, e.user_agent, false);
    std::size_t data_max = 0;
    if (version == k_schema_version) {
        r.boolean(k_field_intercepted, e.intercepted);
        r.integer(k_field_phase, e.phase, false);
    } else {
        r.integer(k_field_data_max, data_max);
    }
    r.integer(k_field_findings_dropped, e.findings_dropped, false);
    if (!r.failure && data_max > k_max_field_bytes)
        r.too_big(k_field_data_max);
    if (r.failure)
        return std::move(*r.failure);
    if (const json* scores = r.field(k_field_scores, false)) {
        e.scores.emplace();
        if (auto failure = read_scores(*scores, *e.scores))
            return std::move(*failure);
    }
    if (version == k_schema_version_raw_alerts) {
        add_raw_alert_findings(alerts.value_or(std::string_view()), data_max, e);
        return e;
    }
    const json* findings = r.field(k_field_findings, true);
    if (!findings)
        return std::move(*r.failure);
    if (!findings->is_array())
        return DecodeFailure{DecodeError::bad_field_type,
                             detail::field_text("field ", k_field_findings) + " is not an array"};
    if (findings->size() > k_max_findings_per_event)
        return DecodeFailure{DecodeError::out_of_bounds,
                             "more than " + std::to_string(k_max_findings_per_event) + " findings"};
    e.findings.resize(findings->size());
    for (std::size_t i = 0; i < findings->size(); ++i)
        if (auto failure = read_finding((*findings)[i], e.findings[i]))
            return std::move(*failure);
    return e;
}

Decoded read_counters(const json& j)
{
    CounterReport c;
    Reader r{j, {}};
    r.string(k_field_vhost, c.vhost);
    r.integer(k_field_port, c.port);
    r.integer(k_field_pid, c.pid, false);
    r.integer(k_field_requests, c.requests);
    r.integer(k_field_events_lost, c.events_lost, false);
    r.string(k_field_engine, c.engine, false);
    if (r.failure)
        return std::move(*r.failure);
    if (!c.engine.empty() && !is_configured_engine(c.engine))
        return DecodeFailure{DecodeError::bad_field_type,
                             detail::field_text("field ", k_field_engine) +
                                 " must be \"on\", \"off\" or \"detection_only\""};
    if (const json* status = r.field(k_field_status, false)) {
        if (!status->is_object())
            return DecodeFailure{DecodeError::bad_field_type,
                                 detail::field_text("field ", k_field_status) +
                                     " is not an object"};
        for (const auto& [code_text, count] : status->items()) {
            int code = 0;
            for (char ch : code_text) {
                if (ch < '0' || ch > '9' || code > 99999) {
                    code = -1;
                    break;
                }
                code = code * 10 + (ch - '0');
            }
            // "0" collects status codes outside 100..599.
            if (code < 0 || code_text.empty() || !count.is_number_unsigned())
                return DecodeFailure{DecodeError::bad_field_type,
                                     detail::field_text("field ", k_field_status) +
                                         " must map status codes to counts"};
            c.status[code] += count.get<std::uint64_t>();
        }
    }
    return c;
}

} // namespace

std::string detail::field_text(std::string_view prefix, std::string_view key)
{
    std::string out(prefix);
    out += '"';
    out += key;
    out += '"';
    return out;
}

const char* reason_name(DecodeError e) noexcept
{
    const auto i = static_cast<std::size_t>(e);
    return i < k_decode_errors.size() ? k_decode_errors[i].name.data() : "unknown";
}

detail::Framing detail::split_alert_section(std::string_view datagram) noexcept
{
    const void* nul = std::memchr(datagram.data(), '\0', datagram.size());
    if (nul == nullptr)
        return {datagram, std::nullopt};
    const auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - datagram.data());
    return {datagram.substr(0, at), datagram.substr(at + 1)};
}

Decoded decode_datagram(std::string_view datagram)
{
    Decoded out; // one return of one object: the event is not moved again on the way out
    if (datagram.size() > k_max_datagram_bytes)
        out = DecodeFailure{DecodeError::too_large,
                            "datagram of " + std::to_string(datagram.size()) + " bytes"};
    else if (!detail::decode_request_fast(detail::split_alert_section(datagram), out))
        out = decode_datagram_reference(datagram);
    return out;
}

Decoded decode_datagram_reference(std::string_view whole)
{
    if (whole.size() > k_max_datagram_bytes)
        return DecodeFailure{DecodeError::too_large,
                             "datagram of " + std::to_string(whole.size()) + " bytes"};
    // Version 2: the JSON ends at the first NUL, which no JSON text holds.
    const auto [datagram, alerts] = detail::split_alert_section(whole);
    if (nested_deeper_than(datagram, k_max_json_depth))
        return DecodeFailure{DecodeError::out_of_bounds,
                             "nesting deeper than " + std::to_string(k_max_json_depth) + " levels"};
    const json j = json::parse(datagram.begin(), datagram.end(), nullptr, false);
    if (j.is_discarded())
        return DecodeFailure{DecodeError::not_json, "datagram is not valid JSON"};
    if (!j.is_object())
        return DecodeFailure{DecodeError::not_object, "datagram is not a JSON object"};
    auto v = j.find(k_field_version);
    if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() < k_schema_version ||
        v->get<std::int64_t>() > k_schema_version_raw_alerts)
        return DecodeFailure{DecodeError::bad_version, "schema version is not 1 or 2"};
    const std::int64_t version = v->get<std::int64_t>();
    auto type = j.find(k_field_type);
    if (type == j.end() || !type->is_string())
        return DecodeFailure{DecodeError::unknown_type, "datagram has no type"};
    const auto& t = type->get_ref<const std::string&>();
    // Version 2 is a request event's, and only it has alerts after its JSON.
    if (version == k_schema_version_raw_alerts && t != k_type_request)
        return DecodeFailure{DecodeError::bad_version, "schema version 2 is for request events"};
    if (alerts && version != k_schema_version_raw_alerts)
        return DecodeFailure{DecodeError::not_json, "datagram is not valid JSON"};
    if (t == k_type_request)
        return read_request(j, version, alerts);
    if (t == k_type_counters)
        return read_counters(j);
    return DecodeFailure{DecodeError::unknown_type, "unknown datagram type"};
}

} // namespace mso
