// The daemon's event loop: one thread, one ppoll() over the event socket, the
// query listener and its clients. Datagrams go to the Collector; query lines go
// through answer_query(), or, over every vhost and for `events` from the ring, are built
// a slice per turn (state/sliced_answer.h). No call in the loop blocks except ppoll() itself and,
// briefly, the collector lock, the one place where the Collector is shared with
// another thread (the metrics endpoint, see with_collector()).
#pragma once

#include "daemon/loop_inbox.h"
#include "state/collector.h"
#include "state/sliced_answer.h"
#include "util/fd.h"
#include "util/output_buffer.h"
#include "util/log.h"
#include "util/result.h"
#include "daemon/datagram_batch.h"
#include "daemon/history_service.h"
#include "daemon/import_session.h"
#include "daemon/socket_security.h"
#include "daemon/spool_replay.h"
#include "daemon/tail_sink.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

namespace mso {

inline constexpr std::size_t k_max_query_clients = 64;
// Query clients that send nothing and read nothing for this long are closed.
inline constexpr std::chrono::seconds k_query_client_idle_timeout{60};
// Answers a client may have waiting before its further request lines wait too: a
// client that sends many queries and reads nothing cannot make the collector build
// unbounded output (nor stall ingestion while building it).
inline constexpr std::size_t k_max_client_backlog_bytes = 1024 * 1024;
// Events a `tail` client may have waiting before further ones are dropped for it
// (counted, and announced to it with a {"dropped":N} line when it catches up).
inline constexpr std::size_t k_max_tail_backlog_bytes = 1024 * 1024;
// How long one turn of the loop may spend building answers over every vhost (stats,
// vhosts, rules: state/sliced_answer.h) before it reads datagrams again.
inline constexpr std::chrono::microseconds k_query_slice{500};
// Bytes written to one query client per call of write_client(): a client that reads
// as fast as the loop writes would otherwise keep the loop writing a large answer
// (megabytes of `events` or `stats`) in one go; the rest goes at its next POLLOUT.
inline constexpr std::size_t k_client_write_per_call = 256 * 1024;
// Receive buffer requested for the event socket.
inline constexpr int k_event_socket_rcvbuf = 4 * 1024 * 1024;

// Runs the loop over sockets it owns; borrows `collector`. run() belongs to one
// thread; with_collector() may be called from any thread.
class StoreWriter;

class Server {
public:
    Server(Collector& collector, Fd event_socket, Fd query_listener, LoopInbox inbox);

    // Runs `task` on the loop thread, soon, with the collector lock held (between
    // wake-ups, in the order posted). Callable from any thread; never waits on the loop.
    void post(std::function<void()> task) { m_inbox.post(std::move(task)); }
    // As post(), with the collector: `task(collector)` runs on the loop thread.
    void post_to_collector(std::function<void(Collector&)> task)
    {
        m_inbox.post([this, task = std::move(task)] { task(m_collector); });
    }
    // On the loop thread (a posted task): aggregates an event that was received and
    // stored elsewhere (the console receiver) from `source`, and shows it to `tail`
    // clients. It is not offered to the history writer again. `bytes`: what was received
    // for it (0: its decoded size), for the source's accounting (`sources`). `engine`:
    // the engine mode the source said (an audit log's), so the ring answers what the
    // history store holds; unknown: what the event shows (inferred_engine_mode()).
    void ingest_received(const RequestEvent& event, std::string_view source,
                         std::uint64_t bytes = 0, EngineMode engine = EngineMode::unknown);

    // The kernel's limit on the event socket's queue (net.unix.max_dgram_qlen when the
    // socket was created). The loop leaves the socket unpolled for 1-20 ms after a drain
    // that emptied it (DatagramRest) only when the queue holds at least
    // k_min_queue_to_rest datagrams: a rest aims at gathering about 16, more than the
    // kernel's default queue (10: 11 datagrams) holds, which then overflows from about
    // 550 events/s (20 ms rests) to 11,000 (1 ms). Shown by `health`. Before run();
    // without it (the value could not be read) the loop rests. True when it rests.
    static constexpr std::uint64_t k_min_queue_to_rest = 512;
    bool set_event_queue(std::uint64_t max_dgram_qlen);

