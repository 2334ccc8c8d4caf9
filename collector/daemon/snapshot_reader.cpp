// The checked snapshot reader and the snapshot's event record; see snapshot_reader.h.
#include "daemon/snapshot_reader.h"

#include "daemon/snapshot.h"
#include "event_fields.h"

#include <limits>
#include <utility>

namespace mso {
namespace {

using json = nlohmann::json;

// Longest string a snapshot may hold: nothing the collector keeps is longer than a
// datagram.
constexpr std::size_t k_max_string_bytes = k_max_datagram_bytes;
// Findings and tags of one event: a datagram cannot carry more.
constexpr std::size_t k_max_event_items = k_max_datagram_bytes / 16;

json scores_json(const AnomalyScores& s)
{
    return json{{k_field_inbound, s.inbound},
                {k_field_outbound, s.outbound},
                {k_field_inbound_pl, s.inbound_pl},
                {k_field_outbound_pl, s.outbound_pl},
                {k_field_inbound_threshold, s.inbound_threshold},
                {k_field_outbound_threshold, s.outbound_threshold},
                {k_field_blocking_pl, s.blocking_pl},
                {k_field_detection_pl, s.detection_pl}};
}

bool read_levels(SnapshotReader& r, const json& obj, const char* key, std::array<int, 4>& out)
{
    const json* levels = r.member(obj, key);
    const auto scope = r.enter(key);
    if (levels == nullptr || r.tuple(*levels, out.size()) == nullptr) {
        return false;
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto item = r.enter(i);
        if (!r.int_value((*levels)[i], out[i])) {
            return false;
        }
    }
    return true;
}

bool read_scores(SnapshotReader& r, const json& obj, AnomalyScores& s)
{
    return r.int32(obj, k_field_inbound, s.inbound) && r.int32(obj, k_field_outbound, s.outbound) &&
           read_levels(r, obj, k_field_inbound_pl, s.inbound_pl) &&
           read_levels(r, obj, k_field_outbound_pl, s.outbound_pl) &&
           r.int32(obj, k_field_inbound_threshold, s.inbound_threshold) &&
           r.int32(obj, k_field_outbound_threshold, s.outbound_threshold) &&
           r.int32(obj, k_field_blocking_pl, s.blocking_pl) &&
           r.int32(obj, k_field_detection_pl, s.detection_pl);
}

bool read_finding(SnapshotReader& r, const json& obj, Finding& f)
{
    if (!(r.string(obj, k_field_id, f.id) && r.string(obj, k_field_msg, f.msg) &&
          r.string(obj, k_field_severity, f.severity) &&
          r.int32(obj, k_field_pl, f.paranoia_level) && r.int32(obj, k_field_phase, f.phase) &&
          r.string(obj, k_field_target, f.target) && r.string(obj, k_field_data, f.data) &&
          r.boolean(obj, k_field_data_truncated, f.data_truncated) &&
          r.boolean(obj, k_field_intercepted, f.intercepted) &&
          r.boolean(obj, k_field_truncated, f.truncated) &&
          r.boolean(obj, k_field_engine, f.engine))) {
        return false;
    }
    const json* tags = r.array(obj, k_field_tags, k_max_event_items);
    const auto scope = r.enter(k_field_tags);
    if (tags == nullptr) {
        return false;
    }
    f.tags.clear();
    std::string tag;
    for (std::size_t i = 0; i < tags->size(); ++i) {
        const auto item = r.enter(i);
        if (!r.string_value((*tags)[i], tag)) {
            return false;
        }
        f.tags.push_back(tag);
    }
    return true;
}

} // namespace

SnapshotReader::Scope SnapshotReader::enter(std::string_view key)
{
    const std::size_t length = m_path.size();
    if (!m_path.empty()) {
        m_path += '.';
    }
    m_path += key;
    return Scope(m_path, length);
}

SnapshotReader::Scope SnapshotReader::enter(std::size_t index)
{
    const std::size_t length = m_path.size();
    m_path += '[';
    m_path += std::to_string(index);
    m_path += ']';
    return Scope(m_path, length);
}

bool SnapshotReader::fail(std::string_view what)
{
    if (m_error.empty()) {
        m_error = m_path.empty() ? std::string(what) : m_path + ": " + std::string(what);
    }
    return false;
}

const json* SnapshotReader::member(const json& obj, const char* key)
{
    const auto it = obj.find(key); // end() for anything but an object
    if (it == obj.end()) {
        const auto scope = enter(key);
        fail("missing");
        return nullptr;
    }
    return &*it;
}

const json* SnapshotReader::object(const json& value, const char* key)
{
    if (key == nullptr) {
        return value.is_object() ? &value : (fail("not an object"), nullptr);
    }
    const json* v = member(value, key);
    const auto scope = enter(key);
    return v == nullptr ? nullptr : object(*v, nullptr);
}

const json* SnapshotReader::array(const json& value, const char* key, std::size_t bound)
{
    if (key != nullptr) {
        const json* v = member(value, key);
        const auto scope = enter(key);
        return v == nullptr ? nullptr : array(*v, nullptr, bound);
    }
    if (!value.is_array()) {
        fail("not an array");
        return nullptr;
    }
    if (value.size() > bound * k_snapshot_overflow_factor) {
        fail("absurd size: " + std::to_string(value.size()) + " entries (at most " +
             std::to_string(bound) + " are kept)");
        return nullptr;
    }
    return &value;
}

const json* SnapshotReader::tuple(const json& value, std::size_t size)
{
    if (!value.is_array() || value.size() != size) {
        fail("not an array of " + std::to_string(size));
        return nullptr;
    }
    return &value;
}

bool SnapshotReader::u64_value(const json& value, std::uint64_t& out)
{
    // Parsed text gives unsigned numbers; a document built in memory may hold signed ones.
    if (value.is_number_unsigned()) {
        out = value.get<std::uint64_t>();
        return true;
    }
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
        return fail("not an unsigned integer");
    }
    out = static_cast<std::uint64_t>(value.get<std::int64_t>());
    return true;
}

