// daemon/history_service.cpp: the ring-or-history rule, answers from a store filled here
// (events with filters and pages, event, timeseries), and the worker thread's order,
// bounded queue and errors.
#include "daemon/history_service.h"

#include "store_test_events.h"
#include "util/time_format.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace mso {
namespace {

using json = nlohmann::ordered_json;
using test::k_t0;

constexpr std::int64_t k_now = k_t0 / 1'000'000 + 3600; // an hour after the corpus
constexpr std::int64_t k_before_corpus = k_t0 / 1'000'000 - 10;

Query parsed(const std::string& line)
{
    auto q = parse_query(line);
    EXPECT_TRUE(q) << line << ": " << (q ? "" : q.error());
    return q ? *q : Query{};
}

struct RouteCase {
    const char* line;
    bool enabled;
    std::optional<std::int64_t> oldest_ring_s; // Unix seconds
    Route expected;
};

TEST(RouteQuery, RingOrHistory)
{
    const auto H = Route::history;
    const auto M = Route::memory;
    const std::int64_t t = k_now - 600; // the ring reaches back 10 minutes
    const std::vector<RouteCase> cases = {
        // Without the store, memory answers everything.
        {R"({"cmd":"event","unique_id":"x"})", false, t, M},
        {R"({"cmd":"events","engine":"on"})", false, t, M},
        {R"({"cmd":"events","cursor":"c1.1.1"})", false, t, M},
        {R"({"cmd":"timeseries","resolution":"minute","window":172800})", false, t, M},
        // event: always the store.
        {R"({"cmd":"event","unique_id":"x"})", true, t, H},
        // events: filters the ring does not know, and cursors.
        {R"({"cmd":"events","window":60,"engine":"on"})", true, t, H},
        {R"({"cmd":"events","window":60,"source":"module"})", true, t, H},
        {R"({"cmd":"events","window":60,"cursor":"c1.1.1"})", true, t, H},
        // events: time ranges within the ring, or reaching before it.
        {R"({"cmd":"events","window":60})", true, t, M},
        {R"({"cmd":"events","window":600})", true, t, M},
        {R"({"cmd":"events","window":601})", true, t, H},
        {R"({"cmd":"events"})", true, t, H},
        {R"({"cmd":"events","limit":0})", true, t, M}, // all the ring holds
        {R"({"cmd":"events","limit":0,"window":601})", true, t, H},
        {R"({"cmd":"events","window":60})", true, std::nullopt, H},
        {R"({"cmd":"events","since":1699999900})", true, 1'699'999'900, M},
        {R"({"cmd":"events","since":1699999899})", true, 1'699'999'900, H},
        // The filters the ring answers itself keep it there.
        {R"({"cmd":"events","window":60,"path":"/a","status":403,"would_block":true,"grep":"x",)"
         R"("until":1700000000,"rule":"942100","client":"c","vhost":"v","intercepted":true})",
         true, t, M},
        // timeseries: longer than memory keeps at the resolution.
        {R"({"cmd":"timeseries"})", true, t, M},
        {R"({"cmd":"timeseries","resolution":"minute","window":86400})", true, t, M},
        {R"({"cmd":"timeseries","resolution":"minute","window":86401})", true, t, H},
        {R"({"cmd":"timeseries","resolution":"hour","window":2592000})", true, t, M},
        {R"({"cmd":"timeseries","resolution":"hour","window":2592001})", true, t, H},
        // Everything else: memory.
        {R"({"cmd":"stats","window":3600})", true, t, M},
        {R"({"cmd":"health"})", true, t, M},
        {R"({"cmd":"tail"})", true, t, M},
    };
    for (const RouteCase& c : cases) {
        SCOPED_TRACE(c.line);
        const auto oldest =
            c.oldest_ring_s ? std::optional(*c.oldest_ring_s * 1'000'000) : std::nullopt;
        EXPECT_EQ(route_query(parsed(c.line), c.enabled, oldest, k_now), c.expected);
    }
}

// stats, rules and top: history when memory cannot answer the window (stats beyond its
// 24 hours of minutes; rules and top have no window in memory).
TEST(RouteQuery, LongWindowsOfStatsRulesTop)
{
    const auto H = Route::history;
    const auto M = Route::memory;
    const std::int64_t t = k_now - 600;
    const std::vector<RouteCase> cases = {
        {R"({"cmd":"stats"})", true, t, M},
        {R"({"cmd":"stats","window":86400})", true, t, M},
        {R"({"cmd":"stats","window":86401})", true, t, H},
        {R"({"cmd":"stats","window":604800,"rules_limit":5,"top_clients":3})", true, t, H},
        {R"({"cmd":"stats","window":604800})", false, t, M},
        {R"({"cmd":"rules"})", true, t, M},
        {R"({"cmd":"rules","vhost":"v","rule":"942100"})", true, t, M},
        {R"({"cmd":"rules","window":60})", true, t, H},
        {R"({"cmd":"rules","window":60})", false, t, M},
        {R"({"cmd":"top","list":"clients"})", true, t, M},
        {R"({"cmd":"top","list":"paths","window":60})", true, t, H},
        {R"({"cmd":"top","list":"targets","vhost":"v","window":31536000})", true, t, H},
        {R"({"cmd":"top","list":"agents","window":60})", false, t, M},
        {R"({"cmd":"vhosts","window":604800})", true, t, M},
    };
    for (const RouteCase& c : cases) {
        SCOPED_TRACE(c.line);
        const auto oldest =
            c.oldest_ring_s ? std::optional(*c.oldest_ring_s * 1'000'000) : std::nullopt;
        EXPECT_EQ(route_query(parsed(c.line), c.enabled, oldest, k_now), c.expected);
    }
}

// 30 events a second apart: even ones fired 942100 (CRITICAL) and are intercepted,
// every third one also 941100 (WARNING); odd ones come from an import.
std::vector<StoredEvent> corpus()
{
    std::vector<StoredEvent> out;
    for (int i = 0; i < 30; ++i) {
        StoredEvent s = test::full_event(i);
        s.source = i % 2 == 0 ? "module" : "import:old";
        s.engine_mode = i % 2 == 0 ? EngineMode::on : EngineMode::detection_only;
        RequestEvent& e = s.event;
        e.intercepted = i % 2 == 0;
        e.status = i % 2 == 0 ? 403 : 200;
        e.findings.clear();
        e.findings_dropped = 0;
        Finding f;
        f.id = i % 2 == 0 ? "942100" : "920350";
        f.msg = "message " + std::to_string(i);
        f.severity = i % 2 == 0 ? "CRITICAL" : "NOTICE";
        f.paranoia_level = 1;
        f.target = "ARGS:id";
        f.data = "data " + std::to_string(i);
        e.findings.push_back(f);
        if (i % 3 == 0) {
            Finding g = f;
            g.id = "941100";
            g.severity = "WARNING";
            e.findings.push_back(g);
        }
        Finding score;
        score.id = "949110";
        score.severity = "CRITICAL";
        score.msg = "Inbound Anomaly Score Exceeded";
        e.findings.push_back(score);
        out.push_back(std::move(s));
    }
    return out;
}

class HistoryAnswers : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto store = HistoryStore::open(m_dir.db());
        ASSERT_TRUE(store) << store.error();
        m_store.emplace(std::move(*store));
        m_events = corpus();
        ASSERT_TRUE(m_store->write_batch(m_events));
    }

    json ask(const std::string& line)
    {
        HistoryJob job;
        job.client = 7;
        job.line = line;
        job.query = parsed(line);
        job.wall_now = k_now;
        job.vhosts = {"shop.example.com"};
        const HistoryAnswer a = answer_from_history(*m_store, job);
        EXPECT_EQ(a.client, 7U);
        EXPECT_EQ(a.request, line);
        if (a.use_ring) {
            return json{{"use_ring", true}};
        }
        json out = json::parse(a.line, nullptr, false);
        EXPECT_FALSE(out.is_discarded()) << a.line;
        return out;
    }

    // The unique ids of every page of `line` (without its closing brace), `limit` a page.
    std::vector<std::string> all_pages(const std::string& line, std::size_t limit)
    {
        std::vector<std::string> ids;
        std::string cursor;
        for (int pages = 0; pages < 100; ++pages) {
            const json page = ask(line + R"(,"limit":)" + std::to_string(limit) +
                                  (cursor.empty() ? "" : R"(,"cursor":")" + cursor + "\"") + "}");
            EXPECT_EQ(page.value("from", ""), "history") << page.dump();
            EXPECT_LE(page["events"].size(), limit);
            for (const json& e : page["events"]) {
                ids.push_back(e["unique_id"].get<std::string>());
            }
            if (!page.contains("next")) {
                break;
            }
            cursor = page["next"].get<std::string>();
        }
        return ids;
    }

