// The history worker (history_service.h): routing, one job's answer, and the thread.
#include "daemon/history_service.h"

#include "state/aggregator.h"
#include "state/event_detail.h"
#include "state/query_answer.h"
#include "state/time_series.h"
#include "tuning/tuning_answer.h"
#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

constexpr std::int64_t k_us = 1'000'000;
// A reader's page cache: pages of one search, not the writer's working set.
constexpr int k_reader_cache_kib = 16 * 1024;
// The most hits of one rule and vhost whose paths and targets a windowed `rules` answer
// counts (the newest): bounds the work of one answer on the history worker.
constexpr std::size_t k_rule_where_max_hits = 100'000;

// The default windows of `timeseries` (query_answer.cpp).
std::int64_t timeseries_window(const Query& query)
{
    return query.window.value_or(query.resolution == Resolution::minute ? 3600 : 24 * 3600);
}

// The start of an events query's time range, when it has one.
std::optional<std::int64_t> since_us(const Query& query, std::int64_t wall_now)
{
    if (query.window) {
        return (wall_now - *query.window) * k_us;
    }
    return query.events.since_us;
}

HistoryQuery history_query(const Query& query, std::int64_t wall_now)
{
    const EventFilter& f = query.events;
    HistoryQuery h;
    h.vhost = f.vhost;
    h.rule = f.rule;
    h.client = f.client;
    h.path_prefix = f.path_prefix;
    h.status = f.status;
    h.intercepted = f.intercepted;
    h.would_block = f.would_block;
    h.engine_mode = f.engine;
    h.source = f.source;
    h.since_us = since_us(query, wall_now);
    h.until_us = f.until_us;
    h.grep = f.grep;
    h.limit = f.limit == 0 ? k_max_history_page : std::min(f.limit, k_max_history_page);
    if (f.cursor) {
        h.after = Cursor{f.cursor->time_us, f.cursor->row_id};
    }
    return h;
}

json stored_event_json(const StoredEvent& s, bool detail)
{
    const std::string_view verdict = verdict_name(verdict_of(s.event));
    return detail ? event_detail_json(s.event, s.source, s.engine_mode, verdict)
                  : event_with_origin_json(s.event, s.source, s.engine_mode, verdict);
}

Result<json> events_answer(HistoryStore& store, const HistoryJob& job)
{
    auto page = store.search(history_query(job.query, job.wall_now));
    if (!page) {
        return fail(page.error());
    }
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    json events = json::array();
    for (const StoredEvent& s : page->events) {
        events.push_back(stored_event_json(s, false));
    }
    out["events"] = std::move(events);
    if (page->next) {
        out["next"] = format_cursor(EventCursor{page->next->time_us, page->next->row_id});
    }
    return out;
}

// One series of the `timeseries` answer: the store's buckets as memory's points, with
// "events" (stored events) where memory has "requests" (every request Apache logged,
// which only the counter reports tell and history does not keep).
Result<json> series_json(HistoryStore& store, const Query& query,
                         const std::optional<std::string>& vhost, std::int64_t since_us,
                         std::int64_t until_us, std::int64_t step)
{
    auto rows = store.timeseries(vhost, std::nullopt, since_us, until_us, step, query.source);
    if (!rows) {
        return fail(rows.error());
    }
    std::vector<SeriesRow> rule_rows;
    if (query.rule) {
        auto hits = store.timeseries(vhost, query.rule, since_us, until_us, step, query.source);
        if (!hits) {
            return fail(hits.error());
        }
        rule_rows = std::move(*hits);
    }
    json points = json::array();
    std::size_t r = 0;
    for (const SeriesRow& row : *rows) {
        json p{{"time", iso_time_s(row.start_us / k_us)},
               {"events", row.events},
               {"flagged", row.flagged},
               {"intercepted", row.intercepted},
               {"would_block", row.would_block}};
        if (query.rule) {
            while (r < rule_rows.size() && rule_rows[r].start_us < row.start_us) {
                ++r;
            }
            const bool hit = r < rule_rows.size() && rule_rows[r].start_us == row.start_us;
            p["rule_hits"] = hit ? rule_rows[r].events : 0;
        }
        points.push_back(std::move(p));
    }
    return json{{"vhost", vhost.value_or("")},
                {"resolution", query.resolution == Resolution::minute ? "minute" : "hour"},
                {"points", std::move(points)}};
}

