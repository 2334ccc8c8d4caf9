// Heavy hitters with bounded memory: the Space-Saving algorithm (Metwally, Agrawal,
// El Abbadi, 2005). It keeps at most `capacity` keys. A new key arriving when all slots
// are taken replaces the key with the smallest count and inherits that count as its
// `error`. Guarantees, for N = total weight added:
//   - every reported count overestimates the key's true count by at most `error`,
//     and error <= N / capacity;
//   - any key whose true count exceeds N / capacity is in the sketch.
// Owns its keys; not thread-safe; never blocks. Memory is O(capacity); an add costs one
// hash of the key (none when given a Key, hashed once for several sketches) and a scan
// of `capacity` 32-bit tags, and allocates only for a new key longer than any key its
// slot held before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mso {

struct TopEntry {
    std::string key;
    std::uint64_t count = 0; // upper bound of the true count
    std::uint64_t error = 0; // count - error is a lower bound
};

class TopK {
public:
    // A key with its hash, for adding the same key to several sketches (a request's
    // path to its vhost's list and to each rule it hit) with one hash. It views `text`.
    struct Key {
        explicit Key(std::string_view text) noexcept;
        std::string_view text;
        std::uint64_t hash;
    };

    explicit TopK(std::size_t capacity = 64);

    void add(const Key& key, std::uint64_t weight = 1);
    void add(std::string_view key, std::uint64_t weight = 1) { add(Key(key), weight); }

    // Entries by count (descending), then key; at most `limit` (0: all).
    [[nodiscard]] std::vector<TopEntry> top(std::size_t limit = 0) const;
    // Entries in slot order (unsorted), valid until the next add or restore.
    [[nodiscard]] const std::vector<TopEntry>& entries() const noexcept { return m_entries; }

    [[nodiscard]] std::uint64_t total() const noexcept { return m_total; }
    [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }
    [[nodiscard]] std::size_t size() const noexcept { return m_entries.size(); }
    // The largest error any entry can carry: total / capacity, rounded down.
    [[nodiscard]] std::uint64_t error_bound() const noexcept;
    // The most times a key the sketch does not hold can have been added: 0 while it has
    // room (it holds every key it saw), else the smallest count (<= error_bound()).
    [[nodiscard]] std::uint64_t absent_bound() const noexcept;

    // Restores an entry (snapshot loading); ignored beyond capacity.
    void restore(TopEntry entry, std::uint64_t total);

private:
    // Slot of `key`, or npos.
    [[nodiscard]] std::size_t find(const Key& key) const noexcept;
    // The first slot with the smallest count (the sketch is not empty).
    [[nodiscard]] std::size_t smallest_slot() noexcept;

    std::size_t m_capacity;
    std::uint64_t m_total = 0;
    std::vector<TopEntry> m_entries;
    // A tag of each entry's key (its hash's low 32 bits), in slot order: a lookup scans
    // these few words, sixteen at a time, instead of keeping a hash table whose nodes a full
    // sketch would free and allocate on every new key (the common case for client
    // addresses). Equal tags are confirmed by comparing the keys.
    std::vector<std::uint32_t> m_tags;
    // The smallest count, and no slot before m_floor_slot holds it (smallest_slot(),
    // which only a full sketch calls: a full sketch stays full, and restore() adds to
    // none, so no count below m_floor ever arrives).
    std::uint64_t m_floor = 0;
    std::size_t m_floor_slot = 0;
    bool m_floor_known = false;
};

// Several sketches' entries merged by key, e.g. one list across vhosts (the mergeable
// Space-Saving rule of Agarwal et al., "Mergeable Summaries", 2012): a sketch that lacks
// a key adds its absent_bound() to the key's count and error. So every merged count is
// an upper bound of the key's true total, count - error a lower bound, and error is at
// most the sum of the sketches' error_bound(). Keys no sketch holds are not listed.
// Exact while every sketch has room. Sorted like TopK::top(); at most `limit` (0: all).
[[nodiscard]] std::vector<TopEntry> merge_top(const std::vector<const TopK*>& sketches,
                                              std::size_t limit = 0);

// merge_top() a sketch at a time: the keys are copied, so a sketch may change or go
// after add() (the daemon merges a list across vhosts in slices, state/sliced_answer.h).
class TopMerge {
public:
    void add(const TopK& sketch);
    // The merged entries so far, as merge_top() of the sketches added orders them.
    [[nodiscard]] std::vector<TopEntry> top(std::size_t limit = 0) const;

private:
    struct Merged {
        std::uint64_t count = 0;
        std::uint64_t error = 0;
        std::uint64_t holders_absent_bound = 0; // of the sketches that hold the key
    };
    std::unordered_map<std::string, Merged> m_merged;
    std::uint64_t m_absent_total = 0; // what a key held by no sketch would get
};

} // namespace mso
