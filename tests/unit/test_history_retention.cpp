// store/history_retention.cpp: pruning by age and by size, a bounded number of rows per
// step, oldest first, with the rule index and the per-minute counts kept consistent.
#include "store/history_store.h"

#include "store/rule_postings.h"
#include "store/sqlite_db.h"
#include "store_test_events.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <span>

namespace mso {
namespace {

using test::full_event;
using test::k_t0;
using test::TempDir;

constexpr std::int64_t k_day_us = 86'400'000'000;
constexpr std::int64_t k_s = 1'000'000;

// Every client posting row: those moved to client_postings and those still held in
// client_postings_recent (schema version 7).
const std::string k_client_rows = "(SELECT client_id, bucket FROM client_postings UNION ALL "
                                  "SELECT client_id, bucket FROM client_postings_recent)";

// `n` events, one per hour from k_t0.
HistoryStore filled(const TempDir& dir, int n)
{
    auto store = HistoryStore::open(dir.db());
    EXPECT_TRUE(store) << store.error();
    std::vector<StoredEvent> events;
    for (int i = 0; i < n; ++i) {
        StoredEvent e = full_event(i);
        e.event.time_us = k_t0 + i * 3'600'000'000LL;
        events.push_back(std::move(e));
    }
    EXPECT_TRUE(store->write_batch(events));
    return std::move(*store);
}

constexpr auto count = test::sql_integer;

TEST(HistoryRetention, ByAgeInBoundedSteps)
{
    struct Case {
        const char* name;
        std::int64_t days;
        std::size_t step;
        std::int64_t left;
    };
    // 96 hourly events over 4 days; now = the last event's time.
    const Case cases[] = {
        {"keep 1 day", 1, 10, 25}, // the last 24 hours and the event at exactly now - 1 d
        {"keep 2 days", 2, 7, 49},
        {"keep 10 days", 10, 10, 96},
        {"no age limit", 0, 10, 96},
    };
    for (const Case& c : cases) {
        TempDir dir;
        HistoryStore store = filled(dir, 96);
        const std::int64_t now = k_t0 + 95 * 3'600'000'000LL;
        std::size_t steps = 0;
        for (;;) {
            auto n = store.prune_step(now, c.days, 0, c.step);
            ASSERT_TRUE(n) << n.error();
            EXPECT_LE(*n, c.step);
            if (*n == 0) {
                break;
            }
            ++steps;
        }
        EXPECT_EQ(*store.event_count(), c.left) << c.name;
        EXPECT_EQ(steps, (96 - static_cast<std::size_t>(c.left) + c.step - 1) / c.step) << c.name;
        // The oldest went; the rule index and the minutes lost exactly their share.
        HistoryQuery q;
        q.limit = 1000;
        auto page = store.search(q);
        ASSERT_TRUE(page);
        ASSERT_EQ(page->events.size(), static_cast<std::size_t>(c.left));
        if (c.days > 0) {
            EXPECT_GE(page->events.back().event.time_us, now - c.days * k_day_us) << c.name;
        }
        // Every stored event keeps its two rules' postings; no posting is left whose
        // bucket is older than the oldest event's.
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM strings s, mso_rule_hits(s.id) r "
                                  "JOIN events e ON e.id = r.event_id AND e.time_us = r.time_us"),
                  2 * c.left)
            << c.name;
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM rule_postings WHERE bucket < "
                                  "(SELECT min(time_us) / 10000000 FROM events)"),
                  0)
            << c.name;
        // The same for the client postings: each step here prunes hours, so each sweeps.
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM strings s, mso_client_hits(s.id) r "
                                  "JOIN events e ON e.id = r.event_id AND e.time_us = r.time_us"),
                  c.left)
            << c.name;
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM " + k_client_rows +
                                      " WHERE bucket < "
                                      "(SELECT min(time_us) / 10000000 FROM events)"),
                  0)
            << c.name;
        // And for the vhost postings, swept with the clients'.
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM strings s, mso_vhost_hits(s.id) r "
                                  "JOIN events e ON e.id = r.event_id AND e.time_us = r.time_us"),
                  c.left)
            << c.name;
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM vhost_postings WHERE bucket < "
                                  "(SELECT min(time_us) / 10000000 FROM events)"),
                  0)
            << c.name;
        EXPECT_EQ(count(dir.db(), "SELECT coalesce(sum(events), 0) FROM minutes WHERE rule_id = "
                                  "0 AND vhost_id = -1"),
                  c.left)
            << c.name;
        EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM minutes WHERE events <= 0"), 0);
        q.rule = "942110";
        EXPECT_EQ(store.search(q)->events.size(), static_cast<std::size_t>(c.left)) << c.name;
    }
}

