// Tests for daemon/datagram_batch: several datagrams per receive(), their lengths as
// sent (a too-long one is cut, and its length says so), the sender's credentials with
// each, and "nothing waiting" without blocking.
#include "daemon/datagram_batch.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>

namespace {

// A SOCK_DGRAM socketpair whose receiving end passes credentials, closed at the end.
struct Pair {
    int fds[2] = {-1, -1};
    explicit Pair(bool credentials = true)
    {
        if (::socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) != 0) {
            ADD_FAILURE() << "socketpair failed";
            return;
        }
        if (credentials) {
            pass_credentials();
        }
    }
    void pass_credentials() const
    {
        const int on = 1;
        EXPECT_EQ(::setsockopt(fds[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
    }
    ~Pair()
    {
        for (const int fd : fds) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    void send(const std::string& bytes) const
    {
        ASSERT_EQ(::send(fds[0], bytes.data(), bytes.size(), 0),
                  static_cast<ssize_t>(bytes.size()));
    }
};

const ucred* credentials_of(const msghdr& message)
{
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            return reinterpret_cast<const ucred*>(CMSG_DATA(c));
        }
    }
    return nullptr;
}

TEST(DatagramBatch, ReceivesUpToTheSlotsThenTheRestThenNothing)
{
    Pair pair;
    const std::size_t total = mso::k_datagram_slots + 8;
    for (std::size_t i = 0; i < total; ++i) {
        pair.send("datagram " + std::to_string(i));
    }
    mso::DatagramBatch batch(64);
    ASSERT_EQ(batch.receive(pair.fds[1], 1000), static_cast<int>(mso::k_datagram_slots));
    for (std::size_t i = 0; i < mso::k_datagram_slots; ++i) {
        EXPECT_EQ(batch.bytes(i), "datagram " + std::to_string(i));
        EXPECT_EQ(batch.length(i), batch.bytes(i).size());
        const ucred* who = credentials_of(batch.header(i));
        ASSERT_NE(who, nullptr) << "slot " << i;
        EXPECT_EQ(who->pid, ::getpid());
        EXPECT_EQ(who->uid, ::getuid());
    }
    ASSERT_EQ(batch.receive(pair.fds[1], 1000), 8);
    for (std::size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(batch.bytes(i), "datagram " + std::to_string(mso::k_datagram_slots + i));
        EXPECT_NE(credentials_of(batch.header(i)), nullptr) << "slot " << i;
    }
    errno = 0;
    EXPECT_EQ(batch.receive(pair.fds[1], 1000), -1);
    EXPECT_EQ(errno, EAGAIN);
}

TEST(DatagramBatch, TakesNoMoreThanAskedFor)
{
    Pair pair;
    for (int i = 0; i < 5; ++i) {
        pair.send("x" + std::to_string(i));
    }
    mso::DatagramBatch batch(64);
    ASSERT_EQ(batch.receive(pair.fds[1], 2), 2);
    EXPECT_EQ(batch.bytes(1), "x1");
    ASSERT_EQ(batch.receive(pair.fds[1], 1000), 3);
    EXPECT_EQ(batch.bytes(0), "x2");
    EXPECT_EQ(batch.bytes(2), "x4");
}

TEST(DatagramBatch, ATooLongDatagramIsCutAndItsLengthSaysSo)
{
    Pair pair;
    pair.send(std::string(100, 'a'));
    pair.send("short");
    pair.send(""); // an empty datagram is a datagram
    mso::DatagramBatch batch(64);
    ASSERT_EQ(batch.receive(pair.fds[1], 1000), 3);
    EXPECT_EQ(batch.length(0), 100U);
    EXPECT_EQ(batch.bytes(0), std::string(64, 'a'));
    EXPECT_GT(batch.length(0), batch.max_bytes());
    EXPECT_EQ(batch.bytes(1), "short");
    EXPECT_EQ(batch.length(2), 0U);
    EXPECT_EQ(batch.bytes(2), "");
}

// The kernel writes each header's control length back (0 without credentials): a later
// receive must offer the full room again, or the credentials would not arrive.
TEST(DatagramBatch, EveryReceiveOffersRoomForCredentialsAgain)
{
    Pair pair(false);
    pair.send("before");
    mso::DatagramBatch batch(64);
    ASSERT_EQ(batch.receive(pair.fds[1], 1000), 1);
    EXPECT_EQ(credentials_of(batch.header(0)), nullptr);
    EXPECT_EQ(batch.header(0).msg_controllen, 0U);
    pair.pass_credentials();
    pair.send("after");
    ASSERT_EQ(batch.receive(pair.fds[1], 1000), 1);
    EXPECT_EQ(batch.bytes(0), "after");
    const ucred* who = credentials_of(batch.header(0));
    ASSERT_NE(who, nullptr);
    EXPECT_EQ(who->pid, ::getpid());
}

} // namespace

namespace mso {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(DatagramRest, AimsAtABatchPerWakeUpWithinItsBounds)
{
    DatagramRest rest(milliseconds(1), milliseconds(20), 16);
    const DatagramRest::Clock::time_point t0{std::chrono::seconds(100)};
    EXPECT_FALSE(rest.resting(t0));

