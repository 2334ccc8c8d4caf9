// The bounded hand-over between the loop's publish() and a dashboard stream.
#include "daemon/tail_sink.h"

#include <utility>

namespace mso {

bool TailSink::offer(const std::string& line)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_closed) {
            return true; // nobody reads: nothing is lost that anyone would see
        }
        if (m_lines.size() >= m_max_backlog) {
            ++m_dropped;
            return false;
        }
        if (m_dropped != 0) {
            m_lines += "{\"dropped\":" + std::to_string(m_dropped) + "}\n";
            m_dropped = 0;
        }
        m_lines += line;
    }
    m_ready.notify_one();
    return true;
}

std::string TailSink::take(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(m_mutex);
    m_ready.wait_for(lock, timeout, [&] { return m_closed || !m_lines.empty(); });
    std::string lines;
    if (!m_closed) {
        lines.swap(m_lines);
    }
    return lines;
}

void TailSink::close()
{
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
        m_lines.clear();
    }
    m_ready.notify_all();
}

bool TailSink::closed() const
{
    std::lock_guard lock(m_mutex);
    return m_closed;
}

} // namespace mso
