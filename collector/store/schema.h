// The history store's schema (docs/STORE.md) and how a connection is set up: the ordered
// list of migrations, PRAGMA user_version as the applied count, and the check at open
// that moves a corrupt file aside (as daemon/ does for state.json) so the collector
// starts with an empty history rather than not at all.
#pragma once

#include "store/sqlite_db.h"
#include "util/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace mso {

// One step from version `version - 1` to `version`, applied in one transaction: `sql`,
// then `step` when there is one (work SQL alone would do with a sort of the whole table).
struct Migration {
    int version;
    std::string_view what;
    std::string_view sql;
    Result<void> (*step)(Db& db) = nullptr;
};

// The schema version this build writes (the last migration's).
[[nodiscard]] int latest_schema_version() noexcept;

// What opening found and did.
struct OpenReport {
    bool created = false;   // there was no database (or an empty file)
    int migrated_from = -1; // the version before migrating; -1 when none ran
    std::string problem;    // why the file was set aside ("" when it was not)
    std::string set_aside;  // where it went ("" when it was not moved)
};

struct ConnectOptions {
    bool read_only = false;      // no migration, no integrity check
    bool check_integrity = true; // PRAGMA quick_check (reads the whole file)
    int busy_timeout_ms = 5000;
    int cache_kib = 65536;
    std::int64_t max_page_count = 0; // 0: SQLite's default
    std::int64_t now_seconds = 0;    // names the set-aside file; 0: time(nullptr)
};

// Opens `path`, checks it, sets WAL mode and the pragmas, and migrates it to the latest
// version. A file that is not a database or fails quick_check is moved aside (with its
// -wal and -shm) and a new one created; `report` says so. A newer schema than this
// build knows, or a failure to move a bad file aside, is an error.
[[nodiscard]] Result<Db> connect(const std::string& path, const ConnectOptions& options,
                                 OpenReport& report);

} // namespace mso
