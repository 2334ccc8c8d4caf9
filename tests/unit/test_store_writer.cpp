// store/store_writer.cpp: the writer thread commits what it is offered in batches
// (on size, on time, on flush and on stop), counts duplicates, a full queue and a full
// disk, prunes between batches and logs at a bounded rate.
#include "store/store_writer.h"

#include "store_test_events.h"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mso {
namespace {

using test::full_event;
using test::TempDir;

HistoryStore open_store(const TempDir& dir, std::int64_t max_page_count = 0)
{
    HistoryOptions options;
    options.max_page_count = max_page_count;
    auto store = HistoryStore::open(dir.db(), options);
    EXPECT_TRUE(store) << store.error();
    return std::move(*store);
}

std::int64_t stored(const TempDir& dir)
{
    HistoryOptions ro;
    ro.read_only = true;
    auto reader = HistoryStore::open(dir.db(), ro);
    EXPECT_TRUE(reader) << reader.error();
    if (!reader) {
        return -1;
    }
    auto n = reader->event_count();
    return n ? *n : -1;
}

StoreWriterOptions no_retention()
{
    StoreWriterOptions o;
    o.max_age_days = 0;
    return o;
}

TEST(StoreWriter, CommitsOnFlushAndCountsDuplicates)
{
    TempDir dir;
    StoreWriter writer(open_store(dir), no_retention());
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(writer.offer(full_event(i)));
    }
    ASSERT_TRUE(writer.offer(full_event(7))); // a duplicate
    writer.flush();
    const StoreWriterCounters c = writer.counters();
    EXPECT_EQ(c.written, 1000U);
    EXPECT_EQ(c.duplicates, 1U);
    EXPECT_EQ(c.queued, 0U);
    EXPECT_EQ(c.queue_full + c.disk_full + c.io_errors, 0U);
    EXPECT_FALSE(c.newest_lost_us.has_value());
    EXPECT_GE(c.batches, 1U);
    EXPECT_EQ(stored(dir), 1000);
}

TEST(StoreWriter, StoresAnEventSharedWithTheRingAsTheModules)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_interval = std::chrono::hours(1); // nothing leaves the queue until flush
    StoreWriter writer(open_store(dir), o);
    StoredEvent expected = full_event(3);
    expected.engine_mode = EngineMode::on; // full_event's is detection_only
    auto shared = std::make_shared<const RequestEvent>(expected.event);
    ASSERT_TRUE(writer.offer(shared, EngineMode::on));
    ASSERT_TRUE(writer.offer(shared, EngineMode::on)); // the same again
    EXPECT_EQ(shared.use_count(), 3);                  // queued twice, not copied
    shared.reset();                                    // the queue's references keep it
    writer.flush();
    EXPECT_EQ(writer.counters().written, 1U);
    EXPECT_EQ(writer.counters().duplicates, 1U);
    writer.stop();
    auto reader = HistoryStore::open(dir.db());
    ASSERT_TRUE(reader) << reader.error();
    auto found = reader->find(expected.event.unique_id);
    ASSERT_TRUE(found) << found.error();
    ASSERT_TRUE(found->has_value());
    expected.source = std::string(k_source_module);
    expected.row_id = (*found)->row_id;
    EXPECT_EQ(**found, expected);
}

TEST(StoreWriter, CommitsWithinTheBatchIntervalWithoutFlush)
{
    struct Case {
        const char* name;
        std::size_t batch_events;
        int events;
    };
    const Case cases[] = {
        {"timer", 1000, 10}, // fewer than a batch: the interval commits them
        {"size", 100, 1000}, // full batches commit at once
    };
    for (const Case& c : cases) {
        TempDir dir;
        StoreWriterOptions o = no_retention();
        o.batch_events = c.batch_events;
        o.batch_interval = std::chrono::milliseconds(100);
        StoreWriter writer(open_store(dir), o);
        for (int i = 0; i < c.events; ++i) {
            ASSERT_TRUE(writer.offer(full_event(i)));
        }
        // Up to 60 s for a loaded machine (the loop ends as soon as all are written); what
        // matters is that no flush() was needed.
        for (int tries = 0; tries < 1200 && writer.counters().written < std::uint64_t(c.events);
             ++tries) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        EXPECT_EQ(writer.counters().written, static_cast<std::uint64_t>(c.events)) << c.name;
        EXPECT_EQ(stored(dir), c.events) << c.name;
    }
}