Result<json> timeseries_answer(HistoryStore& store, const HistoryJob& job)
{
    const Query& query = job.query;
    const std::int64_t step =
        query.resolution == Resolution::minute ? TimeSeries::k_minute : TimeSeries::k_hour;
    const std::int64_t since = (job.wall_now - timeseries_window(query)) / step * step * k_us;
    const std::int64_t until = (job.wall_now + 1) * k_us;
    std::vector<std::optional<std::string>> vhosts;
    // A listed vhost has its series even without points (as memory's answer).
    const bool listed = !query.vhosts.empty();
    if (listed) {
        const std::vector<std::string> names = listed_vhosts(query);
        vhosts.assign(names.begin(), names.end());
    } else if (query.vhost) {
        vhosts.emplace_back(*query.vhost);
    } else if (query.source) {
        // The source's vhosts in the window (the job's are the module's live ones).
        auto totals = store.vhost_totals(since, until, query.source);
        if (!totals) {
            return fail(totals.error());
        }
        for (const VhostTotals& t : *totals) {
            vhosts.emplace_back(t.vhost);
        }
    } else {
        for (const std::string& v : job.vhosts) {
            vhosts.emplace_back(v);
        }
    }
    json series = json::array();
    for (const auto& vhost : vhosts) {
        auto one = series_json(store, query, vhost, since, until, step);
        if (!one) {
            return fail(one.error());
        }
        if (listed || !(*one)["points"].empty()) {
            if (query.source) {
                (*one)["source"] = *query.source;
            }
            series.push_back(std::move(*one));
        }
    }
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    out["series"] = std::move(series);
    return out;
}

// The window of stats, rules and top: [now - window, now], to the second.
struct WindowSpan {
    std::int64_t since_us = 0;
    std::int64_t until_us = 0;
};

// With a source filter and no window: every stored event of the source (memory has no
// aggregates of a source that is not live, such as an import).
WindowSpan window_span(const HistoryJob& job)
{
    if (job.query.source && !job.query.window) {
        return {0, (job.wall_now + 1) * k_us};
    }
    return {(job.wall_now - job.query.window.value_or(0)) * k_us, (job.wall_now + 1) * k_us};
}

HistoryList history_list(TopList list)
{
    switch (list) {
    case TopList::clients: return HistoryList::clients;
    case TopList::paths: return HistoryList::paths;
    case TopList::agents: return HistoryList::agents;
    case TopList::targets: return HistoryList::targets;
    }
    return HistoryList::clients;
}

// A top list as memory's (value, count, error), with the vhost when asked for one; the
// store counts every event of the window, so the error is 0.
json top_rows_json(const std::vector<TopRow>& rows, const std::optional<std::string>& vhost)
{
    json out = json::array();
    for (const TopRow& row : rows) {
        json e{{"value", row.key}, {"count", row.count}, {"error", 0}};
        if (vhost) {
            e["vhost"] = *vhost;
        }
        out.push_back(std::move(e));
    }
    return out;
}

// A rule over the window: what the store counts (no severity, paranoia level, matches
// or first_seen, which memory's rules carry: docs/protocol.md, "Ring or history").
json rule_count_json(const RuleCount& r)
{
    return json{{"id", r.rule_id},
                {"msg", r.msg},
                {"hits", r.hits},
                {"last_seen", iso_time_s(r.last_seen_us / k_us)}};
}

