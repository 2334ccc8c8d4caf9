// Space-Saving; see top_k.h. Keys are found and the minimum is chosen by linear scans,
// which are cheap for the small capacities used here (tens of slots).
#include "top_k.h"

#include <algorithm>
#include <functional>

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
    const auto smallest = std::min_element(
        m_entries.begin(), m_entries.end(),
        [](const TopEntry& a, const TopEntry& b) { return a.count < b.count; });
    const std::uint64_t inherited = smallest->count;
    smallest->key.assign(key.data(), key.size()); // reuses the slot's buffer
    smallest->count = inherited + weight;
    smallest->error = inherited;
    m_hashes[static_cast<std::size_t>(smallest - m_entries.begin())] = hash;
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
    const std::uint64_t hash = key_hash(entry.key);
    if (m_entries.size() >= m_capacity || find(entry.key, hash) != std::string_view::npos) {
        return;
    }
    m_entries.push_back(std::move(entry));
    m_hashes.push_back(hash);
}

} // namespace mso
