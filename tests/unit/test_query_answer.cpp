// Answering queries without sockets: answer_query() against a Collector fed with real
// datagrams (so the health counters are checked end to end through the decoder).
#include "state/query_answer.h"

#include "event_decoder.h"
#include "sensor_event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using json = nlohmann::ordered_json;
using Clock = mso::Collector::Clock;
using mso::test_support::sensor_event;

constexpr const char* k_request =
    R"({"v":1,"type":"request","time_us":1763739600123456,"vhost":"shop.example","port":443,)"
    R"("client":"203.0.113.7","method":"GET","path":"/search","status":403,)"
    R"("protocol":"HTTP/1.1","intercepted":true,"phase":2,"scores":null,"findings":[)"
    R"({"id":"942100","msg":"SQL Injection","severity":"CRITICAL","pl":1,"phase":2,)"
    R"("tags":[],"target":"ARGS:id","data":"","intercepted":false,"truncated":false},)"
    R"({"id":"942100","msg":"SQL Injection","severity":"CRITICAL","pl":1,"phase":2,)"
    R"("tags":[],"target":"ARGS:q","data":"","intercepted":false,"truncated":false}]})";
constexpr const char* k_counters =
    R"({"v":1,"type":"counters","vhost":"shop.example","port":443,"pid":4242,)"
    R"("requests":1200,"status":{"200":1180,"304":20},"events_lost":2})";
constexpr const char* k_other_counters =
    R"({"v":1,"type":"counters","vhost":"blog.example","port":80,"pid":1,)"
    R"("requests":3,"status":{"200":3},"events_lost":0})";

class AnswerQuery : public ::testing::Test {
protected:
    const Clock::time_point m_start{std::chrono::seconds(1000)};
    mso::Collector m_collector{m_start};

    static constexpr std::int64_t k_wall = 1763739600 + 30; // 30 s after the data arrived

    // The daemon passes read_memory_usage() (daemon/metrics.h); answers read no /proc.
    static mso::MemoryUsage fake_memory() { return {3U << 20U, 4U << 20U}; }

    json ask(const std::string& line, Clock::duration after = {})
    {
        const std::string answer =
            mso::answer(line, m_collector, m_start + after, k_wall, &fake_memory).line;
        EXPECT_EQ(answer.find('\n'), std::string::npos);
        json parsed = json::parse(answer, nullptr, false);
        EXPECT_FALSE(parsed.is_discarded()) << answer;
        return parsed;
    }

    // Checks and removes the memory fields of a health answer (they vary); returns how
    // many there were. They follow "uptime_s".
    static int take_memory(json& health)
    {
        int found = 0;
        for (const char* key : {"rss_bytes", "rss_peak_bytes"}) {
            SCOPED_TRACE(key);
            const auto it = health.find(key);
            if (it == health.end()) {
                continue;
            }
            EXPECT_TRUE(it->is_number_unsigned());
            EXPECT_GT(it->get<std::uint64_t>(), 1024U * 1024U); // a process is bigger than 1 MiB
            health.erase(key);
            ++found;
        }
        return found;
    }

    void feed()
    {
        EXPECT_FALSE(m_collector.ingest(k_request, 1763739600).has_value());
        EXPECT_FALSE(m_collector.ingest(k_counters, 1763739600).has_value());
        EXPECT_FALSE(m_collector.ingest(k_other_counters, 1763739600).has_value());
    }
};

TEST_F(AnswerQuery, StatsAllAndFiltered)
{
    feed();
    json all = ask(R"({"cmd":"stats"})");
    EXPECT_EQ(all["ok"], true);
    ASSERT_EQ(all["vhosts"].size(), 2u);
    EXPECT_EQ(all["vhosts"][0]["vhost"], "blog.example");
    EXPECT_EQ(all["vhosts"][1]["vhost"], "shop.example");

    json shop = ask(R"({"cmd":"stats","vhost":"shop.example"})");
    const json expected = json::parse(R"({"ok": true, "vhosts": [
        {"vhost": "shop.example", "ports": [443],
         "requests": 1201, "flagged": 1, "intercepted": 1, "would_block": 0, "events": 1,
         "truncated_findings": 0, "engine_messages": 0, "events_without_scores": 1, "events_lost": 2,
         "first_seen": "2025-11-21T15:40:00Z", "last_seen": "2025-11-21T15:40:00Z",
         "status": {"200": 1180, "304": 20, "403": 1},
         "scores": {
             "inbound": {"bounds": [0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 25, 30, 50, 100],
                         "counts": [1198, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                         "sum": 0, "count": 1198},
             "outbound": {"bounds": [0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 25, 30, 50, 100],
                          "counts": [1198, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                          "sum": 0, "count": 1198}},
         "rules": [{"id": "942100", "msg": "SQL Injection", "severity": "CRITICAL", "pl": 1,
                    "hits": 1, "matches": 2, "first_seen": "2025-11-21T15:40:00Z", "last_seen": "2025-11-21T15:40:00Z"}]}]})");
    EXPECT_EQ(shop, expected);

    EXPECT_EQ(ask(R"({"cmd":"stats","vhost":"nope"})"), json::parse(R"({"ok":true,"vhosts":[]})"));
    EXPECT_EQ(m_collector.bad_queries(), 0u);
}

