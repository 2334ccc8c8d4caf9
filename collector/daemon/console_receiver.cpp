// cpp-httplib behind ConsoleReceiver. Order of checks for one request, cheapest and
// least trusting first: route and credentials before the body is read (pre-routing:
// a stranger cannot make us read or parse 4 MiB), the declared length, the sensor's
// rate; then httplib reads the body (at most max_body), and the handler checks the
// hash, parses, stores and waits for the commit. A request refused before its body
// was read is answered with "Connection: close", so unread body bytes are never taken
// for a next request.
//
// httplib 0.11 gives no total time limit for a request (its read timeout applies to
// each read), so a watchdog thread shuts down any connection of our port that has been
// reading one request for longer than `deadline`: a client trickling bytes cannot hold
// a worker. It finds the connections in /proc/self/fd (http_pool's connections_on).
#include "daemon/console_receiver.h"

#include "daemon/http_pool.h"
#include "daemon/login_failures.h"
#include "util/errno_text.h"
#include "util/log.h"

#include <httplib.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace mso {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view k_mlogc_path = "/rpc/auditLogReceiver";
constexpr std::string_view k_v3_prefix = "/v3/";

// What pre-routing learnt about the request the handler will serve (same thread).
struct RequestContext {
    bool set = false;
    std::string sensor; // "-" until known
    std::string fallback_vhost;
    std::optional<ConsoleRefusal> refusal; // answered once the body was read
    std::string detail;
    std::optional<std::uint64_t> declared; // Content-Length (0 when absent)
};

// A refused request's body up to this size is read before the answer (keeping the
// connection in step, and letting mlogc read its 401 cleanly); a larger one is not.
constexpr std::uint64_t k_unread_body = 64 * 1024;

thread_local RequestContext t_request;

// The "ip:port" of the request's client, as peer_name() writes a connection's.
std::string peer_of(const httplib::Request& req)
{
    return req.remote_addr + ":" + std::to_string(req.remote_port);
}

// Connections the kernel completed on the listening socket `fd` and nobody accepted yet
// (the accepting thread waits while both of the pool's waiting rooms are full).
std::size_t accept_queue(int fd)
{
    tcp_info info{};
    socklen_t size = sizeof(info);
    if (fd < 0 || ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 ||
        info.tcpi_state != TCP_LISTEN) {
        return 0;
    }
    return info.tcpi_unacked; // for a listening socket: the accept queue's length
}

// httplib's server with its listening socket in view, for accept_queue().
template <class Base> class ListeningServer final : public Base {
public:
    using Base::Base;
    [[nodiscard]] int listening_socket() const noexcept { return this->svr_sock_; }
};

// One upload waiting on its HTTP thread for the writer's marker.
struct CommitWait {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<MarkerResult> result;
    bool claimed = false;   // the writer is answering it: the result comes at once
    bool abandoned = false; // the HTTP thread stopped waiting (and reported a refusal)
    ConsoleReport report;   // sent once committed: sensor, bytes and the event
};

// Where reports go. Shared with the writer's marker callbacks, which may run after the
// receiver is gone (for an upload whose wait timed out). The callbacks only collect the
// results; after a batch's markers, flush() (the writer's after-markers hook) reports the
// committed uploads in one call, then wakes their HTTP threads: each report is posted
// before its 200 goes out, and the uploads of one commit reach the loop with one wake-up.
struct Outbox {
    ConsoleReceiver::Report report;
    std::atomic<std::size_t> open{0};    // connections accepted and not yet closed
    std::atomic<std::size_t> waiting{0}; // accepted, waiting for a thread
    std::atomic<int> listening{-1};      // the listening socket, once bound

    std::size_t waiting_now() const
    {
        return waiting.load(std::memory_order_relaxed) +
               accept_queue(listening.load(std::memory_order_relaxed));
    }

    std::mutex mutex;
    std::vector<std::pair<std::shared_ptr<CommitWait>, MarkerResult>> pending;

