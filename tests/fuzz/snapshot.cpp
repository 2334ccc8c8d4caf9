// Fuzz target: the state snapshot loader (collector/snapshot.h) as modsec-observed runs
// it at start on DIR/state.json. The input is the file's content. It must never crash,
// and a load is all or nothing: a refused snapshot leaves the Collector empty with a
// reason; an accepted one obeys the bounds, answers every query with one line of JSON,
// and saves to a document that loads again into the same answers.
#include "state/collector.h"
#include "fuzz_check.h"
#include "state/query_answer.h"
#include "daemon/snapshot.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using Clock = mso::Collector::Clock;

const Clock::time_point k_now = Clock::time_point{} + std::chrono::hours(1);
constexpr std::int64_t k_wall_time = 1763739600;
// A small ring, so that snapshots holding more events exercise eviction.
constexpr std::size_t k_ring = 4;

constexpr std::string_view k_queries[] = {
    R"({"cmd":"stats"})",
    R"({"cmd":"stats","window":3600})",
    R"({"cmd":"rules"})",
    R"({"cmd":"top","list":"paths","limit":0})",
    R"({"cmd":"timeseries","resolution":"hour","rule":"942100","window":2592000})",
    R"({"cmd":"events","limit":0})",
};

std::string answers(mso::Collector& c)
{
    std::string out;
    for (const std::string_view q : k_queries) {
        const std::string a = mso::answer_query(q, c, k_now, k_wall_time);
        MSO_FUZZ_CHECK(a.find('\n') == std::string::npos);
        const auto doc = nlohmann::json::parse(a, nullptr, false);
        MSO_FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
        out += a;
        out += '\n';
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto doc = nlohmann::json::parse(input, nullptr, false);
    if (doc.is_discarded())
        return 0;

    mso::Collector collector(k_now, k_ring);
    const auto loaded = mso::load_state(doc, collector);
    if (!loaded) {
        MSO_FUZZ_CHECK(!loaded.error().empty());
        MSO_FUZZ_CHECK(collector.aggregator().vhost_count() == 0);
        MSO_FUZZ_CHECK(collector.events().size() == 0);
        return 0;
    }
    MSO_FUZZ_CHECK(collector.aggregator().vhost_count() <= mso::k_max_vhosts);
    MSO_FUZZ_CHECK(collector.events().size() <= k_ring);
    for (const auto& [name, v] : collector.aggregator().all()) {
        MSO_FUZZ_CHECK(v.rules.size() <= mso::k_max_rules_per_vhost);
        MSO_FUZZ_CHECK(v.ports.size() <= mso::k_max_ports_per_vhost);
        MSO_FUZZ_CHECK(v.clients.size() <= mso::k_top_capacity);
    }
    const std::string first = answers(collector);

    // What was accepted saves to a document that loads again, to the same answers.
    const std::string saved = mso::save_state(collector, k_wall_time)
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const auto again_doc = nlohmann::json::parse(saved, nullptr, false);
    MSO_FUZZ_CHECK(!again_doc.is_discarded());
    mso::Collector again(k_now, k_ring);
    MSO_FUZZ_CHECK(mso::load_state(again_doc, again).has_value());
    MSO_FUZZ_CHECK(answers(again) == first);
    return 0;
}