TEST_F(AnswerQuery, ErrorsAreCountedAsBadQueries)
{
    const std::vector<std::string> bad = {"nonsense", "{}", R"({"cmd":"reset"})",
                                          R"({"cmd":"stats","vhost":false})"};
    for (const std::string& line : bad) {
        SCOPED_TRACE(line);
        json answer = ask(line);
        EXPECT_EQ(answer["ok"], false);
        ASSERT_TRUE(answer["error"].is_string());
        EXPECT_FALSE(answer["error"].get<std::string>().empty());
        EXPECT_EQ(answer.size(), 2u);
    }
    EXPECT_EQ(m_collector.bad_queries(), bad.size());
    EXPECT_EQ(ask(R"({"cmd":"health"})")["bad_queries"], bad.size());
}

TEST_F(AnswerQuery, HealthCounters)
{
    feed();
    const std::vector<std::pair<std::string, const char*>> malformed = {
        {"not json at all", "not_json"},
        {"[1]", "not_object"},
        {R"({"v":3,"type":"request"})", "bad_version"},
        {R"({"v":1,"type":"counters"})", "missing_field"},
        {R"({"v":1,"type":"nope"})", "unknown_type"},
        {"{", "not_json"},
    };
    for (const auto& [datagram, reason] : malformed) {
        SCOPED_TRACE(datagram);
        const auto failure = m_collector.ingest(datagram, 1763739600);
        ASSERT_TRUE(failure.has_value());
        EXPECT_STREQ(mso::reason_name(failure->reason), reason);
    }
    m_collector.count_malformed(mso::DecodeError::too_large);
    (void)ask("bad query");

    json health = ask(R"({"cmd":"health"})", std::chrono::milliseconds(3723500));
    EXPECT_EQ(take_memory(health), 2);
    const json expected = json::parse(R"({"ok": true, "uptime_s": 3723, "datagrams": 10,
        "request_events": 1, "counter_reports": 2, "malformed": 7,
        "malformed_by_reason": {"too_large": 1, "not_json": 2, "not_object": 1,
                                "bad_version": 1, "unknown_type": 1, "missing_field": 1},
        "bad_queries": 1, "refused_clients": 0, "tail_dropped": 0, "tail_clients": 0,
        "rejected_senders": 0,
        "rejected_query_peers": 0, "dropped_at_bounds": 0,
        "events_lost": 2, "ring_events": 1, "ring_capacity": 10000, "vhosts": 2,
        "snapshot_loaded": false, "snapshot_last_saved": "", "snapshot_last_error": "",
        "snapshot_set_aside": "", "history": {"enabled": false, "set_aside": ""},
        "import": {"connections": 0, "events": 0, "inserted": 0, "duplicates": 0,
                   "malformed": 0, "lost": 0, "too_old": 0}})");
    EXPECT_EQ(health, expected);
}

TEST_F(AnswerQuery, HealthShowsWhatImportsDid)
{
    mso::ImportCounters& imports = m_collector.import_counters();
    imports.connections = 2;
    imports.events = 40;
    imports.inserted = 30;
    imports.duplicates = 9;
    imports.malformed = 3;
    imports.lost = 1;
    imports.too_old = 4;
    EXPECT_EQ(ask(R"({"cmd":"health"})")["import"],
              json::parse(R"({"connections": 2, "events": 40, "inserted": 30,
                  "duplicates": 9, "malformed": 3, "lost": 1, "too_old": 4})"));
}

TEST_F(AnswerQuery, HealthShowsTheHistoryStore)
{
    mso::HistoryStatus& history = m_collector.history_status();
    history.enabled = true;
    history.path = "/var/lib/mso/history.db";
    history.written = 10;
    history.duplicates = 1;
    history.queue_full = 2;
    history.disk_full = 3;
    history.io_errors = 4;
    history.batches = 5;
    history.pruned = 6;
    history.queued = 7;
    history.file_bytes = 8192;
    history.last_error = "database or disk is full";
    history.queries = 11;
    history.queries_refused = 12;
    history.query_errors = 13;
    history.queries_shared = 14;
    history.set_aside = "/var/lib/mso/history.db.corrupt-1";
    EXPECT_EQ(ask(R"({"cmd":"health"})")["history"], json::parse(R"({"enabled": true,
        "path": "/var/lib/mso/history.db", "written": 10, "duplicates": 1, "queue_full": 2,
        "disk_full": 3, "io_errors": 4, "batches": 5, "pruned": 6, "queued": 7,
        "file_bytes": 8192, "last_error": "database or disk is full", "queries": 11,
        "queries_refused": 12, "query_errors": 13, "queries_shared": 14,
        "set_aside": "/var/lib/mso/history.db.corrupt-1"})"));
}

TEST_F(AnswerQuery, HealthOfAFreshCollector)
{
    json health = ask(R"({"cmd":"health"})");
    std::vector<std::string> first_keys;
    for (auto it = health.begin(); it != health.end() && first_keys.size() < 4; ++it) {
        first_keys.push_back(it.key());
    }
    EXPECT_EQ(first_keys,
              (std::vector<std::string>{"ok", "uptime_s", "rss_bytes", "rss_peak_bytes"}));
    EXPECT_EQ(take_memory(health), 2);
    EXPECT_EQ(health, json::parse(R"({"ok": true, "uptime_s": 0,
        "datagrams": 0, "request_events": 0, "counter_reports": 0, "malformed": 0,
        "malformed_by_reason": {}, "bad_queries": 0, "refused_clients": 0, "tail_dropped": 0,
        "tail_clients": 0,
        "rejected_senders": 0, "rejected_query_peers": 0, "dropped_at_bounds": 0, "events_lost": 0, "ring_events": 0, "ring_capacity": 10000,
        "vhosts": 0, "snapshot_loaded": false, "snapshot_last_saved": "",
        "snapshot_last_error": "", "snapshot_set_aside": "",
        "history": {"enabled": false, "set_aside": ""},
        "import": {"connections": 0, "events": 0, "inserted": 0, "duplicates": 0,
                   "malformed": 0, "lost": 0, "too_old": 0}})"));
}

} // namespace