    // The dashboard's questions (daemon/web_server.h). ask() is callable from any thread
    // and never waits on the loop; `reply` runs once, on the loop thread, with the
    // answer line. `line` is answered as a socket client's would be (history queries by
    // the history worker); `tail` is refused (subscribe() streams).
    using Reply = std::function<void(std::string)>;
    void ask(std::string line, Reply reply);
    // From now on, the lines of the events `filter` matches go to `sink` (bounded; a full
    // sink drops and counts, as a tail client's backlog does) until the sink is closed.
    // Callable from any thread.
    void subscribe(EventFilter filter, std::shared_ptr<TailSink> sink);

    // Hands every request event the module sends to `writer` (the history store), as
    // source "module"; `path` is the database file (for the size `health` reports).
    // Also answers the queries route_query() sends to history from `path`
    // (enable_history()). Without a call nothing is stored. Call before run(); `writer`
    // must outlive run() and drain_before_exit().
    void set_history(StoreWriter& writer, std::string path);

    // Serves until `stop` becomes non-zero. Signals that set `stop` must be
    // blocked by the caller; they are unblocked only while waiting in ppoll()
    // (`wait_mask`), so a signal is never missed between the check and the wait.
    void run(const volatile sig_atomic_t& stop, const sigset_t& wait_mask);

    [[nodiscard]] std::size_t client_count() const noexcept { return m_clients.size(); }

    // Accepts event datagrams only from senders `policy` allows, by the credentials
    // the kernel attaches (SO_PASSCRED); others are dropped, counted
    // (health.rejected_senders) and logged at a bounded rate. Without a call every
    // sender is accepted. Call before run(). Fails when SO_PASSCRED cannot be set.
    [[nodiscard]] Result<void> set_event_senders(CredentialPolicy policy);
    // Answers only query clients whose SO_PEERCRED uid, gid or one of whose groups
    // `policy` allows; others get an error line and are closed (rejected_query_peers).
    void set_query_peers(CredentialPolicy policy);

    // Periodic and on-signal work on the loop thread (snapshots, SIGHUP reloads); each
    // task runs with the collector lock held, between wake-ups, so keep it bounded.
    // `task` runs every `interval` (ppoll() wakes up for it; zero: never). Call before
    // run(), or from a task to change the interval.
    void set_periodic_task(std::chrono::milliseconds interval,
                           std::function<void(Collector&)> task);
    void set_periodic_interval(std::chrono::milliseconds interval);
    // `task` runs once after ppoll() returns with `flag` non-zero (set by a signal
    // handler for a signal in run()'s `wait_mask`); the flag is reset first.
    void set_signal_task(volatile sig_atomic_t& flag, std::function<void(Collector&)> task);

    // Answers the queries route_query() sends to history (docs/protocol.md, "Ring or
    // history") from the store at `path`, on a worker thread of its own; until its
    // answer comes back, a client's later request lines wait (answers keep their order).
    // Call before run(); the worker opens the file at the first query.
    void enable_history(const std::string& path);
    // The history worker's counters (all zero without enable_history()).
    [[nodiscard]] HistoryQueryCounters history_counters() const;

    // Replays the module's spool files in `dir` (ModSecObserveSpool): everything that can
    // be taken now, then every k_spool_scan_interval, in bounded steps between wake-ups.
    void enable_spool_replay(const std::string& dir);
    // At exit, after run() and after the event socket's path was removed (so senders
    // fail over to their spools): shuts the socket's reading side (senders connected to it
    // fail over too), reads what is still queued on it, then replays the spool files that
    // can be taken. Nothing a sender handed over is dropped.
    void drain_before_exit();

