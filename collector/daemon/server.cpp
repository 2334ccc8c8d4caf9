// The poll loop. Datagrams are drained in bounded batches so a flood of events
// cannot starve queries; a query client is not read from while an answer to it
// is still pending, which bounds the memory any one client can make us hold.
#include "daemon/server.h"

#include "daemon/metrics.h"
#include "protocol/import_line.h"
#include "protocol/query.h"
#include "state/query_answer.h"
#include "store/store_writer.h"
#include "util/errno_text.h"
#include "util/time_format.h"
#include "util/terminal.h"

#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <ctime>

namespace mso {

namespace {

using Clock = std::chrono::steady_clock;

// Datagrams handled per wakeup before the other sockets get a turn.
constexpr std::size_t k_datagram_batch = 4096;
// The event socket's rest after a drain that emptied it (DatagramRest): at least 1 ms
// while datagrams keep coming, at most 20 ms, aiming at 16 datagrams per wake-up and
// growing at most twofold from one rest to the next; only with a queue of at least
// Server::k_min_queue_to_rest (set_event_queue). At the packaged sysctl the kernel's
// queue holds 8,193 datagrams and each Apache child's send buffer at least 167 (the
// kernel's default send buffer, 423-byte datagrams; the module asks for more:
// docs/BENCHMARKS.md, "No loss at the limit"). A rest of more than 5 ms happens only
// below 3,200 events/s, one of 20 ms below 800 and as the sixth rest at such rates; a
// child would have to jump from there to over 8,350 a second within one rest to fill
// such a buffer, and its sends would then go to its spool. The 20 ms ceiling (5 ms
// before) cut the collector's CPU per flagged event under Apache + CRS by 25-55 % at a
// few hundred events a second, with the ingest latency's p99 at 10,000 events/s
// unchanged (docs/BENCHMARKS.md, "The rest's ceiling at 20 ms"). Rests aiming at 32
// datagrams, up to 10 ms, were tried before and not kept: at 10,000 events/s each of
// them was twice as long (3.2 ms, not 1.6), and the p99 went from 3.7 to 6.7 ms, over
// issue 15's 5 ms.
constexpr auto k_datagram_rest_min = std::chrono::milliseconds(1);
constexpr auto k_datagram_rest_max = std::chrono::milliseconds(20);
constexpr std::size_t k_datagram_rest_batch = 16;
// Spool lines replayed per wake-up, so a large spool cannot starve the socket.
constexpr std::size_t k_spool_batch = 2048;
constexpr std::size_t k_read_chunk = 16384;
constexpr std::size_t k_max_logged_detail = 200;
// Entries of the poll set before the clients': the event socket, the query listener, the
// inbox (build_poll_set()).
constexpr std::size_t k_fixed_fds = 3;
constexpr auto k_history_refresh = std::chrono::seconds(1);
// How often an import that found no room in the history writer tries again.
constexpr std::chrono::milliseconds k_import_retry{20};

bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

// The event socket's rest (k_datagram_rest_*), or one that never rests (a zero ceiling).
DatagramRest datagram_rest(bool rests)
{
    return rests ? DatagramRest(k_datagram_rest_min, k_datagram_rest_max, k_datagram_rest_batch)
                 : DatagramRest(Clock::duration::zero(), Clock::duration::zero(),
                                k_datagram_rest_batch);
}

} // namespace

bool Server::set_event_queue(std::uint64_t max_dgram_qlen)
{
    const bool rests = max_dgram_qlen >= k_min_queue_to_rest;
    m_datagrams_rest = datagram_rest(rests);
    m_collector.set_event_socket(max_dgram_qlen, rests);
    return rests;
}

Server::Server(Collector& collector, Fd event_socket, Fd query_listener, LoopInbox inbox)
    : m_collector(collector),
      m_event_socket(std::move(event_socket)),
      m_query_listener(std::move(query_listener)),
      m_inbox(std::move(inbox)),
      m_datagrams(k_max_datagram_bytes),
      m_datagrams_rest(datagram_rest(true))
{
    int wanted = k_event_socket_rcvbuf;
    // SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN.
    if (::setsockopt(m_event_socket.get(), SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof(wanted)) !=
        0) {
        (void)::setsockopt(m_event_socket.get(), SOL_SOCKET, SO_RCVBUF, &wanted, sizeof(wanted));
    }
    int actual = 0;
    socklen_t length = sizeof(actual);
    if (::getsockopt(m_event_socket.get(), SOL_SOCKET, SO_RCVBUF, &actual, &length) == 0 &&
        actual < wanted) {
        log_line("event socket receive buffer is " + std::to_string(actual) + " bytes (wanted " +
                 std::to_string(wanted) +
                 "; raise net.core.rmem_max to avoid losing events in bursts)");
    }
}

void Server::run(const volatile sig_atomic_t& stop, const sigset_t& wait_mask)
{
    std::vector<pollfd> fds;
    while (stop == 0) {
        const auto now = Clock::now();
        close_finished_clients(now);
        build_poll_set(fds);
        const timespec timeout = poll_timeout(now);
        const int ready = ::ppoll(fds.data(), fds.size(), &timeout, &wait_mask);
        if (ready < 0) {
            poll_failed(errno);
            continue;
        }
        const std::lock_guard lock(m_collector_mutex);
        run_timers();
        refresh_history_status(false);
        if (ready > 0) {
            handle_ready(fds);
        }
        run_slices();
    }
}

// ---- one turn of the loop ----

void Server::close_finished_clients(Clock::time_point now)
{
    // Done, or idle for too long (a tail client is idle by design).
    // An import the collector holds back is not idle either.
    std::erase_if(m_clients, [&](const Client& c) {
        return !c.fd || (c.closing && c.output.empty() && !c.awaiting_answer) ||
               (!c.tail && !c.awaiting_answer && !(c.import && c.import->busy()) &&
                now - c.last_activity >= k_query_client_idle_timeout);
    });
}

void Server::build_poll_set(std::vector<pollfd>& fds) const
{
    fds.clear();
    const bool resting = m_datagrams_rest.resting(Clock::now());
    fds.push_back({m_event_socket.get(), static_cast<short>(resting ? 0 : POLLIN), 0});
    fds.push_back({m_query_listener.get(), POLLIN, 0});
    fds.push_back({m_inbox.fd(), POLLIN, 0});
    for (const Client& c : m_clients) {
        short events = 0;
        const bool import_waits = c.import && c.import->state() != ImportSession::State::reading;
        if (c.output.empty() && !c.closing && !c.awaiting_answer && !import_waits) {
            events |= POLLIN;
        }
        if (!c.output.empty()) {
            events |= POLLOUT;
        }
        fds.push_back({c.fd.get(), events, 0});
    }
}

timespec Server::poll_timeout(Clock::time_point now) const
{
    auto next_deadline = now + k_query_client_idle_timeout;
    for (const Client& c : m_clients) {
        if (!c.tail && !c.awaiting_answer) {
            next_deadline = std::min(next_deadline, c.last_activity + k_query_client_idle_timeout);
        }
        if (c.import && c.import->state() == ImportSession::State::waiting_room) {
            next_deadline = std::min(next_deadline, now + k_import_retry);
        }
    }
    if (!m_sliced.empty()) {
        next_deadline = now; // the next slice, after a look at the sockets
    }
    next_deadline = task_deadline(next_deadline);
    if (m_spool) {
        next_deadline = std::min(next_deadline, m_spool->deadline(now));
    }
    auto wait = std::max(next_deadline - now, Clock::duration::zero()) +
                (m_sliced.empty() ? std::chrono::milliseconds(1) : std::chrono::milliseconds(0));
    if (m_datagrams_rest.resting(now)) {
        wait = std::min<Clock::duration>(wait, m_datagrams_rest.until() - now);
    }
    const auto wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait);
    timespec timeout{};
    timeout.tv_sec = static_cast<time_t>(wait_ns.count() / 1000000000);
    timeout.tv_nsec = static_cast<long>(wait_ns.count() % 1000000000);
    return timeout;
}

