// `modsec-observe import`: reads audit logs (every dialect collector/ingest reads; files,
// directories, .gz, stdin, a v2 Concurrent index with its storage directory) and streams
// their entries as events over the query connection's import mode (docs/protocol.md,
// "import"), with sync markers pipelined so that throughput is not one round trip per
// batch. Memory stays bounded whatever the input's size: one read buffer, one send
// batch, a few syncs in flight. Progress goes to stderr (a bar on a terminal, plain lines
// otherwise), then a summary to stdout (text or --json).
#pragma once

#include "util/result.h"

#include <csignal>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

// Exit statuses of the import (README, --help).
inline constexpr int k_import_ok = 0;      // every entry stored (or already there)
inline constexpr int k_import_failed = 1;  // the collector unreachable, refused or gone
inline constexpr int k_import_usage = 2;   // bad options or vhost map
inline constexpr int k_import_skipped = 3; // done, but something was skipped (see summary)

struct ImportSettings {
    std::string socket_path;
    std::string vhost;       // --vhost: every event's label
    std::string vhost_map;   // --vhost-map FILE
    std::string source;      // --source NAME: the source is "import:NAME"
    std::string storage_dir; // --storage-dir: a Concurrent index's storage directory
    // --matched-data full|truncate:N|off: what each finding keeps of its matched data
    // (it can hold passwords and tokens), as the module's ModSecObserveMatchedData; ""
    // is truncate:256.
    std::string matched_data;
    bool as_json = false;
    std::vector<std::string> paths; // "-" is stdin
    // Set (by a signal handler) to stop reading; what was sent is still synced.
    const volatile std::sig_atomic_t* interrupted = nullptr;
};

[[nodiscard]] int run_import(const ImportSettings& settings);

} // namespace mso