    std::vector<std::string> ids_where(const std::function<bool(int)>& keep) const
    {
        std::vector<std::string> ids;
        for (int i = 29; i >= 0; --i) {
            if (keep(i)) {
                ids.push_back(m_events[static_cast<std::size_t>(i)].event.unique_id);
            }
        }
        return ids;
    }

    test::TempDir m_dir;
    std::optional<HistoryStore> m_store;
    std::vector<StoredEvent> m_events;
};

TEST_F(HistoryAnswers, EventsFiltersAndPagesEachEventOnce)
{
    EXPECT_EQ(all_pages(R"({"cmd":"events")", 4), ids_where([](int) { return true; }));
    EXPECT_EQ(all_pages(R"({"cmd":"events","rule":"941100")", 3),
              ids_where([](int i) { return i % 3 == 0; }));
    EXPECT_EQ(all_pages(R"({"cmd":"events","source":"import:old")", 7),
              ids_where([](int i) { return i % 2 == 1; }));
    EXPECT_EQ(all_pages(R"({"cmd":"events","engine":"on","status":403,"intercepted":true)", 100),
              ids_where([](int i) { return i % 2 == 0; }));
    EXPECT_EQ(all_pages(R"({"cmd":"events","grep":"message 1")", 100),
              ids_where([](int i) { return i == 1 || (i >= 10 && i <= 19); }));
    const std::int64_t t5 = k_t0 / 1'000'000 + 5;
    EXPECT_EQ(all_pages(R"({"cmd":"events","since":)" + std::to_string(t5) + R"(,"until":)" +
                            std::to_string(t5 + 3),
                        2),
              ids_where([](int i) { return i >= 5 && i < 8; }));
    EXPECT_TRUE(all_pages(R"({"cmd":"events","path":"/nowhere")", 5).empty());
}