void Server::poll_failed(int err)
{
    if (err != EINTR) {
        log_limited(m_socket_log, "poll failed: " + errno_text(err));
    } else if (m_signal_flag != nullptr && *m_signal_flag != 0) {
        const std::lock_guard lock(m_collector_mutex);
        run_tasks(Clock::now()); // e.g. SIGHUP
    }
}

void Server::run_timers()
{
    run_tasks(Clock::now());
    if (m_spool && m_spool->due(Clock::now())) {
        m_spool->step(Clock::now(), k_spool_batch);
    }
    for (Client& c : m_clients) {
        if (c.fd && c.import && c.import->state() == ImportSession::State::waiting_room) {
            feed_import(c);
        }
    }
}

void Server::handle_ready(const std::vector<pollfd>& fds)
{
    // Datagrams first, whatever woke the loop: a query or an answer from the history
    // worker then sees every datagram that arrived before it, also while the event socket
    // rests or when it became readable after ppoll() looked at it.
    drain_datagrams();
    if (fds[2].revents != 0) {
        m_inbox.run_posted();
    }
    // Handle existing clients before accepting new ones: indexes of fds and
    // m_clients match only until accept_clients() appends.
    for (std::size_t i = k_fixed_fds; i < fds.size(); ++i) {
        serve_client(m_clients[i - k_fixed_fds], fds[i].revents);
    }
    if (fds[1].revents != 0) {
        accept_clients();
    }
}