    // Calls `read(const Collector&)` under the collector lock and returns its
    // result. Blocks while the loop handles one wake-up (at most one batch of
    // datagrams plus the queries that arrived with it and one k_query_slice of an
    // answer over every vhost); keep `read` short, it
    // stalls ingestion for as long as it runs.
    template <typename Read> auto with_collector(Read&& read) const
    {
        std::lock_guard lock(m_collector_mutex);
        return std::forward<Read>(read)(std::as_const(m_collector));
    }

private:
    struct Client {
        std::uint64_t id = 0; // never reused: names the client to the history worker and imports
        Fd fd;
        std::string input;    // bytes after the last complete line
        OutputBuffer output;  // answers not yet written
        bool closing = false; // close once output is flushed
        std::chrono::steady_clock::time_point last_activity;
        std::optional<EventFilter> tail; // streaming events; input is ignored
        std::uint64_t tail_dropped = 0;  // events not sent since the last notice
        // A line is with the history worker, or answered in slices (m_sliced).
        bool awaiting_answer = false;
        std::unique_ptr<ImportSession> import; // set: the connection is an import
    };

    // The steps of one turn of run(), in order.
    void close_finished_clients(std::chrono::steady_clock::time_point now);
    // The event socket, the query listener, then one entry per client (same order).
    void build_poll_set(std::vector<pollfd>& fds) const;
    // Until the next idle timeout, periodic task or spool scan.
    [[nodiscard]] timespec poll_timeout(std::chrono::steady_clock::time_point now) const;
    // ppoll() failed with `err`; EINTR from a signal runs its task.
    void poll_failed(int err);
    // The periodic and signal tasks that are due, and a bounded spool replay step.
    void run_timers();
    // Reads the datagrams waiting, then serves clients and accepts new ones as `fds`
    // reports them ready (called only when ppoll() reported something).
    void handle_ready(const std::vector<pollfd>& fds);
    void serve_client(Client& client, short revents);

    // Reads up to a wake-up's batch of datagrams, 32 per system call. False when the
    // socket said it had none waiting; true when more may wait.
    bool drain_datagrams();
    // Aggregates one datagram (from the socket or a spool file) and logs it if malformed.
    void ingest_datagram(std::string_view datagram);
    // Whether the datagram `message` holds came from an allowed sender.
    [[nodiscard]] bool sender_allowed(const msghdr& message);
    [[nodiscard]] bool query_peer_allowed(int fd);
    void accept_clients();
    void read_client(Client& client);
    // Writes what the client's socket takes of its output, at most
    // k_client_write_per_call bytes.
    void write_client(Client& client);
    void answer_lines(Client& client);
    // Tells the collector how many tail streams are open, for `health` (before answering).
    void note_tail_clients();
    // route_query() with the collector's ring, and also an `events` query the ring could
    // answer but that has more matches than its limit (only history's answer pages);
    // never an `events` query the ring can filter while history_lags_ring().
    [[nodiscard]] bool wants_history(const Query& query) const;
    // An `events` query without a cursor, engine or source filter, whose range does not
    // end before the ring's oldest event, while the store has lost one of the module's
    // events (queue or disk full, I/O error) no older than the ring's oldest: the ring
    // holds events history does not, so its newest-first answer is the right one.
    [[nodiscard]] bool history_lags_ring(const Query& query) const;
    // Queues `line` (whose query is `query`) for the history worker, or answers that
    // the queue is full; true when the client now waits for the answer.
    bool ask_history(Client& client, std::string_view line, Query query);
    // The job asking the history worker `query` (from request `line`) for `requester`.
    [[nodiscard]] HistoryJob history_job(std::uint64_t requester, std::string_view line,
                                         Query query) const;
    // Starts answering `query` (answers_in_slices()) a slice per turn for client or
    // dashboard question `requester`; its answer goes to `reply` when set, else to the
    // client, which waits meanwhile (awaiting_answer).
    void start_sliced(std::uint64_t requester, Query query, Reply reply = {});
    // One turn's slice (k_query_slice) of the oldest sliced answer; a finished answer
    // goes to its requester, whose later lines are then answered.
    void run_slices();
    // On the loop thread: answers one dashboard question (ask()).
    void answer_web(const std::string& line, Reply reply);
    // On the loop thread: appends the worker's answer to its client (if still there)
    // and answers the lines the client sent meanwhile.
    void deliver_history(HistoryAnswer answer);
    // {"cmd":"import",...}: switches `client` into an import; false when `line` is no
    // import command.
    bool start_import(Client& client, std::string_view line);
    // Lets the client's import take its input; stops reading it while the import waits.
    void feed_import(Client& client);
    // The import answer `line` reaches client `id`, if it is still there.
    void deliver_import_answer(std::uint64_t id, std::string line, bool end);
    [[nodiscard]] Client* find_client(std::uint64_t id);