TEST(StoreWriter, StopWritesWhatIsQueued)
{
    TempDir dir;
    {
        StoreWriterOptions o = no_retention();
        o.batch_interval = std::chrono::hours(1);
        StoreWriter writer(open_store(dir), o);
        for (int i = 0; i < 500; ++i) {
            ASSERT_TRUE(writer.offer(full_event(i)));
        }
        writer.stop();
        EXPECT_EQ(writer.counters().written, 500U);
        EXPECT_FALSE(writer.offer(full_event(999))); // stopped: refused and counted
        EXPECT_EQ(writer.counters().queue_full, 1U);
        writer.stop(); // idempotent
    }
    EXPECT_EQ(stored(dir), 500);
}

TEST(StoreWriter, AFullQueueIsCounted)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.max_queue = 10;
    o.batch_events = 1000;
    o.batch_interval = std::chrono::hours(1); // nothing leaves the queue until flush
    StoreWriter writer(open_store(dir), o);
    int accepted = 0;
    for (int i = 0; i < 25; ++i) {
        accepted += writer.offer(full_event(i)) ? 1 : 0;
    }
    EXPECT_EQ(accepted, 10);
    EXPECT_EQ(writer.counters().queue_full, 15U);
    // The newest refused event's time (full_event(n) is n seconds after k_t0).
    EXPECT_EQ(writer.counters().newest_lost_us, full_event(24).event.time_us);
    // An event the ring does not have (an import's, a sensor's) does not count there.
    StoredEvent refused = full_event(90);
    EXPECT_EQ(writer.offer(std::move(refused), Offer{0, Dedup::content, false, false}),
              OfferResult::refused);
    EXPECT_EQ(refused, full_event(90)); // left with the caller, whole
    EXPECT_EQ(writer.counters().queue_full, 16U);
    EXPECT_EQ(writer.counters().newest_lost_us, full_event(24).event.time_us);
    EXPECT_EQ(writer.counters().queued, 10U);
    // The module's events shared with the ring count there as the copies did.
    EXPECT_FALSE(
        writer.offer(std::make_shared<const RequestEvent>(full_event(30).event), EngineMode::on));
    EXPECT_EQ(writer.counters().queue_full, 17U);
    EXPECT_EQ(writer.counters().newest_lost_us, full_event(30).event.time_us);
    EXPECT_FALSE(writer.offer(nullptr, EngineMode::on)); // nothing to queue, nothing counted
    EXPECT_EQ(writer.counters().queue_full, 17U);
    writer.flush();
    EXPECT_EQ(writer.counters().written, 10U);
    EXPECT_TRUE(writer.offer(full_event(100))); // room again
}

TEST(StoreWriter, AFullDiskIsCountedAndLoggedAtABoundedRate)
{
    TempDir dir;
    std::vector<std::string> lines;
    StoreWriterOptions o = no_retention();
    o.batch_events = 50;
    o.log = [&](std::string_view line) { lines.emplace_back(line); };
    o.log_burst = 2;
    StoreWriter writer(open_store(dir, 64), o);
    for (int i = 0; i < 5000; ++i) {
        (void)writer.offer(full_event(i));
        if (i % 50 == 49) {
            writer.flush(); // one batch at a time
        }
    }
    writer.flush();
    const StoreWriterCounters c = writer.counters();
    EXPECT_GT(c.written, 0U);
    EXPECT_GT(c.disk_full, 0U);
    EXPECT_EQ(c.io_errors, 0U);
    EXPECT_EQ(c.written + c.disk_full + c.queue_full, 5000U);
    EXPECT_EQ(c.newest_lost_us, full_event(4999).event.time_us); // the disk stays full
    EXPECT_NE(c.last_error.find("full"), std::string::npos) << c.last_error;
    EXPECT_EQ(lines.size(), 2U); // the burst; the rest suppressed
    EXPECT_EQ(stored(dir), static_cast<std::int64_t>(c.written));
}

