// Users and groups by name or number, and the switch to an unprivileged user: what
// --user, --allow-uid/--allow-gid and the socket group options resolve through. A
// name is looked up in the system's databases (NSS) first, so a user called "1000"
// is found by name; a number that names nobody is taken as the id itself.
#pragma once

#include "util/result.h"

#include <sys/types.h>

#include <string>

namespace mso {

// Looks up a user by name or numeric id; an unknown number is accepted as is.
// Blocks on NSS (files, or a directory service).
[[nodiscard]] Result<uid_t> resolve_user(const std::string& name);

// Looks up a group by name or numeric id; an unknown number is accepted as is.
// Blocks on NSS.
[[nodiscard]] Result<gid_t> resolve_group(const std::string& name);

// The user --user switches to.
struct UserIdentity {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

// The user's entry, by name or numeric id (which must name a user). Blocks on NSS.
[[nodiscard]] Result<UserIdentity> lookup_user(const std::string& name);

// Becomes `user`: its groups (initgroups), gid, then uid; then checks that root
// cannot be regained. Must run before any thread starts. On failure the process
// must exit: its identity may be half changed.
[[nodiscard]] Result<void> drop_privileges(const UserIdentity& user);

} // namespace mso