TEST_F(HistoryAnswers, EventsCarryOriginAndVerdict)
{
    const json page = ask(R"({"cmd":"events","limit":2})");
    ASSERT_EQ(page["events"].size(), 2U);
    const json& newest = page["events"][0]; // event 29: imported, detection only
    EXPECT_EQ(newest["unique_id"], m_events[29].event.unique_id);
    EXPECT_EQ(newest["source"], "import:old");
    EXPECT_EQ(newest["engine"], "detection_only");
    EXPECT_EQ(newest["verdict"], "would_block"); // inbound 15 >= threshold 5
    EXPECT_EQ(page["events"][1]["verdict"], "intercepted");
    EXPECT_EQ(page["events"][1]["engine"], "on");
    EXPECT_TRUE(page.contains("next"));
    // limit 0 asks for the largest page, which this corpus does not fill.
    const json all = ask(R"({"cmd":"events","limit":0})");
    EXPECT_EQ(all["events"].size(), 30U);
    EXPECT_FALSE(all.contains("next"));
}

TEST_F(HistoryAnswers, EventShowsEveryFindingWithItsScore)
{
    const json a = ask(R"({"cmd":"event","unique_id":")" + m_events[6].event.unique_id + "\"}");
    ASSERT_EQ(a.value("ok", false), true) << a.dump();
    EXPECT_EQ(a["from"], "history");
    const json& e = a["event"];
    EXPECT_EQ(e["source"], "module");
    EXPECT_EQ(e["engine"], "on");
    EXPECT_EQ(e["verdict"], "intercepted");
    ASSERT_EQ(e["rules"].size(), 3U);
    EXPECT_EQ(e["rules"][0]["id"], "942100");
    EXPECT_EQ(e["rules"][0]["score"], 5);
    EXPECT_EQ(e["rules"][0]["target"], "ARGS:id");
    EXPECT_EQ(e["rules"][0]["data"], "data 6");
    EXPECT_EQ(e["rules"][1]["id"], "941100");
    EXPECT_EQ(e["rules"][1]["score"], 3);
    EXPECT_EQ(e["rules"][2]["id"], "949110");
    EXPECT_EQ(e["rules"][2]["score"], 0);
    EXPECT_EQ(e["score_sum"], 8);
    EXPECT_EQ(e["scores"]["inbound_threshold"], 5);
    // With the source: only that source's event.
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":")" + m_events[6].event.unique_id +
                  R"(","source":"import:old"})"),
              json({{"use_ring", true}}));
    // Not in history: the loop asks the ring.
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":"nope"})"), json({{"use_ring", true}}));
}

TEST_F(HistoryAnswers, TimeseriesFromTheMinuteCounts)
{
    const json a = ask(R"({"cmd":"timeseries","resolution":"minute","window":172800,)"
                       R"("rule":"941100"})");
    ASSERT_EQ(a.value("ok", false), true) << a.dump();
    ASSERT_EQ(a["series"].size(), 1U);
    const json& s = a["series"][0];
    EXPECT_EQ(s["vhost"], "shop.example.com");
    EXPECT_EQ(s["resolution"], "minute");
    ASSERT_EQ(s["points"].size(), 1U); // k_t0 is on a minute; 30 s of events
    const json& p = s["points"][0];
    EXPECT_EQ(p["events"], 30);
    EXPECT_EQ(p["flagged"], 30);
    EXPECT_EQ(p["intercepted"], 15);
    EXPECT_EQ(p["rule_hits"], 10);
    EXPECT_FALSE(p.contains("requests")); // history does not know unflagged requests
}