    void emit(ConsoleReport r)
    {
        r.open_connections = open.load(std::memory_order_relaxed);
        r.waiting_connections = waiting_now();
        std::vector<ConsoleReport> one;
        one.push_back(std::move(r));
        report(std::move(one));
    }

    // On the writer thread (a marker callback).
    void committed(std::shared_ptr<CommitWait> wait, const MarkerResult& r)
    {
        const std::lock_guard lock(mutex);
        pending.emplace_back(std::move(wait), r);
    }

    // On the writer thread, after a batch's marker callbacks.
    void flush()
    {
        std::vector<std::pair<std::shared_ptr<CommitWait>, MarkerResult>> answered;
        {
            const std::lock_guard lock(mutex);
            answered.swap(pending);
        }
        std::vector<ConsoleReport> reports;
        const std::size_t connections = open.load(std::memory_order_relaxed);
        const std::size_t queued = waiting_now();
        for (auto& [wait, r] : answered) {
            const std::lock_guard lock(wait->mutex);
            if (wait->abandoned) {
                continue;
            }
            wait->claimed = true;
            if (r.lost == 0 && r.inserted + r.duplicates > 0) {
                ConsoleReport& done = reports.emplace_back(std::move(wait->report));
                done.duplicate = r.inserted == 0;
                if (done.duplicate) {
                    done.stored.reset();
                }
                done.open_connections = connections;
                done.waiting_connections = queued;
            }
        }
        if (!reports.empty()) {
            try {
                report(std::move(reports));
            } catch (const std::exception&) {
                // Out of memory: the counters miss these uploads; they are stored, and
                // answered below.
            }
        }
        for (auto& [wait, r] : answered) {
            {
                const std::lock_guard lock(wait->mutex);
                if (!wait->claimed) {
                    continue;
                }
                wait->result = r;
            }
            wait->done.notify_one();
        }
    }
};

} // namespace

struct ConsoleReceiver::Impl {
    ConsoleOptions options;
    StoreWriter* writer = nullptr;
    std::shared_ptr<Outbox> outbox = std::make_shared<Outbox>();
    std::unique_ptr<httplib::Server> server;

    mutable std::mutex sensors_mutex;
    std::shared_ptr<const SensorTable> sensors;

    std::mutex rate_mutex;
    std::map<std::string, RateLimiter, std::less<>> rates;

    std::unique_ptr<LoginFailures> logins; // set by the constructor, from the options

    // The watchdog: when each connection (by fd and peer) was first seen reading, and
    // which peers are inside a handler now.
    std::mutex watch_mutex;
    std::condition_variable watch_wake;
    bool watch_stop = false;
    std::map<std::pair<int, std::string>, SteadyClock::time_point> reading_since;
    std::set<std::string> in_handler;
    // Peers answered with a refusal whose body was not read: shut down at the time given.
    std::vector<std::pair<std::string, SteadyClock::time_point>> closing;
    std::thread watchdog;

    std::mutex run_mutex;
    std::condition_variable run_changed;
    bool finished = false;
    RateLimiter log_limiter{5, std::chrono::seconds(60)};
    std::mutex log_mutex;

    void emit(ConsoleReport r) { outbox->emit(std::move(r)); }

    std::shared_ptr<const SensorTable> current_sensors() const
    {
        const std::lock_guard lock(sensors_mutex);
        return sensors;
    }

    void log(const std::string& line)
    {
        std::uint64_t suppressed = 0;
        bool allowed = false;
        {
            const std::lock_guard lock(log_mutex);
            allowed = log_limiter.allow(SteadyClock::now(), suppressed);
        }
        if (!allowed) {
            return;
        }
        if (suppressed > 0) {
            log_line("console: " + std::to_string(suppressed) + " similar messages suppressed");
        }
        log_line("console: " + line);
    }

