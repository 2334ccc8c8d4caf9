// Snapshots: a fully populated Collector survives save_state() -> JSON text ->
// load_state() with every query answer unchanged; corrupt documents (table-driven) are
// refused with their reason and leave the Collector as it was; entries beyond the
// bounds are dropped and counted; the file functions replace atomically and move an
// unusable file aside.
#include "daemon/snapshot.h"

#include "state/query_answer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <variant>
#include <string>
#include <vector>

namespace {

using json = nlohmann::json;
using Clock = mso::Collector::Clock;

const Clock::time_point k_now = Clock::time_point{} + std::chrono::hours(5);
constexpr std::int64_t k_t0 = 1763739600; // 2025-11-21T15:40:00Z
constexpr std::int64_t k_wall = k_t0 + 3 * 3600;

json finding(const std::string& id, const std::string& target, bool engine = false)
{
    return json{{"id", id},
                {"msg", id.empty() ? "cut message" : "rule " + id},
                {"severity", id.empty() ? "" : "CRITICAL"},
                {"pl", 1},
                {"phase", 2},
                {"tags", {"attack-sqli", "paranoia-level/1"}},
                {"target", target},
                {"data", "Matched Data: \xc3\xa9 \x01 found"},
                {"data_truncated", id == "942100"},
                {"intercepted", id == "949110"},
                {"truncated", id.empty() && !engine},
                {"engine", engine}};
}

std::string request(const std::string& vhost, int i, bool scores)
{
    json e{{"v", 1},
           {"type", "request"},
           {"time_us", (k_t0 + i) * 1000000 + 123456},
           {"vhost", vhost},
           {"port", 8080 + i % 3},
           {"unique_id", "uid-" + std::to_string(i)},
           {"client", "203.0.113." + std::to_string(i % 90)},
           {"method", i % 2 ? "POST" : "GET"},
           {"path", "/p" + std::to_string(i % 70)},
           {"query", "q=" + std::to_string(i)},
           {"status", i % 4 == 0 ? 403 : 200},
           {"protocol", "HTTP/1.1"},
           {"user_agent", "agent/" + std::to_string(i % 5)},
           {"intercepted", i % 4 == 0},
           {"phase", i % 4 == 0 ? 2 : 0},
           {"findings_dropped", i % 7 == 0 ? 1 : 0}};
    e["scores"] = scores ? json{{"inbound", i % 12},
                                {"outbound", i % 5},
                                {"inbound_pl", {i % 12, 0, 1, 0}},
                                {"outbound_pl", {0, 0, 0, i % 5}},
                                {"inbound_threshold", 5},
                                {"outbound_threshold", 4},
                                {"blocking_pl", 1},
                                {"detection_pl", 2}}
                         : json(nullptr);
    json findings = json::array();
    findings.push_back(finding("9421" + std::to_string(i % 9), "ARGS:q" + std::to_string(i % 11)));
    findings.push_back(finding("942100", "ARGS:id"));
    findings.push_back(finding("942100", "ARGS:name"));
    if (i % 4 == 0) {
        findings.push_back(finding("949110", ""));
    }
    if (i % 10 == 0) {
        findings.push_back(finding("", "", i % 20 == 0));
    }
    e["findings"] = std::move(findings);
    return e.dump();
}

std::string counters(const std::string& vhost, std::uint64_t requests, std::uint64_t lost,
                     const std::string& engine = "")
{
    json report{{"v", 1},
                {"type", "counters"},
                {"vhost", vhost},
                {"port", 8080},
                {"pid", 42},
                {"requests", requests},
                {"status", {{"200", requests - 1}, {"404", 1}}},
                {"events_lost", lost}};
    if (!engine.empty()) {
        report["engine"] = engine;
    }
    return report.dump();
}

// Three vhosts over three hours of collector time; more clients and paths than the
// heavy-hitter slots, more events than the ring holds.
void populate(mso::Collector& c)
{
    for (int i = 0; i < 300; ++i) {
        const std::string vhost =
            i % 3 == 0 ? "shop.test" : (i % 3 == 1 ? "blog.test" : "api.test");
        ASSERT_FALSE(c.ingest(request(vhost, i, i % 5 != 0), k_t0 + i * 35).has_value());
        if (i % 20 == 0) {
            ASSERT_FALSE(
                c.ingest(counters(vhost, 50 + static_cast<std::uint64_t>(i), i % 40 == 0 ? 2 : 0,
                                  vhost == "shop.test" ? "detection_only" : ""),
                         k_t0 + i * 35 + 1)
                    .has_value());
        }
    }
    ASSERT_FALSE(c.ingest(counters("clean.test", 9, 0), k_t0 + 100).has_value());
    // Two receivers' sensors, interleaved with the module's last events, and refusals.
    for (int i = 300; i < 320; ++i) {
        mso::Decoded d = mso::decode_datagram(request(i % 2 ? "edge.test" : "shop.test", i, true));
        ASSERT_TRUE(std::holds_alternative<mso::RequestEvent>(d));
        c.ingest_event(std::get<mso::RequestEvent>(d), i % 2 ? "sensor:a" : "sensor:b",
                       k_t0 + i * 35 + 2, 1000 + static_cast<std::uint64_t>(i));
        if (i % 3 == 0) {
            ASSERT_FALSE(c.ingest(request("blog.test", i, false), k_t0 + i * 35 + 3).has_value());
        }
    }
    c.count_source_refusal("sensor:a", "too_large", k_t0 + 1);
    c.count_source_refusal("sensor:c", "auth", k_t0 + 2);
    ASSERT_GT(c.events().evicted(), 0U);
    ASSERT_GT(c.aggregator().find("shop.test")->clients.error_bound(), 0U);
}

const std::vector<std::string> k_queries = {
    R"({"cmd":"stats"})",
    R"({"cmd":"stats","score_levels":true})",
    R"({"cmd":"stats","window":3600})",
    R"({"cmd":"stats","window":86400})",
    R"({"cmd":"vhosts"})",
    R"({"cmd":"rules"})",
    R"({"cmd":"rules","vhost":"shop.test","rule":"942100"})",
    R"({"cmd":"top","list":"clients","limit":0})",
    R"({"cmd":"top","list":"paths","vhost":"shop.test","limit":0})",
    R"({"cmd":"top","list":"agents","limit":0})",
    R"({"cmd":"top","list":"targets","limit":0})",
    R"({"cmd":"timeseries","window":86400})",
    R"({"cmd":"timeseries","resolution":"hour","rule":"942100","window":2592000})",
    R"({"cmd":"events","limit":0})",
    R"({"cmd":"events","rule":"949110","limit":0})",
    R"({"cmd":"sources"})",
    R"({"cmd":"stats","source":"sensor:a"})",
    R"({"cmd":"rules","source":"sensor:b"})",
    R"({"cmd":"events","source":"sensor:a","limit":0})",
    R"({"cmd":"events","source":"module","limit":0})",
    R"({"cmd":"events","engine":"detection_only","limit":0})",
    R"({"cmd":"events","engine":"on","limit":0})",
    R"({"cmd":"event","unique_id":"uid-282"})",
};

// Every answer that the snapshot must preserve, plus the restored health counters.
std::vector<std::string> answers(mso::Collector& c)
{
    std::vector<std::string> out;
    for (const std::string& q : k_queries) {
        out.push_back(mso::answer_query(q, c, k_now, k_wall));
    }
    const json health = json::parse(mso::answer_query(R"({"cmd":"health"})", c, k_now, k_wall));
    for (const char* key :
         {"dropped_at_bounds", "events_lost", "ring_events", "ring_capacity", "vhosts"}) {
        out.push_back(std::string(key) + "=" + health[key].dump());
    }
    return out;
}

std::string saved_text(const mso::Collector& c)
{
    return mso::save_state(c, k_wall).dump(-1, ' ', false, json::error_handler_t::replace);
}

class Snapshot : public ::testing::Test {
protected:
    void SetUp() override { populate(m_source); }

