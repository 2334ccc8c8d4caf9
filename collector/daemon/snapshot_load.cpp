// The validating loader of the snapshot format (versions 1 to 3, written by
// snapshot_save.cpp); see snapshot.h. It reads into a fresh Aggregator and EventRing
// through snapshot_reader.h and hands them to the Collector only when every value
// checked out.
#include "daemon/snapshot.h"

#include "daemon/snapshot_reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace mso {
namespace {

using json = nlohmann::json;

constexpr std::size_t k_histogram_buckets = ScoreHistogram::k_bounds.size() + 1;
constexpr std::size_t k_max_minute_points =
    static_cast<std::size_t>(TimeSeries::k_minute_span / TimeSeries::k_minute) + 1;
constexpr std::size_t k_max_hour_points =
    static_cast<std::size_t>(TimeSeries::k_hour_span / TimeSeries::k_hour) + 1;

// ---- loading --------------------------------------------------------------------

// The aggregator's bounds across all vhosts, as ingestion applies them.
struct Budget {
    std::size_t rules_left = k_max_rules_total;
    std::size_t series_entries_left = k_max_series_rule_entries;
};

void read_top(SnapshotReader& r, const json& obj, const char* key, TopK& top,
              Aggregator& aggregator)
{
    const json* value = r.object(obj, key);
    const auto scope = r.enter(key);
    if (value == nullptr) {
        return;
    }
    std::uint64_t total = 0;
    r.u64(*value, "total", total);
    const json* entries = r.array(*value, "entries", top.capacity());
    const auto entries_scope = r.enter("entries");
    if (entries == nullptr) {
        return;
    }
    std::set<std::string, std::less<>> seen;
    for (std::size_t i = 0; i < entries->size() && !r.failed(); ++i) {
        const auto item = r.enter(i);
        const json* tuple = r.tuple((*entries)[i], 3);
        TopEntry e;
        if (tuple == nullptr || !r.string_value((*tuple)[0], e.key) ||
            !r.u64_value((*tuple)[1], e.count) || !r.u64_value((*tuple)[2], e.error)) {
            return;
        }
        if (e.error > e.count) {
            r.fail("error exceeds count");
            return;
        }
        if (!seen.insert(e.key).second) {
            r.fail("duplicate key");
            return;
        }
        if (top.size() >= top.capacity()) {
            aggregator.count_dropped(1);
            continue;
        }
        top.restore(std::move(e), total);
    }
    // Space-Saving keeps every key until its slots are full: a total without entries
    // cannot occur.
    if (entries->empty() && total != 0) {
        r.fail("total without entries");
    }
}

void read_histogram_value(SnapshotReader& r, const json& value, ScoreHistogram& h)
{
    r.u64(value, "sum", h.sum);
    r.u64(value, "count", h.count);
    const json* counts = r.member(value, "counts");
    const auto counts_scope = r.enter("counts");
    if (counts == nullptr || r.tuple(*counts, k_histogram_buckets) == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < k_histogram_buckets; ++i) {
        const auto item = r.enter(i);
        if (!r.u64_value((*counts)[i], h.counts[i])) {
            return;
        }
    }
}

void read_histogram(SnapshotReader& r, const json& obj, const char* key, ScoreHistogram& h)
{
    const json* value = r.object(obj, key);
    const auto scope = r.enter(key);
    if (value != nullptr) {
        read_histogram_value(r, *value, h);
    }
}

// Version 3's histograms per paranoia level: exactly one per level.
void read_levels(SnapshotReader& r, const json& obj, const char* key,
                 std::array<ScoreHistogram, k_paranoia_levels>& levels)
{
    const json* list = r.member(obj, key);
    const auto scope = r.enter(key);
    if (list == nullptr || r.tuple(*list, k_paranoia_levels) == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < k_paranoia_levels && !r.failed(); ++i) {
        const auto item = r.enter(i);
        if (const json* value = r.object((*list)[i], nullptr)) {
            read_histogram_value(r, *value, levels[i]);
        }
    }
}

void read_series(SnapshotReader& r, const json& obj, const char* key, Resolution resolution,
                 std::size_t bound, TimeSeries& series, Aggregator& aggregator, Budget& budget)
{
    const json* points = r.array(obj, key, bound);
    const auto scope = r.enter(key);
    if (points == nullptr) {
        return;
    }
    std::int64_t previous = 0;
    for (std::size_t i = 0; i < points->size() && !r.failed(); ++i) {
        const auto item = r.enter(i);
        const json* tuple = r.tuple((*points)[i], 6);
        SeriesPoint p;
        if (tuple == nullptr || !r.i64_value((*tuple)[0], p.start) ||
            !r.u64_value((*tuple)[1], p.requests) || !r.u64_value((*tuple)[2], p.flagged) ||
            !r.u64_value((*tuple)[3], p.intercepted) || !r.u64_value((*tuple)[4], p.would_block)) {
            return;
        }
        if (i > 0 && p.start <= previous) {
            r.fail("points not in time order");
            return;
        }
        previous = p.start;
        const auto rules_scope = r.enter(5);
        const json* rules = r.array((*tuple)[5], nullptr, TimeSeries::k_max_rules_per_point);
        if (rules == nullptr) {
            return;
        }
        for (std::size_t k = 0; k < rules->size(); ++k) {
            const auto rule_item = r.enter(k);
            const json* pair = r.tuple((*rules)[k], 2);
            std::pair<std::string, std::uint64_t> hit;
            if (pair == nullptr || !r.string_value((*pair)[0], hit.first) ||
                !r.u64_value((*pair)[1], hit.second)) {
                return;
            }
            if (p.rule_hits.size() >= TimeSeries::k_max_rules_per_point ||
                budget.series_entries_left == 0) {
                aggregator.count_dropped(1);
                continue;
            }
            --budget.series_entries_left;
            p.rule_hits.push_back(std::move(hit));
        }
        if (i >= bound) {
            budget.series_entries_left += p.rule_hits.size();
            aggregator.count_dropped(1);
            continue;
        }
        series.restore(resolution, std::move(p));
    }
}

void read_rule(SnapshotReader& r, const json& obj, VhostStats& v, Aggregator& aggregator,
               Budget& budget)
{
    std::string id;
    RuleStats rule;
    if (!r.string(obj, "id", id)) {
        return;
    }
    r.string(obj, "msg", rule.msg);
    r.string(obj, "severity", rule.severity);
    r.int32(obj, "pl", rule.paranoia_level);
    r.u64(obj, "hits", rule.hits);
    r.u64(obj, "matches", rule.matches);
    r.i64(obj, "first_seen", rule.first_seen);
    r.i64(obj, "last_seen", rule.last_seen);
    read_top(r, obj, "paths", rule.paths, aggregator);
    read_top(r, obj, "targets", rule.targets, aggregator);
    if (r.failed()) {
        return;
    }
    if (v.rules.count(id) != 0) {
        r.fail("duplicate rule id");
        return;
    }
    if (v.rules.size() >= k_max_rules_per_vhost || budget.rules_left == 0) {
        aggregator.count_dropped(1);
        return;
    }
    --budget.rules_left;
    v.rules.emplace(std::move(id), std::move(rule));
}

void read_vhost(SnapshotReader& r, const json& obj, Aggregator& aggregator,
                std::set<std::string, std::less<>>& names, Budget& budget, int version)
{
    std::string name;
    if (!r.string(obj, "name", name)) {
        return;
    }
    if (!names.insert(name).second) {
        r.fail("duplicate vhost");
        return;
    }
    // Read in full first: a vhost beyond k_max_vhosts is still checked, then dropped.
    VhostStats v;
    r.u64(obj, "requests", v.requests);
    r.u64(obj, "flagged", v.flagged);
    r.u64(obj, "intercepted", v.intercepted);
    r.u64(obj, "would_block", v.would_block);
    r.u64(obj, "events", v.events);
    r.u64(obj, "truncated_findings", v.truncated_findings);
    r.u64(obj, "engine_messages", v.engine_messages);
    r.u64(obj, "events_without_scores", v.events_without_scores);
    r.u64(obj, "events_lost", v.events_lost);
    r.i64(obj, "first_seen", v.first_seen);
    r.i64(obj, "last_seen", v.last_seen);
    // The configured SecRuleEngine, when a counter report had said it (optional).
    if (obj.contains("engine") && r.string(obj, "engine", v.engine) &&
        !is_configured_engine(v.engine)) {
        const auto scope = r.enter("engine");
        r.fail("not \"on\", \"off\" or \"detection_only\"");
    }
    if (const json* ports = r.array(obj, "ports", k_max_ports_per_vhost)) {
        const auto scope = r.enter("ports");
        for (std::size_t i = 0; i < ports->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            int port = 0;
            if (!r.int_value((*ports)[i], port)) {
                break;
            }
            if (v.ports.count(port) != 0) {
                r.fail("duplicate port");
            } else if (v.ports.size() >= k_max_ports_per_vhost) {
                aggregator.count_dropped(1);
            } else {
                v.ports.insert(port);
            }
        }
    }
    if (const json* status = r.array(obj, "status", k_max_statuses_per_vhost)) {
        const auto scope = r.enter("status");
        for (std::size_t i = 0; i < status->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            const json* pair = r.tuple((*status)[i], 2);
            int code = 0;
            std::uint64_t count = 0;
            if (pair == nullptr || !r.int_value((*pair)[0], code) ||
                !r.u64_value((*pair)[1], count)) {
                break;
            }
            if (v.status.count(code) != 0) {
                r.fail("duplicate status code");
            } else if (v.status.size() >= k_max_statuses_per_vhost) {
                aggregator.count_dropped(1);
            } else {
                v.status.emplace(code, count);
            }
        }
    }
    read_histogram(r, obj, "inbound_scores", v.inbound_scores);
    read_histogram(r, obj, "outbound_scores", v.outbound_scores);
    // Before version 3 the levels were not kept: they start empty.
    if (version >= 3) {
        read_levels(r, obj, "inbound_pl_scores", v.inbound_pl_scores);
        read_levels(r, obj, "outbound_pl_scores", v.outbound_pl_scores);
    }
    read_top(r, obj, "clients", v.clients, aggregator);
    read_top(r, obj, "paths", v.paths, aggregator);
    read_top(r, obj, "agents", v.agents, aggregator);
    read_top(r, obj, "targets", v.targets, aggregator);
    if (const json* rules = r.array(obj, "rules", k_max_rules_per_vhost)) {
        const auto scope = r.enter("rules");
        for (std::size_t i = 0; i < rules->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            if (const json* rule = r.object((*rules)[i], nullptr)) {
                read_rule(r, *rule, v, aggregator, budget);
            }
        }
    }
    read_series(r, obj, "minutes", Resolution::minute, k_max_minute_points, v.series, aggregator,
                budget);
    read_series(r, obj, "hours", Resolution::hour, k_max_hour_points, v.series, aggregator, budget);
    if (r.failed()) {
        return;
    }
    if (VhostStats* slot = aggregator.restore_vhost(name)) {
        *slot = std::move(v);
    }
}

// The vhosts of one aggregator (the module's, or one source's).
void read_vhosts(SnapshotReader& r, const json& obj, Aggregator& aggregator, int version)
{
    if (const json* vhosts = r.array(obj, "vhosts", k_max_vhosts)) {
        const auto scope = r.enter("vhosts");
        std::set<std::string, std::less<>> names;
        Budget budget;
        for (std::size_t i = 0; i < vhosts->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            if (const json* vhost = r.object((*vhosts)[i], nullptr)) {
                read_vhost(r, *vhost, aggregator, names, budget, version);
            }
        }
    }
}

void read_source(SnapshotReader& r, const json& obj, SourceTable& table)
{
    std::string name;
    SourceStats s;
    r.string(obj, "name", name);
    r.u64(obj, "events", s.events);
    r.u64(obj, "bytes", s.bytes);
    r.i64(obj, "first_seen", s.first_seen);
    r.i64(obj, "last_seen", s.last_seen);
    r.i64(obj, "last_event_us", s.last_event_us);
    r.i64(obj, "last_refused", s.last_refused);
    if (const json* skew = r.member(obj, "skew_us"); skew != nullptr && !skew->is_null()) {
        const auto scope = r.enter("skew_us");
        const json* t = r.tuple(*skew, 3);
        s.skew_known = t != nullptr && r.i64_value((*t)[0], s.skew_min_us) &&
                       r.i64_value((*t)[1], s.skew_max_us) && r.i64_value((*t)[2], s.skew_last_us);
    }
    if (const json* refusals = r.array(obj, "refusals", k_max_refusal_reasons + 1)) {
        const auto scope = r.enter("refusals");
        for (std::size_t i = 0; i < refusals->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            const json* pair = r.tuple((*refusals)[i], 2);
            std::string reason;
            std::uint64_t count = 0;
            if (pair == nullptr || !r.string_value((*pair)[0], reason) ||
                !r.u64_value((*pair)[1], count)) {
                break;
            }
            s.refusals[reason] += count;
        }
    }
    if (!r.failed()) {
        (void)table.restore(name, s);
    }
}

// Version 2's sources: the accounting, and the aggregates of sources but the module.
void read_sources(SnapshotReader& r, const json& doc, SourceTable& table,
                  std::map<SourceId, Aggregator>& aggregates, int version)
{
    if (const json* sources = r.array(doc, "sources", k_max_sources + 1)) {
        const auto scope = r.enter("sources");
        for (std::size_t i = 0; i < sources->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            if (const json* source = r.object((*sources)[i], nullptr)) {
                read_source(r, *source, table);
            }
        }
    }
    const json* list = r.array(doc, "source_aggregates", k_max_source_aggregates + 1);
    if (list == nullptr) {
        return;
    }
    const auto scope = r.enter("source_aggregates");
    for (std::size_t i = 0; i < list->size() && !r.failed(); ++i) {
        const auto item = r.enter(i);
        const json* obj = r.object((*list)[i], nullptr);
        std::string name;
        if (obj == nullptr || !r.string(*obj, "source", name)) {
            break;
        }
        Aggregator aggregator;
        std::uint64_t events_lost = 0;
        std::uint64_t dropped = 0;
        r.u64(*obj, "events_lost", events_lost);
        r.u64(*obj, "dropped", dropped);
        aggregator.restore_counters(events_lost, dropped);
        read_vhosts(r, *obj, aggregator, version);
        const SourceId id = name == k_other_source_name ? k_other_source_id : table.intern(name);
        if (id != k_module_source_id &&
            (aggregates.size() < k_max_source_aggregates || id == k_other_source_id)) {
            aggregates[id] = std::move(aggregator);
        }
    }
}

// The [ring index, name] pairs of `key` ("event_sources", "event_engines"): calls
// `take(index, name)` for each, which returns false (having failed `r`) to stop.
template <typename Take>
void read_index_pairs(SnapshotReader& r, const json& doc, const char* key, Take&& take)
{
    const json* pairs = r.array(doc, key, k_max_events_ring / k_snapshot_overflow_factor);
    const auto scope = r.enter(key);
    for (std::size_t i = 0; pairs != nullptr && i < pairs->size() && !r.failed(); ++i) {
        const auto item = r.enter(i);
        const json* pair = r.tuple((*pairs)[i], 2);
        std::uint64_t index = 0;
        std::string name;
        if (pair == nullptr || !r.u64_value((*pair)[0], index) ||
            !r.string_value((*pair)[1], name) || !take(static_cast<std::size_t>(index), name)) {
            return;
        }
    }
}

// The "event_engines" pairs [ring index, engine_mode_name()].
void read_event_engines(SnapshotReader& r, const json& doc,
                        std::map<std::size_t, EngineMode>& engines)
{
    read_index_pairs(r, doc, "event_engines", [&](std::size_t index, const std::string& name) {
        for (const EngineMode mode :
             {EngineMode::unknown, EngineMode::on, EngineMode::detection_only}) {
            if (name == engine_mode_name(mode)) {
                engines[index] = mode;
                return true;
            }
        }
        const auto value = r.enter(1);
        r.fail("not \"on\", \"detection_only\" or \"unknown\"");
        return false;
    });
}

} // namespace

