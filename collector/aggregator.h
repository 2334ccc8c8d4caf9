// Per-vhost aggregation of decoded events: how many requests a virtual host
// served, how many ModSecurity flagged or intercepted, and which rules matched.
// The counting rules are the contract of the `stats` query in docs/protocol.md;
// this is the only place that implements them.
#pragma once

#include "event.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mso {

// Bounds that keep a misbehaving (or malicious) sender with access to the event
// socket from growing the collector without limit. Data beyond them is dropped
// and counted in Aggregator::dropped().
inline constexpr std::size_t k_max_vhosts = 10000;
inline constexpr std::size_t k_max_rules_per_vhost = 5000;
inline constexpr std::size_t k_max_ports_per_vhost = 64;
inline constexpr std::size_t k_max_statuses_per_vhost = 1000;

// Totals of one rule within one vhost.
struct RuleStats {
    std::string msg;      // the most recent non-empty msg seen
    std::string severity; // the most recent non-empty severity seen
    std::uint64_t hits = 0;    // requests in which the rule matched
    std::uint64_t matches = 0; // messages
};

// Totals of one vhost.
struct VhostStats {
    std::uint64_t requests = 0;
    std::uint64_t flagged = 0;
    std::uint64_t intercepted = 0;
    std::uint64_t events = 0;
    std::uint64_t truncated_findings = 0;
    std::uint64_t events_without_scores = 0;
    std::uint64_t events_lost = 0;
    std::set<int> ports;
    std::map<int, std::uint64_t> status;
    std::unordered_map<std::string, RuleStats> rules; // by rule id
};

// Accumulates events for the lifetime of the collector. Owns its data; not
// thread-safe (the collector is single-threaded); never blocks.
class Aggregator {
public:
    void add(const RequestEvent& event);
    void add(const CounterReport& report);

    // The `vhosts` array of the `stats` answer: all vhosts, or only `vhost`
    // (empty when it is unknown). Sorted by vhost; rules by hits desc, id asc.
    [[nodiscard]] nlohmann::ordered_json stats(std::optional<std::string_view> vhost) const;

    [[nodiscard]] std::size_t vhost_count() const noexcept { return m_vhosts.size(); }
    [[nodiscard]] std::uint64_t events_lost() const noexcept { return m_events_lost; }
    // Events, findings, ports or statuses dropped because a bound was reached.
    [[nodiscard]] std::uint64_t dropped() const noexcept { return m_dropped; }
    // nullptr when the vhost has not been seen.
    [[nodiscard]] const VhostStats* find(std::string_view vhost) const;

private:
    [[nodiscard]] VhostStats* vhost_for(const std::string& vhost);
    void add_port(VhostStats& stats, int port);
    void add_status(VhostStats& stats, int status, std::uint64_t count);

    std::map<std::string, VhostStats, std::less<>> m_vhosts;
    std::uint64_t m_events_lost = 0;
    std::uint64_t m_dropped = 0;
};

} // namespace mso
