// store/history_aggregates.cpp: rule counts, vhost totals and top lists over a window,
// compared with counts made directly from the events written, for windows on and off
// minute boundaries, within one minute, with and without a vhost, and after pruning.
#include "store/history_store.h"

#include "store_test_events.h"

#include "util/utf8_cut.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace mso {
namespace {

using test::k_t0;
using test::TempDir;

constexpr std::int64_t k_s = 1'000'000;

// 70 events 7 s apart from k_t0 (a minute boundary), so minutes hold 8 or 9 of them and
// no window edge falls on a round number of events. Fields cycle with different periods.
std::vector<StoredEvent> corpus()
{
    std::vector<StoredEvent> out;
    for (int i = 0; i < 70; ++i) {
        StoredEvent s = test::full_event(i);
        RequestEvent& e = s.event;
        e.time_us = k_t0 + i * 7 * k_s;
        e.vhost = i % 3 == 0 ? "a.example" : i % 3 == 1 ? "b.example" : "c.example";
        e.client = "10.0.0." + std::to_string(i % 5);
        e.path = "/p" + std::to_string(i % 4);
        e.user_agent = i % 2 == 0 ? "curl/8" : "sqlmap/1.7";
        e.intercepted = i % 5 == 0;
        e.scores->inbound = i % 4 == 1 ? 10 : 0;
        e.scores->outbound = 0;
        e.findings.clear();
        e.findings_dropped = i % 11 == 4 ? 1 : 0;
        auto add = [&](const char* id, std::string msg, const char* target) {
            Finding f;
            f.id = id;
            f.msg = std::move(msg);
            f.target = target;
            e.findings.push_back(std::move(f));
        };
        if (i % 2 == 0) {
            add("942100", "SQL Injection Attack Detected via libinjection", "ARGS:q");
        }
        if (i % 10 == 0) { // the same rule twice: one hit, two targets counted
            add("942100", "SQL Injection Attack Detected via libinjection", "ARGS:id");
        }
        if (i % 3 == 0) {
            add("941100", "XSS Attack Detected via libinjection", "ARGS:q");
        }
        if (i % 7 == 0) { // a message that changes: the newest one must be reported
            add("920350", "Host header is a numeric IP address " + std::to_string(i), "");
        }
        out.push_back(std::move(s));
    }
    return out;
}

class HistoryAggregates : public ::testing::Test {
protected:
    void SetUp() override
    {
        // The second batch moves the client postings held so far (55 rows: one per event,
        // as no two events share a client and bucket) to client_postings, the third's
        // stay in client_postings_recent: top clients counts both tables.
        HistoryOptions options;
        options.recent_client_rows = 40;
        auto store = HistoryStore::open(m_dir.db(), options);
        ASSERT_TRUE(store) << store.error();
        m_store.emplace(std::move(*store));
        m_events = corpus();
        // Three batches, so minutes rows are added to, not only created.
        const std::span<const StoredEvent> all(m_events);
        ASSERT_TRUE(m_store->write_batch(all.subspan(0, 33)));
        ASSERT_TRUE(m_store->write_batch(all.subspan(33, 22)));
        ASSERT_TRUE(m_store->write_batch(all.subspan(55)));
        ASSERT_EQ(test::sql_integer(m_dir.db(), "SELECT count(*) FROM client_postings"), 55);
        ASSERT_EQ(test::sql_integer(m_dir.db(), "SELECT count(*) FROM client_postings_recent"), 15);
    }

    [[nodiscard]] std::vector<const RequestEvent*>
    in_window(const std::optional<std::string>& vhost, std::int64_t since, std::int64_t until) const
    {
        std::vector<const RequestEvent*> out;
        for (const auto& s : m_events) {
            const RequestEvent& e = s.event;
            if (e.time_us >= since && e.time_us < until && (!vhost || e.vhost == *vhost)) {
                out.push_back(&e);
            }
        }
        return out;
    }