    mso::Collector m_source{Clock::time_point{}, 50};
};

TEST_F(Snapshot, RoundTripKeepsEveryAnswer)
{
    const std::string text = saved_text(m_source);
    const json doc = json::parse(text, nullptr, false);
    ASSERT_FALSE(doc.is_discarded());

    mso::Collector restored(Clock::time_point{}, 50);
    const auto loaded = mso::load_state(doc, restored);
    ASSERT_TRUE(loaded) << loaded.error();
    const mso::LoadSummary& summary = *loaded;
    EXPECT_EQ(summary.vhosts, 4U);
    EXPECT_EQ(summary.events, 50U);
    EXPECT_EQ(summary.events_evicted, 0U);
    EXPECT_EQ(summary.dropped, 0U);

    const auto expected = answers(m_source);
    const auto got = answers(restored);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], expected[i]) << (i < k_queries.size() ? k_queries[i] : "health");
    }
    // Stable: the restored state saves to the same document.
    EXPECT_EQ(saved_text(restored), text);
}

// A snapshot of version 1 (before sources) still loads: everything in it is the module's.
TEST_F(Snapshot, VersionOneStillLoads)
{
    json doc = mso::save_state(m_source, k_wall);
    ASSERT_EQ(doc["version"], 3);
    ASSERT_FALSE(doc["event_sources"].empty());
    ASSERT_EQ(doc["source_aggregates"].size(), 2U);
    doc["version"] = 1;
    for (const char* key : {"sources", "event_sources", "source_aggregates"}) {
        doc.erase(key);
    }
    for (json& v : doc["vhosts"]) {
        v.erase("inbound_pl_scores");
        v.erase("outbound_pl_scores");
    }
    mso::Collector restored(Clock::time_point{}, 50);
    const auto loaded = mso::load_state(doc, restored);
    ASSERT_TRUE(loaded) << loaded.error();
    // The default `stats` has no histograms per paranoia level, which version 1 lacks.
    EXPECT_EQ(mso::answer_query(R"({"cmd":"stats","source":"module"})", restored, k_now, k_wall),
              mso::answer_query(R"({"cmd":"stats","source":"module"})", m_source, k_now, k_wall));
    EXPECT_TRUE(restored.source_aggregates().empty());
    EXPECT_EQ(restored.events().size(), 50U);
}