// `stats` with a window: memory's windowed shape, "events" (stored events) where memory
// has "requests"; only vhosts with events in the window.
Result<json> stats_answer(HistoryStore& store, const HistoryJob& job)
{
    const Query& query = job.query;
    const WindowSpan span = window_span(job);
    auto totals = store.vhost_totals(span.since_us, span.until_us, query.source);
    if (!totals) {
        return fail(totals.error());
    }
    json vhosts = json::array();
    for (const VhostTotals& t : *totals) {
        if (query.vhost && t.vhost != *query.vhost) {
            continue;
        }
        auto counts = store.rule_counts(t.vhost, span.since_us, span.until_us,
                                        query.shape.rules_limit, query.source);
        if (!counts) {
            return fail(counts.error());
        }
        json rules = json::array();
        for (const RuleCount& r : *counts) {
            rules.push_back(rule_count_json(r));
        }
        json v{{"vhost", t.vhost},
               {"window_s", query.window.value_or(0)},
               {"since", iso_time_s(span.since_us / k_us)},
               {"events", t.events},
               {"flagged", t.flagged},
               {"intercepted", t.intercepted},
               {"would_block", t.would_block},
               {"rules", std::move(rules)}};
        if (query.source) {
            v["source"] = *query.source;
        }
        if (query.shape.top_clients != 0) {
            auto top = store.top(HistoryList::clients, t.vhost, span.since_us, span.until_us,
                                 query.shape.top_clients);
            if (!top) {
                return fail(top.error());
            }
            v["top_clients"] = top_rows_json(*top, std::nullopt); // of the window
        }
        vhosts.push_back(std::move(v));
    }
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    out["vhosts"] = std::move(vhosts);
    return out;
}

// `rules` with a window: one row per vhost and rule, as memory's, most hits first. With a
// rule, each row also has the window's top paths and targets of that rule, and its top
// path × target pairs.
Result<json> rules_answer(HistoryStore& store, const HistoryJob& job)
{
    const Query& query = job.query;
    const WindowSpan span = window_span(job);
    std::vector<std::string> vhosts;
    if (query.vhost) {
        vhosts.push_back(*query.vhost);
    } else {
        auto totals = store.vhost_totals(span.since_us, span.until_us, query.source);
        if (!totals) {
            return fail(totals.error());
        }
        for (const VhostTotals& t : *totals) {
            vhosts.push_back(t.vhost);
        }
    }
    json rules = json::array();
    for (const std::string& vhost : vhosts) {
        auto counts = store.rule_counts(vhost, span.since_us, span.until_us, 0, query.source);
        if (!counts) {
            return fail(counts.error());
        }
        for (const RuleCount& r : *counts) {
            if (query.rule && r.rule_id != *query.rule) {
                continue;
            }
            json row = json{{"vhost", vhost}};
            row.update(rule_count_json(r));
            if (query.source) {
                row["source"] = *query.source;
            }
            if (query.rule) {
                auto where =
                    store.rule_where(r.rule_id, vhost, span.since_us, span.until_us,
                                     k_rule_top_capacity, k_rule_where_max_hits, query.source);
                if (!where) {
                    return fail(where.error());
                }
                row["top_paths"] = top_rows_json(where->paths, std::nullopt);
                row["top_targets"] = top_rows_json(where->targets, std::nullopt);
                json pairs = json::array();
                for (const PathTarget& p : where->pairs) {
                    pairs.push_back({{"path", p.path}, {"target", p.target}, {"count", p.count}});
                }
                row["top_pairs"] = std::move(pairs);
                if (where->counted_since_us) {
                    row["top_since"] = iso_time_s(*where->counted_since_us / k_us);
                }
            }
            rules.push_back(std::move(row));
        }
    }
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    out["rules"] = std::move(rules);
    return out;
}

// `top` with a window: exact counts of the stored events (error_bound 0).
Result<json> top_answer(HistoryStore& store, const HistoryJob& job)
{
    const Query& query = job.query;
    const WindowSpan span = window_span(job);
    auto rows = store.top(history_list(query.list), query.vhost, span.since_us, span.until_us,
                          query.limit, query.source);
    if (!rows) {
        return fail(rows.error());
    }
    json out = json::object();
    out["ok"] = true;
    out["from"] = "history";
    out["top"] = top_rows_json(*rows, query.vhost);
    if (query.source) {
        for (json& row : out["top"]) {
            row["source"] = *query.source;
        }
    }
    out["error_bound"] = 0;
    if (query.max_age != 0) {
        out["as_of"] = iso_time_s(job.wall_now); // the window's end: a kept answer is older
    }
    return out;
}

// `sources`: the live part the loop answered, plus every source of the store.
Result<json> sources_answer(HistoryStore& store, const HistoryJob& job)
{
    auto counts = store.source_counts();
    if (!counts) {
        return fail(counts.error());
    }
    json out = json::parse(job.live, nullptr, false);
    if (!out.is_object()) {
        out = json{{"ok", true}, {"sources", json::array()}};
    }
    out["from"] = "memory+history";
    json stored = json::array();
    for (const SourceCount& c : *counts) {
        stored.push_back(json{{"source", c.source},
                              {"events", c.events},
                              {"last_event_time", iso_time_us(c.last_event_us)},
                              {"last_event_time_us", c.last_event_us}});
    }
    out["history"] = std::move(stored);
    return out;
}

} // namespace

