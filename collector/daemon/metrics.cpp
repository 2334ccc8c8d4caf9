// Turns the aggregator's per-vhost totals and the collector's own numbers (its
// IngestCounters, the same set `health` shows, and the ring and bounds) into
// Prometheus families, read from the Collector directly. Label cardinality is
// bounded by the aggregator's bounds and by k_max_rule_series_per_vhost: no
// label ever holds a path, a client address or a message text.
#include "daemon/metrics.h"

#include <sys/resource.h>

#include "event_decoder.h"
#include "daemon/exposition.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_set>
#include <vector>

namespace mso {

namespace {

// A per-vhost counter of VhostStats (the same field as in the `stats` answer).
struct VhostCounter {
    std::uint64_t VhostStats::*field;
    std::string_view name;
    std::string_view help;
};

constexpr std::array k_vhost_counters = {
    VhostCounter{&VhostStats::requests, "modsec_observe_requests_total",
                 "Requests Apache logged for the vhost."},
    VhostCounter{&VhostStats::flagged, "modsec_observe_flagged_total",
                 "Requests with at least one ModSecurity finding."},
    VhostCounter{&VhostStats::intercepted, "modsec_observe_intercepted_total",
                 "Requests ModSecurity denied."},
    VhostCounter{&VhostStats::would_block, "modsec_observe_would_block_total",
                 "Requests not intercepted whose anomaly score reached its threshold."},
    VhostCounter{&VhostStats::events, "modsec_observe_events_total",
                 "Request events the collector received."},
    VhostCounter{&VhostStats::events_lost, "modsec_observe_events_lost_total",
                 "Request events Apache could not deliver (their requests are still counted)."},
    VhostCounter{&VhostStats::truncated_findings, "modsec_observe_truncated_findings_total",
                 "Findings without a rule id: ModSecurity messages cut at its length limit."},
    VhostCounter{&VhostStats::engine_messages, "modsec_observe_engine_messages_total",
                 "Findings of ModSecurity's engine rather than of a rule."},
    VhostCounter{&VhostStats::events_without_scores, "modsec_observe_events_without_scores_total",
                 "Request events without CRS anomaly scores (snippet not installed)."},
};

// A collector-wide counter of IngestCounters (the same field as in `health`).
struct IngestValue {
    std::uint64_t IngestCounters::*field;
    std::string_view name;
    std::string_view help;
};

constexpr std::array k_ingest_values = {
    IngestValue{&IngestCounters::datagrams, "modsec_observe_collector_datagrams_total",
                "Datagrams received on the event socket, malformed ones included."},
    IngestValue{&IngestCounters::request_events, "modsec_observe_collector_request_events_total",
                "Request events received."},
    IngestValue{&IngestCounters::counter_reports, "modsec_observe_collector_report_datagrams_total",
                "Counter reports (datagrams of type counters) received."},
    IngestValue{&IngestCounters::bad_queries, "modsec_observe_collector_bad_queries_total",
                "Queries answered with an error."},
    IngestValue{&IngestCounters::refused_clients, "modsec_observe_collector_refused_clients_total",
                "Query connections refused at the client limit."},
    IngestValue{&IngestCounters::rejected_senders,
                "modsec_observe_collector_rejected_senders_total",
                "Event datagrams dropped because their sender's uid/gid is not allowed."},
    IngestValue{&IngestCounters::rejected_query_peers,
                "modsec_observe_collector_rejected_query_peers_total",
                "Query connections closed because the peer's uid/gid is not allowed."},
};

// A collector-wide number that is not an ingest counter (as `health` shows it).
struct CollectorValue {
    std::uint64_t (*read)(const Collector&, Collector::Clock::time_point);
    std::string_view name;
    MetricType type;
    std::string_view help;
};

constexpr std::array k_collector_values = {
    CollectorValue{
        [](const Collector& c, Collector::Clock::time_point) { return c.aggregator().dropped(); },
        "modsec_observe_collector_dropped_at_bounds_total", MetricType::counter,
        "Data not kept because a memory bound of the aggregator was reached."},
    CollectorValue{[](const Collector& c, Collector::Clock::time_point now) {
                       return static_cast<std::uint64_t>(c.uptime_seconds(now));
                   },
                   "modsec_observe_collector_uptime_seconds", MetricType::gauge,
                   "Seconds since the collector started."},
    CollectorValue{[](const Collector& c, Collector::Clock::time_point) {
                       return static_cast<std::uint64_t>(c.aggregator().vhost_count());
                   },
                   "modsec_observe_collector_vhosts", MetricType::gauge,
                   "Vhosts the collector has seen."},
    CollectorValue{[](const Collector& c, Collector::Clock::time_point) {
                       return static_cast<std::uint64_t>(c.events().size());
                   },
                   "modsec_observe_collector_ring_events", MetricType::gauge,
                   "Request events held in the events ring."},
    CollectorValue{[](const Collector& c, Collector::Clock::time_point) {
                       return static_cast<std::uint64_t>(c.events().capacity());
                   },
                   "modsec_observe_collector_ring_capacity", MetricType::gauge,
                   "Capacity of the events ring."},
};

// A number of the history store's HistoryStatus (the same field as in `health`'s
// "history"); exported only when the store is on.
struct HistoryValue {
    std::uint64_t HistoryStatus::*field;
    std::string_view name;
    MetricType type;
    std::string_view help;
};

constexpr std::array k_history_values = {
    HistoryValue{&HistoryStatus::written, "modsec_observe_history_written_total",
                 MetricType::counter, "Request events stored in the history database."},
    HistoryValue{&HistoryStatus::duplicates, "modsec_observe_history_duplicates_total",
                 MetricType::counter, "Request events not stored because already there."},
    HistoryValue{&HistoryStatus::pruned, "modsec_observe_history_pruned_total", MetricType::counter,
                 "Request events deleted by retention."},
    HistoryValue{&HistoryStatus::batches, "modsec_observe_history_batches_total",
                 MetricType::counter, "Transactions the history writer committed."},
    HistoryValue{&HistoryStatus::queued, "modsec_observe_history_queued_events", MetricType::gauge,
                 "Request events waiting for the history writer."},
    HistoryValue{&HistoryStatus::file_bytes, "modsec_observe_history_file_bytes", MetricType::gauge,
                 "Bytes of the history database and its write-ahead log."},
    HistoryValue{&HistoryStatus::queries, "modsec_observe_history_queries_total",
                 MetricType::counter, "Queries answered from the history database."},
    HistoryValue{&HistoryStatus::queries_refused, "modsec_observe_history_queries_refused_total",
                 MetricType::counter, "History queries refused because too many waited."},
    HistoryValue{&HistoryStatus::query_errors, "modsec_observe_history_query_errors_total",
                 MetricType::counter, "History queries answered with an error."},
    HistoryValue{&HistoryStatus::queries_shared, "modsec_observe_history_queries_shared_total",
                 MetricType::counter,
                 "History queries answered by an identical query's answer (waiting, or kept under "
                 "max_age)."},
};

// The `max` rules of `stats` with the most hits (then by id), each label value once, as
// the vhost's sample keeps them; `dropped` counts the others.
void choose_rules(const VhostStats& stats, std::size_t max, std::vector<RuleSample>& out,
                  std::uint64_t& dropped)
{
    struct Candidate {
        const std::string* id;
        const RuleStats* stats;
    };
    std::vector<Candidate> all;
    all.reserve(stats.rules.size());
    for (const auto& [id, rule] : stats.rules) {
        if (!id.empty()) {
            all.push_back({&id, &rule});
        }
    }
    const auto by_hits = [](const Candidate& a, const Candidate& b) {
        return a.stats->hits != b.stats->hits ? a.stats->hits > b.stats->hits : *a.id < *b.id;
    };
    // Twice `max` leaves room for ids skipped as duplicates below.
    const std::size_t keep = std::min(all.size(), max * 2 + 1);
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                      by_hits);
    // Two ids that differ only in invalid UTF-8 would render as one series.
    std::unordered_set<std::string> labels;
    std::string label;
    for (std::size_t i = 0; i < keep && out.size() < max; ++i) {
        label.clear();
        append_label_value(label, *all[i].id);
        if (labels.insert(label).second) {
            out.push_back(RuleSample{*all[i].id, all[i].stats->severity, all[i].stats->hits,
                                     all[i].stats->matches});
        }
    }
    dropped = all.size() - out.size();
}

void append_histogram_sample(std::string& out, std::string_view name, std::string_view vhost,
                             const ScoreHistogram& h)
{
    std::array<double, ScoreHistogram::k_bounds.size()> bounds{};
    std::array<std::uint64_t, ScoreHistogram::k_bounds.size()> cumulative{};
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        bounds[i] = ScoreHistogram::k_bounds[i];
        running += h.counts[i];
        cumulative[i] = running;
    }
    const Label labels[] = {{"vhost", vhost}};
    (void)append_histogram(out, name, labels, bounds, cumulative, static_cast<double>(h.sum),
                           h.count);
}

