// Ending the connections of one local port (see http_pool.h).
#include "daemon/http_pool.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <string_view>

namespace mso {

// Shuts down (without closing: the worker owning the descriptor closes it)
// every accepted TCP socket of this process whose local port is `port`. Only
// the HTTP endpoints have TCP sockets here; query clients use a Unix socket, and
// the two endpoints listen on different ports.
void shutdown_connections(int port)
{
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return;
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
        if (local_port == port &&
            ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 && listening == 0) {
            (void)::shutdown(fd, SHUT_RDWR);
        }
    }
    ::closedir(dir);
}

} // namespace mso
