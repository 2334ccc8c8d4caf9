// A finding's tags in one buffer: each tag as its length (an unsigned LEB128 varint) and
// its bytes, the encoding the history store keeps them in (docs/STORE.md). A CRS finding
// carries six to nine tags, most too long for std::string's inline buffer, so a vector
// of strings cost a finding up to ten allocations (and as many frees when the ring drops
// the event); this costs one where the room is reserved first (the collector's parse of
// the module's alerts), a few as it grows elsewhere (docs/BENCHMARKS.md, "a finding's
// tags in one buffer").
// A value type like std::string: not thread-safe to change, safe to read from any thread.
#pragma once

#include "varint.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mso {

class TagList {
public:
    // Walks the tags in order; a tag is a view into the list, valid while it is unchanged.
    class const_iterator {
    public:
        // A forward iterator in C++20's terms; its tags are values (views), so to C++17's
        // categories it is an input iterator.
        using iterator_category = std::input_iterator_tag;
        using iterator_concept = std::forward_iterator_tag;
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = std::string_view;

        const_iterator() = default;
        [[nodiscard]] std::string_view operator*() const noexcept
        {
            std::string_view rest = m_at;
            std::uint64_t n = 0;
            (void)get_varint(rest, n); // well formed: the list wrote or checked it
            return rest.substr(0, static_cast<std::size_t>(n));
        }
        const_iterator& operator++() noexcept
        {
            const std::string_view tag = **this;
            m_at.remove_prefix(static_cast<std::size_t>(tag.data() + tag.size() - m_at.data()));
            return *this;
        }
        const_iterator operator++(int) noexcept
        {
            const_iterator was = *this;
            ++*this;
            return was;
        }
        [[nodiscard]] bool operator==(const const_iterator& other) const noexcept
        {
            return m_at.data() == other.m_at.data();
        }

    private:
        friend class TagList;
        explicit const_iterator(std::string_view at) noexcept : m_at(at) {}
        std::string_view m_at; // from the current tag's length to the list's end
    };

    TagList() = default;
    TagList(std::initializer_list<std::string_view> tags)
    {
        for (const std::string_view t : tags) {
            push_back(t);
        }
    }

    TagList(const TagList&) = default;
    TagList& operator=(const TagList&) = default;
    // A moved-from list is empty (its count goes with its bytes).
    TagList(TagList&& other) noexcept
        : m_encoded(std::move(other.m_encoded)), m_count(std::exchange(other.m_count, 0))
    {
        other.m_encoded.clear();
    }
    TagList& operator=(TagList&& other) noexcept
    {
        if (this == &other) {
            return *this;
        }
        m_encoded = std::move(other.m_encoded);
        m_count = std::exchange(other.m_count, 0);
        other.m_encoded.clear();
        return *this;
    }
    ~TagList() = default;

    // The list `encoded` is the encoding of (as encoded() returns it); nullopt when it is
    // not one: a length that runs past the end, does not fit, or is longer than it needs
    // to be (so that equal lists have equal bytes).
    [[nodiscard]] static std::optional<TagList> from_encoded(std::string_view encoded)
    {
        TagList list;
        for (std::string_view rest = encoded; !rest.empty(); ++list.m_count) {
            const char* length = rest.data();
            std::uint64_t n = 0;
            if (!get_varint(rest, n) || n > rest.size()) {
                return std::nullopt;
            }
            if (rest.data() - length > 1 && rest.data()[-1] == 0) {
                return std::nullopt; // a padded length, as put_varint never writes
            }
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
        list.m_encoded = encoded;
        return list;
    }

    void push_back(std::string_view tag)
    {
        const char* begin = m_encoded.data();
        if (std::greater_equal<>{}(tag.data(), begin) &&
            std::less<>{}(tag.data(), begin + m_encoded.size())) {
            const std::string own(tag); // a tag of this list: appending may move it
            push_back(own);
            return;
        }
        put_varint(m_encoded, tag.size());
        m_encoded.append(tag);
        ++m_count;
    }
    // Appends `count` tags already in the list's encoding (each its length as
    // put_varint() writes it, then its bytes; encoded() gives them so): one copy for
    // all of them, where push_back() makes two per tag. The caller vouches for the
    // encoding, which the iterators read unchecked.
    void append_encoded(std::string_view encoded, std::size_t count)
    {
        m_encoded.append(encoded);
        m_count += count;
    }
    void clear() noexcept
    {
        m_encoded.clear();
        m_count = 0;
    }
    // Room for `bytes` of encoding (a tag takes its bytes plus its length's: one byte
    // below 128, two below 16 KiB).
    void reserve(std::size_t bytes) { m_encoded.reserve(bytes); }

    [[nodiscard]] std::size_t size() const noexcept { return m_count; }
    [[nodiscard]] bool empty() const noexcept { return m_count == 0; }
    [[nodiscard]] std::string_view encoded() const noexcept { return m_encoded; }
    // Bytes of encoding the list has room for, as std::string::capacity() (what the
    // ring's size estimate counts).
    [[nodiscard]] std::size_t capacity() const noexcept { return m_encoded.capacity(); }

    [[nodiscard]] const_iterator begin() const noexcept { return const_iterator(m_encoded); }
    [[nodiscard]] const_iterator end() const noexcept
    {
        return const_iterator(std::string_view(m_encoded).substr(m_encoded.size()));
    }

    bool operator==(const TagList&) const = default;

private:
    std::string m_encoded;
    std::size_t m_count = 0;
};

} // namespace mso