TEST_F(AnswerQuery, VhostsRulesTopAndTimeseries)
{
    feed();
    const json vhosts = ask(R"({"cmd":"vhosts"})")["vhosts"];
    ASSERT_EQ(vhosts.size(), 2u);
    EXPECT_EQ(vhosts[1], json::parse(R"({"vhost": "shop.example", "requests": 1201,
        "flagged": 1, "intercepted": 1, "would_block": 0, "rules": 1,
        "first_seen": "2025-11-21T15:40:00Z", "last_seen": "2025-11-21T15:40:00Z"})"));

    const json rules = ask(R"({"cmd":"rules","vhost":"shop.example","rule":"942100"})")["rules"];
    ASSERT_EQ(rules.size(), 1u);
    EXPECT_EQ(rules[0]["hits"], 1);
    EXPECT_EQ(rules[0]["matches"], 2);
    EXPECT_EQ(rules[0]["top_paths"], json::parse(R"([{"value":"/search","count":1,"error":0}])"));
    EXPECT_EQ(
        rules[0]["top_targets"],
        json::parse(
            R"([{"value":"ARGS:id","count":1,"error":0},{"value":"ARGS:q","count":1,"error":0}])"));
    EXPECT_TRUE(ask(R"({"cmd":"rules","rule":"1"})")["rules"].empty());

    EXPECT_EQ(ask(R"({"cmd":"top","list":"clients"})")["top"],
              json::parse(R"([{"value":"203.0.113.7","count":1,"error":0}])"));
    EXPECT_EQ(ask(R"({"cmd":"top","list":"targets","vhost":"shop.example","limit":1})")["top"],
              json::parse(R"([{"value":"ARGS:id","count":1,"error":0,"vhost":"shop.example"}])"));
    EXPECT_TRUE(ask(R"({"cmd":"top","list":"paths","vhost":"blog.example"})")["top"].empty());

    const json series =
        ask(R"({"cmd":"timeseries","vhost":"shop.example","rule":"942100"})")["series"];
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series[0]["points"], json::parse(R"([{"time": "2025-11-21T15:40:00Z",
        "requests": 1201, "flagged": 1, "intercepted": 1, "would_block": 0, "rule_hits": 1}])"));
}

// The Overview's sparklines: the listed vhosts' series, each looked up, in the shape of
// the per-vhost answers; a listed vhost the collector does not know has empty points.
TEST_F(AnswerQuery, TimeseriesOfListedVhosts)
{
    feed();
    const json a = ask(R"({"cmd":"timeseries","vhosts":["shop.example","nobody.example",)"
                       R"("blog.example","shop.example"],"rule":"942100"})");
    ASSERT_EQ(a["ok"], true) << a.dump();
    const json& series = a["series"];
    ASSERT_EQ(series.size(), 3U) << a.dump();
    EXPECT_EQ(series[0],
              ask(R"({"cmd":"timeseries","vhost":"blog.example","rule":"942100"})")["series"][0]);
    EXPECT_EQ(series[1],
              ask(R"({"cmd":"timeseries","vhost":"shop.example","rule":"942100"})")["series"][0]);
    EXPECT_EQ(series[1]["points"][0]["rule_hits"], 1);
    EXPECT_EQ(series[2], json::parse(R"({"vhost":"nobody.example","resolution":"minute",)"
                                     R"("points":[]})"));
    // Only the listed ones.
    EXPECT_EQ(
        ask(R"({"cmd":"timeseries","vhosts":["blog.example"],"resolution":"hour"})")["series"],
        ask(R"({"cmd":"timeseries","vhost":"blog.example","resolution":"hour"})")["series"]);
    const json bad = ask(R"({"cmd":"timeseries","vhost":"a","vhosts":["a"]})");
    EXPECT_EQ(bad["ok"], false);
    EXPECT_EQ(m_collector.bad_queries(), 1U);
}

TEST_F(AnswerQuery, WindowedStats)
{
    feed();
    const json last_minute = ask(R"({"cmd":"stats","vhost":"shop.example","window":60})");
    EXPECT_EQ(last_minute["vhosts"][0], json::parse(R"({"vhost": "shop.example",
        "window_s": 60, "since": "2025-11-21T15:39:00Z", "requests": 1201, "flagged": 1,
        "intercepted": 1, "would_block": 0,
        "rules": [{"id": "942100", "msg": "SQL Injection", "severity": "CRITICAL", "hits": 1}]})"));
}