void Server::serve_client(Client& client, short revents)
{
    if (revents & POLLOUT) {
        write_client(client);
        // Request lines held back while answers were waiting.
        if (client.fd && client.output.empty() && !client.tail &&
            client.input.find('\n') != std::string::npos) {
            if (client.import) {
                feed_import(client);
            } else {
                answer_lines(client);
            }
            write_client(client);
        }
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (client.output.empty() && !client.closing && !client.awaiting_answer) {
            read_client(client);
        } else if (revents & (POLLHUP | POLLERR)) {
            client.fd.reset();
        }
    }
}

// ---- periodic and signal tasks (snapshots, SIGHUP) ----

void Server::set_periodic_task(std::chrono::milliseconds interval,
                               std::function<void(Collector&)> task)
{
    m_periodic_task = std::move(task);
    set_periodic_interval(interval);
}

void Server::set_periodic_interval(std::chrono::milliseconds interval)
{
    m_periodic_interval = interval;
    m_periodic_due = Clock::now() + interval;
}

void Server::set_signal_task(volatile sig_atomic_t& flag, std::function<void(Collector&)> task)
{
    m_signal_flag = &flag;
    m_signal_task = std::move(task);
}

Clock::time_point Server::task_deadline(Clock::time_point deadline) const
{
    if (m_periodic_task && m_periodic_interval.count() > 0) {
        return std::min(deadline, m_periodic_due);
    }
    return deadline;
}

void Server::run_tasks(Clock::time_point now)
{
    if (m_signal_flag != nullptr && *m_signal_flag != 0) {
        *m_signal_flag = 0;
        m_signal_task(m_collector);
    }
    if (m_periodic_task && m_periodic_interval.count() > 0 && now >= m_periodic_due) {
        m_periodic_due = now + m_periodic_interval;
        m_periodic_task(m_collector);
    }
}

void Server::enable_spool_replay(const std::string& dir)
{
    m_spool =
        std::make_unique<SpoolReplayer>(dir, m_datagrams.max_bytes(), m_collector.spool_status(),
                                        [this](std::string_view line) { ingest_datagram(line); });
    const std::lock_guard lock(m_collector_mutex);
    m_spool->replay_all();
}

void Server::drain_before_exit()
{
    const std::lock_guard lock(m_collector_mutex);
    // A sender connected to this socket (the module connects its own) would go on
    // queueing datagrams on it after its path is gone, and they would be lost with it: shut
    // its reading side, so that such sends fail (EPIPE) and the sender keeps its counts or
    // spools its events, as one that names the path does. What is queued stays readable.
    if (::shutdown(m_event_socket.get(), SHUT_RD) != 0) {
        log_limited(m_socket_log,
                    "cannot shut the event socket's reading side: " + errno_text(errno));
    }
    while (drain_datagrams()) {
    }
    if (m_spool) {
        m_spool->replay_all();
    }
}

