// What /metrics exports, from a Collector fed with real datagrams: exact
// per-vhost and per-rule samples, the rule-series cap, hostile rule ids,
// histograms, a HELP and TYPE for every family, and the /proc parsers.
#include "daemon/metrics.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using json = nlohmann::ordered_json;
using Clock = mso::Collector::Clock;

constexpr std::int64_t k_now = 1700000000;

struct Finding {
    std::string id;
    std::string severity = "CRITICAL";
};

std::string request_datagram(const std::string& vhost, int status, bool intercepted,
                             const std::vector<Finding>& findings, int inbound = 5)
{
    json findings_json = json::array();
    for (const Finding& f : findings) {
        findings_json.push_back({{"id", f.id},
                                 {"msg", "m"},
                                 {"severity", f.severity},
                                 {"pl", 1},
                                 {"phase", 2},
                                 {"tags", json::array()},
                                 {"target", ""},
                                 {"data", ""},
                                 {"intercepted", false},
                                 {"truncated", false}});
    }
    const json doc = {{"v", 1},
                      {"type", "request"},
                      {"time_us", 1700000000000000},
                      {"vhost", vhost},
                      {"port", 80},
                      {"unique_id", ""},
                      {"client", "203.0.113.7"},
                      {"method", "GET"},
                      {"path", "/secret/path"},
                      {"status", status},
                      {"protocol", "HTTP/1.1"},
                      {"intercepted", intercepted},
                      {"phase", intercepted ? 2 : 0},
                      {"scores",
                       {{"inbound", inbound},
                        {"outbound", 0},
                        {"inbound_pl", {inbound, 0, 0, 0}},
                        {"outbound_pl", {0, 0, 0, 0}},
                        {"inbound_threshold", 5},
                        {"outbound_threshold", 4},
                        {"blocking_pl", 1},
                        {"detection_pl", 1}}},
                      {"findings", findings_json},
                      {"findings_dropped", 0}};
    return doc.dump();
}

std::string counters_datagram(const std::string& vhost, int requests,
                              const std::string& engine = "")
{
    json report{{"v", 1},
                {"type", "counters"},
                {"vhost", vhost},
                {"port", 80},
                {"pid", 1},
                {"requests", requests},
                {"status", {{"200", requests}}},
                {"events_lost", 0}};
    if (!engine.empty()) {
        report["engine"] = engine;
    }
    return report.dump();
}

void ingest(mso::Collector& c, const std::string& datagram)
{
    const auto failure = c.ingest(datagram, k_now);
    ASSERT_FALSE(failure.has_value()) << failure->detail;
}

// Sample lines by "name{labels}" (comments left out).
std::map<std::string, std::string> samples(const std::string& text)
{
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line.front() == '#') {
            continue;
        }
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

std::string render(const mso::Collector& c,
                   std::size_t max_rules = mso::k_max_rule_series_per_vhost)
{
    return mso::render_metrics(c, Clock::now(), mso::ProcessStats{4096, 1700000000.5}, max_rules);
}