// Windows memory cannot answer (the daemon sends them to history; without it, memory
// says so instead of answering something else).
TEST_F(AnswerQuery, WindowsBeyondMemoryAreErrors)
{
    feed();
    const std::string no_history =
        " needs the history store, which this collector does not keep (--no-history)";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"cmd":"stats","window":2592001})",
         "a \"window\" of stats longer than 30 days" + no_history},
        {R"({"cmd":"rules","window":60})",
         "a \"window\" of rules" + no_history + " (memory counts them since the start)"},
        {R"({"cmd":"top","list":"clients","window":604800})",
         "a \"window\" of top" + no_history + " (memory counts them since the start)"},
    };
    for (const auto& [line, error] : cases) {
        SCOPED_TRACE(line);
        const json a = ask(line);
        EXPECT_EQ(a["ok"], false);
        EXPECT_EQ(a["error"], error);
    }
    EXPECT_EQ(m_collector.bad_queries(), cases.size());
    // 30 days is the hour series' span: memory answers.
    EXPECT_EQ(ask(R"({"cmd":"stats","window":2592000})")["ok"], true);
}

TEST_F(AnswerQuery, TailAnswersAndReturnsItsFilter)
{
    const auto a = mso::answer(R"({"cmd":"tail","vhost":"shop.example","intercepted":true})",
                               m_collector, m_start, k_wall);
    EXPECT_EQ(a.line, R"({"ok":true,"tail":true})");
    ASSERT_TRUE(a.tail.has_value());
    EXPECT_EQ(a.tail->vhost, "shop.example");
    EXPECT_EQ(a.tail->intercepted, true);
    EXPECT_FALSE(mso::answer(R"({"cmd":"events"})", m_collector, m_start, k_wall).tail);
}

namespace {

// One flagged request of `client` to `vhost`: one count in that vhost's client list.
std::string client_request(const std::string& vhost, const std::string& client)
{
    return R"({"v":1,"type":"request","time_us":1763739600123456,"vhost":")" + vhost +
           R"(","port":80,"client":")" + client +
           R"(","method":"GET","path":"/","status":403,"protocol":"HTTP/1.1",)"
           R"("intercepted":true,"phase":2,"scores":null,"findings":[]})";
}

// `times` requests of `client`, in order.
struct Visit {
    std::string client;
    int times;
};

// `n` fillers f<first>..f<first+n-1>, `times` requests each (f0 f0 f1 f1 ...).
std::vector<Visit> fillers(int first, int n, int times)
{
    std::vector<Visit> out;
    for (int i = first; i < first + n; ++i) {
        out.push_back({"f" + std::to_string(i), times});
    }
    return out;
}

std::vector<Visit> operator+(std::vector<Visit> a, const std::vector<Visit>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

struct MergeCase {
    const char* name;
    std::vector<Visit> a; // requests to a.example, in order
    std::vector<Visit> b; // requests to b.example
    // The merged entry of client "x" across both vhosts.
    std::uint64_t count;
    std::uint64_t error;
    std::uint64_t truth;
};

} // namespace

// The merged list across vhosts follows the mergeable Space-Saving rule: a vhost whose
// list is full and lacks a value may have seen it up to its smallest count times, so that
// count is added to the value's count and error. Lists with room add nothing.
TEST_F(AnswerQuery, TopAcrossVhostsKeepsCountsUpperBounds)
{
    static_assert(mso::k_top_capacity == 64, "the cases below fill 64 slots");
    const std::vector<MergeCase> cases = {
        {"both lists have room: exact", {{"x", 3}, {"y", 1}}, {{"x", 2}}, 5, 0, 5},
        // a: x, f0..f62 fill the 64 slots; f63 evicts x (count 1); smallest count left 2.
        {"evicted from a full list",
         std::vector<Visit>{{"x", 1}} + fillers(0, 64, 2),
         {{"x", 10}},
         12,
         2,
         11},
        // a: f64 evicts f0 (count 1); smallest count left 1.
        {"never seen by a full list", fillers(0, 65, 1), {{"x", 4}}, 5, 1, 4},
        // a keeps x (count 5) while f63 evicts f0: x is in both lists, so exact.
        {"kept by a full list",
         std::vector<Visit>{{"x", 5}} + fillers(0, 64, 1),
         {{"x", 2}},
         7,
         0,
         7},
        // Both full: a keeps x (smallest count 1), b lost it (smallest count 2).
        {"kept by one full list, evicted from another",
         std::vector<Visit>{{"x", 5}} + fillers(0, 64, 1),
         std::vector<Visit>{{"x", 1}} + fillers(100, 64, 2), 7, 2, 6},
    };
    for (const MergeCase& c : cases) {
        SCOPED_TRACE(c.name);
        mso::Collector collector{m_start};
        const std::pair<const char*, const std::vector<Visit>*> vhosts[] = {{"a.example", &c.a},
                                                                            {"b.example", &c.b}};
        for (const auto& [vhost, visits] : vhosts) {
            for (const Visit& v : *visits) {
                for (int i = 0; i < v.times; ++i) {
                    ASSERT_FALSE(
                        collector.ingest(client_request(vhost, v.client), 1763739600).has_value());
                }
            }
        }
        const json top = json::parse(mso::answer_query(
            R"({"cmd":"top","list":"clients","limit":0})", collector, m_start, k_wall));
        const auto x = std::find_if(top["top"].begin(), top["top"].end(),
                                    [](const json& e) { return e["value"] == "x"; });
        ASSERT_NE(x, top["top"].end());
        EXPECT_EQ((*x)["count"], c.count);
        EXPECT_EQ((*x)["error"], c.error);
        EXPECT_GE((*x)["count"].get<std::uint64_t>(), c.truth);
        EXPECT_LE((*x)["count"].get<std::uint64_t>() - (*x)["error"].get<std::uint64_t>(), c.truth);
    }
}