    // Answers a refusal and reports it. `close`: the body was not read.
    void refuse(httplib::Response& res, const std::string& sensor, ConsoleRefusal why,
                std::string_view detail, bool close)
    {
        if (BoundedPool::shedding()) {
            BoundedPool::shed_seen(); // counted here, not as an unseen connection
        }
        const ConsoleAnswer answer = answer_for(why, detail);
        res.status = answer.status;
        res.reason = answer.reason;
        // httplib 0.11 writes its own reason phrase; the reason goes in the body too.
        res.set_content(std::string(refusal_name(why)) + ": " + std::string(detail) + "\n",
                        "text/plain");
        if (why == ConsoleRefusal::unauthorized) {
            res.set_header("WWW-Authenticate", "Basic realm=\"modsec-observe console\"");
        }
        if (close) {
            res.set_header("Connection", "close");
        }
        ConsoleReport r;
        r.sensor = sensor;
        r.refusal = why;
        emit(std::move(r));
    }

    bool rate_allows(const std::string& sensor)
    {
        if (options.rate <= 0) {
            return true;
        }
        const std::lock_guard lock(rate_mutex);
        auto it = rates.find(sensor);
        if (it == rates.end()) {
            const auto burst = static_cast<std::size_t>(std::max(1.0, options.rate));
            it = rates
                     .emplace(
                         sensor,
                         RateLimiter(burst, std::chrono::duration_cast<SteadyClock::duration>(
                                                std::chrono::duration<double>(
                                                    static_cast<double>(burst) / options.rate))))
                     .first;
        }
        std::uint64_t suppressed = 0;
        return it->second.allow(SteadyClock::now(), suppressed);
    }

    // Who sends and whether the request may go on, from its line and headers only. A
    // connection beyond the bound (an overflow thread serves it) is refused whatever
    // it sends, under its sensor's name when its credentials are good.
    RequestContext decide(const httplib::Request& req)
    {
        RequestContext d = decide_route(req);
        if (BoundedPool::shedding()) {
            d.refusal = ConsoleRefusal::too_many_connections;
            d.detail = std::to_string(options.workers) + " served and " +
                       std::to_string(options.pending) + " waiting";
        }
        return d;
    }

    // check_credentials(), counting a failed login against the client's address.
    RequestContext decide_route(const httplib::Request& req)
    {
        RequestContext d = check_credentials(req);
        if (d.refusal == ConsoleRefusal::unauthorized &&
            logins->failed(req.remote_addr, SteadyClock::now())) {
            log("refusing " + req.remote_addr + " for " +
                std::to_string(options.login_window.count()) +
                " s: " + std::to_string(options.login_failures) + " failed logins");
        }
        return d;
    }

    RequestContext check_credentials(const httplib::Request& req)
    {
        RequestContext d;
        d.set = true;
        d.sensor = "-";
        d.declared = declared_length(req);
        if (logins->blocked(req.remote_addr, SteadyClock::now())) {
            d.refusal = ConsoleRefusal::login_blocked;
            d.detail = req.remote_addr;
            return d;
        }
        const auto sensors_now = current_sensors();
        if (req.method == "PUT" && req.path == k_mlogc_path) {
            const auto credentials = parse_basic_auth(req.get_header_value("Authorization"));
            const auto name =
                credentials ? sensors_now->authenticate(credentials->user, credentials->password)
                            : std::nullopt;
            if (!name) {
                d.refusal = ConsoleRefusal::unauthorized;
                d.detail = credentials ? "wrong credentials" : "no Basic credentials";
                return d;
            }
            d.sensor = *name;
        } else if (req.method == "POST" && req.path.starts_with(k_v3_prefix)) {
            const V3Sensor* found =
                sensors_now->find_token(std::string_view(req.path).substr(k_v3_prefix.size()));
            if (found == nullptr) {
                d.refusal = ConsoleRefusal::unauthorized;
                d.detail = "unknown token";
                return d;
            }
            d.sensor = found->name;
            bool allowed = found->allow.empty();
            for (const Network& net : found->allow) {
                allowed = allowed || network_contains(net, req.remote_addr);
            }
            if (!allowed) {
                d.refusal = ConsoleRefusal::forbidden;
                d.detail = req.remote_addr;
                return d;
            }
        } else {
            d.refusal = ConsoleRefusal::not_found;
            d.detail = "only PUT /rpc/auditLogReceiver and POST /v3/TOKEN are served";
            return d;
        }
        d.fallback_vhost = d.sensor;
        if (!d.declared) {
            d.refusal = ConsoleRefusal::bad_request;
            d.detail = "invalid Content-Length";
        } else if (*d.declared > options.max_body) {
            d.refusal = ConsoleRefusal::too_large;
            d.detail =
                std::to_string(*d.declared) + " bytes, at most " + std::to_string(options.max_body);
        } else if (!rate_allows(d.sensor)) {
            d.refusal = ConsoleRefusal::rate_limited;
        }
        return d;
    }

