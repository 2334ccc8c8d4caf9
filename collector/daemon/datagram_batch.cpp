// recvmmsg() over fixed slots; see datagram_batch.h.
#include "daemon/datagram_batch.h"

#include <algorithm>

namespace mso {

DatagramBatch::DatagramBatch(std::size_t max_bytes)
    : m_max_bytes(max_bytes),
      m_buffers(std::make_unique_for_overwrite<char[]>(max_bytes * k_datagram_slots))
{
    for (std::size_t i = 0; i < k_datagram_slots; ++i) {
        m_iov[i] = iovec{m_buffers.get() + i * m_max_bytes, m_max_bytes};
    }
}

int DatagramBatch::receive(int fd, std::size_t wanted)
{
    const std::size_t count = std::min(wanted, k_datagram_slots);
    // recvmmsg() writes msg_controllen and msg_flags back: every header is reset.
    for (std::size_t i = 0; i < count; ++i) {
        msghdr& message = m_headers[i].msg_hdr;
        message = msghdr{};
        message.msg_iov = &m_iov[i];
        message.msg_iovlen = 1;
        message.msg_control = m_control[i].bytes;
        message.msg_controllen = sizeof(m_control[i].bytes);
        m_headers[i].msg_len = 0;
    }
    return ::recvmmsg(fd, m_headers.data(), static_cast<unsigned int>(count),
                      MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC, nullptr);
}

std::string_view DatagramBatch::bytes(std::size_t i) const
{
    return {m_buffers.get() + i * m_max_bytes, std::min<std::size_t>(length(i), m_max_bytes)};
}

} // namespace mso
