// The recent-events ring and the JSON view of an event for the `events` query.
#include "state/event_ring.h"

#include "event_fields.h"
#include "state/event_detail.h"
#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

// A threshold or paranoia level, null when unknown (0: the request raised no score, so
// the snippet did not export it).
json known(int value)
{
    return value > 0 ? json(value) : json(nullptr);
}

json scores_json(const std::optional<AnomalyScores>& scores)
{
    if (!scores) {
        return nullptr;
    }
    const AnomalyScores& s = *scores;
    return json{{k_field_inbound, s.inbound},
                {k_field_outbound, s.outbound},
                {k_field_inbound_pl, s.inbound_pl},
                {k_field_outbound_pl, s.outbound_pl},
                {k_field_inbound_threshold, known(s.inbound_threshold)},
                {k_field_outbound_threshold, known(s.outbound_threshold)},
                {k_field_blocking_pl, known(s.blocking_pl)},
                {k_field_detection_pl, known(s.detection_pl)}};
}

json finding_json(const Finding& f)
{
    json out{{k_field_id, f.id},
             {k_field_msg, f.msg},
             {k_field_severity, f.severity},
             {k_field_pl, f.paranoia_level},
             {k_field_phase, f.phase},
             {k_field_target, f.target},
             {k_field_data, f.data},
             {k_field_tags, std::vector<std::string_view>(f.tags.begin(), f.tags.end())},
             {k_field_intercepted, f.intercepted},
             {k_field_truncated, f.truncated}};
    if (f.data_truncated) {
        out[k_field_data_truncated] = true;
    }
    if (f.engine) {
        out[k_field_engine] = true;
    }
    return out;
}

} // namespace

bool EventFilter::matches(const RequestEvent& e, EngineMode event_engine,
                          std::string_view event_source) const
{
    if (vhost && e.vhost != *vhost) {
        return false;
    }
    if (client && e.client != *client) {
        return false;
    }
    if (intercepted && e.intercepted != *intercepted) {
        return false;
    }
    if (since_us && e.time_us < *since_us) {
        return false;
    }
    if (until_us && e.time_us >= *until_us) {
        return false;
    }
    if (path_prefix && !std::string_view(e.path).starts_with(*path_prefix)) {
        return false;
    }
    if (status && e.status != *status) {
        return false;
    }
    if (would_block && (verdict_of(e) == Verdict::would_block) != *would_block) {
        return false;
    }
    if ((engine && event_engine != *engine) || (source && *source != event_source)) {
        return false;
    }
    if (rule && std::none_of(e.findings.begin(), e.findings.end(),
                             [&](const Finding& f) { return f.id == *rule; })) {
        return false;
    }
    if (grep) {
        return std::any_of(e.findings.begin(), e.findings.end(), [&](const Finding& f) {
            return f.msg.find(*grep) != std::string::npos ||
                   f.data.find(*grep) != std::string::npos;
        });
    }
    return true;
}

std::size_t approximate_bytes(const RequestEvent& e) noexcept
{
    // A buffer on the heap once it outgrows std::string's inline 15 bytes (libstdc++).
    auto heap = [](std::size_t capacity) { return capacity > 15 ? capacity + 1 : 0; };
    auto str = [&](const std::string& s) { return heap(s.capacity()); };
    std::size_t n = sizeof(RequestEvent) + str(e.vhost) + str(e.unique_id) + str(e.client) +
                    str(e.method) + str(e.path) + str(e.query) + str(e.protocol) +
                    str(e.user_agent) + e.findings.capacity() * sizeof(Finding);
    for (const Finding& f : e.findings) {
        n += str(f.id) + str(f.msg) + str(f.severity) + str(f.target) + str(f.data) +
             heap(f.tags.capacity());
    }
    return n;
}

EventRing::EventRing(std::size_t capacity, std::size_t max_bytes)
    : m_events(std::max<std::size_t>(capacity, 1)),
      m_sources(m_events.size(), k_module_source_id),
      m_engines(m_events.size(), EngineMode::unknown),
      m_slot_bytes(m_events.size(), 0),
      m_max_bytes(max_bytes)
{
}

void EventRing::push(RequestEvent event, SourceId source)
{
    const EngineMode engine = inferred_engine_mode(event);
    push(std::move(event), source, engine);
}

void EventRing::push(RequestEvent&& event, SourceId source, EngineMode engine)
{
    // Clamped as the slot keeps it, so that bytes() stays the sum of the slots.
    const std::uint32_t bytes = static_cast<std::uint32_t>(
        std::min<std::size_t>(approximate_bytes(event), std::numeric_limits<std::uint32_t>::max()));
    const std::size_t n = m_events.size();
    // Evict the oldest while the new event would not fit in the byte budget (a single
    // event larger than the budget is kept alone).
    while (m_size > 0 && m_bytes + bytes > m_max_bytes) {
        const std::size_t oldest = (m_next + n - m_size) % n;
        m_bytes -= m_slot_bytes[oldest];
        m_events[oldest].reset();
        --m_size;
        ++m_evicted;
    }
    if (m_size == n) {
        m_bytes -= m_slot_bytes[m_next];
        ++m_evicted;
    } else {
        ++m_size;
    }
    ++m_pushed;
    m_events[m_next] = std::make_shared<const RequestEvent>(std::move(event));
    m_sources[m_next] = source;
    m_engines[m_next] = engine;
    m_slot_bytes[m_next] = bytes;
    m_bytes += bytes;
    m_next = (m_next + 1) % n;
}

