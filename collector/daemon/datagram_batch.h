// Receives the event socket's datagrams a batch at a time: one recvmmsg() call fills up
// to k_datagram_slots buffers, each with its sender's credentials (SO_PASSCRED), instead
// of one recvmsg() per datagram. Under a flood of findings that saves the receiving
// thread about a quarter of its CPU (docs/BENCHMARKS.md, "Socket receive"); the copy of
// the bytes stays, the entry and exit per datagram go.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace mso {

// Datagrams one receive() can return.
inline constexpr std::size_t k_datagram_slots = 32;

// Owns the buffers (k_datagram_slots x max_bytes, touched only where datagrams land) and
// the message headers that point into them; belongs to one thread; not copyable (the
// headers point into its own members).
class DatagramBatch {
public:
    explicit DatagramBatch(std::size_t max_bytes);
    DatagramBatch(const DatagramBatch&) = delete;
    DatagramBatch& operator=(const DatagramBatch&) = delete;

    // Up to `wanted` (at most k_datagram_slots) datagrams from `fd` without waiting:
    // how many arrived (at least 1), or -1 with errno (EAGAIN: none waiting). Never
    // blocks.
    [[nodiscard]] int receive(int fd, std::size_t wanted);
    // The datagram in slot `i` of the last receive(): its length as sent (MSG_TRUNC,
    // so it may exceed max_bytes()), the bytes kept, and its header with the control
    // data (credentials).
    [[nodiscard]] std::size_t length(std::size_t i) const { return m_headers[i].msg_len; }
    [[nodiscard]] std::string_view bytes(std::size_t i) const;
    [[nodiscard]] const msghdr& header(std::size_t i) const { return m_headers[i].msg_hdr; }
    [[nodiscard]] std::size_t max_bytes() const { return m_max_bytes; }

private:
    // Room for the sender's credentials and nothing else: file descriptors a sender
    // passes do not fit and the kernel closes them.
    struct alignas(cmsghdr) Control {
        char bytes[CMSG_SPACE(sizeof(ucred))];
    };

    std::size_t m_max_bytes;
    std::unique_ptr<char[]> m_buffers; // not zeroed: pages are touched as datagrams land
    std::array<iovec, k_datagram_slots> m_iov{};
    std::array<Control, k_datagram_slots> m_control{};
    std::array<mmsghdr, k_datagram_slots> m_headers{};
};

// How long the loop leaves the event socket out of its poll after a drain that emptied
// it (the rest), so that the next datagrams gather into one wake-up: each wake-up costs
// the collector tens of microseconds when Apache keeps the CPUs busy (a context switch;
// docs/BENCHMARKS.md, "The loop's wake-ups"), far more than reading a datagram. The rest
// aims at `batch` datagrams per wake-up at the rate the last two drains showed, between
// `min` and `max`; when nothing came for `max` beyond the last rest (a few dozen
// events a second or fewer) it does not rest: the next datagram is read when it
// arrives, since a rest would only add a wake-up of its own. A rest is at most twice
// the one before (or `min`): one drain that found few datagrams after a lull in fast
// traffic does not make those behind it wait a long rest, and steady slow traffic
// reaches `max` in a few drains. Queries are not delayed: the loop reads the waiting
// datagrams before it answers anything.
class DatagramRest {
public:
    using Clock = std::chrono::steady_clock;

    // A `max` of zero never rests (the event socket's queue is too short to wait on).
    DatagramRest(Clock::duration min, Clock::duration max, std::size_t batch)
        : m_min(min), m_max(max), m_batch(batch)
    {
    }

    // A drain that emptied the socket ended at `now` having taken `taken` datagrams.
    void emptied(Clock::time_point now, std::size_t taken)
    {
        if (taken == 0)
            return; // woken by something else: says nothing of the rate
        // The rest the last drain made (it began at that drain), zero if none.
        const Clock::duration last_rest = m_last_drain && m_until > *m_last_drain
                                              ? m_until - *m_last_drain
                                              : Clock::duration::zero();
        m_until = Clock::time_point{};
        // Quiet for a whole `max` beyond the last rest: no rest (and none to grow from).
        if (m_last_drain && now - *m_last_drain < last_rest + m_max) {
            // `taken` arrived in `since`: `batch` more take since * batch / taken.
            const auto since = now - *m_last_drain;
            const auto gather =
                since * static_cast<Clock::rep>(m_batch) / static_cast<Clock::rep>(taken);
            const auto limit = std::clamp<Clock::duration>(2 * last_rest, m_min, m_max);
            m_until = now + std::clamp<Clock::duration>(gather, m_min, limit);
        }
        m_last_drain = now;
    }
    // Whether the socket rests at `now`, and until when.
    [[nodiscard]] bool resting(Clock::time_point now) const { return now < m_until; }
    [[nodiscard]] Clock::time_point until() const { return m_until; }

private:
    Clock::duration m_min;
    Clock::duration m_max;
    std::size_t m_batch;
    std::optional<Clock::time_point> m_last_drain;
    Clock::time_point m_until{};
};

} // namespace mso