constexpr std::string_view k_responses = "modsec_observe_responses_total";
// Info-style: 1 for each vhost whose configured SecRuleEngine a counter report said,
// the mode in a label (an alert can find the vhosts still in DetectionOnly).
constexpr std::string_view k_engine = "modsec_observe_vhost_engine";
constexpr std::string_view k_rule_hits = "modsec_observe_rule_hits_total";
constexpr std::string_view k_rule_matches = "modsec_observe_rule_matches_total";
constexpr std::string_view k_rules_dropped = "modsec_observe_rule_series_dropped";
constexpr std::string_view k_inbound = "modsec_observe_inbound_anomaly_score";
constexpr std::string_view k_outbound = "modsec_observe_outbound_anomaly_score";

void render_history(std::string& out, const HistoryStatus& history)
{
    if (!history.enabled) {
        return;
    }
    constexpr std::string_view lost = "modsec_observe_history_lost_total";
    append_family(out, lost, "Request events the history writer could not store, by reason.",
                  MetricType::counter);
    const std::pair<std::string_view, std::uint64_t> reasons[] = {
        {"queue_full", history.queue_full},
        {"disk_full", history.disk_full},
        {"io_error", history.io_errors},
    };
    for (const auto& [reason, count] : reasons) {
        const Label labels[] = {{"reason", reason}};
        append_sample(out, lost, labels, count);
    }
    for (const HistoryValue& value : k_history_values) {
        append_family(out, value.name, value.help, value.type);
        append_sample(out, value.name, {}, history.*value.field);
    }
}

