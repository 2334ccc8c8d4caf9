// The child's sender and flusher thread. The flusher is the only place that logs about
// delivery, at most once per k_log_interval, so a dead collector never floods the
// error log and the request path never formats a log line.
#include "mso_sender.h"

#include "mso_config.h"
#include "mso_spool.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace mso {
namespace {

constexpr apr_interval_time_t k_log_interval = apr_time_from_sec(60);
// How long a child that is exiting waits out a full collector queue for its last counts
// (no request waits on it; Apache re-signals a child only after 3 s).
constexpr apr_interval_time_t k_last_send_patience = apr_time_from_msec(1000);
constexpr apr_interval_time_t k_last_send_max_pause = apr_time_from_msec(50);
// Send buffer asked for the event socket: the datagrams a child has sent and the collector
// has not read yet are charged to it (Unix datagram sockets), and a send that finds it full
// loses the event. The default (net.core.wmem_default, 212,992 bytes) holds 93 of a CRS
// request's 1.4 KB datagrams (about 2.3 KB each in the kernel's accounting): at 10,000
// events/s from one child, 9 ms of the collector not reading. Linux caps the request at
// net.core.wmem_max and doubles it, without an error: 425,984 bytes with the default
// maximum, 2 MiB where net.core.wmem_max allows 1 MiB (packaging/99-modsec-observe.conf
// says when to allow it), about what the collector's whole queue
// (net.unix.max_dgram_qlen + 1 datagrams) holds of them.
constexpr int k_event_socket_sndbuf = 1024 * 1024;

struct Sender {
    int fd = -1;
    sockaddr_un address{};
    socklen_t address_size = 0;
    // Whether fd is connect()ed to the collector's socket, so that a send names no
    // address: sendto() with the path looks the socket up by name on every datagram (a
    // walk of the path in the kernel, about a third of a send's cost under Apache;
    // docs/BENCHMARKS.md, "Throughput side by side"). Set by the flusher thread, which
    // connects (the request path never does); cleared by a send that finds the collector
    // gone, which then names the path once, so a restarted collector gets the datagram.
    std::atomic<bool> connected{false};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<int> last_errno{0};
    // Flusher thread state.
    server_rec* servers = nullptr;
    apr_thread_t* thread = nullptr;
    apr_thread_mutex_t* mutex = nullptr;
    apr_thread_cond_t* wake = nullptr;
    bool stopping = false; // guarded by mutex
    apr_interval_time_t interval = 0;
    std::uint64_t failures_logged = 0;
    apr_time_t last_log = 0;
};

Sender g_sender;

// One sendto() naming the collector's path; 0 or the errno of the failure.
int send_to_path(const char* data, std::size_t size) noexcept
{
    const ssize_t sent =
        sendto(g_sender.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&g_sender.address), g_sender.address_size);
    if (sent == static_cast<ssize_t>(size))
        return 0;
    return sent < 0 ? errno : EMSGSIZE;
}

// One send(): on the connected socket while it is connected, else to the path; 0 or the
// errno of the failure. A connected send that finds its collector gone (ECONNREFUSED:
// the socket it connected to was closed; EPIPE: a collector that is stopping shut its
// reading side; ENOTCONN: a send before found either) tries the path at once: a
// collector started again at the same path has a new socket there, and without one the
// path's error is the send's, as it was before sockets were connected.
int try_send(const char* data, std::size_t size) noexcept
{
    if (g_sender.fd < 0)
        return EBADF;
    if (!g_sender.connected.load(std::memory_order_relaxed))
        return send_to_path(data, size);
    const ssize_t sent = send(g_sender.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(size))
        return 0;
    if (sent >= 0)
        return EMSGSIZE;
    const int err = errno;
    if (err != ECONNREFUSED && err != EPIPE && err != ENOTCONN)
        return err;
    g_sender.connected.store(false, std::memory_order_relaxed);
    return send_to_path(data, size);
}

// Connects the event socket to the collector's path when it is not (flusher thread):
// a bound socket there takes the next sends without a lookup each. Nothing is sent.
void connect_sender() noexcept
{
    if (g_sender.fd < 0 || g_sender.connected.load(std::memory_order_relaxed))
        return;
    if (connect(g_sender.fd, reinterpret_cast<const sockaddr*>(&g_sender.address),
                g_sender.address_size) == 0)
        g_sender.connected.store(true, std::memory_order_relaxed);
}

// Records a failed send for log_failures(); returns false, the send's result.
bool count_failure(int err) noexcept
{
    g_sender.last_errno.store(err, std::memory_order_relaxed);
    g_sender.failures.fetch_add(1, std::memory_order_relaxed);
    return false;
}

// send_event() for a child that is exiting: a full queue (the collector is busy, or
// every child of a stopping Apache flushes at once) is retried with growing pauses until
// `deadline` instead of losing the counts at once.
bool send_last(const char* data, std::size_t size, apr_time_t deadline) noexcept
{
    apr_interval_time_t pause = apr_time_from_msec(1);
    for (;;) {
        const int err = try_send(data, size);
        if (err == 0)
            return true;
        const bool full = err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
        if (!full || apr_time_now() + pause > deadline)
            return count_failure(err);
        apr_sleep(pause);
        pause = pause * 2 < k_last_send_max_pause ? pause * 2 : k_last_send_max_pause;
    }
}