// A list of vhosts: each listed one once, by name, also without points; not the job's
// live vhosts.
TEST_F(HistoryAnswers, TimeseriesOfListedVhosts)
{
    const std::string window = R"("resolution":"minute","window":172800,"rule":"941100")";
    const json one = ask(R"({"cmd":"timeseries","vhost":"shop.example.com",)" + window + "}");
    ASSERT_EQ(one["series"].size(), 1U) << one.dump();
    const json a = ask(R"({"cmd":"timeseries","vhosts":["shop.example.com","nobody.example",)"
                       R"("shop.example.com"],)" +
                       window + "}");
    ASSERT_EQ(a.value("ok", false), true) << a.dump();
    EXPECT_EQ(a["from"], "history");
    ASSERT_EQ(a["series"].size(), 2U) << a.dump();
    EXPECT_EQ(a["series"][0], json::parse(R"({"vhost":"nobody.example","resolution":"minute",)"
                                          R"("points":[]})"));
    EXPECT_EQ(a["series"][1], one["series"][0]);

    const json imported = ask(R"({"cmd":"timeseries","vhosts":["shop.example.com","x.example"],)"
                              R"("source":"import:old","resolution":"hour","window":2592000})");
    ASSERT_EQ(imported["series"].size(), 2U) << imported.dump();
    EXPECT_EQ(imported["series"][0]["vhost"], "shop.example.com");
    EXPECT_EQ(imported["series"][0]["source"], "import:old");
    std::uint64_t events = 0;
    for (const json& p : imported["series"][0]["points"]) {
        events += p["events"].get<std::uint64_t>();
    }
    EXPECT_EQ(events, 15U);
    EXPECT_EQ(imported["series"][1], json::parse(R"({"vhost":"x.example","resolution":"hour",)"
                                                 R"("points":[],"source":"import:old"})"));
}

// The corpus's time: k_t0 plus `s` seconds, as answers write it.
std::string corpus_time(int s)
{
    return iso_time_s(k_t0 / 1'000'000 + s);
}

// The window that starts `s` seconds into the corpus.
std::string window_from(int s)
{
    return std::to_string(k_now - (k_t0 / 1'000'000 + s));
}

TEST_F(HistoryAnswers, StatsOverALongWindow)
{
    const json a = ask(R"({"cmd":"stats","window":604800,"rules_limit":2,"top_clients":2})");
    ASSERT_EQ(a.value("ok", false), true) << a.dump();
    EXPECT_EQ(a["from"], "history");
    const auto rule = [](const char* id, const char* msg, int hits, int last) {
        return json{{"id", id}, {"msg", msg}, {"hits", hits}, {"last_seen", corpus_time(last)}};
    };
    const auto client = [](const char* ip) {
        return json{{"value", ip}, {"count", 1}, {"error", 0}};
    };
    const json expected = json::array(
        {json{{"vhost", "shop.example.com"},
              {"window_s", 604800},
              {"since", iso_time_s(k_now - 604800)},
              {"events", 30},
              {"flagged", 30},
              {"intercepted", 15},
              {"would_block", 15},
              {"rules", json::array({rule("949110", "Inbound Anomaly Score Exceeded", 30, 29),
                                     rule("920350", "message 29", 15, 29)})},
              {"top_clients", json::array({client("203.0.113.0"), client("203.0.113.1")})}}});
    EXPECT_EQ(a["vhosts"], expected);
    // From the 20th second: events 20 to 29, to the second.
    const json part =
        ask(R"({"cmd":"stats","vhost":"shop.example.com","window":)" + window_from(20) + "}");
    ASSERT_EQ(part["vhosts"].size(), 1U) << part.dump();
    const json& v = part["vhosts"][0];
    EXPECT_EQ(v["since"], corpus_time(20));
    EXPECT_EQ(v["events"], 10);
    EXPECT_EQ(v["intercepted"], 5);
    EXPECT_EQ(v["would_block"], 5);
    EXPECT_EQ(v["rules"].size(), 4U);
    EXPECT_FALSE(v.contains("top_clients")); // not asked for
    EXPECT_FALSE(v.contains("requests"));    // history does not know unflagged requests
    EXPECT_EQ(ask(R"({"cmd":"stats","vhost":"nope","window":604800})")["vhosts"], json::array());
}

