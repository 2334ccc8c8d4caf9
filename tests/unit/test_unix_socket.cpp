// Tests for util/unix_socket: bind_unix_socket() over what it finds at the path
// (table-driven), and BoundSocket removing its own file, and only its own.
#include "util/unix_socket.h"

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

// A fresh directory under /tmp, removed with everything in it.
struct TempDir : mso::test_support::TempDir {
    TempDir() : mso::test_support::TempDir("mso-sock") {}
};

bool is_socket(const std::string& path)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool exists(const std::string& path)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// Binds a socket at `path` and closes it: the file stays, nobody listens.
void leave_stale_socket(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
}

TEST(BindUnixSocket, WhatIsAtThePath)
{
    const struct {
        const char* name;
        // Prepares the directory and returns the path to bind.
        std::function<std::string(const std::string& root)> setup;
        const char* error; // substring of the error; nullptr: bound
    } cases[] = {
        {"nothing", [](const std::string& root) { return root + "/a.sock"; }, nullptr},
        {"missing directories", [](const std::string& root) { return root + "/x/y/a.sock"; },
         nullptr},
        {"stale socket",
         [](const std::string& root) {
             leave_stale_socket(root + "/a.sock");
             return root + "/a.sock";
         },
         nullptr},
        {"regular file",
         [](const std::string& root) {
             std::ofstream(root + "/a.sock") << "x";
             return root + "/a.sock";
         },
         "exists and is not a socket; refusing to replace it"},
        {"empty path", [](const std::string&) { return std::string(); }, "socket path is empty"},
        {"too long", [](const std::string& root) { return root + "/" + std::string(120, 'a'); },
         "is too long (at most 107 bytes)"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        const std::string path = c.setup(dir.path());
        auto bound = mso::bind_unix_socket(path, SOCK_DGRAM, mso::SocketFileOptions{0640, {}});
        if (c.error == nullptr) {
            ASSERT_TRUE(bound) << bound.error();
            EXPECT_TRUE(bound->fd().valid());
            EXPECT_EQ(bound->path(), path);
            struct stat st {};
            ASSERT_EQ(::lstat(path.c_str(), &st), 0);
            EXPECT_TRUE(S_ISSOCK(st.st_mode));
            EXPECT_EQ(st.st_mode & 07777, 0640U);
        } else {
            ASSERT_FALSE(bound);
            EXPECT_NE(bound.error().find(c.error), std::string::npos) << bound.error();
        }
    }
}

TEST(BindUnixSocket, RefusesALiveSocket)
{
    TempDir dir;
    const std::string path = dir.path() + "/q.sock";
    auto live = mso::bind_unix_socket(path, SOCK_STREAM, {});
    ASSERT_TRUE(live) << live.error();
    auto second = mso::bind_unix_socket(path, SOCK_STREAM, {});
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("another process is already listening on " + path),
              std::string::npos)
        << second.error();
    EXPECT_TRUE(is_socket(path)); // the refused attempt left the live one alone
}

TEST(BoundSocket, RemovesItsFileWhenDestroyed)
{
    TempDir dir;
    const std::string path = dir.path() + "/e.sock";
    {
        auto bound = mso::bind_unix_socket(path, SOCK_DGRAM, {});
        ASSERT_TRUE(bound) << bound.error();
        const mso::Fd fd = bound->take_fd(); // the file stays owned by the BoundSocket
        EXPECT_TRUE(fd.valid());
        EXPECT_TRUE(is_socket(path));
    }
    EXPECT_FALSE(exists(path));
}

TEST(BoundSocket, MovedFromOwnsNothing)
{
    TempDir dir;
    const std::string path = dir.path() + "/e.sock";
    auto bound = mso::bind_unix_socket(path, SOCK_DGRAM, {});
    ASSERT_TRUE(bound) << bound.error();
    {
        mso::BoundSocket moved = std::move(*bound);
        bound->remove_file(); // the moved-from object: nothing to remove
        EXPECT_TRUE(is_socket(path));
        EXPECT_EQ(moved.path(), path);
    }
    EXPECT_FALSE(exists(path));
}

TEST(BoundSocket, LeavesAReplacedFileAlone)
{
    const struct {
        const char* name;
        std::function<void(const std::string& path)> replace;
    } cases[] = {
        {"by a regular file",
         [](const std::string& path) { std::ofstream(path) << "someone else's"; }},
        {"by another socket", [](const std::string& path) { leave_stale_socket(path); }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        const std::string path = dir.path() + "/e.sock";
        {
            auto bound = mso::bind_unix_socket(path, SOCK_DGRAM, {});
            ASSERT_TRUE(bound) << bound.error();
            ASSERT_EQ(::unlink(path.c_str()), 0);
            c.replace(path);
            bound->remove_file();
            EXPECT_TRUE(exists(path));
        }
        EXPECT_TRUE(exists(path)); // nor at destruction
    }
}

} // namespace