bool SnapshotReader::i64_value(const json& value, std::int64_t& out)
{
    if (value.is_number_unsigned()) {
        const auto u = value.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return fail("integer out of range");
        }
        out = static_cast<std::int64_t>(u);
        return true;
    }
    if (!value.is_number_integer()) {
        return fail("not an integer");
    }
    out = value.get<std::int64_t>();
    return true;
}

bool SnapshotReader::int_value(const json& value, int& out)
{
    std::int64_t wide = 0;
    if (!i64_value(value, wide)) {
        return false;
    }
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
        return fail("integer out of range");
    }
    out = static_cast<int>(wide);
    return true;
}

bool SnapshotReader::string_value(const json& value, std::string& out)
{
    if (!value.is_string()) {
        return fail("not a string");
    }
    const auto& s = value.get_ref<const std::string&>();
    if (s.size() > k_max_string_bytes) {
        return fail("absurd size: a string of " + std::to_string(s.size()) + " bytes");
    }
    out = s;
    return true;
}

bool SnapshotReader::bool_value(const json& value, bool& out)
{
    if (!value.is_boolean()) {
        return fail("not a boolean");
    }
    out = value.get<bool>();
    return true;
}

template <typename T>
bool SnapshotReader::read_member(const json& obj, const char* key, T& out,
                                 bool (SnapshotReader::*read)(const json&, T&))
{
    const json* v = member(obj, key);
    const auto scope = enter(key);
    return v != nullptr && (this->*read)(*v, out);
}

bool SnapshotReader::u64(const json& obj, const char* key, std::uint64_t& out)
{
    return read_member(obj, key, out, &SnapshotReader::u64_value);
}

