// Tests for daemon/socket_security: where a socket file may be created and the
// credential allowlists.
#include "daemon/socket_security.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

namespace {

namespace fs = std::filesystem;

// A fresh directory under /tmp (0755), removed with everything in it.
struct TempDir : mso::test_support::TempDir {
    TempDir() : mso::test_support::TempDir("mso-sec", 0755) {}
};

void make_dir(const std::string& path, mode_t mode)
{
    ASSERT_EQ(::mkdir(path.c_str(), 0700), 0) << path;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path; // not reduced by the umask
}

void bind_stale_socket(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd); // the file stays: a stale socket
}

struct PathCase {
    const char* name;
    // Prepares the tree under the temp dir and returns the socket path to check.
    std::function<std::string(const std::string& root)> setup;
    const char* refusal; // substring of the reason; nullptr: accepted
};

TEST(CheckSocketPath, RefusesLinksFilesAndDirectoriesOthersCanWrite)
{
    const PathCase cases[] = {
        {"missing socket in a 0755 directory",
         [](const std::string& root) { return root + "/ev.sock"; }, nullptr},
        {"missing directories are created by us",
         [](const std::string& root) { return root + "/a/b/ev.sock"; }, nullptr},
        {"stale socket",
         [](const std::string& root) {
             bind_stale_socket(root + "/ev.sock");
             return root + "/ev.sock";
         },
         nullptr},
        {"sticky world-writable directory",
         [](const std::string& root) {
             make_dir(root + "/tmp", 01777);
             return root + "/tmp/ev.sock";
         },
         nullptr},
        {"symlink at the path",
         [](const std::string& root) {
             fs::create_symlink(root + "/elsewhere", root + "/ev.sock");
             return root + "/ev.sock";
         },
         "is a symbolic link"},
        {"dangling symlink to a file we would chmod",
         [](const std::string& root) {
             std::ofstream(root + "/victim") << "x";
             fs::create_symlink(root + "/victim", root + "/ev.sock");
             return root + "/ev.sock";
         },
         "is a symbolic link"},
        {"regular file at the path",
         [](const std::string& root) {
             std::ofstream(root + "/ev.sock") << "x";
             return root + "/ev.sock";
         },
         "exists and is not a socket"},
        {"directory at the path",
         [](const std::string& root) {
             make_dir(root + "/ev.sock", 0755);
             return root + "/ev.sock";
         },
         "exists and is not a socket"},
        {"world-writable parent without the sticky bit",
         [](const std::string& root) {
             make_dir(root + "/open", 0777);
             return root + "/open/ev.sock";
         },
         "writable by every user and not sticky"},
        {"world-writable ancestor above missing directories",
         [](const std::string& root) {
             make_dir(root + "/open", 0777);
             return root + "/open/new/ev.sock";
         },
         "writable by every user and not sticky"},
        {"world-writable grandparent of an existing directory",
         [](const std::string& root) {
             make_dir(root + "/open", 0777);
             make_dir(root + "/open/run", 0755);
             return root + "/open/run/ev.sock";
         },
         "writable by every user and not sticky"},
        {"parent reached through a symlink to a world-writable directory",
         [](const std::string& root) {
             make_dir(root + "/open", 0777);
             fs::create_directory_symlink(root + "/open", root + "/link");
             return root + "/link/ev.sock";
         },
         "/open is writable by every user"},
    };
    for (const PathCase& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        const std::string path = c.setup(dir.path());
        const auto safe = mso::check_socket_path(path, ::geteuid());
        if (c.refusal == nullptr) {
            EXPECT_TRUE(safe) << safe.error();
        } else {
            ASSERT_FALSE(safe);
            EXPECT_NE(safe.error().find(c.refusal), std::string::npos) << safe.error();
            EXPECT_NE(safe.error().find("/ev.sock"), std::string::npos) << safe.error();
        }
    }
}

TEST(CheckSocketPath, RefusesAParentOwnedByAnotherUser)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to give a directory to another user";
    }
    TempDir dir;
    make_dir(dir.path() + "/theirs", 0755);
    ASSERT_EQ(::chown((dir.path() + "/theirs").c_str(), 65534, 65534), 0);
    const auto safe = mso::check_socket_path(dir.path() + "/theirs/ev.sock", 0);
    ASSERT_FALSE(safe);
    EXPECT_NE(safe.error().find("belongs to uid 65534"), std::string::npos) << safe.error();
    // The user the collector runs as may own it.
    EXPECT_TRUE(mso::check_socket_path(dir.path() + "/theirs/ev.sock", 65534));
}

TEST(CredentialPolicy, AllowsListedUidsOrGids)
{
    const mso::CredentialPolicy policy{{0, 33}, {33, 4}};
    struct Case {
        uid_t uid;
        gid_t gid;
        bool allowed;
    };
    const Case cases[] = {
        {0, 0, true},        {33, 1000, true},      {1000, 33, true}, {1000, 4, true},
        {1000, 1000, false}, {65534, 65534, false}, {34, 0, false},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(policy.allows(c.uid, c.gid), c.allowed) << c.uid << ":" << c.gid;
    }
    EXPECT_EQ(policy.describe(), "uids 0,33 gids 33,4");
    EXPECT_EQ(mso::CredentialPolicy{}.describe(), "uids (none) gids (none)");
    EXPECT_FALSE(mso::CredentialPolicy{}.allows(0, 0));
}

TEST(CredentialPolicy, MakePolicyResolvesNamesAndNumbers)
{
    auto policy =
        mso::make_policy(mso::CredentialPolicy{{0}, {}}, {"root", "4242", "0"}, {"root", "5151"});
    ASSERT_TRUE(policy) << policy.error();
    EXPECT_EQ(policy->uids, (std::vector<uid_t>{0, 4242}));
    EXPECT_EQ(policy->gids, (std::vector<gid_t>{0, 5151}));

    const struct {
        std::vector<std::string> users, groups;
        const char* error;
    } bad[] = {
        {{"no-such-user-mso"}, {}, "unknown user no-such-user-mso"},
        {{}, {"no-such-group-mso"}, "unknown group no-such-group-mso"},
        {{""}, {}, "user name is empty"},
        {{"-1"}, {}, "unknown user -1"},
        {{"4294967295"}, {}, "unknown user 4294967295"}, // (uid_t)-1 means "no change"
    };
    for (const auto& c : bad) {
        auto result = mso::make_policy({}, c.users, c.groups);
        EXPECT_FALSE(result);
        EXPECT_EQ(result.error(), c.error);
    }
}

TEST(CredentialPolicy, DefaultEventSendersAreRootSelfAndWwwData)
{
    const mso::CredentialPolicy policy = mso::default_event_senders(4242);
    EXPECT_TRUE(policy.allows(0, 65534));
    EXPECT_TRUE(policy.allows(4242, 65534));
    EXPECT_FALSE(policy.allows(65534, 65534));
    if (auto apache = mso::lookup_user("www-data")) {
        EXPECT_TRUE(policy.allows(apache->uid, 65534));
        EXPECT_TRUE(policy.allows(65534, apache->gid));
    }
}

} // namespace