TEST(StoreWriter, PrunesBetweenBatches)
{
    TempDir dir;
    StoreWriterOptions o;
    o.max_age_days = 1;
    o.prune_rows = 7;
    o.prune_interval = std::chrono::milliseconds(10);
    o.now_us = [] { return test::k_t0 + 3 * 86'400'000'000LL; };
    StoreWriter writer(open_store(dir), o);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(writer.offer(full_event(i))); // all 3 days old
    }
    writer.flush();
    for (int tries = 0; tries < 3000 && writer.counters().pruned < 100; ++tries) { // <= 60 s
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(writer.counters().pruned, 100U);
    EXPECT_EQ(stored(dir), 0);
}

// Waits (up to 60 s) until `done` holds; the marker callbacks run on the writer thread.
template <typename Done> bool wait_for(Done done)
{
    for (int i = 0; i < 6000 && !done(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

struct Markers {
    std::mutex mutex;
    std::vector<std::pair<Producer, MarkerResult>> seen;

    MarkerCallback callback(Producer producer)
    {
        return [this, producer](const MarkerResult& r) {
            const std::lock_guard lock(mutex);
            seen.emplace_back(producer, r);
        };
    }
    std::size_t count()
    {
        const std::lock_guard lock(mutex);
        return seen.size();
    }
};

TEST(StoreWriter, AMarkerReportsItsProducersEventsSinceItsPreviousMarker)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_interval = std::chrono::milliseconds(20);
    StoreWriter writer(open_store(dir), o);
    const Producer a = writer.new_producer();
    const Producer b = writer.new_producer();
    ASSERT_NE(a, b);
    ASSERT_NE(a, Producer{0});
    Markers markers;
    // a: 3 new + 1 duplicate; b (interleaved): 2 new; the module (producer 0): 1 new.
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(writer.offer(full_event(i), Offer{a, Dedup::request, true}),
                  OfferResult::accepted);
        ASSERT_EQ(writer.offer(full_event(100 + i % 2), Offer{b, Dedup::request, true}),
                  OfferResult::accepted);
    }
    ASSERT_TRUE(writer.offer(full_event(200)));
    ASSERT_EQ(writer.offer(full_event(1), Offer{a, Dedup::request, true}), OfferResult::accepted);
    ASSERT_TRUE(writer.offer_marker(a, markers.callback(a)));
    // b's marker comes later; a's second marker sees only what came after the first.
    ASSERT_EQ(writer.offer(full_event(3), Offer{a, Dedup::request, true}), OfferResult::accepted);
    ASSERT_TRUE(writer.offer_marker(b, markers.callback(b)));
    ASSERT_TRUE(writer.offer_marker(a, markers.callback(a)));
    ASSERT_TRUE(wait_for([&] { return markers.count() == 3; }));
    const std::lock_guard lock(markers.mutex);
    EXPECT_EQ(markers.seen[0].first, a);
    EXPECT_EQ(markers.seen[0].second, (MarkerResult{3, 1, 0}));
    EXPECT_EQ(markers.seen[1].first, b);
    EXPECT_EQ(markers.seen[1].second, (MarkerResult{2, 1, 0}));
    EXPECT_EQ(markers.seen[2].first, a);
    EXPECT_EQ(markers.seen[2].second, (MarkerResult{1, 0, 0}));
    EXPECT_EQ(stored(dir), 3 + 2 + 1 + 1);
}

TEST(StoreWriter, AWaitedForMarkerCommitsWithoutWaitingForTheInterval)
{
    // The batch interval is an hour: only commit_now can bring the markers back (the
    // console receiver's HTTP clients wait for them). Markers offered together share
    // the commits that follow (group commit).
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_interval = std::chrono::hours(1);
    StoreWriter writer(open_store(dir), o);
    Markers markers;
    std::vector<Producer> producers;
    for (int i = 0; i < 5; ++i) {
        const Producer p = writer.new_producer();
        producers.push_back(p);
        ASSERT_EQ(writer.offer(full_event(i), Offer{p, Dedup::request, true}),
                  OfferResult::accepted);
        ASSERT_TRUE(writer.offer_marker(p, markers.callback(p), /*commit_now=*/true));
    }
    ASSERT_TRUE(wait_for([&] { return markers.count() == 5; }));
    {
        const std::lock_guard lock(markers.mutex);
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_EQ(markers.seen[i].first, producers[i]);
            EXPECT_EQ(markers.seen[i].second, (MarkerResult{1, 0, 0}));
        }
    }
    EXPECT_EQ(stored(dir), 5);
    // A plain marker still rides the interval: it has not come back after the commit
    // that an explicit flush makes... until that flush.
    const Producer late = writer.new_producer();
    ASSERT_EQ(writer.offer(full_event(9), Offer{late, Dedup::request, true}),
              OfferResult::accepted);
    ASSERT_TRUE(writer.offer_marker(late, markers.callback(late)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(markers.count(), 5U) << "a marker without commit_now waits for the batch";
    writer.flush();
    EXPECT_EQ(markers.count(), 6U);
}

TEST(StoreWriter, AMarkerComesAfterEverythingQueuedBeforeIt)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_events = 7; // markers fall inside and across batches
    StoreWriter writer(open_store(dir), o);
    const Producer p = writer.new_producer();
    Markers markers;
    std::vector<std::int64_t> stored_at_marker;
    std::mutex mutex;
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 10; ++i) {
            ASSERT_EQ(writer.offer(full_event(round * 10 + i), Offer{p, Dedup::request, true}),
                      OfferResult::accepted);
        }
        ASSERT_TRUE(writer.offer_marker(p, [&, round](const MarkerResult& r) {
            const std::lock_guard lock(mutex);
            stored_at_marker.push_back(r.inserted == 10 ? (round + 1) * 10 : -1);
        }));
    }
    ASSERT_TRUE(wait_for([&] {
        const std::lock_guard lock(mutex);
        return stored_at_marker.size() == 5;
    }));
    EXPECT_EQ(stored_at_marker, (std::vector<std::int64_t>{10, 20, 30, 40, 50}));
    EXPECT_EQ(stored(dir), 50);
}

