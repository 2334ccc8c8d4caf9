// Routes decoded datagrams to the aggregator and keeps the counters behind the
// `health` query.
#include "state/collector.h"

#include <nlohmann/json.hpp>

#include <variant>

namespace mso {

std::optional<DecodeFailure> Collector::ingest(std::string_view datagram, std::int64_t now)
{
    Decoded decoded = decode_datagram(datagram);
    ++m_counters.datagrams;
    if (auto* event = std::get_if<RequestEvent>(&decoded)) {
        ++m_counters.request_events;
        m_sources.count_event(k_module_source_id, now, event->time_us, datagram.size());
        const VhostStats* vhost = m_aggregator.add(*event, now);
        // Resolved once, here: the ring keeps it and the history store writes the same
        // (Server::store takes it from the ring).
        const EngineMode engine =
            event_engine_mode(*event, vhost != nullptr ? vhost->engine : std::string_view());
        m_events.push(std::move(*event), k_module_source_id, engine);
        return std::nullopt;
    }
    if (auto* report = std::get_if<CounterReport>(&decoded)) {
        ++m_counters.counter_reports;
        m_aggregator.add(*report, now);
        return std::nullopt;
    }
    auto& failure = std::get<DecodeFailure>(decoded);
    note_malformed(failure.reason);
    return std::move(failure);
}

void Collector::ingest_event(const RequestEvent& event, std::string_view source, std::int64_t now,
                             std::uint64_t bytes, EngineMode engine)
{
    const SourceId id = m_sources.intern(source);
    m_sources.count_event(id, now, event.time_us, bytes != 0 ? bytes : approximate_bytes(event));
    if (id == k_module_source_id) {
        m_aggregator.add(event, now);
    } else {
        auto it = m_source_aggregates.find(id);
        if (it == m_source_aggregates.end()) {
            const bool room = m_source_aggregates.size() < k_max_source_aggregates;
            it = m_source_aggregates.try_emplace(room ? id : k_other_source_id).first;
        }
        it->second.add(event, now);
    }
    m_events.push(RequestEvent(event), id,
                  engine != EngineMode::unknown ? engine : inferred_engine_mode(event));
}

void Collector::count_source_refusal(std::string_view source, std::string_view reason,
                                     std::int64_t now)
{
    m_sources.count_refusal(source, reason, now);
}

const Aggregator* Collector::aggregates_of(SourceId source) const noexcept
{
    if (source == k_module_source_id) {
        return &m_aggregator;
    }
    auto it = m_source_aggregates.find(source);
    return it == m_source_aggregates.end() ? nullptr : &it->second;
}

bool Collector::restore_source_aggregates(SourceId source, Aggregator aggregator)
{
    if (source == k_module_source_id) {
        m_aggregator = std::move(aggregator);
        return true;
    }
    if (m_source_aggregates.size() >= k_max_source_aggregates &&
        m_source_aggregates.count(source) == 0) {
        return false;
    }
    m_source_aggregates[source] = std::move(aggregator);
    return true;
}

void Collector::count_malformed(DecodeError reason)
{
    ++m_counters.datagrams;
    note_malformed(reason);
}

void Collector::note_malformed(DecodeError reason)
{
    ++m_counters.malformed;
    ++m_counters.malformed_by_reason[static_cast<std::size_t>(reason)];
}

std::int64_t Collector::uptime_seconds(Clock::time_point now) const noexcept
{
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - m_started).count();
    return uptime < 0 ? 0 : uptime;
}

