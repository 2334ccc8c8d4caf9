// The fast path of decode_datagram for request events: simdjson's DOM parser (a tape
// built in one pass, strings as views into it) instead of a nlohmann tree of heap nodes.
// It must decide exactly as the nlohmann reference does (event_decoder.cpp), so it only
// answers for well-formed request events and their field errors; anything else (simdjson
// rejects the text, not an object, another version or type) goes to the reference, which
// also owns the error texts for those cases. Where the two libraries could differ:
//  - duplicate keys: nlohmann keeps the last; so does the slot table below;
//  - numbers: integers outside 64 bits and BOM/NUL quirks make simdjson fail, and the
//    reference then decides;
//  - depth: the parser's limit is k_max_json_depth, the same count as the reference's scan.
#include "event_decoder_internal.h"
#include "event_fields.h"
#include "raw_alerts.h"

#include <simdjson.h>

#include <array>
#include <limits>
#include <string_view>

namespace mso::detail {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Keys of one JSON object that the decoder reads, and the value of each (the last one
// when a key repeats, as nlohmann keeps it). A null value counts as absent.
template <std::size_t N> class Slots {
public:
    explicit Slots(const std::array<std::string_view, N>& names) : m_names(names) {}

    // The names are listed in the order the module writes the keys, so the search
    // starts after the previous match and usually succeeds at once.
    void fill(simdjson::dom::object obj)
    {
        std::size_t next = 0;
        for (const auto field : obj) {
            const std::string_view key = field.key;
            for (std::size_t k = 0, i = next; k < N; ++k, i = i + 1 == N ? 0 : i + 1) {
                if (key == m_names[i]) {
                    m_value[i] = field.value;
                    m_set[i] = !field.value.is_null();
                    next = i + 1 == N ? 0 : i + 1;
                    break;
                }
            }
        }
    }

    [[nodiscard]] const element* get(std::size_t i) const
    {
        return m_set[i] ? &m_value[i] : nullptr;
    }
    [[nodiscard]] std::string_view name(std::size_t i) const { return m_names[i]; }

private:
    const std::array<std::string_view, N>& m_names;
    std::array<element, N> m_value{};
    std::array<bool, N> m_set{};
};

// The reference's Reader over slots: the first failure is kept, later ones ignored.
template <std::size_t N> struct Reader {
    const Slots<N>& slots;
    std::optional<DecodeFailure> failure;

    const element* field(std::size_t i, bool required)
    {
        const element* v = slots.get(i);
        if (v == nullptr && required && !failure) {
            failure = DecodeFailure{DecodeError::missing_field,
                                    field_text("missing field ", slots.name(i))};
        }
        return v;
    }

    void wrong_type(std::string_view key, const char* expected)
    {
        if (!failure) {
            failure = DecodeFailure{DecodeError::bad_field_type,
                                    field_text("field ", key) + " is not " + expected};
        }
    }

    void too_big(std::string_view key)
    {
        if (!failure) {
            failure = DecodeFailure{DecodeError::out_of_bounds,
                                    field_text("field ", key) + " is too large"};
        }
    }

    void string(std::size_t i, std::string& out, bool required = true)
    {
        const element* v = field(i, required);
        if (v == nullptr) {
            return;
        }
        std::string_view s;
        if (v->get_string().get(s) != simdjson::SUCCESS) {
            return wrong_type(slots.name(i), "a string");
        }
        if (s.size() > k_max_field_bytes) {
            return too_big(slots.name(i));
        }
        out.assign(s.data(), s.size());
    }

    template <typename Int> void integer(std::size_t i, Int& out, bool required = true)
    {
        const element* v = field(i, required);
        if (v == nullptr) {
            return;
        }
        if (v->type() == element_type::UINT64) { // only above INT64_MAX
            const std::uint64_t u = v->get_uint64().value_unsafe();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
                return wrong_type(slots.name(i), "an integer in range");
            }
            out = static_cast<Int>(u);
            return;
        }
        if (v->type() != element_type::INT64) {
            return wrong_type(slots.name(i), "an integer");
        }
        const std::int64_t n = v->get_int64().value_unsafe();
        if (n < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
            (n > 0 && static_cast<std::uint64_t>(n) >
                          static_cast<std::uint64_t>(std::numeric_limits<Int>::max()))) {
            return wrong_type(slots.name(i), "an integer in range");
        }
        out = static_cast<Int>(n);
    }

    void boolean(std::size_t i, bool& out, bool required = true)
    {
        const element* v = field(i, required);
        if (v == nullptr) {
            return;
        }
        if (v->get_bool().get(out) != simdjson::SUCCESS) {
            return wrong_type(slots.name(i), "a boolean");
        }
    }

    // As nlohmann's get<int>(): converted without a range check.
    void int_array4(std::size_t i, std::array<int, 4>& out)
    {
        const element* v = field(i, false);
        if (v == nullptr) {
            return;
        }
        simdjson::dom::array a;
        if (v->get_array().get(a) != simdjson::SUCCESS || a.size() != out.size()) {
            return wrong_type(slots.name(i), "an array of 4 integers");
        }
        std::size_t k = 0;
        for (const element e : a) {
            if (e.type() == element_type::INT64) {
                out[k++] = static_cast<int>(e.get_int64().value_unsafe());
            } else if (e.type() == element_type::UINT64) {
                out[k++] = static_cast<int>(e.get_uint64().value_unsafe());
            } else {
                return wrong_type(slots.name(i), "an array of 4 integers");
            }
        }
    }
};

enum ScoreField : std::size_t {
    s_inbound,
    s_outbound,
    s_inbound_pl,
    s_outbound_pl,
    s_inbound_threshold,
    s_outbound_threshold,
    s_blocking_pl,
    s_detection_pl,
    s_count
};
constexpr std::array<std::string_view, s_count> k_score_names = {
    k_field_inbound,     k_field_outbound,          k_field_inbound_pl,
    k_field_outbound_pl, k_field_inbound_threshold, k_field_outbound_threshold,
    k_field_blocking_pl, k_field_detection_pl};

std::optional<DecodeFailure> read_scores(const element& j, AnomalyScores& s)
{
    simdjson::dom::object obj;
    if (j.get_object().get(obj) != simdjson::SUCCESS) {
        return DecodeFailure{DecodeError::bad_field_type,
                             field_text("field ", k_field_scores) + " is not an object"};
    }
    Slots<s_count> slots(k_score_names);
    slots.fill(obj);
    Reader<s_count> r{slots, {}};
    r.integer(s_inbound, s.inbound, false);
    r.integer(s_outbound, s.outbound, false);
    r.int_array4(s_inbound_pl, s.inbound_pl);
    r.int_array4(s_outbound_pl, s.outbound_pl);
    r.integer(s_inbound_threshold, s.inbound_threshold, false);
    r.integer(s_outbound_threshold, s.outbound_threshold, false);
    r.integer(s_blocking_pl, s.blocking_pl, false);
    r.integer(s_detection_pl, s.detection_pl, false);
    return r.failure;
}

enum FindingField : std::size_t {
    f_id,
    f_msg,
    f_severity,
    f_pl,
    f_phase,
    f_tags,
    f_target,
    f_data,
    f_data_truncated,
    f_intercepted,
    f_truncated,
    f_engine,
    f_count
};
constexpr std::array<std::string_view, f_count> k_finding_names = {
    k_field_id,          k_field_msg,       k_field_severity,
    k_field_pl,          k_field_phase,     k_field_tags,
    k_field_target,      k_field_data,      k_field_data_truncated,
    k_field_intercepted, k_field_truncated, k_field_engine};

std::optional<DecodeFailure> read_finding(const element& j, Finding& f)
{
    simdjson::dom::object obj;
    if (j.get_object().get(obj) != simdjson::SUCCESS) {
        return DecodeFailure{DecodeError::bad_field_type, "a finding is not an object"};
    }
    Slots<f_count> slots(k_finding_names);
    slots.fill(obj);
    Reader<f_count> r{slots, {}};
    r.string(f_id, f.id);
    r.string(f_msg, f.msg, false);
    r.string(f_severity, f.severity, false);
    r.integer(f_pl, f.paranoia_level, false);
    r.integer(f_phase, f.phase, false);
    r.string(f_target, f.target, false);
    r.string(f_data, f.data, false);
    r.boolean(f_data_truncated, f.data_truncated, false);
    r.boolean(f_intercepted, f.intercepted, false);
    r.boolean(f_truncated, f.truncated, false);
    r.boolean(f_engine, f.engine, false);
    if (const element* tags = r.field(f_tags, false)) {
        simdjson::dom::array a;
        if (tags->get_array().get(a) != simdjson::SUCCESS) {
            r.wrong_type(k_field_tags, "an array of strings");
        } else if (a.size() > k_max_tags_per_finding) {
            r.too_big(k_field_tags);
        } else {
            for (const element t : a) {
                std::string_view s;
                if (t.get_string().get(s) != simdjson::SUCCESS) {
                    r.wrong_type(k_field_tags, "an array of strings");
                    break;
                }
                if (s.size() > k_max_field_bytes) {
                    r.too_big(k_field_tags);
                    break;
                }
                f.tags.push_back(s);
            }
        }
    }
    return r.failure;
}

enum RequestField : std::size_t {
    q_v,
    q_type,
    q_time_us,
    q_vhost,
    q_port,
    q_unique_id,
    q_client,
    q_method,
    q_path,
    q_query,
    q_status,
    q_protocol,
    q_user_agent,
    q_scores,
    q_findings,
    q_findings_dropped,
    q_intercepted,
    q_phase,
    q_data_max,
    q_count
};
constexpr std::array<std::string_view, q_count> k_request_names = {
    k_field_version,     k_field_type,      k_field_time_us,  k_field_vhost,
    k_field_port,        k_field_unique_id, k_field_client,   k_field_method,
    k_field_path,        k_field_query,     k_field_status,   k_field_protocol,
    k_field_user_agent,  k_field_scores,    k_field_findings, k_field_findings_dropped,
    k_field_intercepted, k_field_phase,     k_field_data_max};

// Fills `out` with the event, or with the first failure.
void read_request(const Slots<q_count>& slots, std::int64_t version,
                  std::optional<std::string_view> alerts, Decoded& out)
{
    RequestEvent& e = out.emplace<RequestEvent>();
    Reader<q_count> r{slots, {}};
    r.integer(q_time_us, e.time_us);
    r.string(q_vhost, e.vhost);
    r.integer(q_port, e.port);
    r.string(q_unique_id, e.unique_id, false);
    r.string(q_client, e.client);
    r.string(q_method, e.method);
    r.string(q_path, e.path);
    r.string(q_query, e.query, false);
    r.integer(q_status, e.status);
    r.string(q_protocol, e.protocol);
    r.string(q_user_agent, e.user_agent, false);
    std::size_t data_max = 0;
    if (version == k_schema_version) {
        r.boolean(q_intercepted, e.intercepted);
        r.integer(q_phase, e.phase, false);
    } else {
        r.integer(q_data_max, data_max);
    }
    r.integer(q_findings_dropped, e.findings_dropped, false);
    if (!r.failure && data_max > k_max_field_bytes) {
        r.too_big(k_field_data_max);
    }
    if (r.failure) {
        out = std::move(*r.failure);
        return;
    }
    if (const element* scores = r.field(q_scores, false)) {
        e.scores.emplace();
        if (auto failure = read_scores(*scores, *e.scores)) {
            out = std::move(*failure);
            return;
        }
    }
    if (version == k_schema_version_raw_alerts) {
        add_raw_alert_findings(alerts.value_or(std::string_view()), data_max, e);
        return;
    }
    const element* findings = r.field(q_findings, true);
    if (findings == nullptr) {
        out = std::move(*r.failure);
        return;
    }
    simdjson::dom::array a;
    if (findings->get_array().get(a) != simdjson::SUCCESS) {
        out = DecodeFailure{DecodeError::bad_field_type,
                            field_text("field ", k_field_findings) + " is not an array"};
        return;
    }
    if (a.size() > k_max_findings_per_event) {
        out = DecodeFailure{DecodeError::out_of_bounds,
                            "more than " + std::to_string(k_max_findings_per_event) + " findings"};
        return;
    }
    e.findings.resize(a.size());
    std::size_t i = 0;
    for (const element f : a) {
        if (auto failure = read_finding(f, e.findings[i++])) {
            out = std::move(*failure);
            return;
        }
    }
}

// One parser per thread: its buffers are sized once for the largest datagram, so
// parsing allocates nothing (decode_datagram stays free of shared state).
simdjson::dom::parser* thread_parser()
{
    thread_local simdjson::dom::parser parser;
    thread_local const bool ready =
        parser.allocate(k_max_datagram_bytes, k_max_json_depth) == simdjson::SUCCESS;
    return ready ? &parser : nullptr;
}

} // namespace

bool decode_request_fast(const Framing& framing, Decoded& out)
{
    const std::string_view datagram = framing.json;
    simdjson::dom::parser* parser = thread_parser();
    if (parser == nullptr) {
        return false;
    }
    simdjson::dom::object obj;
    if (parser->parse(datagram.data(), datagram.size()).get_object().get(obj) !=
        simdjson::SUCCESS) {
        return false;
    }
    Slots<q_count> slots(k_request_names);
    slots.fill(obj);
    // The version and type checks as the reference makes them; any other answer is its.
    const element* v = slots.get(q_v);
    if (v == nullptr || v->type() != element_type::INT64) {
        return false;
    }
    const std::int64_t version = v->get_int64().value_unsafe();
    // Alerts after a version 1 event are the reference's error to give.
    if (!(version == k_schema_version && !framing.alerts) &&
        version != k_schema_version_raw_alerts) {
        return false;
    }
    std::string_view type;
    const element* t = slots.get(q_type);
    if (t == nullptr || t->get_string().get(type) != simdjson::SUCCESS || type != k_type_request) {
        return false;
    }
    read_request(slots, version, framing.alerts, out);
    return true;
}

} // namespace mso::detail