    // Appends `event` to every tail client whose filter matches it; `engine` is its
    // engine mode as the ring keeps it.
    void publish(const RequestEvent& event, EngineMode engine, std::string_view source = "module");
    // Offers the module's event the ring received last to the history writer, if any,
    // with the engine mode the ring keeps for it (so ring and history answer the same).
    void store(EngineMode engine);
    // Copies the writer's counters into the collector's HistoryStatus (for `health` and
    // /metrics), at most once a second unless `now_anyway`.
    void refresh_history_status(bool now_anyway);

    // Runs the periodic and signal tasks that are due; the lock is held.
    void run_tasks(std::chrono::steady_clock::time_point now);
    // The ppoll() deadline the periodic task imposes (or `deadline` if later).
    [[nodiscard]] std::chrono::steady_clock::time_point
    task_deadline(std::chrono::steady_clock::time_point deadline) const;

    Collector& m_collector;
    std::chrono::milliseconds m_periodic_interval{0};
    std::chrono::steady_clock::time_point m_periodic_due;
    std::function<void(Collector&)> m_periodic_task;
    volatile sig_atomic_t* m_signal_flag = nullptr;
    std::function<void(Collector&)> m_signal_task;
    // Guards m_collector: run() holds it while it handles a wake-up of ppoll()
    // (never while waiting), with_collector() while a reader runs.
    mutable std::mutex m_collector_mutex;
    Fd m_event_socket;
    Fd m_query_listener;
    LoopInbox m_inbox;
    StoreWriter* m_history = nullptr;
    std::string m_history_path;
    std::chrono::steady_clock::time_point m_history_refreshed{};
    std::vector<Client> m_clients;
    std::uint64_t m_next_client_id = 1; // also names dashboard questions to the worker
    // Dashboard questions with the history worker, by the id their job carries.
    std::unordered_map<std::uint64_t, Reply> m_web_waiting;
    struct WebTail {
        EventFilter filter;
        std::shared_ptr<TailSink> sink;
    };
    std::vector<WebTail> m_web_tails;
    DatagramBatch m_datagrams; // receive buffers, k_max_datagram_bytes each
    // When the loop does not poll the event socket (k_datagram_rest_*, server.cpp).
    DatagramRest m_datagrams_rest;
    // Answers under way (over every vhost, or events from the ring), a slice per turn,
    // oldest first.
    struct SlicedJob {
        std::uint64_t requester = 0;
        Reply reply; // set: a dashboard question
        SlicedAnswer answer;
    };
    std::deque<SlicedJob> m_sliced;
    std::unique_ptr<SpoolReplayer> m_spool;
    RateLimiter m_malformed_log;
    RateLimiter m_socket_log;
    RateLimiter m_client_log;
    std::optional<CredentialPolicy> m_event_senders;
    std::optional<CredentialPolicy> m_query_peers;
    RateLimiter m_sender_log;
    RateLimiter m_history_log;
    RateLimiter m_store_log; // events the history writer refused
    // Last: destroyed first, so the worker stops before what its answers would touch.
    std::unique_ptr<HistoryService> m_history_worker;
};

} // namespace mso