    // The first drain says nothing of the rate: the next datagram is read on arrival.
    rest.emptied(t0, 1);
    EXPECT_FALSE(rest.resting(t0));

    // 8 datagrams in 1 ms (8,000/s): 16 more take 2 ms, but a first rest is the floor.
    auto t = t0 + milliseconds(1);
    rest.emptied(t, 8);
    EXPECT_TRUE(rest.resting(t));
    EXPECT_EQ(rest.until(), t + milliseconds(1));
    EXPECT_TRUE(rest.resting(t + microseconds(999)));
    EXPECT_FALSE(rest.resting(t + milliseconds(1)));

    // 8 in 1 ms again: now the 2 ms it takes (twice the last rest).
    t += milliseconds(1);
    rest.emptied(t, 8);
    EXPECT_EQ(rest.until(), t + milliseconds(2));

    // 64 in 2 ms (32,000/s): 0.5 ms would do, the floor is 1 ms.
    t += milliseconds(2);
    rest.emptied(t, 64);
    EXPECT_EQ(rest.until(), t + milliseconds(1));

    // 2 datagrams per rest, a falling rate (2,000/s, then slower): each rest would
    // gather 16 only if much longer; it doubles to the ceiling of 20 ms.
    for (const int want : {2, 4, 8, 16, 20, 20}) {
        t = rest.until();
        rest.emptied(t, 2);
        EXPECT_EQ(rest.until(), t + milliseconds(want)) << want;
    }

    // A wake-up that found nothing (a query) changes nothing.
    rest.emptied(t + microseconds(100), 0);
    EXPECT_EQ(rest.until(), t + milliseconds(20));

    // A datagram just under a ceiling after the 20 ms rest: still a rest.
    t += milliseconds(20) + microseconds(19900);
    rest.emptied(t, 1);
    EXPECT_TRUE(rest.resting(t));
    t = rest.until();

    // Nothing drained for a whole ceiling after the rest (a few dozen a second at most):
    // no rest, twice in a row.
    t += milliseconds(40);
    rest.emptied(t, 1);
    EXPECT_FALSE(rest.resting(t));
    t += milliseconds(40);
    rest.emptied(t, 1);
    EXPECT_FALSE(rest.resting(t));
}

TEST(DatagramRest, ALullInFastTrafficDoesNotMakeALongRest)
{
    DatagramRest rest(milliseconds(1), milliseconds(20), 16);
    auto t = DatagramRest::Clock::time_point{std::chrono::seconds(100)};
    rest.emptied(t, 1);
    // 10,000/s: 16 take 1.6 ms; the rests settle there.
    for (int i = 0; i < 4; ++i) {
        t += microseconds(1600);
        rest.emptied(t, 16);
    }
    EXPECT_EQ(rest.until(), t + microseconds(1600));
    // Then one datagram in 10 ms (the sender paused): by that rate 160 ms would gather
    // 16, but the rest is at most twice the last one, so what arrives behind it waits
    // 3.2 ms, not the ceiling.
    t += milliseconds(10);
    rest.emptied(t, 1);
    EXPECT_EQ(rest.until(), t + microseconds(3200));
    // The traffic is back: 32 in those 3.2 ms, and the rest is 1.6 ms again.
    t += microseconds(3200);
    rest.emptied(t, 32);
    EXPECT_EQ(rest.until(), t + microseconds(1600));
}

TEST(DatagramRest, WithoutACeilingNeverRests)
{
    // What the server uses when the kernel's queue is too short to wait on.
    DatagramRest rest(DatagramRest::Clock::duration::zero(), DatagramRest::Clock::duration::zero(),
                      16);
    auto t = DatagramRest::Clock::time_point{std::chrono::seconds(100)};
    for (const std::size_t taken : {1U, 8U, 64U, 2U, 1U}) {
        rest.emptied(t, taken);
        EXPECT_FALSE(rest.resting(t)) << taken;
        t += microseconds(500);
    }
}

} // namespace
} // namespace mso
