// The most recent request events, kept for the `events` and `tail` queries:
// a fixed-capacity ring that drops the oldest event when full, so what it holds is
// bounded by --events-ring and its byte budget. Its events are immutable once pushed and
// shared with whoever takes them (newest_shared(), matching()): the history writer's
// queue holds the module's events that way, without a copy, and an `events` answer under
// way holds those it is to show; an event evicted meanwhile lives until they let go.
// Not thread-safe itself (single-threaded daemon); never blocks.
#pragma once

#include "event.h"
#include "protocol/query.h"
#include "state/sources.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mso {

inline constexpr std::size_t k_default_events_ring = 10000;
// The daemon's default with the history store on (docs/protocol.md, "Ring or history"):
// the store keeps every event and answers `events` reaching further back, so memory
// holds the newest only. Each event kept costs ingest the cache lines it occupies
// (about 3.5 KB for a CRS event): a tenth of them saves the loop 8-14 % of its CPU per
// flagged event (docs/BENCHMARKS.md, "The ring's size with the history store").
inline constexpr std::size_t k_default_events_ring_with_history = 1000;
// Memory the ring's events may hold (estimated from their strings and vectors): with
// the count alone, 10,000 events made as large as the decoder allows could take
// gigabytes. The oldest events are evicted first to stay under it.
inline constexpr std::size_t k_default_events_ring_bytes = 64 * 1024 * 1024;
// Largest --events-ring accepted (and largest ring a snapshot may hold).
inline constexpr std::size_t k_max_events_ring = 10'000'000;

class EventRing {
public:
    explicit EventRing(std::size_t capacity = k_default_events_ring,
                       std::size_t max_bytes = k_default_events_ring_bytes);

    // Adds `event` of `source` (a SourceTable id; the module's datagrams by default) with
    // its engine mode as the collector resolved it when it arrived (event_engine_mode():
    // kept, not recomputed, so that the ring answers what history stored); without
    // `engine`, what the event itself shows (inferred_engine_mode()).
    void push(RequestEvent event, SourceId source = k_module_source_id);
    // Takes the event by rvalue: the ring's copy is made from it with one move.
    void push(RequestEvent&& event, SourceId source, EngineMode engine);

    // One event of the ring with where it came from and the engine mode it was kept with.
    struct Entry {
        std::shared_ptr<const RequestEvent> event;
        SourceId source = k_module_source_id;
        EngineMode engine = EngineMode::unknown;
    };

    // Matching events, newest first, as the `events` array of docs/protocol.md.
    // `source_names` maps the events' source ids to names (SourceTable::names()); events
    // carry a "source" member when `with_source` (more than one source is live), and
    // always the "engine" the event was stored with and its "verdict", as history's do.
    [[nodiscard]] nlohmann::ordered_json select(const EventFilter& filter,
                                                const std::vector<std::string>& source_names = {},
                                                bool with_source = false) const;
    // The events select() shows, newest first, shared: a view that later pushes do not
    // change (an answer built from it in slices shows the ring as it was when asked).
    [[nodiscard]] std::vector<Entry>
    matching(const EventFilter& filter, const std::vector<std::string>& source_names = {}) const;
    // How many events match `filter` (its limit aside), counting no further than `up_to`.
    [[nodiscard]] std::size_t count_matching(const EventFilter& filter,
                                             const std::vector<std::string>& source_names,
                                             std::size_t up_to) const;
    // One element of select()'s array.
    [[nodiscard]] static nlohmann::ordered_json
    row(const Entry& entry, const std::vector<std::string>& source_names, bool with_source);

    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    // Events pushed since start; changes exactly when push() is called.
    [[nodiscard]] std::uint64_t pushed() const noexcept { return m_pushed; }
    // The event pushed last, or nullptr when empty.
    [[nodiscard]] const RequestEvent* newest() const noexcept;
    // The same, shared: it outlives its eviction from the ring while the holder keeps it.
    [[nodiscard]] std::shared_ptr<const RequestEvent> newest_shared() const noexcept;
    // The source of newest() (k_module_source_id when empty).
    [[nodiscard]] SourceId newest_source() const noexcept;
    // The engine mode of newest() (unknown when empty).
    [[nodiscard]] EngineMode newest_engine() const noexcept;
    // The event held longest (the next to be evicted), or nullptr when empty.
    [[nodiscard]] const RequestEvent* oldest() const noexcept;
    [[nodiscard]] std::size_t capacity() const noexcept { return m_events.size(); }
    // Estimated bytes held by the events in the ring (see approximate_bytes()).
    [[nodiscard]] std::size_t bytes() const noexcept { return m_bytes; }
    // Events pushed out of the ring by newer ones.
    [[nodiscard]] std::uint64_t evicted() const noexcept { return m_evicted; }

    // Calls `visit(const RequestEvent&)` for every event, oldest first (snapshots).
    template <typename Visit> void for_each(Visit&& visit) const
    {
        const std::size_t n = m_events.size();
        for (std::size_t i = 0; i < m_size; ++i) {
            visit(*m_events[(m_next + n - m_size + i) % n]);
        }
    }

    // The same with the event's source id and engine mode:
    // `visit(const RequestEvent&, SourceId, EngineMode)`.
    template <typename Visit> void for_each_with_origin(Visit&& visit) const
    {
        const std::size_t n = m_events.size();
        for (std::size_t i = 0; i < m_size; ++i) {
            const std::size_t slot = (m_next + n - m_size + i) % n;
            visit(*m_events[slot], m_sources[slot], m_engines[slot]);
        }
    }

    // Changes the capacity (at least 1), keeping the newest events that fit; the
    // others count as evicted. Allocates the new capacity (SIGHUP reload).
    void resize(std::size_t capacity);

private:
    // Calls `visit(slot)` for the slots whose events match `filter` (its limit aside),
    // newest first, while it returns true.
    template <typename Visit>
    void visit_matching(const EventFilter& filter, const std::vector<std::string>& source_names,
                        Visit&& visit) const;

    // Circular; m_next is the slot written next. The m_size slots before it hold events.
    std::vector<std::shared_ptr<const RequestEvent>> m_events;
    std::vector<SourceId> m_sources;   // the source of each slot's event
    std::vector<EngineMode> m_engines; // the engine mode of each slot's event
    // approximate_bytes() of each slot's event, as pushed (clamped at 4 GiB, far above
    // any event): an eviction subtracts it without reading the evicted event
    // again (long out of the cache by then). 4 bytes a slot, 40 MB at k_max_events_ring.
    std::vector<std::uint32_t> m_slot_bytes;
    std::size_t m_next = 0;
    std::size_t m_size = 0;
    std::uint64_t m_evicted = 0;
    std::size_t m_bytes = 0;
    std::size_t m_max_bytes;
    std::uint64_t m_pushed = 0;
};

// Heap and inline bytes an event holds, estimated from its strings and vectors.
[[nodiscard]] std::size_t approximate_bytes(const RequestEvent& e) noexcept;

// One event as the `events` query shows it (time as ISO 8601 UTC, findings as "rules").
[[nodiscard]] nlohmann::ordered_json event_json(const RequestEvent& e);
// One line of JSON, without the newline: what `tail` streams, the event as a history row
// shows it (event_with_origin_json: with "source", "engine" and "verdict").
[[nodiscard]] std::string event_json_line(const RequestEvent& e, std::string_view source,
                                          EngineMode engine);

} // namespace mso