TEST(Metrics, PerVhostAndRuleSamples)
{
    mso::Collector c;
    ingest(c, request_datagram("shop.test", 403, true, {{"942100"}, {"949110"}}, 8));
    ingest(c, request_datagram("shop.test", 403, true, {{"942100"}, {"942100"}, {"949110"}}, 10));
    ingest(c, request_datagram("blog.test", 200, false, {{"920350", "WARNING"}}, 3));
    ingest(c, counters_datagram("shop.test", 5, "detection_only"));
    EXPECT_TRUE(c.ingest("not json", k_now).has_value());
    const auto s = samples(render(c));
    EXPECT_EQ(s.at(R"(modsec_observe_vhost_engine{vhost="shop.test",engine="detection_only"})"),
              "1");
    for (const auto& [series, value] : s) { // blog.test's engine was never said
        EXPECT_FALSE(series.starts_with("modsec_observe_vhost_engine{vhost=\"blog.test\""))
            << series;
    }

    EXPECT_EQ(s.at(R"(modsec_observe_requests_total{vhost="shop.test"})"), "7");
    EXPECT_EQ(s.at(R"(modsec_observe_flagged_total{vhost="shop.test"})"), "2");
    EXPECT_EQ(s.at(R"(modsec_observe_intercepted_total{vhost="shop.test"})"), "2");
    EXPECT_EQ(s.at(R"(modsec_observe_requests_total{vhost="blog.test"})"), "1");
    EXPECT_EQ(s.at(R"(modsec_observe_intercepted_total{vhost="blog.test"})"), "0");
    EXPECT_EQ(s.at(R"(modsec_observe_events_lost_total{vhost="shop.test"})"), "0");
    EXPECT_EQ(s.at(R"(modsec_observe_responses_total{vhost="shop.test",status="403"})"), "2");
    EXPECT_EQ(s.at(R"(modsec_observe_responses_total{vhost="shop.test",status="200"})"), "5");
    EXPECT_EQ(
        s.at(
            R"(modsec_observe_rule_hits_total{vhost="shop.test",rule_id="942100",severity="CRITICAL"})"),
        "2");
    EXPECT_EQ(
        s.at(
            R"(modsec_observe_rule_matches_total{vhost="shop.test",rule_id="942100",severity="CRITICAL"})"),
        "3");
    EXPECT_EQ(
        s.at(
            R"(modsec_observe_rule_hits_total{vhost="blog.test",rule_id="920350",severity="WARNING"})"),
        "1");
    EXPECT_EQ(s.at(R"(modsec_observe_rule_series_dropped{vhost="shop.test"})"), "0");

    EXPECT_EQ(s.at("modsec_observe_collector_datagrams_total"), "5");
    EXPECT_EQ(s.at(R"(modsec_observe_collector_malformed_datagrams_total{reason="not_json"})"),
              "1");
    EXPECT_EQ(s.at(R"(modsec_observe_collector_malformed_datagrams_total{reason="too_large"})"),
              "0");
    EXPECT_EQ(s.at("modsec_observe_collector_vhosts"), "2");
    EXPECT_EQ(s.at("modsec_observe_collector_ring_events"), "3");
    EXPECT_EQ(s.at("modsec_observe_collector_bad_queries_total"), "0");
    EXPECT_EQ(s.at("process_resident_memory_bytes"), "4096");
    EXPECT_EQ(s.at("process_start_time_seconds"), "1700000000.5");
}

TEST(Metrics, NoPathsOrClientsInLabels)
{
    mso::Collector c;
    ingest(c, request_datagram("shop.test", 403, true, {{"942100"}}));
    const std::string text = render(c);
    EXPECT_EQ(text.find("/secret/path"), std::string::npos);
    EXPECT_EQ(text.find("203.0.113.7"), std::string::npos);
}

TEST(Metrics, ScoreHistograms)
{
    mso::Collector c;
    ingest(c, request_datagram("shop.test", 403, true, {{"942100"}}, 8));
    ingest(c, request_datagram("shop.test", 200, false, {{"920350"}}, 3));
    const auto s = samples(render(c));
    const std::string v = R"(vhost="shop.test")";
    // Whatever the aggregator counts (events, plus clean requests as 0), the
    // buckets must be cumulative and end in the count.
    const std::string count = s.at("modsec_observe_inbound_anomaly_score_count{" + v + "}");
    EXPECT_EQ(s.at("modsec_observe_inbound_anomaly_score_bucket{" + v + R"(,le="+Inf"})"), count);
    EXPECT_EQ(s.at("modsec_observe_inbound_anomaly_score_bucket{" + v + R"(,le="3"})"), "1");
    EXPECT_EQ(s.at("modsec_observe_inbound_anomaly_score_bucket{" + v + R"(,le="7"})"), "1");
    EXPECT_EQ(s.at("modsec_observe_inbound_anomaly_score_bucket{" + v + R"(,le="10"})"), "2");
    EXPECT_EQ(s.at("modsec_observe_inbound_anomaly_score_sum{" + v + "}"), "11");
    EXPECT_EQ(count, "2");
    EXPECT_EQ(s.at("modsec_observe_outbound_anomaly_score_bucket{" + v + R"(,le="0"})"), "2");
}