    [[nodiscard]] std::vector<RuleCount> expected_rules(const std::optional<std::string>& vhost,
                                                        std::int64_t since,
                                                        std::int64_t until) const
    {
        std::map<std::string, RuleCount> by_id;
        for (const RequestEvent* e : in_window(vhost, since, until)) {
            std::set<std::string> seen;
            for (const Finding& f : e->findings) {
                if (f.id.empty() || !seen.insert(f.id).second) {
                    continue;
                }
                RuleCount& r = by_id[f.id];
                r.rule_id = f.id;
                ++r.hits;
                if (e->time_us >= r.last_seen_us) { // equal times: the later insert
                    r.last_seen_us = e->time_us;
                    r.msg = f.msg;
                }
            }
        }
        std::vector<RuleCount> out;
        for (auto& [id, r] : by_id) {
            out.push_back(r);
        }
        std::stable_sort(out.begin(), out.end(),
                         [](const RuleCount& a, const RuleCount& b) { return a.hits > b.hits; });
        return out;
    }

    [[nodiscard]] std::vector<VhostTotals> expected_vhosts(std::int64_t since,
                                                           std::int64_t until) const
    {
        std::map<std::string, VhostTotals> by_name;
        for (const RequestEvent* e : in_window(std::nullopt, since, until)) {
            VhostTotals& t = by_name[e->vhost];
            t.vhost = e->vhost;
            ++t.events;
            t.flagged += !e->findings.empty() || e->findings_dropped > 0 ? 1U : 0U;
            t.intercepted += verdict_of(*e) == Verdict::intercepted ? 1U : 0U;
            t.would_block += verdict_of(*e) == Verdict::would_block ? 1U : 0U;
        }
        std::vector<VhostTotals> out;
        for (auto& [name, t] : by_name) {
            out.push_back(t);
        }
        return out;
    }

    [[nodiscard]] std::vector<TopRow> expected_top(HistoryList list,
                                                   const std::optional<std::string>& vhost,
                                                   std::int64_t since, std::int64_t until) const
    {
        std::map<std::string, std::uint64_t> counts;
        for (const RequestEvent* e : in_window(vhost, since, until)) {
            switch (list) {
            case HistoryList::clients: ++counts[e->client]; break;
            case HistoryList::paths: ++counts[e->path]; break;
            case HistoryList::agents: ++counts[e->user_agent]; break;
            case HistoryList::targets:
                for (const Finding& f : e->findings) {
                    if (!f.target.empty()) {
                        ++counts[f.target];
                    }
                }
                break;
            }
        }
        std::vector<TopRow> out;
        for (const auto& [key, n] : counts) {
            out.push_back(TopRow{key, n});
        }
        std::stable_sort(out.begin(), out.end(),
                         [](const TopRow& a, const TopRow& b) { return a.count > b.count; });
        return out;
    }

