// The decoder's handling of malformed and deeply nested datagrams.
#include "event_decoder.h"

#include <gtest/gtest.h>

#include <string>

namespace mso {
namespace {

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
        {"{\"v\":3,\"type\":\"request\"}", DecodeError::bad_version},
        {"{\"v\":0,\"type\":\"request\"}", DecodeError::bad_version},
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
        {"{\"v\":1,\"type\":\"counters\",\"vhost\":\"a\",\"port\":1,\"requests\":1,"
         "\"engine\":\"Enabled\"}",
         DecodeError::bad_field_type},
        {"{\"v\":1,\"type\":\"counters\",\"vhost\":\"a\",\"port\":1,\"requests\":1,"
         "\"engine\":true}",
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

} // namespace
} // namespace mso
