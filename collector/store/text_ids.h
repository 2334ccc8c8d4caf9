// The history writer's cache of interned strings: text -> its id in the `strings` table.
// A batch looks up about 30 strings per event (the event's vhost, client, user agent
// and so on, and each finding's rule id, message, severity, tags and target); with a
// node-based std::unordered_map each lookup chased a bucket, a node and the node's
// string, three dependent cache misses in a table of up to 200,000 strings, and showed
// in the writer's profile (docs/BENCHMARKS.md). Here the slots are one array of 64-bit
// words, each holding 32 bits of its text's hash beside its entry's index, so a probe
// reads one word and looks at an entry only when those bits agree; the texts live
// back to back in one buffer. Not thread-safe (the writer's connection owns it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

class TextIds {
public:
    using Hash = std::uint64_t (*)(std::string_view) noexcept;
    // std::hash of the text.
    static std::uint64_t default_hash(std::string_view text) noexcept;
    // Holds at most `max_texts` texts: an insert beyond that first forgets them all (the
    // strings a store interns grow with its distinct clients and user agents). `hash`
    // replaces the default in tests (one that makes every text collide).
    explicit TextIds(std::size_t max_texts, Hash hash = default_hash) noexcept
        : m_max_texts(std::clamp<std::size_t>(max_texts, 1, k_max_index)), m_hash(hash)
    {
    }

    // The id stored for `text`, or nullopt.
    [[nodiscard]] std::optional<std::int64_t> find(std::string_view text) const noexcept;
    // Stores `text` -> `id`; `text` must not be held already. A text of 4 GiB or more is
    // not stored (find() then misses it, and the caller asks the database again); at
    // max_texts (or 4 GiB of texts), everything held is forgotten first.
    void insert(std::string_view text, std::int64_t id);
    [[nodiscard]] std::size_t size() const noexcept { return m_entries.size(); }
    // Forgets every text (keeps the buffers' capacity).
    void clear() noexcept;

private:
    // A slot holds an entry's index + 1 in 32 bits.
    static constexpr std::size_t k_max_index = 0xffff'fffe;
    struct Entry {
        std::uint32_t offset; // into m_texts
        std::uint32_t size;
        std::int64_t id;
    };
    [[nodiscard]] std::string_view text(const Entry& e) const noexcept
    {
        return std::string_view(m_texts).substr(e.offset, e.size);
    }
    void grow();
    // Puts entry `entry`, whose text hashes to `hash`, in the first free slot from the
    // hash's own (insert() and grow()).
    void place(std::uint64_t hash, std::size_t entry);

    std::size_t m_max_texts;
    Hash m_hash;
    std::vector<Entry> m_entries;
    std::string m_texts;
    // (hash >> 32) << 32 | (entry index + 1); 0: empty. At most half full.
    std::vector<std::uint64_t> m_slots;
};

} // namespace mso