// The guarantees of docs/protocol.md for the merged list, against exact counts of skewed
// streams over three vhosts whose lists overflow: count >= true count >= count - error,
// error <= error_bound, and every value counted more than error_bound times is listed.
TEST_F(AnswerQuery, TopAcrossVhostsGuaranteesOnSkewedStreams)
{
    std::mt19937 rng(7);
    std::vector<double> weights;
    for (int k = 0; k < 400; ++k) {
        weights.push_back(1.0 / std::pow(k + 1, 1.1));
    }
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    std::map<std::string, std::uint64_t> exact;
    std::uint64_t bound = 0;
    for (const char* vhost : {"a.example", "b.example", "c.example"}) {
        const int n = 3000;
        for (int i = 0; i < n; ++i) {
            // Each vhost ranks the clients differently.
            const std::string client =
                "c" + std::to_string((pick(rng) * 7 + (vhost[0] - 'a') * 131) % 400);
            ASSERT_FALSE(m_collector.ingest(client_request(vhost, client), 1763739600).has_value());
            ++exact[client];
        }
        bound += n / mso::k_top_capacity;
    }
    const json answer = ask(R"({"cmd":"top","list":"clients","limit":0})");
    EXPECT_EQ(answer["capacity"], mso::k_top_capacity);
    EXPECT_EQ(answer["error_bound"], bound);
    std::set<std::string> listed;
    for (const json& e : answer["top"]) {
        const std::string client = e["value"];
        const auto count = e["count"].get<std::uint64_t>();
        const auto error = e["error"].get<std::uint64_t>();
        SCOPED_TRACE(client);
        EXPECT_GE(count, exact[client]);
        EXPECT_LE(count - error, exact[client]);
        EXPECT_LE(error, bound);
        listed.insert(client);
    }
    for (const auto& [client, truth] : exact) {
        if (truth > bound) {
            EXPECT_TRUE(listed.count(client)) << client << " counted " << truth;
        }
    }
}

// `error_bound` is N / capacity for the N values counted in the list(s) answered, not
// the capacity itself.
TEST_F(AnswerQuery, TopReportsCapacityAndErrorBound)
{
    for (int i = 0; i < 130; ++i) {
        ASSERT_FALSE(
            m_collector
                .ingest(client_request("a.example", "c" + std::to_string(i % 70)), 1763739600)
                .has_value());
    }
    for (int i = 0; i < 64; ++i) {
        ASSERT_FALSE(m_collector.ingest(client_request("b.example", "b"), 1763739600).has_value());
    }
    const json a = ask(R"({"cmd":"top","list":"clients","vhost":"a.example","limit":1})");
    EXPECT_EQ(a["capacity"], 64);
    EXPECT_EQ(a["error_bound"], 2); // 130 / 64
    EXPECT_EQ(ask(R"({"cmd":"top","list":"clients","vhost":"b.example"})")["error_bound"], 1);
    EXPECT_EQ(ask(R"({"cmd":"top","list":"clients"})")["error_bound"], 3);
    EXPECT_EQ(ask(R"({"cmd":"top","list":"paths","vhost":"nope"})")["error_bound"], 0);
}

// The memory fields come from the caller; without them (the /metrics path) they are absent.
TEST(CollectorHealth, MemoryFollowsTheUptime)
{
    const Clock::time_point start{std::chrono::seconds(50)};
    const mso::Collector collector{start};
    const json with = collector.health(start + std::chrono::seconds(7), {123456, 654321});
    auto it = with.begin();
    EXPECT_EQ(it.key(), "uptime_s");
    EXPECT_EQ(*it, 7);
    EXPECT_EQ((++it).key(), "rss_bytes");
    EXPECT_EQ(*it, 123456);
    EXPECT_EQ((++it).key(), "rss_peak_bytes");
    EXPECT_EQ(*it, 654321);
    const json partial = collector.health(start, {std::nullopt, 99});
    EXPECT_FALSE(partial.contains("rss_bytes"));
    EXPECT_EQ(partial["rss_peak_bytes"], 99);
    const json without = collector.health(start);
    EXPECT_FALSE(without.contains("rss_bytes") || without.contains("rss_peak_bytes"));
}

struct ShapeCase {
    const char* line;
    std::size_t rules;                  // rules listed per vhost
    std::optional<std::size_t> clients; // top_clients listed, nullopt: no such field
};

