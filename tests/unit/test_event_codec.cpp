// Round trips through the module's encoder and the collector's decoder, on real
// captured messages, plus the decoder's handling of malformed datagrams.
#include "anomaly_scores.h"
#include "event_decoder.h"
#include "event_encoder.h"
#include "event_fields.h"
#include "modsec_message.h"

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

RequestRecord sample_record()
{
    RequestRecord r;
    r.time_us = 1763739600123456;
    r.vhost = "block.test";
    r.port = 8080;
    r.unique_id = "abc";
    r.client = "127.0.0.1";
    r.method = "GET";
    r.path = "/search";
    r.query = "q=secret";
    r.status = 403;
    r.protocol = "HTTP/1.1";
    r.user_agent = "sqlmap/1.7";
    return r;
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
    CounterSnapshot c{"a.test", 80, 4242, 13, 1, status};
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
}

struct BadCase {
    std::string datagram;
    DecodeError reason;
};

TEST(Decoder, MalformedDatagramsAreRejectedWithAReason)
{
    const BadCase cases[] = {
        {std::string(k_max_datagram_bytes + 1, ' '), DecodeError::too_large},
        {"", DecodeError::not_json},
        {"{\"v\":1,", DecodeError::not_json},
        {"[1,2]", DecodeError::not_object},
        {"{\"type\":\"request\"}", DecodeError::bad_version},
        {"{\"v\":2,\"type\":\"request\"}", DecodeError::bad_version},
        {"{\"v\":1,\"type\":\"nope\"}", DecodeError::unknown_type},
        {"{\"v\":1}", DecodeError::unknown_type},
        {"{\"v\":1,\"type\":\"counters\",\"port\":1,\"requests\":1}", DecodeError::missing_field},
        {"{\"v\":1,\"type\":\"counters\",\"vhost\":7,\"port\":1,\"requests\":1}",
         DecodeError::bad_field_type},
        {"{\"v\":1,\"type\":\"counters\",\"vhost\":\"a\",\"port\":1,\"requests\":-1}",
         DecodeError::bad_field_type},
        {"{\"v\":1,\"type\":\"counters\",\"vhost\":\"a\",\"port\":1,\"requests\":1,"
         "\"status\":{\"abc\":1}}",
         DecodeError::bad_field_type},
        {"{\"v\":1,\"type\":\"request\",\"time_us\":1,\"vhost\":\"a\",\"port\":1,\"client\":\"c\","
         "\"method\":\"GET\",\"path\":\"/\",\"status\":200,\"protocol\":\"HTTP/1.1\","
         "\"intercepted\":false}",
         DecodeError::missing_field},
        {"{\"v\":1,\"type\":\"request\",\"time_us\":1,\"vhost\":\"a\",\"port\":1,\"client\":\"c\","
         "\"method\":\"GET\",\"path\":\"/\",\"status\":200,\"protocol\":\"HTTP/1.1\","
         "\"intercepted\":false,\"findings\":[{\"id\":5}]}",
         DecodeError::bad_field_type},
        {"{\"v\":1,\"type\":\"request\",\"time_us\":1,\"vhost\":\"a\",\"port\":1,\"client\":\"c\","
         "\"method\":\"GET\",\"path\":\"/\",\"status\":200,\"protocol\":\"HTTP/1.1\","
         "\"intercepted\":false,\"findings\":[],\"scores\":{\"inbound_pl\":[1,2]}}",
         DecodeError::bad_field_type},
    };
    const std::string request_head =
        "{\"v\":1,\"type\":\"request\",\"time_us\":1,\"vhost\":\"a\",\"port\":1,\"client\":\"c\","
        "\"method\":\"GET\",\"status\":200,\"protocol\":\"HTTP/1.1\",\"intercepted\":false,";
    std::string many_findings = request_head + "\"path\":\"/\",\"findings\":[";
    for (std::size_t i = 0; i <= k_max_findings_per_event; ++i)
        many_findings += std::string(i ? "," : "") + "{\"id\":\"1\"}";
    many_findings += "]}";
    std::string many_tags = request_head + "\"path\":\"/\",\"findings\":[{\"id\":\"1\",\"tags\":[";
    for (std::size_t i = 0; i <= k_max_tags_per_finding; ++i)
        many_tags += std::string(i ? "," : "") + "\"t\"";
    many_tags += "]}]}";
    const BadCase bounds[] = {
        {many_findings, DecodeError::out_of_bounds},
        {many_tags, DecodeError::out_of_bounds},
        {request_head + "\"path\":\"" + std::string(k_max_field_bytes + 1, 'p') +
             "\",\"findings\":[]}",
         DecodeError::out_of_bounds},
        // One level more than k_max_json_depth, in a field the decoder ignores.
        {request_head + "\"path\":\"/\",\"findings\":[],\"x\":" +
             std::string(k_max_json_depth, '[') + std::string(k_max_json_depth, ']') + "}",
         DecodeError::out_of_bounds},
        // Deep enough to overflow a recursive parser's stack; fits in a datagram.
        {std::string(k_max_datagram_bytes / 2, '[') + std::string(k_max_datagram_bytes / 2, ']'),
         DecodeError::out_of_bounds},
    };
    for (const auto& c : bounds) {
        Decoded d = decode_datagram(c.datagram);
        auto* f = std::get_if<DecodeFailure>(&d);
        ASSERT_NE(f, nullptr) << c.datagram.substr(0, 80);
        EXPECT_EQ(f->reason, c.reason) << f->detail;
    }
    for (const auto& c : cases) {
        Decoded d = decode_datagram(c.datagram);
        auto* f = std::get_if<DecodeFailure>(&d);
        ASSERT_NE(f, nullptr) << c.datagram.substr(0, 80);
        EXPECT_EQ(f->reason, c.reason) << c.datagram.substr(0, 80) << ": " << f->detail;
        EXPECT_FALSE(f->detail.empty());
    }
}

