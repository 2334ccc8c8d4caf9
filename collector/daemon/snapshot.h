// State snapshots (`modsec-observed --state-dir DIR`): the collector's aggregates,
// its recent-events ring and the aggregator's lost/dropped counters as one compact
// JSON document, so a restart keeps what `stats`, `rules`, `top`, `timeseries` and
// `events` answer. save_state()/load_state() are pure; write_snapshot() and
// read_snapshot() do the file work (snapshot_file.cpp): an atomic replace of
// DIR/state.json, and, for a file that cannot be used, a move aside to
// DIR/state.json.corrupt-<unix time>.
//
// A snapshot is untrusted input: every value is type-checked, sizes are bounded, and
// a load either succeeds completely or leaves the Collector untouched. Nothing here
// throws. Not thread-safe: the caller holds whatever protects the Collector. The file
// functions block on disk I/O (write_snapshot() fsyncs twice).
#pragma once

#include "state/collector.h"
#include "util/result.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mso {

// Version of the snapshot format written. Version 2 added the per-source accounting,
// the ring events' sources and the aggregates of sources other than the module; a
// version 1 snapshot still loads (everything in it came from the module). Version 3
// added the score histograms per paranoia level; an older snapshot loads with them
// empty (they count from the restart). Other versions are not loaded. Optional members
// added within a version are read when present: a vhost's configured "engine", and
// "event_engines" (the ring events' engine modes that the vhost's configuration decided;
// without it, every event's is the one it shows itself).
inline constexpr int k_snapshot_version = 3;
inline constexpr int k_snapshot_oldest_version = 1;
// The document's "format" member.
inline constexpr const char* k_snapshot_format = "modsec-observe-state";
// Larger state files are refused before they are read (the parse would need several
// times this much memory).
inline constexpr std::size_t k_max_snapshot_bytes = 512UL * 1024 * 1024;
// An array may hold up to this many times its bound (the extra entries are dropped
// and counted, as ingestion drops them); more is not a snapshot this program wrote.
inline constexpr std::size_t k_snapshot_overflow_factor = 2;

inline constexpr const char* k_snapshot_file = "state.json";

// The whole state, stamped with `now` (Unix seconds).
[[nodiscard]] nlohmann::json save_state(const Collector& collector, std::int64_t now);

// What a successful load restored, and what it left out at the bounds.
struct LoadSummary {
    std::size_t vhosts = 0;
    std::size_t events = 0;           // events now in the ring
    std::uint64_t events_evicted = 0; // older events beyond the ring's capacity
    std::uint64_t dropped = 0;        // aggregate entries beyond the aggregator's bounds
};

// Loads `doc` into `collector`, keeping its ring capacity. On success the aggregates
// and the ring are replaced; on failure `collector` is unchanged and the error is the
// JSON path of the bad value and the reason, e.g. "vhosts[2].rules[0].hits: not an
// unsigned integer".
[[nodiscard]] Result<LoadSummary> load_state(const nlohmann::json& doc, Collector& collector);

// Creates `dir` (mode 0700) when missing; fails with the reason it cannot be used.
[[nodiscard]] Result<void> prepare_state_dir(const std::string& dir);

// Writes `data` to DIR/state.json.tmp, fsyncs it, renames it over DIR/state.json and
// fsyncs DIR. On failure the previous snapshot is intact.
[[nodiscard]] Result<void> write_snapshot(const std::string& dir, std::string_view data);

// Serializes the collector (save_state) and writes it; returns the number of bytes
// written.
[[nodiscard]] Result<std::size_t> save_snapshot(const std::string& dir, const Collector& collector,
                                                std::int64_t now);

// The outcome of reading DIR/state.json at start.
struct SnapshotRead {
    bool found = false; // the file existed
    std::optional<LoadSummary> loaded;
    std::string error;     // why it was not loaded ("" when loaded or absent)
    std::string set_aside; // where the unusable file was moved ("" if not moved)
};

// Reads DIR/state.json into `collector` (load_state). A file that cannot be read,
// parsed or loaded is moved to DIR/state.json.corrupt-<now> so it is neither loaded
// again nor overwritten, and the collector stays empty. Also records the outcome in
// collector.snapshot_status().
[[nodiscard]] SnapshotRead read_snapshot(const std::string& dir, Collector& collector,
                                         std::int64_t now);

} // namespace mso
