// Who may reach the collector's sockets, beyond their file permissions: checks of
// the place a socket file is created in (no symlink at the path, no directory on
// the way that others could rename entries in), the uid/gid allowlists applied to
// the senders of event datagrams (SCM_CREDENTIALS) and to query clients
// (SO_PEERCRED). Users and groups are resolved by util/identity.h.
// Threat model and limits: docs/SECURITY.md.
#pragma once

#include "util/identity.h"
#include "util/result.h"

#include <sys/types.h>

#include <string>
#include <vector>

namespace mso {

// Refuses `path` for a socket file when it is a symbolic link or an existing
// non-socket file, or when a directory above it is writable by every user without
// the sticky bit (anyone could replace the socket, or the file chmod/chown then
// touches) or the directory that holds it belongs to another user than root or
// `owner`. Directories that do not exist yet are not checked (they are created
// 0755 by us). Fails with the reason, lowercase with the path. Blocks only on file
// system calls.
[[nodiscard]] Result<void> check_socket_path(const std::string& path, uid_t owner);

// A uid/gid allowlist: a peer is allowed when its uid is listed or its gid is.
struct CredentialPolicy {
    std::vector<uid_t> uids;
    std::vector<gid_t> gids;

    [[nodiscard]] bool allows(uid_t uid, gid_t gid) const noexcept;
    // "uids 0,33 gids 33", for the start-up log line.
    [[nodiscard]] std::string describe() const;
};

// Builds a policy from --allow-uid / --allow-gid style values (names or numbers),
// added to `base`. Fails on the first unknown name.
[[nodiscard]] Result<CredentialPolicy> make_policy(CredentialPolicy base,
                                                   const std::vector<std::string>& users,
                                                   const std::vector<std::string>& groups);

// The event socket's default senders: root, `self`, and user and group www-data
// when that user exists (Apache's children on Debian).
[[nodiscard]] CredentialPolicy default_event_senders(uid_t self);

} // namespace mso