TEST(Decoder, NestingUpToTheLimitAndBracketsInStringsAreAccepted)
{
    const std::string head =
        "{\"v\":1,\"type\":\"request\",\"time_us\":1,\"vhost\":\"a\",\"port\":1,"
        "\"client\":\"c\",\"method\":\"GET\",\"status\":200,\"protocol\":\"HTTP/1.1\","
        "\"intercepted\":false,\"findings\":[],";
    // The object is level 1, so k_max_json_depth - 1 arrays inside it reach the limit.
    const std::string at_limit = head +
                                 "\"path\":\"/\",\"x\":" + std::string(k_max_json_depth - 1, '[') +
                                 std::string(k_max_json_depth - 1, ']') + "}";
    const std::string in_strings =
        head + "\"path\":\"/" + std::string(100, '[') + "\\\"" + std::string(100, '{') + "\"}";
    for (const std::string& datagram : {at_limit, in_strings}) {
        Decoded d = decode_datagram(datagram);
        const auto* failure = std::get_if<DecodeFailure>(&d);
        EXPECT_EQ(failure, nullptr)
            << datagram.substr(0, 120) << ": " << (failure ? failure->detail : "");
    }
}

// decode_datagram (simdjson first) must answer exactly as the nlohmann reference: the
// same event, or the same reason and detail, including where the two parsers differ.
TEST(Decoder, FastPathAgreesWithReference)
{
    const std::string head =
        "{\"v\":1,\"type\":\"request\",\"time_us\":1,\"vhost\":\"a\",\"port\":1,"
        "\"client\":\"c\",\"method\":\"GET\",\"status\":200,\"protocol\":\"HTTP/1.1\","
        "\"intercepted\":false,\"path\":\"/\",";
    const std::string finding = "\"findings\":[{\"id\":\"942100\",\"tags\":[\"a\",\"b\"]}]";
    const std::vector<std::string> cases = {
        head + finding + "}",
        head + "\"findings\":[]}",
        // Duplicate keys: the last one counts, also when it is null or of the wrong type.
        head + finding + ",\"vhost\":\"b\"}",
        head + finding + ",\"vhost\":null}",
        head + finding + ",\"vhost\":5}",
        head + finding + ",\"port\":\"x\",\"port\":2}",
        head + "\"findings\":[{\"id\":\"1\",\"id\":\"2\",\"msg\":null}]}",
        // Escaped keys are the same keys.
        head + finding + ",\"vh\\u006fst\":\"escaped\"}",
        // Numbers: beyond 64 bits (nlohmann: a float), -0, 1.0, exponents, ranges.
        head + finding + ",\"x\":18446744073709551616}",
        head + finding + ",\"port\":18446744073709551616}",
        head + finding + ",\"time_us\":-9223372036854775809}",
        head + finding + ",\"time_us\":9223372036854775808}",
        head + finding + ",\"findings_dropped\":18446744073709551615}",
        head + finding + ",\"findings_dropped\":-1}",
        head + finding + ",\"port\":-0}",
        head + finding + ",\"port\":1.0}",
        head + finding + ",\"port\":1e2}",
        head + finding + ",\"port\":2147483648}",
        head + finding + ",\"x\":1e400}",
        head + finding + ",\"scores\":{\"inbound_pl\":[1,2,3,4294967297],\"inbound\":-5}}",
        head + finding + ",\"scores\":{\"inbound_pl\":[1,2,3,9223372036854775808]}}",
        head + finding + ",\"scores\":{\"inbound_pl\":[1,2,3,4.0]}}",
        head + finding + ",\"scores\":null}",
        head + finding + ",\"scores\":[]}",
        // Versions and types the fast path leaves to the reference.
        head + finding + ",\"v\":1.0}",
        head + finding + ",\"v\":null}",
        head + finding + ",\"type\":\"counters\"}",
        head + finding + ",\"type\":null}",
        // Text quirks: BOM, NUL after the object, whitespace, lone surrogates, bad UTF-8.
        "\xEF\xBB\xBF" + head + finding + "}",
        head + finding + "}" + std::string(1, '\0'),
        " \t\r\n" + head + finding + "} \n",
        head + finding + ",\"path\":\"\\ud800\"}",
        head + finding + ",\"path\":\"\\ud83d\\ude00 \\u0000\"}",
        head + finding + ",\"path\":\"\xed\xa0\x80\"}",
        head + finding + ",\"path\":\"\xc0\xaf\"}",
        head + finding + "} x",
        head + finding + ",}",
        // Bounds and types inside findings.
        head + "\"findings\":[{\"id\":\"1\",\"tags\":\"a\"}]}",
        head + "\"findings\":[{\"id\":\"1\",\"tags\":[\"a\",1]}]}",
        head + "\"findings\":[{\"id\":\"1\",\"tags\":[\"" +
            std::string(k_max_field_bytes + 1, 't') + "\"]}]}",
        head + "\"findings\":[{\"id\":\"1\",\"pl\":true,\"phase\":\"2\"}]}",
        head + "\"findings\":[{\"msg\":\"no id\"}]}",
        head + "\"findings\":[1]}",
        head + "\"findings\":{}}",
        head + "\"vhost\":\"" + std::string(k_max_field_bytes, 'v') + "\",\"findings\":[]}",
        head + "\"findings\":[],\"x\":" + std::string(k_max_json_depth - 1, '[') +
            std::string(k_max_json_depth - 1, ']') + "}",
        head + "\"findings\":[],\"x\":" + std::string(k_max_json_depth, '[') +
            std::string(k_max_json_depth, ']') + "}",
    };
    for (const std::string& datagram : cases) {
        EXPECT_EQ(decode_datagram(datagram), decode_datagram_reference(datagram))
            << datagram.substr(0, 200);
    }
    // Every request of both captures, through the module's encoder.
    for (const char* file : {"crs3_error_log.txt", "crs4_error_log.txt"}) {
        std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/" + file);
        std::map<std::string, std::vector<std::string>> by_request;
        for (std::string line; std::getline(in, line);) {
            const std::size_t u = line.find("[unique_id \"");
            const std::size_t m = line.find("[client 127.0.0.1] ModSecurity: ");
            if (u == std::string::npos || m == std::string::npos)
                continue;
            std::string text = line.substr(m);
            text.resize(apache_log_unescape(text.data(), text.size()));
            by_request[line.substr(u, line.find('"', u + 12) - u)].push_back(text);
        }
        ASSERT_GT(by_request.size(), 10U) << file;
        std::string buffer(32768, '\0');
        for (const auto& [uid, texts] : by_request) {
            std::vector<std::string_view> views(texts.begin(), texts.end());
            const EncodeResult enc = encode_request_event(
                sample_record(), views.data(), views.size(), 0, {}, buffer.data(), buffer.size());
            const std::string_view datagram(buffer.data(), enc.size);
            const Decoded fast = decode_datagram(datagram);
            EXPECT_TRUE(std::holds_alternative<RequestEvent>(fast)) << datagram;
            EXPECT_EQ(fast, decode_datagram_reference(datagram)) << datagram;
        }
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
    const CounterSnapshot c{"a.test", 80, 4242, 3, 1, status};
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

struct EnvCase {
    std::map<std::string, std::string> env;
    bool present;
    int inbound, outbound, blocking_pl, detection_pl, threshold;
};

std::string_view lookup(void* ctx, const char* name) noexcept
{
    auto* env = static_cast<std::map<std::string, std::string>*>(ctx);
    auto it = env->find(name);
    return it == env->end() ? std::string_view() : std::string_view(it->second);
}

TEST(AnomalyScoresFromEnv, Crs3AndCrs4)
{
    const EnvCase cases[] = {
        {{}, false, 0, 0, 0, 0, 0},
        // CRS 4: thresholds, blocking PL 2, detection PL 3, blocking in/out, in PL1-4,
        // out PL1-4.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS4", "5,4,2,3,8,4,5,3,2,0,4,0,0,0"}}, true, 8, 4, 2, 3, 5},
        // CRS 3.3: thresholds, paranoia_level 1, executing 2, in PL1-4, out PL1-4;
        // totals are summed up to tx.paranoia_level.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS3", "5,4,1,2,5,3,0,0,4,7,0,0"}}, true, 5, 4, 1, 2, 5},
        // Variables the CRS does not define expand to "": those fields are 0.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS3", "5,,1,,5,,,,,,,"}}, true, 5, 0, 1, 1, 5},
        // The snippet ran and nothing scored: all 0.
        {{{"MSO_SNIPPET", "1"}}, true, 0, 0, 0, 0, 0},
        // Garbage, or too few or too many fields, count as 0, never as a crash.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS4", "x9,,1"}}, true, 0, 0, 1, 1, 0},
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS4", "5,4,1,1,9,0,9,0,0,0,0,0,0,0,77,88,99"}},
         true,
         9,
         0,
         1,
         1,
         5},
    };
    for (auto c : cases) {
        AnomalyScores s;
        EXPECT_EQ(scores_from_env(lookup, &c.env, s), c.present);
        EXPECT_EQ(s.inbound, c.inbound);
        EXPECT_EQ(s.outbound, c.outbound);
        EXPECT_EQ(s.blocking_pl, c.blocking_pl);
        EXPECT_EQ(s.detection_pl, c.detection_pl);
        EXPECT_EQ(s.inbound_threshold, c.threshold);
    }
}

} // namespace
} // namespace mso

namespace mso {
namespace {

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

} // namespace
} // namespace mso