nlohmann::ordered_json Collector::health(Clock::time_point now, const MemoryUsage& memory) const
{
    using json = nlohmann::ordered_json;
    json out = json::object();
    out["uptime_s"] = uptime_seconds(now);
    if (memory.rss_bytes) {
        out["rss_bytes"] = *memory.rss_bytes;
    }
    if (memory.rss_peak_bytes) {
        out["rss_peak_bytes"] = *memory.rss_peak_bytes;
    }
    const IngestCounters& c = m_counters;
    out["datagrams"] = c.datagrams;
    out["request_events"] = c.request_events;
    out["counter_reports"] = c.counter_reports;
    out["malformed"] = c.malformed;
    // Only the reasons seen, in enum order.
    json by_reason = json::object();
    for (const DecodeErrorInfo& reason : k_decode_errors) {
        if (const std::uint64_t count = c.malformed_for(reason.reason); count != 0) {
            by_reason[reason.name] = count;
        }
    }
    out["malformed_by_reason"] = std::move(by_reason);
    out["bad_queries"] = c.bad_queries;
    out["refused_clients"] = c.refused_clients;
    out["tail_dropped"] = c.tail_dropped;
    out["tail_clients"] = m_tail_clients;
    out["rejected_senders"] = c.rejected_senders;
    out["rejected_query_peers"] = c.rejected_query_peers;
    out["dropped_at_bounds"] = m_aggregator.dropped();
    out["events_lost"] = m_aggregator.events_lost();
    out["ring_events"] = m_events.size();
    out["ring_capacity"] = m_events.capacity();
    out["vhosts"] = m_aggregator.vhost_count();
    out["snapshot_loaded"] = m_snapshot.loaded;
    out["snapshot_last_saved"] = m_snapshot.last_saved;
    out["snapshot_last_error"] = m_snapshot.last_error;
    out["snapshot_set_aside"] = m_snapshot.set_aside;
    if (m_event_socket) {
        out["event_socket"] = json{{"max_dgram_qlen", m_event_socket->max_dgram_qlen},
                                   {"rests", m_event_socket->rests}};
    }
    if (!m_spool.dir.empty()) {
        out["spool"] = json{{"dir", m_spool.dir},
                            {"files_replayed", m_spool.files_replayed},
                            {"lines_replayed", m_spool.lines_replayed},
                            {"lines_too_long", m_spool.lines_too_long},
                            {"errors", m_spool.errors},
                            {"last_error", m_spool.last_error}};
    }
    const HistoryStatus& h = m_history;
    json history = json::object();
    history["enabled"] = h.enabled;
    if (h.enabled) {
        history["path"] = h.path;
        history["written"] = h.written;
        history["duplicates"] = h.duplicates;
        history["queue_full"] = h.queue_full;
        history["disk_full"] = h.disk_full;
        history["io_errors"] = h.io_errors;
        history["batches"] = h.batches;
        history["pruned"] = h.pruned;
        history["queued"] = h.queued;
        history["file_bytes"] = h.file_bytes;
        history["last_error"] = h.last_error;
        history["queries"] = h.queries;
        history["queries_refused"] = h.queries_refused;
        history["query_errors"] = h.query_errors;
        history["queries_shared"] = h.queries_shared;
    }
    history["set_aside"] = h.set_aside;
    out["history"] = std::move(history);
    const ImportCounters& i = m_import;
    out["import"] =
        json{{"connections", i.connections}, {"events", i.events},       {"inserted", i.inserted},
             {"duplicates", i.duplicates},   {"malformed", i.malformed}, {"lost", i.lost},
             {"too_old", i.too_old}};
    if (m_console.enabled) {
        json console = json::object();
        console["listen"] = m_console.listen;
        console["connections"] = m_console.connections;
        console["waiting"] = m_console.waiting;
        json sensors = json::object();
        for (const auto& [name, s] : m_console.sensors) {
            json refused = json::object();
            for (const auto& [reason, n] : s.refused) {
                refused[reason] = n;
            }
            sensors[name] = json{{"requests", s.requests},     {"stored", s.stored},
                                 {"duplicates", s.duplicates}, {"bytes", s.bytes},
                                 {"last_seen", s.last_seen},   {"refused", std::move(refused)}};
        }
        console["sensors"] = std::move(sensors);
        out["console"] = std::move(console);
    }
    return out;
}

} // namespace mso