// A snapshot of version 2 (before the histograms per paranoia level) still loads: the
// levels start empty, everything else is as saved.
TEST_F(Snapshot, VersionTwoLoadsWithEmptyLevels)
{
    json doc = mso::save_state(m_source, k_wall);
    doc["version"] = 2;
    for (json* list : {&doc["vhosts"], &doc["source_aggregates"][0]["vhosts"],
                       &doc["source_aggregates"][1]["vhosts"]}) {
        for (json& v : *list) {
            ASSERT_EQ(v["inbound_pl_scores"].size(), 4U);
            v.erase("inbound_pl_scores");
            v.erase("outbound_pl_scores");
        }
    }
    mso::Collector restored(Clock::time_point{}, 50);
    const auto loaded = mso::load_state(doc, restored);
    ASSERT_TRUE(loaded) << loaded.error();
    const char* query = R"({"cmd":"stats","score_levels":true})";
    json expected = json::parse(mso::answer_query(query, m_source, k_now, k_wall));
    const json got = json::parse(mso::answer_query(query, restored, k_now, k_wall));
    ASSERT_EQ(got["vhosts"].size(), expected["vhosts"].size());
    for (std::size_t i = 0; i < got["vhosts"].size(); ++i) {
        json& scores = expected["vhosts"][i]["scores"];
        ASSERT_GT(scores["inbound_pl"][0]["count"], 0U);
        for (const char* key : {"inbound_pl", "outbound_pl"}) {
            for (json& level : scores[key]) {
                level = json{{"counts", std::vector<int>(15, 0)}, {"sum", 0}, {"count", 0}};
            }
        }
    }
    EXPECT_EQ(got, expected);
}

