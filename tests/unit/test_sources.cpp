// Per-source accounting (state/sources.h) and Collector::ingest_event: what the module's
// datagrams and a receiver's decoded events count under their source.
#include "state/collector.h"
#include "state/sources.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

using json = nlohmann::ordered_json;

constexpr const char* k_datagram =
    R"({"v":1,"type":"request","time_us":1763739600000000,"vhost":"shop.example","port":443,)"
    R"("client":"203.0.113.7","method":"GET","path":"/search","status":403,)"
    R"("protocol":"HTTP/1.1","intercepted":true,"phase":2,"scores":null,"findings":[)"
    R"({"id":"942100","msg":"SQL Injection","severity":"CRITICAL","pl":1,"phase":2,)"
    R"("tags":[],"target":"ARGS:id","data":"","intercepted":false,"truncated":false}]})";

mso::RequestEvent sensor_event(std::int64_t time_s, std::string vhost = "api.example")
{
    mso::RequestEvent e;
    e.time_us = time_s * 1'000'000;
    e.vhost = std::move(vhost);
    e.unique_id = "sensor-" + std::to_string(time_s);
    e.client = "198.51.100.9";
    e.method = "POST";
    e.path = "/login";
    e.status = 403;
    e.intercepted = true;
    mso::Finding f;
    f.id = "941100";
    f.msg = "XSS";
    e.findings.push_back(f);
    return e;
}

TEST(SourceTable, ModuleIsInternedFirst)
{
    mso::SourceTable table;
    EXPECT_EQ(table.intern("module"), mso::k_module_source_id);
    EXPECT_EQ(table.name(mso::k_module_source_id), "module");
    const mso::SourceId a = table.intern("sensor:a");
    EXPECT_NE(a, mso::k_module_source_id);
    EXPECT_EQ(table.intern("sensor:a"), a);
    EXPECT_EQ(table.find("sensor:a"), a);
    EXPECT_EQ(table.find("sensor:b"), mso::k_other_source_id);
}

