// Socket file handling. The stale-socket test connects to the path: a socket
// file nobody is bound to refuses the connection (ECONNREFUSED), which is the
// only case in which the file is removed.
#include "util/unix_socket.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace mso {

namespace {

std::string errno_text(int err)
{
    return std::strerror(err);
}

bool make_address(const std::string& path, sockaddr_un& addr, std::string& error)
{
    addr = {};
    addr.sun_family = AF_UNIX;
    if (path.empty()) {
        error = "socket path is empty";
        return false;
    }
    if (path.size() >= sizeof(addr.sun_path)) {
        error = "socket path " + path + " is too long (at most " +
                std::to_string(sizeof(addr.sun_path) - 1) + " bytes)";
        return false;
    }
    if (path.find('\0') != std::string::npos) {
        error = "socket path contains a NUL byte";
        return false;
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    return true;
}

// mkdir -p for the directories above `path`.
bool make_parents(const std::string& path, std::string& error)
{
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
        const std::string dir = path.substr(0, slash);
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            error = "cannot create directory " + dir + ": " + errno_text(errno);
            return false;
        }
    }
    return true;
}

// Removes a stale socket at `path`; fails if something else is there.
bool clear_path(const std::string& path, int type, const sockaddr_un& addr, std::string& error)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return true;
        }
        error = "cannot stat " + path + ": " + errno_text(errno);
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        error = path + " exists and is not a socket; refusing to replace it";
        return false;
    }
    Fd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!probe) {
        error = "cannot create socket: " + errno_text(errno);
        return false;
    }
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
        error = "another process is already listening on " + path +
                " (is modsec-observed already running?)";
        return false;
    }
    if (errno != ECONNREFUSED) {
        error = "cannot tell whether " + path + " is in use: " + errno_text(errno);
        return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        error = "cannot remove stale socket " + path + ": " + errno_text(errno);
        return false;
    }
    return true;
}

} // namespace

Result<BoundSocket> bind_unix_socket(const std::string& path, int type,
                                     const SocketFileOptions& options)
{
    sockaddr_un addr{};
    std::string error;
    if (!make_address(path, addr, error) || !make_parents(path, error) ||
        !clear_path(path, type, addr, error)) {
        return fail(error);
    }
    Fd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        return fail("cannot create socket: " + errno_text(errno));
    }
    // The kernel attaches a sender's credentials only if SO_PASSCRED is set when the
    // datagram is sent: set it before the path exists, or datagrams queued between
    // bind() and a later setsockopt() arrive as uid 65534 (overflow) and are refused.
    const int passcred = 1;
    if (type == SOCK_DGRAM &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &passcred, sizeof(passcred)) != 0) {
        return fail("cannot enable SO_PASSCRED: " + errno_text(errno));
    }
    // Never let the file exist with more permissions than requested.
    const mode_t old_umask = ::umask(static_cast<mode_t>(~options.mode & 0777));
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    const int bind_errno = errno;
    ::umask(old_umask);
    if (bound != 0) {
        return fail("cannot bind " + path + ": " + errno_text(bind_errno));
    }
    BoundSocket socket;
    socket.path = path;
    socket.fd = std::move(fd);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        socket.dev = st.st_dev;
        socket.ino = st.st_ino;
    }
    if (::chmod(path.c_str(), options.mode) != 0) {
        const int saved = errno;
        remove_socket_file(socket);
        return fail("cannot chmod " + path + ": " + errno_text(saved));
    }
    if (options.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *options.group) != 0) {
        const int saved = errno;
        remove_socket_file(socket);
        return fail("cannot change the group of " + path + ": " + errno_text(saved));
    }
    if (type == SOCK_STREAM && ::listen(socket.fd.get(), 64) != 0) {
        const int saved = errno;
        remove_socket_file(socket);
        return fail("cannot listen on " + path + ": " + errno_text(saved));
    }
    return socket;
}

void remove_socket_file(const BoundSocket& socket) noexcept
{
    struct stat st {};
    if (::lstat(socket.path.c_str(), &st) == 0 && st.st_dev == socket.dev &&
        st.st_ino == socket.ino) {
        ::unlink(socket.path.c_str());
    }
}

Result<Fd> connect_unix_stream(const std::string& path)
{
    sockaddr_un addr{};
    std::string error;
    if (!make_address(path, addr, error)) {
        return fail(error);
    }
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return fail("cannot create socket: " + errno_text(errno));
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        return fail(errno_text(errno));
    }
    return fd;
}

Result<gid_t> resolve_group(const std::string& name)
{
    if (name.empty()) {
        return fail("group name is empty");
    }
    std::vector<char> buffer(16384);
    group entry{};
    group* found = nullptr;
    const int err = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (err == 0 && found != nullptr) {
        return found->gr_gid;
    }
    unsigned long id = 0;
    const char* end = name.data() + name.size();
    if (auto [ptr, ec] = std::from_chars(name.data(), end, id); ec == std::errc() && ptr == end) {
        return static_cast<gid_t>(id);
    }
    return fail(err != 0 ? "cannot look up group " + name + ": " + errno_text(err)
                         : "unknown group " + name);
}

} // namespace mso