    TempDir m_dir;
    std::optional<HistoryStore> m_store;
    std::vector<StoredEvent> m_events;
};

struct Window {
    const char* name;
    std::int64_t since;
    std::int64_t until;
};

// The events span k_t0 .. k_t0 + 483 s (minutes 0..8).
const Window k_windows[] = {
    {"everything", k_t0 - 3600 * k_s, k_t0 + 3600 * k_s},
    {"whole minutes 1..4", k_t0 + 60 * k_s, k_t0 + 300 * k_s},
    {"partial at both ends", k_t0 + 25 * k_s, k_t0 + 310 * k_s},
    {"starts on an event, ends on one", k_t0 + 63 * k_s, k_t0 + 434 * k_s},
    {"within one minute", k_t0 + 125 * k_s, k_t0 + 170 * k_s},
    {"one minute exactly", k_t0 + 120 * k_s, k_t0 + 180 * k_s},
    {"less than a minute across a boundary", k_t0 + 170 * k_s, k_t0 + 200 * k_s},
    {"one microsecond: the event at 7 s", k_t0 + 7 * k_s, k_t0 + 7 * k_s + 1},
    {"empty", k_t0 + 7 * k_s + 1, k_t0 + 14 * k_s},
    {"after the last event", k_t0 + 484 * k_s, k_t0 + 900 * k_s},
};

TEST_F(HistoryAggregates, RuleCountsMatchTheEvents)
{
    for (const Window& w : k_windows) {
        for (const auto& vhost :
             {std::optional<std::string>(), std::optional<std::string>("b.example")}) {
            auto got = m_store->rule_counts(vhost, w.since, w.until, 0);
            ASSERT_TRUE(got) << w.name << ": " << got.error();
            EXPECT_EQ(*got, expected_rules(vhost, w.since, w.until))
                << w.name << ", vhost " << vhost.value_or("(all)");
        }
    }
}

TEST_F(HistoryAggregates, RuleCountsByHand)
{
    // Minutes 1..4 (60 s <= t < 300 s): events 9..42 (t = 63 .. 294 s), 34 events.
    auto got = m_store->rule_counts(std::nullopt, k_t0 + 60 * k_s, k_t0 + 300 * k_s, 2);
    ASSERT_TRUE(got) << got.error();
    ASSERT_EQ(got->size(), 2U); // limit
    EXPECT_EQ((*got)[0], (RuleCount{"942100", "SQL Injection Attack Detected via libinjection", 17,
                                    k_t0 + 42 * 7 * k_s}));
    EXPECT_EQ((*got)[1], (RuleCount{"941100", "XSS Attack Detected via libinjection", 12,
                                    k_t0 + 42 * 7 * k_s}));
    auto rare = m_store->rule_counts(std::nullopt, k_t0 + 60 * k_s, k_t0 + 300 * k_s, 0);
    ASSERT_TRUE(rare && rare->size() == 3U);
    // 920350 at events 14, 21, 28, 35, 42: the newest message is event 42's.
    EXPECT_EQ((*rare)[2], (RuleCount{"920350", "Host header is a numeric IP address 42", 5,
                                     k_t0 + 42 * 7 * k_s}));
    EXPECT_TRUE(m_store->rule_counts("nowhere.example", k_t0, k_t0 + 900 * k_s, 0)->empty());
    EXPECT_TRUE(m_store->rule_counts(std::nullopt, k_t0 + 900 * k_s, k_t0, 0)->empty());
}

TEST_F(HistoryAggregates, VhostTotalsMatchTheEvents)
{
    for (const Window& w : k_windows) {
        auto got = m_store->vhost_totals(w.since, w.until);
        ASSERT_TRUE(got) << w.name << ": " << got.error();
        EXPECT_EQ(*got, expected_vhosts(w.since, w.until)) << w.name;
    }
    // By hand: minute 2 (120 s <= t < 180 s) holds events 18..25.
    auto minute = m_store->vhost_totals(k_t0 + 120 * k_s, k_t0 + 180 * k_s);
    ASSERT_TRUE(minute);
    ASSERT_EQ(minute->size(), 3U);
    // a.example: 18, 21, 24; intercepted: none; would block: 21 (inbound 10 on i % 4 == 1).
    EXPECT_EQ((*minute)[0], (VhostTotals{"a.example", 3, 3, 0, 1}));
    // b.example: 19, 22, 25; only 22 has a finding; 25 is intercepted.
    EXPECT_EQ((*minute)[1], (VhostTotals{"b.example", 3, 1, 1, 0}));
}

TEST_F(HistoryAggregates, TopListsMatchTheEvents)
{
    const HistoryList lists[] = {HistoryList::clients, HistoryList::paths, HistoryList::agents,
                                 HistoryList::targets};
    for (const Window& w : k_windows) {
        for (const HistoryList list : lists) {
            for (const auto& vhost :
                 {std::optional<std::string>(), std::optional<std::string>("c.example")}) {
                auto got = m_store->top(list, vhost, w.since, w.until, 0);
                ASSERT_TRUE(got) << w.name << ": " << got.error();
                EXPECT_EQ(*got, expected_top(list, vhost, w.since, w.until))
                    << w.name << ", list " << static_cast<int>(list) << ", vhost "
                    << vhost.value_or("(all)");
            }
        }
    }
    auto two = m_store->top(HistoryList::targets, std::nullopt, k_t0, k_t0 + 900 * k_s, 2);
    ASSERT_TRUE(two);
    // ARGS:q: 942100 on 35 even events plus 941100 on 24; ARGS:id: 942100 on 7 events.
    EXPECT_EQ(*two, (std::vector<TopRow>{{"ARGS:q", 59}, {"ARGS:id", 7}}));
    EXPECT_TRUE(m_store->top(HistoryList::clients, "nowhere", k_t0, k_t0 + k_s, 0)->empty());
}

TEST(HistoryTopExtremes, TimesAtEitherEndOfTheRangeAreCounted)
{
    // Times are whatever an import or datagram carried: the span of the stored times
    // (the choice of how top reads clients) must not overflow, and both ways count.
    test::TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t k_min = std::numeric_limits<std::int64_t>::min();
    const std::int64_t times[] = {k_min + 1, -5, 0, 7, k_max - 1};
    std::vector<StoredEvent> events;
    for (int i = 0; i < 5; ++i) {
        StoredEvent s = test::full_event(i);
        s.event.time_us = times[i];
        s.event.client = i == 2 ? "10.0.0.2" : "10.0.0.1";
        events.push_back(std::move(s));
    }
    ASSERT_TRUE(store->write_batch(events));
    struct Case {
        const char* name;
        std::int64_t since, until;
        std::vector<TopRow> expected;
    };
    const Case cases[] = {
        {"everything", k_min, k_max, {{"10.0.0.1", 4}, {"10.0.0.2", 1}}},
        {"around zero (a sliver of the span)", -5, 8, {{"10.0.0.1", 2}, {"10.0.0.2", 1}}},
        {"the oldest only", k_min, k_min + 2, {{"10.0.0.1", 1}}},
        {"from zero to the end (half the span)", 0, k_max, {{"10.0.0.1", 2}, {"10.0.0.2", 1}}},
    };
    for (const Case& c : cases) {
        auto got = store->top(HistoryList::clients, std::nullopt, c.since, c.until, 0);
        ASSERT_TRUE(got) << c.name << ": " << got.error();
        EXPECT_EQ(*got, c.expected) << c.name;
    }
}

TEST_F(HistoryAggregates, PrunedEventsLeaveTheCounts)
{
    // Prune the 21 oldest (t < 147 s): the counts of what is left match the rest. The
    // ten-second bucket of 140 s keeps its postings (the event at 147 s is in it), so
    // top clients, which counts the client postings over a wide window, must skip the
    // hit of the pruned event at 140 s.
    auto pruned = m_store->prune_step(k_t0 + 1000LL * 86'400 * k_s, 1, 0, 21);
    ASSERT_TRUE(pruned) << pruned.error();
    ASSERT_EQ(*pruned, 21U);
    m_events.erase(m_events.begin(), m_events.begin() + 21);
    const std::int64_t since = k_t0 - 3600 * k_s;
    const std::int64_t until = k_t0 + 3600 * k_s;
    EXPECT_EQ(*m_store->rule_counts(std::nullopt, since, until, 0),
              expected_rules(std::nullopt, since, until));
    EXPECT_EQ(*m_store->vhost_totals(since, until), expected_vhosts(since, until));
    for (const std::int64_t from : {since, k_t0 + 140 * k_s, k_t0 + 147 * k_s}) {
        EXPECT_EQ(*m_store->top(HistoryList::clients, std::nullopt, from, until, 0),
                  expected_top(HistoryList::clients, std::nullopt, from, until))
            << (from - k_t0) / k_s;
        // With a vhost, from the vhost's postings: those of the pruned events in the
        // bucket of 140 s join no event.
        for (const char* vhost : {"a.example", "b.example", "c.example"}) {
            EXPECT_EQ(*m_store->top(HistoryList::clients, std::string(vhost), from, until, 0),
                      expected_top(HistoryList::clients, std::string(vhost), from, until))
                << (from - k_t0) / k_s << " " << vhost;
        }
    }
}

// One batch whose per-minute counts have thousands of keys (the table write_batch sums
// them in grows several times), then a second batch into the same minutes (the table is
// reused: it must start empty and add to the stored rows).
TEST(HistoryMinutes, ManyMinutesInOneBatchAddUp)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db(), HistoryOptions{});
    ASSERT_TRUE(store) << store.error();
    constexpr int k_minutes = 3000;
    std::vector<StoredEvent> batch;
    for (int i = 0; i < k_minutes; ++i) {
        StoredEvent s = test::full_event(i);
        s.event.time_us = k_t0 + i * 60 * k_s + 5 * k_s;
        s.event.vhost = i % 2 == 0 ? "a.example" : "b.example";
        batch.push_back(std::move(s));
    }
    auto first = store->write_batch(batch);
    ASSERT_TRUE(first) << first.error();
    EXPECT_EQ(first->inserted, static_cast<std::size_t>(k_minutes));
    for (StoredEvent& s : batch) {
        s.event.unique_id += "-again";
    }
    auto second = store->write_batch(batch);
    ASSERT_TRUE(second) << second.error();
    EXPECT_EQ(second->inserted, static_cast<std::size_t>(k_minutes));

