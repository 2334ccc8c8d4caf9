// Where the live events came from: the module's datagrams (source "module"), or a
// receiver's decoded entries ("sensor:<name>", ...). Interns each source name to a small
// id so the datagram path counts its events without touching a string, and keeps per
// source what `sources` and /metrics report: events, bytes, first and last seen (receive
// time), the newest event's own time, the clock skew seen, and refusals by reason.
// Bounded: k_max_sources named sources; events of any further source count in one
// "other" record. Not thread-safe (the collector's loop thread); never blocks.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

using SourceId = std::uint32_t;

// The module's datagrams: always id 0, interned at construction.
inline constexpr SourceId k_module_source_id = 0;
// Named sources kept; events of further sources are counted under k_other_source_id.
inline constexpr std::size_t k_max_sources = 10000;
inline constexpr SourceId k_other_source_id = static_cast<SourceId>(k_max_sources);
// The name of the overflow record where a view shows it (not a valid source name:
// receivers name sources "sensor:<name>", imports "import:<name>").
inline constexpr std::string_view k_other_source_name = "(other)";
// Distinct refusal reasons kept per source; further reasons count as "other".
inline constexpr std::size_t k_max_refusal_reasons = 32;

// What a source sent. Times are the collector's wall clock (Unix seconds) unless noted.
struct SourceStats {
    std::uint64_t events = 0;
    std::uint64_t bytes = 0;     // datagram or entry bytes received for its events
    std::int64_t first_seen = 0; // 0: no event yet (refusals only)
    std::int64_t last_seen = 0;
    std::int64_t last_event_us = 0; // the newest event's own timestamp (µs, epoch)
    // Receive time minus the event's own timestamp, in µs (the receive time has a
    // resolution of one second): the smallest, largest and latest seen.
    bool skew_known = false;
    std::int64_t skew_min_us = 0;
    std::int64_t skew_max_us = 0;
    std::int64_t skew_last_us = 0;
    std::map<std::string, std::uint64_t, std::less<>> refusals; // by reason
    std::int64_t last_refused = 0;                              // 0: never

    [[nodiscard]] std::uint64_t refused() const noexcept;
    bool operator==(const SourceStats&) const = default;
};

class SourceTable {
public:
    SourceTable();

    // The id of `name`, interned on first use; k_other_source_id beyond k_max_sources.
    // Allocates only for a new name.
    [[nodiscard]] SourceId intern(std::string_view name);
    // One event of `source` received at `now` (Unix s), stamped `event_time_us`.
    void count_event(SourceId source, std::int64_t now, std::int64_t event_time_us,
                     std::uint64_t bytes) noexcept;
    // An entry of `source` refused for `reason` (auth, too_large, unparseable, ...).
    void count_refusal(std::string_view source, std::string_view reason, std::int64_t now);

    // The name of `id` (k_other_source_name for the overflow record).
    [[nodiscard]] const std::string& name(SourceId id) const noexcept;
    // The id of a known source, k_other_source_id when unknown.
    [[nodiscard]] SourceId find(std::string_view name) const noexcept;
    [[nodiscard]] const SourceStats& stats(SourceId id) const noexcept;
    // Named sources interned (module included).
    [[nodiscard]] std::size_t size() const noexcept { return m_names.size(); }
    // Sources that sent at least one event (the overflow record included).
    [[nodiscard]] std::size_t with_events() const noexcept;
    // The names indexed by id (module first), for looking up a ring event's source.
    [[nodiscard]] const std::vector<std::string>& names() const noexcept { return m_names; }

    // Calls `visit(SourceId, const std::string& name, const SourceStats&)` for every
    // named source in name order, then for the overflow record when it counted anything.
    template <typename Visit> void for_each(Visit&& visit) const
    {
        for (const auto& [name, id] : m_ids) {
            visit(id, name, m_stats[id]);
        }
        if (m_other.events != 0 || !m_other.refusals.empty()) {
            visit(k_other_source_id, m_names_other, m_other);
        }
    }

    // Snapshot loading: the record of `name` replaced; false beyond k_max_sources
    // (then added to the overflow record).
    bool restore(std::string_view name, const SourceStats& stats);

    // The `sources` array of the `sources` query (docs/protocol.md): every source with
    // events or refusals, most recently seen first; `now` gives "last_seen_ago_s".
    [[nodiscard]] nlohmann::ordered_json view(std::int64_t now) const;

private:
    [[nodiscard]] SourceStats& record(SourceId id) noexcept;

    std::vector<std::string> m_names; // by id
    std::vector<SourceStats> m_stats; // by id
    std::map<std::string, SourceId, std::less<>> m_ids;
    SourceStats m_other;
    std::string m_names_other{k_other_source_name};
};

// One source's record as a JSON object (the `sources` query's entries and snapshots
// share it); `now` adds "last_seen_ago_s" when not 0.
[[nodiscard]] nlohmann::ordered_json source_json(std::string_view name, const SourceStats& stats,
                                                 std::int64_t now);

} // namespace mso
