// Per-vhost aggregation of decoded events: how many requests a virtual host
// served, how many ModSecurity flagged or intercepted, and which rules matched.
// The counting rules are the contract of the `stats` query in docs/protocol.md;
// this is the only place that implements them.
#pragma once

#include "event.h"
#include "state/score_histogram.h"
#include "state/time_series.h"
#include "state/top_k.h"
#include "protocol/query.h"
#include "util/key_hash.h"
#include "util/utf8_cut.h"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace mso {

// Bounds that keep a misbehaving (or malicious) sender with access to the event
// socket from growing the collector without limit. Data beyond them is dropped
// and counted in Aggregator::dropped().
inline constexpr std::size_t k_max_vhosts = 10000;
inline constexpr std::size_t k_max_rules_per_vhost = 5000;
// Bounds across all vhosts, so that memory stays bounded even when a sender invents
// vhosts and rule ids: (vhost, rule) pairs, and per-minute/per-hour rule entries of the
// time series (beyond it, hits count in the points' totals and "other" entries).
inline constexpr std::size_t k_max_rules_total = 50000;
inline constexpr std::size_t k_max_series_rule_entries = 1000000;
inline constexpr std::size_t k_max_ports_per_vhost = 64;
inline constexpr std::size_t k_max_statuses_per_vhost = 1000;
// Heavy-hitter slots per vhost list (clients, paths, agents, targets) and per rule list
// (paths, targets); see top_k.h for the error bound.
inline constexpr std::size_t k_top_capacity = 64;
inline constexpr std::size_t k_rule_top_capacity = 8;
// CRS's paranoia levels (AnomalyScores::inbound_pl has one score per level).
inline constexpr std::size_t k_paranoia_levels =
    std::tuple_size_v<decltype(AnomalyScores::inbound_pl)>;

static_assert(k_max_rules_limit == k_max_rules_per_vhost && k_max_top_clients == k_top_capacity,
              "the query limits of protocol/query.h are the bounds kept per vhost");

// The hash of the vhosts' rule maps: key_hash() (XXH3), which libstdc++ takes as fast.
// libstdc++ 12 looks a key up in an unordered_map with std::hash<std::string> of up to
// 20 entries by comparing it with every entry in turn, one node after another (a
// memcmp() call each); most vhosts have fewer rules than that, so each finding walked
// about half its vhost's rules. With a hash the library takes as fast, a lookup hashes
// and goes to the key's bucket (docs/BENCHMARKS.md, "the rule maps hashed").
struct RuleIdHash {
    std::size_t operator()(const std::string& id) const noexcept { return key_hash(id); }
};

// Totals of one rule within one vhost.
struct RuleStats {
    std::string msg;      // the most recent non-empty msg seen
    std::string severity; // the most recent non-empty severity seen
    int paranoia_level = 0;
    std::uint64_t hits = 0;      // requests in which the rule matched
    std::uint64_t matches = 0;   // messages
    std::int64_t first_seen = 0; // collector wall clock, Unix seconds
    std::int64_t last_seen = 0;
    TopK paths{k_rule_top_capacity};   // request paths of its hits
    TopK targets{k_rule_top_capacity}; // matched variables (ARGS:q, ...)
};

// Totals of one vhost.
struct VhostStats {
    std::uint64_t requests = 0;
    std::uint64_t flagged = 0;
    std::uint64_t intercepted = 0;
    // Not intercepted, but the anomaly score reached its threshold: what a
    // DetectionOnly vhost would have blocked.
    std::uint64_t would_block = 0;
    std::uint64_t events = 0;
    std::uint64_t truncated_findings = 0;
    std::uint64_t engine_messages = 0; // findings of ModSecurity's engine, not of a rule
    std::uint64_t events_without_scores = 0;
    std::uint64_t events_lost = 0;
    // SecRuleEngine as the vhost's Apache configuration sets it ("on", "off",
    // "detection_only"), from the module's latest counter report that said it; empty
    // until one did. Kept in snapshots.
    std::string engine;
    std::set<int> ports;
    std::map<int, std::uint64_t> status;
    std::unordered_map<std::string, RuleStats, RuleIdHash> rules; // by rule id
    std::int64_t first_seen = 0;
    std::int64_t last_seen = 0;
    ScoreHistogram inbound_scores; // events with scores, plus clean requests as 0
    ScoreHistogram outbound_scores;
    // The same requests by the score each paranoia level's rules added (CRS's
    // inbound_anomaly_score_pl1..4), [0] for PL 1; a level above the detection paranoia
    // level runs no rules and counts 0. Every one has inbound_scores' count.
    std::array<ScoreHistogram, k_paranoia_levels> inbound_pl_scores;
    std::array<ScoreHistogram, k_paranoia_levels> outbound_pl_scores;
    // Heavy hitters over request events (flagged requests; every request with
    // ModSecObserveEvents all); targets over findings.
    TopK clients{k_top_capacity};
    TopK paths{k_top_capacity};
    TopK agents{k_top_capacity};
    TopK targets{k_top_capacity};
    TimeSeries series;

    [[nodiscard]] const TopK& top(TopList list) const noexcept;
};

