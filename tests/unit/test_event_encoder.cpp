// Round trips through the module's encoder and the collector's decoder, on real
// captured messages: what the encoder writes, cuts, drops and hashes.
#include "anomaly_scores.h"
#include "event_decoder.h"
#include "event_encoder.h"
#include "event_fields.h"
#include "modsec_message.h"
#include "sample_record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mso {
namespace {

// The messages of the first request in `file` on `vhost` one of whose lines contains
// `needle` (a rule id is given as "942100"), as the module's capture stores them.
std::vector<std::string> request_messages(const char* file, const std::string& vhost,
                                          std::string needle)
{
    if (needle.find_first_not_of("0123456789") == std::string::npos)
        needle = "[id \"" + needle + "\"]";
    std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/" + file);
    std::map<std::string, std::vector<std::string>> by_request;
    std::vector<std::string> order;
    for (std::string line; std::getline(in, line);) {
        const std::size_t u = line.find("[unique_id \"");
        if (u == std::string::npos ||
            line.find("[hostname \"" + vhost + "\"]") == std::string::npos)
            continue;
        const std::string uid = line.substr(u, line.find('"', u + 12) - u);
        std::string text = line.substr(line.find("[client 127.0.0.1] ModSecurity: "));
        text.resize(apache_log_unescape(text.data(), text.size()));
        if (by_request[uid].empty())
            order.push_back(uid);
        by_request[uid].push_back(text);
    }
    for (const std::string& uid : order)
        for (const std::string& m : by_request[uid])
            if (m.find(needle) != std::string::npos)
                return by_request[uid];
    ADD_FAILURE() << "no request with " << needle;
    return {};
}

RequestEvent round_trip(const RequestRecord& r, const std::vector<std::string>& texts,
                        std::size_t capacity = 32768, EncoderLimits limits = {})
{
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::string buffer(capacity, '\0');
    const EncodeResult enc = encode_request_event(r, views.data(), views.size(), 0, limits,
                                                  buffer.data(), buffer.size());
    EXPECT_GT(enc.size, 0U);
    Decoded d = decode_datagram(std::string_view(buffer.data(), enc.size));
    EXPECT_EQ(d, decode_datagram_reference(std::string_view(buffer.data(), enc.size)));
    if (auto* f = std::get_if<DecodeFailure>(&d))
        ADD_FAILURE() << f->detail << ": " << std::string_view(buffer.data(), enc.size);
    auto* e = std::get_if<RequestEvent>(&d);
    return e ? *e : RequestEvent{};
}

TEST(EventCodec, BlockedSqlInjectionCrs4)
{
    const auto texts = request_messages("crs4_error_log.txt", "block.test", "942100");
    AnomalyScores scores;
    scores.inbound = 5;
    scores.inbound_pl = {5, 0, 0, 0};
    scores.inbound_threshold = 5;
    scores.blocking_pl = 1;
    RequestRecord r = sample_record();
    r.scores = &scores;
    const RequestEvent e = round_trip(r, texts);
    EXPECT_EQ(e.vhost, "block.test");
    EXPECT_EQ(e.port, 8080);
    EXPECT_EQ(e.time_us, 1763739600123456);
    EXPECT_EQ(e.status, 403);
    EXPECT_EQ(e.query, ""); // off unless asked for
    EXPECT_EQ(e.user_agent, "sqlmap/1.7");
    EXPECT_TRUE(e.intercepted);
    EXPECT_EQ(e.phase, 2);
    ASSERT_TRUE(e.scores.has_value());
    EXPECT_EQ(e.scores->inbound, 5);
    EXPECT_EQ(e.scores->inbound_pl[0], 5);
    std::vector<std::string> ids;
    for (const Finding& f : e.findings)
        ids.push_back(f.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"942100", "949110", "980170"}));
    const Finding& sqli = e.findings[0];
    EXPECT_EQ(sqli.msg, "SQL Injection Attack Detected via libinjection");
    EXPECT_EQ(sqli.severity, "CRITICAL");
    EXPECT_EQ(sqli.paranoia_level, 1);
    EXPECT_EQ(sqli.target, "ARGS:id");
    EXPECT_EQ(sqli.data, "Matched Data: s&1c found within ARGS:id: 1' OR 1=1--");
    EXPECT_FALSE(sqli.intercepted);
    EXPECT_TRUE(e.findings[1].intercepted);
    EXPECT_EQ(e.findings_dropped, 0U);
}

