// Fuzz target: what the collector does with one datagram from the event socket, which
// anyone allowed to write to it controls. decode_datagram() must return a value or a
// reason for every input, the same as the nlohmann reference decoder, and what it accepts
// must aggregate and be reported (stats, health) as valid JSON by a fresh Collector.
#include "state/collector.h"
#include "event_decoder.h"
#include "fuzz_check.h"
#include "state/query_answer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <variant>

namespace {

// Wall clock (Unix seconds) for the collector's time series: fixed, so runs repeat.
constexpr std::int64_t k_wall_time = 1763739600;
constexpr std::size_t k_ring = 4;

void check_answer(const std::string& answer)
{
    MSO_FUZZ_CHECK(answer.find('\n') == std::string::npos);
    const auto doc = nlohmann::json::parse(answer, nullptr, false);
    MSO_FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
    const auto ok = doc.find("ok");
    MSO_FUZZ_CHECK(ok != doc.end() && ok->is_boolean() && ok->get<bool>());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view datagram(reinterpret_cast<const char*>(data), size);
    const mso::Decoded decoded = mso::decode_datagram(datagram);
    // The simdjson fast path answers exactly as the nlohmann reference does.
    MSO_FUZZ_CHECK(decoded == mso::decode_datagram_reference(datagram));
    if (const auto* failure = std::get_if<mso::DecodeFailure>(&decoded)) {
        MSO_FUZZ_CHECK(std::strcmp(mso::reason_name(failure->reason), "unknown") != 0);
        MSO_FUZZ_CHECK(!failure->detail.empty());
    } else {
        MSO_FUZZ_CHECK(size <= mso::k_max_datagram_bytes);
    }

    // The same datagram through the collector, twice (a repeated sender), then queried.
    const auto now = mso::Collector::Clock::time_point{} + std::chrono::seconds(100);
    // A small event ring: the default one (10,000 events) would dominate each run.
    mso::Collector collector(now - std::chrono::seconds(10), k_ring);
    const bool accepted = !collector.ingest(datagram, k_wall_time).has_value();
    MSO_FUZZ_CHECK(accepted == !std::holds_alternative<mso::DecodeFailure>(decoded));
    (void)collector.ingest(datagram, k_wall_time);
    MSO_FUZZ_CHECK(collector.datagrams() == 2);
    MSO_FUZZ_CHECK(collector.malformed() == (accepted ? 0U : 2U));
    check_answer(mso::answer_query(R"({"cmd":"stats"})", collector, now));
    check_answer(mso::answer_query(R"({"cmd":"health"})", collector, now));
    if (const auto* event = std::get_if<mso::RequestEvent>(&decoded)) {
        const nlohmann::json vhost = event->vhost;
        const std::string query =
            R"({"cmd":"stats","vhost":)" +
            vhost.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "}";
        check_answer(mso::answer_query(query, collector, now));
    }
    return 0;
}
