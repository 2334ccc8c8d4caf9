// Bytes waiting to be written to a socket: appended at the end, consumed from the front
// as the socket takes them. Consuming moves an offset instead of erasing the string's
// head, so a large answer written a socket buffer at a time costs its length once, not
// once per write (erasing the front of a 15 MB answer after each of some 75 writes of
// 200 KB moves over half a gigabyte). The written head is dropped when it is at least
// half of the string, or all of it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace mso {

class OutputBuffer {
public:
    // The bytes not yet consumed.
    [[nodiscard]] bool empty() const noexcept { return m_head == m_bytes.size(); }
    [[nodiscard]] std::size_t size() const noexcept { return m_bytes.size() - m_head; }
    [[nodiscard]] const char* data() const noexcept { return m_bytes.data() + m_head; }
    [[nodiscard]] std::string_view view() const noexcept { return {data(), size()}; }
    // Memory held, written bytes included.
    [[nodiscard]] std::size_t capacity() const noexcept { return m_bytes.capacity(); }

    OutputBuffer& operator+=(std::string_view bytes)
    {
        m_bytes.append(bytes);
        return *this;
    }
    OutputBuffer& operator+=(char c)
    {
        m_bytes.push_back(c);
        return *this;
    }
    // Takes `bytes` without a copy when nothing is waiting.
    OutputBuffer& operator+=(std::string&& bytes)
    {
        if (empty()) {
            m_bytes = std::move(bytes);
            m_head = 0;
        } else {
            m_bytes.append(bytes);
        }
        return *this;
    }
    OutputBuffer& operator+=(const std::string& bytes) { return *this += std::string_view(bytes); }
    OutputBuffer& operator+=(const char* bytes) { return *this += std::string_view(bytes); }

    // Drops the first `n` waiting bytes (at most size()).
    void consume(std::size_t n) noexcept
    {
        m_head += n < size() ? n : size();
        if (m_head == m_bytes.size()) {
            clear();
        } else if (m_head >= m_bytes.size() / 2) {
            m_bytes.erase(0, m_head); // moves less than what was written since the last
            m_head = 0;
        }
    }
    // Drops every waiting byte; the memory of a large answer goes back.
    void clear() noexcept
    {
        if (m_bytes.capacity() > k_kept_capacity) {
            std::string().swap(m_bytes);
        }
        m_bytes.clear();
        m_head = 0;
    }
    // The capacity kept for the next answers when the buffer empties.
    static constexpr std::size_t k_kept_capacity = 64 * 1024;

private:
    std::string m_bytes;
    std::size_t m_head = 0; // bytes of m_bytes already consumed
};

} // namespace mso