TEST(Metrics, RuleSeriesAreCappedByHits)
{
    mso::Collector c;
    // Rule "1" matches in 5 requests, "2" in 4, ... "5" in 1.
    for (int n = 1; n <= 5; ++n) {
        for (int hit = 0; hit < n; ++hit) {
            ingest(c, request_datagram("shop.test", 200, false, {{std::to_string(6 - n)}}));
        }
    }
    const auto s = samples(render(c, 2));
    EXPECT_EQ(
        s.at(
            R"(modsec_observe_rule_hits_total{vhost="shop.test",rule_id="1",severity="CRITICAL"})"),
        "5");
    EXPECT_EQ(
        s.at(
            R"(modsec_observe_rule_hits_total{vhost="shop.test",rule_id="2",severity="CRITICAL"})"),
        "4");
    EXPECT_EQ(
        s.count(
            R"(modsec_observe_rule_hits_total{vhost="shop.test",rule_id="3",severity="CRITICAL"})"),
        0U);
    EXPECT_EQ(s.at(R"(modsec_observe_rule_series_dropped{vhost="shop.test"})"), "3");
}

TEST(Metrics, HostileStringsAreEscaped)
{
    mso::Collector c;
    ingest(c, request_datagram("evil\"\\\nvhost", 200, false,
                               {{"1\"} injected 1\n# TYPE x counter", "SEV\"\n"}}));
    const std::string text = render(c);
    EXPECT_NE(text.find(R"(modsec_observe_requests_total{vhost="evil\"\\\nvhost"} 1)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(rule_id="1\"} injected 1\n# TYPE x counter",severity="SEV\"\n"} 1)"),
              std::string::npos)
        << text;
    // Every line is a comment or one sample: no raw newline got through.
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        EXPECT_TRUE(line.starts_with("# HELP ") || line.starts_with("# TYPE ") ||
                    line.starts_with("modsec_observe_") || line.starts_with("process_"))
            << line;
    }
}

TEST(Metrics, PerSourceSeriesWithEscapedNames)
{
    mso::Collector c;
    ingest(c, request_datagram("shop", 200, false, {{"942100", "CRITICAL"}}));
    mso::RequestEvent e;
    e.vhost = "edge";
    e.time_us = 1763739600000000;
    c.ingest_event(e, "sensor:evil\"\\\n} x 1", 1763739601, 500);
    c.count_source_refusal("sensor:evil\"\\\n} x 1", "too_large", 1763739602);
    c.count_source_refusal("sensor:quiet", "auth", 1763739603);
    const std::string text = render(c);
    EXPECT_NE(text.find(R"(modsec_observe_source_events_total{source="module"} 1)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(modsec_observe_source_events_total{source="sensor:evil\"\\\n} x 1"} 1)"),
              std::string::npos)
        << text;
    EXPECT_NE(
        text.find(R"(modsec_observe_source_bytes_total{source="sensor:evil\"\\\n} x 1"} 500)"),
        std::string::npos)
        << text;
    EXPECT_NE(
        text.find(
            R"(modsec_observe_source_last_seen_timestamp_seconds{source="sensor:evil\"\\\n} x 1"} 1763739601)"),
        std::string::npos)
        << text;
    EXPECT_NE(
        text.find(
            R"(modsec_observe_source_refusals_total{source="sensor:evil\"\\\n} x 1",reason="too_large"} 1)"),
        std::string::npos)
        << text;
    EXPECT_NE(
        text.find(R"(modsec_observe_source_refusals_total{source="sensor:quiet",reason="auth"} 1)"),
        std::string::npos)
        << text;
    // For checking with promtool by hand: MSO_METRICS_DUMP=FILE build/tests/test_metrics
    // --gtest_filter='*PerSource*' && promtool check metrics < FILE
    if (const char* dump = std::getenv("MSO_METRICS_DUMP")) {
        std::ofstream(dump) << text;
    }
    // A source that never sent an event has no last-seen sample.
    EXPECT_EQ(text.find(R"(last_seen_timestamp_seconds{source="sensor:quiet"})"),
              std::string::npos);
}

