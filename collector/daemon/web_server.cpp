// cpp-httplib behind WebServer. Routing is by hand in one pre-routing handler (no
// std::regex routes): the method check first, then /api/tail, /api/tune_file,
// /api/<command>, /metrics and the embedded files. One request per connection (no
// keep-alive), so an idle browser tab holds no worker; the bounded pool (http_pool.h)
// keeps a flood of connections in the kernel's listen queue.
#include "daemon/web_server.h"

#include "daemon/answer_cache.h"
#include "daemon/exposition.h"
#include "daemon/http_pool.h"
#include "daemon/server.h"
#include "daemon/web_assets.h"
#include "protocol/exclusion_file.h"
#include "protocol/query.h"
#include "protocol/url_query.h"
#include "util/errno_text.h"
#include "util/log.h"

#include <httplib.h>

#include <netdb.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <future>
#include <optional>
#include <utility>
#include <vector>

namespace mso {

namespace {

constexpr std::size_t k_max_pending_connections = 16;
constexpr time_t k_read_timeout_s = 5;
constexpr time_t k_write_timeout_s = 5;
constexpr std::size_t k_max_request_body = 1024;
// A tail stream sends a comment this often when nothing happens, which is also how
// it notices that the browser went away.
constexpr std::chrono::seconds k_tail_keepalive{1};

constexpr const char k_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
constexpr const char k_json[] = "application/json";
constexpr const char k_api_prefix[] = "/api/";
constexpr const char k_tune_file_path[] = "/api/tune_file";
constexpr const char k_id_range[] = "id_range";
constexpr const char k_no_answer[] = "the collector did not answer in time; try again";

// The decoded query parameters in the order given (httplib keeps them in a multimap,
// which loses the order but keeps repeats; the order only matters for error messages).
std::vector<std::pair<std::string, std::string>> parameters(const httplib::Request& req)
{
    return {req.params.begin(), req.params.end()};
}

void send_json(httplib::Response& res, int status, std::string body)
{
    res.status = status;
    body += '\n';
    res.set_content(body, k_json);
    res.set_header("Cache-Control", "no-store");
}

// The renderer's messages name the CLI's option; the URL's parameter is `id_range`.
std::string in_url_terms(std::string message)
{
    constexpr std::string_view k_option = "--id-range";
    if (message.starts_with(k_option)) {
        message.replace(0, k_option.size(), k_id_range);
    }
    return message;
}

} // namespace

bool is_loopback(const ListenAddress& address)
{
    in_addr v4{};
    if (::inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    in6_addr v6{};
    return ::inet_pton(AF_INET6, address.host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6) != 0;
}

struct WebServer::Impl {
    std::unique_ptr<httplib::Server> server; // an SSLServer with TLS
    WebHandlers handlers;
    std::unique_ptr<AnswerCache> answers; // over handlers.ask
    std::chrono::milliseconds answer_timeout{};
    int port = 0;
    bool tls = false;
    std::atomic<std::size_t> tail_streams{0};
    std::atomic<bool> stopping{false};
    std::mutex mutex; // guards `finished`
    std::condition_variable changed;
    bool finished = false;

    // The loop's (or history worker's) answer to `line`, or nullopt after answer_timeout.
    std::optional<std::string> ask_and_wait(std::string line);
    void answer_api(std::string_view command, const httplib::Request& req, httplib::Response& res);
    // /api/tune_file: `tune`'s answer rendered as the exclusion file.
    void answer_tune_file(const httplib::Request& req, httplib::Response& res);
    void stream_tail(const httplib::Request& req, httplib::Response& res);
    void serve_asset(const httplib::Request& req, httplib::Response& res) const;
};

std::optional<std::string> WebServer::Impl::ask_and_wait(std::string line)
{
    std::shared_future<std::string> answer = answers->get(line);
    // In slices, so that stop() does not wait a whole timeout for an answer the
    // stopped loop will never give.
    const auto deadline = std::chrono::steady_clock::now() + answer_timeout;
    while (answer.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready &&
           std::chrono::steady_clock::now() < deadline && !stopping.load()) {
    }
    if (answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        return std::nullopt;
    }
    try {
        return answer.get();
    } catch (const std::future_error&) { // the loop dropped the question (stopping)
        return std::nullopt;
    }
}

void WebServer::Impl::answer_api(std::string_view command, const httplib::Request& req,
                                 httplib::Response& res)
{
    auto line = request_line_from_url(command, parameters(req));
    if (!line) {
        send_json(res, 400, error_answer(line.error()));
        return;
    }
    std::optional<std::string> body = ask_and_wait(std::move(*line));
    if (!body) {
        send_json(res, 503, error_answer(k_no_answer));
        return;
    }
    const int status = is_error_answer(*body) ? 400 : 200;
    send_json(res, status, std::move(*body));
}

void WebServer::Impl::answer_tune_file(const httplib::Request& req, httplib::Response& res)
{
    // `id_range` is this endpoint's own; the other parameters are tune's.
    std::vector<std::pair<std::string, std::string>> params;
    std::optional<std::string> id_range;
    for (auto& [key, value] : parameters(req)) {
        if (key != k_id_range) {
            params.emplace_back(key, value);
        } else if (id_range) {
            send_json(res, 400, error_answer("id_range given twice"));
            return;
        } else {
            id_range = value;
        }
    }
    IdRange range;
    if (id_range) {
        auto parsed = parse_id_range(*id_range);
        if (!parsed) {
            send_json(res, 400, error_answer(in_url_terms(parsed.error())));
            return;
        }
        range = *parsed;
    }
    auto line = request_line_from_url("tune", params);
    if (!line) {
        send_json(res, 400, error_answer(line.error()));
        return;
    }
    std::optional<std::string> answer = ask_and_wait(std::move(*line));
    if (!answer) {
        send_json(res, 503, error_answer(k_no_answer));
        return;
    }
    if (is_error_answer(*answer)) {
        send_json(res, 400, std::move(*answer));
        return;
    }
    // Pure and quick next to the analysis the history worker just did.
    auto file = exclusion_file_from_answer(*answer, range);
    if (!file) {
        send_json(res, 400, error_answer(in_url_terms(file.error())));
        return;
    }
    const std::string vhost = req.get_param_value("vhost");
    res.status = 200;
    res.set_content(std::move(*file), "text/plain; charset=utf-8");
    res.set_header("Content-Disposition",
                   "attachment; filename=\"" + exclusion_file_name(vhost) + "\"");
    res.set_header("Cache-Control", "no-store");
}

void WebServer::Impl::stream_tail(const httplib::Request& req, httplib::Response& res)
{
    auto line = request_line_from_url("tail", parameters(req));
    auto query = line ? parse_query(*line) : Result<Query>(fail(line.error()));
    if (!query) {
        send_json(res, 400, error_answer(query.error()));
        return;
    }
    if (tail_streams.fetch_add(1) >= k_max_tail_streams) {
        tail_streams.fetch_sub(1);
        send_json(res, 503,
                  error_answer("too many live streams (" + std::to_string(k_max_tail_streams) +
                               "); close one and try again"));
        return;
    }
    auto sink = std::make_shared<TailSink>(k_max_tail_backlog_bytes);
    handlers.subscribe(query->events, sink);
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, sink](std::size_t, httplib::DataSink& out) {
            if (stopping.load()) {
                out.done();
                return true;
            }
            const std::string lines = sink->take(k_tail_keepalive);
            std::string frames;
            if (lines.empty()) {
                frames = ": keep-alive\n\n";
            }
            for (std::size_t start = 0; start < lines.size();) {
                const std::size_t end = lines.find('\n', start);
                const std::size_t stop = end == std::string::npos ? lines.size() : end;
                frames += "data: ";
                frames.append(lines, start, stop - start);
                frames += "\n\n";
                start = stop + 1;
            }
            return out.is_writable() && out.write(frames.data(), frames.size());
        },
        [this, sink](bool) {
            sink->close();
            tail_streams.fetch_sub(1);
        });
}

