// store/history_search.cpp: every search filter alone and combined, paging with the
// cursor, and time series from per-minute counts and from events.
#include "store/history_store.h"
#include "store/sqlite_db.h"

#include "store_test_events.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <span>

namespace mso {
namespace {

using test::k_t0;
using test::TempDir;

// 40 events whose fields cycle with different periods, so every filter selects a
// different subset; events 20..23 share one time (the cursor must break the tie).
std::vector<StoredEvent> corpus()
{
    std::vector<StoredEvent> out;
    for (int i = 0; i < 40; ++i) {
        StoredEvent s = test::full_event(i);
        RequestEvent& e = s.event;
        e.time_us = k_t0 + (i >= 20 && i <= 23 ? 20 : i) * 10'000'000LL;
        e.vhost = i % 2 == 0 ? "a.example" : "b.example";
        e.client = "10.0.0." + std::to_string(i % 4);
        e.path = i % 3 == 0 ? "/admin/x" : "/shop/y";
        e.status = i % 5 == 0 ? 403 : 200;
        e.intercepted = i % 5 == 0;
        e.scores->inbound = i % 5 == 1 ? 10 : 0;
        e.scores->outbound = 0;
        s.engine_mode = static_cast<EngineMode>(i % 3);
        s.source = i < 30 ? "module" : "import:x";
        e.findings.clear();
        e.findings_dropped = 0;
        if (i % 2 == 0) {
            Finding f;
            f.id = "942100";
            f.msg = "SQL Injection Attack Detected via libinjection";
            f.data = "payload-" + std::to_string(i);
            e.findings.push_back(f);
        }
        if (i % 3 == 0) {
            Finding f;
            f.id = "941100";
            f.msg = "XSS Attack Detected via libinjection";
            f.data = "needle";
            e.findings.push_back(f);
        }
        out.push_back(std::move(s));
    }
    return out;
}

bool has_rule(const StoredEvent& s, const std::string& id)
{
    return std::any_of(s.event.findings.begin(), s.event.findings.end(),
                       [&](const Finding& f) { return f.id == id; });
}

class HistorySearch : public ::testing::Test {
protected:
    void SetUp() override
    {
        // Four batches of ten; the third moves the client postings held so far (30 rows,
        // one per client and bucket) to client_postings, the fourth's stay in
        // client_postings_recent: a client's search reads both tables.
        HistoryOptions options;
        options.recent_client_rows = 25;
        auto store = HistoryStore::open(m_dir.db(), options);
        ASSERT_TRUE(store) << store.error();
        m_store.emplace(std::move(*store));
        m_events = corpus();
        const std::span<const StoredEvent> all(m_events);
        for (std::size_t i = 0; i < all.size(); i += 10) {
            ASSERT_TRUE(m_store->write_batch(all.subspan(i, 10)));
        }
        ASSERT_EQ(test::sql_integer(m_dir.db(), "SELECT count(*) FROM client_postings"), 30);
        ASSERT_EQ(test::sql_integer(m_dir.db(), "SELECT count(*) FROM client_postings_recent"), 10);
    }

    // The unique ids a search should return: newest first, later insert first on a tie.
    std::vector<std::string> expected(const std::function<bool(const StoredEvent&)>& keep) const
    {
        std::vector<std::size_t> order;
        for (std::size_t i = 0; i < m_events.size(); ++i) {
            if (keep(m_events[i])) {
                order.push_back(i);
            }
        }
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            const auto ta = m_events[a].event.time_us;
            const auto tb = m_events[b].event.time_us;
            return ta != tb ? ta > tb : a > b;
        });
        std::vector<std::string> ids;
        for (const std::size_t i : order) {
            ids.push_back(m_events[i].event.unique_id);
        }
        return ids;
    }

    // Every page of `query`, `limit` at a time, concatenated.
    std::vector<std::string> all_pages(HistoryQuery query, std::size_t limit)
    {
        query.limit = limit;
        std::vector<std::string> ids;
        for (int pages = 0; pages < 100; ++pages) {
            auto page = m_store->search(query);
            EXPECT_TRUE(page) << page.error();
            if (!page) {
                break;
            }
            EXPECT_LE(page->events.size(), limit);
            for (const auto& e : page->events) {
                ids.push_back(e.event.unique_id);
            }
            if (!page->next) {
                break;
            }
            query.after = page->next;
        }
        return ids;
    }

    TempDir m_dir;
    std::optional<HistoryStore> m_store;
    std::vector<StoredEvent> m_events;
};