TEST_F(HistoryAnswers, RulesOverALongWindow)
{
    const json a = ask(R"({"cmd":"rules","window":604800})");
    ASSERT_EQ(a.value("ok", false), true) << a.dump();
    EXPECT_EQ(a["from"], "history");
    const auto row = [](const char* id, const std::string& msg, int hits, int last) {
        return json{{"vhost", "shop.example.com"},
                    {"id", id},
                    {"msg", msg},
                    {"hits", hits},
                    {"last_seen", corpus_time(last)}};
    };
    EXPECT_EQ(a["rules"],
              json::array({row("949110", "Inbound Anomaly Score Exceeded", 30, 29),
                           row("920350", "message 29", 15, 29), row("942100", "message 28", 15, 28),
                           row("941100", "message 27", 10, 27)}));
    // Events 20 to 29: 941100 fired in 21, 24 and 27. With a rule, the rows also carry
    // where it matched in the window (not without one: the answer above has no lists).
    const json part = ask(R"({"cmd":"rules","vhost":"shop.example.com","rule":"941100",)"
                          R"("window":)" +
                          window_from(20) + "}");
    json with_lists = row("941100", "message 27", 3, 27);
    with_lists["top_paths"] = json::parse(R"([{"value":"/cart/checkout","count":3,"error":0}])");
    with_lists["top_targets"] = json::parse(R"([{"value":"ARGS:id","count":3,"error":0}])");
    with_lists["top_pairs"] =
        json::parse(R"([{"path":"/cart/checkout","target":"ARGS:id","count":3}])");
    EXPECT_EQ(part["rules"], json::array({with_lists}));
    // 949110's findings have no target; imported events only, with a source.
    const json score = ask(R"({"cmd":"rules","rule":"949110","source":"import:old",)"
                           R"("window":604800})");
    ASSERT_EQ(score["rules"].size(), 1U) << score.dump();
    EXPECT_EQ(score["rules"][0]["hits"], 15);
    EXPECT_EQ(score["rules"][0]["top_paths"],
              json::parse(R"([{"value":"/cart/checkout","count":15,"error":0}])"));
    EXPECT_EQ(score["rules"][0]["top_targets"], json::array());
    EXPECT_FALSE(score["rules"][0].contains("top_since"));
    EXPECT_EQ(ask(R"({"cmd":"rules","vhost":"nope","window":60})")["rules"], json::array());
}

TEST_F(HistoryAnswers, TopOverALongWindowIsExact)
{
    const json clients = ask(R"({"cmd":"top","list":"clients","limit":2,"window":604800})");
    ASSERT_EQ(clients.value("ok", false), true) << clients.dump();
    EXPECT_EQ(clients, json::parse(R"({"ok": true, "from": "history", "top": [
        {"value": "203.0.113.0", "count": 1, "error": 0},
        {"value": "203.0.113.1", "count": 1, "error": 0}], "error_bound": 0})"));
    // Targets count findings: ARGS:id in each event, twice in every third one.
    EXPECT_EQ(
        ask(R"({"cmd":"top","list":"targets","vhost":"shop.example.com","window":604800})")["top"],
        json::parse(R"([{"value":"ARGS:id","count":40,"error":0,"vhost":"shop.example.com"}])"));
    EXPECT_EQ(ask(R"({"cmd":"top","list":"paths","window":)" + window_from(25) + "}")["top"],
              json::parse(R"([{"value":"/cart/checkout","count":5,"error":0}])"));
    EXPECT_EQ(ask(R"({"cmd":"top","list":"agents","window":604800})")["top"][0]["count"], 30);
}

