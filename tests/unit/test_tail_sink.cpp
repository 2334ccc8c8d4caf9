// The dashboard's tail hand-over (daemon/tail_sink.h): order, the bound and the
// {"dropped":N} notice, closing.
#include "daemon/tail_sink.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;

TEST(TailSink, HandsOverLinesInOrder)
{
    mso::TailSink sink(1024);
    EXPECT_TRUE(sink.offer("a\n"));
    EXPECT_TRUE(sink.offer("b\n"));
    EXPECT_EQ(sink.take(0ms), "a\nb\n");
    EXPECT_EQ(sink.take(0ms), "");
}

TEST(TailSink, DropsBeyondTheBoundAndSaysSo)
{
    mso::TailSink sink(4);
    EXPECT_TRUE(sink.offer("aaaa\n")); // reaches the bound
    EXPECT_FALSE(sink.offer("b\n"));
    EXPECT_FALSE(sink.offer("c\n"));
    EXPECT_EQ(sink.take(0ms), "aaaa\n");
    EXPECT_TRUE(sink.offer("d\n"));
    EXPECT_EQ(sink.take(0ms), "{\"dropped\":2}\nd\n");
}

TEST(TailSink, WakesAWaitingReader)
{
    mso::TailSink sink(1024);
    std::thread writer([&] {
        std::this_thread::sleep_for(50ms);
        (void)sink.offer("x\n");
    });
    // Generous: only the wake-up is under test, not its speed.
    EXPECT_EQ(sink.take(60s), "x\n");
    writer.join();
}

TEST(TailSink, ClosedSinkTakesNothingAndWakesTheReader)
{
    mso::TailSink sink(1024);
    std::thread closer([&] {
        std::this_thread::sleep_for(50ms);
        sink.close();
    });
    EXPECT_EQ(sink.take(60s), "");
    closer.join();
    EXPECT_TRUE(sink.closed());
    EXPECT_TRUE(sink.offer("late\n"));
    EXPECT_EQ(sink.take(0ms), "");
}

} // namespace