// Drains one vhost's counters into a report; adds them back when it cannot be sent.
// A child's last report (`last_deadline` set: it may wait for room until then) goes to
// the spool when it cannot be sent: the child will not be there to send it again.
// Returns the requests of a last report that could be neither sent nor spooled.
std::uint64_t flush_vhost(ServerConfig* c, apr_int64_t pid, apr_time_t last_deadline) noexcept
{
    VhostCounters& v = *c->counters;
    // Not in a child's last report: it may wait for room, and the engine alone is not
    // worth a wait (the next child says it).
    const bool engine_owed = last_deadline == 0 &&
                             v.engine_wanted.load(std::memory_order_relaxed) &&
                             !v.engine_said.load(std::memory_order_relaxed);
    if (v.requests.load(std::memory_order_relaxed) == 0 &&
        v.events_lost.load(std::memory_order_relaxed) == 0 && !engine_owed)
        return 0;
    std::uint64_t status[k_status_slots];
    CounterTotals snap;
    snap.vhost = c->label;
    snap.port = c->port;
    snap.pid = pid;
    snap.engine = c->engine ? std::string_view(c->engine) : std::string_view();
    snap.requests = v.requests.exchange(0);
    snap.events_lost = v.events_lost.exchange(0);
    for (std::size_t i = 0; i < k_status_slots; ++i)
        status[i] = v.status[i].load(std::memory_order_relaxed) ? v.status[i].exchange(0) : 0;
    snap.status = status;
    char buffer[16 * 1024];
    const std::size_t size = encode_counters(snap, buffer, sizeof buffer);
    const bool last = last_deadline != 0;
    const bool delivered =
        size != 0 && (last ? send_last(buffer, size, last_deadline) || spool_event(buffer, size)
                           : send_event(buffer, size));
    if (delivered) {
        if (!snap.engine.empty())
            v.engine_said.store(true, std::memory_order_relaxed);
        return 0;
    }
    v.requests.fetch_add(snap.requests);
    v.events_lost.fetch_add(snap.events_lost);
    for (std::size_t i = 0; i < k_status_slots; ++i)
        if (status[i])
            v.status[i].fetch_add(status[i]);
    return last ? snap.requests : 0;
}

// Every vhost's counters (flush_vhost); the requests of last reports lost.
std::uint64_t flush_all(apr_time_t last_deadline) noexcept
{
    const auto pid = static_cast<apr_int64_t>(getpid());
    std::uint64_t lost = 0;
    for (server_rec* s = g_sender.servers; s; s = s->next) {
        ServerConfig* c = server_config(s);
        if (c->counters)
            lost += flush_vhost(c, pid, last_deadline);
    }
    return lost;
}

// True when a socket is bound at the collector's path: a datagram socket's connect()
// fails with ENOENT or ECONNREFUSED otherwise. Sends nothing.
bool collector_listening() noexcept
{
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool listening = connect(fd, reinterpret_cast<const sockaddr*>(&g_sender.address),
                                   g_sender.address_size) == 0;
    close(fd);
    return listening;
}

// An idle child sends nothing, so it would keep its spool file (and its lock) open
// after the collector is back; hand the file over as soon as the collector listens.
void release_spool_when_back() noexcept
{
    if (spool_is_open() && collector_listening())
        release_spool();
}

void log_spool(const SpoolCounts& counts) noexcept
{
    char reason[128];
    if (counts.spooled)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_sender.servers,
                     "modsec_observe: %" APR_UINT64_T_FMT " events written to the spool "
                     "(the collector at %s is unreachable or its queue is full); "
                     "modsec-observed --spool-dir replays them",
                     static_cast<apr_uint64_t>(counts.spooled), g_sender.address.sun_path);
    if (counts.refused)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_sender.servers,
                     "modsec_observe: %" APR_UINT64_T_FMT " events could not be spooled "
                     "(last error: %s); they are counted as lost",
                     static_cast<apr_uint64_t>(counts.refused),
                     apr_strerror(counts.last_errno, reason, sizeof reason));
}

void log_failures() noexcept
{
    const std::uint64_t failures = g_sender.failures.load(std::memory_order_relaxed);
    const apr_time_t now = apr_time_now();
    if (now - g_sender.last_log < k_log_interval)
        return;
    const SpoolCounts spool = take_spool_counts();
    log_spool(spool);
    if (failures == g_sender.failures_logged) {
        if (spool.spooled || spool.refused)
            g_sender.last_log = now;
        return;
    }
    const int err = g_sender.last_errno.load(std::memory_order_relaxed);
    char reason[128];
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_sender.servers,
                 // APR's formatter knows no %llu or %zu: use its own width macros.
                 "modsec_observe: %" APR_UINT64_T_FMT " datagrams could not be sent to %s "
                 "(last error: %s); counts are kept and re-sent, request events %s",
                 static_cast<apr_uint64_t>(failures - g_sender.failures_logged),
                 g_sender.address.sun_path, apr_strerror(err, reason, sizeof reason),
                 spool_enabled() ? "go to the spool" : "are counted as lost");
    g_sender.failures_logged = failures;
    g_sender.last_log = now;
}