// `rules_limit` and `top_clients` cut a stats answer to what the live view shows.
TEST_F(AnswerQuery, StatsRulesLimitAndTopClients)
{
    for (int i = 0; i < 5; ++i) {
        const std::string id = std::to_string(942100 + i);
        for (int client = 0; client <= i; ++client) { // rule 942100+i hits i+1 requests
            std::string datagram =
                client_request("shop.example", "10.0.0." + std::to_string(client));
            const std::string no_findings = R"("findings":[])";
            datagram.replace(
                datagram.find(no_findings), no_findings.size(),
                R"("findings":[{"id":")" + id +
                    R"(","msg":"m","severity":"CRITICAL","pl":1,"phase":2,"tags":[],)"
                    R"("target":"ARGS:id","data":"","intercepted":false,"truncated":false}])");
            ASSERT_FALSE(m_collector.ingest(datagram, 1763739600).has_value()) << datagram;
        }
    }
    const std::vector<ShapeCase> cases = {
        {R"({"cmd":"stats"})", 5, std::nullopt},
        {R"({"cmd":"stats","rules_limit":0})", 5, std::nullopt},
        {R"({"cmd":"stats","rules_limit":3})", 3, std::nullopt},
        {R"({"cmd":"stats","rules_limit":99,"top_clients":2})", 5, 2},
        {R"({"cmd":"stats","rules_limit":1,"top_clients":3,"vhost":"shop.example"})", 1, 3},
        {R"({"cmd":"stats","top_clients":100000})", 5, 5}, // capped at 64, 5 clients seen
        {R"({"cmd":"stats","rules_limit":2,"window":600})", 2, std::nullopt},
    };
    for (const ShapeCase& c : cases) {
        SCOPED_TRACE(c.line);
        const json answer = ask(c.line);
        ASSERT_EQ(answer["vhosts"].size(), 1U);
        const json& v = answer["vhosts"][0];
        ASSERT_EQ(v["rules"].size(), c.rules);
        // The most hits first: 942104 hit 5 requests, 942103 four, ...
        for (std::size_t i = 0; i < c.rules; ++i) {
            EXPECT_EQ(v["rules"][i]["id"], std::to_string(942104 - i));
            EXPECT_EQ(v["rules"][i]["hits"], 5 - i);
        }
        ASSERT_EQ(v.contains("top_clients"), c.clients.has_value());
        if (c.clients) {
            ASSERT_EQ(v["top_clients"].size(), *c.clients);
            // 10.0.0.0 sent 5 requests, 10.0.0.1 four, ...
            EXPECT_EQ(v["top_clients"][0],
                      json::parse(R"({"value":"10.0.0.0","count":5,"error":0})"));
            EXPECT_EQ(v["top_clients"][1],
                      json::parse(R"({"value":"10.0.0.1","count":4,"error":0})"));
        }
    }
}

namespace {

std::string with_unique_id(const std::string& id)
{
    std::string datagram = k_request;
    const std::string port = R"("port":443,)";
    datagram.insert(datagram.find(port) + port.size(), R"("unique_id":")" + id + R"(",)");
    return datagram;
}

} // namespace

// Without history: `event` from the ring, events say "from":"ring", and a cursor (which
// only history's pages have) is refused.
TEST_F(AnswerQuery, EventAndEventsFromTheRing)
{
    ASSERT_FALSE(m_collector.ingest(with_unique_id("u-ring"), 1763739600).has_value());
    const auto found = ask(R"({"cmd":"event","unique_id":"u-ring"})");
    ASSERT_EQ(found["ok"], true) << found.dump();
    EXPECT_EQ(found["from"], "ring");
    const auto& e = found["event"];
    EXPECT_EQ(e["unique_id"], "u-ring");
    EXPECT_EQ(e["source"], "module");
    EXPECT_EQ(e["engine"], "on"); // inferred: intercepted
    EXPECT_EQ(e["verdict"], "intercepted");
    ASSERT_EQ(e["rules"].size(), 2U);
    EXPECT_EQ(e["rules"][0]["score"], 5);
    EXPECT_EQ(e["rules"][1]["target"], "ARGS:q");
    EXPECT_EQ(e["score_sum"], 10);
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":"u-ring","source":"module"})")["ok"], true);
    const auto other = ask(R"({"cmd":"event","unique_id":"u-ring","source":"import:x"})");
    EXPECT_EQ(other["ok"], false);
    EXPECT_EQ(other["error"], "no request with unique_id \"u-ring\" from source \"import:x\" "
                              "among the recent events the collector keeps");
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":"nope"})")["ok"], false);

    EXPECT_EQ(ask(R"({"cmd":"events"})")["from"], "ring");
    const std::uint64_t bad = m_collector.bad_queries();
    const auto paged = ask(R"({"cmd":"events","cursor":"c1.1.1"})");
    EXPECT_EQ(paged["ok"], false);
    EXPECT_EQ(paged["error"], "\"cursor\" pages through history, which this collector does not "
                              "keep (--no-history)");
    EXPECT_EQ(m_collector.bad_queries(), bad + 1);
}

namespace {

// A datagram of `vhost` that passed with one finding below the threshold (920450, score
// 5 of 10): nothing in it tells the engine mode.
std::string low_score(const std::string& vhost, const std::string& id, bool intercepted = false)
{
    nlohmann::json e{{"v", 1},
                     {"type", "request"},
                     {"time_us", 1763739600123456},
                     {"vhost", vhost},
                     {"port", 80},
                     {"unique_id", id},
                     {"client", "203.0.113.7"},
                     {"method", "GET"},
                     {"path", "/"},
                     {"status", intercepted ? 403 : 200},
                     {"protocol", "HTTP/1.1"},
                     {"intercepted", intercepted},
                     {"phase", intercepted ? 2 : 0},
                     {"scores", nullptr},
                     {"findings", nlohmann::json::array()}};
    e["findings"].push_back({{"id", "920450"},
                             {"msg", "HTTP header is restricted by policy"},
                             {"severity", "CRITICAL"},
                             {"pl", 1},
                             {"phase", 1},
                             {"tags", nlohmann::json::array()},
                             {"target", "REQUEST_HEADERS:x-up-devcap-post-charset"},
                             {"data", ""},
                             {"intercepted", intercepted},
                             {"truncated", false}});
    return e.dump();
}

std::string counters_saying(const std::string& vhost, const std::string& engine)
{
    return nlohmann::json{{"v", 1},
                          {"type", "counters"},
                          {"vhost", vhost},
                          {"port", 80},
                          {"pid", 7},
                          {"requests", 0},
                          {"status", nlohmann::json::object()},
                          {"events_lost", 0},
                          {"engine", engine}}
        .dump();
}

} // namespace

