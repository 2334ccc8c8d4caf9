// The fast (simdjson) decoder against the nlohmann reference, on crafted datagrams
// and on every request of the captured error logs.
#include "event_decoder.h"
#include "event_encoder.h"
#include "modsec_message.h"
#include "captured_messages.h"
#include "sample_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mso {
namespace {

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
        const auto requests = captured_messages(file);
        ASSERT_GT(requests.size(), 10U) << file;
        std::string buffer(32768, '\0');
        for (const auto& texts : requests) {
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

} // namespace
} // namespace mso