    static std::optional<std::uint64_t> declared_length(const httplib::Request& req)
    {
        const std::string length = req.get_header_value("Content-Length");
        std::uint64_t declared = 0;
        if (length.empty()) {
            return declared;
        }
        const auto [ptr, ec] =
            std::from_chars(length.data(), length.data() + length.size(), declared);
        if (ec != std::errc() || ptr != length.data() + length.size()) {
            return std::nullopt;
        }
        return declared;
    }

    // Answers a refusal whose body will not be read, and ends the connection soon after
    // the answer (its unread bytes must not be taken for a next request). Not at once:
    // httplib writes nothing to a socket whose read side is shut down.
    void refuse_unread(const httplib::Request& req, httplib::Response& res, const RequestContext& d)
    {
        refuse(res, d.sensor, *d.refusal, d.detail, true);
        const std::lock_guard lock(watch_mutex);
        closing.emplace_back(peer_of(req), SteadyClock::now() + std::chrono::seconds(1));
    }

    // Expect: 100-continue: refusals are answered before the body is sent.
    int expect_continue(const httplib::Request& req, httplib::Response& res)
    {
        t_request = decide(req);
        if (!t_request.refusal) {
            return 100;
        }
        const RequestContext d = std::move(t_request);
        t_request = RequestContext{};
        refuse_unread(req, res, d);
        return res.status;
    }