TEST(EventCodec, UnscoredRequestLeavesThresholdsAndLevelsOut)
{
    // The snippet ran and nothing scored: the scores are 0, and the thresholds and
    // paranoia levels, which the snippet exports only for scored requests, are not on
    // the wire (a 0 there would read as "threshold 0").
    const AnomalyScores scores;
    RequestRecord r = sample_record();
    r.scores = &scores;
    std::string buffer(4096, '\0');
    const EncodeResult enc =
        encode_request_event(r, nullptr, 0, 0, {}, buffer.data(), buffer.size());
    const std::string_view wire(buffer.data(), enc.size);
    EXPECT_NE(wire.find("\"scores\":{\"inbound\":0,"), std::string_view::npos) << wire;
    for (const char* key : {"threshold", "blocking_pl", "detection_pl"})
        EXPECT_EQ(wire.find(key), std::string_view::npos) << key << " in " << wire;
    const RequestEvent e = round_trip(r, {});
    ASSERT_TRUE(e.scores.has_value());
    EXPECT_EQ(*e.scores, AnomalyScores{});
}

TEST(EventCodec, QueryStringOnlyWhenEnabled)
{
    RequestRecord r = sample_record();
    r.include_query = true;
    EXPECT_EQ(round_trip(r, {}).query, "q=secret");
}

TEST(EventCodec, NoSnippetMeansNullScores)
{
    const RequestEvent e = round_trip(sample_record(), {});
    EXPECT_FALSE(e.scores.has_value());
    EXPECT_TRUE(e.findings.empty());
    EXPECT_FALSE(e.intercepted);
}

TEST(EventCodec, TruncatedMessageIsKeptWithoutId)
{
    for (const char* file : {"crs3_error_log.txt", "crs4_error_log.txt"}) {
        SCOPED_TRACE(file);
        // The request with the 1,100-character argument name on detect.test.
        const auto texts = request_messages(file, "detect.test", "at ARGS_NAMES:<script>");
        std::size_t id_less = 0;
        for (const std::string& t : texts)
            id_less += t.find("[id \"") == std::string::npos ? 1U : 0U;
        ASSERT_GT(id_less, 0U) << "the capture has no truncated message for this request";
        const RequestEvent e = round_trip(sample_record(), texts);
        ASSERT_EQ(e.findings.size(), texts.size()); // nothing dropped
        std::size_t truncated = 0;
        for (const Finding& f : e.findings) {
            if (f.truncated) {
                ++truncated;
                EXPECT_EQ(f.id, "");
            }
        }
        EXPECT_EQ(truncated, id_less);
    }
}

TEST(EventCodec, FindingsThatDoNotFitAreDroppedAndCounted)
{
    const auto texts = request_messages("crs4_error_log.txt", "block.test", "942100");
    std::vector<std::string> many;
    for (int i = 0; i < 50; ++i)
        many.insert(many.end(), texts.begin(), texts.end());
    const RequestEvent e = round_trip(sample_record(), many, 8192);
    EXPECT_GT(e.findings.size(), 0U);
    EXPECT_EQ(e.findings.size() + e.findings_dropped, many.size());
    EXPECT_TRUE(e.intercepted); // the verdict survives dropped findings
}

