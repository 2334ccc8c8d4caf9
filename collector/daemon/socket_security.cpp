// Socket placement checks, credential allowlists and the privilege drop. The path
// checks close the window between bind() and the chmod()/chown() that follow it
// (both follow symlinks): if nobody else can write to the directories on the way,
// nobody can swap the fresh socket for a link to another file.
#include "daemon/socket_security.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
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
std::optional<std::string> check_ancestors(const std::string& real, const std::string& path)
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
            return "cannot stat " + dir + ": " + std::strerror(errno);
        }
        if (writable_by_all_without_sticky(st.st_mode)) {
            return unsafe_directory(dir, path);
        }
    }
    return std::nullopt;
}

template <typename Id> void add_unique(std::vector<Id>& ids, Id id)
{
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        ids.push_back(id);
    }
}

std::optional<unsigned long> parse_id(const std::string& text)
{
    unsigned long id = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, id);
    if (text.empty() || ec != std::errc() || ptr != end || id >= static_cast<uid_t>(-1)) {
        return std::nullopt;
    }
    return id;
}

} // namespace

std::optional<std::string> check_socket_path(const std::string& path, uid_t owner)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            return path + " is a symbolic link; refusing to create a socket through it";
        }
        if (!S_ISSOCK(st.st_mode)) {
            return path + " exists and is not a socket; refusing to replace it";
        }
    } else if (errno != ENOENT) {
        return "cannot stat " + path + ": " + std::strerror(errno);
    }

    // The directories that exist already; missing ones are created by us, 0755.
    const std::string parent = parent_of(path);
    std::string dir = parent;
    while (::stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT || dir == "/" || dir == ".") {
            return "cannot stat " + dir + ": " + std::strerror(errno);
        }
        dir = parent_of(dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        return dir + " is not a directory";
    }
    if (dir == parent && st.st_uid != 0 && st.st_uid != owner) {
        return parent + " belongs to uid " + std::to_string(st.st_uid) +
               " (neither root nor the collector's user), who could replace " + path +
               "; refusing to create a socket there";
    }
    const std::unique_ptr<char, decltype(&std::free)> real(::realpath(dir.c_str(), nullptr),
                                                           &std::free);
    if (!real) {
        return "cannot resolve " + dir + ": " + std::strerror(errno);
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

Result<uid_t> resolve_user(const std::string& name)
{
    if (name.empty()) {
        return fail("user name is empty");
    }
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    const int err = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (err == 0 && found != nullptr) {
        return found->pw_uid;
    }
    if (const auto id = parse_id(name)) {
        return static_cast<uid_t>(*id);
    }
    return fail(err != 0 ? "cannot look up user " + name + ": " + std::strerror(err)
                         : "unknown user " + name);
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

Result<UserIdentity> lookup_user(const std::string& name)
{
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    int err = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if ((err != 0 || found == nullptr) && parse_id(name)) {
        err = ::getpwuid_r(static_cast<uid_t>(*parse_id(name)), &entry, buffer.data(),
                           buffer.size(), &found);
    }
    if (err != 0 || found == nullptr) {
        return fail(err != 0 ? "cannot look up user " + name + ": " + std::strerror(err)
                             : "unknown user " + name);
    }
    return UserIdentity{found->pw_name, found->pw_uid, found->pw_gid};
}

std::optional<std::string> drop_privileges(const UserIdentity& user)
{
    const std::string who = "user " + user.name + " (uid " + std::to_string(user.uid) + ")";
    if (::geteuid() == user.uid && ::getuid() == user.uid && user.uid != 0) {
        return std::nullopt; // already that user
    }
    if (::initgroups(user.name.c_str(), user.gid) != 0) {
        return "cannot set the groups of " + who + ": " + std::strerror(errno);
    }
    if (::setresgid(user.gid, user.gid, user.gid) != 0) {
        return "cannot switch to the group " + std::to_string(user.gid) + " of " + who + ": " +
               std::strerror(errno);
    }
    if (::setresuid(user.uid, user.uid, user.uid) != 0) {
        return "cannot switch to " + who + ": " + std::strerror(errno);
    }
    uid_t ruid = 0, euid = 0, suid = 0;
    gid_t rgid = 0, egid = 0, sgid = 0;
    if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0 ||
        ruid != user.uid || euid != user.uid || suid != user.uid || rgid != user.gid ||
        egid != user.gid || sgid != user.gid) {
        return "the identity after switching to " + who + " is not the expected one";
    }
    if (user.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
        return "root could be regained after switching to " + who;
    }
    return std::nullopt;
}

} // namespace mso