    // Before the body is read. A refusal of a small body is answered after httplib read
    // it (in serve() or on_error()), so the connection stays in step; a large body is
    // not read: the answer comes now and the connection ends, as it does for a
    // connection beyond the bound (its thread must be free for the next one).
    httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res)
    {
        if (!t_request.set) {
            t_request = decide(req);
        }
        const bool large = t_request.refusal != ConsoleRefusal::too_large &&
                           t_request.declared.value_or(k_unread_body + 1) > k_unread_body;
        if (t_request.refusal &&
            (large || t_request.refusal == ConsoleRefusal::too_many_connections)) {
            const RequestContext d = std::move(t_request);
            t_request = RequestContext{};
            refuse_unread(req, res, d);
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    }

    // httplib's own 4xx (a body over the limit, no route, a request it could not
    // parse), and the refusals decided before the body was read.
    httplib::Server::HandlerResponse on_error(const httplib::Request& req, httplib::Response& res)
    {
        if (!res.body.empty()) {
            return httplib::Server::HandlerResponse::Unhandled; // ours: already reported
        }
        const RequestContext d = std::move(t_request);
        t_request = RequestContext{};
        const std::string sensor = d.set ? d.sensor : "-";
        if (d.refusal && d.refusal != ConsoleRefusal::too_large) {
            refuse(res, sensor, *d.refusal, d.detail, false);
        } else if (res.status == 413 || d.refusal == ConsoleRefusal::too_large) {
            refuse(res, sensor, ConsoleRefusal::too_large,
                   "at most " + std::to_string(options.max_body) + " bytes", false);
        } else {
            refuse(res, sensor, ConsoleRefusal::bad_request,
                   "HTTP " + std::to_string(res.status) + " " + req.method, true);
        }
        return httplib::Server::HandlerResponse::Handled;
    }

    void serve(const httplib::Request& req, httplib::Response& res)
    {
        const RequestContext context = std::move(t_request);
        t_request = RequestContext{};
        if (!context.set) { // cannot happen: pre-routing ran
            refuse(res, "-", ConsoleRefusal::bad_request, "no context", true);
            return;
        }
        if (context.refusal) {
            refuse(res, context.sensor, *context.refusal, context.detail, false);
            return;
        }
        const std::string peer = peer_of(req);
        {
            const std::lock_guard lock(watch_mutex);
            in_handler.insert(peer);
        }
        serve_entry(req, res, context);
        {
            const std::lock_guard lock(watch_mutex);
            in_handler.erase(peer);
            // The next request on this connection starts reading now.
            for (auto& [key, since] : reading_since) {
                if (key.second == peer) {
                    since = SteadyClock::now();
                }
            }
        }
    }

    void serve_entry(const httplib::Request& req, httplib::Response& res,
                     const RequestContext& context)
    {
        const std::string& sensor = context.sensor;
        const std::string_view body = req.body;
        if (body.size() > options.max_body) {
            refuse(res, sensor, ConsoleRefusal::too_large, "", false);
            return;
        }
        switch (check_content_hash(req.get_header_value("X-Content-Hash"), body)) {
        case HashCheck::absent:
        case HashCheck::match: break;
        case HashCheck::mismatch:
            refuse(res, sensor, ConsoleRefusal::hash_mismatch, "md5 of the body differs", false);
            return;
        case HashCheck::malformed:
            refuse(res, sensor, ConsoleRefusal::hash_mismatch, "expected md5:<32 hex digits>",
                   false);
            return;
        }
        thread_local std::unique_ptr<JsonEntryParser> json;
        thread_local std::string scratch;
        if (!json) {
            json = std::make_unique<JsonEntryParser>(options.max_body);
        }
        auto decoded = decode_upload(body, "sensor:" + sensor, context.fallback_vhost,
                                     options.max_data, *json, scratch);
        if (!decoded) {
            refuse(res, sensor, ConsoleRefusal::malformed, decoded.error(), false);
            return;
        }
        if (writer == nullptr) {
            refuse(res, sensor, ConsoleRefusal::no_history, "", false);
            return;
        }
        if (writer->too_old(decoded->event.time_us)) {
            // Stored, retention would delete it at its next step: a permanent refusal that
            // mlogc logs (409), counted for the sensor, instead of a silent loss.
            refuse(res, sensor, ConsoleRefusal::too_old,
                   "--history-days " + std::to_string(writer->max_age_days()), false);
            return;
        }
        auto wait = std::make_shared<CommitWait>();
        wait->report.sensor = sensor;
        wait->report.bytes = body.size();
        wait->report.stored = *decoded; // for the live views, when newly stored
        const OfferResult offered = writer->offer_marked(
            std::move(*decoded), Offer{writer->new_producer(), Dedup::request, /*bulk=*/true},
            [wait, box = outbox](const MarkerResult& result) { box->committed(wait, result); },
            /*commit_now=*/true);
        if (offered != OfferResult::accepted) {
            refuse(res, sensor, ConsoleRefusal::store_busy, "writer queue full", false);
            return;
        }
        std::optional<MarkerResult> result;
        {
            std::unique_lock lock(wait->mutex);
            const auto answered = [&] { return wait->result.has_value(); };
            wait->done.wait_for(lock, options.commit_wait, answered);
            if (wait->claimed) {
                wait->done.wait(lock, answered); // reported as committed: a moment
            }
            result = wait->result;
            wait->abandoned = !result;
        }
        if (!result) {
            // It may still be committed; mlogc sends it again and finds it stored.
            refuse(res, sensor, ConsoleRefusal::store_busy, "commit takes too long", false);
            return;
        }
        if (result->lost > 0 || result->inserted + result->duplicates == 0) {
            refuse(res, sensor, ConsoleRefusal::store_error, "not committed", false);
            return;
        }
        // Reported by the marker callback. No body: the answer is one write (httplib
        // writes the headers and a body in two, each after a poll).
        res.status = 200;
    }

    // Every second: connections reading one request for longer than the deadline are
    // shut down (their worker then finishes and closes them), and the connection gauges
    // are reported when they changed (a connection that sends nothing reports nothing).
    void watch()
    {
        const int port = options.address.port;
        std::pair<std::size_t, std::size_t> gauges{0, 0};
        std::unique_lock lock(watch_mutex);
        while (!watch_stop) {
            watch_wake.wait_for(lock, std::chrono::seconds(1));
            if (watch_stop) {
                break;
            }
            lock.unlock();
            const std::pair now_gauges{outbox->open.load(std::memory_order_relaxed),
                                       outbox->waiting_now()};
            if (now_gauges != gauges) {
                gauges = now_gauges;
                ConsoleReport status; // no sensor: the gauges only
                status.open_connections = gauges.first;
                status.waiting_connections = gauges.second;
                std::vector<ConsoleReport> one;
                one.push_back(std::move(status));
                outbox->report(std::move(one));
            }
            const std::vector<Connection> now_open = connections_on(port);
            lock.lock();
            const auto now = SteadyClock::now();
            std::map<std::pair<int, std::string>, SteadyClock::time_point> next;
            for (const Connection& c : now_open) {
                const auto close_now =
                    std::find_if(closing.begin(), closing.end(), [&](const auto& x) {
                        return x.first == c.peer && x.second <= now;
                    });
                if (close_now != closing.end()) {
                    (void)::shutdown(c.fd, SHUT_RDWR);
                    continue;
                }
                auto key = std::make_pair(c.fd, c.peer);
                const auto it = reading_since.find(key);
                const auto since = it == reading_since.end() ? now : it->second;
                if (in_handler.count(c.peer) == 0 && now - since > options.deadline) {
                    (void)::shutdown(c.fd, SHUT_RDWR);
                    ConsoleReport r;
                    r.sensor = "-";
                    r.refusal = ConsoleRefusal::slow_client;
                    lock.unlock();
                    emit(std::move(r));
                    log("closed a connection from " + c.peer + ": one request took longer than " +
                        std::to_string(options.deadline.count()) + " s");
                    lock.lock();
                    continue;
                }
                next.emplace(std::move(key), since);
            }
            reading_since = std::move(next);
            std::erase_if(closing, [&](const auto& x) { return x.second <= now; });
        }
    }
};

