// Replay of the module's spool (ModSecObserveSpool, --spool-dir): while the collector
// was unreachable, each Apache child wrote the events it could not send to its own
// spool file, one datagram per line, holding an exclusive flock() on it while it may
// still write. A file whose lock can be taken is complete; its lines are fed to the
// collector exactly like datagrams, then it is removed.
//
// The replayer never blocks: it takes locks with LOCK_NB, reads a bounded number of
// lines per step, and the loop calls it again when it has more to do.
#pragma once

#include "state/collector.h"
#include "util/fd.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace mso {

// Spool files are "<pid>-<time>-<seq>.spool"; "<name>.new" is one a child is creating.
inline constexpr std::string_view k_spool_suffix = ".spool";
inline constexpr std::string_view k_spool_new_suffix = ".spool.new";
// How often the directory is scanned for files whose writer is done.
inline constexpr std::chrono::milliseconds k_spool_scan_interval{1000};
// A ".new" file older than this was left by a child that died while creating it.
inline constexpr std::chrono::seconds k_spool_orphan_age{60};

class SpoolReplayer {
public:
    // `feed` receives each line (without its newline) and `status` is updated as files
    // are replayed; both are borrowed.
    SpoolReplayer(std::string dir, std::size_t max_line_bytes, SpoolStatus& status,
                  std::function<void(std::string_view)> feed);

    // True when a scan is due or a file is part-way through.
    [[nodiscard]] bool due(std::chrono::steady_clock::time_point now) const noexcept;
    // When due() becomes true at the latest (now when work is pending).
    [[nodiscard]] std::chrono::steady_clock::time_point
    deadline(std::chrono::steady_clock::time_point now) const noexcept;
    // Scans (if due) and feeds at most `max_lines` lines; returns the lines fed.
    std::size_t step(std::chrono::steady_clock::time_point now, std::size_t max_lines);
    // Replays every file that can be taken now, to the end (at start-up and at exit).
    void replay_all();

private:
    void scan();
    bool open_next();
    std::size_t read_lines(std::size_t max_lines);
    void finish_file();
    void fail(const std::string& what);
    void feed_line(std::string_view line);

    std::string m_dir;
    std::size_t m_max_line;
    SpoolStatus& m_status;
    std::function<void(std::string_view)> m_feed;
    std::chrono::steady_clock::time_point m_next_scan{};
    std::set<std::string> m_queue; // names found by the last scan, not yet tried
    // (dev, ino) of files replayed but not removable, and of names that are not regular
    // files: skipped from then on. Grows only with such oddities.
    std::set<std::pair<std::uint64_t, std::uint64_t>> m_done;
    Fd m_file; // the file being replayed (its lock held)
    std::string m_name;
    std::pair<std::uint64_t, std::uint64_t> m_id{};
    std::string m_buffer;    // bytes read, not yet split into lines
    bool m_skipping = false; // inside a line that was too long
    bool m_eof = false;
};

} // namespace mso
