// The child's spool (ModSecObserveSpool <dir> [max-size]): an event that cannot be sent
// (collector down, its queue full) is appended to this child's spool file instead of
// being lost. The child holds an exclusive flock() on the file while it may still write;
// it closes the file (releasing the lock) as soon as a send succeeds again, when the
// flusher finds the collector listening, or when the child exits. modsec-observed
// (--spool-dir) replays only files it can lock, then removes them.
//
// Files are "<pid>-<usec>-<seq>.spool", one datagram per line (events never contain a
// raw newline). Each file holds at most max-size bytes; events beyond are counted as
// lost. A new file is created per outage, so a closed file is never written again.
#pragma once

#include "httpd_api.h"

#include <cstddef>
#include <cstdint>

namespace mso {

// Reads the directives of the main server; nothing happens without ModSecObserveSpool.
void start_spool(apr_pool_t* child_pool, server_rec* main_server) noexcept;

// Appends one event; false when there is no spool, it is full, or the write failed.
[[nodiscard]] bool spool_event(const char* data, std::size_t size) noexcept;

// Closes the current spool file if one is open, so the collector can replay it. Cheap
// (one relaxed atomic load) when nothing is spooled.
void release_spool() noexcept;
[[nodiscard]] bool spool_is_open() noexcept;
// Whether this child has a spool (ModSecObserveSpool, and its mutex was created).
[[nodiscard]] bool spool_enabled() noexcept;

// Events written to spool files, and those the spool could not take (full, I/O error),
// since the last call; for the flusher's log line.
struct SpoolCounts {
    std::uint64_t spooled = 0;
    std::uint64_t refused = 0;
    int last_errno = 0;
};
[[nodiscard]] SpoolCounts take_spool_counts() noexcept;

} // namespace mso