TEST(StoreWriter, BulkOffersGetAtMostTheirShareOfTheQueue)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.max_queue = 10;
    o.batch_events = 1000;
    o.batch_interval = std::chrono::hours(1); // nothing is written until flush()
    StoreWriter writer(open_store(dir), o);
    const Producer p = writer.new_producer();
    int accepted = 0;
    for (int i = 0; i < 8; ++i) {
        accepted +=
            writer.offer(full_event(i), Offer{p, Dedup::request, true}) == OfferResult::accepted;
    }
    EXPECT_EQ(accepted, 5); // half of 10
    EXPECT_FALSE(writer.bulk_room());
    // An event without room is left with the producer, whole, to offer again later.
    StoredEvent again = full_event(7);
    EXPECT_EQ(writer.offer(std::move(again), Offer{p, Dedup::request, true}), OfferResult::no_room);
    EXPECT_EQ(again, full_event(7));
    // The live producer still has the other half, and then the queue is full for it.
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(writer.offer(full_event(100 + i))) << i;
    }
    EXPECT_FALSE(writer.offer(full_event(200)));
    EXPECT_EQ(writer.counters().queue_full, 1U); // no_room is not a loss
    EXPECT_EQ(writer.counters().bulk_queued, 5U);
    writer.flush();
    EXPECT_TRUE(writer.bulk_room());
    EXPECT_EQ(writer.offer(full_event(5), Offer{p, Dedup::request, true}), OfferResult::accepted);
    writer.flush();
    EXPECT_EQ(stored(dir), 11);
}

TEST(StoreWriter, AMarkerCountsLostEventsOnAFullDisk)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_interval = std::chrono::milliseconds(10);
    StoreWriter writer(open_store(dir, 64), o);
    const Producer p = writer.new_producer();
    Markers markers;
    std::uint64_t offered = 0;
    for (int i = 0; i < 4000; ++i) {
        if (writer.offer(full_event(i), Offer{p, Dedup::request, true}) == OfferResult::accepted) {
            ++offered;
        }
    }
    ASSERT_TRUE(writer.offer_marker(p, markers.callback(p)));
    ASSERT_TRUE(wait_for([&] { return markers.count() == 1; }));
    const MarkerResult r = markers.seen[0].second;
    EXPECT_GT(r.lost, 0U);
    EXPECT_EQ(r.inserted + r.duplicates + r.lost, offered);
    EXPECT_EQ(writer.counters().disk_full, r.lost);
}