void WebServer::Impl::serve_asset(const httplib::Request& req, httplib::Response& res) const
{
    const std::string_view path = req.path == "/" ? "/index.html" : std::string_view(req.path);
    for (const WebAsset& asset : web_assets()) {
        if (asset.path == path) {
            res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
            res.set_header("Cache-Control", "no-cache");
            return;
        }
    }
    res.status = 404;
    res.set_content("not found\n", "text/plain; charset=utf-8");
}

WebServer::WebServer(WebHandlers handlers, std::chrono::milliseconds answer_timeout,
                     const WebTls& tls)
    : m_impl(std::make_unique<Impl>())
{
    Impl* impl = m_impl.get();
    impl->handlers = std::move(handlers);
    impl->answers = std::make_unique<AnswerCache>(
        [impl](std::string line, std::function<void(std::string)> reply) {
            impl->handlers.ask(std::move(line), std::move(reply));
        },
        [](const std::string& answer) { return is_error_answer(answer); });
    impl->answer_timeout = answer_timeout;
    if (tls.cert.empty()) {
        impl->server = std::make_unique<httplib::Server>();
    } else {
        impl->server = std::make_unique<httplib::SSLServer>(tls.cert.c_str(), tls.key.c_str());
        impl->tls = true;
    }
    httplib::Server& server = *impl->server;
    server.new_task_queue = [] {
        return new BoundedPool(k_web_threads, k_max_pending_connections);
    };
    server.set_socket_options([](socket_t sock) {
        const int yes = 1;
        (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server.set_keep_alive_max_count(1);
    server.set_read_timeout(k_read_timeout_s);
    server.set_write_timeout(k_write_timeout_s);
    server.set_payload_max_length(k_max_request_body);
    server.set_default_headers({
        {"Content-Security-Policy", k_csp},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
    });
    // Runs before any body is read and answers every request itself.
    server.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
        if (impl->handlers.authorize &&
            !impl->handlers.authorize(req.get_header_value("Authorization"))) {
            res.status = 401;
            res.set_header("WWW-Authenticate", R"(Basic realm="modsec-observe", charset="UTF-8")");
            res.set_content("authentication required\n", "text/plain; charset=utf-8");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method != "GET" && req.method != "HEAD") {
            res.status = 405;
            res.set_header("Allow", "GET, HEAD");
            res.set_content("method not allowed: the dashboard is read-only\n",
                            "text/plain; charset=utf-8");
            return httplib::Server::HandlerResponse::Handled;
        }
        try {
            if (req.path == "/api/tail") {
                impl->stream_tail(req, res);
            } else if (req.path == k_tune_file_path) {
                impl->answer_tune_file(req, res);
            } else if (req.path.starts_with(k_api_prefix)) {
                impl->answer_api(std::string_view(req.path).substr(sizeof(k_api_prefix) - 1), req,
                                 res);
            } else if (req.path == "/metrics" && impl->handlers.metrics) {
                res.set_content(impl->handlers.metrics(), std::string(k_exposition_content_type));
                res.set_header("Cache-Control", "no-store");
            } else {
                impl->serve_asset(req, res);
            }
        } catch (const std::exception& e) {
            // Only memory exhaustion gets here; the daemon carries on.
            res.status = 500;
            res.set_content("cannot answer\n", "text/plain; charset=utf-8");
            log_line(std::string("http: cannot answer ") + req.path + ": " + e.what());
        }
        return httplib::Server::HandlerResponse::Handled;
    });
}

WebServer::~WebServer()
{
    stop();
}

Result<void> WebServer::bind(const ListenAddress& address)
{
    if (!m_impl->server->is_valid()) {
        return fail("cannot load the TLS certificate or its key (--http-tls-cert, --http-tls-key)");
    }
    errno = 0;
    if (address.port == 0) {
        const int port =
            m_impl->server->bind_to_any_port(address.host, AI_NUMERICHOST | AI_PASSIVE);
        if (port > 0) {
            m_impl->port = port;
            return ok();
        }
    } else if (m_impl->server->bind_to_port(address.host, address.port,
                                            AI_NUMERICHOST | AI_PASSIVE)) {
        m_impl->port = address.port;
        return ok();
    }
    const int err = errno;
    const std::string where = address.host.find(':') == std::string::npos
                                  ? address.host + ":" + std::to_string(address.port)
                                  : "[" + address.host + "]:" + std::to_string(address.port);
    return fail("cannot listen on " + where + ": " + (err != 0 ? errno_text(err) : "bind failed"));
}

int WebServer::port() const
{
    return m_impl->port;
}

bool WebServer::tls() const
{
    return m_impl->tls;
}

void WebServer::start()
{
    Impl* impl = m_impl.get();
    m_thread = std::thread([impl] {
        (void)impl->server->listen_after_bind();
        std::lock_guard lock(impl->mutex);
        impl->finished = true;
        impl->changed.notify_all();
    });
    std::unique_lock lock(impl->mutex);
    while (!impl->finished && !impl->server->is_running()) {
        impl->changed.wait_for(lock, std::chrono::milliseconds(1));
    }
}

void WebServer::stop()
{
    if (!m_thread.joinable()) {
        return;
    }
    Impl* impl = m_impl.get();
    impl->stopping = true;
    impl->server->stop();
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
