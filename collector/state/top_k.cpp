// Space-Saving; see top_k.h. Keys are found by a linear scan of their tags and the
// minimum by a cursor over the slots (smallest_slot()), which are cheap for the small
// capacities used here (tens of slots).
#include "state/top_k.h"

#include "util/key_hash.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mso {

TopK::TopK(std::size_t capacity) : m_capacity(std::max<std::size_t>(capacity, 1)) {}

namespace {

std::uint32_t tag_of(const TopK::Key& key) noexcept
{
    return static_cast<std::uint32_t>(key.hash);
}

} // namespace

TopK::Key::Key(std::string_view key) noexcept : text(key), hash(key_hash(key)) {}

std::size_t TopK::find(const Key& key) const noexcept
{
    const std::uint32_t tag = tag_of(key);
    const std::size_t n = m_tags.size();
    std::size_t i = 0;
#if defined(__SSE2__)
    // Sixteen tags at a time (SSE2, which every x86-64 has), one branch for them: a full
    // sketch of 64 client addresses is scanned whole for every new one.
    const __m128i wanted = _mm_set1_epi32(static_cast<int>(tag));
    const auto* tags = reinterpret_cast<const __m128i*>(m_tags.data());
    for (; i + 16 <= n; i += 16, tags += 4) {
        const __m128i m01 = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_loadu_si128(tags), wanted),
                                            _mm_cmpeq_epi32(_mm_loadu_si128(tags + 1), wanted));
        const __m128i m23 = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_loadu_si128(tags + 2), wanted),
                                            _mm_cmpeq_epi32(_mm_loadu_si128(tags + 3), wanted));
        // Bit j set where tag i + j matches (the packs keep each lane's order).
        auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_packs_epi16(m01, m23)));
        for (; m != 0; m &= m - 1) {
            const std::size_t slot = i + static_cast<std::size_t>(__builtin_ctz(m));
            if (m_entries[slot].key == key.text) {
                return slot;
            }
        }
    }
#endif
    for (; i < n; ++i) {
        if (m_tags[i] == tag && m_entries[i].key == key.text) {
            return i;
        }
    }
    return std::string_view::npos;
}

void TopK::add(const Key& key, std::uint64_t weight)
{
    m_total += weight;
    if (const std::size_t slot = find(key); slot != std::string_view::npos) {
        m_entries[slot].count += weight;
        return;
    }
    if (m_entries.size() < m_capacity) {
        m_entries.push_back(TopEntry{std::string(key.text), weight, 0});
        m_tags.push_back(tag_of(key));
        return;
    }
    // The first entry with the smallest count gives up its slot.
    const std::size_t slot = smallest_slot();
    TopEntry& smallest = m_entries[slot];
    const std::uint64_t inherited = smallest.count;
    smallest.key.assign(key.text.data(), key.text.size()); // reuses the slot's buffer
    smallest.count = inherited + weight;
    smallest.error = inherited;
    m_tags[slot] = tag_of(key);
}

std::size_t TopK::smallest_slot() noexcept
{
    // No count ever falls below the smallest: counts only grow, and a slot given up
    // takes the smallest count plus the weight. So once the smallest count is known,
    // the entries holding it can only leave it, and the first of them is found by
    // moving on from where the last was, never back; when none is left, the smallest
    // count has grown and is looked for again. For a full sketch of distinct keys
    // (client addresses) that is one whole scan per pass over the slots, not one per key.
    if (m_floor_known) {
        for (; m_floor_slot < m_entries.size(); ++m_floor_slot) {
            if (m_entries[m_floor_slot].count == m_floor) {
                return m_floor_slot;
            }
        }
    }
    const auto smallest =
        std::min_element(m_entries.begin(), m_entries.end(),
                         [](const TopEntry& a, const TopEntry& b) { return a.count < b.count; });
    m_floor = smallest->count;
    m_floor_slot = static_cast<std::size_t>(smallest - m_entries.begin());
    m_floor_known = true;
    return m_floor_slot;
}

namespace {

// The order of top() and merge_top(): by count (descending), then key.
template <class Entry> bool before(const Entry& a, const Entry& b)
{
    return a.count != b.count ? a.count > b.count : a.key < b.key;
}

} // namespace

std::vector<TopEntry> TopK::top(std::size_t limit) const
{
    if (limit == 0 || limit >= m_entries.size()) {
        std::vector<TopEntry> out = m_entries;
        std::sort(out.begin(), out.end(), before<TopEntry>);
        return out;
    }
    // A few of many (the live view's top 3): order pointers, copy only what is returned.
    std::vector<const TopEntry*> order;
    order.reserve(m_entries.size());
    for (const TopEntry& e : m_entries) {
        order.push_back(&e);
    }
    const auto end = order.begin() + static_cast<std::ptrdiff_t>(limit);
    std::partial_sort(order.begin(), end, order.end(),
                      [](const TopEntry* a, const TopEntry* b) { return before(*a, *b); });
    std::vector<TopEntry> out;
    out.reserve(limit);
    for (auto it = order.begin(); it != end; ++it) {
        out.push_back(**it);
    }
    return out;
}

std::uint64_t TopK::error_bound() const noexcept
{
    return m_total / m_capacity;
}

std::uint64_t TopK::absent_bound() const noexcept
{
    if (m_entries.size() < m_capacity) {
        return 0;
    }
    std::uint64_t smallest = m_entries.front().count;
    for (const TopEntry& e : m_entries) {
        smallest = std::min(smallest, e.count);
    }
    return smallest;
}

void TopMerge::add(const TopK& sketch)
{
    const std::uint64_t absent = sketch.absent_bound();
    m_absent_total += absent;
    for (const TopEntry& e : sketch.entries()) {
        auto it = m_merged.find(e.key);
        if (it == m_merged.end()) {
            it = m_merged.emplace(e.key, Merged{}).first;
        }
        it->second.count += e.count;
        it->second.error += e.error;
        it->second.holders_absent_bound += absent;
    }
}

std::vector<TopEntry> TopMerge::top(std::size_t limit) const
{
    struct Ranked {
        std::string_view key;
        std::uint64_t count;
        std::uint64_t error;
    };
    std::vector<Ranked> ranked;
    ranked.reserve(m_merged.size());
    for (const auto& [key, m] : m_merged) {
        // Each sketch without the key may have seen it up to its absent_bound() times.
        const std::uint64_t missing = m_absent_total - m.holders_absent_bound;
        ranked.push_back(Ranked{key, m.count + missing, m.error + missing});
    }
    const std::size_t n = limit == 0 ? ranked.size() : std::min(limit, ranked.size());
    const auto end = ranked.begin() + static_cast<std::ptrdiff_t>(n);
    std::partial_sort(ranked.begin(), end, ranked.end(), before<Ranked>);
    std::vector<TopEntry> out;
    out.reserve(n);
    for (auto it = ranked.begin(); it != end; ++it) {
        out.push_back(TopEntry{std::string(it->key), it->count, it->error});
    }
    return out;
}

std::vector<TopEntry> merge_top(const std::vector<const TopK*>& sketches, std::size_t limit)
{
    TopMerge merge;
    for (const TopK* sketch : sketches) {
        merge.add(*sketch);
    }
    return merge.top(limit);
}

void TopK::restore(TopEntry entry, std::uint64_t total)
{
    m_total = total;
    const Key key(entry.key);
    if (m_entries.size() >= m_capacity || find(key) != std::string_view::npos) {
        return;
    }
    const std::uint32_t tag = tag_of(key);
    m_entries.push_back(std::move(entry));
    m_tags.push_back(tag); // only a sketch with room: it has not looked for its smallest
}

} // namespace mso
