// store/history_store.cpp, history_writer.cpp and schema.cpp: creating, reopening and migrating
// history.db, a corrupt file moved aside, the round trip of an event, duplicates, find,
// a full disk, and kill -9 in the middle of writing.
#include "store/history_store.h"

#include "store/posting_hits.h"
#include "store/rule_postings.h"
#include "store/sqlite_db.h"
#include "store_test_events.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace mso {
namespace {

using test::full_event;
using test::TempDir;

constexpr auto pragma = test::sql_integer;

std::string integrity(const std::string& path)
{
    auto db = Db::open(path, false);
    auto s = Stmt::prepare(*db, "PRAGMA integrity_check");
    EXPECT_TRUE(s.has_value());
    auto row = s->step();
    return row && *row ? std::string(s->text(0)) : "error";
}

TEST(HistoryStore, CreatesTheLatestVersionAndReopens)
{
    TempDir dir;
    {
        auto store = HistoryStore::open(dir.db());
        ASSERT_TRUE(store) << store.error();
        EXPECT_TRUE(store->open_report().created);
        EXPECT_EQ(store->open_report().migrated_from, 0);
        EXPECT_EQ(store->open_report().set_aside, "");
    }
    EXPECT_EQ(pragma(dir.db(), "PRAGMA user_version"), latest_schema_version());
    EXPECT_EQ(latest_schema_version(), 8);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                               "name IN ('strings', 'events', 'rule_postings', 'minutes', "
                               "'source_totals', 'client_postings', 'client_postings_recent', "
                               "'retention_frontier', 'vhost_postings')"),
              9);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM sqlite_schema WHERE name IN "
                               "('event_rules', 'events_client', 'events_vhost')"),
              0);
    auto again = HistoryStore::open(dir.db());
    ASSERT_TRUE(again) << again.error();
    EXPECT_FALSE(again->open_report().created);
    EXPECT_EQ(again->open_report().migrated_from, -1);
    auto db = Db::open(dir.db(), false);
    auto s = Stmt::prepare(*db, "PRAGMA journal_mode");
    ASSERT_TRUE(s && *s->step());
    EXPECT_EQ(s->text(0), "wal");
}

TEST(HistoryStore, MigratesAnEmptyFile)
{
    TempDir dir;
    std::ofstream(dir.db()).close(); // 0 bytes: SQLite's empty database
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    EXPECT_TRUE(store->open_report().created);
    EXPECT_EQ(store->open_report().problem, "");
    EXPECT_EQ(pragma(dir.db(), "PRAGMA user_version"), latest_schema_version());
}

using Hits = std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>>;

// The (time, row id) of each key's events, newest first, from searches by `filter`
// (&HistoryQuery::rule, ::client or ::vhost).
Hits search_hits(HistoryStore& store, const std::vector<std::string>& keys,
                 std::optional<std::string> HistoryQuery::*filter)
{
    Hits out;
    for (const std::string& key : keys) {
        HistoryQuery q;
        q.*filter = key;
        q.limit = 10000;
        auto page = store.search(q);
        EXPECT_TRUE(page) << page.error();
        for (const StoredEvent& e : page->events) {
            out[key].emplace_back(e.event.time_us, e.row_id);
        }
    }
    return out;
}

