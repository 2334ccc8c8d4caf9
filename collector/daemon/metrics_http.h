// The HTTP side of `--metrics-listen`: a cpp-httplib server on its own threads
// that answers `GET /metrics` with whatever the render callback returns, and
// 404 to anything else. It knows nothing of the Collector or its lock: the
// daemon passes a callback that takes the lock (daemon/main.cpp,
// Server::with_collector). httplib.h is included only by the .cpp files of the
// HTTP servers (through daemon/http_pool.h).
#pragma once

#include "util/result.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace mso {

// Where to listen: an IP literal (no brackets) and a port.
struct ListenAddress {
    std::string host;
    int port = 0;
};

// Parses `HOST:PORT` (IPv4 literal) or `[HOST]:PORT` (IPv6 literal). Host names
// are refused, so the endpoint binds exactly where the admin said. Pure; the error
// is lowercase, for "--metrics-listen: <error>".
[[nodiscard]] Result<ListenAddress> parse_listen_address(std::string_view text);

// Request threads serving /metrics; a scrape in progress holds one.
inline constexpr std::size_t k_metrics_threads = 2;

// Owns the listening socket and the serving threads. Not copyable; its methods
// are called from one thread (the daemon's main thread).
class MetricsHttp {
public:
    // Produces the body of one scrape. Called on a serving thread, possibly on
    // two at once: it must be thread-safe. It may block (on the collector lock).
    using Render = std::function<std::string()>;

    explicit MetricsHttp(Render render);
    ~MetricsHttp(); // stop()
    MetricsHttp(const MetricsHttp&) = delete;
    MetricsHttp& operator=(const MetricsHttp&) = delete;

    // Binds and listens on `address` (SO_REUSEADDR, not SO_REUSEPORT, so a port
    // in use is an error). Does not serve yet. Blocks only on bind(2).
    [[nodiscard]] Result<void> bind(const ListenAddress& address);
    // Starts serving on a new thread; call after a successful bind().
    void start();
    // Stops accepting, lets requests in progress finish (bounded by the read,
    // write and keep-alive timeouts, a few seconds) and joins every thread.
    // Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::thread m_thread;
};

} // namespace mso
