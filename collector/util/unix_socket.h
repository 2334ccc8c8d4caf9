// Unix socket set-up for the daemon and the CLI: creating the socket file with
// the requested mode and group, recognising a stale socket left by a crashed
// collector (and removing it) versus a live one or a non-socket (refused).
#pragma once

#include "util/fd.h"
#include "util/result.h"

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>

namespace mso {

// How the socket file should look once it is bound.
struct SocketFileOptions {
    mode_t mode = 0660;
    std::optional<gid_t> group; // chown to this group when set
};

// A bound (and for SOCK_STREAM, listening) non-blocking socket and its file, which
// it removes when destroyed, unless the file is no longer the one it bound (another
// collector may have replaced it). Move-only; not thread-safe.
class BoundSocket {
public:
    BoundSocket() noexcept = default;
    BoundSocket(Fd fd, std::string path) noexcept;
    BoundSocket(BoundSocket&& other) noexcept;
    BoundSocket& operator=(BoundSocket&& other) noexcept;
    BoundSocket(const BoundSocket&) = delete;
    BoundSocket& operator=(const BoundSocket&) = delete;
    ~BoundSocket() { remove_file(); }

    // The socket, until take_fd() hands it over (the file stays owned here).
    [[nodiscard]] const Fd& fd() const noexcept { return m_fd; }
    [[nodiscard]] Fd take_fd() noexcept { return std::move(m_fd); }
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }

    // Unlinks the file now if it is still the one bound here; afterwards the object
    // owns no file. Blocks only on file system calls.
    void remove_file() noexcept;

private:
    Fd m_fd;
    std::string m_path; // "" once removed
    dev_t m_dev = 0;
    ino_t m_ino = 0;
};

// Creates missing parent directories (0755), removes a stale socket at `path`,
// binds a `type` (SOCK_DGRAM or SOCK_STREAM) socket there and applies `options`.
// Refuses when a live socket answers at `path` or `path` is not a socket.
// Blocks only on file system calls. Changes the process umask briefly, so call
// it before starting threads.
[[nodiscard]] Result<BoundSocket> bind_unix_socket(const std::string& path, int type,
                                                   const SocketFileOptions& options);

// Connects a blocking SOCK_STREAM socket to `path`. Blocks.
[[nodiscard]] Result<Fd> connect_unix_stream(const std::string& path);

} // namespace mso