// A service over the corpus whose deliver holds every answer until release(): a test
// submits a job, waits until the worker took it (it then waits in deliver), and queues
// more behind it.
class HeldService {
public:
    explicit HeldService(std::size_t max_queue = k_history_queue)
    {
        auto store = HistoryStore::open(m_dir.db());
        EXPECT_TRUE(store) << store.error();
        EXPECT_TRUE(store->write_batch(corpus()));
        m_service.emplace(
            m_dir.db(),
            [this](HistoryAnswer a) {
                std::unique_lock lock(m_mutex);
                m_changed.wait(lock, [&] { return !m_hold; });
                m_answers.push_back(std::move(a));
                m_changed.notify_all();
            },
            max_queue);
    }
    HeldService(const HeldService&) = delete;
    HeldService& operator=(const HeldService&) = delete;
    ~HeldService()
    {
        {
            const std::lock_guard lock(m_mutex);
            m_hold = false; // a test that stopped early must not leave the worker waiting
        }
        m_changed.notify_all();
        m_service.reset();
    }
    HistoryService& service() { return *m_service; }
    // Submits `line` for `client` and waits until the worker took it.
    void submit_first(std::uint64_t client, const std::string& line)
    {
        ASSERT_TRUE(m_service->submit(job(client, line)));
        for (int i = 0; i < 6000 && m_service->counters().queued != 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    // Lets the answers go; the first `n` of them, in delivery order.
    std::vector<HistoryAnswer> release(std::size_t n)
    {
        std::unique_lock lock(m_mutex);
        m_hold = false;
        m_changed.notify_all();
        EXPECT_TRUE(m_changed.wait_for(lock, std::chrono::seconds(60),
                                       [&] { return m_answers.size() >= n; }));
        return m_answers;
    }
    // Once released: submits `line` as the next client (1, 2, ...) and returns its answer.
    json answer(const std::string& line, std::int64_t now)
    {
        ++m_next_client;
        EXPECT_TRUE(m_service->submit(job(m_next_client, line, now)));
        return json::parse(release(m_next_client).at(m_next_client - 1).line);
    }
    static HistoryJob job(std::uint64_t client, const std::string& line, std::int64_t now = k_now)
    {
        HistoryJob j;
        j.client = client;
        j.line = line;
        j.query = parsed(line);
        j.wall_now = now;
        return j;
    }

private:
    test::TempDir m_dir;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<HistoryAnswer> m_answers;
    bool m_hold = true;
    std::uint64_t m_next_client = 0;
    std::optional<HistoryService> m_service; // last: its worker uses the members above
};

TEST(HistoryService, AnswersInOrderRefusesWhenFullReportsErrors)
{
    HeldService held(2);
    HistoryService& service = held.service();
    const auto job = [](std::uint64_t client, const std::string& line) {
        return HeldService::job(client, line);
    };
    held.submit_first(1, R"({"cmd":"events","limit":1})");
    ASSERT_TRUE(service.submit(job(2, R"({"cmd":"events","limit":2})")));
    ASSERT_TRUE(service.submit(job(3, R"({"cmd":"event","unique_id":"nope"})")));
    EXPECT_FALSE(service.submit(job(4, R"({"cmd":"events"})")));
    EXPECT_EQ(service.counters().refused, 1U);
    const std::vector<HistoryAnswer> answers = held.release(3);
    ASSERT_EQ(answers.size(), 3U);
    EXPECT_EQ(answers[0].client, 1U);
    EXPECT_EQ(answers[1].client, 2U);
    EXPECT_EQ(answers[2].client, 3U);
    EXPECT_EQ(json::parse(answers[0].line)["events"].size(), 1U);
    EXPECT_EQ(json::parse(answers[1].line)["events"].size(), 2U);
    EXPECT_TRUE(answers[2].use_ring);
    EXPECT_EQ(service.counters().answered, 3U);
    EXPECT_EQ(service.counters().errors, 0U);
}

// Jobs waiting with the question the worker takes get its answer, computed once with the
// newest clock among them; other jobs wait their turn; every client's order holds.
TEST(HistoryService, SameQuestionsWaitingShareOneAnswer)
{
    HeldService held;
    HistoryService& service = held.service();
    const std::string top = R"({"cmd":"top","list":"clients","window":3600})";
    held.submit_first(1, R"({"cmd":"events","limit":1})");
    // The first `top` asks an hour before anything was stored; the later ones an hour
    // that holds the corpus: the shared answer is theirs.
    ASSERT_TRUE(service.submit(HeldService::job(2, top, k_t0 / 1'000'000 - 10)));
    ASSERT_TRUE(service.submit(HeldService::job(3, R"({"cmd":"events","limit":2})")));
    ASSERT_TRUE(service.submit(HeldService::job(4, top, k_now)));
    ASSERT_TRUE(service.submit(HeldService::job(5, top, k_t0 / 1'000'000 + 60)));
    const std::vector<HistoryAnswer> answers = held.release(5);
    ASSERT_EQ(answers.size(), 5U);
    std::vector<std::uint64_t> order;
    for (const HistoryAnswer& a : answers) {
        order.push_back(a.client);
    }
    EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 4, 5, 2, 3}));
    EXPECT_EQ(answers[1].line, answers[2].line);
    EXPECT_EQ(answers[1].line, answers[3].line);
    EXPECT_EQ(answers[3].request, top);
    const json shared = json::parse(answers[3].line);
    ASSERT_EQ(shared.value("ok", false), true) << answers[3].line;
    EXPECT_FALSE(shared["top"].empty()) << "the answer used the first job's clock, not the newest";
    EXPECT_EQ(json::parse(answers[4].line)["events"].size(), 2U);
    EXPECT_EQ(service.counters().answered, 5U);
    EXPECT_EQ(service.counters().shared, 2U);
}