// Seeds for tests/fuzz/corpus/snapshot (a real snapshot and a truncated one):
//   MSO_SNAPSHOT_SEED_DIR=tests/fuzz/corpus/snapshot build/tests/test_snapshot
TEST(SnapshotSeed, WritesFuzzSeedsWhenAsked)
{
    const char* dir = std::getenv("MSO_SNAPSHOT_SEED_DIR");
    if (dir == nullptr) {
        GTEST_SKIP() << "MSO_SNAPSHOT_SEED_DIR not set";
    }
    // Small enough for the fuzzer's input length: one vhost's worth, a ring of 2.
    mso::Collector c(Clock::time_point{}, 2);
    for (int i = 0; i < 6; ++i) {
        ASSERT_FALSE(c.ingest(request("shop.test", i, i % 2 == 0), k_t0 + i * 61).has_value());
    }
    ASSERT_FALSE(c.ingest(counters("shop.test", 5, 1), k_t0 + 400).has_value());
    const std::string text = saved_text(c);
    std::ofstream(std::string(dir) + "/real-snapshot.json", std::ios::binary) << text;
    std::ofstream(std::string(dir) + "/real-snapshot-truncated.json", std::ios::binary)
        << text.substr(0, text.size() * 2 / 3);
}

TEST_F(Snapshot, SmallerRingKeepsTheNewestEvents)
{
    mso::Collector restored(Clock::time_point{}, 10);
    const auto loaded = mso::load_state(mso::save_state(m_source, k_wall), restored);
    ASSERT_TRUE(loaded) << loaded.error();
    EXPECT_EQ(loaded->events_evicted, 40U);
    const json all =
        json::parse(mso::answer_query(R"({"cmd":"events","limit":10})", m_source, k_now));
    const json kept =
        json::parse(mso::answer_query(R"({"cmd":"events","limit":0})", restored, k_now));
    EXPECT_EQ(kept, all);
}

TEST_F(Snapshot, EntriesBeyondTheBoundsAreDroppedAndCounted)
{
    json doc = mso::save_state(m_source, k_wall);
    json& entries = doc["vhosts"][0]["paths"]["entries"];
    ASSERT_EQ(entries.size(), mso::k_top_capacity);
    for (std::size_t i = 0; i < 10; ++i) {
        entries.push_back(json::array({"/extra" + std::to_string(i), 1, 0}));
    }
    mso::Collector restored(Clock::time_point{}, 50);
    const auto loaded = mso::load_state(doc, restored);
    ASSERT_TRUE(loaded) << loaded.error();
    EXPECT_EQ(loaded->dropped, 10U);
    EXPECT_EQ(restored.aggregator().dropped(), m_source.aggregator().dropped() + 10);
}

// Each ring event answers the engine mode it had before the restart: the one the vhost's
// configuration gave it is saved, not resolved again from the vhost's engine at load
// (which was unknown for the first event, and is another by now for the second).
TEST(SnapshotEngines, EachEventKeepsItsEngineAcrossARestart)
{
    mso::Collector c(Clock::time_point{}, 10);
    ASSERT_FALSE(c.ingest(request("detect.test", 1, true), k_t0).has_value()); // unknown
    ASSERT_FALSE(c.ingest(counters("detect.test", 5, 0, "detection_only"), k_t0).has_value());
    ASSERT_FALSE(c.ingest(request("detect.test", 2, true), k_t0).has_value()); // detection_only
    ASSERT_FALSE(c.ingest(request("detect.test", 4, true), k_t0).has_value()); // on: intercepted
    ASSERT_FALSE(c.ingest(counters("detect.test", 5, 0, "on"), k_t0).has_value());
    ASSERT_FALSE(c.ingest(request("detect.test", 3, true), k_t0).has_value()); // on
    auto engine_of = [](mso::Collector& from, int i) {
        const std::string q = R"({"cmd":"event","unique_id":"uid-)" + std::to_string(i) + "\"}";
        return json::parse(mso::answer_query(q, from, k_now, k_wall))["event"]["engine"];
    };
    const std::map<int, std::string> want = {
        {1, "unknown"}, {2, "detection_only"}, {3, "on"}, {4, "on"}};
    for (const auto& [i, engine] : want) {
        EXPECT_EQ(engine_of(c, i), engine) << i;
    }

    json doc = mso::save_state(c, k_wall);
    // Only the engines the events do not show themselves are written.
    EXPECT_EQ(doc["event_engines"], json::parse(R"([[1,"detection_only"],[3,"on"]])"));
    mso::Collector restored(Clock::time_point{}, 10);
    ASSERT_TRUE(mso::load_state(doc, restored));
    for (const auto& [i, engine] : want) {
        EXPECT_EQ(engine_of(restored, i), engine) << i;
    }
    EXPECT_EQ(saved_text(restored), saved_text(c));

    // A snapshot of an older collector (no "event_engines"): what the events show.
    doc.erase("event_engines");
    mso::Collector older(Clock::time_point{}, 10);
    ASSERT_TRUE(mso::load_state(doc, older));
    EXPECT_EQ(engine_of(older, 2), "unknown");
    EXPECT_EQ(engine_of(older, 3), "unknown");
    EXPECT_EQ(engine_of(older, 4), "on");
}

