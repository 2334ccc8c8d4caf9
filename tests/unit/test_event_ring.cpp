// The recent-events ring: bounded size, newest-first selection, filters, JSON view.
#include "state/event_ring.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mso {
namespace {

RequestEvent event(int n, const std::string& vhost, const std::string& client, bool intercepted,
                   std::vector<std::string> rule_ids)
{
    RequestEvent e;
    e.unique_id = "u" + std::to_string(n);
    e.vhost = vhost;
    e.client = client;
    e.intercepted = intercepted;
    e.time_us = 1763739600123456 + n;
    for (auto& id : rule_ids) {
        Finding f;
        f.id = std::move(id);
        e.findings.push_back(std::move(f));
    }
    return e;
}

std::vector<std::string> ids(const nlohmann::ordered_json& events)
{
    std::vector<std::string> out;
    for (const auto& e : events) {
        out.push_back(e["unique_id"].get<std::string>());
    }
    return out;
}

TEST(EventRing, KeepsTheNewestAndCountsEvictions)
{
    EventRing ring(3);
    for (int i = 1; i <= 5; ++i) {
        ring.push(event(i, "a", "c", false, {"1"}));
    }
    EXPECT_EQ(ring.size(), 3U);
    EXPECT_EQ(ring.evicted(), 2U);
    EventFilter all;
    all.limit = 0;
    EXPECT_EQ(ids(ring.select(all)), (std::vector<std::string>{"u5", "u4", "u3"}));
}

TEST(EventRing, ASharedEventOutlivesItsEviction)
{
    EventRing ring(2);
    EXPECT_EQ(ring.newest_shared(), nullptr);
    ring.push(event(1, "a", "c", false, {"920450"}));
    const std::shared_ptr<const RequestEvent> held = ring.newest_shared();
    ASSERT_NE(held, nullptr);
    EXPECT_EQ(held.get(), ring.newest()); // the ring's own event, not a copy
    for (int i = 2; i <= 4; ++i) {
        ring.push(event(i, "b", "d", true, {"942100"}));
    }
    EXPECT_EQ(ring.evicted(), 2U);
    EXPECT_EQ(held.use_count(), 1); // the ring let go of it
    EXPECT_EQ(held->unique_id, "u1");
    ASSERT_EQ(held->findings.size(), 1U);
    EXPECT_EQ(held->findings[0].id, "920450");
    EXPECT_EQ(ring.newest_shared()->unique_id, "u4");
}

TEST(EventRing, ByteBudgetEvictsTheOldest)
{
    RequestEvent big = event(0, "a", "c", false, {});
    big.path = std::string(10000, 'p');
    const std::size_t one = approximate_bytes(big);
    const std::size_t budget = 3 * one + one / 2; // room for three such events
    EventRing ring(100, budget);
    for (int i = 1; i <= 5; ++i) {
        RequestEvent e = big;
        e.unique_id = "u" + std::to_string(i);
        ring.push(std::move(e));
    }
    EXPECT_EQ(ring.size(), 3U);
    EXPECT_EQ(ring.evicted(), 2U);
    EXPECT_LE(ring.bytes(), 3 * one + one / 2);
    EventFilter all;
    all.limit = 0;
    EXPECT_EQ(ids(ring.select(all)), (std::vector<std::string>{"u5", "u4", "u3"}));
    // Smaller events: as many as the budget holds (or the count, whichever is less).
    const std::size_t small = approximate_bytes(event(6, "a", "c", false, {"1"}));
    for (int i = 6; i <= 200; ++i) {
        ring.push(event(i, "a", "c", false, {"1"}));
    }
    EXPECT_EQ(ring.size(), std::min<std::size_t>(100, budget / small))
        << "budget " << budget << " small " << small << " bytes " << ring.bytes();
    EXPECT_LE(ring.bytes(), budget);
    ring.resize(10);
    EXPECT_EQ(ring.size(), 10U);
    EXPECT_LT(ring.bytes(), one);
}

// A finding's tags count in the estimate only once they outgrow the inline buffer.
TEST(EventRing, ApproximateBytesCountsATagListOnTheHeapOnly)
{
    RequestEvent e = event(0, "a", "c", false, {"1"});
    const std::size_t none = approximate_bytes(e);
    e.findings[0].tags = {"short"};
    EXPECT_EQ(approximate_bytes(e), none);
    e.findings[0].tags = {std::string(64, 'x')};
    EXPECT_GE(approximate_bytes(e), none + 66); // a length byte, 64 bytes, the terminator
}

// bytes() is the sum of approximate_bytes() over the events held, through evictions by
// count and by budget and a resize (the ring keeps each event's size beside it).
TEST(EventRing, BytesAreTheSumOfTheEventsHeld)
{
    auto held = [](const EventRing& ring) {
        std::size_t sum = 0;
        ring.for_each([&](const RequestEvent& e) { sum += approximate_bytes(e); });
        return sum;
    };
    RequestEvent big = event(0, "a", "c", false, {"942100"});
    big.path = std::string(5000, 'p');
    EventRing ring(8, 4 * approximate_bytes(big));
    for (int i = 1; i <= 40; ++i) {
        RequestEvent e = i % 3 == 0 ? big : event(i, "a", "c", false, {"1", "2"});
        e.unique_id = "u" + std::to_string(i);
        ring.push(std::move(e));
        ASSERT_EQ(ring.bytes(), held(ring)) << "after push " << i;
    }
    ASSERT_GT(ring.evicted(), 0U);
    ring.resize(3);
    EXPECT_EQ(ring.bytes(), held(ring));
    ring.push(big);
    EXPECT_EQ(ring.bytes(), held(ring));
    ring.resize(20);
    ring.push(event(41, "a", "c", false, {}));
    EXPECT_EQ(ring.bytes(), held(ring));
}

struct FilterCase {
    const char* name;
    EventFilter filter;
    std::vector<std::string> expected;
};

TEST(EventRing, Filters)
{
    EventRing ring(100);
    ring.push(event(1, "a", "10.0.0.1", false, {"942100", "949110"}));
    ring.push(event(2, "b", "10.0.0.2", true, {"941100", "949110"}));
    ring.push(event(3, "a", "10.0.0.2", true, {"942100"}));
    ring.push(event(4, "a", "10.0.0.1", false, {}));

    auto f = [](auto setter) {
        EventFilter filter;
        filter.limit = 0;
        setter(filter);
        return filter;
    };
    const FilterCase cases[] = {
        {"none", f([](EventFilter&) {}), {"u4", "u3", "u2", "u1"}},
        {"vhost", f([](EventFilter& x) { x.vhost = "a"; }), {"u4", "u3", "u1"}},
        {"rule", f([](EventFilter& x) { x.rule = "942100"; }), {"u3", "u1"}},
        {"client", f([](EventFilter& x) { x.client = "10.0.0.2"; }), {"u3", "u2"}},
        {"intercepted", f([](EventFilter& x) { x.intercepted = true; }), {"u3", "u2"}},
        {"not intercepted", f([](EventFilter& x) { x.intercepted = false; }), {"u4", "u1"}},
        {"and",
         f([](EventFilter& x) {
             x.vhost = "a";
             x.rule = "949110";
         }),
         {"u1"}},
        {"limit", f([](EventFilter& x) { x.limit = 2; }), {"u4", "u3"}},
        {"since", f([](EventFilter& x) { x.since_us = 1763739600123456 + 3; }), {"u4", "u3"}},
        {"no match", f([](EventFilter& x) { x.vhost = "zzz"; }), {}},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(ids(ring.select(c.filter)), c.expected) << c.name;
        if (c.filter.limit == 0) {
            EXPECT_EQ(ring.count_matching(c.filter, {}, 100), c.expected.size()) << c.name;
        }
    }
}

TEST(EventRing, CountsMatchesUpToABound)
{
    EventRing ring(100);
    for (int i = 1; i <= 6; ++i) {
        ring.push(event(i, i % 3 == 0 ? "b" : "a", "10.0.0.1", false, {"942100"}));
    }
    EventFilter a;
    a.vhost = "a";
    a.limit = 1; // not a bound of the count
    EXPECT_EQ(ring.count_matching(a, {}, 100), 4U);
    EXPECT_EQ(ring.count_matching(a, {}, 4), 4U);
    EXPECT_EQ(ring.count_matching(a, {}, 3), 3U);
    EXPECT_EQ(ring.count_matching(a, {}, 1), 1U);
    EXPECT_EQ(ring.count_matching(a, {}, 0), 0U);
    // matching() honours the limit, newest first, and shares the ring's events.
    const auto two = [&] {
        EventFilter f = a;
        f.limit = 2;
        return ring.matching(f);
    }();
    ASSERT_EQ(two.size(), 2U);
    EXPECT_EQ(two[0].event->unique_id, "u5");
    EXPECT_EQ(two[1].event->unique_id, "u4");
    EventFilter any;
    any.limit = 1;
    EXPECT_EQ(ring.matching(any)[0].event.get(), ring.newest()); // shared, not copied
}

// The filters that history also answers, applied to the ring when history is off.
TEST(EventRing, HistoryFilters)
{
    EventRing ring(100);
    RequestEvent a = event(1, "a", "c", false, {"942100"});
    a.path = "/admin/login";
    a.status = 200;
    a.findings[0].msg = "SQL Injection Attack";
    a.findings[0].data = "union select";
    AnomalyScores s;
    s.inbound = 5;
    s.inbound_threshold = 5;
    a.scores = s; // would have been blocked
    RequestEvent b = event(2, "a", "c", true, {"941100"});
    b.path = "/admin";
    b.status = 403;
    b.scores = s; // intercepted: not "would block"
    b.findings[0].msg = "XSS";
    RequestEvent c = event(3, "a", "c", false, {"920350"});
    c.path = "/shop/admin";
    c.status = 200;
    ring.push(a);
    ring.push(b);
    ring.push(c);
    EXPECT_EQ(ring.oldest()->unique_id, "u1");
    EXPECT_EQ(ring.newest()->unique_id, "u3");

    auto f = [](auto setter) {
        EventFilter filter;
        filter.limit = 0;
        setter(filter);
        return filter;
    };
    const FilterCase cases[] = {
        {"path prefix", f([](EventFilter& x) { x.path_prefix = "/admin"; }), {"u2", "u1"}},
        {"path prefix is not a substring", f([](EventFilter& x) { x.path_prefix = "admin"; }), {}},
        {"status", f([](EventFilter& x) { x.status = 403; }), {"u2"}},
        {"would block", f([](EventFilter& x) { x.would_block = true; }), {"u1"}},
        {"would not block", f([](EventFilter& x) { x.would_block = false; }), {"u3", "u2"}},
        {"grep msg", f([](EventFilter& x) { x.grep = "XSS"; }), {"u2"}},
        {"grep data", f([](EventFilter& x) { x.grep = "union sel"; }), {"u1"}},
        {"grep is case-sensitive", f([](EventFilter& x) { x.grep = "UNION"; }), {}},
        {"until", f([](EventFilter& x) { x.until_us = 1763739600123456 + 3; }), {"u2", "u1"}},
        {"source module", f([](EventFilter& x) { x.source = "module"; }), {"u3", "u2", "u1"}},
        {"another source", f([](EventFilter& x) { x.source = "import:x"; }), {}},
        // Inferred: intercepted is On; no CRS blocking rule fired in the others.
        {"engine on", f([](EventFilter& x) { x.engine = EngineMode::on; }), {"u2"}},
        {"engine detection only",
         f([](EventFilter& x) { x.engine = EngineMode::detection_only; }),
         {}},
    };
    for (const auto& c2 : cases) {
        EXPECT_EQ(ids(ring.select(c2.filter)), c2.expected) << c2.name;
        EXPECT_EQ(ring.count_matching(c2.filter, {}, 100), c2.expected.size()) << c2.name;
    }
}

// The engine filter matches the engine mode each event was pushed with (the collector
// resolves it once, from the vhost's configured engine when the event shows none), not
// one recomputed from the event; an event pushed without one has the inferred mode.
TEST(EventRing, EngineFilterUsesTheEngineEachEventWasPushedWith)
{
    EventRing ring(3);
    ring.push(event(1, "detect", "c", false, {"920450"}), k_module_source_id,
              EngineMode::detection_only);
    ring.push(event(2, "block", "c", true, {"920450"}), k_module_source_id, EngineMode::on);
    ring.push(event(3, "other", "c", false, {"920450"})); // inferred: unknown
    EXPECT_EQ(ring.newest_engine(), EngineMode::unknown);

    auto with_engine = [](EngineMode engine) {
        EventFilter filter;
        filter.limit = 0;
        filter.engine = engine;
        return filter;
    };
    EXPECT_EQ(ids(ring.select(with_engine(EngineMode::detection_only))),
              std::vector<std::string>{"u1"});
    EXPECT_EQ(ids(ring.select(with_engine(EngineMode::on))), std::vector<std::string>{"u2"});

    std::vector<std::string> seen;
    ring.for_each_with_origin([&](const RequestEvent& e, SourceId, EngineMode engine) {
        seen.push_back(e.unique_id + "=" + std::string(engine_mode_name(engine)));
    });
    EXPECT_EQ(seen, (std::vector<std::string>{"u1=detection_only", "u2=on", "u3=unknown"}));

    // Each row says its engine and verdict, as a row from history does.
    std::vector<std::string> rows;
    for (const auto& row : ring.select(EventFilter{})) {
        rows.push_back(row.at("unique_id").get<std::string>() + "=" +
                       row.at("engine").get<std::string>() + "," +
                       row.at("verdict").get<std::string>());
    }
    EXPECT_EQ(rows, (std::vector<std::string>{"u3=unknown,passed", "u2=on,intercepted",
                                              "u1=detection_only,passed"}));

    // Resizing and evicting keep each event's engine with it.
    ring.resize(2);
    ring.push(event(4, "detect", "c", false, {"920450"}), k_module_source_id,
              EngineMode::detection_only);
    EXPECT_EQ(ring.newest_engine(), EngineMode::detection_only);
    EXPECT_EQ(ids(ring.select(with_engine(EngineMode::detection_only))),
              std::vector<std::string>{"u4"});
    EXPECT_EQ(ids(ring.select(EventFilter{})), (std::vector<std::string>{"u4", "u3"}));
}

TEST(EventJson, FieldsAndTime)
{
    RequestEvent e = event(0, "shop", "1.2.3.4", true, {"942100"});
    e.time_us = 1763739600123456;
    e.findings[0].msg = "SQL Injection";
    e.findings[0].severity = "CRITICAL";
    e.findings[0].data_truncated = true;
    const auto j = event_json(e);
    EXPECT_EQ(j["time"], "2025-11-21T15:40:00.123456Z");
    EXPECT_EQ(j["vhost"], "shop");
    EXPECT_EQ(j["intercepted"], true);
    EXPECT_TRUE(j["scores"].is_null());
    ASSERT_EQ(j["rules"].size(), 1U);
    EXPECT_EQ(j["rules"][0]["id"], "942100");
    EXPECT_EQ(j["rules"][0]["msg"], "SQL Injection");
    EXPECT_EQ(j["rules"][0]["severity"], "CRITICAL");
    EXPECT_EQ(j["rules"][0]["data_truncated"], true);
}

TEST(EventJson, UnknownThresholdsAndLevelsAreNull)
{
    RequestEvent e = event(0, "shop", "1.2.3.4", false, {"920350"});
    e.scores = AnomalyScores{};
    e.scores->inbound = 3;
    e.scores->inbound_pl = {3, 0, 0, 0};
    e.scores->blocking_pl = 1;
    const auto j = event_json(e)["scores"];
    EXPECT_EQ(j["inbound"], 3);
    EXPECT_EQ(j["blocking_pl"], 1);
    for (const char* key : {"inbound_threshold", "outbound_threshold", "detection_pl"}) {
        ASSERT_TRUE(j.contains(key)) << key;
        EXPECT_TRUE(j[key].is_null()) << key;
    }
}

} // namespace
} // namespace mso
