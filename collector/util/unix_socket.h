// Unix socket set-up for the daemon and the CLI: creating the socket file with
// the requested mode and group, recognising a stale socket left by a crashed
// collector (and removing it) versus a live one or a non-socket (refused).
#pragma once

#include "util/fd.h"
#include "util/result.h"

#include <sys/types.h>

#include <optional>
#include <string>

namespace mso {

// How the socket file should look once it is bound.
struct SocketFileOptions {
    mode_t mode = 0660;
    std::optional<gid_t> group; // chown to this group when set
};

// A bound (and for SOCK_STREAM, listening) non-blocking socket and the identity
// of its file, so that only our own file is unlinked at shutdown.
struct BoundSocket {
    Fd fd;
    std::string path;
    dev_t dev = 0;
    ino_t ino = 0;
};

// Creates missing parent directories (0755), removes a stale socket at `path`,
// binds a `type` (SOCK_DGRAM or SOCK_STREAM) socket there and applies `options`.
// Refuses when a live socket answers at `path` or `path` is not a socket.
// Blocks only on file system calls. Changes the process umask briefly, so call
// it before starting threads.
[[nodiscard]] Result<BoundSocket> bind_unix_socket(const std::string& path, int type,
                                                   const SocketFileOptions& options);

// Unlinks the socket file if it is still the one `socket` created.
void remove_socket_file(const BoundSocket& socket) noexcept;

// Connects a blocking SOCK_STREAM socket to `path`. Blocks.
[[nodiscard]] Result<Fd> connect_unix_stream(const std::string& path);

// Looks up a group by name or numeric id.
[[nodiscard]] Result<gid_t> resolve_group(const std::string& name);

} // namespace mso