void EventRing::resize(std::size_t capacity)
{
    capacity = std::max<std::size_t>(capacity, 1);
    const std::size_t keep = std::min(m_size, capacity);
    std::vector<std::shared_ptr<const RequestEvent>> events(capacity);
    std::vector<SourceId> sources(capacity, k_module_source_id);
    std::vector<EngineMode> engines(capacity, EngineMode::unknown);
    std::vector<std::uint32_t> slot_bytes(capacity, 0);
    const std::size_t n = m_events.size();
    // Oldest kept first, so the new ring is in order from slot 0.
    for (std::size_t i = 0; i < keep; ++i) {
        events[i] = std::move(m_events[(m_next + n - keep + i) % n]);
        sources[i] = m_sources[(m_next + n - keep + i) % n];
        engines[i] = m_engines[(m_next + n - keep + i) % n];
        slot_bytes[i] = m_slot_bytes[(m_next + n - keep + i) % n];
    }
    m_evicted += m_size - keep;
    m_events = std::move(events);
    m_sources = std::move(sources);
    m_engines = std::move(engines);
    m_slot_bytes = std::move(slot_bytes);
    m_size = keep;
    m_next = keep % capacity;
    m_bytes = 0;
    for (std::size_t i = 0; i < keep; ++i) {
        m_bytes += m_slot_bytes[i];
    }
}

const RequestEvent* EventRing::newest() const noexcept
{
    return m_size == 0 ? nullptr : m_events[(m_next + m_events.size() - 1) % m_events.size()].get();
}

std::shared_ptr<const RequestEvent> EventRing::newest_shared() const noexcept
{
    return m_size == 0 ? nullptr : m_events[(m_next + m_events.size() - 1) % m_events.size()];
}

SourceId EventRing::newest_source() const noexcept
{
    return m_size == 0 ? k_module_source_id
                       : m_sources[(m_next + m_sources.size() - 1) % m_sources.size()];
}

EngineMode EventRing::newest_engine() const noexcept
{
    return m_size == 0 ? EngineMode::unknown
                       : m_engines[(m_next + m_engines.size() - 1) % m_engines.size()];
}

const RequestEvent* EventRing::oldest() const noexcept
{
    const std::size_t n = m_events.size();
    return m_size == 0 ? nullptr : m_events[(m_next + n - m_size) % n].get();
}

namespace {

// The name of source `id` (SourceTable::names()).
std::string_view source_name(SourceId id, const std::vector<std::string>& source_names)
{
    return id < source_names.size()   ? std::string_view(source_names[id])
           : id == k_module_source_id ? std::string_view(k_module_source)
                                      : k_other_source_name;
}

} // namespace

template <typename Visit>
void EventRing::visit_matching(const EventFilter& filter,
                               const std::vector<std::string>& source_names, Visit&& visit) const
{
    const std::size_t n = m_events.size();
    for (std::size_t i = 0; i < m_size; ++i) {
        const std::size_t slot = (m_next + n - 1 - i) % n;
        if (filter.matches(*m_events[slot], m_engines[slot],
                           source_name(m_sources[slot], source_names)) &&
            !visit(slot)) {
            return;
        }
    }
}

std::vector<EventRing::Entry>
EventRing::matching(const EventFilter& filter, const std::vector<std::string>& source_names) const
{
    std::vector<Entry> out;
    visit_matching(filter, source_names, [&](std::size_t slot) {
        out.push_back({m_events[slot], m_sources[slot], m_engines[slot]});
        return filter.limit == 0 || out.size() < filter.limit;
    });
    return out;
}

std::size_t EventRing::count_matching(const EventFilter& filter,
                                      const std::vector<std::string>& source_names,
                                      std::size_t up_to) const
{
    std::size_t n = 0;
    if (up_to > 0) {
        visit_matching(filter, source_names, [&](std::size_t) { return ++n < up_to; });
    }
    return n;
}

json EventRing::row(const Entry& entry, const std::vector<std::string>& source_names,
                    bool with_source)
{
    json out = event_json(*entry.event);
    if (with_source) {
        out["source"] = std::string(source_name(entry.source, source_names));
    }
    // As a history row carries them (event_with_origin_json).
    out["engine"] = std::string(engine_mode_name(entry.engine));
    out["verdict"] = std::string(verdict_name(verdict_of(*entry.event)));
    return out;
}

json EventRing::select(const EventFilter& filter, const std::vector<std::string>& source_names,
                       bool with_source) const
{
    json out = json::array();
    for (const Entry& entry : matching(filter, source_names)) {
        out.push_back(row(entry, source_names, with_source));
    }
    return out;
}

json event_json(const RequestEvent& e)
{
    json rules = json::array();
    for (const Finding& f : e.findings) {
        rules.push_back(finding_json(f));
    }
    return json{{k_field_unique_id, e.unique_id},
                {k_field_vhost, e.vhost},
                {k_field_port, e.port},
                {k_field_time, iso_time_us(e.time_us)},
                {k_field_time_us, e.time_us},
                {k_field_client, e.client},
                {k_field_method, e.method},
                {k_field_path, e.path},
                {k_field_query, e.query},
                {k_field_status, e.status},
                {k_field_protocol, e.protocol},
                {k_field_user_agent, e.user_agent},
                {k_field_intercepted, e.intercepted},
                {k_field_phase, e.phase},
                {k_field_scores, scores_json(e.scores)},
                {k_field_findings_dropped, e.findings_dropped},
                {k_field_rules, std::move(rules)}};
}

std::string event_json_line(const RequestEvent& e, std::string_view source, EngineMode engine)
{
    return event_with_origin_json(e, source, engine, verdict_name(verdict_of(e)))
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace mso