void* APR_THREAD_FUNC flusher(apr_thread_t* thread, void*) noexcept
{
    apr_thread_mutex_lock(g_sender.mutex);
    while (!g_sender.stopping) {
        apr_thread_cond_timedwait(g_sender.wake, g_sender.mutex, g_sender.interval);
        if (g_sender.stopping)
            break;
        apr_thread_mutex_unlock(g_sender.mutex);
        connect_sender();
        flush_all(0);
        release_spool_when_back();
        log_failures();
        apr_thread_mutex_lock(g_sender.mutex);
    }
    apr_thread_mutex_unlock(g_sender.mutex);
    apr_thread_exit(thread, APR_SUCCESS);
    return nullptr;
}

// Runs before the child pool's subpools (the thread's among them) are destroyed.
apr_status_t stop_sender(void*) noexcept
{
    if (g_sender.thread) {
        apr_thread_mutex_lock(g_sender.mutex);
        g_sender.stopping = true;
        apr_thread_cond_signal(g_sender.wake);
        apr_thread_mutex_unlock(g_sender.mutex);
        apr_status_t rv;
        apr_thread_join(&rv, g_sender.thread);
        g_sender.thread = nullptr;
    }
    // The last counts of this child (spooled if they cannot be sent).
    const std::uint64_t lost = flush_all(apr_time_now() + k_last_send_patience);
    log_spool(take_spool_counts());
    if (lost != 0) {
        const int err = g_sender.last_errno.load(std::memory_order_relaxed);
        char reason[128];
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_sender.servers,
                     "modsec_observe: the last counts of this child (%" APR_UINT64_T_FMT
                     " requests) could not be sent to %s (last error: %s) nor spooled; "
                     "they are lost",
                     static_cast<apr_uint64_t>(lost), g_sender.address.sun_path,
                     apr_strerror(err, reason, sizeof reason));
    }
    if (g_sender.fd >= 0) {
        close(g_sender.fd);
        g_sender.fd = -1;
    }
    return APR_SUCCESS;
}

} // namespace

bool send_event(const char* data, std::size_t size) noexcept
{
    const int err = try_send(data, size);
    if (err == 0) {
        release_spool(); // the collector is back: let it replay what was spooled
        return true;
    }
    return count_failure(err);
}

void start_sender(apr_pool_t* child_pool, server_rec* main_server) noexcept
{
    const ServerConfig* global = server_config(main_server);
    const char* path = global->socket_path ? global->socket_path : k_default_socket;
    g_sender.servers = main_server;
    g_sender.address.sun_family = AF_UNIX;
    std::strncpy(g_sender.address.sun_path, path, sizeof g_sender.address.sun_path - 1);
    g_sender.address_size = static_cast<socklen_t>(sizeof(sa_family_t) + std::strlen(path) + 1);
    g_sender.interval = apr_time_from_msec(
        global->flush_interval_ms > 0 ? global->flush_interval_ms : k_default_flush_interval_ms);

    g_sender.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g_sender.fd < 0)
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, main_server,
                     "modsec_observe: cannot create a datagram socket; nothing will be sent");
    else if (setsockopt(g_sender.fd, SOL_SOCKET, SO_SNDBUF, &k_event_socket_sndbuf,
                        sizeof k_event_socket_sndbuf) != 0)
        ap_log_error(APLOG_MARK, APLOG_INFO, errno, main_server,
                     "modsec_observe: cannot enlarge the event socket's send buffer; events "
                     "are lost sooner when the collector falls behind");
    connect_sender(); // a collector not there yet: the flusher tries each interval
    apr_pool_pre_cleanup_register(child_pool, nullptr, stop_sender);
    start_spool(child_pool, main_server);

    apr_status_t rv =
        apr_thread_mutex_create(&g_sender.mutex, APR_THREAD_MUTEX_DEFAULT, child_pool);
    if (rv == APR_SUCCESS)
        rv = apr_thread_cond_create(&g_sender.wake, child_pool);
    if (rv == APR_SUCCESS) {
        // The flusher starts with every signal blocked (a new thread inherits the mask of
        // the one creating it), so a signal sent to the child reaches one of Apache's own
        // threads. mpm_prefork runs child_init with signals open: its SIGTERM handler
        // (destroy the child's pool, exit) or a re-raised SIGSEGV could otherwise run on
        // the flusher while the request thread goes on.
        sigset_t all, before;
        sigfillset(&all);
        const bool masked = pthread_sigmask(SIG_SETMASK, &all, &before) == 0;
        rv = apr_thread_create(&g_sender.thread, nullptr, flusher, nullptr, child_pool);
        if (masked)
            pthread_sigmask(SIG_SETMASK, &before, nullptr);
    }
    if (rv != APR_SUCCESS) {
        g_sender.thread = nullptr;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server,
                     "modsec_observe: cannot start the counter flusher thread; counts are "
                     "sent only when the child exits");
    }
}

} // namespace mso
