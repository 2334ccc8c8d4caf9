// cpp-httplib behind MetricsHttp. The library accepts on one thread and hands
// each connection to a task queue; ours has k_metrics_threads workers and a
// short bounded backlog, so a flood of connections waits in the kernel's listen
// queue instead of holding file descriptors here. One request per connection
// (no keep-alive): a Prometheus scrape every 15 s or more gains nothing from it.
// httplib's stop() only closes the listener; a client dribbling its request
// would keep a worker (and so the daemon's exit) waiting, so stop() also shuts
// down every connection still open on our port.
#include "daemon/metrics_http.h"

#include "daemon/exposition.h"
#include "daemon/http_pool.h"
#include "util/errno_text.h"
#include "util/log.h"

#include <httplib.h>

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

namespace mso {

namespace {

// Connections accepted but not yet served, beyond the busy workers.
constexpr std::size_t k_max_pending_connections = 8;
constexpr time_t k_read_timeout_s = 5;
constexpr time_t k_write_timeout_s = 5;
// Bodies are never read (only GET is served); this bounds what httplib would
// read for a request that still reached it.
constexpr std::size_t k_max_request_body = 1024;

bool is_ip_literal(const std::string& host, int family)
{
    unsigned char buffer[sizeof(in6_addr)];
    return ::inet_pton(family, host.c_str(), buffer) == 1;
}

} // namespace

Result<ListenAddress> parse_listen_address(std::string_view text)
{
    ListenAddress address;
    std::string_view port;
    int family = AF_INET;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return fail("expected [IPV6]:PORT, got \"" + std::string(text) + "\"");
        }
        address.host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
        family = AF_INET6;
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return fail("expected HOST:PORT or [IPV6]:PORT, got \"" + std::string(text) + "\"");
        }
        address.host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
    }
    if (!is_ip_literal(address.host, family)) {
        return fail("\"" + address.host + "\" is not an " + (family == AF_INET ? "IPv4" : "IPv6") +
                    " address (use e.g. 127.0.0.1:9145 or [::1]:9145)");
    }
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || address.port < 1 ||
        address.port > 65535) {
        return fail("invalid port \"" + std::string(port) + "\" (expected 1-65535)");
    }
    return address;
}

struct MetricsHttp::Impl {
    httplib::Server server;
    Render render;
    int port = 0;
    std::mutex mutex; // guards `finished`
    std::condition_variable changed;
    bool finished = false; // listen_after_bind() returned
};

MetricsHttp::MetricsHttp(Render render) : m_impl(std::make_unique<Impl>())
{
    m_impl->render = std::move(render);
    httplib::Server& server = m_impl->server;
    server.new_task_queue = [] {
        return new BoundedPool(k_metrics_threads, k_max_pending_connections);
    };
    // httplib's default adds SO_REUSEPORT, which would let a second collector
    // bind the same port silently.
    server.set_socket_options([](socket_t sock) {
        const int yes = 1;
        (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server.set_keep_alive_max_count(1);
    server.set_read_timeout(k_read_timeout_s);
    server.set_write_timeout(k_write_timeout_s);
    server.set_payload_max_length(k_max_request_body);
    // Runs before any body is read: everything but GET (HEAD) /metrics is 404.
    server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
        if ((req.method == "GET" || req.method == "HEAD") && req.path == "/metrics") {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        res.status = 404;
        res.set_content("not found: only GET /metrics is served\n", "text/plain");
        return httplib::Server::HandlerResponse::Handled;
    });
    server.Get("/metrics", [impl = m_impl.get()](const httplib::Request&, httplib::Response& res) {
        try {
            res.set_content(impl->render(), std::string(k_exposition_content_type));
        } catch (const std::exception& e) {
            // Only memory exhaustion gets here; the daemon carries on.
            res.status = 500;
            res.set_content("cannot render metrics\n", "text/plain");
            log_line(std::string("metrics: cannot render: ") + e.what());
        }
    });
}

MetricsHttp::~MetricsHttp()
{
    stop();
}

Result<void> MetricsHttp::bind(const ListenAddress& address)
{
    errno = 0;
    if (m_impl->server.bind_to_port(address.host, address.port, AI_NUMERICHOST | AI_PASSIVE)) {
        m_impl->port = address.port;
        return ok();
    }
    const int err = errno;
    const std::string where = address.host.find(':') == std::string::npos
                                  ? address.host + ":" + std::to_string(address.port)
                                  : "[" + address.host + "]:" + std::to_string(address.port);
    return fail("cannot listen on " + where + ": " + (err != 0 ? errno_text(err) : "bind failed"));
}

void MetricsHttp::start()
{
    Impl* impl = m_impl.get();
    m_thread = std::thread([impl] {
        (void)impl->server.listen_after_bind();
        std::lock_guard lock(impl->mutex);
        impl->finished = true;
        impl->changed.notify_all();
    });
    // stop() is a no-op for a server not yet running: wait until it runs (or
    // has already given up) so that a stop() right after start() is not lost.
    std::unique_lock lock(impl->mutex);
    while (!impl->finished && !impl->server.is_running()) {
        impl->changed.wait_for(lock, std::chrono::milliseconds(1));
    }
}

void MetricsHttp::stop()
{
    if (!m_thread.joinable()) {
        return;
    }
    Impl* impl = m_impl.get();
    impl->server.stop();
    // Connections accepted just before the listener closed may still be queued:
    // sweep until the serving thread has drained them all.
    std::unique_lock lock(impl->mutex);
    while (!impl->finished) {
        lock.unlock();
        shutdown_connections(impl->port);
        lock.lock();
        impl->changed.wait_for(lock, std::chrono::milliseconds(50));
    }
    lock.unlock();
    m_thread.join();
}

} // namespace mso