// What imports did (`health`'s "import"): one family by result, and the connections.
void render_imports(std::string& out, const ImportCounters& imports)
{
    constexpr std::string_view events = "modsec_observe_collector_import_events_total";
    append_family(out, events,
                  "Imported event lines (modsec-observe import), by what became of them.",
                  MetricType::counter);
    const std::pair<std::string_view, std::uint64_t> results[] = {
        {"inserted", imports.inserted},   {"duplicate", imports.duplicates},
        {"malformed", imports.malformed}, {"lost", imports.lost},
        {"too_old", imports.too_old},
    };
    for (const auto& [result, count] : results) {
        const Label labels[] = {{"result", result}};
        append_sample(out, events, labels, count);
    }
    constexpr std::string_view connections = "modsec_observe_collector_import_connections_total";
    append_family(out, connections, "Import connections accepted.", MetricType::counter);
    append_sample(out, connections, {}, imports.connections);
}

// Per source (`sources`): events, last seen and refusals by reason. Source names come
// from receivers and imports: append_sample() escapes them.
void render_sources(std::string& out, const SourceTable& sources)
{
    constexpr std::string_view events = "modsec_observe_source_events_total";
    constexpr std::string_view bytes = "modsec_observe_source_bytes_total";
    constexpr std::string_view last_seen = "modsec_observe_source_last_seen_timestamp_seconds";
    constexpr std::string_view refusals = "modsec_observe_source_refusals_total";
    append_family(out, events, "Events received, by source (module, sensor:NAME).",
                  MetricType::counter);
    sources.for_each([&](SourceId, const std::string& name, const SourceStats& s) {
        const Label labels[] = {{"source", name}};
        append_sample(out, events, labels, s.events);
    });
    append_family(out, bytes, "Datagram or entry bytes received for the events, by source.",
                  MetricType::counter);
    sources.for_each([&](SourceId, const std::string& name, const SourceStats& s) {
        const Label labels[] = {{"source", name}};
        append_sample(out, bytes, labels, s.bytes);
    });
    append_family(out, last_seen,
                  "When the source's last event was received (Unix seconds; absent before the "
                  "first).",
                  MetricType::gauge);
    sources.for_each([&](SourceId, const std::string& name, const SourceStats& s) {
        if (s.last_seen != 0) {
            const Label labels[] = {{"source", name}};
            append_sample(out, last_seen, labels, static_cast<std::uint64_t>(s.last_seen));
        }
    });
    append_family(out, refusals, "Entries a receiver refused, by source and reason.",
                  MetricType::counter);
    sources.for_each([&](SourceId, const std::string& name, const SourceStats& s) {
        for (const auto& [reason, count] : s.refusals) {
            const Label labels[] = {{"source", name}, {"reason", reason}};
            append_sample(out, refusals, labels, count);
        }
    });
}

