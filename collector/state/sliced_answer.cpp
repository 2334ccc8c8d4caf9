// The answers over every vhost, a slice at a time (state/sliced_answer.h). Each row is
// dumped as it is built, so the last step does not format the whole answer at once; a
// compact dump of an array is its elements' compact dumps joined by commas, which is
// what makes the result byte-identical to answer()'s single pass.
#include "state/sliced_answer.h"

#include "state/aggregator_views.h"
#include "state/query_answer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace mso {

using json = nlohmann::ordered_json;

namespace {

// The aggregates of the source called `name` now; nullptr when it has none.
const Aggregator* aggregates_named(const Collector& collector, const std::string& name)
{
    const SourceId id = collector.sources().find(name);
    if (id == k_other_source_id && name != k_other_source_name) {
        return nullptr;
    }
    return collector.aggregates_of(id);
}

} // namespace

bool answers_in_slices(const Query& query)
{
    if (query.command == QueryCommand::events) {
        return !query.events.cursor;
    }
    if (query.vhost || !beyond_memory(query).empty()) {
        return false;
    }
    return query.command == QueryCommand::stats || query.command == QueryCommand::vhosts ||
           query.command == QueryCommand::rules || query.command == QueryCommand::top ||
           (query.command == QueryCommand::timeseries && query.vhosts.empty());
}

SlicedAnswer::SlicedAnswer(Query query, const Collector& collector, std::int64_t wall_now)
    : m_query(std::move(query)), m_wall_now(wall_now), m_tag(tags_sources(m_query, collector))
{
    if (m_query.command == QueryCommand::events) {
        // As answer() reads the ring: the matches newest first.
        m_source_names = collector.sources().names();
        m_events = collector.events().matching(ring_filter(m_query, wall_now), m_source_names);
        m_line = R"({"ok":true,"from":"ring","events":[)";
        return;
    }
    for (const SourceAggregates& part : aggregates_for(collector, m_query.source)) {
        m_sources.emplace_back(part.source);
    }
    switch (m_query.command) {
    case QueryCommand::rules: m_line = R"({"ok":true,"rules":[)"; break;
    case QueryCommand::top: m_line = R"({"ok":true,"top":[)"; break;
    case QueryCommand::timeseries: m_line = R"({"ok":true,"series":[)"; break;
    default: m_line = R"({"ok":true,"vhosts":[)"; break;
    }
}

bool SlicedAnswer::step(const Collector& collector, Clock::time_point deadline)
{
    bool read_one = false;
    for (; m_event < m_events.size(); ++m_event) {
        if (read_one && Clock::now() >= deadline) {
            return false;
        }
        append_dumped(dump_line(EventRing::row(m_events[m_event], m_source_names, m_tag)));
        m_events[m_event].event.reset(); // written: the ring alone decides its life now
        read_one = true;
    }
    while (m_source < m_sources.size()) {
        const std::string& source = m_sources[m_source];
        if (const Aggregator* data = aggregates_named(collector, source)) {
            const auto& vhosts = data->all();
            for (auto it = m_last ? vhosts.upper_bound(*m_last) : vhosts.begin();
                 it != vhosts.end(); ++it) {
                if (read_one && Clock::now() >= deadline) {
                    return false;
                }
                append_rows(it->first, it->second, source);
                m_last = it->first;
                ++m_vhosts_read;
                read_one = true;
            }
        }
        finish_source(source);
        ++m_source;
        m_last.reset();
    }
    return true;
}

void SlicedAnswer::finish_source(const std::string& source)
{
    if (m_query.command != QueryCommand::top) {
        return;
    }
    for (json& row : top_rows(m_merge.top(m_query.limit))) {
        append_row(std::move(row), source);
    }
    m_merge = TopMerge{};
    m_error_bound = std::max(m_error_bound, m_source_bound);
    m_source_bound = 0;
}

void SlicedAnswer::append_row(json row, const std::string& source)
{
    if (m_tag) {
        row["source"] = source;
    }
    append_dumped(dump_line(row));
}

void SlicedAnswer::append_dumped(const std::string& row)
{
    if (!m_first_row) {
        m_line += ',';
    }
    m_first_row = false;
    m_line += row;
}

void SlicedAnswer::append_rows(const std::string& name, const VhostStats& stats,
                               const std::string& source)
{
    json rows = json::array();
    switch (m_query.command) {
    case QueryCommand::stats:
        rows.push_back(stats_row(name, stats, m_query.window, m_wall_now, m_query.shape));
        break;
    case QueryCommand::vhosts: rows.push_back(vhosts_row(name, stats)); break;
    case QueryCommand::top:
        m_merge.add(stats.top(m_query.list));
        m_source_bound += stats.top(m_query.list).error_bound();
        return;
    case QueryCommand::timeseries: {
        const std::int64_t window =
            m_query.window.value_or(m_query.resolution == Resolution::minute ? 3600 : 24 * 3600);
        std::optional<std::string_view> rule;
        if (m_query.rule) {
            rule = *m_query.rule;
        }
        rows.push_back(series_row(name, stats, m_query.resolution, m_wall_now - window, rule));
        break;
    }
    case QueryCommand::rules: {
        std::optional<std::string_view> rule;
        if (m_query.rule) {
            rule = *m_query.rule;
        }
        append_rule_rows(rows, name, stats, rule);
        break;
    }
    default: break; // answers_in_slices() admits no other command
    }
    for (json& row : rows) {
        append_row(std::move(row), source);
    }
}

std::string SlicedAnswer::take_ready()
{
    return std::exchange(m_line, std::string());
}

std::string SlicedAnswer::take_line()
{
    m_line += ']';
    if (m_query.command == QueryCommand::top) {
        m_line += R"(,"capacity":)" + std::to_string(k_top_capacity) + R"(,"error_bound":)" +
                  std::to_string(m_error_bound);
    }
    m_line += '}';
    return std::move(m_line);
}

} // namespace mso