TEST(EventCodec, FindingLimitPerRequest)
{
    const auto texts = request_messages("crs4_error_log.txt", "block.test", "942100");
    std::vector<std::string> many;
    for (int i = 0; i < 10; ++i)
        many.insert(many.end(), texts.begin(), texts.end());
    EncoderLimits limits;
    limits.max_findings = 4;
    const RequestEvent e = round_trip(sample_record(), many, 65536, limits);
    EXPECT_EQ(e.findings.size(), 4U);
    EXPECT_EQ(e.findings_dropped, many.size() - 4);
}

TEST(EventCodec, LongDataIsCutAndMarked)
{
    const std::string text = "ModSecurity: Warning. x. [file \"/f\"] [id \"7\"] [data \"" +
                             std::string(600, 'd') +
                             "\"] [hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";
    const RequestEvent e = round_trip(sample_record(), {text});
    ASSERT_EQ(e.findings.size(), 1U);
    EXPECT_EQ(e.findings[0].data.size(), 256U);
    EXPECT_TRUE(e.findings[0].data_truncated);
}

const std::string k_password_finding =
    "ModSecurity: Warning. x. [file \"/f\"] [id \"942100\"] [data \"Matched Data: "
    "Hunter2Secret' OR 1=1 found within ARGS:password: Hunter2Secret' OR 1=1\"] "
    "[hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";

TEST(EventCodec, MatchedDataTruncatedToN)
{
    EncoderLimits limits;
    limits.max_data = 20;
    const RequestEvent e = round_trip(sample_record(), {k_password_finding}, 32768, limits);
    ASSERT_EQ(e.findings.size(), 1U);
    EXPECT_EQ(e.findings[0].data, "Matched Data: Hunter");
    EXPECT_TRUE(e.findings[0].data_truncated);
}

// Records what it was asked to hash; writes a recognisable digest.
std::string g_hashed;
void fake_hash(std::string_view data, char* out) noexcept
{
    g_hashed.assign(data);
    for (int i = 0; i < 40; ++i)
        out[i] = "0123456789abcdef"[(data.size() + static_cast<std::size_t>(i)) % 16];
}

TEST(EventCodec, MatchedDataHashedNeverSent)
{
    EncoderLimits limits;
    limits.data_mode = MatchedDataMode::hash;
    limits.hash_data = fake_hash;
    g_hashed.clear();
    const RequestEvent e = round_trip(sample_record(), {k_password_finding}, 32768, limits);
    ASSERT_EQ(e.findings.size(), 1U);
    const std::string& data = e.findings[0].data;
    EXPECT_EQ(data.rfind("sha1:", 0), 0U) << data;
    EXPECT_EQ(data.size(), 45U);
    EXPECT_EQ(data.find("Hunter2"), std::string::npos);
    EXPECT_NE(g_hashed.find("Hunter2Secret"), std::string::npos); // the logged data was hashed
    EXPECT_FALSE(e.findings[0].data_truncated);
    EXPECT_EQ(e.findings[0].id, "942100"); // the rest of the finding is untouched
}

TEST(EventCodec, MatchedDataOffOrHashWithoutHasherSendsNothing)
{
    for (const MatchedDataMode mode : {MatchedDataMode::off, MatchedDataMode::hash}) {
        EncoderLimits limits;
        limits.data_mode = mode;
        const RequestEvent e = round_trip(sample_record(), {k_password_finding}, 32768, limits);
        ASSERT_EQ(e.findings.size(), 1U);
        EXPECT_EQ(e.findings[0].data, "");
        EXPECT_EQ(e.findings[0].target, "ARGS:password");
    }
}

TEST(EventCodec, HostileRequestFieldsStayValidJson)
{
    RequestRecord r = sample_record();
    const std::string path = "/\x1b[2J\"\\\xff\n";
    r.path = path;
    const RequestEvent e = round_trip(r, {});
    EXPECT_EQ(e.path, "/\x1b[2J\"\\\xef\xbf\xbd\n");
}

