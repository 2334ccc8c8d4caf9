// Fuzz target: the query protocol as the collector's query socket serves it. The input
// is what a client writes: newline-delimited request lines, each answered by
// answer_query() against a Collector that holds data from real ModSecurity messages
// (encoded by the module's encoder, ingested as datagrams). Every answer must be one
// line of JSON with a boolean "ok" that agrees with parse_query() (tune and readiness,
// which need the history store, are errors here).
#include "state/collector.h"
#include "event_encoder.h"
#include "fuzz_check.h"
#include "state/query_answer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using Clock = mso::Collector::Clock;

// Lines a request may carry before the rest of the input is ignored (keeps runs fast).
constexpr std::size_t k_max_lines = 16;

const Clock::time_point k_now = Clock::time_point{} + std::chrono::hours(1);
// Wall clock (Unix seconds) for the collector's time series: fixed, so runs repeat.
constexpr std::int64_t k_wall_time = 1763739600;

// Shortened from tests/data/crs4_error_log.txt (the hook's text, after unescaping).
constexpr std::string_view k_sqli[] = {
    R"m([client 127.0.0.1] ModSecurity: Warning. detected SQLi using libinjection with fingerprint 's&1c' [file "/crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf"] [line "66"] [id "942100"] [msg "SQL Injection Attack Detected via libinjection"] [data "Matched Data: s&1c found within ARGS:id: 1' OR 1=1--"] [severity "CRITICAL"] [ver "OWASP_CRS/4.28.0"] [tag "attack-sqli"] [tag "paranoia-level/1"] [hostname "block.test"] [uri "/"] [unique_id "aR9xAAAB"])m",
    R"m([client 127.0.0.1] ModSecurity: Access denied with code 403 (phase 2). Operator GE matched 5 at TX:blocking_inbound_anomaly_score. [file "/crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "222"] [id "949110"] [msg "Inbound Anomaly Score Exceeded (Total Score: 5)"] [ver "OWASP_CRS/4.28.0"] [tag "anomaly-evaluation"] [hostname "block.test"] [uri "/"] [unique_id "aR9xAAAB"])m",
};
constexpr std::string_view k_truncated[] = {
    R"m([client 127.0.0.1] ModSecurity: Warning. Pattern match "(?i)<script" at ARGS_NAMES:<script>alert(1)</script>aaaaaaaa [hostname "detect.test"] [uri "/"] [unique_id "aR9xAAAC"])m",
};

void ingest_event(mso::Collector& c, std::string_view vhost, int status,
                  const std::string_view* messages, std::size_t count, bool scores)
{
    mso::RequestRecord r;
    r.time_us = 1763739600123456;
    r.vhost = vhost;
    r.port = 8080;
    r.unique_id = "aR9xAAAB";
    r.client = "203.0.113.7";
    r.method = "GET";
    r.path = "/";
    r.status = status;
    r.protocol = "HTTP/1.1";
    mso::AnomalyScores s;
    s.inbound = 5;
    s.inbound_threshold = 5;
    r.scores = scores ? &s : nullptr;
    char buffer[32 * 1024];
    const auto enc = mso::encode_request_event(r, messages, count, 0, {}, buffer, sizeof buffer);
    MSO_FUZZ_CHECK(enc.size > 0);
    MSO_FUZZ_CHECK(!c.ingest(std::string_view(buffer, enc.size), k_wall_time).has_value());
}

void ingest_counters(mso::Collector& c, std::string_view vhost, std::uint64_t requests)
{
    std::uint64_t status[mso::k_status_slots] = {};
    status[200 - mso::k_min_status] = requests - 1;
    status[mso::k_status_slots - 1] = 1;
    mso::CounterTotals snap;
    snap.vhost = vhost;
    snap.port = 8080;
    snap.pid = 4242;
    snap.requests = requests;
    snap.events_lost = 1;
    snap.status = status;
    char buffer[16 * 1024];
    const std::size_t size = mso::encode_counters(snap, buffer, sizeof buffer);
    MSO_FUZZ_CHECK(size > 0);
    MSO_FUZZ_CHECK(!c.ingest(std::string_view(buffer, size), k_wall_time).has_value());
}

const mso::Collector& prototype()
{
    static const mso::Collector collector = [] {
        // A small event ring (it is copied for every input), smaller than the events
        // ingested below, so eviction is covered too.
        mso::Collector c(k_now - std::chrono::seconds(3600), 4);
        for (int i = 0; i < 3; ++i)
            ingest_event(c, "block.test", 403, k_sqli, std::size(k_sqli), true);
        ingest_event(c, "detect.test", 200, k_sqli, 1, true);
        ingest_event(c, "detect.test", 200, k_truncated, 1, false);
        ingest_counters(c, "block.test", 10);
        ingest_counters(c, "detect.test", 7);
        ingest_counters(c, "clean.test", 3);
        c.count_malformed(mso::DecodeError::not_json);
        return c;
    }();
    return collector;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    mso::Collector collector = prototype();
    std::size_t lines = 0;
    for (std::size_t start = 0; start < input.size() && lines < k_max_lines; ++lines) {
        std::size_t end = input.find('\n', start);
        if (end == std::string_view::npos)
            end = input.size();
        const std::string_view line = input.substr(start, end - start);
        start = end + 1;

        // tune and readiness read the history store, which answer_query() has none of:
        // a query that parses is still answered with an error, counted as a bad query.
        const auto parsed = mso::parse_query(line);
        const bool valid = parsed.has_value() && parsed->command != mso::QueryCommand::tune &&
                           parsed->command != mso::QueryCommand::readiness;
        const std::uint64_t bad_before = collector.bad_queries();
        const std::string answer = mso::answer_query(line, collector, k_now);
        MSO_FUZZ_CHECK(answer.find('\n') == std::string::npos);
        const auto doc = nlohmann::json::parse(answer, nullptr, false);
        MSO_FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
        const auto ok = doc.find("ok");
        MSO_FUZZ_CHECK(ok != doc.end() && ok->is_boolean());
        MSO_FUZZ_CHECK(ok->get<bool>() == valid);
        MSO_FUZZ_CHECK(collector.bad_queries() == bad_before + (valid ? 0 : 1));
        if (!valid) {
            const auto error = doc.find("error");
            MSO_FUZZ_CHECK(error != doc.end() && error->is_string());
            // Echoed input is bounded: an error never carries a whole request back.
            MSO_FUZZ_CHECK(answer.size() <= 512);
        }
    }
    return 0;
}