Result<LoadSummary> load_state(const json& doc, Collector& collector)
{
    SnapshotReader r;
    if (!doc.is_object()) {
        return fail("not a JSON object");
    }
    std::string format;
    if (!r.string(doc, "format", format) || format != k_snapshot_format) {
        return fail(r.failed() ? r.error() : "format: not a modsec-observe state file");
    }
    const auto version = doc.find("version");
    if (version == doc.end() || !version->is_number_integer() ||
        version->get<std::int64_t>() < k_snapshot_oldest_version ||
        version->get<std::int64_t>() > k_snapshot_version) {
        return fail("version: not " + std::to_string(k_snapshot_oldest_version) + " to " +
                    std::to_string(k_snapshot_version));
    }
    const int doc_version = static_cast<int>(version->get<std::int64_t>());
    const bool with_sources = doc_version >= 2;
    Aggregator aggregator;
    std::uint64_t events_lost = 0;
    std::uint64_t dropped = 0;
    r.u64(doc, "events_lost", events_lost);
    r.u64(doc, "dropped", dropped);
    aggregator.restore_counters(events_lost, dropped);
    read_vhosts(r, doc, aggregator, doc_version);
    SourceTable table;
    std::map<SourceId, Aggregator> source_aggregates;
    // Ring index -> source, for the events not of the module.
    std::map<std::size_t, SourceId> event_sources;
    if (with_sources) {
        read_sources(r, doc, table, source_aggregates, doc_version);
        read_index_pairs(r, doc, "event_sources", [&](std::size_t index, const std::string& name) {
            event_sources[index] =
                name == k_other_source_name ? k_other_source_id : table.intern(name);
            return true;
        });
    }
    // Ring index -> engine mode, for the events whose engine the event alone does not
    // give. Optional: older collectors did not write it, their events' engine was the
    // inferred one (which push() without an engine gives).
    std::map<std::size_t, EngineMode> event_engines;
    if (doc.contains("event_engines")) {
        read_event_engines(r, doc, event_engines);
    }
    EventRing ring(collector.events().capacity());
    // The file may come from a larger ring (--events-ring lowered since): the oldest
    // events are evicted as they would have been.
    const json* events = r.array(doc, "events", k_max_events_ring / k_snapshot_overflow_factor);
    if (events != nullptr) {
        const auto scope = r.enter("events");
        for (std::size_t i = 0; i < events->size() && !r.failed(); ++i) {
            const auto item = r.enter(i);
            RequestEvent e;
            if (read_event(r, (*events)[i], e)) {
                const auto source = event_sources.find(i);
                const SourceId id =
                    source == event_sources.end() ? k_module_source_id : source->second;
                const auto engine = event_engines.find(i);
                if (engine == event_engines.end()) {
                    ring.push(std::move(e), id);
                } else {
                    ring.push(std::move(e), id, engine->second);
                }
            }
        }
    }
    if (r.failed()) {
        return fail(r.error());
    }
    LoadSummary summary;
    summary.vhosts = aggregator.vhost_count();
    summary.events = ring.size();
    summary.events_evicted = ring.evicted();
    summary.dropped = aggregator.dropped() - dropped;
    collector.restore(std::move(aggregator), std::move(ring));
    if (with_sources) {
        collector.restore_sources(std::move(table), std::move(source_aggregates));
    }
    return summary;
}

} // namespace mso
