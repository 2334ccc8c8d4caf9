// store/store_writer.cpp: the writer thread commits what it is offered in batches
// (on size, on time, on flush and on stop), counts duplicates, a full queue and a full
// disk, prunes between batches and logs at a bounded rate.
#include "store/store_writer.h"

#include "store_test_events.h"

#include <gtest/gtest.h>

#include <thread>

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
    EXPECT_GE(c.batches, 1U);
    EXPECT_EQ(stored(dir), 1000);
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
    EXPECT_EQ(writer.counters().queued, 10U);
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

} // namespace
} // namespace mso
