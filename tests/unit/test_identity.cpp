// Tests for util/identity: users and groups by name or number (table-driven), and
// the privilege drop (in a forked child, as root).
#include "util/identity.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace {

TEST(ResolveUser, NamesNumbersAndErrors)
{
    const struct {
        const char* name;
        bool ok;
        uid_t uid;         // when ok
        const char* error; // when not
    } cases[] = {
        {"root", true, 0, ""},
        {"0", true, 0, ""},
        {"4242", true, 4242, ""}, // nobody's uid: taken as the id
        {"4294967294", true, 4294967294U, ""},
        {"", false, 0, "user name is empty"},
        {"no-such-user-mso", false, 0, "unknown user no-such-user-mso"},
        {"-1", false, 0, "unknown user -1"},
        {"4294967295", false, 0, "unknown user 4294967295"}, // (uid_t)-1: "no change"
        {"99999999999", false, 0, "unknown user 99999999999"},
        {"12ab", false, 0, "unknown user 12ab"},
        {" 12", false, 0, "unknown user  12"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto uid = mso::resolve_user(c.name);
        ASSERT_EQ(uid.has_value(), c.ok) << uid.error();
        if (c.ok) {
            EXPECT_EQ(*uid, c.uid);
        } else {
            EXPECT_EQ(uid.error(), c.error);
        }
    }
}

TEST(ResolveGroup, NamesNumbersAndErrors)
{
    const struct {
        const char* name;
        bool ok;
        gid_t gid;
        const char* error;
    } cases[] = {
        {"root", true, 0, ""},
        {"0", true, 0, ""},
        {"5151", true, 5151, ""},
        {"", false, 0, "group name is empty"},
        {"no-such-group-mso", false, 0, "unknown group no-such-group-mso"},
        {"-1", false, 0, "unknown group -1"},
        {"4294967295", false, 0, "unknown group 4294967295"},
        {"99999999999", false, 0, "unknown group 99999999999"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto gid = mso::resolve_group(c.name);
        ASSERT_EQ(gid.has_value(), c.ok) << gid.error();
        if (c.ok) {
            EXPECT_EQ(*gid, c.gid);
        } else {
            EXPECT_EQ(gid.error(), c.error);
        }
    }
}

TEST(LookupUser, ByNameOrNumberOfAnExistingUser)
{
    const auto root = mso::lookup_user("root");
    ASSERT_TRUE(root) << root.error();
    EXPECT_EQ(root->uid, 0U);
    EXPECT_EQ(root->gid, 0U);
    const auto by_number = mso::lookup_user("0");
    ASSERT_TRUE(by_number) << by_number.error();
    EXPECT_EQ(by_number->name, "root");
    // A number must name a user here: --user needs a name for initgroups().
    const auto unknown = mso::lookup_user("4242");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error(), "unknown user 4242");
}

// Runs `child` in a forked process; its return value is the exit status.
int in_child(const std::function<int()>& child)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::_exit(child());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(DropPrivileges, BecomesTheUserAndCannotReturn)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root";
    }
    auto nobody = mso::lookup_user("nobody");
    if (!nobody) {
        GTEST_SKIP() << "no user nobody";
    }
    const mso::UserIdentity user = *nobody;
    EXPECT_EQ(in_child([&user] {
                  if (!mso::drop_privileges(user)) {
                      return 1;
                  }
                  if (::getuid() != user.uid || ::geteuid() != user.uid || ::getgid() != user.gid ||
                      ::getegid() != user.gid) {
                      return 2;
                  }
                  gid_t groups[64];
                  const int n = ::getgroups(64, groups);
                  for (int i = 0; i < n; ++i) {
                      if (groups[i] == 0) {
                          return 3; // root's group kept
                      }
                  }
                  return ::setuid(0) == 0 || ::setgid(0) == 0 ? 4 : 0;
              }),
              0);
    const auto by_number = mso::lookup_user(std::to_string(user.uid));
    ASSERT_TRUE(by_number) << by_number.error();
    EXPECT_EQ(by_number->name, user.name);
    EXPECT_FALSE(mso::lookup_user("no-such-user-mso"));
}

TEST(DropPrivileges, FailsClearlyWithoutRoot)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to become another user first";
    }
    auto nobody = mso::lookup_user("nobody");
    if (!nobody) {
        GTEST_SKIP() << "no user nobody";
    }
    const mso::UserIdentity user = *nobody;
    EXPECT_EQ(in_child([&user] {
                  if (::setresgid(user.gid, user.gid, user.gid) != 0 ||
                      ::setresuid(user.uid, user.uid, user.uid) != 0) {
                      return 1;
                  }
                  const auto dropped = mso::drop_privileges(mso::UserIdentity{"root", 0, 0});
                  return !dropped && dropped.error().find("cannot set the groups of user root") == 0
                             ? 0
                             : 2;
              }),
              0);
}

} // namespace
