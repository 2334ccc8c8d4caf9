// Spool replay: scan, lock, feed, remove. See spool_replay.h for the protocol.
#include "daemon/spool_replay.h"

#include "util/errno_text.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>

namespace mso {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t k_read_chunk = 64 * 1024;

bool ends_with(std::string_view s, std::string_view suffix)
{
    return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "<what>: <errno text>".
std::string with_errno(const std::string& what, int err)
{
    return what + ": " + errno_text(err);
}

} // namespace

SpoolReplayer::SpoolReplayer(std::string dir, std::size_t max_line_bytes, SpoolStatus& status,
                             std::function<void(std::string_view)> feed)
    : m_dir(std::move(dir)), m_max_line(max_line_bytes), m_status(status), m_feed(std::move(feed))
{
    m_status.dir = m_dir;
}

bool SpoolReplayer::due(Clock::time_point now) const noexcept
{
    return m_file.valid() || !m_queue.empty() || now >= m_next_scan;
}

Clock::time_point SpoolReplayer::deadline(Clock::time_point now) const noexcept
{
    return m_file.valid() || !m_queue.empty() ? now : m_next_scan;
}

void SpoolReplayer::fail(const std::string& what)
{
    ++m_status.errors;
    m_status.last_error = what;
}

void SpoolReplayer::scan()
{
    DIR* dir = ::opendir(m_dir.c_str());
    if (dir == nullptr) {
        fail(with_errno("cannot read spool directory " + m_dir, errno));
        return;
    }
    const std::time_t now = std::time(nullptr);
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name(entry->d_name);
        if (ends_with(name, k_spool_suffix)) {
            m_queue.emplace(name);
        } else if (ends_with(name, k_spool_new_suffix)) {
            // A child that died between creating and naming its file leaves it here;
            // a live one renames it within microseconds.
            struct stat st {};
            if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode) && now - st.st_mtime > k_spool_orphan_age.count()) {
                m_queue.emplace(name);
            }
        }
    }
    ::closedir(dir);
}

bool SpoolReplayer::open_next()
{
    while (!m_queue.empty()) {
        std::string name = std::move(m_queue.extract(m_queue.begin()).value());
        const std::string path = m_dir + "/" + name;
        // Something that is not a regular file (a symlink, a FIFO) is reported once and
        // then left alone: its (dev, ino) joins m_done.
        struct stat link {};
        if (::fstatat(AT_FDCWD, path.c_str(), &link, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) {
                fail(with_errno("cannot stat spool file " + path, errno));
            }
            continue;
        }
        const std::pair<std::uint64_t, std::uint64_t> id{link.st_dev, link.st_ino};
        if (m_done.count(id) != 0) {
            continue; // replayed but not removable, or not a regular file: never again
        }
        if (!S_ISREG(link.st_mode)) {
            fail("not a regular file, left alone: " + path);
            m_done.insert(id);
            continue;
        }
        Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (!fd) {
            if (errno != ENOENT) {
                fail(with_errno("cannot open spool file " + path, errno));
            }
            continue;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
            std::pair<std::uint64_t, std::uint64_t>{st.st_dev, st.st_ino} != id) {
            continue; // replaced between the two looks; the next scan sees it again
        }
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK) {
                fail(with_errno("cannot lock spool file " + path, errno));
            }
            continue; // its child still writes to it
        }
        m_file = std::move(fd);
        m_name = std::move(name);
        m_id = id;
        m_buffer.clear();
        m_skipping = false;
        m_eof = false;
        return true;
    }
    return false;
}

void SpoolReplayer::feed_line(std::string_view line)
{
    ++m_status.lines_replayed;
    m_feed(line);
}

std::size_t SpoolReplayer::read_lines(std::size_t max_lines)
{
    std::size_t fed = 0;
    while (fed < max_lines) {
        const std::size_t newline = m_buffer.find('\n');
        if (newline != std::string::npos) {
            if (m_skipping) {
                m_skipping = false; // the end of a line that was too long
            } else if (newline > m_max_line) {
                ++m_status.lines_too_long;
            } else if (newline > 0) {
                feed_line(std::string_view(m_buffer.data(), newline));
                ++fed;
            }
            m_buffer.erase(0, newline + 1);
            continue;
        }
        if (m_buffer.size() > m_max_line) {
            if (!m_skipping) {
                ++m_status.lines_too_long;
            }
            m_skipping = true;
            m_buffer.clear();
        }
        if (m_eof) {
            // A last line without its newline: a child stopped mid-write (disk full,
            // killed). Feed it; the decoder counts it if it is cut short.
            if (!m_buffer.empty() && !m_skipping) {
                feed_line(m_buffer);
                ++fed;
            }
            m_buffer.clear();
            finish_file();
            return fed;
        }
        char chunk[k_read_chunk];
        const ssize_t n = ::read(m_file.get(), chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(with_errno("cannot read spool file " + m_dir + "/" + m_name, errno));
            m_eof = true;
            continue;
        }
        if (n == 0) {
            m_eof = true;
            continue;
        }
        m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return fed;
}

void SpoolReplayer::finish_file()
{
    const std::string path = m_dir + "/" + m_name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        fail(with_errno("replayed but cannot remove " + path +
                            " (it will not be replayed again by this process)",
                        errno));
        m_done.insert(m_id);
    }
    ++m_status.files_replayed;
    m_file.reset(); // releases the lock
    m_name.clear();
}

std::size_t SpoolReplayer::step(Clock::time_point now, std::size_t max_lines)
{
    if (!m_file && m_queue.empty()) {
        if (now < m_next_scan) {
            return 0;
        }
        m_next_scan = now + k_spool_scan_interval;
        scan();
    }
    std::size_t fed = 0;
    while (fed < max_lines && (m_file || open_next())) {
        fed += read_lines(max_lines - fed);
    }
    return fed;
}

void SpoolReplayer::replay_all()
{
    scan();
    while (m_file || open_next()) {
        read_lines(static_cast<std::size_t>(-1));
    }
    m_next_scan = Clock::now() + k_spool_scan_interval;
}

} // namespace mso