// A version 1 file (event_rules, no source_totals, events_time on time_us alone,
// events_client) migrates to the latest: source_totals filled from its events (version
// 2), event_rules turned into postings that answer every rule search as before, and
// dropped (version 3), events_time rebuilt with the id and path (version 4), events_client
// turned into client postings that answer every client search as before, and dropped
// (version 6), events_vhost likewise into vhost postings (version 8).
TEST(HistoryStore, MigratesVersionOneToTheLatest)
{
    TempDir dir;
    const std::vector<std::string> rules{"942100", "941100", "920350"};
    std::vector<std::string> clients;
    for (int n = 0; n < 7; ++n) {
        clients.push_back("198.51.100." + std::to_string(n));
    }
    Hits before;
    Hits before_clients;
    const std::vector<std::string> vhosts{"shop.test", "blog.test", "api.test"};
    Hits before_vhosts;
    std::set<std::pair<std::string, std::int64_t>> client_buckets;
    std::set<std::pair<std::string, std::int64_t>> vhost_buckets;
    {
        auto store = HistoryStore::open(dir.db());
        ASSERT_TRUE(store) << store.error();
        for (int batch = 0; batch < 3; ++batch) {
            std::vector<StoredEvent> events;
            for (int i = 0; i < 30; ++i) {
                const int n = batch * 30 + i;
                events.push_back(full_event(n));
                events.back().source = n % 2 == 0 ? "module" : "import:old";
                events.back().event.client = clients[static_cast<std::size_t>(n % 7)];
                events.back().event.vhost = vhosts[static_cast<std::size_t>(n % 3)];
                // Three batches over the same 25 seconds, out of time order, with ties.
                events.back().event.time_us = test::k_t0 + ((n * 7) % 25) * 1'000'000LL;
                if (n % 3 == 0) {
                    events.back().event.findings[0].id = "941100";
                }
                client_buckets.emplace(events.back().event.client,
                                       posting_bucket(events.back().event.time_us));
                vhost_buckets.emplace(events.back().event.vhost,
                                      posting_bucket(events.back().event.time_us));
            }
            ASSERT_TRUE(store->write_batch(events));
        }
        before = search_hits(*store, rules, &HistoryQuery::rule);
        before_clients = search_hits(*store, clients, &HistoryQuery::client);
        before_vhosts = search_hits(*store, vhosts, &HistoryQuery::vhost);
    }
    ASSERT_EQ(before["942100"].size() + before["941100"].size(), 90u);
    std::size_t client_events = 0;
    for (const auto& [client, hits] : before_clients) {
        client_events += hits.size();
    }
    ASSERT_EQ(client_events, 90u);
    for (const auto& v : vhosts) {
        ASSERT_EQ(before_vhosts[v].size(), 30u) << v;
    }
    {
        // Back to version 1: event_rules rows from the postings, as version 1 wrote them.
        auto db = Db::open(dir.db(), false);
        ASSERT_EQ(register_postings(db->handle()), 0);
        ASSERT_TRUE(db->exec(
            "CREATE TABLE event_rules (rule_id INTEGER NOT NULL, time_us INTEGER NOT NULL, "
            "event_id INTEGER NOT NULL, PRIMARY KEY (rule_id, time_us, event_id)) WITHOUT ROWID; "
            "INSERT INTO event_rules SELECT s.id, r.time_us, r.event_id FROM strings s, "
            "mso_rule_hits(s.id) r; DROP TABLE rule_postings; DROP TABLE source_totals; "
            "DROP INDEX events_time; CREATE INDEX events_time ON events (time_us); "
            "DROP TABLE client_postings; DROP TABLE client_postings_recent; DROP TABLE "
            "retention_frontier; CREATE INDEX events_client ON events (client_id, time_us); "
            "DROP TABLE vhost_postings; CREATE INDEX events_vhost ON events (vhost_id, "
            "time_us); PRAGMA user_version = 1"));
        EXPECT_GE(*db->integer("SELECT count(*) FROM event_rules"), 90);
    }
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    EXPECT_EQ(store->open_report().migrated_from, 1);
    EXPECT_EQ(pragma(dir.db(), "PRAGMA user_version"), latest_schema_version());
    // Version 4: events_time is (time_us, id, path).
    EXPECT_EQ(pragma(dir.db(),
                     "SELECT group_concat(name, ',') = 'time_us,id,path' FROM "
                     "(SELECT name FROM pragma_index_info('events_time') ORDER BY seqno)"),
              1);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM sqlite_schema WHERE name IN "
                               "('event_rules', 'events_client', 'events_vhost')"),
              0);
    EXPECT_EQ(search_hits(*store, rules, &HistoryQuery::rule), before);
    EXPECT_EQ(search_hits(*store, clients, &HistoryQuery::client), before_clients);
    EXPECT_EQ(search_hits(*store, vhosts, &HistoryQuery::vhost), before_vhosts);
    // One row per client and ten-second bucket.
    EXPECT_LT(client_buckets.size(), 90u);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings"),
              static_cast<std::int64_t>(client_buckets.size()));
    EXPECT_LT(vhost_buckets.size(), 90u);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM vhost_postings"),
              static_cast<std::int64_t>(vhost_buckets.size()));
    auto counts = store->source_counts();
    ASSERT_TRUE(counts) << counts.error();
    ASSERT_EQ(counts->size(), 2u);
    EXPECT_EQ((*counts)[0].source, "import:old");
    EXPECT_EQ((*counts)[0].events, 45u);
    EXPECT_EQ((*counts)[1].events, 45u);
    EXPECT_EQ(integrity(dir.db()), "ok");
}