// A live event's engine: what it shows, else its vhost's configured SecRuleEngine as the
// counter reports said it when the event arrived; `events` filters and `event` answers
// by the same value.
TEST_F(AnswerQuery, EventsTakeTheConfiguredEngineWhenTheyShowNone)
{
    auto ingest = [&](const std::string& datagram) {
        ASSERT_FALSE(m_collector.ingest(datagram, 1763739600).has_value()) << datagram;
    };
    ingest(low_score("detect.test", "before-report")); // no report yet: unknown
    ingest(counters_saying("detect.test", "detection_only"));
    ingest(counters_saying("block.test", "on"));
    ingest(counters_saying("off.test", "off"));
    ingest(low_score("detect.test", "detect-low"));
    ingest(low_score("detect.test", "detect-ctl", true)); // ctl:ruleEngine=On: intercepted
    ingest(low_score("block.test", "block-low"));
    ingest(low_score("off.test", "off-low"));
    ingest(low_score("silent.test", "silent-low")); // no report at all

    const std::map<std::string, std::string> engines = {
        {"before-report", "unknown"}, {"detect-low", "detection_only"}, {"detect-ctl", "on"},
        {"block-low", "on"},          {"off-low", "unknown"},           {"silent-low", "unknown"},
    };
    for (const auto& [id, engine] : engines) {
        const json a = ask(R"({"cmd":"event","unique_id":")" + id + R"("})");
        ASSERT_EQ(a["ok"], true) << a.dump();
        EXPECT_EQ(a["event"]["engine"], engine) << id;
    }
    auto ids = [&](const std::string& query) {
        std::vector<std::string> out;
        const json answer = ask(query); // named: a temporary's member would dangle
        for (const json& e : answer["events"]) {
            out.push_back(e["unique_id"].get<std::string>());
        }
        return out;
    };
    EXPECT_EQ(ids(R"({"cmd":"events","engine":"detection_only","limit":0})"),
              std::vector<std::string>{"detect-low"});
    EXPECT_EQ(ids(R"({"cmd":"events","engine":"on","limit":0})"),
              (std::vector<std::string>{"block-low", "detect-ctl"}));

    // A later report that changes the vhost's engine does not change what earlier events
    // answered (history stored them with the engine of their arrival).
    ingest(counters_saying("detect.test", "on"));
    EXPECT_EQ(ids(R"({"cmd":"events","engine":"detection_only","limit":0})"),
              std::vector<std::string>{"detect-low"});
    ingest(low_score("detect.test", "detect-now-on"));
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":"detect-now-on"})")["event"]["engine"], "on");
}

// A received event (an audit log's, from the console receiver) keeps the engine its
// source said, as the history store does; without one, what it shows.
TEST_F(AnswerQuery, ReceivedEventsKeepTheEngineTheirSourceSaid)
{
    auto received = [](const std::string& id) {
        return std::get<mso::RequestEvent>(mso::decode_datagram(low_score("sensor.test", id)));
    };
    m_collector.ingest_event(received("said-detect"), "sensor:web2", 1763739600, 0,
                             mso::EngineMode::detection_only);
    m_collector.ingest_event(received("said-nothing"), "sensor:web2", 1763739600);
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":"said-detect"})")["event"]["engine"],
              "detection_only");
    EXPECT_EQ(ask(R"({"cmd":"event","unique_id":"said-nothing"})")["event"]["engine"], "unknown");
    const json answer = ask(R"({"cmd":"events","engine":"detection_only","limit":0})");
    ASSERT_EQ(answer["events"].size(), 1U) << answer.dump();
    EXPECT_EQ(answer["events"][0]["unique_id"], "said-detect");
}

namespace {

class AnswerSources : public AnswerQuery {
protected:
    void feed_two_sources()
    {
        feed(); // the module: shop.example with rule 942100
        m_collector.ingest_event(sensor_event("shop.example", "941100", true), "sensor:web2",
                                 1763739600, 4000);
        m_collector.ingest_event(sensor_event("api.example", "930120", true), "sensor:web2",
                                 1763739600, 4000);
        m_collector.count_source_refusal("sensor:web2", "too_large", 1763739601);
        m_collector.count_source_refusal("sensor:web3", "auth", 1763739602);
    }

    // The (source, vhost) pairs of an answer's rows.
    static std::set<std::pair<std::string, std::string>> pairs(const json& rows)
    {
        std::set<std::pair<std::string, std::string>> out;
        for (const json& row : rows) {
            out.emplace(row.value("source", "-"), row.value("vhost", "-"));
        }
        return out;
    }
};

} // namespace

TEST_F(AnswerSources, SourcesListsEventsLastSeenSkewAndRefusals)
{
    feed_two_sources();
    const json a = ask(R"({"cmd":"sources"})");
    ASSERT_EQ(a["ok"], true) << a.dump();
    EXPECT_EQ(a["from"], "memory");
    std::map<std::string, json> by_name;
    for (const json& s : a["sources"]) {
        by_name[s["source"].get<std::string>()] = s;
    }
    ASSERT_EQ(by_name.size(), 3U) << a.dump();
    const json& module = by_name["module"];
    EXPECT_EQ(module["events"], 1); // the request event; counter reports are not events
    EXPECT_EQ(module["last_seen_ago_s"], 30);
    const json& web2 = by_name["sensor:web2"];
    EXPECT_EQ(web2["events"], 2);
    EXPECT_EQ(web2["bytes"], 8000);
    EXPECT_EQ(web2["last_seen"], "2025-11-21T15:40:00Z");
    EXPECT_EQ(web2["clock_skew_s"]["max"], 2.0);
    EXPECT_EQ(web2["refusals"]["too_large"], 1);
    const json& web3 = by_name["sensor:web3"];
    EXPECT_EQ(web3["events"], 0);
    EXPECT_EQ(web3["last_seen"], nullptr);
    EXPECT_EQ(web3["refusals"]["auth"], 1);
    // Most recently seen (or refused) first.
    EXPECT_EQ(a["sources"][0]["source"], "sensor:web3");
}