ConsoleReceiver::ConsoleReceiver(ConsoleOptions options, std::shared_ptr<const SensorTable> sensors,
                                 StoreWriter* writer, Report report)
    : m_impl(std::make_unique<Impl>())
{
    m_impl->options = std::move(options);
    m_impl->sensors = sensors ? std::move(sensors) : std::make_shared<const SensorTable>();
    m_impl->writer = writer;
    m_impl->outbox->report = std::move(report);
    m_impl->logins = std::make_unique<LoginFailures>(m_impl->options.login_failures,
                                                     m_impl->options.login_window);
    if (writer != nullptr) {
        writer->set_after_markers([box = m_impl->outbox] { box->flush(); });
    }
}

ConsoleReceiver::~ConsoleReceiver()
{
    stop();
    if (m_impl->writer != nullptr) {
        m_impl->writer->set_after_markers({});
    }
}

Result<void> ConsoleReceiver::bind()
{
    Impl* impl = m_impl.get();
    const ConsoleOptions& o = impl->options;
    std::function<int()> listening;
    if (!o.tls_cert.empty()) {
        auto tls = std::make_unique<ListeningServer<httplib::SSLServer>>(o.tls_cert.c_str(),
                                                                         o.tls_key.c_str());
        if (!tls->is_valid()) {
            return fail("cannot load the TLS certificate " + o.tls_cert + " or key " + o.tls_key);
        }
        listening = [s = tls.get()] { return s->listening_socket(); };
        impl->server = std::move(tls);
    } else {
        auto plain = std::make_unique<ListeningServer<httplib::Server>>();
        listening = [s = plain.get()] { return s->listening_socket(); };
        impl->server = std::move(plain);
    }
    httplib::Server& server = *impl->server;
    server.new_task_queue = [impl] {
        // A connection beyond the bound that sent no request: counted as refused.
        Overflow overflow{impl->options.overflow_threads, [impl] {
                              ConsoleReport r;
                              r.sensor = "-";
                              r.refusal = ConsoleRefusal::too_many_connections;
                              impl->emit(std::move(r));
                          }};
        return new BoundedPool(impl->options.workers, impl->options.pending,
                               PoolGauges{&impl->outbox->open, &impl->outbox->waiting},
                               std::move(overflow));
    };
    server.set_socket_options([](socket_t sock) {
        const int yes = 1;
        (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Answers go out in two writes (headers, body): without TCP_NODELAY, Nagle and the
    // client's delayed ACK add 40 ms to every answer (curl, hence mlogc, sets it too).
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(1000);
    server.set_keep_alive_timeout(5);
    server.set_read_timeout(static_cast<time_t>(o.read_timeout.count()));
    server.set_write_timeout(10);
    server.set_payload_max_length(o.max_body);
    server.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
        return impl->pre_route(req, res);
    });
    server.set_expect_100_continue_handler(
        [impl](const httplib::Request& req, httplib::Response& res) {
            return impl->expect_continue(req, res);
        });
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [impl](const httplib::Request& req, httplib::Response& res) {
            return impl->on_error(req, res);
        }));
    const auto handler = [impl](const httplib::Request& req, httplib::Response& res) {
        try {
            impl->serve(req, res);
        } catch (const std::exception& e) {
            // Only memory exhaustion gets here; the client retries (503).
            res.status = 503;
            res.set_content("out of memory\n", "text/plain");
            impl->log(std::string("cannot serve a request: ") + e.what());
        }
    };
    server.Put(std::string(k_mlogc_path), handler);
    server.Post(R"(/v3/[^/]+)", handler);

    errno = 0;
    if (!server.bind_to_port(o.address.host, o.address.port, AI_NUMERICHOST | AI_PASSIVE)) {
        const int err = errno;
        return fail("cannot listen on " + o.address.host + ":" + std::to_string(o.address.port) +
                    ": " + (err != 0 ? errno_text(err) : "bind failed"));
    }
    impl->outbox->listening.store(listening(), std::memory_order_relaxed);
    return ok();
}

