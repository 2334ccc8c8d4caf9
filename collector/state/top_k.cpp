// Space-Saving; see top_k.h. Keys are found and the minimum is chosen by linear scans,
// which are cheap for the small capacities used here (tens of slots).
#include "state/top_k.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

namespace mso {

TopK::TopK(std::size_t capacity) : m_capacity(std::max<std::size_t>(capacity, 1)) {}

namespace {

std::uint64_t key_hash(std::string_view key) noexcept
{
    return std::hash<std::string_view>{}(key);
}

} // namespace

std::size_t TopK::find(std::string_view key, std::uint64_t hash) const noexcept
{
    for (std::size_t i = 0; i < m_hashes.size(); ++i) {
        if (m_hashes[i] == hash && m_entries[i].key == key) {
            return i;
        }
    }
    return std::string_view::npos;
}

void TopK::add(std::string_view key, std::uint64_t weight)
{
    m_total += weight;
    const std::uint64_t hash = key_hash(key);
    if (const std::size_t slot = find(key, hash); slot != std::string_view::npos) {
        m_entries[slot].count += weight;
        return;
    }
    if (m_entries.size() < m_capacity) {
        m_entries.push_back(TopEntry{std::string(key), weight, 0});
        m_hashes.push_back(hash);
        return;
    }
    // The first entry with the smallest count gives up its slot.
    const auto smallest =
        std::min_element(m_entries.begin(), m_entries.end(),
                         [](const TopEntry& a, const TopEntry& b) { return a.count < b.count; });
    const std::uint64_t inherited = smallest->count;
    smallest->key.assign(key.data(), key.size()); // reuses the slot's buffer
    smallest->count = inherited + weight;
    smallest->error = inherited;
    m_hashes[static_cast<std::size_t>(smallest - m_entries.begin())] = hash;
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
    const std::uint64_t hash = key_hash(entry.key);
    if (m_entries.size() >= m_capacity || find(entry.key, hash) != std::string_view::npos) {
        return;
    }
    m_entries.push_back(std::move(entry));
    m_hashes.push_back(hash);
}

} // namespace mso