TEST_F(AnswerSources, ViewsFilterBySource)
{
    feed_two_sources();
    const json all = ask(R"({"cmd":"stats"})");
    EXPECT_EQ(pairs(all["vhosts"]),
              (std::set<std::pair<std::string, std::string>>{{"module", "blog.example"},
                                                             {"module", "shop.example"},
                                                             {"sensor:web2", "api.example"},
                                                             {"sensor:web2", "shop.example"}}));
    const json module = ask(R"({"cmd":"stats","source":"module"})");
    EXPECT_EQ(pairs(module["vhosts"]),
              (std::set<std::pair<std::string, std::string>>{{"module", "blog.example"},
                                                             {"module", "shop.example"}}));
    const json web2 = ask(R"({"cmd":"stats","source":"sensor:web2"})");
    ASSERT_EQ(web2["vhosts"].size(), 2U);
    for (const json& v : web2["vhosts"]) {
        EXPECT_EQ(v["source"], "sensor:web2");
        EXPECT_EQ(v["requests"], 1);
    }
    const json rules = ask(R"({"cmd":"rules","source":"sensor:web2","vhost":"shop.example"})");
    ASSERT_EQ(rules["rules"].size(), 1U) << rules.dump();
    EXPECT_EQ(rules["rules"][0]["id"], "941100");
    const json module_rules = ask(R"({"cmd":"rules","source":"module"})");
    ASSERT_EQ(module_rules["rules"].size(), 1U);
    EXPECT_EQ(module_rules["rules"][0]["id"], "942100");
    const json series = ask(R"({"cmd":"timeseries","source":"sensor:web2","window":3600})");
    EXPECT_EQ(pairs(series["series"]),
              (std::set<std::pair<std::string, std::string>>{{"sensor:web2", "api.example"},
                                                             {"sensor:web2", "shop.example"}}));
    // A list: each source's series of the listed vhosts it has, then the listed vhosts
    // no source has, with empty points (and the query's source, if it names one).
    const json listed =
        ask(R"({"cmd":"timeseries","vhosts":["shop.example","api.example","none.example"]})");
    EXPECT_EQ(pairs(listed["series"]),
              (std::set<std::pair<std::string, std::string>>{{"module", "shop.example"},
                                                             {"sensor:web2", "api.example"},
                                                             {"sensor:web2", "shop.example"},
                                                             {"-", "none.example"}}));
    EXPECT_EQ(listed["series"][0]["source"], "module");
    EXPECT_EQ(listed["series"][3]["points"], json::array());
    const json listed_web2 = ask(
        R"({"cmd":"timeseries","source":"sensor:web2","vhosts":["blog.example","api.example"]})");
    EXPECT_EQ(pairs(listed_web2["series"]),
              (std::set<std::pair<std::string, std::string>>{{"sensor:web2", "api.example"},
                                                             {"sensor:web2", "blog.example"}}));
    const json top = ask(R"({"cmd":"top","list":"clients","source":"sensor:web2"})");
    ASSERT_EQ(top["top"].size(), 1U);
    EXPECT_EQ(top["top"][0]["value"], "198.51.100.9");
    EXPECT_EQ(top["top"][0]["count"], 2);
    const json none = ask(R"({"cmd":"stats","source":"sensor:nobody"})");
    EXPECT_EQ(none["vhosts"], json::array());
}

TEST_F(AnswerSources, EventsCarryTheirSourceWhenSeveral)
{
    feed();
    const json alone = ask(R"({"cmd":"events"})");
    ASSERT_EQ(alone["events"].size(), 1U);
    EXPECT_FALSE(alone["events"][0].contains("source")); // one source: answers as before
    const json alone_stats = ask(R"({"cmd":"stats"})");
    EXPECT_FALSE(alone_stats["vhosts"][0].contains("source"));

    m_collector.ingest_event(sensor_event("api.example", "930120", true), "sensor:web2",
                             1763739600);
    const json both = ask(R"({"cmd":"events"})");
    ASSERT_EQ(both["events"].size(), 2U);
    EXPECT_EQ(both["events"][0]["source"], "sensor:web2");
    EXPECT_EQ(both["events"][1]["source"], "module");
    const json web2 = ask(R"({"cmd":"events","source":"sensor:web2"})");
    ASSERT_EQ(web2["events"].size(), 1U);
    EXPECT_EQ(web2["events"][0]["vhost"], "api.example");
    const json module = ask(R"({"cmd":"events","source":"module"})");
    ASSERT_EQ(module["events"].size(), 1U);
    EXPECT_EQ(module["events"][0]["vhost"], "shop.example");
    const json detail = ask(R"({"cmd":"event","unique_id":"sensor-api.example-930120"})");
    EXPECT_EQ(detail["event"]["source"], "sensor:web2");
}
