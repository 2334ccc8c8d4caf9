// A bounded, allocation-free JSON writer for the module's request path. It writes into a
// caller-owned buffer and never writes past it: a value that does not fit sets
// overflowed() and is left out, and mark()/rollback() let the caller drop a whole
// element (a finding) so the output stays valid JSON. Strings are made valid UTF-8
// (invalid bytes become U+FFFD) and JSON-escaped; a string longer than its limit is cut
// at a character boundary and reported through `cut`. Not thread-safe; never blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mso {

class JsonWriter {
public:
    struct Mark {
        std::size_t size;
        int depth;
        bool first;
    };

    JsonWriter(char* buffer, std::size_t capacity) noexcept;

    void begin_object() noexcept { open('{'); }
    void end_object() noexcept { close('}'); }
    void begin_array() noexcept { open('['); }
    void end_array() noexcept { close(']'); }
    // An object key; `name` is trusted ASCII (a literal of the schema).
    void key(std::string_view name) noexcept;
    // A string value of untrusted bytes, at most `max_bytes` of them.
    void string(std::string_view value, std::size_t max_bytes = SIZE_MAX,
                bool* cut = nullptr) noexcept;
    // A string value that is ModSecurity-escaped (\" \\ \xHH ...): decoded, then as string().
    void modsec_string(std::string_view raw, std::size_t max_bytes, bool* cut = nullptr) noexcept;
    void integer(std::int64_t value) noexcept;
    void boolean(bool value) noexcept;
    void null() noexcept;

    // Keeps `bytes` of the buffer free until release_reserve(), so that closing keys
    // always fit after a run of optional elements.
    void reserve(std::size_t bytes) noexcept;
    void release_reserve() noexcept { m_limit = m_capacity; }

    [[nodiscard]] Mark mark() const noexcept { return {m_size, m_depth, m_first[m_depth]}; }
    void rollback(const Mark& m) noexcept;

    [[nodiscard]] bool overflowed() const noexcept { return m_overflow; }
    [[nodiscard]] std::string_view view() const noexcept { return {m_buffer, m_size}; }

private:
    static constexpr int k_max_depth = 8;

    void open(char c) noexcept;
    void close(char c) noexcept;
    void separator() noexcept; // the comma before a value, when not first
    // Inline: called for every run of plain bytes and every punctuation mark.
    bool put(std::string_view bytes) noexcept
    {
        if (m_overflow || bytes.size() > m_limit - m_size) {
            m_overflow = true;
            return false;
        }
        std::memcpy(m_buffer + m_size, bytes.data(), bytes.size());
        m_size += bytes.size();
        return true;
    }
    bool put(char c) noexcept { return put(std::string_view(&c, 1)); }

    char* m_buffer;
    std::size_t m_capacity;
    std::size_t m_limit;
    std::size_t m_size = 0;
    int m_depth = 0;
    bool m_first[k_max_depth + 1] = {true};
    bool m_after_key = false;
    bool m_overflow = false;
};

} // namespace mso
