// Routes decoded datagrams to the aggregator and keeps the counters behind the
// `health` query.
#include "state/collector.h"

#include <nlohmann/json.hpp>

#include <variant>

namespace mso {

std::optional<DecodeFailure> Collector::ingest(std::string_view datagram, std::int64_t now)
{
    Decoded decoded = decode_datagram(datagram);
    ++m_datagrams;
    if (auto* event = std::get_if<RequestEvent>(&decoded)) {
        ++m_request_events;
        m_aggregator.add(*event, now);
        m_events.push(std::move(*event));
        return std::nullopt;
    }
    if (auto* report = std::get_if<CounterReport>(&decoded)) {
        ++m_counter_reports;
        m_aggregator.add(*report, now);
        return std::nullopt;
    }
    auto& failure = std::get<DecodeFailure>(decoded);
    note_malformed(failure.reason);
    return std::move(failure);
}

void Collector::count_malformed(DecodeError reason)
{
    ++m_datagrams;
    note_malformed(reason);
}

void Collector::note_malformed(DecodeError reason)
{
    ++m_malformed;
    ++m_malformed_by_reason[reason];
}

nlohmann::ordered_json Collector::health(Clock::time_point now, const MemoryUsage& memory) const
{
    using json = nlohmann::ordered_json;
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - m_started).count();
    json out = json::object();
    out["uptime_s"] = uptime < 0 ? 0 : uptime;
    if (memory.rss_bytes) {
        out["rss_bytes"] = *memory.rss_bytes;
    }
    if (memory.rss_peak_bytes) {
        out["rss_peak_bytes"] = *memory.rss_peak_bytes;
    }
    out["datagrams"] = m_datagrams;
    out["request_events"] = m_request_events;
    out["counter_reports"] = m_counter_reports;
    out["malformed"] = m_malformed;
    json by_reason = json::object();
    for (const auto& [reason, count] : m_malformed_by_reason) {
        by_reason[reason_name(reason)] = count;
    }
    out["malformed_by_reason"] = std::move(by_reason);
    out["bad_queries"] = m_bad_queries;
    out["refused_clients"] = m_refused_clients;
    out["tail_dropped"] = m_tail_dropped;
    out["rejected_senders"] = m_rejected_senders;
    out["rejected_query_peers"] = m_rejected_query_peers;
    out["dropped_at_bounds"] = m_aggregator.dropped();
    out["events_lost"] = m_aggregator.events_lost();
    out["ring_events"] = m_events.size();
    out["ring_capacity"] = m_events.capacity();
    out["vhosts"] = m_aggregator.vhost_count();
    out["snapshot_loaded"] = m_snapshot.loaded;
    out["snapshot_last_saved"] = m_snapshot.last_saved;
    out["snapshot_last_error"] = m_snapshot.last_error;
    out["snapshot_set_aside"] = m_snapshot.set_aside;
    if (!m_spool.dir.empty()) {
        out["spool"] = json{{"dir", m_spool.dir},
                            {"files_replayed", m_spool.files_replayed},
                            {"lines_replayed", m_spool.lines_replayed},
                            {"lines_too_long", m_spool.lines_too_long},
                            {"errors", m_spool.errors},
                            {"last_error", m_spool.last_error}};
    }
    return out;
}

} // namespace mso
