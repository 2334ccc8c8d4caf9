// The daemon's event loop: one thread, one ppoll() over the event socket, the
// query listener and its clients. Datagrams go to the Collector; query lines go
// through answer_query(). No call in the loop blocks except ppoll() itself.
#pragma once

#include "collector.h"
#include "fd.h"
#include "log.h"

#include <signal.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace mso {

inline constexpr std::size_t k_max_query_clients = 64;
// Query clients that send nothing and read nothing for this long are closed.
inline constexpr std::chrono::seconds k_query_client_idle_timeout{60};
// Receive buffer requested for the event socket.
inline constexpr int k_event_socket_rcvbuf = 4 * 1024 * 1024;

// Runs the loop over sockets it owns; borrows `collector`. Not thread-safe.
class Server {
public:
    Server(Collector& collector, Fd event_socket, Fd query_listener);

    // Serves until `stop` becomes non-zero. Signals that set `stop` must be
    // blocked by the caller; they are unblocked only while waiting in ppoll()
    // (`wait_mask`), so a signal is never missed between the check and the wait.
    void run(const volatile sig_atomic_t& stop, const sigset_t& wait_mask);

    [[nodiscard]] std::size_t client_count() const noexcept { return m_clients.size(); }

private:
    struct Client {
        Fd fd;
        std::string input;  // bytes after the last complete line
        std::string output; // answers not yet written
        bool closing = false; // close once output is flushed
        std::chrono::steady_clock::time_point last_activity;
    };

    void drain_datagrams();
    void accept_clients();
    void read_client(Client& client);
    void write_client(Client& client);
    void answer_lines(Client& client);

    Collector& m_collector;
    Fd m_event_socket;
    Fd m_query_listener;
    std::vector<Client> m_clients;
    std::string m_datagram; // receive buffer, k_max_datagram_bytes
    RateLimiter m_malformed_log;
    RateLimiter m_socket_log;
    RateLimiter m_client_log;
};

} // namespace mso
