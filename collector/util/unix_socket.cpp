// Socket file handling. The stale-socket test connects to the path: a socket
// file nobody is bound to refuses the connection (ECONNREFUSED), which is the
// only case in which the file is removed.
#include "util/unix_socket.h"

#include "util/errno_text.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mso {

namespace {

Result<sockaddr_un> make_address(const std::string& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty()) {
        return fail("socket path is empty");
    }
    if (path.size() >= sizeof(addr.sun_path)) {
        return fail("socket path " + path + " is too long (at most " +
                    std::to_string(sizeof(addr.sun_path) - 1) + " bytes)");
    }
    if (path.find('\0') != std::string::npos) {
        return fail("socket path contains a NUL byte");
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    return addr;
}

// mkdir -p for the directories above `path`.
Result<void> make_parents(const std::string& path)
{
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
        const std::string dir = path.substr(0, slash);
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            return fail("cannot create directory " + dir + ": " + errno_text(errno));
        }
    }
    return ok();
}

// Removes a stale socket at `path`; fails if something else is there.
Result<void> clear_path(const std::string& path, int type, const sockaddr_un& addr)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return ok();
        }
        return fail("cannot stat " + path + ": " + errno_text(errno));
    }
    if (!S_ISSOCK(st.st_mode)) {
        return fail(path + " exists and is not a socket; refusing to replace it");
    }
    Fd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!probe) {
        return fail("cannot create socket: " + errno_text(errno));
    }
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
        return fail("another process is already listening on " + path +
                    " (is modsec-observed already running?)");
    }
    if (errno != ECONNREFUSED) {
        return fail("cannot tell whether " + path + " is in use: " + errno_text(errno));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return fail("cannot remove stale socket " + path + ": " + errno_text(errno));
    }
    return ok();
}

} // namespace

Result<BoundSocket> bind_unix_socket(const std::string& path, int type,
                                     const SocketFileOptions& options)
{
    const auto addr = make_address(path);
    if (!addr) {
        return fail(addr.error());
    }
    if (auto made = make_parents(path); !made) {
        return fail(made.error());
    }
    if (auto cleared = clear_path(path, type, *addr); !cleared) {
        return fail(cleared.error());
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
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
    const int bind_errno = errno;
    ::umask(old_umask);
    if (bound != 0) {
        return fail("cannot bind " + path + ": " + errno_text(bind_errno));
    }
    BoundSocket socket(std::move(fd), path); // from here on, a failure removes the file
    if (::chmod(path.c_str(), options.mode) != 0) {
        const int err = errno;
        return fail("cannot chmod " + path + ": " + errno_text(err));
    }
    if (options.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *options.group) != 0) {
        const int err = errno;
        return fail("cannot change the group of " + path + ": " + errno_text(err));
    }
    if (type == SOCK_STREAM && ::listen(socket.fd().get(), 64) != 0) {
        const int err = errno;
        return fail("cannot listen on " + path + ": " + errno_text(err));
    }
    return socket;
}

BoundSocket::BoundSocket(Fd fd, std::string path) noexcept
    : m_fd(std::move(fd)), m_path(std::move(path))
{
    struct stat st {};
    if (::lstat(m_path.c_str(), &st) == 0) {
        m_dev = st.st_dev;
        m_ino = st.st_ino;
    }
}

BoundSocket::BoundSocket(BoundSocket&& other) noexcept
    : m_fd(std::move(other.m_fd)),
      m_path(std::exchange(other.m_path, std::string())),
      m_dev(other.m_dev),
      m_ino(other.m_ino)
{
}

BoundSocket& BoundSocket::operator=(BoundSocket&& other) noexcept
{
    if (this != &other) {
        remove_file();
        m_fd = std::move(other.m_fd);
        m_path = std::exchange(other.m_path, std::string());
        m_dev = other.m_dev;
        m_ino = other.m_ino;
    }
    return *this;
}

void BoundSocket::remove_file() noexcept
{
    if (m_path.empty()) {
        return;
    }
    struct stat st {};
    if (::lstat(m_path.c_str(), &st) == 0 && st.st_dev == m_dev && st.st_ino == m_ino) {
        ::unlink(m_path.c_str());
    }
    m_path.clear();
}

Result<Fd> connect_unix_stream(const std::string& path)
{
    const auto addr = make_address(path);
    if (!addr) {
        return fail(addr.error());
    }
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return fail("cannot create socket: " + errno_text(errno));
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
        return fail(errno_text(errno));
    }
    return fd;
}

} // namespace mso