TEST(HistoryStore, RefusesANewerSchema)
{
    TempDir dir;
    ASSERT_TRUE(HistoryStore::open(dir.db()));
    {
        auto db = Db::open(dir.db(), false);
        ASSERT_TRUE(db->exec("PRAGMA user_version = 99"));
    }
    auto store = HistoryStore::open(dir.db());
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().find("version 99 is newer"), std::string::npos) << store.error();
    EXPECT_TRUE(std::filesystem::exists(dir.db())); // not moved aside: not corrupt
}

TEST(HistoryStore, MovesACorruptFileAside)
{
    struct Case {
        const char* name;
        void (*spoil)(const std::string& path);
    };
    const Case cases[] = {
        {"garbage", [](const std::string& path) { std::ofstream(path) << std::string(8192, 'x'); }},
        {"header cut", [](const std::string& path) { std::filesystem::resize_file(path, 50); }},
        {"pages overwritten",
         [](const std::string& path) {
             std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
             f.seekp(4096 * 3); // b-tree pages from their headers on
             f << std::string(4096 * 4, '\x5a');
         }},
    };
    for (const Case& c : cases) {
        TempDir dir;
        {
            auto store = HistoryStore::open(dir.db());
            ASSERT_TRUE(store);
            std::vector<StoredEvent> events;
            for (int i = 0; i < 300; ++i) {
                events.push_back(full_event(i));
            }
            ASSERT_TRUE(store->write_batch(events));
        }
        c.spoil(dir.db());
        HistoryOptions options;
        options.now_seconds = 1234;
        auto store = HistoryStore::open(dir.db(), options);
        ASSERT_TRUE(store) << c.name << ": " << store.error();
        const OpenReport& report = store->open_report();
        EXPECT_NE(report.problem, "") << c.name;
        EXPECT_EQ(report.set_aside, dir.db() + ".corrupt-1234") << c.name;
        EXPECT_TRUE(report.created) << c.name;
        EXPECT_TRUE(std::filesystem::exists(dir.db() + ".corrupt-1234")) << c.name;
        EXPECT_EQ(*store->event_count(), 0) << c.name;
        ASSERT_TRUE(store->write_batch(std::vector<StoredEvent>{full_event()})) << c.name;
    }
}

TEST(HistoryStore, RoundTripsEveryField)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store);
    std::vector<StoredEvent> events{full_event(1), full_event(2)};
    events[1].source = "import:audit.log";
    events[1].engine_mode = EngineMode::on;
    events[1].event.scores.reset();
    events[1].event.findings.clear();
    events[1].event.findings_dropped = 0;
    events[1].event.intercepted = true;
    events[1].event.vhost = "";
    auto stats = store->write_batch(events);
    ASSERT_TRUE(stats) << stats.error();
    EXPECT_EQ(stats->inserted, 2U);
    for (const StoredEvent& e : events) {
        auto found = store->find(e.event.unique_id);
        ASSERT_TRUE(found) << found.error();
        ASSERT_TRUE(found->has_value());
        StoredEvent back = **found;
        EXPECT_GT(back.row_id, 0);
        back.row_id = 0;
        EXPECT_EQ(back, e);
    }
    // A reader on its own connection sees the same.
    HistoryOptions ro;
    ro.read_only = true;
    auto reader = HistoryStore::open(dir.db(), ro);
    ASSERT_TRUE(reader) << reader.error();
    auto found = reader->find(events[0].event.unique_id, std::string("module"));
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->event, events[0].event);
    EXPECT_FALSE(reader->find(events[0].event.unique_id, std::string("import:x"))->has_value());
    EXPECT_FALSE(reader->find("no-such-id")->has_value());
    EXPECT_FALSE(reader->write_batch(events));
}

