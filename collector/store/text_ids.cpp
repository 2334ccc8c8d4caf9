// The interned-string cache of text_ids.h.
#include "store/text_ids.h"

#include <algorithm>
#include <functional>
#include <limits>

namespace mso {
namespace {

constexpr std::size_t k_min_slots = 1024;
constexpr std::uint64_t k_index_mask = 0xffff'ffffULL;

} // namespace

std::uint64_t TextIds::default_hash(std::string_view text) noexcept
{
    return std::hash<std::string_view>{}(text);
}

std::optional<std::int64_t> TextIds::find(std::string_view text) const noexcept
{
    if (m_slots.empty()) {
        return std::nullopt;
    }
    const std::uint64_t h = m_hash(text);
    const std::uint64_t tag = h & ~k_index_mask;
    const std::size_t mask = m_slots.size() - 1;
    for (auto i = static_cast<std::size_t>(h & mask);; i = (i + 1) & mask) {
        const std::uint64_t slot = m_slots[i];
        if (slot == 0) {
            return std::nullopt;
        }
        if ((slot & ~k_index_mask) == tag) {
            const Entry& e = m_entries[(slot & k_index_mask) - 1];
            if (this->text(e) == text) {
                return e.id;
            }
        }
    }
}

void TextIds::insert(std::string_view text, std::int64_t id)
{
    constexpr auto k_max = std::numeric_limits<std::uint32_t>::max();
    if (text.size() >= k_max) {
        return; // not cached: a lookup asks the database
    }
    // Full, or the texts' buffer would pass what an entry's offset can say.
    if (m_entries.size() >= m_max_texts || m_texts.size() >= k_max - text.size()) {
        clear();
    }
    if ((m_entries.size() + 1) * 2 > m_slots.size()) {
        grow();
    }
    m_entries.push_back(
        {static_cast<std::uint32_t>(m_texts.size()), static_cast<std::uint32_t>(text.size()), id});
    m_texts.append(text);
    place(m_hash(text), m_entries.size() - 1);
}

void TextIds::clear() noexcept
{
    m_entries.clear();
    m_texts.clear();
    std::fill(m_slots.begin(), m_slots.end(), 0);
}

void TextIds::grow()
{
    m_slots.assign(std::max(k_min_slots, m_slots.size() * 2), 0);
    for (std::size_t e = 0; e < m_entries.size(); ++e) {
        place(m_hash(text(m_entries[e])), e);
    }
}

void TextIds::place(std::uint64_t hash, std::size_t entry)
{
    const std::size_t mask = m_slots.size() - 1;
    auto i = static_cast<std::size_t>(hash & mask);
    while (m_slots[i] != 0) {
        i = (i + 1) & mask;
    }
    m_slots[i] = (hash & ~k_index_mask) | (entry + 1);
}

} // namespace mso