// A `top` with `max_age` is answered with the last answer to the same question while it is
// no older than that, without reading the store; a question without it, another max_age,
// or an answer grown too old reads the store.
TEST(HistoryService, AnAnswerNoOlderThanMaxAgeIsReused)
{
    HeldService held;
    (void)held.release(0); // answers are delivered as they come
    const std::string kept = R"({"cmd":"top","list":"clients","window":3600,"max_age":300})";
    // An hour before the corpus: nothing; kept, with the window's end.
    const json first = held.answer(kept, k_before_corpus);
    EXPECT_TRUE(first["top"].empty()) << first.dump();
    EXPECT_EQ(first["as_of"], iso_time_s(k_before_corpus));
    // The same question an hour later: the kept answer (the store would say otherwise).
    EXPECT_EQ(held.answer(kept, k_now), first);
    EXPECT_EQ(held.service().counters().shared, 1U);
    // Without max_age: the store, and no as_of.
    const json fresh = held.answer(R"({"cmd":"top","list":"clients","window":3600})", k_now);
    EXPECT_FALSE(fresh["top"].empty()) << fresh.dump();
    EXPECT_FALSE(fresh.contains("as_of"));
    // A one-second max_age: kept, then too old once a second has passed.
    const std::string brief = R"({"cmd":"top","list":"clients","window":3600,"max_age":1})";
    EXPECT_TRUE(held.answer(brief, k_before_corpus)["top"].empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const json later = held.answer(brief, k_now);
    EXPECT_FALSE(later["top"].empty()) << later.dump();
    EXPECT_EQ(later["as_of"], iso_time_s(k_now));
    EXPECT_EQ(held.service().counters().shared, 1U);
    EXPECT_EQ(held.service().counters().answered, 5U);
}

// At most k_recent_answers are kept, the oldest going first.
TEST(HistoryService, KeepsTheNewestAnswersOnly)
{
    HeldService held;
    (void)held.release(0); // answers are delivered as they come
    const auto line = [](std::size_t limit) {
        return R"({"cmd":"top","list":"clients","window":3600,"limit":)" + std::to_string(limit) +
               R"(,"max_age":300})";
    };
    // k_recent_answers + 1 questions before the corpus: each answer is empty.
    for (std::size_t i = 1; i <= k_recent_answers + 1; ++i) {
        ASSERT_TRUE(held.answer(line(i), k_before_corpus)["top"].empty());
    }
    // The newest is still kept (empty, though the store now has rows); the first was
    // evicted, so the store is read again.
    EXPECT_TRUE(held.answer(line(k_recent_answers + 1), k_now)["top"].empty());
    EXPECT_FALSE(held.answer(line(1), k_now)["top"].empty());
    EXPECT_EQ(held.service().counters().shared, 1U);
}

TEST(HistoryService, MissingStoreIsAnErrorAnswer)
{
    test::TempDir dir;
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<HistoryAnswer> answer;
    HistoryService service(dir.path() + "/absent/history.db", [&](HistoryAnswer a) {
        const std::lock_guard lock(mutex);
        answer = std::move(a);
        changed.notify_all();
    });
    HistoryJob j;
    j.client = 9;
    j.line = R"({"cmd":"events"})";
    j.query = parsed(j.line);
    ASSERT_TRUE(service.submit(std::move(j)));
    std::unique_lock lock(mutex);
    ASSERT_TRUE(
        changed.wait_for(lock, std::chrono::seconds(60), [&] { return answer.has_value(); }));
    EXPECT_EQ(answer->client, 9U);
    const json a = json::parse(answer->line);
    EXPECT_EQ(a["ok"], false);
    EXPECT_TRUE(a["error"].get<std::string>().starts_with("history: cannot open ")) << a.dump();
    lock.unlock();
    EXPECT_EQ(service.counters().errors, 1U);
}

} // namespace
} // namespace mso