bool SnapshotReader::i64(const json& obj, const char* key, std::int64_t& out)
{
    return read_member(obj, key, out, &SnapshotReader::i64_value);
}

bool SnapshotReader::int32(const json& obj, const char* key, int& out)
{
    return read_member(obj, key, out, &SnapshotReader::int_value);
}

bool SnapshotReader::string(const json& obj, const char* key, std::string& out)
{
    return read_member(obj, key, out, &SnapshotReader::string_value);
}

bool SnapshotReader::boolean(const json& obj, const char* key, bool& out)
{
    return read_member(obj, key, out, &SnapshotReader::bool_value);
}

json snapshot_event(const RequestEvent& e)
{
    json findings = json::array();
    for (const Finding& f : e.findings) {
        findings.push_back(
            json{{k_field_id, f.id},
                 {k_field_msg, f.msg},
                 {k_field_severity, f.severity},
                 {k_field_pl, f.paranoia_level},
                 {k_field_phase, f.phase},
                 {k_field_tags, std::vector<std::string_view>(f.tags.begin(), f.tags.end())},
                 {k_field_target, f.target},
                 {k_field_data, f.data},
                 {k_field_data_truncated, f.data_truncated},
                 {k_field_intercepted, f.intercepted},
                 {k_field_truncated, f.truncated},
                 {k_field_engine, f.engine}});
    }
    return json{{k_field_time_us, e.time_us},
                {k_field_vhost, e.vhost},
                {k_field_port, e.port},
                {k_field_unique_id, e.unique_id},
                {k_field_client, e.client},
                {k_field_method, e.method},
                {k_field_path, e.path},
                {k_field_query, e.query},
                {k_field_status, e.status},
                {k_field_protocol, e.protocol},
                {k_field_user_agent, e.user_agent},
                {k_field_intercepted, e.intercepted},
                {k_field_phase, e.phase},
                {k_field_scores, e.scores ? scores_json(*e.scores) : json(nullptr)},
                {k_field_findings, std::move(findings)},
                {k_field_findings_dropped, e.findings_dropped}};
}

bool read_event(SnapshotReader& r, const json& value, RequestEvent& e)
{
    const json* obj = r.object(value, nullptr);
    if (obj == nullptr ||
        !(r.i64(*obj, k_field_time_us, e.time_us) && r.string(*obj, k_field_vhost, e.vhost) &&
          r.int32(*obj, k_field_port, e.port) && r.string(*obj, k_field_unique_id, e.unique_id) &&
          r.string(*obj, k_field_client, e.client) && r.string(*obj, k_field_method, e.method) &&
          r.string(*obj, k_field_path, e.path) && r.string(*obj, k_field_query, e.query) &&
          r.int32(*obj, k_field_status, e.status) && r.string(*obj, k_field_protocol, e.protocol) &&
          r.string(*obj, k_field_user_agent, e.user_agent) &&
          r.boolean(*obj, k_field_intercepted, e.intercepted) &&
          r.int32(*obj, k_field_phase, e.phase) &&
          r.u64(*obj, k_field_findings_dropped, e.findings_dropped))) {
        return false;
    }
    const json* scores = r.member(*obj, k_field_scores);
    if (scores == nullptr) {
        return false;
    }
    if (!scores->is_null()) {
        const auto scope = r.enter(k_field_scores);
        if (r.object(*scores, nullptr) == nullptr || !read_scores(r, *scores, e.scores.emplace())) {
            return false;
        }
    }
    const json* findings = r.array(*obj, k_field_findings, k_max_event_items);
    const auto scope = r.enter(k_field_findings);
    if (findings == nullptr) {
        return false;
    }
    e.findings.resize(findings->size());
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const auto item = r.enter(i);
        const json* finding = r.object((*findings)[i], nullptr);
        if (finding == nullptr || !read_finding(r, *finding, e.findings[i])) {
            return false;
        }
    }
    return true;
}

} // namespace mso