TEST_F(HistorySearch, EachFilterAloneAndCombined)
{
    using Keep = std::function<bool(const StoredEvent&)>;
    struct Case {
        const char* name;
        std::function<void(HistoryQuery&)> set;
        Keep keep;
    };
    const auto t = [](int i) { return k_t0 + i * 10'000'000LL; };
    const std::vector<Case> cases = {
        {"none", [](HistoryQuery&) {}, [](const StoredEvent&) { return true; }},
        {"vhost", [](HistoryQuery& q) { q.vhost = "b.example"; },
         [](const StoredEvent& s) { return s.event.vhost == "b.example"; }},
        {"unknown vhost", [](HistoryQuery& q) { q.vhost = "nowhere"; },
         [](const StoredEvent&) { return false; }},
        {"rule", [](HistoryQuery& q) { q.rule = "941100"; },
         [](const StoredEvent& s) { return has_rule(s, "941100"); }},
        {"client", [](HistoryQuery& q) { q.client = "10.0.0.3"; },
         [](const StoredEvent& s) { return s.event.client == "10.0.0.3"; }},
        {"path prefix", [](HistoryQuery& q) { q.path_prefix = "/adm"; },
         [](const StoredEvent& s) { return s.event.path.starts_with("/adm"); }},
        {"path prefix, whole path", [](HistoryQuery& q) { q.path_prefix = "/shop/y"; },
         [](const StoredEvent& s) { return s.event.path == "/shop/y"; }},
        {"status", [](HistoryQuery& q) { q.status = 403; },
         [](const StoredEvent& s) { return s.event.status == 403; }},
        {"intercepted", [](HistoryQuery& q) { q.intercepted = true; },
         [](const StoredEvent& s) { return s.event.intercepted; }},
        {"not intercepted", [](HistoryQuery& q) { q.intercepted = false; },
         [](const StoredEvent& s) { return !s.event.intercepted; }},
        {"would block", [](HistoryQuery& q) { q.would_block = true; },
         [](const StoredEvent& s) { return verdict_of(s.event) == Verdict::would_block; }},
        {"would not block", [](HistoryQuery& q) { q.would_block = false; },
         [](const StoredEvent& s) { return verdict_of(s.event) != Verdict::would_block; }},
        {"engine mode", [](HistoryQuery& q) { q.engine_mode = EngineMode::detection_only; },
         [](const StoredEvent& s) { return s.engine_mode == EngineMode::detection_only; }},
        {"source", [](HistoryQuery& q) { q.source = "import:x"; },
         [](const StoredEvent& s) { return s.source == "import:x"; }},
        {"since", [&](HistoryQuery& q) { q.since_us = t(20); },
         [&](const StoredEvent& s) { return s.event.time_us >= t(20); }},
        {"until", [&](HistoryQuery& q) { q.until_us = t(20); },
         [&](const StoredEvent& s) { return s.event.time_us < t(20); }},
        {"grep in data", [](HistoryQuery& q) { q.grep = "payload-1"; },
         [](const StoredEvent& s) {
             return std::any_of(s.event.findings.begin(), s.event.findings.end(),
                                [](const Finding& f) { return f.data.starts_with("payload-1"); });
         }},
        {"grep in msg", [](HistoryQuery& q) { q.grep = "XSS"; },
         [](const StoredEvent& s) { return has_rule(s, "941100"); }},
        {"grep nowhere", [](HistoryQuery& q) { q.grep = "absent"; },
         [](const StoredEvent&) { return false; }},
        {"rule + vhost + since",
         [&](HistoryQuery& q) {
             q.rule = "942100";
             q.vhost = "a.example";
             q.since_us = t(10);
         },
         [&](const StoredEvent& s) {
             return has_rule(s, "942100") && s.event.vhost == "a.example" &&
                    s.event.time_us >= t(10);
         }},
        {"client + status + source",
         [](HistoryQuery& q) {
             q.client = "10.0.0.0";
             q.status = 403;
             q.source = "module";
         },
         [](const StoredEvent& s) {
             return s.event.client == "10.0.0.0" && s.event.status == 403 && s.source == "module";
         }},
        {"client + vhost + since (the client's postings drive)",
         [&](HistoryQuery& q) {
             q.client = "10.0.0.1";
             q.vhost = "b.example";
             q.since_us = t(10);
         },
         [&](const StoredEvent& s) {
             return s.event.client == "10.0.0.1" && s.event.vhost == "b.example" &&
                    s.event.time_us >= t(10);
         }},
        {"vhost + since + until (the vhost's postings drive)",
         [&](HistoryQuery& q) {
             q.vhost = "a.example";
             q.since_us = t(10);
             q.until_us = t(25);
         },
         [&](const StoredEvent& s) {
             return s.event.vhost == "a.example" && s.event.time_us >= t(10) &&
                    s.event.time_us < t(25);
         }},
        {"rule + client (the rule's postings drive)",
         [](HistoryQuery& q) {
             q.rule = "942100";
             q.client = "10.0.0.2";
         },
         [](const StoredEvent& s) {
             return has_rule(s, "942100") && s.event.client == "10.0.0.2";
         }},
        {"unknown client", [](HistoryQuery& q) { q.client = "192.0.2.1"; },
         [](const StoredEvent&) { return false; }},
        {"rule + grep + path + engine + until",
         [&](HistoryQuery& q) {
             q.rule = "941100";
             q.grep = "needle";
             q.path_prefix = "/admin";
             q.engine_mode = EngineMode::unknown;
             q.until_us = t(35);
         },
         [&](const StoredEvent& s) {
             return has_rule(s, "941100") && s.event.path.starts_with("/admin") &&
                    s.engine_mode == EngineMode::unknown && s.event.time_us < t(35);
         }},
        {"would block + not intercepted + vhost",
         [](HistoryQuery& q) {
             q.would_block = true;
             q.intercepted = false;
             q.vhost = "b.example";
         },
         [](const StoredEvent& s) {
             return verdict_of(s.event) == Verdict::would_block && s.event.vhost == "b.example";
         }},
    };
    for (const Case& c : cases) {
        HistoryQuery q;
        c.set(q);
        q.limit = 1000;
        auto page = m_store->search(q);
        ASSERT_TRUE(page) << c.name << ": " << page.error();
        std::vector<std::string> ids;
        for (const auto& e : page->events) {
            ids.push_back(e.event.unique_id);
        }
        EXPECT_EQ(ids, expected(c.keep)) << c.name;
        EXPECT_FALSE(page->next.has_value()) << c.name;
    }
}