// The console receiver (`health`'s "console"): per sensor, uploads by result and
// refusals by reason. Sensor names come from the sensors files ("-": no valid
// credentials), so the series are bounded by the admin, not by senders.
void render_console(std::string& out, const ConsoleStatus& console)
{
    if (!console.enabled) {
        return;
    }
    constexpr std::string_view uploads = "modsec_observe_console_uploads_total";
    append_family(out, uploads, "Audit entries received by the console, by sensor and result.",
                  MetricType::counter);
    for (const auto& [sensor, c] : console.sensors) {
        const std::pair<std::string_view, std::uint64_t> results[] = {{"stored", c.stored},
                                                                      {"duplicate", c.duplicates}};
        for (const auto& [result, count] : results) {
            const Label labels[] = {{"sensor", sensor}, {"result", result}};
            append_sample(out, uploads, labels, count);
        }
    }
    constexpr std::string_view refused = "modsec_observe_console_refused_total";
    append_family(out, refused, "Console uploads refused, by sensor and reason.",
                  MetricType::counter);
    for (const auto& [sensor, c] : console.sensors) {
        for (const auto& [reason, count] : c.refused) {
            const Label labels[] = {{"sensor", sensor}, {"reason", reason}};
            append_sample(out, refused, labels, count);
        }
    }
    constexpr std::string_view bytes = "modsec_observe_console_stored_bytes_total";
    append_family(out, bytes, "Body bytes of the audit entries stored, by sensor.",
                  MetricType::counter);
    for (const auto& [sensor, c] : console.sensors) {
        const Label labels[] = {{"sensor", sensor}};
        append_sample(out, bytes, labels, c.bytes);
    }
    constexpr std::string_view last = "modsec_observe_console_last_upload_seconds";
    append_family(out, last, "Unix time of the sensor's last upload (a silent sensor stays old).",
                  MetricType::gauge);
    for (const auto& [sensor, c] : console.sensors) {
        const Label labels[] = {{"sensor", sensor}};
        append_sample(out, last, labels,
                      static_cast<std::uint64_t>(std::max<std::int64_t>(c.last_seen, 0)));
    }
    constexpr std::string_view open = "modsec_observe_console_connections";
    append_family(out, open, "Console connections open now.", MetricType::gauge);
    append_sample(out, open, {}, console.connections);
    constexpr std::string_view waiting = "modsec_observe_console_connections_waiting";
    append_family(out, waiting,
                  "Console connections waiting for a thread, or not yet accepted (beyond the "
                  "waiting room, in the kernel's accept queue).",
                  MetricType::gauge);
    append_sample(out, waiting, {}, console.waiting);
}

void render_collector(std::string& out, const Collector& collector,
                      Collector::Clock::time_point now)
{
    render_sources(out, collector.sources());
    const IngestCounters& counters = collector.ingest_counters();
    constexpr std::string_view malformed = "modsec_observe_collector_malformed_datagrams_total";
    append_family(out, malformed, "Datagrams rejected, by reason.", MetricType::counter);
    for (const DecodeErrorInfo& reason : k_decode_errors) {
        const Label labels[] = {{"reason", reason.name}};
        append_sample(out, malformed, labels, counters.malformed_for(reason.reason));
    }
    for (const IngestValue& value : k_ingest_values) {
        append_family(out, value.name, value.help, MetricType::counter);
        append_sample(out, value.name, {}, counters.*value.field);
    }
    for (const CollectorValue& value : k_collector_values) {
        append_family(out, value.name, value.help, value.type);
        append_sample(out, value.name, {}, value.read(collector, now));
    }
    render_history(out, collector.history_status());
    render_imports(out, collector.import_counters());
    render_console(out, collector.console_status());
}

