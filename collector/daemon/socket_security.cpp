// Socket placement checks and credential allowlists. The path
// checks close the window between bind() and the chmod()/chown() that follow it
// (both follow symlinks): if nobody else can write to the directories on the way,
// nobody can swap the fresh socket for a link to another file.
#include "daemon/socket_security.h"

#include "util/errno_text.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

namespace mso {

namespace {

std::string parent_of(const std::string& path)
{
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool writable_by_all_without_sticky(mode_t mode)
{
    return (mode & S_IWOTH) != 0 && (mode & S_ISVTX) == 0;
}

std::string unsafe_directory(const std::string& dir, const std::string& path)
{
    return dir +
           " is writable by every user and not sticky, so another user could "
           "replace " +
           path + "; refusing to create a socket there";
}

// Checks every directory of the canonical path `real` from / down.
Result<void> check_ancestors(const std::string& real, const std::string& path)
{
    std::vector<std::string> dirs{"/"};
    for (std::size_t slash = real.find('/', 1);; slash = real.find('/', slash + 1)) {
        if (slash == std::string::npos) {
            if (real.size() > 1) {
                dirs.push_back(real);
            }
            break;
        }
        dirs.push_back(real.substr(0, slash));
    }
    for (const std::string& dir : dirs) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) {
            return fail("cannot stat " + dir + ": " + errno_text(errno));
        }
        if (writable_by_all_without_sticky(st.st_mode)) {
            return fail(unsafe_directory(dir, path));
        }
    }
    return ok();
}

template <typename Id> void add_unique(std::vector<Id>& ids, Id id)
{
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        ids.push_back(id);
    }
}

} // namespace

Result<void> check_socket_path(const std::string& path, uid_t owner)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            return fail(path + " is a symbolic link; refusing to create a socket through it");
        }
        if (!S_ISSOCK(st.st_mode)) {
            return fail(path + " exists and is not a socket; refusing to replace it");
        }
    } else if (errno != ENOENT) {
        return fail("cannot stat " + path + ": " + errno_text(errno));
    }

    // The directories that exist already; missing ones are created by us, 0755.
    const std::string parent = parent_of(path);
    std::string dir = parent;
    while (::stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT || dir == "/" || dir == ".") {
            return fail("cannot stat " + dir + ": " + errno_text(errno));
        }
        dir = parent_of(dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(dir + " is not a directory");
    }
    if (dir == parent && st.st_uid != 0 && st.st_uid != owner) {
        return fail(parent + " belongs to uid " + std::to_string(st.st_uid) +
                    " (neither root nor the collector's user), who could replace " + path +
                    "; refusing to create a socket there");
    }
    const std::unique_ptr<char, decltype(&std::free)> real(::realpath(dir.c_str(), nullptr),
                                                           &std::free);
    if (!real) {
        return fail("cannot resolve " + dir + ": " + errno_text(errno));
    }
    return check_ancestors(real.get(), path);
}

bool CredentialPolicy::allows(uid_t uid, gid_t gid) const noexcept
{
    return std::find(uids.begin(), uids.end(), uid) != uids.end() ||
           std::find(gids.begin(), gids.end(), gid) != gids.end();
}

std::string CredentialPolicy::describe() const
{
    std::string out = "uids ";
    for (std::size_t i = 0; i < uids.size(); ++i) {
        out += (i == 0 ? "" : ",") + std::to_string(uids[i]);
    }
    if (uids.empty()) {
        out += "(none)";
    }
    out += " gids ";
    for (std::size_t i = 0; i < gids.size(); ++i) {
        out += (i == 0 ? "" : ",") + std::to_string(gids[i]);
    }
    if (gids.empty()) {
        out += "(none)";
    }
    return out;
}

Result<CredentialPolicy> make_policy(CredentialPolicy base, const std::vector<std::string>& users,
                                     const std::vector<std::string>& groups)
{
    for (const std::string& user : users) {
        auto uid = resolve_user(user);
        if (!uid) {
            return fail(uid.error());
        }
        add_unique(base.uids, *uid);
    }
    for (const std::string& group : groups) {
        auto gid = resolve_group(group);
        if (!gid) {
            return fail(gid.error());
        }
        add_unique(base.gids, *gid);
    }
    return base;
}

CredentialPolicy default_event_senders(uid_t self)
{
    CredentialPolicy policy;
    add_unique(policy.uids, uid_t{0});
    add_unique(policy.uids, self);
    if (auto apache = lookup_user("www-data")) {
        add_unique(policy.uids, apache->uid);
        add_unique(policy.gids, apache->gid);
    }
    return policy;
}

} // namespace mso
