// What `GET /metrics` exports (docs/protocol.md, section 3): the per-vhost
// totals of the `stats` query, per-rule hits, anomaly-score histograms, the
// collector's `health` counters and two process metrics, in the Prometheus text
// format. Rendering reads the Collector directly (no JSON in between), so a
// scrape holds the collector lock for one pass over the exported series.
#pragma once

#include "state/collector.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// The whole exposition (text format 0.0.4). Every family has `# HELP` and
// `# TYPE`. Untrusted strings (vhost labels, rule ids, severities) are made
// valid UTF-8 and escaped. Reads `collector` only: call it with the collector
// lock held (Server::with_collector). Never blocks; pure apart from the
// allocation of the result.
[[nodiscard]] std::string render_metrics(const Collector& collector,
                                         Collector::Clock::time_point now,
                                         const ProcessStats& process,
                                         std::size_t max_rule_series = k_max_rule_series_per_vhost);

} // namespace mso
