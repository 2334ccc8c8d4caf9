// Space-Saving; see top_k.h. The minimum is found by a linear scan, which is cheap for
// the small capacities used here (tens of slots) and only runs for keys not yet held.
#include "top_k.h"

#include <algorithm>

namespace mso {

TopK::TopK(std::size_t capacity) : m_capacity(std::max<std::size_t>(capacity, 1)) {}

void TopK::add(std::string_view key, std::uint64_t weight)
{
    m_total += weight;
    if (const auto it = m_index.find(key); it != m_index.end()) {
        m_entries[it->second].count += weight;
        return;
    }
    std::string owned(key);
    if (m_entries.size() < m_capacity) {
        m_index.emplace(owned, m_entries.size());
        m_entries.push_back(TopEntry{std::move(owned), weight, 0});
        return;
    }
    const auto smallest = std::min_element(
        m_entries.begin(), m_entries.end(),
        [](const TopEntry& a, const TopEntry& b) { return a.count < b.count; });
    const auto slot = static_cast<std::size_t>(smallest - m_entries.begin());
    m_index.erase(smallest->key);
    const std::uint64_t inherited = smallest->count;
    *smallest = TopEntry{owned, inherited + weight, inherited};
    m_index.emplace(std::move(owned), slot);
}

std::vector<TopEntry> TopK::top(std::size_t limit) const
{
    std::vector<TopEntry> out = m_entries;
    std::sort(out.begin(), out.end(), [](const TopEntry& a, const TopEntry& b) {
        return a.count != b.count ? a.count > b.count : a.key < b.key;
    });
    if (limit != 0 && out.size() > limit) {
        out.resize(limit);
    }
    return out;
}

std::uint64_t TopK::error_bound() const noexcept { return m_total / m_capacity; }

void TopK::restore(TopEntry entry, std::uint64_t total)
{
    m_total = total;
    if (m_entries.size() >= m_capacity || m_index.count(entry.key) != 0) {
        return;
    }
    m_index.emplace(entry.key, m_entries.size());
    m_entries.push_back(std::move(entry));
}

} // namespace mso