// Accumulates events for the lifetime of the collector. Owns its data; not
// thread-safe (the collector is single-threaded); never blocks.
class Aggregator {
public:
    // `now` is the collector's wall clock (Unix seconds) when the data arrived.
    // Returns the record of the event's vhost it counted into (nullptr: beyond
    // k_max_vhosts, counted as dropped), for what the caller reads of the vhost next.
    const VhostStats* add(const RequestEvent& event, std::int64_t now);
    void add(const CounterReport& report, std::int64_t now);

    // The `vhosts` array of the `stats` answer: all vhosts, or only `vhost`
    // (empty when it is unknown). Sorted by vhost; rules by hits desc, id asc.
    // With a window (seconds before `now`), counts come from the time series.
    [[nodiscard]] nlohmann::ordered_json stats(std::optional<std::string_view> vhost,
                                               std::optional<std::int64_t> window = std::nullopt,
                                               std::int64_t now = 0) const;
    // Answers of the vhosts, rules, top and timeseries queries (docs/protocol.md).
    [[nodiscard]] nlohmann::ordered_json vhosts() const;
    [[nodiscard]] nlohmann::ordered_json rules(std::optional<std::string_view> vhost,
                                               std::optional<std::string_view> rule) const;
    [[nodiscard]] nlohmann::ordered_json top(TopList list, std::optional<std::string_view> vhost,
                                             std::size_t limit) const;
    [[nodiscard]] nlohmann::ordered_json timeseries(std::optional<std::string_view> vhost,
                                                    Resolution resolution, std::int64_t since,
                                                    std::optional<std::string_view> rule) const;
    // The series of those of `vhosts` (sorted, no repeats) this aggregator has seen, in
    // that order; each looked up, not found by a scan.
    [[nodiscard]] nlohmann::ordered_json timeseries(const std::vector<std::string>& vhosts,
                                                    Resolution resolution, std::int64_t since,
                                                    std::optional<std::string_view> rule) const;

    [[nodiscard]] const std::map<std::string, VhostStats, std::less<>>& all() const noexcept
    {
        return m_vhosts;
    }

    [[nodiscard]] std::size_t vhost_count() const noexcept { return m_vhosts.size(); }
    [[nodiscard]] std::uint64_t events_lost() const noexcept { return m_events_lost; }
    // Events, findings, ports or statuses dropped because a bound was reached.
    [[nodiscard]] std::uint64_t dropped() const noexcept { return m_dropped; }
    // nullptr when the vhost has not been seen.
    [[nodiscard]] const VhostStats* find(std::string_view vhost) const;

    // Snapshot loading (snapshot.cpp) only; counting never uses these. The record of
    // `vhost`, created empty; nullptr, counted as dropped, beyond k_max_vhosts.
    [[nodiscard]] VhostStats* restore_vhost(const std::string& vhost)
    {
        if (m_vhosts.size() >= k_max_vhosts && m_vhosts.count(vhost) == 0) {
            ++m_dropped;
            return nullptr;
        }
        m_restored = true; // the global counts are recomputed before the next add
        return &index_vhost(*m_vhosts.try_emplace(vhost).first);
    }
    void restore_counters(std::uint64_t events_lost, std::uint64_t dropped) noexcept
    {
        m_events_lost = events_lost;
        m_dropped = dropped;
    }
    // Snapshot data beyond a bound, dropped as ingestion would have dropped it.
    void count_dropped(std::uint64_t n) noexcept { m_dropped += n; }

private:
    [[nodiscard]] VhostStats* vhost_for(const std::string& vhost, std::int64_t now);
    VhostStats& index_vhost(std::pair<const std::string, VhostStats>& node);
    void add_port(VhostStats& stats, int port);
    void add_status(VhostStats& stats, int status, std::uint64_t count);

    std::map<std::string, VhostStats, std::less<>> m_vhosts;
    // Each of m_vhosts by name, for the lookup of every event and report: one hash
    // instead of a walk down the tree, comparing names, at hundreds of vhosts. It points
    // into m_vhosts' nodes, which a move takes along; a copy of the aggregator starts
    // with an empty index, rebuilt by the next vhost_for() (find() uses the tree until).
    struct VhostIndex {
        std::unordered_map<std::string_view, VhostStats*> by_name;
        VhostIndex() = default;
        VhostIndex(const VhostIndex&) noexcept {}
        VhostIndex& operator=(const VhostIndex&) noexcept
        {
            by_name.clear();
            return *this;
        }
        VhostIndex(VhostIndex&&) noexcept = default;
        VhostIndex& operator=(VhostIndex&&) noexcept = default;
        ~VhostIndex() = default;
    };
    VhostIndex m_vhost_index;
    // add()'s list of the rules an event hit, kept so that its buffer is not allocated
    // again for every event; only add() reads it, after clearing it.
    std::vector<const std::string*> m_hit_ids;
    // Whether m_vhost_index holds every vhost (vhosts are never removed).
    [[nodiscard]] bool index_complete() const noexcept
    {
        return m_vhost_index.by_name.size() == m_vhosts.size();
    }
    // Recomputes the global counts below after a snapshot was restored.
    void recount();

    std::uint64_t m_events_lost = 0;
    std::uint64_t m_dropped = 0;
    std::size_t m_rules_total = 0;                                 // (vhost, rule) pairs
    std::size_t m_series_entries_left = k_max_series_rule_entries; // budget of all series
    bool m_restored = false;
};

} // namespace mso