namespace mso {
namespace {

// Even events came from the module, odd ones from import:old (corpus()).
TEST_F(HistoryAnswers, StatsRulesTimeseriesBySource)
{
    const json imported = ask(R"({"cmd":"stats","source":"import:old"})");
    ASSERT_EQ(imported.value("ok", false), true) << imported.dump();
    EXPECT_EQ(imported["from"], "history");
    ASSERT_EQ(imported["vhosts"].size(), 1U) << imported.dump();
    const json& v = imported["vhosts"][0];
    EXPECT_EQ(v["source"], "import:old");
    EXPECT_EQ(v["events"], 15);
    EXPECT_EQ(v["intercepted"], 0);
    std::set<std::string> ids;
    for (const json& r : v["rules"]) {
        ids.insert(r["id"].get<std::string>());
    }
    // 942100 is the module's alone.
    EXPECT_EQ(ids, (std::set<std::string>{"920350", "941100", "949110"}));

    const json module = ask(R"({"cmd":"stats","source":"module","window":604800})");
    ASSERT_EQ(module["vhosts"].size(), 1U) << module.dump();
    EXPECT_EQ(module["vhosts"][0]["events"], 15);
    EXPECT_EQ(module["vhosts"][0]["intercepted"], 15);

    const json rules = ask(R"({"cmd":"rules","source":"import:old","rule":"920350"})");
    ASSERT_EQ(rules["rules"].size(), 1U) << rules.dump();
    EXPECT_EQ(rules["rules"][0]["hits"], 15);
    EXPECT_EQ(rules["rules"][0]["source"], "import:old");
    EXPECT_EQ(rules["rules"][0]["last_seen"], corpus_time(29));
    const json module_rules = ask(R"({"cmd":"rules","source":"module","rule":"920350"})");
    EXPECT_EQ(module_rules["rules"], json::array()) << module_rules.dump();

    const json series =
        ask(R"({"cmd":"timeseries","source":"import:old","resolution":"hour","window":2592000})");
    ASSERT_EQ(series["series"].size(), 1U) << series.dump();
    std::uint64_t events = 0;
    for (const json& p : series["series"][0]["points"]) {
        events += p["events"].get<std::uint64_t>();
    }
    EXPECT_EQ(events, 15U);
    EXPECT_EQ(ask(R"({"cmd":"stats","source":"import:none"})")["vhosts"], json::array());

    // top: the odd events' clients (203.0.113.1, .3, ...), each once.
    const json clients = ask(R"({"cmd":"top","list":"clients","source":"import:old","limit":3})");
    EXPECT_EQ(clients, json::parse(R"({"ok": true, "from": "history", "top": [
        {"value": "203.0.113.1", "count": 1, "error": 0, "source": "import:old"},
        {"value": "203.0.113.11", "count": 1, "error": 0, "source": "import:old"},
        {"value": "203.0.113.13", "count": 1, "error": 0, "source": "import:old"}],
        "error_bound": 0})"));
    // ARGS:id in each of a source's 15 events, twice in 5 of them (every third event).
    EXPECT_EQ(ask(R"({"cmd":"top","list":"targets","vhost":"shop.example.com",)"
                  R"("source":"import:old"})")["top"],
              json::parse(R"([{"value": "ARGS:id", "count": 20, "error": 0,
                               "vhost": "shop.example.com", "source": "import:old"}])"));
    EXPECT_EQ(ask(R"({"cmd":"top","list":"agents","source":"module","window":604800})")["top"][0]
                                                                                       ["count"],
              15);
    EXPECT_EQ(ask(R"({"cmd":"top","list":"clients","source":"import:none"})")["top"],
              json::array());
}

TEST_F(HistoryAnswers, SourcesCountsTheStoredEventsPerSource)
{
    HistoryJob job;
    job.line = R"({"cmd":"sources"})";
    job.query = parsed(job.line);
    job.wall_now = k_now;
    job.live = R"({"ok":true,"from":"memory","sources":[{"source":"module","events":3}]})";
    const HistoryAnswer a = answer_from_history(*m_store, job);
    const json out = json::parse(a.line, nullptr, false);
    ASSERT_EQ(out.value("ok", false), true) << a.line;
    EXPECT_EQ(out["from"], "memory+history");
    EXPECT_EQ(out["sources"][0]["events"], 3); // the live part, as the loop answered it
    ASSERT_EQ(out["history"].size(), 2U) << a.line;
    EXPECT_EQ(out["history"][0]["source"], "import:old");
    EXPECT_EQ(out["history"][0]["events"], 15);
    EXPECT_EQ(out["history"][0]["last_event_time_us"], m_events[29].event.time_us);
    EXPECT_EQ(out["history"][1]["source"], "module");
    EXPECT_EQ(out["history"][1]["events"], 15);
}

TEST(RouteQuery, SourceFilters)
{
    const auto route = [](const std::string& line, bool in_memory) {
        return route_query(parsed(line), true, std::nullopt, k_now, in_memory);
    };
    // A source memory has no aggregates of (an import): history, with or without a window.
    EXPECT_EQ(route(R"({"cmd":"stats","source":"import:old"})", false), Route::history);
    EXPECT_EQ(route(R"({"cmd":"rules","source":"import:old"})", false), Route::history);
    EXPECT_EQ(route(R"({"cmd":"timeseries","source":"import:old"})", false), Route::history);
    // A live source: as without one.
    EXPECT_EQ(route(R"({"cmd":"stats","source":"sensor:a"})", true), Route::memory);
    EXPECT_EQ(route(R"({"cmd":"rules","source":"sensor:a","window":60})", true), Route::history);
    EXPECT_EQ(route(R"({"cmd":"top","list":"clients","source":"import:old"})", false),
              Route::history);
    EXPECT_EQ(route(R"({"cmd":"top","list":"clients","source":"import:old","window":60})", false),
              Route::history);
    EXPECT_EQ(route(R"({"cmd":"top","list":"clients","source":"sensor:a"})", true), Route::memory);
    EXPECT_EQ(route(R"({"cmd":"top","list":"paths","source":"sensor:a","window":60})", true),
              Route::history);
    EXPECT_EQ(route(R"({"cmd":"sources"})", true), Route::history);
    EXPECT_EQ(route_query(parsed(R"({"cmd":"sources"})"), false, std::nullopt, k_now),
              Route::memory);
}

} // namespace
} // namespace mso