// source_totals (schema version 2) equal a count of the events by source after every
// step, and a source whose last event goes loses its row.
TEST(HistoryRetention, KeepsTheSourceTotals)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    // 60 events an hour apart: the first 20 from "import:old" only, then both sources.
    std::vector<StoredEvent> events;
    for (int i = 0; i < 60; ++i) {
        StoredEvent e = full_event(i);
        e.event.time_us = k_t0 + i * 3'600'000'000LL;
        e.source = i < 20 || i % 3 == 0 ? "import:old" : "module";
        events.push_back(std::move(e));
    }
    ASSERT_TRUE(store->write_batch(events));
    const std::string by_scan = "SELECT group_concat(source_id || ':' || n || ':' || t) FROM "
                                "(SELECT source_id, count(*) AS n, max(time_us) AS t FROM "
                                "events GROUP BY source_id ORDER BY source_id)";
    auto totals = [&] {
        auto db = Db::open(dir.db(), false);
        auto s = Stmt::prepare(*db, "SELECT group_concat(source_id || ':' || events || ':' || "
                                    "last_time_us) FROM (SELECT * FROM source_totals ORDER BY "
                                    "source_id)");
        EXPECT_TRUE(s && *s->step());
        return std::string(s->text(0));
    };
    auto scanned = [&] {
        auto db = Db::open(dir.db(), false);
        auto s = Stmt::prepare(*db, by_scan);
        EXPECT_TRUE(s && *s->step());
        return std::string(s->text(0));
    };
    auto counts = store->source_counts();
    ASSERT_TRUE(counts) << counts.error();
    ASSERT_EQ(counts->size(), 2u);
    EXPECT_EQ((*counts)[0], (SourceCount{"import:old", 20 + 13, k_t0 + 57 * 3'600'000'000LL}));
    EXPECT_EQ((*counts)[1], (SourceCount{"module", 27, k_t0 + 59 * 3'600'000'000LL}));
    const std::int64_t now = k_t0 + 59 * 3'600'000'000LL;
    for (std::int64_t days : {2, 1}) {
        for (;;) {
            auto n = store->prune_step(now, days, 0, 7);
            ASSERT_TRUE(n) << n.error();
            EXPECT_EQ(totals(), scanned()) << days;
            if (*n == 0) {
                break;
            }
        }
    }
    // One day left (25 events): hours 35..59, both sources still there.
    counts = store->source_counts();
    ASSERT_EQ(counts->size(), 2u);
    EXPECT_EQ((*counts)[0].events + (*counts)[1].events, 25u);
    EXPECT_EQ((*counts)[1].last_event_us, now);
    // A day before hour 82 keeps hours 58 and 59, both "module": "import:old" (last at
    // hour 57) loses its row.
    for (;;) {
        auto n = store->prune_step(k_t0 + 82 * 3'600'000'000LL, 1, 0, 7);
        ASSERT_TRUE(n) << n.error();
        if (*n == 0) {
            break;
        }
    }
    EXPECT_EQ(totals(), scanned());
    counts = store->source_counts();
    ASSERT_EQ(counts->size(), 1u);
    EXPECT_EQ((*counts)[0], (SourceCount{"module", 2, now}));
}

TEST(HistoryRetention, BySizeUntilUnderTheLimit)
{
    TempDir dir;
    HistoryStore store = filled(dir, 3000);
    const auto before = store.size();
    ASSERT_TRUE(before);
    const std::int64_t limit = before->used_bytes() / 2;
    std::size_t deleted = 0;
    for (int steps = 0; steps < 1000; ++steps) {
        auto n = store.prune_step(k_t0, 0, limit, 100);
        ASSERT_TRUE(n) << n.error();
        EXPECT_LE(*n, 100U);
        if (*n == 0) {
            break;
        }
        deleted += *n;
    }
    const auto after = store.size();
    ASSERT_TRUE(after);
    EXPECT_LE(after->used_bytes(), limit);
    EXPECT_GT(deleted, 1000U);
    EXPECT_LT(deleted, 2500U);
    // Free pages went back to the file system (auto_vacuum = INCREMENTAL).
    EXPECT_LT(after->file_bytes(), before->file_bytes());
    // The newest stayed.
    EXPECT_TRUE(store.find(full_event(2999).event.unique_id)->has_value());
    EXPECT_FALSE(store.find(full_event(0).event.unique_id)->has_value());
}

// The writer's steps are large (2,000 rows): a step deletes what the excess is worth at
// the mean event size, not its whole allowance, so a small limit keeps what fits
// (deleting does not free index pages other events share, so asking for max_rows at
// once emptied the store).
TEST(HistoryRetention, BySizeInLargeStepsKeepsWhatFits)
{
    TempDir dir;
    HistoryStore store = filled(dir, 3000);
    const auto before = store.size();
    ASSERT_TRUE(before);
    const std::int64_t limit = before->used_bytes() / 6; // room for ~500 events
    std::size_t deleted = 0;
    for (int steps = 0; steps < 100; ++steps) {
        auto n = store.prune_step(k_t0, 0, limit, 2000);
        ASSERT_TRUE(n) << n.error();
        if (*n == 0) {
            break;
        }
        deleted += *n;
    }
    const auto after = store.size();
    ASSERT_TRUE(after);
    EXPECT_LE(after->used_bytes(), limit);
    EXPECT_GE(deleted, 2500U);
    EXPECT_LE(deleted, 2900U) << "kept fewer than 100 of the ~500 events that fit";
    EXPECT_TRUE(store.find(full_event(2999).event.unique_id)->has_value());
}

// When the last event goes, every posting goes: SQLite numbers the next event 1 again,
// and an old posting of event 1 at the same time would otherwise show it twice (or show
// a rule it never matched).
TEST(HistoryRetention, AnEmptyStoreKeepsNoPosting)
{
    TempDir dir;
    HistoryStore store = filled(dir, 10);
    std::size_t pruned = 0;
    for (int step = 0; step < 10; ++step) {
        auto n = store.prune_step(k_t0 + 100 * k_day_us, 1, 0, 3);
        ASSERT_TRUE(n) << n.error();
        pruned += *n;
    }
    EXPECT_EQ(pruned, 10U);
    EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM rule_postings"), 0);
    EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM " + k_client_rows), 0);
    EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM vhost_postings"), 0);
    std::vector<StoredEvent> again{full_event(0)};
    again[0].event.time_us = k_t0; // the time and (reused) id of the first pruned event
    again[0].event.unique_id = "new";
    again[0].event.findings.resize(1);
    ASSERT_TRUE(store.write_batch(again));
    for (const char* rule : {"942100", "942110"}) {
        HistoryQuery q;
        q.rule = rule;
        auto page = store.search(q);
        ASSERT_TRUE(page) << page.error();
        EXPECT_EQ(page->events.size(), std::string(rule) == "942100" ? 1U : 0U) << rule;
    }
    const std::pair<std::optional<std::string> HistoryQuery::*, std::string> filters[] = {
        {&HistoryQuery::client, again[0].event.client},
        {&HistoryQuery::vhost, again[0].event.vhost}};
    for (const auto& [filter, value] : filters) {
        HistoryQuery q;
        q.*filter = value;
        auto page = store.search(q);
        ASSERT_TRUE(page) << page.error();
        ASSERT_EQ(page->events.size(), 1U);
        EXPECT_EQ(page->events[0].event.unique_id, "new");
    }
}

// client_postings has no index on its bucket: retention sweeps it once the oldest event
// has moved an hour (360 buckets) since the last sweep. Until then the postings of pruned
// events stay, and neither a client search nor top clients shows them. vhost_postings
// (no bucket index either) is swept at every step.
TEST(HistoryRetention, SweepsClientPostingsHourlyAndVhostPostingsEachStep)
{
    TempDir dir;
    // Three batches of 960 client posting rows: the second moves the first two's to
    // client_postings, the third's stay in client_postings_recent; retention sweeps both.
    HistoryOptions options;
    options.recent_client_rows = 1500;
    auto store = HistoryStore::open(dir.db(), options);
    ASSERT_TRUE(store) << store.error();
    // 7,200 events a second apart (two hours), from four clients in turn, to two vhosts.
    constexpr std::int64_t k_events = 7200;
    std::vector<StoredEvent> events;
    for (int i = 0; i < k_events; ++i) {
        StoredEvent e = full_event(i);
        e.event.time_us = k_t0 + i * 1'000'000LL;
        e.event.client = "10.1.0." + std::to_string(i % 4);
        e.event.vhost = "v" + std::to_string(i % 2) + ".test";
        events.push_back(std::move(e));
    }
    const std::span<const StoredEvent> all(events);
    for (std::size_t i = 0; i < all.size(); i += 2400) {
        ASSERT_TRUE(store->write_batch(all.subspan(i, 2400)));
    }
    ASSERT_EQ(count(dir.db(), "SELECT count(*) FROM client_postings_recent"), 960);
    const std::string stale = "SELECT count(*) FROM " + k_client_rows +
                              " WHERE bucket < (SELECT "
                              "min(time_us) / 10000000 FROM events)";
    const std::string stale_vhost = "SELECT count(*) FROM vhost_postings WHERE bucket < (SELECT "
                                    "min(time_us) / 10000000 FROM events)";
    auto check = [&](const char* when, std::int64_t oldest_s) {
        const std::int64_t left = k_events - oldest_s;
        EXPECT_EQ(*store->event_count(), left) << when;
        for (int c = 0; c < 4; ++c) {
            HistoryQuery q;
            q.client = "10.1.0." + std::to_string(c);
            q.limit = 10000;
            auto page = store->search(q);
            ASSERT_TRUE(page) << page.error();
            EXPECT_EQ(page->events.size(), static_cast<std::size_t>((left + 3 - c) / 4))
                << when << ", client " << c;
        }
        for (int v = 0; v < 2; ++v) {
            HistoryQuery q;
            q.vhost = "v" + std::to_string(v) + ".test";
            q.limit = 10000;
            auto page = store->search(q);
            ASSERT_TRUE(page) << page.error();
            EXPECT_EQ(page->events.size(), static_cast<std::size_t>((left + 1 - v) / 2))
                << when << ", vhost " << v;
        }
        auto top =
            store->top(HistoryList::clients, std::nullopt, k_t0, k_t0 + k_events * 1'000'000, 0);
        ASSERT_TRUE(top) << top.error();
        std::uint64_t counted = 0;
        for (const TopRow& r : *top) {
            counted += r.count;
        }
        EXPECT_EQ(counted, static_cast<std::uint64_t>(left)) << when;
    };
    // By age, 60 events per step: the first step sweeps (the first since the store opened),
    // the next ones keep the pruned events' postings until the oldest event is an hour
    // past that sweep.
    auto prune_until = [&](std::int64_t oldest_s) {
        while (*store->event_count() > k_events - oldest_s) {
            auto n = store->prune_step(k_t0 + oldest_s * 1'000'000LL + k_day_us, 1, 0, 60);
            ASSERT_TRUE(n) << n.error();
            ASSERT_GT(*n, 0U);
        }
    };
    prune_until(60);
    EXPECT_EQ(count(dir.db(), stale), 0);
    EXPECT_EQ(count(dir.db(), stale_vhost), 0);
    check("first step", 60);
    prune_until(3600); // oldest at bucket 360, 354 buckets after the sweep at bucket 6
    EXPECT_EQ(count(dir.db(), stale), 354 * 4);
    EXPECT_EQ(count(dir.db(), stale_vhost), 0);
    check("before the next sweep", 3600);
    prune_until(3660); // bucket 366: 360 after the sweep
    EXPECT_EQ(count(dir.db(), stale), 0);
    EXPECT_EQ(count(dir.db(), stale_vhost), 0);
    check("after the next sweep", 3660);
}

StoredEvent client_event(int n, std::int64_t time_us, const std::string& client)
{
    StoredEvent e = full_event(n);
    e.event.time_us = time_us;
    e.event.client = client;
    return e;
}

std::map<std::string, std::uint64_t> top_clients(HistoryStore& store, std::int64_t since,
                                                 std::int64_t until)
{
    auto top = store.top(HistoryList::clients, std::nullopt, since, until, 0);
    EXPECT_TRUE(top) << top.error();
    std::map<std::string, std::uint64_t> out;
    for (const auto& r : top.value()) {
        out[r.key] = r.count;
    }
    return out;
}

// E0 (10.9.9.9) at 1000 s and E1 (10.0.0.1) at 2000 s, E0 pruned (the first step since
// the store opened sweeps), then X (10.6.6.6, id 3) at `x_s` written and pruned at once:
// no sweep (the oldest event has not moved an hour), so X's client posting stays.
HistoryStore with_a_stale_posting(const TempDir& dir, std::int64_t x_s)
{
    auto store = HistoryStore::open(dir.db());
    EXPECT_TRUE(store) << store.error();
    EXPECT_TRUE(store->write_batch(
        std::vector<StoredEvent>{client_event(0, k_t0 + 1000 * k_s, "10.9.9.9"),
                                 client_event(1, k_t0 + 2000 * k_s, "10.0.0.1")}));
    EXPECT_EQ(*store->prune_step(k_t0 + 1500 * k_s + k_day_us, 1, 0, 10), 1U);
    EXPECT_TRUE(store->write_batch(
        std::vector<StoredEvent>{client_event(2, k_t0 + x_s * k_s, "10.6.6.6")}));
    EXPECT_EQ(*store->prune_step(k_t0 + (x_s + 5) * k_s + k_day_us, 1, 0, 10), 1U);
    EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM " + k_client_rows), 2) << "X's posting kept";
    return std::move(*store);
}

// The client postings of a pruned event, not swept yet, and a newer event at the same
// time: SQLite would give it the pruned event's id again (the largest; an old-timed event
// written last), and the posting would join it. A --client search of the pruned event's
// client must not show it (found by review), nor top clients count it: the writer numbers
// events above every id deleted, and the search checks the client on the event too.
TEST(HistoryRetention, AStalePostingOfAReusedIdShowsNoOtherClient)
{
    TempDir dir;
    std::optional<HistoryStore> store = with_a_stale_posting(dir, 1000);
    const std::int64_t t = k_t0;
    // Y at X's time: SQLite would give it X's id (the largest); the writer numbers it above.
    ASSERT_TRUE(
        store->write_batch(std::vector<StoredEvent>{client_event(3, t + 1000 * k_s, "10.7.7.7")}));
    EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM events WHERE id = 3"), 0);
    HistoryQuery q;
    q.client = "10.6.6.6";
    auto page = store->search(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_TRUE(page->events.empty());
    q.client = "10.7.7.7";
    page = store->search(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_EQ(page->events.size(), 1U);
    const auto top = top_clients(*store, t, t + 3000 * k_s);
    EXPECT_EQ(top, (std::map<std::string, std::uint64_t>{{"10.0.0.1", 1}, {"10.7.7.7", 1}}));
}

// An event older than the pruned ones arrives after them (late, spooled, imported): the
// unswept postings of the pruned events lie after it, so top clients cannot count from the
// oldest event; it counts after the retention frontier, or (an event before the frontier
// being stored) from the events themselves (found by review).
TEST(HistoryRetention, TopClientsCountsNoPrunedEventAfterALateOne)
{
    TempDir dir;
    std::optional<HistoryStore> store = with_a_stale_posting(dir, 1990);
    const std::int64_t t = k_t0;
    // Nothing before the frontier: counted from the postings after it.
    EXPECT_EQ(top_clients(*store, t, t + 3000 * k_s),
              (std::map<std::string, std::uint64_t>{{"10.0.0.1", 1}}));
    // The late event, before the frontier (1990 s): counted from the events.
    ASSERT_TRUE(
        store->write_batch(std::vector<StoredEvent>{client_event(3, t + 1000 * k_s, "10.7.7.7")}));
    EXPECT_EQ(top_clients(*store, t, t + 3000 * k_s),
              (std::map<std::string, std::uint64_t>{{"10.0.0.1", 1}, {"10.7.7.7", 1}}));
    // Once the store is empty, no frontier is left: a new event is counted from the postings.
    ASSERT_EQ(*store->prune_step(t + 3000 * k_s + k_day_us, 1, 0, 10), 2U);
    EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM retention_frontier"), 0);
    ASSERT_TRUE(
        store->write_batch(std::vector<StoredEvent>{client_event(4, t + 500 * k_s, "10.5.5.5")}));
    EXPECT_EQ(top_clients(*store, t, t + 3000 * k_s),
              (std::map<std::string, std::uint64_t>{{"10.5.5.5", 1}}));
}

// Event ids are never given again while the store holds events: SQLite's own choice (the
// largest id + 1) gave a pruned event's id to the next event when the pruned one had the
// largest (an old-timed event written last), and the rule postings of the pruned event,
// kept while their bucket holds other events, then joined the new one: a --rule search,
// the rule's time series and rule_where showed an event without the rule (found by
// review; so since schema version 3).
TEST(HistoryRetention, APrunedEventsIdIsNotGivenAgain)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    const std::int64_t t = k_t0;
    auto with_rule = [&](int n, std::int64_t time_s, const char* client, const char* rule) {
        StoredEvent e = client_event(n, t + time_s * k_s, client);
        e.event.findings.resize(1);
        e.event.findings[0].id = rule;
        return std::vector<StoredEvent>{std::move(e)};
    };
    ASSERT_TRUE(store->write_batch(with_rule(0, 2005, "10.0.0.1", "111111")));
    ASSERT_TRUE(store->write_batch(with_rule(1, 2001, "10.6.6.6", "999999"))); // id 2
    // X (2001 s, the largest id) pruned alone; the event at 2005 s keeps bucket 200.
    ASSERT_EQ(*store->prune_step(t + 2003 * k_s + k_day_us, 1, 0, 10), 1U);
    ASSERT_TRUE(store->write_batch(with_rule(2, 2001, "10.7.7.7", "111111")));
    EXPECT_EQ(count(dir.db(), "SELECT max(id) FROM events"), 3); // not X's 2
    HistoryQuery q;
    q.rule = "999999";
    auto page = store->search(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_TRUE(page->events.empty());
    auto series = store->timeseries(std::nullopt, std::string("999999"), t, t + 3000 * k_s + 1, 10);
    ASSERT_TRUE(series) << series.error();
    EXPECT_TRUE(series->empty());
    auto where = store->rule_where("999999", std::nullopt, t, t + 3000 * k_s, 10, 100);
    ASSERT_TRUE(where) << where.error();
    EXPECT_TRUE(where->paths.empty());
    q.rule = "111111";
    page = store->search(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_EQ(page->events.size(), 2U);
    // Once the store is empty, numbering starts again (no posting is left either).
    ASSERT_EQ(*store->prune_step(t + 3000 * k_s + k_day_us, 1, 0, 10), 2U);
    ASSERT_TRUE(store->write_batch(with_rule(3, 2001, "10.8.8.8", "111111")));
    EXPECT_EQ(count(dir.db(), "SELECT max(id) FROM events"), 1);
}

TEST(HistoryRetention, NothingToDo)
{
    TempDir dir;
    HistoryStore store = filled(dir, 10);
    EXPECT_EQ(*store.prune_step(k_t0, 0, 0, 100), 0U);
    EXPECT_EQ(*store.prune_step(k_t0, 30, 1LL << 40, 100), 0U);
    EXPECT_EQ(*store.prune_step(k_t0 + 100 * k_day_us, 30, 0, 0), 0U);
    EXPECT_EQ(*store.event_count(), 10);
}

} // namespace
} // namespace mso
