// SpoolReplayer: only unlocked spool files are replayed, each line once, then removed;
// long lines, cut-off last lines, symlinks and orphaned ".new" files are handled.
#include "daemon/spool_replay.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using mso::SpoolReplayer;
using mso::SpoolStatus;

namespace {

class SpoolReplayTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string templ = (fs::temp_directory_path() / "mso-spool-XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        m_dir = templ;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    void write(const std::string& name, const std::string& content)
    {
        std::ofstream(m_dir / name, std::ios::binary) << content;
    }
    SpoolReplayer replayer(std::size_t max_line = 64)
    {
        return SpoolReplayer(m_dir.string(), max_line, m_status,
                             [this](std::string_view line) { m_lines.emplace_back(line); });
    }
    [[nodiscard]] bool exists(const std::string& name) const { return fs::exists(m_dir / name); }

    fs::path m_dir;
    SpoolStatus m_status;
    std::vector<std::string> m_lines;
};

TEST_F(SpoolReplayTest, ReplaysEachLineThenRemovesTheFile)
{
    write("1-1-1.spool", "{\"a\":1}\n{\"b\":2}\n");
    write("2-1-1.spool", "{\"c\":3}\n");
    write("other.txt", "not a spool file\n");
    replayer().replay_all();
    EXPECT_EQ(m_lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
    EXPECT_FALSE(exists("1-1-1.spool"));
    EXPECT_FALSE(exists("2-1-1.spool"));
    EXPECT_TRUE(exists("other.txt"));
    EXPECT_EQ(m_status.files_replayed, 2U);
    EXPECT_EQ(m_status.lines_replayed, 3U);
    EXPECT_EQ(m_status.errors, 0U);
    EXPECT_EQ(m_status.dir, m_dir.string());
}

TEST_F(SpoolReplayTest, LockedFileIsLeftUntilItsWriterIsDone)
{
    write("1-1-1.spool", "{\"a\":1}\n");
    const int writer = ::open((m_dir / "1-1-1.spool").c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(writer, 0);
    ASSERT_EQ(::flock(writer, LOCK_EX), 0);
    auto r = replayer();
    r.replay_all();
    EXPECT_TRUE(m_lines.empty());
    EXPECT_TRUE(exists("1-1-1.spool"));

    ASSERT_EQ(::write(writer, "{\"b\":2}\n", 8), 8);
    ::close(writer); // releases the lock
    r.replay_all();
    EXPECT_EQ(m_lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
    EXPECT_FALSE(exists("1-1-1.spool"));
}

TEST_F(SpoolReplayTest, TooLongLinesAreCountedAndSkipped)
{
    write("1-1-1.spool", std::string(200, 'x') + "\n{\"ok\":1}\n" + std::string(70, 'y') + "\n");
    replayer(64).replay_all();
    EXPECT_EQ(m_lines, (std::vector<std::string>{"{\"ok\":1}"}));
    EXPECT_EQ(m_status.lines_too_long, 2U);
}

TEST_F(SpoolReplayTest, CutOffLastLineIsFedForTheDecoderToJudge)
{
    write("1-1-1.spool", "{\"a\":1}\n{\"b\":");
    replayer().replay_all();
    EXPECT_EQ(m_lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":"}));
}

TEST_F(SpoolReplayTest, SymlinksAndFifosAreReportedOnceAndSkipped)
{
    write("target", "{\"secret\":1}\n");
    fs::create_symlink(m_dir / "target", m_dir / "1-1-1.spool");
    ASSERT_EQ(::mkfifo((m_dir / "2-1-1.spool").c_str(), 0600), 0);
    auto r = replayer();
    r.replay_all();
    EXPECT_TRUE(m_lines.empty());
    EXPECT_EQ(m_status.errors, 2U);
    EXPECT_TRUE(exists("target"));
    r.replay_all(); // reported once, not at every scan
    EXPECT_EQ(m_status.errors, 2U);
}

TEST_F(SpoolReplayTest, FreshNewFilesWaitButOrphansAreReplayed)
{
    write("1-1-1.spool.new", "{\"fresh\":1}\n");
    write("2-1-1.spool.new", "{\"orphan\":1}\n");
    const auto old = fs::file_time_type::clock::now() - std::chrono::minutes(5);
    fs::last_write_time(m_dir / "2-1-1.spool.new", old);
    replayer().replay_all();
    EXPECT_EQ(m_lines, (std::vector<std::string>{"{\"orphan\":1}"}));
    EXPECT_TRUE(exists("1-1-1.spool.new"));
    EXPECT_FALSE(exists("2-1-1.spool.new"));
}

TEST_F(SpoolReplayTest, StepsAreBoundedAndScansAreSpaced)
{
    std::string content;
    for (int i = 0; i < 10; ++i) {
        content += "{\"n\":" + std::to_string(i) + "}\n";
    }
    write("1-1-1.spool", content);
    auto r = replayer();
    const auto now = std::chrono::steady_clock::now();
    EXPECT_TRUE(r.due(now));
    EXPECT_EQ(r.step(now, 4), 4U);
    EXPECT_TRUE(r.due(now)); // a file part-way through
    EXPECT_EQ(r.step(now, 4), 4U);
    EXPECT_EQ(r.step(now, 4), 2U);
    EXPECT_FALSE(exists("1-1-1.spool"));
    EXPECT_FALSE(r.due(now)); // the next scan waits for the interval
    write("2-1-1.spool", "{\"later\":1}\n");
    EXPECT_EQ(r.step(now, 4), 0U);
    EXPECT_EQ(r.step(now + mso::k_spool_scan_interval, 4), 1U);
    EXPECT_EQ(m_lines.size(), 11U);
}

TEST_F(SpoolReplayTest, MissingDirectoryIsAnErrorNotACrash)
{
    fs::remove_all(m_dir);
    replayer().replay_all();
    EXPECT_EQ(m_status.errors, 1U);
    EXPECT_NE(m_status.last_error.find("cannot read spool directory"), std::string::npos);
    fs::create_directory(m_dir);
}

} // namespace
