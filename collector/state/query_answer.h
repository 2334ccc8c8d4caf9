// Answering the query protocol (docs/protocol.md, section 2) from the Collector's
// state: parse_query (protocol/query.h), then the matching view. No I/O; the daemon
// passes in the clocks and, for `health`, a function that reads the process's memory.
#pragma once

#include "protocol/query.h"
#include "state/collector.h"
#include "util/time_format.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

struct QueryAnswer {
    std::string line;                // the answer, without the trailing newline
    std::optional<EventFilter> tail; // set for `tail`: stream matching events after it
};

// Reads the process's memory for `health` (a few microseconds of procfs); nullptr
// leaves the memory fields out.
using MemoryProbe = MemoryUsage (*)();

// Answers one request line (without its newline) as one line without the trailing
// newline and counts bad queries in `collector`; `wall_now` (Unix seconds) anchors
// windows (tests pass a fixed one). For `tail` the answer is {"ok":true,"tail":true} and
// the caller streams every later event that matches the returned filter, one
// `event_json` line each. Never blocks.
[[nodiscard]] QueryAnswer answer(std::string_view line, Collector& collector,
                                 Collector::Clock::time_point now, std::int64_t wall_now,
                                 MemoryProbe memory = nullptr);

// The live aggregates of one source.
struct SourceAggregates {
    std::string_view source;
    const Aggregator* data = nullptr;
};

// The aggregates a query reads: those of `source` (none when it has none), or of every
// live source, the module's first, then by name. Views into `collector`.
[[nodiscard]] std::vector<SourceAggregates>
aggregates_for(const Collector& collector, const std::optional<std::string>& source);

// Whether the rows of `query`'s answer name their source (several live sources, or a
// source filter).
[[nodiscard]] bool tags_sources(const Query& query, const Collector& collector);

// Why memory cannot answer `query`'s window (empty: it can). Only history answers these
// (daemon/history_service.h, route_query); memory sees them when there is none.
[[nodiscard]] std::string beyond_memory(const Query& query);

// The filter of an `events` query over the ring: its filters, and its window's start
// from `wall_now` (Unix seconds).
[[nodiscard]] EventFilter ring_filter(const Query& query, std::int64_t wall_now);

// The error text of an `event` query that found nothing `where` ("in history").
[[nodiscard]] std::string no_such_event(const Query& query, std::string_view where);

// answer(...).line, without the memory figures.
[[nodiscard]] std::string answer_query(std::string_view line, Collector& collector,
                                       Collector::Clock::time_point now,
                                       std::int64_t wall_now = wall_clock_now());

} // namespace mso
