// The recent-events ring and the JSON view of an event for the `events` query.
#include "event_ring.h"

#include "time_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

json scores_json(const std::optional<AnomalyScores>& scores)
{
    if (!scores) {
        return nullptr;
    }
    const AnomalyScores& s = *scores;
    return json{{"inbound", s.inbound},
                {"outbound", s.outbound},
                {"inbound_pl", s.inbound_pl},
                {"outbound_pl", s.outbound_pl},
                {"inbound_threshold", s.inbound_threshold},
                {"outbound_threshold", s.outbound_threshold},
                {"blocking_pl", s.blocking_pl},
                {"detection_pl", s.detection_pl}};
}

json finding_json(const Finding& f)
{
    json out{{"id", f.id},
             {"msg", f.msg},
             {"severity", f.severity},
             {"pl", f.paranoia_level},
             {"phase", f.phase},
             {"target", f.target},
             {"data", f.data},
             {"tags", f.tags},
             {"intercepted", f.intercepted},
             {"truncated", f.truncated}};
    if (f.data_truncated) {
        out["data_truncated"] = true;
    }
    if (f.engine) {
        out["engine"] = true;
    }
    return out;
}

} // namespace

bool EventFilter::matches(const RequestEvent& e) const
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
    if (rule) {
        return std::any_of(e.findings.begin(), e.findings.end(),
                           [&](const Finding& f) { return f.id == *rule; });
    }
    return true;
}

EventRing::EventRing(std::size_t capacity) : m_events(std::max<std::size_t>(capacity, 1)) {}

void EventRing::push(RequestEvent event)
{
    if (m_size == m_events.size()) {
        ++m_evicted;
    } else {
        ++m_size;
    }
    ++m_pushed;
    m_events[m_next] = std::move(event);
    m_next = (m_next + 1) % m_events.size();
}

void EventRing::resize(std::size_t capacity)
{
    capacity = std::max<std::size_t>(capacity, 1);
    const std::size_t keep = std::min(m_size, capacity);
    std::vector<RequestEvent> events(capacity);
    const std::size_t n = m_events.size();
    // Oldest kept first, so the new ring is in order from slot 0.
    for (std::size_t i = 0; i < keep; ++i) {
        events[i] = std::move(m_events[(m_next + n - keep + i) % n]);
    }
    m_evicted += m_size - keep;
    m_events = std::move(events);
    m_size = keep;
    m_next = keep % capacity;
}

const RequestEvent* EventRing::newest() const noexcept
{
    return m_size == 0 ? nullptr : &m_events[(m_next + m_events.size() - 1) % m_events.size()];
}

json EventRing::select(const EventFilter& filter) const
{
    json out = json::array();
    const std::size_t n = m_events.size();
    for (std::size_t i = 0; i < m_size; ++i) {
        const RequestEvent& e = m_events[(m_next + n - 1 - i) % n];
        if (!filter.matches(e)) {
            continue;
        }
        out.push_back(event_json(e));
        if (filter.limit != 0 && out.size() == filter.limit) {
            break;
        }
    }
    return out;
}

json event_json(const RequestEvent& e)
{
    json rules = json::array();
    for (const Finding& f : e.findings) {
        rules.push_back(finding_json(f));
    }
    return json{{"unique_id", e.unique_id},
                {"vhost", e.vhost},
                {"port", e.port},
                {"time", iso_time_us(e.time_us)},
                {"time_us", e.time_us},
                {"client", e.client},
                {"method", e.method},
                {"path", e.path},
                {"query", e.query},
                {"status", e.status},
                {"protocol", e.protocol},
                {"user_agent", e.user_agent},
                {"intercepted", e.intercepted},
                {"phase", e.phase},
                {"scores", scores_json(e.scores)},
                {"findings_dropped", e.findings_dropped},
                {"rules", std::move(rules)}};
}

std::string event_json_line(const RequestEvent& e)
{
    return event_json(e).dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace mso