    // full_event: two rules with ids, inbound 15 over a threshold of 5 (would block).
    const std::uint64_t per_vhost = k_minutes; // half the minutes, twice each
    auto all = store->vhost_totals(k_t0, k_t0 + k_minutes * 60 * k_s);
    ASSERT_TRUE(all) << all.error();
    ASSERT_EQ(all->size(), 2U);
    EXPECT_EQ((*all)[0], (VhostTotals{"a.example", per_vhost, per_vhost, 0, per_vhost}));
    EXPECT_EQ((*all)[1], (VhostTotals{"b.example", per_vhost, per_vhost, 0, per_vhost}));
    auto minute = store->vhost_totals(k_t0 + 1001 * 60 * k_s, k_t0 + 1002 * 60 * k_s);
    ASSERT_TRUE(minute) << minute.error();
    ASSERT_EQ(minute->size(), 1U);
    EXPECT_EQ((*minute)[0], (VhostTotals{"b.example", 2, 2, 0, 2}));
    auto rules = store->rule_counts(std::nullopt, k_t0, k_t0 + k_minutes * 60 * k_s, 0);
    ASSERT_TRUE(rules) << rules.error();
    ASSERT_EQ(rules->size(), 2U);
    EXPECT_EQ((*rules)[0].hits, 2U * k_minutes);
    EXPECT_EQ((*rules)[1].hits, 2U * k_minutes);
    auto one_vhost = store->rule_counts("a.example", k_t0, k_t0 + 60 * k_s, 0);
    ASSERT_TRUE(one_vhost) << one_vhost.error();
    ASSERT_EQ(one_vhost->size(), 2U);
    EXPECT_EQ((*one_vhost)[0].hits, 2U);
}