bool Server::drain_datagrams()
{
    std::size_t taken = 0;
    while (taken < k_datagram_batch) {
        const int received = m_datagrams.receive(m_event_socket.get(), k_datagram_batch - taken);
        if (received < 0) {
            if (!would_block(errno) && errno != EINTR) {
                log_limited(m_socket_log, "cannot receive from event socket: " + errno_text(errno));
            }
            m_datagrams_rest.emptied(Clock::now(), taken);
            return false;
        }
        const auto count = static_cast<std::size_t>(received);
        taken += count;
        for (std::size_t i = 0; i < count; ++i) {
            if (!sender_allowed(m_datagrams.header(i))) {
                continue;
            }
            const std::size_t size = m_datagrams.length(i);
            if (size > m_datagrams.max_bytes()) {
                m_collector.count_malformed(DecodeError::too_large);
                log_limited(m_malformed_log,
                            "malformed datagram (too_large): " + std::to_string(size) + " bytes");
                continue;
            }
            ingest_datagram(m_datagrams.bytes(i));
        }
        if (count < k_datagram_slots) {
            m_datagrams_rest.emptied(Clock::now(), taken);
            return true; // more may have arrived meanwhile: the next ppoll() says
        }
    }
    return true;
}

void Server::ingest_datagram(std::string_view datagram)
{
    const std::uint64_t pushed = m_collector.events().pushed();
    auto failure = m_collector.ingest(datagram, static_cast<std::int64_t>(std::time(nullptr)));
    if (m_collector.events().pushed() != pushed) {
        const RequestEvent& event = *m_collector.events().newest();
        const EngineMode engine = m_collector.events().newest_engine();
        publish(event, engine);
        store(engine);
    }
    if (failure) {
        std::string detail = terminal_safe(failure->detail);
        if (detail.size() > k_max_logged_detail) {
            detail.resize(k_max_logged_detail);
            detail += "...";
        }
        log_limited(m_malformed_log, std::string("malformed datagram (") +
                                         reason_name(failure->reason) + "): " + detail);
    }
}

void Server::ingest_received(const RequestEvent& event, std::string_view source,
                             std::uint64_t bytes, EngineMode engine)
{
    m_collector.ingest_event(event, source, static_cast<std::int64_t>(std::time(nullptr)), bytes,
                             engine);
    publish(event, m_collector.events().newest_engine(), source);
}

void Server::set_history(StoreWriter& writer, std::string path)
{
    m_history = &writer;
    m_history_path = std::move(path);
    m_collector.history_status().path = m_history_path;
    enable_history(m_history_path);
    refresh_history_status(true);
}

void Server::store(EngineMode engine)
{
    // Shared with the ring, not copied. A refusal (queue full, writer stopped) is counted
    // by the writer (health's history.queue_full) and logged here at a bounded rate.
    if (m_history != nullptr && !m_history->offer(m_collector.events().newest_shared(), engine)) {
        log_limited(m_store_log, "history: the writer's queue is full: request events are not "
                                 "stored (counted in health as history.queue_full; the live "
                                 "views have them)");
    }
}

void Server::refresh_history_status(bool now_anyway)
{
    const auto now = Clock::now();
    if (m_history == nullptr || (!now_anyway && now - m_history_refreshed < k_history_refresh)) {
        return;
    }
    m_history_refreshed = now;
    const StoreWriterCounters counters = m_history->counters();
    HistoryStatus& status = m_collector.history_status();
    status.enabled = true;
    status.written = counters.written;
    status.duplicates = counters.duplicates;
    status.queue_full = counters.queue_full;
    status.disk_full = counters.disk_full;
    status.io_errors = counters.io_errors;
    status.batches = counters.batches;
    status.pruned = counters.pruned;
    status.queued = counters.queued;
    status.last_error = counters.last_error;
    const HistoryQueryCounters queries = history_counters();
    status.queries = queries.answered;
    status.queries_refused = queries.refused;
    status.query_errors = queries.errors;
    status.queries_shared = queries.shared;
    status.file_bytes = 0;
    for (const char* suffix : {"", "-wal"}) {
        struct stat st {};
        if (::stat((m_history_path + suffix).c_str(), &st) == 0) {
            status.file_bytes += static_cast<std::uint64_t>(st.st_size);
        }
    }
}

