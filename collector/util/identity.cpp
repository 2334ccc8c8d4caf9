// User and group resolution over getpwnam_r()/getgrnam_r() with one numeric fallback,
// and the privilege drop. The fallback refuses (uid_t)-1 and larger values: -1 means
// "no change" to setresuid() and chown(), so it must never name an identity.
#include "util/identity.h"

#include "util/errno_text.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <vector>

namespace mso {

namespace {

// Buffer for one passwd or group entry; large groups need more than sysconf suggests.
constexpr std::size_t k_entry_buffer_bytes = 16384;

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

// The id `name` stands for: an entry's (read by `get_by_name`, a getpwnam_r-like call)
// or, when no entry has that name, the number `name` spells. `kind` is "user" or "group".
template <typename Entry, typename Id, typename GetByName, typename IdOf>
Result<Id> resolve(const std::string& name, const char* kind, GetByName get_by_name, IdOf id_of)
{
    if (name.empty()) {
        return fail(std::string(kind) + " name is empty");
    }
    std::vector<char> buffer(k_entry_buffer_bytes);
    Entry entry{};
    Entry* found = nullptr;
    const int err = get_by_name(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (err == 0 && found != nullptr) {
        return id_of(*found);
    }
    if (const auto id = parse_id(name)) {
        return static_cast<Id>(*id);
    }
    return fail(err != 0
                    ? "cannot look up " + std::string(kind) + " " + name + ": " + errno_text(err)
                    : "unknown " + std::string(kind) + " " + name);
}

} // namespace

Result<uid_t> resolve_user(const std::string& name)
{
    return resolve<passwd, uid_t>(name, "user", ::getpwnam_r,
                                  [](const passwd& p) { return p.pw_uid; });
}

Result<gid_t> resolve_group(const std::string& name)
{
    return resolve<group, gid_t>(name, "group", ::getgrnam_r,
                                 [](const group& g) { return g.gr_gid; });
}

Result<UserIdentity> lookup_user(const std::string& name)
{
    std::vector<char> buffer(k_entry_buffer_bytes);
    passwd entry{};
    passwd* found = nullptr;
    int err = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if ((err != 0 || found == nullptr) && parse_id(name)) {
        err = ::getpwuid_r(static_cast<uid_t>(*parse_id(name)), &entry, buffer.data(),
                           buffer.size(), &found);
    }
    if (err != 0 || found == nullptr) {
        return fail(err != 0 ? "cannot look up user " + name + ": " + errno_text(err)
                             : "unknown user " + name);
    }
    return UserIdentity{found->pw_name, found->pw_uid, found->pw_gid};
}

Result<void> drop_privileges(const UserIdentity& user)
{
    const std::string who = "user " + user.name + " (uid " + std::to_string(user.uid) + ")";
    if (::geteuid() == user.uid && ::getuid() == user.uid && user.uid != 0) {
        return ok(); // already that user
    }
    if (::initgroups(user.name.c_str(), user.gid) != 0) {
        const int err = errno;
        return fail("cannot set the groups of " + who + ": " + errno_text(err));
    }
    if (::setresgid(user.gid, user.gid, user.gid) != 0) {
        const int err = errno;
        return fail("cannot switch to the group " + std::to_string(user.gid) + " of " + who + ": " +
                    errno_text(err));
    }
    if (::setresuid(user.uid, user.uid, user.uid) != 0) {
        const int err = errno;
        return fail("cannot switch to " + who + ": " + errno_text(err));
    }
    uid_t ruid = 0, euid = 0, suid = 0;
    gid_t rgid = 0, egid = 0, sgid = 0;
    if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0 ||
        ruid != user.uid || euid != user.uid || suid != user.uid || rgid != user.gid ||
        egid != user.gid || sgid != user.gid) {
        return fail("the identity after switching to " + who + " is not the expected one");
    }
    if (user.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
        return fail("root could be regained after switching to " + who);
    }
    return ok();
}

} // namespace mso
