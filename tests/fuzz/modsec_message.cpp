// Fuzz target: the module's whole path from the error_log hook's text to a datagram.
// The input is one or more error-log message texts (as httpd hands them to the hook,
// still error-log escaped), separated by '\n'. Each is unescaped with
// apache_log_unescape() on an exact-size copy, parsed with parse_modsec_message(), its
// values decoded with modsec_unescape(), and all of them are encoded as one request
// event with encode_request_event(), whose output must decode with decode_datagram(),
// and with encode_request_event_v2(), whose output must decode to the same event.
#include "event_decoder.h"
#include "event_encoder.h"
#include "fuzz_check.h"
#include "modsec_message.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <variant>
#include <vector>

namespace {

// As the module keeps them (mso_capture.h: at most 128 messages per request).
constexpr std::size_t k_max_messages = 128;

bool inside(std::string_view part, std::string_view whole)
{
    if (part.empty())
        return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check_unescape(std::string_view raw)
{
    // Exact-size output buffers: a write past `cap` is an ASan error.
    for (const std::size_t cap : {raw.size(), raw.size() / 2, std::size_t{1}}) {
        auto out = std::make_unique<char[]>(cap + 1);
        const std::size_t n = mso::modsec_unescape(raw, out.get(), cap);
        MSO_FUZZ_CHECK(n <= cap);
        MSO_FUZZ_CHECK(n <= raw.size()); // escapes only shrink
    }
}

void check_message(std::string_view text)
{
    mso::MessageView m;
    if (!mso::parse_modsec_message(text, m)) {
        MSO_FUZZ_CHECK(text.find("ModSecurity: ") == std::string_view::npos);
        MSO_FUZZ_CHECK(m.id.empty() && m.tag_count == 0 && !m.is_alert);
        return;
    }
    const std::string_view views[] = {m.head,     m.target, m.id,       m.msg, m.severity,
                                      m.data,     m.file,   m.line,     m.rev, m.ver,
                                      m.hostname, m.uri,    m.unique_id};
    for (std::string_view v : views) {
        MSO_FUZZ_CHECK(inside(v, text));
        check_unescape(v);
    }
    MSO_FUZZ_CHECK(m.tag_count <= mso::k_max_tags);
    for (std::size_t i = 0; i < m.tag_count; ++i) {
        MSO_FUZZ_CHECK(inside(m.tags[i], text));
        for (std::size_t j = 0; j < i; ++j)
            MSO_FUZZ_CHECK(m.tags[i] != m.tags[j]);
    }
    MSO_FUZZ_CHECK(m.paranoia_level >= 0 && m.phase >= 0 && m.status >= 0);
    if (m.intercepted)
        MSO_FUZZ_CHECK(m.is_alert);
}

void check_event(const mso::RequestRecord& record, const std::vector<std::string_view>& messages,
                 std::size_t capacity, const mso::EncoderLimits& limits)
{
    auto buffer = std::make_unique<char[]>(capacity);
    const mso::EncodeResult enc = mso::encode_request_event(
        record, messages.data(), messages.size(), 0, limits, buffer.get(), capacity);
    MSO_FUZZ_CHECK(enc.size <= capacity);
    if (enc.size == 0)
        return;
    MSO_FUZZ_CHECK(enc.findings + enc.findings_dropped <= messages.size());
    // Whatever the messages held, the module must send a datagram the collector accepts.
    const mso::Decoded decoded = mso::decode_datagram(std::string_view(buffer.get(), enc.size));
    if (const auto* failure = std::get_if<mso::DecodeFailure>(&decoded)) {
        std::fprintf(stderr, "encoder output rejected (%s): %.*s\n", failure->detail.c_str(),
                     static_cast<int>(enc.size), buffer.get());
        std::abort();
    }
    const auto* event = std::get_if<mso::RequestEvent>(&decoded);
    MSO_FUZZ_CHECK(event != nullptr);
    MSO_FUZZ_CHECK(event->findings.size() == enc.findings);
    MSO_FUZZ_CHECK(event->findings_dropped == enc.findings_dropped);
    MSO_FUZZ_CHECK(event->intercepted == enc.intercepted);
    // Limits count input bytes; an invalid byte becomes U+FFFD (3 bytes) on the wire.
    MSO_FUZZ_CHECK(event->path.size() <= 3 * limits.max_path);
    for (const mso::Finding& f : event->findings) {
        MSO_FUZZ_CHECK(f.msg.size() <= 3 * limits.max_msg);
        MSO_FUZZ_CHECK(f.data.size() <= 3 * limits.max_data);
        MSO_FUZZ_CHECK(f.tags.size() <= mso::k_max_tags);
    }
}

// Version 2 (raw alerts, parsed by the collector) must decode to version 1's event for
// the same messages; it carries only the data limit of the module's limits. A message
// holding a NUL is one that version 2 drops and counts instead.
void check_versions_agree(const mso::RequestRecord& record,
                          const std::vector<std::string_view>& messages, std::size_t data_max,
                          std::size_t dropped_before)
{
    for (std::string_view m : messages)
        if (m.find('\0') != std::string_view::npos)
            return;
    mso::EncoderLimits limits;
    limits.max_data = data_max;
    auto buffer = std::make_unique<char[]>(mso::k_max_datagram_bytes);
    const mso::EncodeResult v1 =
        mso::encode_request_event(record, messages.data(), messages.size(), dropped_before, limits,
                                  buffer.get(), mso::k_max_datagram_bytes);
    // Findings version 1 dropped for want of room (at most 128 messages here: never for
    // the findings limit) are not a difference of the versions.
    if (v1.size == 0 || v1.findings_dropped != dropped_before)
        return;
    const mso::Decoded one = mso::decode_datagram(std::string_view(buffer.get(), v1.size));
    const mso::EncodeResult v2 =
        mso::encode_request_event_v2(record, messages.data(), messages.size(), dropped_before,
                                     limits, buffer.get(), mso::k_max_datagram_bytes);
    // Messages that do not all fit whole: the module sends version 1 then.
    if (v2.size == 0)
        return;
    MSO_FUZZ_CHECK(v2.size <= mso::k_max_datagram_bytes);
    const std::string_view datagram(buffer.get(), v2.size);
    const mso::Decoded two = mso::decode_datagram(datagram);
    MSO_FUZZ_CHECK(two == mso::decode_datagram_reference(datagram));
    if (one != two) {
        std::fprintf(stderr, "version 2 decodes unlike version 1: %.*s\n",
                     static_cast<int>(v2.size), buffer.get());
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // One exact-size heap copy per message, unescaped in place like the module's.
    std::vector<std::unique_ptr<char[]>> copies;
    std::vector<std::string_view> messages;
    for (std::size_t start = 0; start <= input.size() && messages.size() < k_max_messages;) {
        std::size_t end = input.find('\n', start);
        if (end == std::string_view::npos)
            end = input.size();
        const std::size_t len = end - start;
        copies.push_back(std::make_unique<char[]>(len));
        if (len != 0) // an empty input's data() may be null: memcpy(_, nullptr, 0) is UB
            std::memcpy(copies.back().get(), input.data() + start, len);
        const std::size_t n = mso::apache_log_unescape(copies.back().get(), len);
        MSO_FUZZ_CHECK(n <= len);
        messages.emplace_back(copies.back().get(), n);
        start = end + 1;
    }
    for (std::string_view m : messages)
        check_message(m);

    // Attacker-influenced request fields take bytes from the input too.
    mso::RequestRecord record;
    record.time_us = 1763739600123456;
    record.vhost = "shop.test";
    record.port = 8080;
    record.unique_id = "aR9xAAAB";
    record.client = "203.0.113.7";
    record.method = messages.front().substr(0, 16);
    record.path = messages.front();
    record.query = messages.back();
    record.include_query = true;
    record.status = 403;
    record.protocol = "HTTP/1.1";
    mso::AnomalyScores scores;
    scores.inbound = static_cast<int>(size);
    record.scores = size % 2 ? &scores : nullptr;

    check_event(record, messages, 32 * 1024, mso::EncoderLimits{}); // the module's buffer
    mso::EncoderLimits small;
    small.max_path = 7;
    small.max_msg = 5;
    small.max_data = 3;
    small.max_findings = 2;
    check_event(record, messages, 2048 + size % 1024, small);
    check_versions_agree(record, messages, 32, 0);
    check_versions_agree(record, messages, 1 + size % 300, size % 3);
    return 0;
}