void Server::publish(const RequestEvent& event, EngineMode engine, std::string_view source)
{
    std::string line; // rendered once, for the first client that wants it
    for (Client& client : m_clients) {
        if (!client.tail || !client.fd || !client.tail->matches(event, engine, source)) {
            continue;
        }
        if (client.output.size() >= k_max_tail_backlog_bytes) {
            ++client.tail_dropped;
            m_collector.count_tail_dropped();
            continue;
        }
        if (client.tail_dropped != 0) {
            client.output += "{\"dropped\":" + std::to_string(client.tail_dropped) + "}\n";
            client.tail_dropped = 0;
        }
        if (line.empty()) {
            line = event_json_line(event, source, engine) + "\n";
        }
        client.output += line;
    }
    std::erase_if(m_web_tails, [](const WebTail& t) { return t.sink->closed(); });
    for (WebTail& tail : m_web_tails) {
        if (!tail.filter.matches(event, engine, source)) {
            continue;
        }
        if (line.empty()) {
            line = event_json_line(event, source, engine) + "\n";
        }
        if (!tail.sink->offer(line)) {
            m_collector.count_tail_dropped();
        }
    }
}

void Server::subscribe(EventFilter filter, std::shared_ptr<TailSink> sink)
{
    post([this, filter = std::move(filter), sink = std::move(sink)]() mutable {
        m_web_tails.push_back({std::move(filter), std::move(sink)});
    });
}

void Server::ask(std::string line, Reply reply)
{
    post([this, line = std::move(line), reply = std::move(reply)]() mutable {
        answer_web(line, std::move(reply));
    });
}

void Server::answer_web(const std::string& line, Reply reply)
{
    note_tail_clients();
    auto parsed = parse_query(line);
    if (parsed && parsed->command == QueryCommand::tail) {
        m_collector.count_bad_query();
        reply(error_answer("tail is a stream: use /api/tail"));
        return;
    }
    if (m_history_worker && parsed && wants_history(*parsed)) {
        const std::uint64_t id = m_next_client_id++;
        if (!m_history_worker->submit(history_job(id, line, std::move(*parsed)))) {
            log_limited(m_history_log, "refused a history query: " +
                                           std::to_string(k_history_queue) + " already wait");
            reply(error_answer("history is busy: " + std::to_string(k_history_queue) +
                               " queries already wait; try again"));
            return;
        }
        m_web_waiting.emplace(id, std::move(reply));
        return;
    }
    if (parsed && answers_in_slices(*parsed)) {
        start_sliced(m_next_client_id++, std::move(*parsed), std::move(reply));
        return;
    }
    reply(answer(line, m_collector, Clock::now(), wall_clock_now(), read_memory_usage).line);
}

Result<void> Server::set_event_senders(CredentialPolicy policy)
{
    const int on = 1;
    if (::setsockopt(m_event_socket.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
        return fail("cannot enable SO_PASSCRED on the event socket: " + errno_text(errno));
    }
    m_event_senders = std::move(policy);
    return ok();
}

void Server::set_query_peers(CredentialPolicy policy)
{
    m_query_peers = std::move(policy);
}

bool Server::sender_allowed(const msghdr& message)
{
    if (!m_event_senders) {
        return true;
    }
    const ucred* credentials = nullptr;
    // CMSG_NXTHDR casts away const in glibc's definition.
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
            credentials = reinterpret_cast<const ucred*>(CMSG_DATA(c));
        }
    }
    if (credentials != nullptr && m_event_senders->allows(credentials->uid, credentials->gid)) {
        return true;
    }
    m_collector.count_rejected_sender();
    log_limited(m_sender_log,
                credentials == nullptr
                    ? std::string("rejected a datagram without sender credentials")
                    : "rejected a datagram from pid " + std::to_string(credentials->pid) + " uid " +
                          std::to_string(credentials->uid) + " gid " +
                          std::to_string(credentials->gid) + " (allowed senders: " +
                          m_event_senders->describe() + "; see --allow-uid, --allow-gid)");
    return false;
}

bool Server::query_peer_allowed(int fd)
{
    if (!m_query_peers) {
        return true;
    }
    ucred peer{};
    socklen_t length = sizeof(peer);
    bool allowed = false;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0) {
        allowed = m_query_peers->allows(peer.uid, peer.gid);
        // The peer's supplementary groups, as they were at connect().
        gid_t groups[256];
        socklen_t groups_length = sizeof(groups);
        if (!allowed && ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &groups_length) == 0) {
            for (std::size_t i = 0; i < groups_length / sizeof(gid_t) && !allowed; ++i) {
                allowed = m_query_peers->allows(static_cast<uid_t>(-1), groups[i]);
            }
        }
    }
    if (allowed) {
        return true;
    }
    m_collector.count_rejected_query_peer();
    const std::string answer =
        error_answer("not allowed to query this collector (uid " + std::to_string(peer.uid) +
                     " gid " + std::to_string(peer.gid) + ")") +
        "\n";
    (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    log_limited(m_client_log, "refused a query client: pid " + std::to_string(peer.pid) + " uid " +
                                  std::to_string(peer.uid) + " gid " + std::to_string(peer.gid) +
                                  " is not allowed (" + m_query_peers->describe() +
                                  "; see --query-allow-uid, --query-allow-gid)");
    return false;
}