struct CorruptCase {
    const char* name;
    std::function<void(json&)> corrupt;
    const char* error; // the reason, exactly
};

TEST_F(Snapshot, CorruptDocumentsAreRefusedAndLoadNothing)
{
    const std::vector<CorruptCase> cases = {
        {"not an object", [](json& d) { d = json::array(); }, "not a JSON object"},
        {"other format", [](json& d) { d["format"] = "x"; },
         "format: not a modsec-observe state file"},
        {"no format", [](json& d) { d.erase("format"); }, "format: missing"},
        {"wrong version", [](json& d) { d["version"] = 4; }, "version: not 1 to 3"},
        {"version 0", [](json& d) { d["version"] = 0; }, "version: not 1 to 3"},
        {"version as string", [](json& d) { d["version"] = "1"; }, "version: not 1 to 3"},
        {"refusals not pairs",
         [](json& d) {
             d["sources"][0]["refusals"] = json{{"a", 1}};
         },
         "sources[0].refusals: not an array"},
        {"vhosts not array", [](json& d) { d["vhosts"] = json::object(); }, "vhosts: not an array"},
        {"engine not a mode", [](json& d) { d["vhosts"][0]["engine"] = "yes"; },
         "vhosts[0].engine: not \"on\", \"off\" or \"detection_only\""},
        {"engine not a string", [](json& d) { d["vhosts"][0]["engine"] = 1; },
         "vhosts[0].engine: not a string"},
        {"event engines not an array", [](json& d) { d["event_engines"] = json::object(); },
         "event_engines: not an array"},
        {"event engine not a pair", [](json& d) { d["event_engines"] = json::parse(R"([[1]])"); },
         "event_engines[0]: not an array of 2"},
        {"event engine not a mode",
         [](json& d) { d["event_engines"] = json::parse(R"([[1,"DetectionOnly"]])"); },
         "event_engines[0][1]: not \"on\", \"detection_only\" or \"unknown\""},
        {"negative count", [](json& d) { d["vhosts"][1]["requests"] = -1; },
         "vhosts[1].requests: not an unsigned integer"},
        {"count as string", [](json& d) { d["events_lost"] = "3"; },
         "events_lost: not an unsigned integer"},
        {"float hits", [](json& d) { d["vhosts"][0]["rules"][2]["hits"] = 1.5; },
         "vhosts[0].rules[2].hits: not an unsigned integer"},
        {"top entry of wrong shape",
         [](json& d) {
             d["vhosts"][0]["rules"][0]["paths"]["entries"][0] = json::array({1, 2});
         },
         "vhosts[0].rules[0].paths.entries[0]: not an array of 3"},
        {"top key not a string", [](json& d) { d["vhosts"][0]["agents"]["entries"][0][0] = 7; },
         "vhosts[0].agents.entries[0]: not a string"},
        {"error above count", [](json& d) { d["vhosts"][0]["paths"]["entries"][0][2] = 1u << 30; },
         "vhosts[0].paths.entries[0]: error exceeds count"},
        {"histogram too short",
         [](json& d) { d["vhosts"][2]["inbound_scores"]["counts"].erase(0); },
         "vhosts[2].inbound_scores.counts: not an array of 15"},
        {"levels not four", [](json& d) { d["vhosts"][1]["inbound_pl_scores"].erase(3); },
         "vhosts[1].inbound_pl_scores: not an array of 4"},
        {"level histogram too short",
         [](json& d) { d["vhosts"][0]["outbound_pl_scores"][2]["counts"].erase(0); },
         "vhosts[0].outbound_pl_scores[2].counts: not an array of 15"},
        {"levels missing", [](json& d) { d["vhosts"][0].erase("inbound_pl_scores"); },
         "vhosts[0].inbound_pl_scores: missing"},
        {"series point too short", [](json& d) { d["vhosts"][0]["minutes"][0].erase(5); },
         "vhosts[0].minutes[0]: not an array of 6"},
        {"series out of order", [](json& d) { d["vhosts"][0]["hours"][1][0] = 0; },
         "vhosts[0].hours[1]: points not in time order"},
        {"series rule hits wrong", [](json& d) { d["vhosts"][0]["minutes"][0][5][0][1] = "x"; },
         "vhosts[0].minutes[0][5][0]: not an unsigned integer"},
        {"port out of range", [](json& d) { d["vhosts"][0]["ports"][0] = 1ULL << 40; },
         "vhosts[0].ports[0]: integer out of range"},
        {"duplicate vhost", [](json& d) { d["vhosts"][1]["name"] = d["vhosts"][0]["name"]; },
         "vhosts[1]: duplicate vhost"},
        {"duplicate rule",
         [](json& d) { d["vhosts"][0]["rules"][1]["id"] = d["vhosts"][0]["rules"][0]["id"]; },
         "vhosts[0].rules[1]: duplicate rule id"},
        {"missing field", [](json& d) { d["vhosts"][3].erase("last_seen"); },
         "vhosts[3].last_seen: missing"},
        {"event tag not a string",
         [](json& d) { d["events"][49]["findings"][0]["tags"][1] = false; },
         "events[49].findings[0].tags[1]: not a string"},
        {"event scores wrong", [](json& d) { d["events"][1]["scores"] = json::array(); },
         "events[1].scores: not an object"},
        {"event levels too short",
         [](json& d) {
             d["events"][1]["scores"]["inbound_pl"] = {1, 2, 3};
         },
         "events[1].scores.inbound_pl: not an array of 4"},
        {"event bool as int", [](json& d) { d["events"][0]["intercepted"] = 1; },
         "events[0].intercepted: not a boolean"},
        {"events not array", [](json& d) { d["events"] = nullptr; }, "events: not an array"},
        {"huge ports", [](json& d) { d["vhosts"][0]["ports"] = std::vector<int>(129, 1); },
         "vhosts[0].ports: absurd size: 129 entries (at most 64 are kept)"},
        {"huge top list",
         [](json& d) {
             d["vhosts"][0]["clients"]["entries"] =
                 json(std::vector<json>(1000, json::array({"a", 1, 0})));
         },
         "vhosts[0].clients.entries: absurd size: 1000 entries (at most 64 are kept)"},
        {"huge tags",
         [](json& d) {
             d["events"][0]["findings"][0]["tags"] = std::vector<std::string>(10000, "t");
         },
         "events[0].findings[0].tags: absurd size: 10000 entries (at most 4096 are kept)"},
        {"huge string", [](json& d) { d["events"][0]["path"] = std::string(70000, 'a'); },
         "events[0].path: absurd size: a string of 70000 bytes"},
    };
    const json good = mso::save_state(m_source, k_wall);
    ASSERT_EQ(good["events"].size(), 50U);
    ASSERT_GE(good["vhosts"][0]["rules"].size(), 3U);
    for (const CorruptCase& c : cases) {
        SCOPED_TRACE(c.name);
        json doc = good;
        c.corrupt(doc);
        // Loading into a collector that holds data: nothing of it may change.
        mso::Collector target(Clock::time_point{}, 50);
        populate(target);
        const auto before = answers(target);
        const auto loaded = mso::load_state(doc, target);
        ASSERT_FALSE(loaded);
        EXPECT_EQ(loaded.error(), c.error);
        EXPECT_EQ(answers(target), before);
    }
}