// rule_where over a small store built by hand: where 942100 matched in [10 s, 100 s).
class HistoryRuleWhere : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto store = HistoryStore::open(m_dir.db());
        ASSERT_TRUE(store) << store.error();
        m_store.emplace(std::move(*store));
        std::vector<StoredEvent> events;
        int n = 0;
        // An event at `s` seconds on `vhost` with `path`, and findings (rule id, target).
        auto add = [&](int s, const char* vhost, const char* path,
                       std::vector<std::pair<const char*, const char*>> findings) {
            StoredEvent e = test::full_event(n++);
            e.event.time_us = k_t0 + s * k_s;
            e.event.vhost = vhost;
            e.event.path = path;
            e.event.findings.clear();
            for (const auto& [id, target] : findings) {
                Finding f;
                f.id = id;
                f.msg = "msg";
                f.target = target;
                e.event.findings.push_back(f);
            }
            events.push_back(std::move(e));
        };
        add(5, "a", "/old", {{"942100", "ARGS:old"}}); // before the window
        add(10, "a", "/a", {{"942100", "ARGS:q"}, {"941100", "ARGS:x"}});
        add(20, "a", "/a", {{"942100", "ARGS:q"}, {"942100", "ARGS:id"}}); // one hit, 2 targets
        add(30, "a", "/b", {{"942100", "ARGS:id"}});
        add(35, "b", "/a", {{"942100", "ARGS:q"}});        // another vhost
        add(40, "a", "/c", {{"941100", "ARGS:q"}});        // another rule only
        add(50, "a", "/b", {{"942100", ""}});              // no target: the path counts, no target
        add(100, "a", "/late", {{"942100", "ARGS:late"}}); // at the window's end: excluded
        // Two long paths that differ after 256 bytes, the cut inside a 2-byte character:
        // one key, as memory's lists count them.
        m_long = "/" + std::string(254, 'p') + "\xC3\xA9";
        add(60, "c", (m_long + "one").c_str(), {{"932100", "ARGS:q"}});
        add(61, "c", (m_long + "two").c_str(), {{"932100", "ARGS:q"}});
        events[4].source = "import:x";
        ASSERT_TRUE(m_store->write_batch(events));
    }

    Result<RuleWhere> where(const std::optional<std::string>& vhost, std::size_t limit = 8,
                            std::size_t max_hits = 0,
                            const std::optional<std::string>& source = std::nullopt,
                            const std::string& rule = "942100")
    {
        return m_store->rule_where(rule, vhost, k_t0 + 10 * k_s, k_t0 + 100 * k_s, limit, max_hits,
                                   source);
    }

    test::TempDir m_dir;
    std::optional<HistoryStore> m_store;
    std::string m_long;
};