TEST(Metrics, EveryFamilyHasHelpAndTypeOnceBeforeItsSamples)
{
    mso::Collector c;
    ingest(c, request_datagram("shop.test", 403, true, {{"942100"}}));
    ingest(c, counters_datagram("blog.test", 3));
    std::istringstream in(render(c));
    std::set<std::string> helped;
    std::map<std::string, std::string> typed;
    std::size_t sample_lines = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("# HELP ")) {
            const std::string name = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_TRUE(helped.insert(name).second) << "second HELP for " << name;
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            EXPECT_TRUE(helped.count(name)) << "TYPE before HELP for " << name;
            EXPECT_TRUE(typed.emplace(name, rest.substr(rest.find(' ') + 1)).second);
            continue;
        }
        ++sample_lines;
        std::string name = line.substr(0, line.find_first_of("{ "));
        if (!typed.count(name)) {
            for (const char* suffix : {"_bucket", "_sum", "_count"}) {
                if (name.ends_with(suffix)) {
                    name.resize(name.size() - std::string(suffix).size());
                    break;
                }
            }
            ASSERT_EQ(typed.count(name), 1U) << "no TYPE for " << line;
            EXPECT_EQ(typed.at(name), "histogram");
        }
        if (typed.at(name) == "counter") {
            EXPECT_TRUE(name.ends_with("_total")) << name;
        }
    }
    EXPECT_GT(sample_lines, 40U);
}

// A datagram the decoder rejects for `reason`; "" when the test knows none (a new
// reason needs one here).
std::string datagram_failing_with(mso::DecodeError reason)
{
    using mso::DecodeError;
    switch (reason) {
    case DecodeError::too_large: return std::string(mso::k_max_datagram_bytes + 1, ' ');
    case DecodeError::not_json: return "not json";
    case DecodeError::not_object: return "[1]";
    case DecodeError::bad_version: return R"({"v":3,"type":"request"})";
    case DecodeError::unknown_type: return R"({"v":1,"type":"nope"})";
    case DecodeError::missing_field: return R"({"v":1,"type":"counters"})";
    case DecodeError::bad_field_type:
        return R"({"v":1,"type":"counters","vhost":7,"port":1,"requests":1})";
    case DecodeError::out_of_bounds:
        return std::string(mso::k_max_json_depth + 1, '[') +
               std::string(mso::k_max_json_depth + 1, ']');
    }
    return "";
}

// Every reason a datagram can be rejected for reaches /metrics and `health` with its
// count (reason i is fed i + 1 times, so a count under the wrong label shows).
TEST(Metrics, EveryDecodeErrorReasonIsExportedWithItsCount)
{
    mso::Collector c;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < mso::k_decode_errors.size(); ++i) {
        const mso::DecodeErrorInfo& reason = mso::k_decode_errors[i];
        SCOPED_TRACE(std::string(reason.name) + ": " + std::string(reason.help));
        const std::string datagram = datagram_failing_with(reason.reason);
        ASSERT_FALSE(datagram.empty()) << "no test datagram for this reason";
        for (std::size_t n = 0; n <= i; ++n, ++total) {
            const auto failure = c.ingest(datagram, k_now);
            ASSERT_TRUE(failure.has_value());
            ASSERT_EQ(failure->reason, reason.reason) << failure->detail;
        }
    }
    const auto s = samples(render(c));
    const json health = c.health(Clock::now());
    for (std::size_t i = 0; i < mso::k_decode_errors.size(); ++i) {
        const std::string name(mso::k_decode_errors[i].name);
        SCOPED_TRACE(name);
        const std::string series =
            R"(modsec_observe_collector_malformed_datagrams_total{reason=")" + name + R"("})";
        ASSERT_EQ(s.count(series), 1U) << "not in /metrics";
        EXPECT_EQ(s.at(series), std::to_string(i + 1));
        EXPECT_EQ(health["malformed_by_reason"].value(name, 0U), i + 1) << "not in health";
    }
    EXPECT_EQ(health["malformed_by_reason"].size(), mso::k_decode_errors.size());
    EXPECT_EQ(health["malformed"], total);
    EXPECT_EQ(s.at("modsec_observe_collector_datagrams_total"), std::to_string(total));
}

TEST(Metrics, EmptyCollectorStillExportsHealth)
{
    const mso::Collector c;
    const auto s = samples(mso::render_metrics(c, Clock::now(), mso::ProcessStats{}));
    EXPECT_EQ(s.at("modsec_observe_collector_datagrams_total"), "0");
    EXPECT_EQ(s.at("modsec_observe_collector_vhosts"), "0");
    EXPECT_EQ(s.count("process_resident_memory_bytes"), 0U);
}

