// What `GET /metrics` exports (docs/protocol.md, section 3): the per-vhost
// totals of the `stats` query, per-rule hits, anomaly-score histograms, the
// collector's `health` counters and two process metrics, in the Prometheus text
// format. Rendering reads the Collector directly (no JSON in between); a scrape
// (MetricsRender below) takes the collector lock in short steps, a few vhosts each,
// and formats the text between them, outside the lock.
#pragma once

#include "state/collector.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mso {

// Rule series exported per vhost: the rules with the most hits. The aggregator
// keeps up to k_max_rules_per_vhost; exporting them all could make a scrape
// megabytes long and a Prometheus server's series count explode. The rest are
// counted in modsec_observe_rule_series_dropped{vhost}.
inline constexpr std::size_t k_max_rule_series_per_vhost = 200;

// Facts about this process from /proc; absent when /proc cannot be read.
struct ProcessStats {
    std::optional<std::uint64_t> resident_bytes; // /proc/self/statm
    std::optional<double> start_time_seconds;    // Unix time (/proc/self/stat, /proc/stat)
};

// Reads /proc/self/statm, /proc/self/stat and /proc/stat. Thread-safe; blocks
// only on procfs reads.
[[nodiscard]] ProcessStats read_process_stats();

// The resident set size now (procfs) and at its peak (getrusage), for `health`.
// Thread-safe; blocks only on procfs reads.
[[nodiscard]] MemoryUsage read_memory_usage();

// Parsers for the /proc files above (pure; nullopt when malformed).
[[nodiscard]] std::optional<std::uint64_t> parse_statm_resident_pages(std::string_view statm);
[[nodiscard]] std::optional<std::uint64_t> parse_stat_start_ticks(std::string_view stat);
[[nodiscard]] std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat);

// One exported rule series of a vhost, copied from its RuleStats.
struct RuleSample {
    std::string id;
    std::string severity;
    std::uint64_t hits = 0;
    std::uint64_t matches = 0;
};

// What one vhost exports, copied out of the aggregator so it can be formatted without
// the collector lock.
struct VhostSample {
    std::string vhost;
    std::vector<std::uint64_t> counters; // in the order of the counter families
    std::vector<std::pair<int, std::uint64_t>> status;
    std::string engine;
    std::vector<RuleSample> rules; // the ones exported (max_rule_series)
    std::uint64_t rules_dropped = 0;
    ScoreHistogram inbound;
    ScoreHistogram outbound;
};

// A scrape in steps, so the collector lock is never held for a whole render (1,000
// vhosts took 8-68 ms, docs/BENCHMARKS.md):
//
//   MetricsRender render(Collector::Clock::now(), read_process_stats());
//   for (bool last = false; !last;) {
//       last = server.with_collector([&](const Collector& c) { return render.step(c); });
//       render.format();                        // outside the lock
//   }
//   std::string text = render.finish();
//
// step() copies the values of the next `vhosts_per_step` vhosts (in the aggregator's
// order, after the last one copied: a vhost added meanwhile before it waits for the next
// scrape) and, in the last step, renders the collector's own series. Each vhost's
// series are consistent with each other; different vhosts may be a few steps apart.
// With nothing changing between steps the text is render_metrics()'s, byte for byte.
class MetricsRender {
public:
    MetricsRender(Collector::Clock::time_point now, ProcessStats process,
                  std::size_t max_rule_series = k_max_rule_series_per_vhost,
                  std::size_t vhosts_per_step = k_metrics_vhosts_per_step);
    ~MetricsRender();
    MetricsRender(const MetricsRender&) = delete;
    MetricsRender& operator=(const MetricsRender&) = delete;

    // Under the collector lock. Returns true once everything is copied (and then
    // again, doing nothing).
    [[nodiscard]] bool step(const Collector& collector);
    // Formats what step() copied; call outside the lock.
    void format();
    // The exposition, after the last step.
    [[nodiscard]] std::string finish();

    static constexpr std::size_t k_metrics_vhosts_per_step = 32;

private:
    Collector::Clock::time_point m_now;
    ProcessStats m_process;
    std::size_t m_max_rule_series;
    std::size_t m_vhosts_per_step;
    bool m_started = false;
    bool m_done = false;
    std::string m_last_vhost;
    std::vector<VhostSample> m_pending;
    // Each per-vhost family's samples so far; finish() puts their headers before them.
    std::vector<std::string> m_counters;
    std::string m_responses, m_engine, m_rule_hits, m_rule_matches, m_rules_dropped;
    std::string m_inbound, m_outbound;
    std::string m_collector_text;
};

// The whole exposition (text format 0.0.4). Every family has `# HELP` and
// `# TYPE`. Untrusted strings (vhost labels, rule ids, severities) are made
// valid UTF-8 and escaped. Reads `collector` only, in one MetricsRender step: call
// it with the collector lock held (tests; the daemon renders in steps). Never
// blocks; pure apart from the allocation of the result.
[[nodiscard]] std::string render_metrics(const Collector& collector,
                                         Collector::Clock::time_point now,
                                         const ProcessStats& process,
                                         std::size_t max_rule_series = k_max_rule_series_per_vhost);

} // namespace mso
