// The failed-login table of login_failures.h.
#include "daemon/login_failures.h"

#include <algorithm>

namespace mso {

LoginFailures::LoginFailures(std::size_t limit, std::chrono::seconds window,
                             std::size_t max_addresses)
    : m_limit(limit), m_window(window), m_max(std::max<std::size_t>(max_addresses, 1))
{
}

bool LoginFailures::blocked(std::string_view address, Clock::time_point now)
{
    if (m_limit == 0) {
        return false;
    }
    const std::lock_guard lock(m_mutex);
    const auto it = m_entries.find(std::string(address));
    if (it == m_entries.end()) {
        return false;
    }
    if (now - it->second.since >= m_window) {
        m_entries.erase(it);
        return false;
    }
    return it->second.failures >= m_limit;
}

bool LoginFailures::failed(std::string_view address, Clock::time_point now)
{
    if (m_limit == 0) {
        return false;
    }
    const std::lock_guard lock(m_mutex);
    auto it = m_entries.find(std::string(address));
    if (it == m_entries.end()) {
        if (m_entries.size() >= m_max) {
            make_room(now);
        }
        it = m_entries.emplace(std::string(address), Entry{0, now}).first;
    } else if (now - it->second.since >= m_window) {
        it->second = Entry{0, now};
    }
    ++it->second.failures;
    return it->second.failures == m_limit;
}

void LoginFailures::clear()
{
    const std::lock_guard lock(m_mutex);
    m_entries.clear();
}

std::size_t LoginFailures::size() const
{
    const std::lock_guard lock(m_mutex);
    return m_entries.size();
}

void LoginFailures::make_room(Clock::time_point now)
{
    std::erase_if(m_entries, [&](const auto& e) { return now - e.second.since >= m_window; });
    if (m_entries.size() < m_max) {
        return;
    }
    const auto oldest =
        std::min_element(m_entries.begin(), m_entries.end(), [](const auto& a, const auto& b) {
            return a.second.since < b.second.since;
        });
    m_entries.erase(oldest);
}

} // namespace mso
