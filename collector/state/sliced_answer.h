// Answers over every vhost, and the recent events, built a slice at a time so that the
// daemon's loop, which also ingests, is never held for a whole answer
// (docs/ARCHITECTURE.md, "Queries in slices"). The rows are those answer() writes, in
// the same order: with no event between the slices the line is byte for byte answer()'s.
// An `events` answer shows the ring as it was when asked (its events are shared and
// immutable), whatever arrives between the slices.
#pragma once

#include "protocol/query.h"
#include "state/collector.h"
#include "state/top_k.h"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mso {

// Whether `query` is one that SlicedAnswer builds: stats, vhosts, rules, top or
// timeseries over every vhost (not a listed few) that memory can answer (not
// beyond_memory()), or events from the ring (without a cursor, which pages history).
// Pure.
[[nodiscard]] bool answers_in_slices(const Query& query);

// One answer under construction. Holds no pointer into the Collector between calls: a
// cursor (source, last vhost name) says where the next slice starts, so vhosts and
// sources added between slices are fine; `events` holds the matching events themselves
// (shared with the ring, so an event evicted meanwhile lives until the answer is done). Not
// thread-safe; step() reads the collector, so the caller holds whatever guards it.
class SlicedAnswer {
public:
    using Clock = std::chrono::steady_clock;

    // Starts answering `query` (answers_in_slices()) with the sources live now;
    // `wall_now` anchors windows.
    SlicedAnswer(Query query, const Collector& collector, std::int64_t wall_now);

    // Adds rows, a vhost (or an event) at a time, until the answer is complete or
    // `deadline` has passed (at least one per call). Returns whether the answer is complete.
    bool step(const Collector& collector, Clock::time_point deadline);
    [[nodiscard]] bool done() const noexcept
    {
        return m_source >= m_sources.size() && m_event >= m_events.size();
    }
    // The answer's bytes built since the last take_ready() (from its start the first
    // time): a socket client's answer goes out as it is built, so a client that reads as
    // fast as the slices are built never has a whole answer of megabytes held for it,
    // nor copied as a string of it grows (a client that reads slowly has its output
    // buffer grow instead, as the answer's string did).
    [[nodiscard]] std::string take_ready();
    // The rest of the answer line (all of it without take_ready()), without its newline;
    // call once done(). Moves it out.
    [[nodiscard]] std::string take_line();
    // Vhosts read so far (all sources).
    [[nodiscard]] std::size_t vhosts_read() const noexcept { return m_vhosts_read; }

private:
    // Appends one vhost's rows (compact JSON, comma-separated) to m_line; `top` adds the
    // vhost's sketch to the source's merge instead.
    void append_rows(const std::string& name, const VhostStats& stats, const std::string& source);
    // `top`: the source's merged list, once all its vhosts are in.
    void finish_source(const std::string& source);
    void append_row(nlohmann::ordered_json row, const std::string& source);
    // Appends a row's compact JSON.
    void append_dumped(const std::string& row);

    Query m_query;
    std::int64_t m_wall_now = 0;
    bool m_tag = false;                 // rows name their source
    std::vector<std::string> m_sources; // by name: ids and aggregates may change between slices
    std::size_t m_source = 0;           // index into m_sources
    std::optional<std::string> m_last;  // the last vhost of m_sources[m_source] done
    std::size_t m_vhosts_read = 0;
    bool m_first_row = true;
    std::string m_line;
    TopMerge m_merge;                        // top: the current source's vhosts so far
    std::uint64_t m_source_bound = 0;        // top: the current source's error bound so far
    std::uint64_t m_error_bound = 0;         // top: the largest of the sources'
    std::vector<EventRing::Entry> m_events;  // events: the matches, newest first
    std::size_t m_event = 0;                 // events: the next to write
    std::vector<std::string> m_source_names; // events: SourceTable::names() when asked
};

} // namespace mso
