// Connection handling for the CLI; see cli_connection.h.
#include "cli/connection.h"

#include "util/errno_text.h"
#include "util/terminal.h"
#include "util/unix_socket.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdio>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

// Largest answer line accepted (a stats answer for many vhosts can be large).
constexpr std::size_t k_max_answer_bytes = 256 * 1024 * 1024;
constexpr int k_query_timeout_s = 30;

void report_error(const std::string& message)
{
    std::fprintf(stderr, "modsec-observe: %s\n", message.c_str());
}

} // namespace

bool CollectorConnection::open(const std::string& socket_path, int timeout_s)
{
    m_socket_path = socket_path;
    auto connected = connect_unix_stream(socket_path);
    if (!connected) {
        report_error("cannot connect to the collector at " + terminal_safe(socket_path) + ": " +
                     connected.error() + " (is modsec-observed running?)");
        return false;
    }
    m_fd = std::move(*connected);
    if (timeout_s > 0) {
        timeval timeout{timeout_s, 0};
        (void)::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        (void)::setsockopt(m_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    }
    return true;
}

bool CollectorConnection::refusal_pending()
{
    // A collector that refuses a connection (client limit, peer credentials) writes one
    // error line and closes it, possibly before the query was sent: read what is there.
    char chunk[4096];
    for (;;) {
        const ssize_t n = ::recv(m_fd.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n <= 0 || m_buffer.size() > sizeof(chunk)) {
            break;
        }
        m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
    const auto newline = m_buffer.find('\n');
    if (newline == std::string::npos) {
        return false;
    }
    const json answer = json::parse(
        m_buffer.begin(), m_buffer.begin() + static_cast<std::ptrdiff_t>(newline), nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
        return false;
    }
    (void)answer_ok(answer);
    return true;
}

bool CollectorConnection::send(const json& request)
{
    const std::string line = request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    for (std::size_t sent = 0; sent < line.size();) {
        const ssize_t n = ::send(m_fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const int err = errno;
            if (refusal_pending()) {
                return false; // the collector's reason was printed
            }
            report_error("cannot send the query: " + errno_text(err));
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

std::optional<json> CollectorConnection::receive(bool quiet_on_interrupt)
{
    char chunk[65536];
    for (;;) {
        if (const auto newline = m_buffer.find('\n'); newline != std::string::npos) {
            json answer = json::parse(m_buffer.begin(),
                                      m_buffer.begin() + static_cast<std::ptrdiff_t>(newline),
                                      nullptr, false);
            m_buffer.erase(0, newline + 1);
            if (answer.is_discarded() || !answer.is_object()) {
                report_error("the collector sent an invalid answer");
                return std::nullopt;
            }
            return answer;
        }
        if (m_buffer.size() > k_max_answer_bytes) {
            report_error("the collector's answer is too large");
            return std::nullopt;
        }
        const ssize_t n = ::recv(m_fd.get(), chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR) {
            if (quiet_on_interrupt) {
                return std::nullopt;
            }
            continue;
        }
        if (n < 0) {
            report_error("no answer from the collector: " + errno_text(errno));
            return std::nullopt;
        }
        if (n == 0) {
            report_error("the collector closed the connection without answering");
            return std::nullopt;
        }
        m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

bool answer_ok(const json& answer)
{
    const auto ok = answer.find("ok");
    if (ok != answer.end() && ok->is_boolean() && ok->get<bool>()) {
        return true;
    }
    const auto error = answer.find("error");
    report_error("the collector refused the query: " +
                 (error != answer.end() && error->is_string()
                      ? terminal_safe(error->get_ref<const std::string&>())
                      : std::string("no reason given")));
    return false;
}

std::optional<json> query_collector(const std::string& socket_path, const json& request)
{
    CollectorConnection connection;
    if (!connection.open(socket_path, k_query_timeout_s) || !connection.send(request)) {
        return std::nullopt;
    }
    auto answer = connection.receive();
    if (!answer || !answer_ok(*answer)) {
        return std::nullopt;
    }
    return answer;
}

} // namespace mso