TEST(HistoryStore, DuplicatesAreCountedNotStored)
{
    struct Case {
        const char* name;
        Dedup dedup;
        void (*change)(StoredEvent&);
        std::size_t inserted;
    };
    const Case cases[] = {
        {"same event", Dedup::content, [](StoredEvent&) {}, 0},
        {"same event, other source", Dedup::content,
         [](StoredEvent& e) { e.source = "import:a.log"; }, 0},
        {"same id, other content", Dedup::content, [](StoredEvent& e) { e.event.status = 500; }, 1},
        {"same id, other content, by id", Dedup::unique_id,
         [](StoredEvent& e) { e.event.status = 500; }, 0},
        {"other id", Dedup::content, [](StoredEvent& e) { e.event.unique_id += "z"; }, 1},
        // Dedup::request: the audit log's view of a request the module sent (other vhost
        // label, time of logging, data cut differently) is the same request...
        {"same request, other view", Dedup::request,
         [](StoredEvent& e) {
             e.source = "import:audit.log";
             e.event.vhost = "shop.example.com:8443";
             e.event.time_us += 1500;
             e.event.findings.front().data += " and more";
             e.event.status = 403;
         },
         0},
        // ...but another server's request that shares the id is not.
        {"same id, other client", Dedup::request,
         [](StoredEvent& e) { e.event.client = "198.51.100.9"; }, 1},
        {"same id, other path", Dedup::request, [](StoredEvent& e) { e.event.path = "/login"; }, 1},
        {"same id, other method", Dedup::request, [](StoredEvent& e) { e.event.method = "GET"; },
         1},
        {"other id, same request", Dedup::request, [](StoredEvent& e) { e.event.unique_id += "z"; },
         1},
        {"no id, other content, by request", Dedup::request,
         [](StoredEvent& e) {
             e.event.unique_id = "";
             e.event.port = 1;
         },
         1},
        {"no id, same content, by request", Dedup::request,
         [](StoredEvent& e) { e.event.unique_id = ""; }, 0},
        {"no id, same content", Dedup::unique_id, [](StoredEvent& e) { e.event.unique_id = ""; },
         0},
        {"no id, other content", Dedup::unique_id,
         [](StoredEvent& e) {
             e.event.unique_id = "";
             e.event.port = 1;
         },
         1},
    };
    // Each shape of unique id: mod_unique_id's and ModSecurity v3's are keyed by their
    // second, another by its hash (history_store.cpp, uid_key()).
    const char* const ids[] = {"awG4kHcQQ_AdMcIAbWM4GAAAAAU", "179619058711.034755",
                               "ZfPq8H8AAQEAAAbZVKcAAA0"};
    for (const char* id : ids) {
        for (const Case& c : cases) {
            const std::string name = std::string(c.name) + ", id " + id;
            TempDir dir;
            StoredEvent first = full_event();
            first.event.unique_id = std::string(c.name).starts_with("no id") ? "" : id;
            {
                auto store = HistoryStore::open(dir.db());
                ASSERT_TRUE(store->write_batch(std::vector<StoredEvent>{first}));
            }
            // Reopened: the check finds what an earlier writer stored.
            auto store = HistoryStore::open(dir.db());
            StoredEvent second = full_event();
            second.event.unique_id = id;
            c.change(second);
            auto stats = store->write_batch(std::vector<StoredEvent>{second}, c.dedup);
            ASSERT_TRUE(stats) << name;
            EXPECT_EQ(stats->inserted, c.inserted) << name;
            EXPECT_EQ(stats->duplicates, 1 - c.inserted) << name;
            // The same twice more in one batch: both are duplicates of the stored event.
            auto twice = store->write_batch(std::vector<StoredEvent>{second, second}, c.dedup);
            ASSERT_TRUE(twice);
            EXPECT_EQ(twice->inserted, 0U) << name;
            EXPECT_EQ(*store->event_count(), static_cast<std::int64_t>(1 + c.inserted)) << name;
        }
    }
}