TEST(CounterCodec, RoundTrip)
{
    std::uint64_t status[k_status_slots] = {};
    status[200 - k_min_status] = 10;
    status[404 - k_min_status] = 2;
    status[k_status_slots - 1] = 1;
    CounterTotals c{"a.test", 80, 4242, 13, 1, status, {}};
    char buffer[4096];
    const std::size_t n = encode_counters(c, buffer, sizeof buffer);
    ASSERT_GT(n, 0U);
    Decoded d = decode_datagram(std::string_view(buffer, n));
    auto* report = std::get_if<CounterReport>(&d);
    ASSERT_NE(report, nullptr) << std::string_view(buffer, n);
    EXPECT_EQ(report->vhost, "a.test");
    EXPECT_EQ(report->pid, 4242);
    EXPECT_EQ(report->requests, 13U);
    EXPECT_EQ(report->events_lost, 1U);
    EXPECT_EQ(report->status, (std::map<int, std::uint64_t>{{0, 1}, {200, 10}, {404, 2}}));
    EXPECT_EQ(report->engine, ""); // not said: not sent
    EXPECT_EQ(std::string_view(buffer, n).find("engine"), std::string_view::npos);
    for (std::string_view engine : {"on", "off", "detection_only"}) {
        c.engine = engine;
        const std::size_t with_engine = encode_counters(c, buffer, sizeof buffer);
        d = decode_datagram(std::string_view(buffer, with_engine));
        report = std::get_if<CounterReport>(&d);
        ASSERT_NE(report, nullptr) << std::string_view(buffer, with_engine);
        EXPECT_EQ(report->engine, engine);
    }
}

TEST(RequestTargetPath, AsSentWithoutQueryOrFragment)
{
    const std::pair<const char*, const char*> cases[] = {
        {"/", "/"},
        {"/a%2f..%2fb?x=1", "/a%2f..%2fb"},
        {"/%3Cscript%3E.html", "/%3Cscript%3E.html"},
        {"/p#frag", "/p"},
        {"/p?q#f", "/p"},
        {"http://host.example/p/q?x", "/p/q"},
        {"http://host.example", ""},
        {"http://host.example?x", ""},
        {"*", "*"},
        {"", ""},
        {"relative/path", "relative/path"},
    };
    for (const auto& [target, path] : cases) {
        EXPECT_EQ(request_target_path(target), path) << target;
    }
}

// The keys of one JSON object of a datagram.
std::set<std::string> keys_of(const nlohmann::json& object)
{
    std::set<std::string> out;
    for (const auto& [key, value] : object.items())
        out.insert(key);
    return out;
}

// Sets `value` (a member of `datagram`) to a value of the wrong type; then both decoders
// must reject the datagram naming `key`, which proves they read the key the encoder wrote.
void expect_key_is_read(nlohmann::json& datagram, nlohmann::json& value, const std::string& key)
{
    SCOPED_TRACE(key);
    const nlohmann::json saved = value;
    value = value.is_boolean() ? nlohmann::json("x") : nlohmann::json(true);
    const std::string text = datagram.dump();
    for (const Decoded& d : {decode_datagram(text), decode_datagram_reference(text)}) {
        const auto* f = std::get_if<DecodeFailure>(&d);
        ASSERT_NE(f, nullptr) << "the decoder ignores this key";
        EXPECT_EQ(f->reason, DecodeError::bad_field_type) << f->detail;
        EXPECT_NE(f->detail.find('"' + key + '"'), std::string::npos) << f->detail;
    }
    value = saved;
}