void ConsoleReceiver::start()
{
    Impl* impl = m_impl.get();
    impl->watchdog = std::thread([impl] { impl->watch(); });
    m_thread = std::thread([impl] {
        (void)impl->server->listen_after_bind();
        std::lock_guard lock(impl->run_mutex);
        impl->finished = true;
        impl->run_changed.notify_all();
    });
    std::unique_lock lock(impl->run_mutex);
    while (!impl->finished && !impl->server->is_running()) {
        impl->run_changed.wait_for(lock, std::chrono::milliseconds(1));
    }
}

void ConsoleReceiver::stop()
{
    Impl* impl = m_impl.get();
    if (impl->watchdog.joinable()) {
        {
            const std::lock_guard lock(impl->watch_mutex);
            impl->watch_stop = true;
        }
        impl->watch_wake.notify_all();
        impl->watchdog.join();
    }
    if (!m_thread.joinable()) {
        return;
    }
    impl->outbox->listening.store(-1, std::memory_order_relaxed); // closed by stop()
    impl->server->stop();
    std::unique_lock lock(impl->run_mutex);
    while (!impl->finished) {
        lock.unlock();
        for (const Connection& c : connections_on(impl->options.address.port)) {
            (void)::shutdown(c.fd, SHUT_RDWR);
        }
        lock.lock();
        impl->run_changed.wait_for(lock, std::chrono::milliseconds(50));
    }
    lock.unlock();
    m_thread.join();
}

void ConsoleReceiver::set_sensors(std::shared_ptr<const SensorTable> sensors)
{
    {
        const std::lock_guard lock(m_impl->sensors_mutex);
        m_impl->sensors = std::move(sensors);
    }
    m_impl->logins->clear();
}

std::size_t ConsoleReceiver::open_connections() const noexcept
{
    return m_impl->outbox->open.load(std::memory_order_relaxed);
}

} // namespace mso