// The duplicate check of ids keyed by their second, in any order: a later second, the
// same second, an earlier second (an old log imported after live traffic), across
// batches and after a batch that was rolled back.
TEST(HistoryStore, DuplicatesOfIdsKeyedByTheirSecondInAnyOrder)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    const std::vector<std::string> ids{
        "awG4kHcQQ_AdMcIAbWM4GAAAAAU", "awG4lHcQQ_AdMcIAbWM4GgAAAAg", // 4 seconds apart
        "awG4kIfZZ_AdMcIAbWM4GgAAAAg",                                // the first's second
        "ZVP4_RMOp6pC5tqKuJlHsj5x9FA",                                // three years earlier
        "179619058811.034755",         "179619058711.034755",         // v3, a second apart
    };
    auto event = [&](std::size_t i) {
        StoredEvent e = full_event(static_cast<int>(i));
        e.event.unique_id = ids[i];
        return e;
    };
    for (std::size_t i = 0; i < ids.size(); ++i) {
        // Each new event, then again every event so far: only the new one is stored.
        std::vector<StoredEvent> batch{event(i)};
        for (std::size_t j = 0; j <= i; ++j) {
            batch.push_back(event(j));
        }
        auto stats = store->write_batch(batch);
        ASSERT_TRUE(stats) << stats.error();
        EXPECT_EQ(stats->inserted, 1U) << ids[i];
        EXPECT_EQ(stats->duplicates, i + 1) << ids[i];
    }
    const auto count = static_cast<std::int64_t>(ids.size());
    EXPECT_EQ(*store->event_count(), count);
    // A batch rolled back (a failure after its events were written) leaves nothing that
    // keeps its events out when they come again.
    std::vector<StoredEvent> batch{event(0)};
    batch.front().event.unique_id = "awG4mHcQQ_AdMcIAbWM4GAAAAAU";
    {
        auto db = Db::open(dir.db(), false);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->exec("CREATE TRIGGER fail_postings BEFORE INSERT ON vhost_postings "
                             "BEGIN SELECT RAISE(ABORT, 'refused'); END"));
    }
    EXPECT_FALSE(store->write_batch(batch));
    {
        auto db = Db::open(dir.db(), false);
        ASSERT_TRUE(db->exec("DROP TRIGGER fail_postings"));
    }
    EXPECT_EQ(*store->event_count(), count);
    auto again = store->write_batch(batch);
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ(again->inserted, 1U);
    EXPECT_EQ(*store->event_count(), count + 1);
    // Now stored, it is a duplicate.
    auto third = store->write_batch(batch);
    ASSERT_TRUE(third) << third.error();
    EXPECT_EQ(third->inserted, 0U);
    EXPECT_EQ(third->duplicates, 1U);
    EXPECT_EQ(*store->event_count(), count + 1);
}