void Server::accept_clients()
{
    for (;;) {
        Fd fd(::accept4(m_query_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (!would_block(errno) && errno != EINTR && errno != ECONNABORTED) {
                log_limited(m_socket_log, "cannot accept a query client: " + errno_text(errno));
            }
            return;
        }
        if (!query_peer_allowed(fd.get())) {
            continue;
        }
        if (m_clients.size() >= k_max_query_clients) {
            m_collector.count_refused_client();
            const std::string answer = error_answer("too many query clients (at most " +
                                                    std::to_string(k_max_query_clients) + ")") +
                                       "\n";
            (void)::send(fd.get(), answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            log_limited(m_client_log,
                        "refused a query client: " + std::to_string(k_max_query_clients) +
                            " clients already connected");
            continue;
        }
        Client client;
        client.id = m_next_client_id++;
        client.fd = std::move(fd);
        client.last_activity = Clock::now();
        m_clients.push_back(std::move(client));
    }
}

void Server::read_client(Client& client)
{
    char buffer[k_read_chunk];
    const ssize_t n = ::recv(client.fd.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n < 0) {
        if (!would_block(errno) && errno != EINTR) {
            client.fd.reset();
        }
        return;
    }
    if (n == 0) {
        // The peer is done sending; an incomplete last line gets no answer.
        client.closing = true;
        return;
    }
    client.last_activity = Clock::now();
    if (client.tail) {
        return; // a tail connection only receives
    }
    client.input.append(buffer, static_cast<std::size_t>(n));
    if (client.import) {
        feed_import(client);
    } else {
        answer_lines(client);
    }
    write_client(client);
}

void Server::note_tail_clients()
{
    const auto streams =
        std::count_if(m_clients.begin(), m_clients.end(),
                      [](const Client& c) { return c.tail && c.fd && !c.closing; }) +
        std::count_if(m_web_tails.begin(), m_web_tails.end(),
                      [](const WebTail& t) { return !t.sink->closed(); });
    m_collector.set_tail_clients(static_cast<std::size_t>(streams));
}

void Server::answer_lines(Client& client)
{
    const auto now = Clock::now();
    note_tail_clients();
    std::size_t start = 0;
    for (std::size_t newline = client.input.find('\n');
         newline != std::string::npos && !client.awaiting_answer;
         newline = client.input.find('\n', start)) {
        std::string_view line(client.input.data() + start, newline - start);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.size() > k_max_query_line_bytes) {
            break; // handled below as too long
        }
        if (client.output.size() >= k_max_client_backlog_bytes) {
            break; // the rest waits until the client has read its answers
        }
        if (start_import(client, line)) {
            start = newline + 1;
            break;
        }
        if (auto parsed = parse_query(line)) {
            if (m_history_worker && wants_history(*parsed)) {
                ask_history(client, line, std::move(*parsed));
                start = newline + 1;
                continue; // stops here when the client now waits
            }
            if (answers_in_slices(*parsed)) {
                start_sliced(client.id, std::move(*parsed));
                client.awaiting_answer = true;
                start = newline + 1;
                break;
            }
        }
        QueryAnswer a = answer(line, m_collector, now, wall_clock_now(), read_memory_usage);
        client.output += std::move(a.line);
        client.output += '\n';
        start = newline + 1;
        if (a.tail) {
            client.tail = std::move(a.tail);
            start = client.input.size(); // later input on a tail connection is ignored
            break;
        }
    }
    client.input.erase(0, start);
    if (client.import) {
        feed_import(client); // the lines after the import command are its own
        return;
    }
    const std::size_t pending_line = std::min(client.input.find('\n'), client.input.size());
    // While an answer is being built elsewhere, even this error waits its turn.
    if (pending_line > k_max_query_line_bytes && !client.awaiting_answer) {
        m_collector.count_bad_query();
        client.output += error_answer("request line too long (more than " +
                                      std::to_string(k_max_query_line_bytes) + " bytes)");
        client.output += '\n';
        client.input.clear();
        client.closing = true;
    }
}

// ---- history queries ----

void Server::enable_history(const std::string& path)
{
    m_history_worker = std::make_unique<HistoryService>(path, [this](HistoryAnswer answer) {
        post([this, answer = std::move(answer)]() mutable { deliver_history(std::move(answer)); });
    });
}

HistoryQueryCounters Server::history_counters() const
{
    return m_history_worker ? m_history_worker->counters() : HistoryQueryCounters{};
}

bool Server::history_lags_ring(const Query& query) const
{
    if (query.command != QueryCommand::events || m_history == nullptr || query.events.cursor ||
        query.events.engine || query.events.source) {
        return false;
    }
    const RequestEvent* oldest = m_collector.events().oldest();
    if (oldest == nullptr || (query.events.until_us && *query.events.until_us <= oldest->time_us)) {
        return false; // the ring has nothing of that range; history has what it kept
    }
    const auto lost = m_history->counters().newest_lost_us;
    return lost && *lost >= oldest->time_us;
}

bool Server::wants_history(const Query& query) const
{
    if (history_lags_ring(query)) {
        return false;
    }
    const RequestEvent* oldest = m_collector.events().oldest();
    const std::int64_t wall_now = wall_clock_now();
    const SourceId source =
        query.source ? m_collector.sources().find(*query.source) : k_module_source_id;
    const bool source_in_memory =
        !query.source || ((source != k_other_source_id || *query.source == k_other_source_name) &&
                          m_collector.aggregates_of(source) != nullptr);
    if (route_query(query, true, oldest ? std::optional(oldest->time_us) : std::nullopt, wall_now,
                    source_in_memory) == Route::history) {
        return true;
    }
    if (query.command != QueryCommand::events || query.events.limit == 0) {
        return false;
    }
    // The ring holds every match of the time range, but when there are more than the
    // limit only history's answer says where the next page starts.
    return m_collector.events().count_matching(ring_filter(query, wall_now),
                                               m_collector.sources().names(),
                                               query.events.limit + 1) > query.events.limit;
}

HistoryJob Server::history_job(std::uint64_t requester, std::string_view line, Query query) const
{
    HistoryJob job;
    job.client = requester;
    job.line = std::string(line);
    job.wall_now = wall_clock_now();
    if (query.command == QueryCommand::sources) {
        job.live = answer_query(line, m_collector, Clock::now(), job.wall_now);
    }
    // The live vhosts of a timeseries over every vhost (a listed one names its own).
    if (query.command == QueryCommand::timeseries && !query.vhost && query.vhosts.empty()) {
        for (const auto& [name, stats] : m_collector.aggregator().all()) {
            job.vhosts.push_back(name);
        }
    }
    job.query = std::move(query);
    return job;
}

bool Server::ask_history(Client& client, std::string_view line, Query query)
{
    if (!m_history_worker->submit(history_job(client.id, line, std::move(query)))) {
        log_limited(m_history_log, "refused a history query: " + std::to_string(k_history_queue) +
                                       " already wait");
        client.output += error_answer("history is busy: " + std::to_string(k_history_queue) +
                                      " queries already wait; try again") +
                         "\n";
        return false;
    }
    client.awaiting_answer = true;
    return true;
}

void Server::deliver_history(HistoryAnswer answer)
{
    const auto web = m_web_waiting.find(answer.client);
    const auto it = std::find_if(m_clients.begin(), m_clients.end(),
                                 [&](const Client& c) { return c.id == answer.client; });
    if (web == m_web_waiting.end() && (it == m_clients.end() || !it->fd)) {
        return; // the client left meanwhile
    }
    if (answer.use_ring) {
        answer.line = mso::answer(answer.request, m_collector, Clock::now(), wall_clock_now()).line;
        const auto query = parse_query(answer.request);
        if (query && is_error_answer(answer.line)) {
            answer.line = error_answer(
                no_such_event(*query, "in history or among the recent events the collector keeps"));
        }
    }
    if (web != m_web_waiting.end()) {
        Reply reply = std::move(web->second);
        m_web_waiting.erase(web);
        reply(std::move(answer.line));
        return;
    }
    Client& client = *it;
    client.output += std::move(answer.line);
    client.output += '\n';
    client.awaiting_answer = false;
    client.last_activity = Clock::now();
    answer_lines(client);
    write_client(client);
}

// ---- answers over every vhost, in slices ----

void Server::start_sliced(std::uint64_t requester, Query query, Reply reply)
{
    m_sliced.push_back({requester, std::move(reply),
                        SlicedAnswer(std::move(query), m_collector, wall_clock_now())});
}

void Server::run_slices()
{
    if (m_sliced.empty()) {
        return;
    }
    SlicedJob& job = m_sliced.front();
    Client* const client = job.reply ? nullptr : find_client(job.requester);
    if (!job.reply && client == nullptr) {
        m_sliced.pop_front(); // the client left: nobody reads the rest
        return;
    }
    const bool complete = job.answer.step(m_collector, Clock::now() + k_query_slice);
    if (client != nullptr) {
        // A socket client's answer goes out as it is built (the client reads nothing
        // else meanwhile: it waits for this answer).
        client->output += job.answer.take_ready();
    }
    if (!complete) {
        // The next turn serves the next answer: a long one does not hold back the rest.
        m_sliced.push_back(std::move(job));
        m_sliced.pop_front();
        return;
    }
    SlicedJob done = std::move(job);
    m_sliced.pop_front();
    if (done.reply) {
        done.reply(done.answer.take_line());
        return;
    }
    client->output += done.answer.take_line();
    client->output += '\n';
    client->awaiting_answer = false;
    client->last_activity = Clock::now();
    answer_lines(*client);
    write_client(*client);
}

void Server::write_client(Client& client)
{
    for (std::size_t budget = k_client_write_per_call; !client.output.empty() && budget > 0;) {
        const ssize_t n =
            ::send(client.fd.get(), client.output.data(), std::min(client.output.size(), budget),
                   MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (!would_block(errno)) {
                client.fd.reset();
                client.output.clear();
            }
            return;
        }
        client.last_activity = Clock::now();
        client.output.consume(static_cast<std::size_t>(n));
        budget -= static_cast<std::size_t>(n); // send() took at most `budget`
    }
}

// ---- imports (docs/protocol.md, "import") ----

bool Server::start_import(Client& client, std::string_view line)
{
    auto source = parse_import_start(line);
    if (!source) {
        return false;
    }
    if (!*source || m_history == nullptr) {
        m_collector.count_bad_query();
        client.output += error_answer(!*source ? source->error()
                                               : "import: this collector keeps no history "
                                                 "(started with --no-history)");
        client.output += '\n';
        client.closing = true; // the lines that follow are events, not queries
        client.input.clear();
        return true;
    }
    const std::uint64_t id = client.id;
    client.import = std::make_unique<ImportSession>(
        *m_history, **source, m_collector.import_counters(),
        [this](std::function<void()> task) { post(std::move(task)); },
        [this, id](std::string answer_line, bool end) {
            deliver_import_answer(id, std::move(answer_line), end);
        });
    nlohmann::ordered_json started;
    started["ok"] = true;
    started["import"] = true;
    started[import_key::k_source] = **source;
    client.output += dump_line(started);
    client.output += '\n';
    return true;
}

void Server::feed_import(Client& client)
{
    if (client.import->consume(client.input) == ImportSession::State::ended) {
        client.input.clear();
    }
}

Server::Client* Server::find_client(std::uint64_t id)
{
    for (Client& c : m_clients) {
        if (c.id == id && c.fd) {
            return &c;
        }
    }
    return nullptr;
}

void Server::deliver_import_answer(std::uint64_t id, std::string line, bool end)
{
    Client* client = find_client(id);
    if (client == nullptr || !client->import) {
        return; // gone: what it sent is stored all the same
    }
    client->output += line;
    client->output += '\n';
    client->import->answered();
    if (end) {
        client->closing = true;
    } else if (client->import->state() == ImportSession::State::reading &&
               client->input.find('\n') != std::string::npos) {
        feed_import(*client);
    }
    write_client(*client);
}

} // namespace mso