TEST(Metrics, HistoryCountersMatchHealth)
{
    mso::Collector c;
    EXPECT_EQ(samples(render(c)).count("modsec_observe_history_written_total"), 0U)
        << "exported although history is off";
    mso::HistoryStatus& h = c.history_status();
    h.enabled = true;
    h.written = 11;
    h.duplicates = 2;
    h.queue_full = 3;
    h.disk_full = 4;
    h.io_errors = 5;
    h.batches = 6;
    h.pruned = 7;
    h.queued = 8;
    h.file_bytes = 9;
    h.queries = 10;
    h.queries_refused = 12;
    h.query_errors = 13;
    h.queries_shared = 14;
    const auto s = samples(render(c));
    const json health = c.health(Clock::now())["history"];
    const std::pair<const char*, const char*> same[] = {
        {"modsec_observe_history_written_total", "written"},
        {"modsec_observe_history_duplicates_total", "duplicates"},
        {R"(modsec_observe_history_lost_total{reason="queue_full"})", "queue_full"},
        {R"(modsec_observe_history_lost_total{reason="disk_full"})", "disk_full"},
        {R"(modsec_observe_history_lost_total{reason="io_error"})", "io_errors"},
        {"modsec_observe_history_batches_total", "batches"},
        {"modsec_observe_history_pruned_total", "pruned"},
        {"modsec_observe_history_queued_events", "queued"},
        {"modsec_observe_history_file_bytes", "file_bytes"},
        {"modsec_observe_history_queries_total", "queries"},
        {"modsec_observe_history_queries_refused_total", "queries_refused"},
        {"modsec_observe_history_query_errors_total", "query_errors"},
        {"modsec_observe_history_queries_shared_total", "queries_shared"},
    };
    for (const auto& [series, key] : same) {
        SCOPED_TRACE(series);
        ASSERT_EQ(s.count(series), 1U);
        EXPECT_EQ(s.at(series), std::to_string(health[key].get<std::uint64_t>()));
    }
}

TEST(Metrics, ImportCountersMatchHealth)
{
    mso::Collector c;
    mso::ImportCounters& i = c.import_counters();
    i.connections = 1;
    i.inserted = 12;
    i.duplicates = 3;
    i.malformed = 4;
    i.lost = 5;
    const auto s = samples(render(c));
    const json health = c.health(Clock::now())["import"];
    const std::pair<const char*, const char*> same[] = {
        {R"(modsec_observe_collector_import_events_total{result="inserted"})", "inserted"},
        {R"(modsec_observe_collector_import_events_total{result="duplicate"})", "duplicates"},
        {R"(modsec_observe_collector_import_events_total{result="malformed"})", "malformed"},
        {R"(modsec_observe_collector_import_events_total{result="lost"})", "lost"},
        {"modsec_observe_collector_import_connections_total", "connections"},
    };
    for (const auto& [series, key] : same) {
        SCOPED_TRACE(series);
        ASSERT_EQ(s.count(series), 1U);
        EXPECT_EQ(s.at(series), std::to_string(health[key].get<std::uint64_t>()));
    }
}

// The daemon's scrape: MetricsRender in steps, formatting between them (outside the
// collector lock). Runs the loop as scrape_metrics() in daemon/main.cpp does;
// `between(step)` runs after each step, where the loop could take the lock.
template <typename Between>
std::string render_in_steps(const mso::Collector& c, std::size_t per_step, Between&& between)
{
    mso::MetricsRender render(Clock::now(), mso::ProcessStats{4096, 1700000000.5},
                              mso::k_max_rule_series_per_vhost, per_step);
    std::size_t steps = 0;
    for (bool last = false; !last;) {
        last = render.step(c);
        render.format();
        between(++steps);
        if (steps > 1000) { // a cursor that does not move would loop for ever
            ADD_FAILURE() << "the render does not end";
            break;
        }
    }
    EXPECT_TRUE(render.step(c)); // done stays done
    return render.finish();
}

std::size_t count_of(const std::string& text, const std::string& part)
{
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++n;
    }
    return n;
}

