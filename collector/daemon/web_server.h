// The dashboard's HTTP side of `--http-listen` (docs/protocol.md, "HTTP API"): the
// embedded files at `/`, `GET /api/<command>?key=value...` answered like the query
// socket's request lines, `/api/tune_file` (`tune`'s answer as the exclusion file,
// protocol/exclusion_file.h), `/api/tail` as server-sent events, and `/metrics`. Only GET
// and HEAD; every response carries a strict Content-Security-Policy and its friends
// (docs/SECURITY.md).
//
// It never touches the Collector: a question goes to the loop through `ask` (the
// daemon passes Server::ask, which posts to the loop inbox) and the serving thread
// waits for the reply with a timeout, so the loop never waits on an HTTP client. The
// same question asked again within a second shares the first one's answer
// (answer_cache.h), so ten dashboards cost the loop about what one does.
// Threads: cpp-httplib's accepting thread plus k_web_threads workers; a tail stream
// holds a worker for as long as it is open, so at most k_max_tail_streams run at once.
#pragma once

#include "daemon/metrics_http.h"
#include "daemon/tail_sink.h"
#include "protocol/query.h"
#include "util/result.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace mso {

inline constexpr std::size_t k_web_threads = 8;
inline constexpr std::size_t k_max_tail_streams = 4;
// How long a request waits for the loop's (or the history worker's) answer.
inline constexpr std::chrono::seconds k_web_answer_timeout{30};

// The dashboard's certificate and key (PEM files; both empty: plain HTTP).
struct WebTls {
    std::string cert;
    std::string key;
};

// Whether `address` is a loopback address (127.0.0.0/8, ::1): the only place the
// dashboard may listen without authentication unless --http-insecure. Pure.
[[nodiscard]] bool is_loopback(const ListenAddress& address);

struct WebHandlers {
    // Answers request line `line`; `reply` is called once, from any thread, with the
    // answer line. Must not block.
    std::function<void(std::string line, std::function<void(std::string)> reply)> ask;
    // Streams the events `filter` matches into the sink until it is closed.
    std::function<void(EventFilter filter, std::shared_ptr<TailSink> sink)> subscribe;
    // The body of /metrics (may block on the collector lock); empty: no /metrics.
    std::function<std::string()> metrics;
    // Whether a request's `Authorization` header value ("" when absent) lets it in; empty:
    // every request does. May block (a password check). Refused requests get 401 with a
    // Basic challenge, before anything else is looked at.
    std::function<bool(const std::string& authorization)> authorize;
};

// Owns the listening socket and the serving threads. Not copyable; its methods are
// called from one thread (the daemon's main thread).
class WebServer {
public:
    // With `tls` (cert and key), serves HTTPS; a certificate that cannot be loaded makes
    // bind() fail.
    explicit WebServer(WebHandlers handlers,
                       std::chrono::milliseconds answer_timeout = k_web_answer_timeout,
                       const WebTls& tls = {});
    ~WebServer(); // stop()
    WebServer(const WebServer&) = delete;
    WebServer& operator=(const WebServer&) = delete;

    // Binds and listens (SO_REUSEADDR only); port 0 picks a free one (port()). Blocks
    // only on bind(2).
    [[nodiscard]] Result<void> bind(const ListenAddress& address);
    [[nodiscard]] int port() const;
    // Whether it serves HTTPS.
    [[nodiscard]] bool tls() const;
    // Starts serving on a new thread; call after a successful bind().
    void start();
    // Ends open tail streams, stops accepting, lets requests in progress finish
    // (bounded by the timeouts) and joins every thread. Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::thread m_thread;
};

} // namespace mso