Route route_query(const Query& query, bool history_enabled,
                  std::optional<std::int64_t> oldest_ring_us, std::int64_t wall_now,
                  bool source_in_memory)
{
    if (!history_enabled) {
        return Route::memory;
    }
    const bool aggregates =
        query.command == QueryCommand::stats || query.command == QueryCommand::rules ||
        query.command == QueryCommand::top || query.command == QueryCommand::timeseries;
    // A source memory has no aggregates of (an import): history, all of it by default.
    if (aggregates && query.source && !source_in_memory) {
        return Route::history;
    }
    switch (query.command) {
    case QueryCommand::event:
    case QueryCommand::sources: return Route::history;
    case QueryCommand::events: {
        const EventFilter& f = query.events;
        if (f.cursor || f.engine || f.source) {
            return Route::history;
        }
        // Without a time range, `limit` 0 keeps its meaning "every event the ring holds".
        const auto since = since_us(query, wall_now);
        const bool reaches_back =
            since ? !oldest_ring_us || *since < *oldest_ring_us : f.limit != 0;
        return reaches_back ? Route::history : Route::memory;
    }
    case QueryCommand::timeseries: {
        const std::int64_t kept = query.resolution == Resolution::minute ? TimeSeries::k_minute_span
                                                                         : TimeSeries::k_hour_span;
        return timeseries_window(query) > kept ? Route::history : Route::memory;
    }
    // Memory sums its minute series for windows up to 24 hours; beyond, its hour series
    // would widen the window by up to an hour (and holds 30 days at most).
    case QueryCommand::stats:
        return query.window && *query.window > TimeSeries::k_minute_span ? Route::history
                                                                         : Route::memory;
    // Memory counts rules and top lists since the start: it has no window for them.
    case QueryCommand::rules:
    case QueryCommand::top: return query.window ? Route::history : Route::memory;
    case QueryCommand::tune:
    case QueryCommand::readiness: return Route::history;
    default: return Route::memory;
    }
}

HistoryAnswer answer_from_history(HistoryStore& store, const HistoryJob& job)
{
    HistoryAnswer a;
    a.client = job.client;
    a.request = job.line;
    Result<json> out = fail("not a history query");
    switch (job.query.command) {
    case QueryCommand::events: out = events_answer(store, job); break;
    case QueryCommand::timeseries: out = timeseries_answer(store, job); break;
    case QueryCommand::stats: out = stats_answer(store, job); break;
    case QueryCommand::rules: out = rules_answer(store, job); break;
    case QueryCommand::top: out = top_answer(store, job); break;
    case QueryCommand::sources: out = sources_answer(store, job); break;
    case QueryCommand::tune:
    case QueryCommand::readiness: {
        const std::int64_t window = job.query.window.value_or(k_default_tune_window_s);
        const std::int64_t since = (job.wall_now - window) * k_us;
        const std::int64_t until = (job.wall_now + 1) * k_us;
        out = job.query.command == QueryCommand::tune
                  ? tune_answer(store, job.query, since, until)
                  : readiness_answer(store, job.query, since, until);
        break;
    }
    case QueryCommand::event: {
        auto found = store.find(*job.query.unique_id, job.query.events.source);
        if (!found) {
            out = fail(found.error());
        } else if (!*found) {
            a.use_ring = true;
            return a;
        } else {
            json j = json::object();
            j["ok"] = true;
            j["from"] = "history";
            j["event"] = stored_event_json(**found, true);
            out = std::move(j);
        }
        break;
    }
    default: break;
    }
    a.line = out ? dump_line(*out) : error_answer("history: " + out.error());
    return a;
}

HistoryService::HistoryService(std::string path, Deliver deliver, std::size_t max_queue)
    : m_path(std::move(path)),
      m_deliver(std::move(deliver)),
      m_max_queue(max_queue),
      m_thread([this] { run(); })
{
}

HistoryService::~HistoryService()
{
    stop();
}

