// Protocol version 2 (the module sends alert messages raw, the collector parses them):
// for the same messages and limits, a version 2 datagram decodes to the same event as
// version 1's, on every request of the captured CRS 3.3 and 4 logs and on hostile
// messages; and the framing's own errors.
#include "event_decoder.h"
#include "event_encoder.h"
#include "json_writer.h"
#include "modsec_message.h"
#include "raw_alerts.h"
#include "captured_messages.h"
#include "sample_record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace mso {
namespace {

// Decodes with both decoders, which must agree.
Decoded decode_both(std::string_view datagram)
{
    Decoded d = decode_datagram(datagram);
    EXPECT_EQ(d, decode_datagram_reference(datagram)) << datagram;
    return d;
}

RequestEvent event_of(const Decoded& d)
{
    if (const auto* f = std::get_if<DecodeFailure>(&d))
        ADD_FAILURE() << f->detail;
    const auto* e = std::get_if<RequestEvent>(&d);
    return e ? *e : RequestEvent{};
}

struct Both {
    RequestEvent v1, v2;
    std::string datagram2;
};

Both encode_both(const std::vector<std::string>& texts, const EncoderLimits& limits = {},
                 std::size_t dropped_before = 0, const RequestRecord& r = sample_record())
{
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    std::string buffer(k_max_datagram_bytes, '\0');
    Both both;
    const EncodeResult e1 = encode_request_event(r, views.data(), views.size(), dropped_before,
                                                 limits, buffer.data(), buffer.size());
    EXPECT_GT(e1.size, 0U);
    both.v1 = event_of(decode_both(std::string_view(buffer.data(), e1.size)));
    const EncodeResult e2 = encode_request_event_v2(r, views.data(), views.size(), dropped_before,
                                                    limits, buffer.data(), buffer.size());
    EXPECT_GT(e2.size, 0U);
    both.datagram2.assign(buffer.data(), e2.size);
    both.v2 = event_of(decode_both(both.datagram2));
    return both;
}

TEST(RawAlerts, EveryCapturedRequestDecodesAsVersionOne)
{
    for (const char* file : {"crs3_error_log.txt", "crs4_error_log.txt"}) {
        const auto requests = captured_messages(file);
        ASSERT_GT(requests.size(), 10U) << file;
        std::size_t findings = 0;
        for (const auto& texts : requests) {
            for (const std::size_t data_max :
                 {std::size_t{1}, std::size_t{32}, std::size_t{4096}}) {
                EncoderLimits limits;
                limits.max_data = data_max;
                RequestRecord r = sample_record();
                r.include_query = data_max == 32;
                const Both b = encode_both(texts, limits, 0, r);
                EXPECT_EQ(b.v1, b.v2) << file << ": " << texts.front();
                findings += b.v2.findings.size();
            }
        }
        EXPECT_GT(findings, requests.size()) << file; // the test compared findings
    }
}

std::string alert(const std::string& head, const std::string& items)
{
    return "[client 127.0.0.1] ModSecurity: " + head +
           " [file \"/etc/crs/rules/REQUEST-942.conf\"] [line \"46\"]" + items +
           " [hostname \"block.test\"] [uri \"/search\"] [unique_id \"abc\"]";
}

TEST(RawAlerts, HostileAndEdgeMessagesDecodeAsVersionOne)
{
    const std::string long_value(3000, 'A');
    std::string escaped_long; // decodes to 2,100 bytes: cut at the 2,048-byte decode buffer
    for (int i = 0; i < 2100; ++i)
        escaped_long += "\\x41";
    const std::vector<std::string> texts = {
        // A forged [id] in the head, where ModSecurity does not escape variable names.
        alert("Warning. Pattern match \"x\" at ARGS:a [id \"1\"].",
              " [id \"942100\"] [msg \"SQL Injection\"] [data \"Matched Data: x found within "
              "ARGS:a: x\"] [severity \"CRITICAL\"] [tag \"paranoia-level/1\"] [tag \"t\"] [tag "
              "\"t\"]"),
        // Invalid UTF-8 and a character cut by the data limit, controls and escapes.
        alert("Warning. Match of \"rx\" against \"REQUEST_HEADERS:Expect\" required.",
              " [id \"920450\"] [msg \"\\xe2\\x82 bad \\x00 \\\"q\\\" \xc3\xa9\xff\"] [data \"" +
                  std::string(31, 'd') + "\xc3\xa9 tail\\n\"] [severity \"CRITICAL\"]"),
        // Longer than every limit: msg (512), target, a decoded value past 2048 bytes.
        alert("Warning. Pattern match \"y\" at ARGS:" + long_value + ".",
              " [id \"942101\"] [msg \"" + long_value + "\"] [data \"" + escaped_long +
                  "\"] [severity \"" + long_value + "\"] [tag \"" + long_value + "\"]"),
        // The engine's own message, a denial, and text that is not an alert.
        "[client 127.0.0.1] ModSecurity: JSON parser error: bad [hostname \"block.test\"] "
        "[uri \"/\"] [unique_id \"abc\"]",
        alert("Access denied with code 403 (phase 2). Operator GE matched 5 at TX:score.",
              " [id \"949110\"] [msg \"Inbound Anomaly Score Exceeded\"] [severity \"CRITICAL\"]"),
        "not a ModSecurity message at all",
        "[client 127.0.0.1] ModSecurity: Warning. cut by Apache before the trailer [id \"3\"",
    };
    for (const std::size_t data_max : {std::size_t{1}, std::size_t{32}, std::size_t{4096}}) {
        EncoderLimits limits;
        limits.max_data = data_max;
        const Both b = encode_both(texts, limits, 3);
        EXPECT_EQ(b.v1, b.v2) << data_max;
        EXPECT_EQ(b.v2.findings.size(), 6U);
        EXPECT_TRUE(b.v2.intercepted);
        EXPECT_EQ(b.v2.phase, 2);
        EXPECT_EQ(b.v2.findings_dropped, 3U);
    }
}

// The most tags a finding keeps, each of invalid UTF-8 past the tag limit: each of its
// first k_max_tag_bytes bytes becomes U+FFFD's three, the most text a tag can make.
TEST(RawAlerts, SixteenTagsOfInvalidBytesDecodeAsVersionOne)
{
    std::string items = " [id \"942100\"] [msg \"m\"]";
    for (int i = 0; i < 18; ++i)
        items += " [tag \"" + std::string(1, static_cast<char>('a' + i)) +
                 std::string(k_max_tag_bytes + 10, '\xff') + "\"]";
    const Both b = encode_both({alert("Warning. Pattern match \"x\" at ARGS:a.", items)});
    EXPECT_EQ(b.v1, b.v2);
    ASSERT_EQ(b.v2.findings.size(), 1U);
    EXPECT_EQ(b.v2.findings[0].tags.size(), k_max_tags);
    for (const std::string_view tag : b.v2.findings[0].tags)
        EXPECT_EQ(tag.size(), 1 + 3 * (k_max_tag_bytes - 1));
}

TEST(RawAlerts, FindingsBeyondTheLimitAreCountedAsInVersionOne)
{
    std::vector<std::string> texts;
    for (int i = 0; i < 140; ++i)
        texts.push_back(alert("Warning. Pattern match \"x\" at ARGS:a.",
                              " [id \"9" + std::to_string(100000 + i) + "\"] [msg \"m\"]"));
    const Both b = encode_both(texts);
    EXPECT_EQ(b.v1, b.v2);
    EXPECT_EQ(b.v2.findings.size(), 128U);
    EXPECT_EQ(b.v2.findings_dropped, 12U);
}

TEST(RawAlerts, AMessageHoldingANulIsCountedAndOneTooLargeMakesItVersionOne)
{
    const std::vector<std::string> texts = {
        alert("Warning. a.", " [id \"1\"]"), std::string("ModSecurity: Warning. b\0c", 25),
        alert("Warning. " + std::string(2000, 'x') + ".", " [id \"2\"]"),
        alert("Warning. d.", " [id \"3\"]"), ""};
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    std::string buffer(k_max_datagram_bytes, '\0');
    const EncodeResult enc = encode_request_event_v2(sample_record(), views.data(), views.size(), 1,
                                                     {}, buffer.data(), buffer.size());
    ASSERT_GT(enc.size, 0U);
    EXPECT_EQ(enc.findings, 3U);
    EXPECT_EQ(enc.findings_dropped, 2U); // 1 before and the NUL (not the empty one)
    const RequestEvent e = event_of(decode_both(std::string_view(buffer.data(), enc.size)));
    ASSERT_EQ(e.findings.size(), 3U);
    EXPECT_EQ(e.findings[0].id, "1");
    EXPECT_EQ(e.findings[1].id, "2");
    EXPECT_EQ(e.findings[2].id, "3");
    EXPECT_EQ(e.findings_dropped, 2U);

    // A message that does not fit whole (here the 2 KB one in 1,200 bytes), or a header
    // that does not: nothing is written, and the module sends version 1, which derives
    // the verdict from every message.
    for (const std::size_t capacity : {std::size_t{1200}, std::size_t{200}})
        EXPECT_EQ(encode_request_event_v2(sample_record(), views.data(), views.size(), 0, {},
                                          buffer.data(), capacity)
                      .size,
                  0U)
            << capacity;
}

TEST(RawAlerts, AnEventWithoutMessagesHasNoAlertSection)
{
    std::string buffer(4096, '\0');
    const EncodeResult enc =
        encode_request_event_v2(sample_record(), nullptr, 0, 0, {}, buffer.data(), buffer.size());
    const std::string_view datagram(buffer.data(), enc.size);
    EXPECT_EQ(datagram.find('\0'), std::string_view::npos);
    const RequestEvent e = event_of(decode_both(datagram));
    EXPECT_TRUE(e.findings.empty());
    EXPECT_FALSE(e.intercepted);
    EXPECT_EQ(e.vhost, "block.test");
}

DecodeError error_of(std::string_view datagram)
{
    const Decoded d = decode_both(datagram);
    const auto* f = std::get_if<DecodeFailure>(&d);
    EXPECT_NE(f, nullptr) << datagram;
    return f ? f->reason : DecodeError::too_large;
}

TEST(RawAlerts, FramingErrorsAreRefusedAlike)
{
    const std::string head = R"({"v":2,"type":"request","time_us":1,"vhost":"a","port":80,)"
                             R"("client":"c","method":"GET","path":"/","status":200,)"
                             R"("protocol":"HTTP/1.1")";
    using namespace std::string_literals;
    // Alerts after a version 1 event or a counter report: not what either sends.
    EXPECT_EQ(error_of(R"({"v":1,"type":"request","time_us":1,"vhost":"a","port":80,)"
                       R"("client":"c","method":"GET","path":"/","status":200,)"
                       R"("protocol":"HTTP/1.1","findings":[],"intercepted":false})"
                       "\0ModSecurity: Warning. x"s),
              DecodeError::not_json);
    // Version 2 is only a request event's.
    for (const std::string& tail : {""s, "\0x"s})
        EXPECT_EQ(
            error_of(R"({"v":2,"type":"counters","vhost":"a","port":80,"requests":1})" + tail),
            DecodeError::bad_version);
    EXPECT_EQ(error_of(head + "}"), DecodeError::missing_field); // no data_max
    EXPECT_EQ(error_of(head + R"(,"data_max":4097})"), DecodeError::out_of_bounds);
    EXPECT_EQ(error_of(head + R"(,"data_max":-1})"), DecodeError::bad_field_type);
    EXPECT_EQ(error_of(R"({"v":3,"type":"request"})"), DecodeError::bad_version);
    EXPECT_EQ(error_of("\0"s), DecodeError::not_json);

    // A version 2 header's own "findings" and verdict are not read: the alerts decide.
    const RequestEvent e = event_of(
        decode_both(head + R"(,"data_max":32,"findings":[{"id":"1"}],"intercepted":true})" + "\0"s +
                    alert("Warning. a.", " [id \"942100\"]") + "\0\0"s + "junk"));
    ASSERT_EQ(e.findings.size(), 1U);
    EXPECT_EQ(e.findings[0].id, "942100");
    EXPECT_FALSE(e.intercepted);
}

TEST(RawAlerts, ModsecTextIsWhatTheJsonWriterWritesAfterDecoding)
{
    bool cut = false;
    EXPECT_EQ(modsec_text("a\\x22b", 10, &cut), "a\"b");
    EXPECT_FALSE(cut);
    EXPECT_EQ(modsec_text("ab\xc3\xa9", 3, &cut), "ab"); // never half a character
    EXPECT_TRUE(cut);
    EXPECT_EQ(modsec_text("\xff", 5, &cut), "\xEF\xBF\xBD");
    EXPECT_FALSE(cut);

    // Random values, biased to escapes, quotes, controls and UTF-8 lead and continuation
    // bytes, at random limits: modsec_text() must equal what JsonWriter::modsec_string()
    // writes once a JSON parser reads it back, cut flag included.
    std::mt19937 random(20261205);
    const std::string alphabet = "ab\\\"x0f9\n\t\x01\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\xff\xed\xa0";
    for (int round = 0; round < 20000; ++round) {
        std::string raw;
        const std::size_t length = random() % (round % 100 == 0 ? 2600 : 40);
        for (std::size_t i = 0; i < length; ++i)
            raw += alphabet[random() % alphabet.size()];
        const std::size_t max_bytes = random() % 48;
        char out[16384];
        JsonWriter w(out, sizeof out);
        bool writer_cut = false;
        w.modsec_string(raw, max_bytes, &writer_cut);
        ASSERT_FALSE(w.overflowed());
        const auto parsed = nlohmann::json::parse(w.view(), nullptr, false);
        ASSERT_TRUE(parsed.is_string()) << w.view();
        bool text_cut = false;
        EXPECT_EQ(modsec_text(raw, max_bytes, &text_cut), parsed.get<std::string>()) << raw;
        EXPECT_EQ(text_cut, writer_cut) << raw;
    }
}

} // namespace
} // namespace mso