TEST(SourceTable, CountsEventsBytesTimesAndSkew)
{
    mso::SourceTable table;
    const mso::SourceId a = table.intern("sensor:a");
    table.count_event(a, 1000, 998'500'000, 100);  // 1.5 s behind
    table.count_event(a, 1010, 1'012'000'000, 50); // 2 s ahead
    table.count_event(a, 1020, 1'019'000'000, 25); // 1 s behind
    const mso::SourceStats& s = table.stats(a);
    EXPECT_EQ(s.events, 3U);
    EXPECT_EQ(s.bytes, 175U);
    EXPECT_EQ(s.first_seen, 1000);
    EXPECT_EQ(s.last_seen, 1020);
    EXPECT_EQ(s.last_event_us, 1'019'000'000);
    ASSERT_TRUE(s.skew_known);
    EXPECT_EQ(s.skew_min_us, -2'000'000);
    EXPECT_EQ(s.skew_max_us, 1'500'000);
    EXPECT_EQ(s.skew_last_us, 1'000'000);
    EXPECT_EQ(table.stats(mso::k_module_source_id).events, 0U);
}

TEST(SourceTable, CountsRefusalsByReasonBounded)
{
    mso::SourceTable table;
    table.count_refusal("sensor:a", "auth", 50);
    table.count_refusal("sensor:a", "auth", 60);
    table.count_refusal("sensor:a", "too_large", 70);
    for (std::size_t i = 0; i < mso::k_max_refusal_reasons + 5; ++i) {
        table.count_refusal("sensor:b", "reason" + std::to_string(i), 80);
    }
    const mso::SourceStats& a = table.stats(table.find("sensor:a"));
    EXPECT_EQ(a.refusals.at("auth"), 2U);
    EXPECT_EQ(a.refusals.at("too_large"), 1U);
    EXPECT_EQ(a.refused(), 3U);
    EXPECT_EQ(a.last_refused, 70);
    EXPECT_EQ(a.events, 0U);
    const mso::SourceStats& b = table.stats(table.find("sensor:b"));
    EXPECT_LE(b.refusals.size(), mso::k_max_refusal_reasons + 1);
    EXPECT_EQ(b.refused(), mso::k_max_refusal_reasons + 5);
}

TEST(SourceTable, SourcesBeyondTheBoundShareTheOtherRecord)
{
    mso::SourceTable table;
    for (std::size_t i = 1; i < mso::k_max_sources; ++i) {
        (void)table.intern("sensor:" + std::to_string(i));
    }
    EXPECT_EQ(table.size(), mso::k_max_sources);
    const mso::SourceId late = table.intern("sensor:late");
    EXPECT_EQ(late, mso::k_other_source_id);
    table.count_event(late, 100, 99'000'000, 10);
    table.count_event(table.intern("sensor:later"), 101, 100'000'000, 10);
    EXPECT_EQ(table.stats(mso::k_other_source_id).events, 2U);
    EXPECT_EQ(table.size(), mso::k_max_sources);
    const json view = table.view(200);
    ASSERT_EQ(view.size(), 1U);
    EXPECT_EQ(view[0]["source"], std::string(mso::k_other_source_name));
    EXPECT_EQ(view[0]["events"], 2);
}

TEST(SourceTable, ViewShowsLastSeenAgoNewestFirst)
{
    mso::SourceTable table;
    table.count_event(table.intern("sensor:old"), 1000, 1000'000'000, 1);
    table.count_event(table.intern("sensor:new"), 1500, 1500'000'000, 1);
    const json view = table.view(1600);
    ASSERT_EQ(view.size(), 2U);
    EXPECT_EQ(view[0]["source"], "sensor:new");
    EXPECT_EQ(view[0]["last_seen_ago_s"], 100);
    EXPECT_EQ(view[1]["source"], "sensor:old");
    EXPECT_EQ(view[1]["last_seen_ago_s"], 600);
    EXPECT_EQ(view[1]["clock_skew_s"]["last"], 0.0);
}

TEST(CollectorIngestEvent, DatagramsCountAsModule)
{
    mso::Collector collector;
    const std::string datagram = k_datagram;
    ASSERT_FALSE(collector.ingest(datagram, 1763739601).has_value());
    const mso::SourceStats& m = collector.sources().stats(mso::k_module_source_id);
    EXPECT_EQ(m.events, 1U);
    EXPECT_EQ(m.bytes, datagram.size());
    EXPECT_EQ(m.last_seen, 1763739601);
    EXPECT_EQ(m.skew_last_us, 1'000'000);
    EXPECT_EQ(collector.events().newest_source(), mso::k_module_source_id);
}

TEST(CollectorIngestEvent, ReceiverEventsAreAggregatedApartAndRinged)
{
    mso::Collector collector;
    ASSERT_FALSE(collector.ingest(k_datagram, 1763739601).has_value());
    collector.ingest_event(sensor_event(1763739600), "sensor:web2", 1763739605, 5000);
    collector.ingest_event(sensor_event(1763739602), "sensor:web2", 1763739606);

    const mso::SourceId web2 = collector.sources().find("sensor:web2");
    ASSERT_NE(web2, mso::k_other_source_id);
    const mso::SourceStats& s = collector.sources().stats(web2);
    EXPECT_EQ(s.events, 2U);
    EXPECT_GT(s.bytes, 5000U); // the given size, then the decoded size
    EXPECT_EQ(s.last_seen, 1763739606);
    EXPECT_EQ(s.skew_max_us, 5'000'000);

    // The module's aggregates do not see the sensor's vhost; the sensor's do.
    EXPECT_EQ(collector.aggregator().find("api.example"), nullptr);
    const mso::Aggregator* agg = collector.aggregates_of(web2);
    ASSERT_NE(agg, nullptr);
    ASSERT_NE(agg->find("api.example"), nullptr);
    EXPECT_EQ(agg->find("api.example")->requests, 2U);
    EXPECT_EQ(agg->find("shop.example"), nullptr);

    EXPECT_EQ(collector.events().size(), 3U);
    EXPECT_EQ(collector.events().newest_source(), web2);
    EXPECT_EQ(collector.events().newest()->vhost, "api.example");
}

TEST(CollectorIngestEvent, SourceNamedModuleIsTheModule)
{
    mso::Collector collector;
    collector.ingest_event(sensor_event(100), "module", 101);
    EXPECT_EQ(collector.sources().stats(mso::k_module_source_id).events, 1U);
    ASSERT_NE(collector.aggregator().find("api.example"), nullptr);
    EXPECT_TRUE(collector.source_aggregates().empty());
}

TEST(CollectorIngestEvent, RefusalsAreCountedPerSource)
{
    mso::Collector collector;
    collector.count_source_refusal("sensor:web3", "auth", 10);
    collector.count_source_refusal("sensor:web3", "hash_mismatch", 11);
    const mso::SourceStats& s = collector.sources().stats(collector.sources().find("sensor:web3"));
    EXPECT_EQ(s.refused(), 2U);
    EXPECT_EQ(s.events, 0U);
}

TEST(CollectorIngestEvent, AggregatesBeyondTheBoundShareOne)
{
    mso::Collector collector;
    for (std::size_t i = 0; i < mso::k_max_source_aggregates + 3; ++i) {
        collector.ingest_event(sensor_event(100), "sensor:" + std::to_string(i), 101);
    }
    EXPECT_EQ(collector.source_aggregates().size(), mso::k_max_source_aggregates + 1);
    const mso::Aggregator* other = collector.aggregates_of(mso::k_other_source_id);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->find("api.example")->requests, 3U);
}

TEST(EventRingSource, FilterBySourceName)
{
    mso::Collector collector;
    ASSERT_FALSE(collector.ingest(k_datagram, 1763739601).has_value());
    collector.ingest_event(sensor_event(1763739602), "sensor:web2", 1763739603);
    mso::EventFilter filter;
    filter.source = "sensor:web2";
    const json only = collector.events().select(filter, collector.sources().names(), true);
    ASSERT_EQ(only.size(), 1U);
    EXPECT_EQ(only[0]["vhost"], "api.example");
    EXPECT_EQ(only[0]["source"], "sensor:web2");
    filter.source = "module";
    const json module = collector.events().select(filter, collector.sources().names());
    ASSERT_EQ(module.size(), 1U);
    EXPECT_EQ(module[0]["vhost"], "shop.example");
    EXPECT_FALSE(module[0].contains("source"));
}

} // namespace
