// The child's spool file. Only the failure path takes the mutex; the request path of a
// healthy collector pays one relaxed atomic load (release_spool()).
#include "mso_spool.h"

#include "mso_config.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace mso {
namespace {

struct Spool {
    const char* dir = nullptr;
    std::uint64_t max_bytes = 0;
    apr_thread_mutex_t* mutex = nullptr;
    int fd = -1;                // guarded by mutex
    std::uint64_t written = 0;  // bytes in the open file; guarded by mutex
    std::uint64_t sequence = 0; // files opened by this child; guarded by mutex
    std::atomic<bool> open{false};
    std::atomic<std::uint64_t> spooled{0};
    std::atomic<std::uint64_t> refused{0};
    std::atomic<int> last_errno{0};
};

Spool g_spool;

// Creates "<name>.new", locks it, then renames it to "<name>": the collector never sees
// a replayable name without the lock held.
int open_spool_file() noexcept
{
    char final_name[4096];
    char new_name[4096 + 8];
    const int n =
        std::snprintf(final_name, sizeof final_name, "%s/%ld-%lld-%llu.spool", g_spool.dir,
                      static_cast<long>(getpid()), static_cast<long long>(apr_time_now()),
                      static_cast<unsigned long long>(++g_spool.sequence));
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof final_name) {
        g_spool.last_errno.store(ENAMETOOLONG, std::memory_order_relaxed);
        return -1;
    }
    std::snprintf(new_name, sizeof new_name, "%s.new", final_name);
    const int fd =
        ::open(new_name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) {
        g_spool.last_errno.store(errno, std::memory_order_relaxed);
        return -1;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(new_name, final_name) != 0) {
        g_spool.last_errno.store(errno, std::memory_order_relaxed);
        ::unlink(new_name);
        ::close(fd);
        return -1;
    }
    return fd;
}

void close_locked() noexcept
{
    if (g_spool.fd >= 0) {
        ::close(g_spool.fd); // releases the lock: the file is complete
        g_spool.fd = -1;
    }
    g_spool.written = 0;
    g_spool.open.store(false, std::memory_order_release);
}

apr_status_t stop_spool(void*) noexcept
{
    if (g_spool.mutex) {
        apr_thread_mutex_lock(g_spool.mutex);
        close_locked();
        apr_thread_mutex_unlock(g_spool.mutex);
    }
    return APR_SUCCESS;
}

bool append_locked(const char* data, std::size_t size) noexcept
{
    if (g_spool.fd < 0) {
        g_spool.fd = open_spool_file();
        if (g_spool.fd < 0)
            return false;
        g_spool.open.store(true, std::memory_order_release);
    }
    if (g_spool.written + size + 1 > g_spool.max_bytes) {
        g_spool.last_errno.store(EFBIG, std::memory_order_relaxed);
        return false;
    }
    char newline = '\n';
    iovec parts[2] = {{const_cast<char*>(data), size}, {&newline, 1}};
    const ssize_t n = ::writev(g_spool.fd, parts, 2);
    if (n == static_cast<ssize_t>(size + 1)) {
        g_spool.written += size + 1;
        return true;
    }
    g_spool.last_errno.store(n < 0 ? errno : ENOSPC, std::memory_order_relaxed);
    if (n > 0) {
        // Cut back a partial line so later events stay parseable; if that fails too,
        // start a new file (the replay counts the broken line as malformed).
        if (::ftruncate(g_spool.fd, static_cast<off_t>(g_spool.written)) != 0)
            close_locked();
    }
    return false;
}

} // namespace

void start_spool(apr_pool_t* child_pool, server_rec* main_server) noexcept
{
    const ServerConfig* global = server_config(main_server);
    if (!global->spool_dir)
        return;
    if (apr_thread_mutex_create(&g_spool.mutex, APR_THREAD_MUTEX_DEFAULT, child_pool) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server,
                     "modsec_observe: cannot create the spool mutex; events that cannot "
                     "be sent are counted as lost");
        return;
    }
    g_spool.dir = global->spool_dir;
    g_spool.max_bytes = global->spool_max_bytes;
    // A plain cleanup: it runs after the sender's pre-cleanup (flusher joined, last
    // counts sent) and before the mutex's own cleanup (registered earlier).
    apr_pool_cleanup_register(child_pool, nullptr, stop_spool, apr_pool_cleanup_null);
}

bool spool_event(const char* data, std::size_t size) noexcept
{
    if (!g_spool.dir)
        return false;
    apr_thread_mutex_lock(g_spool.mutex);
    const bool ok = append_locked(data, size);
    apr_thread_mutex_unlock(g_spool.mutex);
    (ok ? g_spool.spooled : g_spool.refused).fetch_add(1, std::memory_order_relaxed);
    return ok;
}

bool spool_is_open() noexcept
{
    return g_spool.open.load(std::memory_order_relaxed);
}

bool spool_enabled() noexcept
{
    return g_spool.dir != nullptr;
}

void release_spool() noexcept
{
    if (!g_spool.open.load(std::memory_order_relaxed))
        return;
    apr_thread_mutex_lock(g_spool.mutex);
    close_locked();
    apr_thread_mutex_unlock(g_spool.mutex);
}

SpoolCounts take_spool_counts() noexcept
{
    SpoolCounts c;
    c.spooled = g_spool.spooled.exchange(0, std::memory_order_relaxed);
    c.refused = g_spool.refused.exchange(0, std::memory_order_relaxed);
    c.last_errno = g_spool.last_errno.load(std::memory_order_relaxed);
    return c;
}

} // namespace mso
