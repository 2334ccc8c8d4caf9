// Ending the connections of one local port (see http_pool.h).
#include "daemon/http_pool.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <string_view>

namespace mso {

namespace {

std::string peer_name(const sockaddr_storage& address)
{
    char host[INET6_ADDRSTRLEN] = {};
    int port = 0;
    if (address.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (address.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    return std::string(host) + ":" + std::to_string(port);
}

} // namespace

std::vector<Connection> connections_on(int port)
{
    std::vector<Connection> found;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return found;
    }
    while (const dirent* entry = ::readdir(dir)) {
        int fd = -1;
        const std::string_view name(entry->d_name);
        const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
        if (ec != std::errc() || ptr != name.data() + name.size() || fd == ::dirfd(dir)) {
            continue;
        }
        sockaddr_storage local{};
        socklen_t length = sizeof(local);
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
            continue;
        }
        int local_port = -1;
        if (local.ss_family == AF_INET) {
            local_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
        } else if (local.ss_family == AF_INET6) {
            local_port = ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
        }
        int listening = 0;
        socklen_t size = sizeof(listening);
        if (local_port != port ||
            ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || listening != 0) {
            continue;
        }
        // A peer that is already gone (ENOTCONN) leaves the peer empty: still ours to end.
        sockaddr_storage peer{};
        length = sizeof(peer);
        const bool named = ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
        found.push_back(Connection{fd, named ? peer_name(peer) : std::string()});
    }
    ::closedir(dir);
    return found;
}

void shutdown_connections(int port)
{
    for (const Connection& c : connections_on(port)) {
        (void)::shutdown(c.fd, SHUT_RDWR);
    }
}

} // namespace mso
