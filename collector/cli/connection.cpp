// Connection handling for the CLI; see connection.h.
#include "cli/connection.h"

#include "util/errno_text.h"
#include "util/terminal.h"
#include "util/unix_socket.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

// Largest answer line accepted (a stats answer for many vhosts can be large).
constexpr std::size_t k_max_answer_bytes = 256 * 1024 * 1024;
constexpr int k_query_timeout_s = 30;

} // namespace

Result<void> CollectorConnection::open(const std::string& socket_path, int timeout_s)
{
    auto connected = connect_unix_stream(socket_path);
    if (!connected) {
        return fail("cannot connect to the collector at " + terminal_safe(socket_path) + ": " +
                    connected.error() + " (is modsec-observed running?)");
    }
    m_fd = std::move(*connected);
    if (timeout_s > 0) {
        timeval timeout{timeout_s, 0};
        (void)::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        (void)::setsockopt(m_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    }
    return ok();
}

Result<void> CollectorConnection::pending_refusal()
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
        return ok();
    }
    json answer = json::parse(
        m_buffer.begin(), m_buffer.begin() + static_cast<std::ptrdiff_t>(newline), nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
        return ok();
    }
    auto refused = answer_ok(std::move(answer));
    return refused ? ok() : fail(refused.error());
}

Result<void> CollectorConnection::send(std::string_view request_line)
{
    const std::string line = std::string(request_line) + "\n";
    for (std::size_t sent = 0; sent < line.size();) {
        const ssize_t n = ::send(m_fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const int err = errno;
            if (auto refusal = pending_refusal(); !refusal) {
                return refusal; // the collector's reason
            }
            return fail("cannot send the query: " + errno_text(err));
        }
        sent += static_cast<std::size_t>(n);
    }
    return ok();
}

Result<json> CollectorConnection::receive(bool interruptible)
{
    char chunk[65536];
    for (;;) {
        if (const auto newline = m_buffer.find('\n'); newline != std::string::npos) {
            json answer = json::parse(m_buffer.begin(),
                                      m_buffer.begin() + static_cast<std::ptrdiff_t>(newline),
                                      nullptr, false);
            m_buffer.erase(0, newline + 1);
            if (answer.is_discarded() || !answer.is_object()) {
                return fail("the collector sent an invalid answer");
            }
            return answer;
        }
        if (m_buffer.size() > k_max_answer_bytes) {
            return fail("the collector's answer is too large");
        }
        const ssize_t n = ::recv(m_fd.get(), chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR) {
            if (interruptible) {
                return fail(k_interrupted);
            }
            continue;
        }
        if (n < 0) {
            return fail("no answer from the collector: " + errno_text(errno));
        }
        if (n == 0) {
            return fail("the collector closed the connection without answering");
        }
        m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

Result<json> CollectorConnection::request(std::string_view request_line)
{
    if (auto sent = send(request_line); !sent) {
        return fail(sent.error());
    }
    auto answer = receive();
    if (!answer) {
        return answer;
    }
    return answer_ok(std::move(*answer));
}

Result<json> answer_ok(json answer)
{
    const auto ok = answer.find("ok");
    if (ok != answer.end() && ok->is_boolean() && ok->get<bool>()) {
        return answer;
    }
    const auto error = answer.find("error");
    return fail("the collector refused the query: " +
                (error != answer.end() && error->is_string()
                     ? terminal_safe(error->get_ref<const std::string&>())
                     : std::string("no reason given")));
}

Result<json> query_collector(const std::string& socket_path, std::string_view request_line)
{
    CollectorConnection connection;
    if (auto opened = connection.open(socket_path, k_query_timeout_s); !opened) {
        return fail(opened.error());
    }
    return connection.request(request_line);
}

} // namespace mso