TEST_F(HistoryRuleWhere, LongPathsAreCutAsInMemory)
{
    auto c = where("c", 8, 0, std::nullopt, "932100");
    ASSERT_TRUE(c) << c.error();
    ASSERT_EQ(c->paths.size(), 1U);
    EXPECT_EQ(c->paths[0].key, "/" + std::string(254, 'p')); // 255 bytes: not inside the é
    EXPECT_EQ(c->paths[0].count, 2U);
    EXPECT_EQ(c->paths[0].key, std::string(utf8_cut(m_long + "one", k_max_top_key_bytes)));
    auto top = m_store->top(HistoryList::paths, std::string("c"), k_t0, k_t0 + 100 * k_s, 8);
    ASSERT_TRUE(top) << top.error();
    EXPECT_EQ(*top, (std::vector<TopRow>{{"/" + std::string(254, 'p'), 2}}));
}

TEST_F(HistoryRuleWhere, CountsTheRulesHitsInTheWindow)
{
    auto a = where("a");
    ASSERT_TRUE(a) << a.error();
    // Ties by key: /a and /b 2 each; ARGS:id and ARGS:q 2 each.
    EXPECT_EQ(a->paths, (std::vector<TopRow>{{"/a", 2}, {"/b", 2}}));
    EXPECT_EQ(a->targets, (std::vector<TopRow>{{"ARGS:id", 2}, {"ARGS:q", 2}}));
    // Per finding: /a had ARGS:q twice and ARGS:id once, /b ARGS:id once (and one finding
    // without a target); ties by path, then target.
    EXPECT_EQ(a->pairs, (std::vector<PathTarget>{
                            {"/a", "ARGS:q", 2}, {"/a", "ARGS:id", 1}, {"/b", "ARGS:id", 1}}));
    EXPECT_FALSE(a->counted_since_us);
    auto all = where(std::nullopt);
    ASSERT_TRUE(all) << all.error();
    EXPECT_EQ(all->paths, (std::vector<TopRow>{{"/a", 3}, {"/b", 2}}));
    EXPECT_EQ(all->targets, (std::vector<TopRow>{{"ARGS:q", 3}, {"ARGS:id", 2}}));
    auto other = where("a", 8, 0, std::nullopt, "941100");
    ASSERT_TRUE(other) << other.error();
    EXPECT_EQ(other->paths, (std::vector<TopRow>{{"/a", 1}, {"/c", 1}}));
    EXPECT_EQ(other->targets, (std::vector<TopRow>{{"ARGS:q", 1}, {"ARGS:x", 1}}));
}