// --path is a byte prefix: multi-byte characters, 0xFF bytes (whose successor carries
// into the byte before, or, when the prefix is all 0xFF, leaves no end), a NUL, and the
// prefix as a whole path.
TEST(HistorySearchPath, AByteNotACharacterPrefix)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    using namespace std::string_literals;
    const std::vector<std::string> paths = {"/p",
                                            "/p\xff",
                                            "/p\xff\xff/x",
                                            "/p\xffz",
                                            "/q",
                                            "/p\0x"s,
                                            "/\xc3\xa9",
                                            "/\xc3\xa9t\xc3\xa9",
                                            "/e",
                                            "/\xc3\xa8",
                                            "\xff\xff\xff"
                                            "A",
                                            "\xfe",
                                            "/o\xff"};
    std::vector<StoredEvent> events;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        StoredEvent s = test::full_event(static_cast<int>(i));
        s.event.path = paths[i];
        events.push_back(std::move(s));
    }
    ASSERT_TRUE(store->write_batch(events));
    for (const std::string& prefix : {"/p"s, "/p\xff"s, "/p\xff\xff"s, "/\xc3\xa9"s, "/\xc3"s,
                                      "\xff\xff"s, "\xff"s, "/"s, "/p\0"s, "/q"s, "/o"s, "/z"s}) {
        HistoryQuery q;
        q.path_prefix = prefix;
        q.limit = 1000;
        auto page = store->search(q);
        ASSERT_TRUE(page) << page.error();
        std::multiset<std::string> got, want;
        for (const auto& e : page->events) {
            got.insert(e.event.path);
        }
        for (const std::string& p : paths) {
            if (p.starts_with(prefix)) {
                want.insert(p);
            }
        }
        EXPECT_EQ(got, want) << "prefix of " << prefix.size() << " bytes: " << prefix;
    }
}

TEST_F(HistorySearch, PagesNeitherRepeatNorSkip)
{
    const auto t = [](int i) { return k_t0 + i * 10'000'000LL; };
    const std::vector<std::pair<const char*, std::function<void(HistoryQuery&)>>> queries = {
        {"all", [](HistoryQuery&) {}},
        {"vhost", [](HistoryQuery& q) { q.vhost = "a.example"; }},
        {"vhost + window",
         [&](HistoryQuery& q) {
             q.vhost = "b.example";
             q.since_us = t(5);
             q.until_us = t(30);
         }},
        {"rule", [](HistoryQuery& q) { q.rule = "942100"; }},
        {"client", [](HistoryQuery& q) { q.client = "10.0.0.1"; }},
        {"status", [](HistoryQuery& q) { q.status = 200; }},
    };
    for (const auto& [name, set] : queries) {
        HistoryQuery q;
        set(q);
        q.limit = 1000;
        auto whole = m_store->search(q);
        ASSERT_TRUE(whole);
        std::vector<std::string> all;
        for (const auto& e : whole->events) {
            all.push_back(e.event.unique_id);
        }
        for (const std::size_t limit : {1U, 2U, 3U, 7U, 50U}) {
            const auto paged = all_pages(q, limit);
            EXPECT_EQ(paged, all) << name << " limit " << limit;
            EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), paged.size());
        }
    }
}

