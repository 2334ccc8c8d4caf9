// Thin RAII wrappers over SQLite's C API for the history store: a connection (Db) and a
// prepared statement (Stmt), with errors as Result<T> carrying SQLite's message, and
// each_row() to walk a statement's rows. Nothing here knows the schema. Neither class is
// thread-safe: a connection and its statements belong to one thread (SQLite is built serialized,
// but the store keeps one connection per thread anyway, readers beside the one writer, as WAL mode
// allows).
#pragma once

#include "util/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

struct sqlite3;
struct sqlite3_stmt;

namespace mso {

// The result code of a failed SQLite call, kept by Db for callers that must tell a full
// disk (SQLITE_FULL) or a corrupt file from other errors.
enum class SqliteFailure : std::uint8_t { none, full, corrupt, busy, other };

class Db {
public:
    Db() = default;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    Db(Db&& other) noexcept;
    Db& operator=(Db&& other) noexcept;
    ~Db();

    // Opens (creating when `create`) the database file at `path`.
    [[nodiscard]] static Result<Db> open(const std::string& path, bool create);

    // Runs one or more statements without results.
    [[nodiscard]] Result<void> exec(std::string_view sql);
    // Runs a statement returning one integer (PRAGMA page_count, SELECT count(*)).
    [[nodiscard]] Result<std::int64_t> integer(std::string_view sql);

    // "what: <sqlite message>", and records the failure kind of the last call.
    [[nodiscard]] Error error(std::string_view what);
    [[nodiscard]] SqliteFailure last_failure() const noexcept { return m_failure; }
    void clear_failure() noexcept { m_failure = SqliteFailure::none; }

    // Rolls back the open transaction, if any, keeping last_failure() (SQLite may have
    // rolled back already, on SQLITE_FULL for one).
    void rollback() noexcept;

    [[nodiscard]] sqlite3* handle() const noexcept { return m_db; }
    [[nodiscard]] std::int64_t last_rowid() const noexcept;
    [[nodiscard]] int changes() const noexcept;

private:
    sqlite3* m_db = nullptr;
    SqliteFailure m_failure = SqliteFailure::none;
};

// A prepared statement, reset and rebound for each use. Bind indexes start at 1, column
// indexes at 0, as in SQLite.
class Stmt {
public:
    Stmt() = default;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt(Stmt&& other) noexcept;
    Stmt& operator=(Stmt&& other) noexcept;
    ~Stmt();

    [[nodiscard]] static Result<Stmt> prepare(Db& db, std::string_view sql);

    void reset() noexcept;
    void bind(int index, std::int64_t value) noexcept;
    void bind(int index, std::string_view text) noexcept; // copied by SQLite
    void bind_blob(int index, std::string_view bytes) noexcept;
    // Not copied: the bytes must stay valid until the statement is reset or rebound.
    void bind_static(int index, std::string_view text) noexcept;
    void bind_blob_static(int index, std::string_view bytes) noexcept;
    void bind_null(int index) noexcept;
    void bind_pointer(int index, void* pointer, const char* type) noexcept;

    // Steps once: true when a row is available, false when done; an error otherwise
    // (the statement is reset on error and when done).
    [[nodiscard]] Result<bool> step();

    [[nodiscard]] std::int64_t integer(int column) const noexcept;
    [[nodiscard]] bool is_null(int column) const noexcept;
    [[nodiscard]] std::string_view text(int column) const noexcept; // valid until next step
    [[nodiscard]] std::string_view blob(int column) const noexcept;
    // How many parameters the statement has (its largest ?N).
    [[nodiscard]] int parameter_count() const noexcept;

private:
    Db* m_db = nullptr;
    sqlite3_stmt* m_stmt = nullptr;
};

// Steps `s` to its end, each row to `row`; `row` returns false to stop early (then `s` is
// reset, ending its read).
template <typename F> Result<void> each_row(Stmt& s, F&& row)
{
    for (;;) {
        auto more = s.step();
        if (!more) {
            return fail(more.error());
        }
        if (!*more) {
            return ok();
        }
        if constexpr (std::is_same_v<decltype(row(s)), bool>) {
            if (!row(s)) {
                s.reset();
                return ok();
            }
        } else {
            row(s);
        }
    }
}

} // namespace mso