void render_process(std::string& out, const ProcessStats& process)
{
    if (process.resident_bytes) {
        append_family(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                      MetricType::gauge);
        append_sample(out, "process_resident_memory_bytes", {}, *process.resident_bytes);
    }
    if (process.start_time_seconds) {
        append_family(out, "process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.", MetricType::gauge);
        append_sample(out, "process_start_time_seconds", {}, *process.start_time_seconds);
    }
}

std::optional<std::uint64_t> parse_uint(std::string_view text)
{
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

// The `index`-th field (0-based) of space-separated `text`.
std::string_view field(std::string_view text, std::size_t index)
{
    std::size_t start = 0;
    for (std::size_t i = 0;; ++i) {
        start = text.find_first_not_of(" \n", start);
        if (start == std::string_view::npos) {
            return {};
        }
        const std::size_t end = std::min(text.find_first_of(" \n", start), text.size());
        if (i == index) {
            return text.substr(start, end - start);
        }
        start = end;
    }
}

std::optional<std::string> read_small_file(const char* path)
{
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

} // namespace

std::optional<std::uint64_t> parse_statm_resident_pages(std::string_view statm)
{
    return parse_uint(field(statm, 1));
}

std::optional<std::uint64_t> parse_stat_start_ticks(std::string_view stat)
{
    // The command name (field 2) is in parentheses and may contain anything;
    // field 3 starts after the last ')'. starttime is field 22.
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string_view::npos) {
        return std::nullopt;
    }
    return parse_uint(field(stat.substr(paren + 1), 22 - 3));
}

std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat)
{
    for (std::size_t start = 0; start < proc_stat.size();) {
        const std::size_t end = std::min(proc_stat.find('\n', start), proc_stat.size());
        const std::string_view line = proc_stat.substr(start, end - start);
        if (line.starts_with("btime ")) {
            return parse_uint(field(line, 1));
        }
        start = end + 1;
    }
    return std::nullopt;
}

ProcessStats read_process_stats()
{
    ProcessStats stats;
    const long page = ::sysconf(_SC_PAGESIZE);
    const auto statm = read_small_file("/proc/self/statm");
    if (const auto pages = statm ? parse_statm_resident_pages(*statm) : std::nullopt;
        pages && page > 0) {
        stats.resident_bytes = *pages * static_cast<std::uint64_t>(page);
    }
    const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    const auto stat = read_small_file("/proc/self/stat");
    const auto boot = read_small_file("/proc/stat");
    const auto ticks = stat ? parse_stat_start_ticks(*stat) : std::nullopt;
    const auto btime = boot ? parse_boot_time(*boot) : std::nullopt;
    if (ticks && btime && ticks_per_second > 0) {
        stats.start_time_seconds =
            static_cast<double>(*btime) +
            static_cast<double>(*ticks) / static_cast<double>(ticks_per_second);
    }
    return stats;
}

MetricsRender::MetricsRender(Collector::Clock::time_point now, ProcessStats process,
                             std::size_t max_rule_series, std::size_t vhosts_per_step)
    : m_now(now),
      m_process(process),
      m_max_rule_series(max_rule_series),
      m_vhosts_per_step(std::max<std::size_t>(vhosts_per_step, 1)),
      m_counters(k_vhost_counters.size())
{
}

MetricsRender::~MetricsRender() = default;

bool MetricsRender::step(const Collector& collector)
{
    if (m_done) {
        return true;
    }
    const auto& vhosts = collector.aggregator().all();
    auto it = m_started ? vhosts.upper_bound(m_last_vhost) : vhosts.begin();
    m_started = true;
    for (std::size_t n = 0; it != vhosts.end() && n < m_vhosts_per_step; ++it, ++n) {
        const auto& [vhost, stats] = *it;
        VhostSample& v = m_pending.emplace_back();
        v.vhost = vhost;
        v.counters.reserve(k_vhost_counters.size());
        for (const VhostCounter& counter : k_vhost_counters) {
            v.counters.push_back(stats.*counter.field);
        }
        v.status.assign(stats.status.begin(), stats.status.end());
        v.engine = stats.engine;
        choose_rules(stats, m_max_rule_series, v.rules, v.rules_dropped);
        v.inbound = stats.inbound_scores;
        v.outbound = stats.outbound_scores;
    }
    if (!m_pending.empty()) {
        m_last_vhost = m_pending.back().vhost;
    }
    if (it != vhosts.end()) {
        return false;
    }
    // The collector's own series: a few dozen, rendered here (under the lock) at once.
    render_collector(m_collector_text, collector, m_now);
    m_done = true;
    return true;
}