TEST_F(HistorySearch, PageCursorIsTheLastRow)
{
    HistoryQuery q;
    q.limit = 5;
    auto page = m_store->search(q);
    ASSERT_TRUE(page && page->next);
    EXPECT_EQ(page->next->time_us, page->events.back().event.time_us);
    EXPECT_EQ(page->next->row_id, page->events.back().row_id);
}

TEST_F(HistorySearch, TimeSeriesFromMinutesAndFromEvents)
{
    // Events every 10 s from k_t0 (a minute boundary): 6 per minute.
    struct Case {
        const char* name;
        std::optional<std::string> vhost;
        std::optional<std::string> rule;
        std::int64_t step;
    };
    const Case cases[] = {
        {"minutes", std::nullopt, std::nullopt, 60},
        {"two minutes", std::nullopt, std::nullopt, 120},
        {"hour", std::nullopt, std::nullopt, 3600},
        {"minutes, vhost", "a.example", std::nullopt, 60},
        {"minutes, rule", std::nullopt, "942100", 60},
        {"minutes, rule + vhost", "b.example", "941100", 120},
        {"30 s, from events", std::nullopt, std::nullopt, 30},
        {"45 s, rule, from events", std::nullopt, "942100", 45},
        {"7 s, vhost, from events", "a.example", std::nullopt, 7},
        {"unknown rule", std::nullopt, "1", 60},
    };
    const std::int64_t since = k_t0;
    const std::int64_t until = k_t0 + 10 * 60'000'000LL;
    for (const Case& c : cases) {
        const std::int64_t step_us = c.step * 1'000'000;
        std::map<std::int64_t, SeriesRow> want;
        for (const auto& s : m_events) {
            if ((c.vhost && s.event.vhost != *c.vhost) || (c.rule && !has_rule(s, *c.rule))) {
                continue;
            }
            const std::int64_t start = s.event.time_us - s.event.time_us % step_us;
            SeriesRow& r = want[start];
            r.start_us = start;
            ++r.events;
            r.flagged += s.event.findings.empty() ? 0U : 1U;
            r.intercepted += s.event.intercepted ? 1U : 0U;
            r.would_block += verdict_of(s.event) == Verdict::would_block ? 1U : 0U;
        }
        std::vector<SeriesRow> rows;
        for (const auto& [start, r] : want) {
            rows.push_back(r);
        }
        auto got = m_store->timeseries(c.vhost, c.rule, since, until, c.step);
        ASSERT_TRUE(got) << c.name << ": " << got.error();
        EXPECT_EQ(*got, rows) << c.name;
    }
    EXPECT_TRUE(m_store->timeseries(std::nullopt, std::nullopt, until, since, 60)->empty());
    EXPECT_TRUE(m_store->timeseries(std::nullopt, std::nullopt, since, until, 0)->empty());
}

TEST(HistorySearchFailure, AnEventThatDoesNotDecodeIsAnErrorNamingItsRow)
{
    TempDir dir;
    {
        auto store = HistoryStore::open(dir.db());
        ASSERT_TRUE(store) << store.error();
        const std::vector<StoredEvent> events{test::full_event(1), test::full_event(2)};
        ASSERT_TRUE(store->write_batch(events));
    }
    {
        auto db = Db::open(dir.db(), false);
        ASSERT_TRUE(db) << db.error();
        // A varint that never ends: the newest event's findings no longer decode.
        ASSERT_TRUE(db->exec("UPDATE events SET findings = x'ff' WHERE id = 2"));
    }
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    auto page = store->search(HistoryQuery{});
    ASSERT_FALSE(page);
    EXPECT_NE(page.error().find("event 2 does not decode"), std::string::npos) << page.error();
    // The store goes on: the other event is still found.
    auto found = store->find(test::full_event(1).event.unique_id);
    ASSERT_TRUE(found) << found.error();
    EXPECT_TRUE(found->has_value());
}

} // namespace
} // namespace mso