TEST_F(HistoryRuleWhere, LimitsKeepTheFirstByCountThenKey)
{
    auto one = where("a", 1);
    ASSERT_TRUE(one) << one.error();
    EXPECT_EQ(one->paths, (std::vector<TopRow>{{"/a", 2}}));
    EXPECT_EQ(one->targets, (std::vector<TopRow>{{"ARGS:id", 2}}));
    EXPECT_EQ(one->pairs, (std::vector<PathTarget>{{"/a", "ARGS:q", 2}})); // 1 × 1
    auto two = where("a", 2);
    ASSERT_TRUE(two) << two.error();
    EXPECT_EQ(two->pairs.size(), 3U); // up to 2 × 2
    // At most 3 hits read, newest first (50, 30, 20 s): the lists say from when.
    auto newest = where("a", 8, 3);
    ASSERT_TRUE(newest) << newest.error();
    EXPECT_EQ(newest->paths, (std::vector<TopRow>{{"/b", 2}, {"/a", 1}}));
    EXPECT_EQ(newest->targets, (std::vector<TopRow>{{"ARGS:id", 2}, {"ARGS:q", 1}}));
    EXPECT_EQ(newest->pairs, (std::vector<PathTarget>{
                                 {"/a", "ARGS:id", 1}, {"/a", "ARGS:q", 1}, {"/b", "ARGS:id", 1}}));
    EXPECT_EQ(newest->counted_since_us, k_t0 + 20 * k_s);
    // Exactly max_hits hits in the window: all counted, nothing cut.
    auto exact = where("a", 8, 4);
    ASSERT_TRUE(exact) << exact.error();
    EXPECT_EQ(exact->paths, (std::vector<TopRow>{{"/a", 2}, {"/b", 2}}));
    EXPECT_FALSE(exact->counted_since_us);
}

TEST_F(HistoryRuleWhere, FiltersAndUnknownNamesMatchNothing)
{
    auto imported = where(std::nullopt, 8, 0, "import:x");
    ASSERT_TRUE(imported) << imported.error();
    EXPECT_EQ(imported->paths, (std::vector<TopRow>{{"/a", 1}}));
    EXPECT_EQ(imported->targets, (std::vector<TopRow>{{"ARGS:q", 1}}));
    for (auto got : {where("nowhere"), where(std::nullopt, 8, 0, "import:none"),
                     where(std::nullopt, 8, 0, std::nullopt, "999999"),
                     where(std::nullopt, 8, 0, std::nullopt, "")}) {
        ASSERT_TRUE(got) << got.error();
        EXPECT_EQ(*got, RuleWhere{});
    }
    auto empty =
        m_store->rule_where("942100", std::nullopt, k_t0 + 60 * k_s, k_t0 + 60 * k_s, 8, 0);
    ASSERT_TRUE(empty) << empty.error();
    EXPECT_EQ(*empty, RuleWhere{});
}

} // namespace
} // namespace mso