bool HistoryService::submit(HistoryJob job)
{
    {
        const std::lock_guard lock(m_mutex);
        if (m_stopping || m_jobs.size() >= m_max_queue) {
            ++m_counters.refused;
            return false;
        }
        job.asked = Clock::now();
        m_jobs.push_back(std::move(job));
    }
    m_wake.notify_one();
    return true;
}

HistoryQueryCounters HistoryService::counters() const
{
    const std::lock_guard lock(m_mutex);
    HistoryQueryCounters c = m_counters;
    c.queued = m_jobs.size();
    return c;
}

void HistoryService::stop()
{
    {
        const std::lock_guard lock(m_mutex);
        m_stopping = true;
        m_jobs.clear();
    }
    m_wake.notify_one();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

bool same_question(const HistoryJob& a, const HistoryJob& b)
{
    return a.line == b.line && a.vhosts == b.vhosts && a.live == b.live;
}

const std::string* HistoryService::recent_answer(const HistoryJob& job) const
{
    if (job.query.max_age == 0) {
        return nullptr;
    }
    const auto oldest = Clock::now() - std::chrono::seconds(job.query.max_age);
    for (const RecentAnswer& kept : m_recent) {
        if (kept.at >= oldest && same_question(kept.question, job)) {
            return &kept.line;
        }
    }
    return nullptr;
}

void HistoryService::keep_answer(const HistoryJob& job, const std::string& line)
{
    if (job.query.max_age == 0 || is_error_answer(line)) {
        return;
    }
    std::erase_if(m_recent,
                  [&](const RecentAnswer& kept) { return same_question(kept.question, job); });
    HistoryJob question;
    question.line = job.line;
    question.vhosts = job.vhosts;
    question.live = job.live;
    RecentAnswer kept_now{std::move(question), line, job.asked};
    if (kept_now.bytes() > k_recent_answer_bytes) {
        return; // larger than the whole allowance: not kept
    }
    m_recent.push_back(std::move(kept_now));
    std::size_t bytes = 0;
    for (const RecentAnswer& kept : m_recent) {
        bytes += kept.bytes();
    }
    // Oldest first.
    while (!m_recent.empty() &&
           (m_recent.size() > k_recent_answers || bytes > k_recent_answer_bytes)) {
        bytes -= m_recent.front().bytes();
        m_recent.pop_front();
    }
}

void HistoryService::run()
{
    for (;;) {
        HistoryJob job;
        std::vector<std::uint64_t> also; // the clients of the same question, waiting
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stopping || !m_jobs.empty(); });
            if (m_stopping) {
                return;
            }
            job = std::move(m_jobs.front());
            m_jobs.pop_front();
            // Each client has one job at a time (its next line waits for the answer), so
            // taking later jobs first keeps every client's order.
            for (auto it = m_jobs.begin(); it != m_jobs.end();) {
                if (same_question(job, *it)) {
                    also.push_back(it->client);
                    job.wall_now = std::max(job.wall_now, it->wall_now);
                    job.asked = std::max(job.asked, it->asked);
                    it = m_jobs.erase(it);
                } else {
                    ++it;
                }
            }
        }
        HistoryAnswer answer;
        if (!m_store) {
            HistoryOptions options;
            options.read_only = true;
            options.cache_kib = k_reader_cache_kib;
            auto opened = HistoryStore::open(m_path, options);
            if (opened) {
                m_store.emplace(std::move(*opened));
            } else {
                answer.client = job.client;
                answer.request = job.line;
                answer.line =
                    error_answer("history: cannot open " + m_path + ": " + opened.error());
            }
        }
        const std::string* recent = recent_answer(job);
        if (recent != nullptr) {
            answer.client = job.client;
            answer.request = job.line;
            answer.line = *recent;
        } else if (m_store) {
            answer = answer_from_history(*m_store, job);
            keep_answer(job, answer.line);
        }
        {
            const std::lock_guard lock(m_mutex);
            m_counters.answered += 1 + also.size();
            m_counters.shared += also.size() + (recent != nullptr ? 1 : 0);
            if (is_error_answer(answer.line)) {
                m_counters.errors += 1 + also.size();
            }
        }
        for (const std::uint64_t client : also) {
            HistoryAnswer copy = answer;
            copy.client = client;
            m_deliver(std::move(copy));
        }
        m_deliver(std::move(answer));
    }
}

} // namespace mso
