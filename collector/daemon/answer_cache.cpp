#include "daemon/answer_cache.h"

#include <memory>
#include <utility>

namespace mso {

namespace {

// A finished answer that must not be shared any longer: an error answer, or none (the
// answerer dropped the question, as a stopping loop does).
bool finished_badly(const std::shared_future<std::string>& answer,
                    const AnswerCache::IsError& is_error)
{
    if (answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        return false;
    }
    try {
        return is_error(answer.get());
    } catch (const std::future_error&) {
        return true;
    }
}

} // namespace

AnswerCache::AnswerCache(Ask ask, IsError is_error, std::chrono::milliseconds max_age,
                         std::size_t max_entries)
    : m_ask(std::move(ask)),
      m_is_error(std::move(is_error)),
      m_max_age(max_age),
      m_max_entries(max_entries)
{
}

void AnswerCache::drop_expired(Clock::time_point now)
{
    std::erase_if(m_entries, [&](const auto& item) {
        const Entry& entry = item.second;
        return now - entry.asked >= m_max_age || finished_badly(entry.answer, m_is_error);
    });
}

std::shared_future<std::string> AnswerCache::get(const std::string& line)
{
    auto promise = std::make_shared<std::promise<std::string>>();
    std::shared_future<std::string> answer = promise->get_future().share();
    {
        std::lock_guard lock(m_mutex);
        const Clock::time_point now = m_now();
        drop_expired(now);
        if (auto found = m_entries.find(line); found != m_entries.end()) {
            ++m_counts.shared;
            return found->second.answer;
        }
        ++m_counts.asked;
        if (m_entries.size() < m_max_entries) {
            m_entries.emplace(line, Entry{answer, now});
        }
    }
    // Asked outside the lock: an answerer may reply at once, on this thread.
    m_ask(line, [promise](std::string reply) { promise->set_value(std::move(reply)); });
    return answer;
}

AnswerCache::Counts AnswerCache::counts() const
{
    std::lock_guard lock(m_mutex);
    return m_counts;
}

std::size_t AnswerCache::size() const
{
    std::lock_guard lock(m_mutex);
    return m_entries.size();
}

} // namespace mso