// Version 5 keys unique ids by the second they carry (mod_unique_id's first six
// characters, ModSecurity v3's ten leading digits): one second's ids share the key's high
// part (whichever child made them), a later second's keys sort after by the seconds
// between; an id of another shape is still found.
TEST(HistoryStore, UniqueIdKeysFollowTheIdsSecond)
{
    TempDir dir;
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    const std::vector<std::string> ids{
        "awG4kHcQQ_AdMcIAbWM4GAAAAAU",
        "awG4kHcQQ_AdMcIAbWM4GQAAAAY", // one second, one child
        "awG4kIfZZ_AdMcIAbWM4GgAAAAg", // another child
        "awG4lHcQQ_AdMcIAbWM4GgAAAAg", // 4 seconds later
        "179619058711.034755",
        "179619058762.871143",                  // v3, one second
        "179619058811.034755",                  // v3, the next
        "4f1c2a9e-7d3b-4c8a-9e21-5b6d7f8a9c0d", // another shape
        "aw-xdisH2VY5hK-8xXo8kgAAAAM",          // captured: 2026-12-02 05:49:42 UTC
        "ZVP4-RMOp6pC5tqKuJlHsj5x9F@",          // an older httpd's alphabet: '-' is 63
        "ZVP4_RMOp6pC5tqKuJlHsj5x9FA",          // the same second in base64url
    };
    std::vector<StoredEvent> events;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        events.push_back(full_event(static_cast<int>(i)));
        events.back().event.unique_id = ids[i];
    }
    ASSERT_TRUE(store->write_batch(events));
    auto db = Db::open(dir.db(), false);
    auto key = [&](const std::string& id) {
        auto s = Stmt::prepare(*db, "SELECT uid_key FROM events WHERE unique_id = ?1");
        EXPECT_TRUE(s.has_value());
        s->bind(1, std::string_view(id));
        auto row = s->step();
        EXPECT_TRUE(row && *row) << id;
        return row && *row ? s->integer(0) : -1;
    };
    EXPECT_EQ(key(ids[0]) >> 29, key(ids[1]) >> 29);
    EXPECT_EQ(key(ids[0]) >> 29, key(ids[2]) >> 29);
    EXPECT_EQ((key(ids[3]) >> 29) - (key(ids[0]) >> 29), 4);
    EXPECT_EQ(key(ids[4]) >> 27, key(ids[5]) >> 27);
    EXPECT_EQ((key(ids[6]) >> 27) - (key(ids[4]) >> 27), 1);
    // The key's second is the id's: base64url's '-' is 62, '_' 63 (an older httpd's '-' 63).
    EXPECT_EQ(key(ids[8]) >> 29, (std::int64_t{1} << 32) | 1'796'190'582);
    EXPECT_EQ(key(ids[9]) >> 29, key(ids[10]) >> 29);
    EXPECT_EQ(key(ids[6]) >> 27, (std::int64_t{2} << 34) | 1'796'190'588);
    for (const std::string& id : ids) {
        EXPECT_GE(key(id), std::int64_t{1} << 61) << id;
        auto found = store->find(id);
        ASSERT_TRUE(found) << found.error();
        ASSERT_TRUE(found->has_value()) << id;
        EXPECT_EQ((*found)->event.unique_id, id);
    }
}

// A version 4 file keeps its 31-bit keys (nothing is rewritten): its events are still
// found by unique id and still recognised as duplicates, and new events get the new keys.
TEST(HistoryStore, VersionFourUniqueIdKeysAreStillFound)
{
    TempDir dir;
    std::vector<StoredEvent> events;
    for (int i = 0; i < 20; ++i) {
        events.push_back(full_event(i));
    }
    events.back().event.unique_id = ""; // found by its content hash only
    // Ids of each shape, with the keys version 4 stored for them (its 31-bit FNV-1a,
    // computed apart from the code under test).
    events[0].event.unique_id = "awG4kHcQQ_AdMcIAbWM4GAAAAAU";
    events[1].event.unique_id = "179619058711.034755";
    events[2].event.unique_id = "ZfPq8H8AAQEAAAbZVKcAAA3";
    {
        auto store = HistoryStore::open(dir.db());
        ASSERT_TRUE(store->write_batch(events));
    }
    {
        auto db = Db::open(dir.db(), false);
        ASSERT_TRUE(db->exec("UPDATE events SET uid_key = CASE unique_id "
                             "WHEN 'awG4kHcQQ_AdMcIAbWM4GAAAAAU' THEN 946204679 "
                             "WHEN '179619058711.034755' THEN 1705001252 "
                             "WHEN 'ZfPq8H8AAQEAAAbZVKcAAA3' THEN 1482522657 "
                             "ELSE uid_key & 2147483647 END; DROP TABLE client_postings; DROP "
                             "TABLE client_postings_recent; DROP TABLE retention_frontier; "
                             "CREATE INDEX events_client ON events (client_id, time_us); "
                             "DROP TABLE vhost_postings; CREATE INDEX events_vhost ON events "
                             "(vhost_id, time_us); PRAGMA user_version = 4"));
    }
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    EXPECT_EQ(store->open_report().migrated_from, 4);
    for (int i = 0; i < 19; ++i) {
        auto found = store->find(events[static_cast<std::size_t>(i)].event.unique_id);
        ASSERT_TRUE(found) << found.error();
        EXPECT_TRUE(found->has_value()) << i;
    }
    auto again = store->write_batch(events);
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ(again->inserted, 0U);
    EXPECT_EQ(again->duplicates, events.size());
    StoredEvent fresh = full_event(100);
    ASSERT_TRUE(store->write_batch(std::vector<StoredEvent>{fresh}));
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM events WHERE uid_key >= 2147483648"), 1);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM events WHERE uid_key < 2147483648"), 20);
    auto found = store->find(fresh.event.unique_id);
    ASSERT_TRUE(found && found->has_value());
}