class SnapshotFile : public Snapshot {
protected:
    void SetUp() override
    {
        Snapshot::SetUp();
        char pattern[] = "/tmp/mso-snap-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_base = pattern;
        m_dir = m_base + "/state";
    }
    void TearDown() override { std::filesystem::remove_all(m_base); }

    std::string m_base;
    std::string m_dir;
};

TEST_F(SnapshotFile, WriteThenReadRestores)
{
    ASSERT_TRUE(mso::prepare_state_dir(m_dir));
    struct stat st {};
    ASSERT_EQ(::stat(m_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700U);

    const auto written = mso::save_snapshot(m_dir, m_source, k_wall);
    ASSERT_TRUE(written) << written.error();
    EXPECT_EQ(*written, std::filesystem::file_size(m_dir + "/state.json"));
    EXPECT_FALSE(std::filesystem::exists(m_dir + "/state.json.tmp"));

    mso::Collector restored(Clock::time_point{}, 50);
    const mso::SnapshotRead read = mso::read_snapshot(m_dir, restored, k_wall);
    EXPECT_TRUE(read.found);
    ASSERT_TRUE(read.loaded.has_value()) << read.error;
    EXPECT_EQ(answers(restored), answers(m_source));
    EXPECT_TRUE(restored.snapshot_status().loaded);
}

TEST_F(SnapshotFile, MissingFileStartsEmpty)
{
    ASSERT_TRUE(mso::prepare_state_dir(m_dir));
    mso::Collector c;
    const mso::SnapshotRead read = mso::read_snapshot(m_dir, c, k_wall);
    EXPECT_FALSE(read.found);
    EXPECT_FALSE(read.loaded.has_value());
    EXPECT_EQ(read.error, "");
    EXPECT_FALSE(c.snapshot_status().loaded);
}

TEST_F(SnapshotFile, TruncatedFileIsSetAside)
{
    ASSERT_TRUE(mso::prepare_state_dir(m_dir));
    const std::string text = saved_text(m_source);
    std::ofstream(m_dir + "/state.json", std::ios::binary) << text.substr(0, text.size() / 2);

    mso::Collector c;
    const mso::SnapshotRead read = mso::read_snapshot(m_dir, c, k_wall);
    EXPECT_TRUE(read.found);
    EXPECT_FALSE(read.loaded.has_value());
    EXPECT_EQ(read.error, "not valid JSON (truncated?)");
    const std::string aside = m_dir + "/state.json.corrupt-" + std::to_string(k_wall);
    EXPECT_EQ(read.set_aside, aside);
    EXPECT_TRUE(std::filesystem::exists(aside));
    EXPECT_FALSE(std::filesystem::exists(m_dir + "/state.json"));
    EXPECT_EQ(c.aggregator().vhost_count(), 0U);
    const json health = json::parse(mso::answer_query(R"({"cmd":"health"})", c, k_now));
    EXPECT_EQ(health["snapshot_loaded"], false);
    EXPECT_EQ(health["snapshot_last_error"], "not valid JSON (truncated?)");
    EXPECT_EQ(health["snapshot_set_aside"], aside);
    EXPECT_EQ(health["snapshot_last_saved"], "");
}

TEST_F(SnapshotFile, WriteFailsInAMissingDirectory)
{
    const auto written = mso::write_snapshot(m_base + "/nowhere", "{}");
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error(),
              "cannot create " + m_base + "/nowhere/state.json.tmp: No such file or directory");
}

} // namespace
