// The SQLite wrappers of sqlite_db.h. Errors carry SQLite's own message and classify the
// result code so the writer can count a full disk apart from other I/O errors.
#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace mso {
namespace {

SqliteFailure classify(int code) noexcept
{
    switch (code & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return SqliteFailure::none;
    case SQLITE_FULL: return SqliteFailure::full;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return SqliteFailure::corrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return SqliteFailure::busy;
    default: return SqliteFailure::other;
    }
}

} // namespace

Db::Db(Db&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)), m_failure(other.m_failure)
{
}

Db& Db::operator=(Db&& other) noexcept
{
    if (this != &other) {
        sqlite3_close_v2(m_db);
        m_db = std::exchange(other.m_db, nullptr);
        m_failure = other.m_failure;
    }
    return *this;
}

Db::~Db()
{
    sqlite3_close_v2(m_db);
}

Result<Db> Db::open(const std::string& path, bool create)
{
    // SQLite's memory statistics take a global mutex on every allocation of every
    // connection; nothing here reads them. Before SQLite's first use only (it answers
    // SQLITE_MISUSE after, which changes nothing).
    static const bool no_memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
    (void)no_memstatus;
    Db db;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                      SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    const int rc = sqlite3_open_v2(path.c_str(), &db.m_db, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string why = db.m_db != nullptr ? sqlite3_errmsg(db.m_db) : sqlite3_errstr(rc);
        return fail("cannot open " + path + ": " + why);
    }
    return db;
}

Error Db::error(std::string_view what)
{
    const int code = sqlite3_extended_errcode(m_db);
    m_failure = classify(code);
    if (m_failure == SqliteFailure::none) {
        m_failure = SqliteFailure::other;
    }
    return fail(std::string(what) + ": " + sqlite3_errmsg(m_db));
}

Result<void> Db::exec(std::string_view sql)
{
    const std::string text(sql);
    if (sqlite3_exec(m_db, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        return error("cannot run \"" + text.substr(0, 60) + "\"");
    }
    return ok();
}

Result<std::int64_t> Db::integer(std::string_view sql)
{
    auto stmt = Stmt::prepare(*this, sql);
    if (!stmt) {
        return fail(stmt.error());
    }
    auto row = stmt->step();
    if (!row) {
        return fail(row.error());
    }
    if (!*row) {
        return fail("no result from \"" + std::string(sql) + "\"");
    }
    return stmt->integer(0);
}

void Db::rollback() noexcept
{
    if (sqlite3_get_autocommit(m_db) == 0) {
        sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

std::int64_t Db::last_rowid() const noexcept
{
    return sqlite3_last_insert_rowid(m_db);
}

int Db::changes() const noexcept
{
    return sqlite3_changes(m_db);
}

Stmt::Stmt(Stmt&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_stmt(std::exchange(other.m_stmt, nullptr))
{
}

Stmt& Stmt::operator=(Stmt&& other) noexcept
{
    if (this != &other) {
        sqlite3_finalize(m_stmt);
        m_db = std::exchange(other.m_db, nullptr);
        m_stmt = std::exchange(other.m_stmt, nullptr);
    }
    return *this;
}

Stmt::~Stmt()
{
    sqlite3_finalize(m_stmt);
}

Result<Stmt> Stmt::prepare(Db& db, std::string_view sql)
{
    Stmt s;
    s.m_db = &db;
    if (sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &s.m_stmt, nullptr) != SQLITE_OK) {
        return db.error("cannot prepare \"" + std::string(sql.substr(0, 60)) + "\"");
    }
    return s;
}

void Stmt::reset() noexcept
{
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

void Stmt::bind(int index, std::int64_t value) noexcept
{
    sqlite3_bind_int64(m_stmt, index, value);
}

void Stmt::bind(int index, std::string_view text) noexcept
{
    sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Stmt::bind_blob(int index, std::string_view bytes) noexcept
{
    sqlite3_bind_blob64(m_stmt, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
}

void Stmt::bind_static(int index, std::string_view text) noexcept
{
    sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void Stmt::bind_blob_static(int index, std::string_view bytes) noexcept
{
    sqlite3_bind_blob64(m_stmt, index, bytes.data(), bytes.size(), SQLITE_STATIC);
}

void Stmt::bind_null(int index) noexcept
{
    sqlite3_bind_null(m_stmt, index);
}

void Stmt::bind_pointer(int index, void* pointer, const char* type) noexcept
{
    sqlite3_bind_pointer(m_stmt, index, pointer, type, nullptr);
}

Result<bool> Stmt::step()
{
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        sqlite3_reset(m_stmt);
        return false;
    }
    Error e = m_db->error("cannot run \"" + std::string(sqlite3_sql(m_stmt)).substr(0, 60) + "\"");
    sqlite3_reset(m_stmt);
    return e;
}

std::int64_t Stmt::integer(int column) const noexcept
{
    return sqlite3_column_int64(m_stmt, column);
}

bool Stmt::is_null(int column) const noexcept
{
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

std::string_view Stmt::text(int column) const noexcept
{
    const auto* p = sqlite3_column_text(m_stmt, column);
    const int n = sqlite3_column_bytes(m_stmt, column);
    return p == nullptr
               ? std::string_view()
               : std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::string_view Stmt::blob(int column) const noexcept
{
    const void* p = sqlite3_column_blob(m_stmt, column);
    const int n = sqlite3_column_bytes(m_stmt, column);
    return p == nullptr
               ? std::string_view()
               : std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

int Stmt::parameter_count() const noexcept
{
    return sqlite3_bind_parameter_count(m_stmt);
}

} // namespace mso