// Schema version 7: client postings wait in client_postings_recent and move to
// client_postings once `recent_client_rows` wait. Ten events per batch from one client,
// 5 s apart: five rows of two hits each. A move that fails (a trigger aborts the insert)
// rolls the whole batch back and is done by the next batch; a store reopened counts the
// rows waiting; hits, searches and top clients count every event once.
TEST(HistoryStore, ClientPostingsMoveInKeyOrderAndARolledBackMoveLosesNothing)
{
    TempDir dir;
    HistoryOptions options;
    options.recent_client_rows = 12;
    const auto batch = [](int first) {
        std::vector<StoredEvent> out;
        for (int i = first; i < first + 10; ++i) {
            StoredEvent s = full_event(i);
            s.event.time_us = test::k_t0 + i * 5'000'000LL;
            s.event.client = "10.2.0.1";
            out.push_back(std::move(s));
        }
        return out;
    };
    const std::string all_rows = "(SELECT hits FROM client_postings UNION ALL SELECT hits FROM "
                                 "client_postings_recent)";
    const auto exec = [&](const char* sql) {
        auto db = Db::open(dir.db(), false);
        ASSERT_TRUE(db.has_value()) << db.error();
        ASSERT_TRUE(db->exec(sql)) << sql;
    };
    {
        auto store = HistoryStore::open(dir.db(), options);
        ASSERT_TRUE(store) << store.error();
        ASSERT_TRUE(store->write_batch(batch(0)));
        ASSERT_TRUE(store->write_batch(batch(10))); // 10 rows waiting: no move yet
        EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings"), 0);
        EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings_recent"), 10);
        exec("CREATE TRIGGER no_move BEFORE INSERT ON client_postings BEGIN SELECT "
             "RAISE(ABORT, 'no move'); END");
        EXPECT_FALSE(store->write_batch(batch(20))); // 15 waiting: the move fails
        EXPECT_EQ(*store->event_count(), 20);
        EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings_recent"), 10);
        exec("DROP TRIGGER no_move");
        ASSERT_TRUE(store->write_batch(batch(20)));
        EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings"), 15);
        EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings_recent"), 0);
        ASSERT_TRUE(store->write_batch(batch(30)));
    }
    // Reopened: the 5 rows waiting are counted, so the next batch's 5 more (10) stay and
    // the one after moves all 15.
    auto store = HistoryStore::open(dir.db(), options);
    ASSERT_TRUE(store) << store.error();
    ASSERT_TRUE(store->write_batch(batch(40)));
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings_recent"), 10);
    ASSERT_TRUE(store->write_batch(batch(50)));
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings"), 30);
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings_recent"), 0);
    ASSERT_TRUE(store->write_batch(batch(60)));
    EXPECT_EQ(pragma(dir.db(), "SELECT count(*) FROM client_postings_recent"), 5);
    EXPECT_EQ(pragma(dir.db(), "SELECT min(hits) = 2 AND max(hits) = 2 FROM " + all_rows), 1);
    EXPECT_EQ(pragma(dir.db(), "SELECT sum(hits) FROM " + all_rows), 70);
    // The rolled-back batch left no vhost hit behind either (the retry reuses its ids).
    EXPECT_EQ(pragma(dir.db(), "SELECT sum(hits) FROM vhost_postings"), 70);
    HistoryQuery q;
    q.client = "10.2.0.1";
    q.limit = 100;
    auto page = store->search(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_EQ(page->events.size(), 70u);
    auto top = store->top(HistoryList::clients, std::nullopt, test::k_t0,
                          test::k_t0 + 3600 * 1'000'000LL, 0);
    ASSERT_TRUE(top) << top.error();
    EXPECT_EQ(*top, (std::vector<TopRow>{{"10.2.0.1", 70}}));
    EXPECT_EQ(integrity(dir.db()), "ok");
}

TEST(HistoryStore, AFullDiskFailsTheBatchAndSaysSo)
{
    TempDir dir;
    HistoryOptions options;
    options.max_page_count = 64; // 256 KiB: what SQLite may use, as a small disk would
    auto store = HistoryStore::open(dir.db(), options);
    ASSERT_TRUE(store) << store.error();
    std::int64_t stored = 0;
    bool full = false;
    for (int b = 0; b < 100 && !full; ++b) {
        std::vector<StoredEvent> batch;
        for (int i = 0; i < 50; ++i) {
            batch.push_back(full_event(b * 50 + i));
        }
        auto r = store->write_batch(batch);
        if (r) {
            stored += static_cast<std::int64_t>(r->inserted);
        } else {
            full = true;
            EXPECT_EQ(store->last_failure(), SqliteFailure::full) << r.error();
        }
    }
    ASSERT_TRUE(full);
    EXPECT_EQ(*store->event_count(), stored); // the failed batch left nothing behind
    EXPECT_EQ(integrity(dir.db()), "ok");
}

// A child writes batches and reports each commit on a pipe; the parent kills it with
// SIGKILL mid-way, then finds every reported batch and a sound database.
TEST(HistoryStore, KillNineLosesNoCommittedBatch)
{
    TempDir dir;
    ASSERT_TRUE(HistoryStore::open(dir.db()));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        auto store = HistoryStore::open(dir.db());
        for (int b = 0;; ++b) {
            std::vector<StoredEvent> batch;
            for (int i = 0; i < 200; ++i) {
                batch.push_back(full_event(b * 200 + i));
            }
            if (!store || !store->write_batch(batch)) {
                ::_exit(1);
            }
            if (::write(fds[1], &b, sizeof b) != sizeof b) {
                ::_exit(1);
            }
        }
    }
    ::close(fds[1]);
    int committed = -1;
    for (int b = 0; b < 15; ++b) {
        ASSERT_EQ(::read(fds[0], &committed, sizeof committed),
                  static_cast<ssize_t>(sizeof committed));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    // Drain what the child reported before it died.
    while (::read(fds[0], &committed, sizeof committed) == static_cast<ssize_t>(sizeof committed)) {
    }
    ::close(fds[0]);
    auto store = HistoryStore::open(dir.db());
    ASSERT_TRUE(store) << store.error();
    EXPECT_EQ(store->open_report().problem, "");
    EXPECT_EQ(integrity(dir.db()), "ok");
    const std::int64_t count = *store->event_count();
    EXPECT_GE(count, (committed + 1) * 200LL);
    EXPECT_LE(count, (committed + 2) * 200LL);
    EXPECT_EQ(count % 200, 0); // whole batches only
    for (int b = 0; b <= committed; ++b) {
        EXPECT_TRUE(store->find(full_event(b * 200 + 199).event.unique_id)->has_value()) << b;
    }
}

} // namespace
} // namespace mso