// The encoder writes every key of event_fields.h for a fully populated event, and both
// decoders read each of them: a key spelled differently on one side fails here.
TEST(EventFields, EncoderWritesEveryKeyAndBothDecodersReadIt)
{
    std::vector<std::string> texts = request_messages("crs4_error_log.txt", "block.test", "942100");
    texts.push_back("ModSecurity: Warning. x. [file \"/f\"] [id \"7\"] [data \"" +
                    std::string(600, 'd') + "\"] [tag \"a\"] [hostname \"h\"] [uri \"/\"]");
    texts.push_back("[client 127.0.0.1] ModSecurity: JSON parser error: parse error: premature "
                    "EOF\n [hostname \"h\"] [uri \"/\"] [unique_id \"u\"]");
    texts.push_back("ModSecurity: Warning. x. [file \"/f\"] [id \"12\"] [ms");
    const AnomalyScores scores{8, 4, {5, 3, 0, 0}, {4, 0, 0, 0}, 5, 4, 1, 2};
    RequestRecord r = sample_record();
    r.scores = &scores;
    r.include_query = true;
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::string buffer(32768, '\0');
    const EncodeResult enc =
        encode_request_event(r, views.data(), views.size(), 0, {}, buffer.data(), buffer.size());
    ASSERT_GT(enc.size, 0U);
    nlohmann::json datagram = nlohmann::json::parse(std::string_view(buffer.data(), enc.size));

    const std::set<std::string> request_keys = {
        k_field_version,     k_field_type,      k_field_time_us,  k_field_vhost,
        k_field_port,        k_field_unique_id, k_field_client,   k_field_method,
        k_field_path,        k_field_query,     k_field_status,   k_field_protocol,
        k_field_user_agent,  k_field_scores,    k_field_findings, k_field_findings_dropped,
        k_field_intercepted, k_field_phase};
    const std::set<std::string> score_keys = {k_field_inbound,           k_field_outbound,
                                              k_field_inbound_pl,        k_field_outbound_pl,
                                              k_field_inbound_threshold, k_field_outbound_threshold,
                                              k_field_blocking_pl,       k_field_detection_pl};
    const std::set<std::string> finding_keys = {
        k_field_id,          k_field_msg,       k_field_severity,
        k_field_pl,          k_field_phase,     k_field_tags,
        k_field_target,      k_field_data,      k_field_data_truncated,
        k_field_intercepted, k_field_truncated, k_field_engine};
    EXPECT_EQ(datagram[k_field_type], k_type_request);
    EXPECT_EQ(keys_of(datagram), request_keys);
    EXPECT_EQ(keys_of(datagram[k_field_scores]), score_keys);
    std::set<std::string> written;
    for (const auto& finding : datagram[k_field_findings]) {
        const auto keys = keys_of(finding);
        written.insert(keys.begin(), keys.end());
    }
    EXPECT_EQ(written, finding_keys);

    for (const std::string& key : request_keys)
        if (key != k_field_version && key != k_field_type)
            expect_key_is_read(datagram, datagram[key], key);
    for (const std::string& key : score_keys)
        expect_key_is_read(datagram, datagram[k_field_scores][key], key);
    for (auto& finding : datagram[k_field_findings])
        for (const std::string& key : keys_of(finding))
            expect_key_is_read(datagram, finding[key], key);
}

// The same for a counter report.
TEST(EventFields, CounterReportKeysAreReadByTheDecoder)
{
    std::uint64_t status[k_status_slots] = {};
    status[200 - k_min_status] = 3;
    const CounterTotals c{"a.test", 80, 4242, 3, 1, status, {}};
    char buffer[4096];
    const std::size_t n = encode_counters(c, buffer, sizeof buffer);
    ASSERT_GT(n, 0U);
    nlohmann::json datagram = nlohmann::json::parse(std::string_view(buffer, n));
    EXPECT_EQ(datagram[k_field_type], k_type_counters);
    const std::set<std::string> keys = {k_field_version, k_field_type,       k_field_vhost,
                                        k_field_port,    k_field_pid,        k_field_requests,
                                        k_field_status,  k_field_events_lost};
    EXPECT_EQ(keys_of(datagram), keys);
    for (const std::string& key : keys)
        if (key != k_field_version && key != k_field_type)
            expect_key_is_read(datagram, datagram[key], key);
}

} // namespace
} // namespace mso