TEST(Metrics, RenderedInStepsIsTheSameText)
{
    mso::Collector c;
    for (int v = 0; v < 70; ++v) {
        const std::string vhost =
            v % 13 == 0 ? "h\"o\\st" + std::to_string(v) : "v" + std::to_string(v) + ".test";
        for (int k = 0; k <= v % 4; ++k) {
            ingest(c, request_datagram(vhost, k % 2 ? 403 : 200, k % 2 == 1,
                                       {{std::to_string(942100 + v % 9)}, {"949110", "WARNING"}},
                                       v % 12));
        }
        ingest(c, counters_datagram(vhost, v, v % 3 ? "on" : "detection_only"));
    }
    ingest(c, counters_datagram("", 3)); // sorts first: the cursor's start is not a name
    const std::string whole = render(c);
    ASSERT_EQ(count_of(whole, "modsec_observe_requests_total{"), 71U);
    ASSERT_EQ(count_of(whole, R"(modsec_observe_requests_total{vhost=""} 3)"), 1U);
    for (const std::size_t per_step : {std::size_t{1}, std::size_t{7}, std::size_t{32}}) {
        std::size_t steps = 0;
        EXPECT_EQ(render_in_steps(c, per_step, [&](std::size_t n) { steps = n; }), whole)
            << per_step << " vhosts per step";
        EXPECT_EQ(steps, (71 + per_step - 1) / per_step) << per_step; // locked that often
    }
}

TEST(Metrics, VhostsChangingBetweenStepsGiveAValidScrape)
{
    mso::Collector c;
    for (const char* vhost : {"b.test", "d.test", "f.test"}) {
        ingest(c, counters_datagram(vhost, 10));
    }
    const std::string text = render_in_steps(c, 1, [&](std::size_t step) {
        if (step == 1) { // b.test was copied: what changes now is the loop's
            ingest(c, counters_datagram("a.test", 5));  // before the cursor: next scrape
            ingest(c, counters_datagram("e.test", 7));  // after it: in this one
            ingest(c, counters_datagram("b.test", 90)); // copied already: as it was
            ingest(c, request_datagram("d.test", 403, true, {{"942100"}}, 8));
        }
    });
    const auto s = samples(text);
    EXPECT_EQ(s.count(R"(modsec_observe_requests_total{vhost="a.test"})"), 0U);
    EXPECT_EQ(s.at(R"(modsec_observe_requests_total{vhost="e.test"})"), "7");
    EXPECT_EQ(s.at(R"(modsec_observe_requests_total{vhost="b.test"})"), "10");
    EXPECT_EQ(count_of(text, R"(modsec_observe_requests_total{vhost="b.test"})"), 1U);
    EXPECT_EQ(s.at(R"(modsec_observe_requests_total{vhost="d.test"})"), "11");
    EXPECT_EQ(s.at(R"(modsec_observe_rule_hits_total{vhost="d.test",rule_id="942100",)"
                   R"(severity="CRITICAL"})"),
              "1");
    // The collector's own series are read in the last step, after every change.
    EXPECT_EQ(s.at("modsec_observe_collector_vhosts"), "5");
    for (const char* family :
         {"modsec_observe_requests_total", "modsec_observe_rule_hits_total",
          "modsec_observe_inbound_anomaly_score", "modsec_observe_collector_vhosts"}) {
        EXPECT_EQ(count_of(text, std::string("# TYPE ") + family + " "), 1U) << family;
    }
}

TEST(ProcessStats, Parsers)
{
    EXPECT_EQ(mso::parse_statm_resident_pages("2456 789 321 12 0 400 0\n"), 789U);
    EXPECT_EQ(mso::parse_statm_resident_pages("2456"), std::nullopt);
    EXPECT_EQ(mso::parse_statm_resident_pages("2456 x"), std::nullopt);

    // The command name may hold spaces and parentheses; starttime is field 22.
    const std::string stat = "4242 (modsec obs) d) S 1 4242 4242 0 -1 4194560 300 0 0 0 "
                             "10 5 0 0 20 0 3 0 987654 12345678 789 18446744073709551615\n";
    EXPECT_EQ(mso::parse_stat_start_ticks(stat), 987654U);
    EXPECT_EQ(mso::parse_stat_start_ticks("4242 modsec S 1"), std::nullopt);
    EXPECT_EQ(mso::parse_stat_start_ticks("4242 (x) S 1 2"), std::nullopt);

    EXPECT_EQ(mso::parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1699990000\nprocesses 9\n"),
              1699990000U);
    EXPECT_EQ(mso::parse_boot_time("cpu 1\n"), std::nullopt);

    const mso::ProcessStats self = mso::read_process_stats();
    ASSERT_TRUE(self.resident_bytes.has_value());
    EXPECT_GT(*self.resident_bytes, 0U);
    ASSERT_TRUE(self.start_time_seconds.has_value());
    EXPECT_GT(*self.start_time_seconds, 1.6e9);
}

} // namespace
