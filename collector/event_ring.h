// The most recent request events, kept for the `events` query (and, later, `tail`):
// a fixed-capacity ring that drops the oldest event when full, so memory is bounded
// by --events-ring. Owns its events; not thread-safe (single-threaded daemon);
// never blocks.
#pragma once

#include "event.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mso {

inline constexpr std::size_t k_default_events_ring = 10000;

// Filters of the `events` query; every set one must match (AND).
struct EventFilter {
    std::optional<std::string> vhost;
    std::optional<std::string> rule;   // an event with a finding of this id
    std::optional<std::string> client;
    std::optional<bool> intercepted;
    std::size_t limit = 100;           // matching events to return; 0 = all

    [[nodiscard]] bool matches(const RequestEvent& e) const;
};

class EventRing {
public:
    explicit EventRing(std::size_t capacity = k_default_events_ring);

    void push(RequestEvent event);

    // Matching events, newest first, as the `events` array of docs/protocol.md.
    [[nodiscard]] nlohmann::ordered_json select(const EventFilter& filter) const;

    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] std::size_t capacity() const noexcept { return m_events.size(); }
    // Events pushed out of the ring by newer ones.
    [[nodiscard]] std::uint64_t evicted() const noexcept { return m_evicted; }

private:
    std::vector<RequestEvent> m_events; // circular; m_next is the slot written next
    std::size_t m_next = 0;
    std::size_t m_size = 0;
    std::uint64_t m_evicted = 0;
};

// One event as the `events` query shows it (time as ISO 8601 UTC, findings as "rules").
[[nodiscard]] nlohmann::ordered_json event_json(const RequestEvent& e);

} // namespace mso