TEST(StoreWriter, AnEventOfferedWithItsMarkerIsAnsweredOnceCommitted)
{
    // The batch interval is an hour: only commit_now brings the answers back.
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_interval = std::chrono::hours(1);
    StoreWriter writer(open_store(dir), o);
    Markers markers;
    const Producer a = writer.new_producer();
    const Producer b = writer.new_producer();
    ASSERT_EQ(writer.offer_marked(full_event(1), Offer{a, Dedup::request, true},
                                  markers.callback(a), /*commit_now=*/true),
              OfferResult::accepted);
    ASSERT_TRUE(wait_for([&] { return markers.count() == 1; }));
    EXPECT_EQ(stored(dir), 1); // committed before the answer
    // The same entry again (a client that did not see its answer): a duplicate.
    ASSERT_EQ(writer.offer_marked(full_event(1), Offer{b, Dedup::request, true},
                                  markers.callback(b), /*commit_now=*/true),
              OfferResult::accepted);
    ASSERT_TRUE(wait_for([&] { return markers.count() == 2; }));
    const std::lock_guard lock(markers.mutex);
    EXPECT_EQ(markers.seen[0], std::make_pair(a, MarkerResult{1, 0, 0}));
    EXPECT_EQ(markers.seen[1], std::make_pair(b, MarkerResult{0, 1, 0}));
    EXPECT_EQ(stored(dir), 1);
}

TEST(StoreWriter, AnEventOfferedWithItsMarkerIsRefusedWithItWhenFull)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.max_queue = 2;
    o.batch_interval = std::chrono::hours(1);
    StoreWriter writer(open_store(dir), o);
    const Producer p = writer.new_producer();
    EXPECT_EQ(writer.offer_marked(
                  full_event(1), Offer{p, Dedup::request, true}, [](const MarkerResult&) {},
                  /*commit_now=*/false),
              OfferResult::accepted);
    // Bulk: half of the queue, so the second has no room and its marker is not queued.
    StoredEvent second = full_event(2);
    EXPECT_EQ(writer.offer_marked(
                  std::move(second), Offer{p, Dedup::request, true},
                  [](const MarkerResult&) { FAIL() << "ran"; }, false),
              OfferResult::no_room);
    EXPECT_EQ(second, full_event(2)); // left with the caller, whole
    writer.stop();
    StoredEvent third = full_event(3);
    EXPECT_EQ(writer.offer_marked(
                  std::move(third), Offer{p, Dedup::request, false},
                  [](const MarkerResult&) { FAIL() << "ran"; }, true),
              OfferResult::refused);
    EXPECT_EQ(third, full_event(3));
    EXPECT_EQ(stored(dir), 1);
}

TEST(StoreWriter, TheAfterMarkersHookRunsOnceABatchsMarkersRan)
{
    TempDir dir;
    StoreWriterOptions o = no_retention();
    o.batch_interval = std::chrono::hours(1);
    StoreWriter writer(open_store(dir), o);
    std::mutex mutex;
    std::vector<std::string> seen; // in the writer thread's order
    const auto record = [&](std::string what) {
        const std::lock_guard lock(mutex);
        seen.push_back(std::move(what));
    };
    writer.set_after_markers([&] { record("hook"); });
    // A batch without markers: no hook.
    ASSERT_TRUE(writer.offer(full_event(1)));
    writer.flush();
    {
        const std::lock_guard lock(mutex);
        EXPECT_TRUE(seen.empty());
    }
    // Markers offered while the writer waits share one batch: their callbacks, then the
    // hook once.
    for (int i = 0; i < 3; ++i) {
        const Producer p = writer.new_producer();
        ASSERT_EQ(writer.offer(full_event(10 + i), Offer{p, Dedup::request, true}),
                  OfferResult::accepted);
        ASSERT_TRUE(writer.offer_marker(
            p, [&, i](const MarkerResult&) { record("marker " + std::to_string(i)); }));
    }
    writer.flush();
    {
        const std::lock_guard lock(mutex);
        EXPECT_EQ(seen, (std::vector<std::string>{"marker 0", "marker 1", "marker 2", "hook"}));
    }
    // Once cleared, it no longer runs.
    writer.set_after_markers({});
    const Producer p = writer.new_producer();
    ASSERT_TRUE(writer.offer_marker(p, [&](const MarkerResult&) { record("last"); }));
    writer.flush();
    const std::lock_guard lock(mutex);
    EXPECT_EQ(seen.back(), "last");
    EXPECT_EQ(seen.size(), 5U);
}

TEST(StoreWriter, AMarkerAfterStopIsRefused)
{
    TempDir dir;
    StoreWriter writer(open_store(dir), no_retention());
    writer.stop();
    EXPECT_FALSE(writer.offer_marker(1, [](const MarkerResult&) { FAIL() << "ran"; }));
    EXPECT_EQ(writer.offer(full_event(1), Offer{1, Dedup::request, true}), OfferResult::refused);
}

} // namespace
} // namespace mso