void MetricsRender::format()
{
    std::string code;
    for (const VhostSample& v : m_pending) {
        const Label vhost[] = {{"vhost", v.vhost}};
        for (std::size_t i = 0; i < k_vhost_counters.size(); ++i) {
            append_sample(m_counters[i], k_vhost_counters[i].name, vhost, v.counters[i]);
        }
        for (const auto& [status, count] : v.status) {
            code = std::to_string(status);
            const Label labels[] = {{"vhost", v.vhost}, {"status", code}};
            append_sample(m_responses, k_responses, labels, count);
        }
        if (!v.engine.empty()) {
            const Label labels[] = {{"vhost", v.vhost}, {"engine", v.engine}};
            append_sample(m_engine, k_engine, labels, std::uint64_t{1});
        }
        for (const RuleSample& r : v.rules) {
            const Label labels[] = {
                {"vhost", v.vhost}, {"rule_id", r.id}, {"severity", r.severity}};
            append_sample(m_rule_hits, k_rule_hits, labels, r.hits);
            append_sample(m_rule_matches, k_rule_matches, labels, r.matches);
        }
        append_sample(m_rules_dropped, k_rules_dropped, vhost, v.rules_dropped);
        append_histogram_sample(m_inbound, k_inbound, v.vhost, v.inbound);
        append_histogram_sample(m_outbound, k_outbound, v.vhost, v.outbound);
    }
    m_pending.clear();
}

std::string MetricsRender::finish()
{
    format();
    // The per-vhost families after the counters, in the order they are exported.
    const struct {
        std::string_view name;
        std::string_view help;
        MetricType type;
        const std::string& samples;
    } families[] = {
        {k_responses, "Responses by final HTTP status.", MetricType::counter, m_responses},
        {k_engine,
         "1 for the vhost's SecRuleEngine as its Apache configuration sets it "
         "(on, off, detection_only).",
         MetricType::gauge, m_engine},
        {k_rule_hits, "Requests in which the rule matched.", MetricType::counter, m_rule_hits},
        {k_rule_matches, "ModSecurity messages of the rule (one request can match twice).",
         MetricType::counter, m_rule_matches},
        {k_rules_dropped,
         "Rules of the vhost not exported as rule series (those with the most hits are).",
         MetricType::gauge, m_rules_dropped},
        {k_inbound, "CRS inbound anomaly score per request (clean requests count as 0).",
         MetricType::histogram, m_inbound},
        {k_outbound, "CRS outbound anomaly score per request (clean requests count as 0).",
         MetricType::histogram, m_outbound},
    };
    std::size_t size = m_collector_text.size() + 4096;
    for (const std::string& samples : m_counters) {
        size += samples.size();
    }
    for (const auto& family : families) {
        size += family.samples.size();
    }
    std::string out;
    out.reserve(size);
    for (std::size_t i = 0; i < k_vhost_counters.size(); ++i) {
        append_family(out, k_vhost_counters[i].name, k_vhost_counters[i].help, MetricType::counter);
        out += m_counters[i];
    }
    for (const auto& family : families) {
        append_family(out, family.name, family.help, family.type);
        out += family.samples;
    }
    out += m_collector_text;
    render_process(out, m_process);
    return out;
}

std::string render_metrics(const Collector& collector, Collector::Clock::time_point now,
                           const ProcessStats& process, std::size_t max_rule_series)
{
    MetricsRender render(now, process, max_rule_series, SIZE_MAX);
    (void)render.step(collector);
    return render.finish();
}

MemoryUsage read_memory_usage()
{
    MemoryUsage memory;
    memory.rss_bytes = read_process_stats().resident_bytes;
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) == 0 && usage.ru_maxrss > 0) {
        memory.rss_peak_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024; // KiB
    }
    return memory;
}

} // namespace mso
