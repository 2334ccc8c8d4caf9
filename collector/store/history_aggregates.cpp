// Aggregates over a window of the history store (history_store.h): rule counts, vhost
// totals, sources and where a rule hits, for `rules` and `stats` when the window reaches
// past what the collector holds in memory (top lists: history_top.cpp). A window is cut
// into whole minutes, answered from the per-minute counts (a bounded number of rows
// whatever the number of events), and the partial minutes at its ends, counted from the
// events themselves, so the answer is exact at any boundary.
#include "store/history_store_impl.h"
#include "util/utf8_cut.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>

namespace mso {
namespace {

// Floor division: times before 1970 land in the minute that holds them.
std::int64_t minute_of(std::int64_t us) noexcept
{
    std::int64_t m = us / k_us_per_minute;
    if (us < 0 && m * k_us_per_minute != us) {
        --m;
    }
    return m;
}

// [since, until) as the whole minutes [first, last) and up to two partial ranges.
struct Window {
    std::int64_t first = 0; // whole minutes: first <= minute < last (none when equal)
    std::int64_t last = 0;
    struct Range {
        std::int64_t since;
        std::int64_t until;
    };
    Range head{0, 0}; // before the first whole minute
    Range tail{0, 0}; // after the last whole minute (the whole window when no whole minute)
};

// The window as one range of events, without whole minutes: what a source filter reads
// (the per-minute counts are not kept per source).
Window unsplit(std::int64_t since, std::int64_t until)
{
    Window w;
    w.tail = {since, until};
    return w;
}

Window split(std::int64_t since, std::int64_t until)
{
    Window w;
    w.first = minute_of(since) + (since % k_us_per_minute == 0 ? 0 : 1);
    w.last = minute_of(until);
    if (w.first >= w.last) {
        w.first = w.last = 0;
        w.tail = {since, until};
        return w;
    }
    w.head = {since, w.first * k_us_per_minute};
    w.tail = {w.last * k_us_per_minute, until};
    return w;
}

// The events of [since, until), optionally of one vhost and one source, one row at a time
// to `row` (columns: time_us, vhost_id, verdict, findings_dropped, findings).
template <typename F>
Result<void> scan(HistoryStore::Impl& m, Window::Range range, std::optional<std::int64_t> vhost,
                  std::optional<std::int64_t> source, F&& row)
{
    if (range.since >= range.until) {
        return ok();
    }
    std::string error;
    Stmt* s = m.statement("SELECT time_us, vhost_id, verdict, findings_dropped, findings FROM "
                          "events WHERE time_us >= ?1 AND time_us < ?2 AND (?3 IS NULL OR "
                          "vhost_id = ?3) AND (?4 IS NULL OR source_id = ?4)",
                          error);
    if (s == nullptr) {
        return fail(error);
    }
    s->bind(1, range.since);
    s->bind(2, range.until);
    if (vhost) {
        s->bind(3, *vhost);
    }
    if (source) {
        s->bind(4, *source);
    }
    return each_row(*s, row);
}

struct RuleAcc {
    std::uint64_t hits = 0;
    std::int64_t newest_minute = -1; // in the whole minutes; -1: none there
    bool in_head = false;
    bool in_tail = false;
};

// The events of `rule` in `range` (of `vhost` and `source` when set), newest first, at
// most `limit` (-1: all), with `columns` of `mso_rule_hits r` and `events e`: a walk of the
// rule postings from the range's end, each event joined by its row id. The statement is
// bound and ready to step; nullptr (and `error` set) on failure.
Stmt* rule_hits(HistoryStore::Impl& m, std::string_view columns, std::int64_t rule,
                std::optional<std::int64_t> vhost, std::optional<std::int64_t> source,
                Window::Range range, std::int64_t limit, std::string& error)
{
    Stmt* s = m.statement("SELECT " + std::string(columns) +
                              " FROM mso_rule_hits(?1, ?2, ?3) r CROSS JOIN events e ON e.id = "
                              "r.event_id AND e.time_us = r.time_us WHERE (?4 IS NULL OR "
                              "e.vhost_id = ?4) AND (?5 IS NULL OR e.source_id = ?5) ORDER BY "
                              "r.time_us DESC, r.event_id DESC LIMIT ?6",
                          error);
    if (s == nullptr) {
        return nullptr;
    }
    s->bind(1, rule);
    s->bind(2, range.since);
    s->bind(3, range.until);
    if (vhost) {
        s->bind(4, *vhost);
    }
    if (source) {
        s->bind(5, *source);
    }
    s->bind(6, limit);
    return s;
}

// The newest event of `rule` (of `vhost` when set) in `range`: its time and the rule's
// message in it.
Result<void> newest_hit(HistoryStore::Impl& m, std::int64_t rule, std::optional<std::int64_t> vhost,
                        std::optional<std::int64_t> source, Window::Range range, RuleCount& out)
{
    std::string error;
    Stmt* s = rule_hits(m, "r.time_us, e.findings", rule, vhost, source, range, 1, error);
    if (s == nullptr) {
        return fail(error);
    }
    auto row = s->step();
    if (!row) {
        return fail(row.error());
    }
    if (!*row) {
        return ok(); // counted but not found: a concurrent prune; leave it unset
    }
    out.last_seen_us = s->integer(0);
    std::string_view blob = s->blob(1);
    BlobFinding f;
    while (!blob.empty() && next_finding(blob, f)) {
        if (f.strings[BlobFinding::k_rule] == rule) {
            const std::int64_t msg = f.strings[BlobFinding::k_msg];
            auto text = msg == 0 ? std::optional<std::string>("") : m.text_of(msg);
            out.msg = text.value_or("");
            break;
        }
    }
    s->reset();
    return ok();
}

} // namespace

std::optional<std::int64_t> string_filter(HistoryStore::Impl& m,
                                          const std::optional<std::string>& value)
{
    if (!value) {
        return std::nullopt;
    }
    return m.lookup(*value).value_or(-2);
}

Result<std::vector<RuleCount>> HistoryStore::rule_counts(const std::optional<std::string>& vhost,
                                                         std::int64_t since_us,
                                                         std::int64_t until_us, std::size_t limit,
                                                         const std::optional<std::string>& source)
{
    Impl& m = *m_impl;
    std::vector<RuleCount> out;
    const auto vhost_id = string_filter(m, vhost);
    const auto source_id = string_filter(m, source);
    if (until_us <= since_us || vhost_id == -2 || source_id == -2) {
        return out;
    }
    const Window w = source ? unsplit(since_us, until_us) : split(since_us, until_us);
    std::unordered_map<std::int64_t, RuleAcc> rules;
    if (w.first < w.last) {
        // Each rule id of the minutes table (a skip-scan of its key), then its key range.
        std::string error;
        Stmt* s = m.statement(
            "WITH RECURSIVE r(id) AS (SELECT min(rule_id) FROM minutes WHERE rule_id > 0 "
            "UNION ALL SELECT (SELECT min(rule_id) FROM minutes WHERE rule_id > r.id) FROM r "
            "WHERE r.id IS NOT NULL) "
            "SELECT r.id, sum(m.events), max(m.minute) FROM r CROSS JOIN minutes m ON "
            "m.rule_id = r.id AND m.vhost_id = ?1 AND m.minute >= ?2 AND m.minute < ?3 "
            "WHERE r.id IS NOT NULL GROUP BY r.id",
            error);
        if (s == nullptr) {
            return fail(error);
        }
        s->bind(1, vhost_id.value_or(k_all_vhosts));
        s->bind(2, w.first);
        s->bind(3, w.last);
        auto counted = each_row(*s, [&](const Stmt& row) {
            if (row.integer(1) > 0) {
                RuleAcc& a = rules[row.integer(0)];
                a.hits += static_cast<std::uint64_t>(row.integer(1));
                a.newest_minute = row.integer(2);
            }
        });
        if (!counted) {
            return fail(counted.error());
        }
    }
    std::vector<std::int64_t> ids;
    for (const bool head : {true, false}) {
        auto r = scan(m, head ? w.head : w.tail, vhost_id, source_id, [&](const Stmt& row) {
            finding_rule_ids(row.blob(4), ids);
            for (const std::int64_t id : ids) {
                RuleAcc& a = rules[id];
                ++a.hits;
                (head ? a.in_head : a.in_tail) = true;
            }
        });
        if (!r) {
            return fail(r.error());
        }
    }
    std::vector<std::pair<RuleCount, std::int64_t>> rows; // with the rule's string id
    for (const auto& [id, a] : rules) {
        auto text = m.text_of(id);
        if (!text) {
            return fail("history: rule string " + std::to_string(id) + " does not resolve");
        }
        rows.push_back({RuleCount{*text, "", a.hits, 0}, id});
    }
    rank(
        rows, limit, [](const auto& r) { return r.first.hits; },
        [](const auto& r) -> const std::string& { return r.first.rule_id; });
    for (auto& [count, id] : rows) {
        // The newest hit lies in the newest part of the window the rule was counted in;
        // look only there, so a rare rule of a busy vhost costs one minute's rows at most.
        const RuleAcc& a = rules[id];
        const Window::Range where = a.in_tail ? w.tail
                                    : a.newest_minute >= 0
                                        ? Window::Range{a.newest_minute * k_us_per_minute,
                                                        (a.newest_minute + 1) * k_us_per_minute}
                                        : w.head;
        if (auto r = newest_hit(m, id, vhost_id, source_id, where, count); !r) {
            return fail(r.error());
        }
        out.push_back(std::move(count));
    }
    return out;
}

Result<std::vector<SourceCount>> HistoryStore::source_counts()
{
    Impl& m = *m_impl;
    std::string error;
    Stmt* s = m.statement("SELECT source_id, events, last_time_us FROM source_totals", error);
    if (s == nullptr) {
        return fail(error);
    }
    std::vector<std::pair<std::int64_t, SourceCount>> rows;
    auto read = each_row(*s, [&](const Stmt& row) {
        SourceCount c;
        c.events = static_cast<std::uint64_t>(row.integer(1));
        c.last_event_us = row.integer(2);
        rows.emplace_back(row.integer(0), std::move(c));
    });
    if (!read) {
        return fail(read.error());
    }
    std::vector<SourceCount> out;
    for (auto& [id, c] : rows) {
        auto name = m.text_of(id);
        if (!name) {
            return fail("source string " + std::to_string(id) + " is missing");
        }
        c.source = std::move(*name);
        out.push_back(std::move(c));
    }
    std::sort(out.begin(), out.end(),
              [](const SourceCount& a, const SourceCount& b) { return a.source < b.source; });
    return out;
}

Result<std::vector<VhostTotals>>
HistoryStore::vhost_totals(std::int64_t since_us, std::int64_t until_us,
                           const std::optional<std::string>& source)
{
    Impl& m = *m_impl;
    std::vector<VhostTotals> out;
    const auto source_id = string_filter(m, source);
    if (until_us <= since_us || source_id == -2) {
        return out;
    }
    const Window w = source ? unsplit(since_us, until_us) : split(since_us, until_us);
    std::unordered_map<std::int64_t, VhostTotals> totals; // by vhost string id
    if (w.first < w.last) {
        std::string error;
        Stmt* s = m.statement(
            "WITH RECURSIVE v(id) AS (SELECT min(vhost_id) FROM minutes WHERE rule_id = 0 AND "
            "vhost_id >= 0 UNION ALL SELECT (SELECT min(vhost_id) FROM minutes WHERE rule_id = 0 "
            "AND vhost_id > v.id) FROM v WHERE v.id IS NOT NULL) "
            "SELECT v.id, sum(m.events), sum(m.flagged), sum(m.intercepted), sum(m.would_block) "
            "FROM v CROSS JOIN minutes m ON m.rule_id = 0 AND m.vhost_id = v.id AND "
            "m.minute >= ?1 AND m.minute < ?2 WHERE v.id IS NOT NULL GROUP BY v.id",
            error);
        if (s == nullptr) {
            return fail(error);
        }
        s->bind(1, w.first);
        s->bind(2, w.last);
        auto read = each_row(*s, [&](const Stmt& row) {
            VhostTotals& t = totals[row.integer(0)];
            t.events += static_cast<std::uint64_t>(row.integer(1));
            t.flagged += static_cast<std::uint64_t>(row.integer(2));
            t.intercepted += static_cast<std::uint64_t>(row.integer(3));
            t.would_block += static_cast<std::uint64_t>(row.integer(4));
        });
        if (!read) {
            return fail(read.error());
        }
    }
    for (const Window::Range range : {w.head, w.tail}) {
        auto r = scan(m, range, std::nullopt, source_id, [&](const Stmt& row) {
            VhostTotals& t = totals[row.integer(1)];
            ++t.events;
            t.flagged += !row.blob(4).empty() || row.integer(3) > 0 ? 1U : 0U;
            t.intercepted += row.integer(2) == static_cast<int>(Verdict::intercepted) ? 1U : 0U;
            t.would_block += row.integer(2) == static_cast<int>(Verdict::would_block) ? 1U : 0U;
        });
        if (!r) {
            return fail(r.error());
        }
    }
    for (auto& [id, t] : totals) {
        if (t.events == 0) {
            continue;
        }
        auto name = id == 0 ? std::optional<std::string>("") : m.text_of(id);
        if (!name) {
            return fail("history: vhost string " + std::to_string(id) + " does not resolve");
        }
        t.vhost = std::move(*name);
        out.push_back(std::move(t));
    }
    std::sort(out.begin(), out.end(),
              [](const VhostTotals& a, const VhostTotals& b) { return a.vhost < b.vhost; });
    return out;
}

Result<RuleWhere> HistoryStore::rule_where(const std::string& rule,
                                           const std::optional<std::string>& vhost,
                                           std::int64_t since_us, std::int64_t until_us,
                                           std::size_t limit, std::size_t max_hits,
                                           const std::optional<std::string>& source)
{
    Impl& m = *m_impl;
    RuleWhere out;
    const auto rule_id = m.lookup(rule);
    const auto vhost_id = string_filter(m, vhost);
    const auto source_id = string_filter(m, source);
    if (until_us <= since_us || !rule_id || *rule_id == 0 || vhost_id == -2 || source_id == -2) {
        return out;
    }
    // One more than max_hits tells whether the window holds more.
    const std::int64_t sql_limit = max_hits == 0 ? -1 : static_cast<std::int64_t>(max_hits) + 1;
    std::string error;
    Stmt* s = rule_hits(m, "r.time_us, e.path, e.findings", *rule_id, vhost_id, source_id,
                        {since_us, until_us}, sql_limit, error);
    if (s == nullptr) {
        return fail(error);
    }
    std::unordered_map<std::string, std::uint64_t> paths;
    std::unordered_map<std::int64_t, std::uint64_t> targets;             // by string id
    std::map<std::pair<std::string, std::int64_t>, std::uint64_t> pairs; // path, target id
    std::size_t hits = 0;
    std::int64_t oldest = 0;
    BlobFinding f;
    auto r = each_row(*s, [&](const Stmt& row) {
        if (max_hits != 0 && hits == max_hits) {
            out.counted_since_us = oldest;
            return false;
        }
        ++hits;
        oldest = row.integer(0);
        std::string path(utf8_cut(row.text(1), k_max_top_key_bytes));
        std::string_view blob = row.blob(2);
        while (!blob.empty() && next_finding(blob, f)) {
            if (f.strings[BlobFinding::k_rule] == *rule_id &&
                f.strings[BlobFinding::k_target] != 0) {
                ++targets[f.strings[BlobFinding::k_target]];
                ++pairs[{path, f.strings[BlobFinding::k_target]}];
            }
        }
        ++paths[std::move(path)];
        return true;
    });
    if (!r) {
        return fail(r.error());
    }
    for (auto& [path, n] : paths) {
        out.paths.push_back(TopRow{path, n});
    }
    std::unordered_map<std::int64_t, std::string> target_texts; // every pair's target too
    for (const auto& [id, n] : targets) {
        auto text = m.text_of(id);
        if (!text) {
            return fail("history: string " + std::to_string(id) + " does not resolve");
        }
        out.targets.push_back(TopRow{*text, n});
        target_texts.emplace(id, std::move(*text));
    }
    for (std::vector<TopRow>* rows : {&out.paths, &out.targets}) {
        rank(
            *rows, limit, [](const TopRow& t) { return t.count; },
            [](const TopRow& t) -> const std::string& { return t.key; });
    }
    // Ranked by count, then by path and target.
    out.pairs.reserve(pairs.size());
    for (const auto& [key, n] : pairs) {
        const auto text = target_texts.find(key.second);
        if (text == target_texts.end()) {
            return fail("history: target " + std::to_string(key.second) + " not counted");
        }
        out.pairs.push_back(PathTarget{key.first, text->second, n});
    }
    std::sort(out.pairs.begin(), out.pairs.end(), [](const PathTarget& a, const PathTarget& b) {
        return a.count != b.count ? a.count > b.count
                                  : std::tie(a.path, a.target) < std::tie(b.path, b.target);
    });
    if (out.pairs.size() > limit * limit) {
        out.pairs.resize(limit * limit);
    }
    return out;
}

} // namespace mso
