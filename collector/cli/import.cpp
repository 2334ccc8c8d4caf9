// `modsec-observe import` (import.h).
#include "cli/import.h"

#include "cli/connection.h"
#include "cli/vhost_map.h"
#include "ingest/audit_reader.h"
#include "ingest/concurrent_index.h"
#include "protocol/import_line.h"
#include "util/errno_text.h"
#include "util/terminal.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>

namespace mso {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_read_bytes = 1024 * 1024;
constexpr std::size_t k_send_batch_bytes = 256 * 1024;
// A sync after this many events; at most this many syncs unanswered.
constexpr std::uint64_t k_events_per_sync = 2000;
constexpr std::size_t k_syncs_in_flight = 8;
// Errors printed in full to stderr, and listed in the --json summary.
constexpr std::size_t k_errors_printed = 5;
constexpr std::size_t k_errors_listed = 20;
constexpr std::size_t k_max_index_line = 64 * 1024;
// A sync at least this often, so that a long stretch of input without entries (garbage
// being skipped) does not look idle to the collector (it closes idle connections at 60 s).
constexpr auto k_keepalive = std::chrono::seconds(15);

// What the import did, for the progress lines and the summary.
struct Totals {
    std::uint64_t files = 0;         // inputs read (entry files of an index count each)
    std::uint64_t bytes = 0;         // audit-log bytes read (uncompressed)
    std::uint64_t entries = 0;       // entries parsed and sent
    std::uint64_t malformed = 0;     // entries and stray bytes skipped by the reader
    std::uint64_t skipped_files = 0; // inputs not read (missing, unreadable, not a log)
    std::uint64_t inserted = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t lost = 0;     // the collector could not store them (disk full, I/O)
    std::uint64_t rejected = 0; // lines the collector could not decode
    // Older than the collector's store keeps (its --history-days): not stored.
    std::uint64_t too_old = 0;
    std::int64_t history_days = 0;
    json errors = json::array();
    bool interrupted = false;

    [[nodiscard]] std::uint64_t problems() const
    {
        return malformed + skipped_files + lost + rejected + too_old;
    }
};

// Progress on stderr: a bar redrawn on a terminal, else a line every few seconds.
class Progress {
public:
    explicit Progress(std::uint64_t total_bytes)
        : m_total(total_bytes),
          m_tty(isatty(STDERR_FILENO) != 0),
          m_start(Clock::now()),
          m_last(m_start)
    {
    }

    // `done`: bytes of the inputs on disk read so far (compressed when they are).
    void update(const Totals& t, std::uint64_t done, bool force = false)
    {
        const auto now = Clock::now();
        if (!force && now - m_last < (m_tty ? std::chrono::milliseconds(200)
                                            : std::chrono::milliseconds(5000))) {
            return;
        }
        m_last = now;
        const double seconds = std::chrono::duration<double>(now - m_start).count();
        const double rate = seconds > 0 ? static_cast<double>(t.bytes) / 1e6 / seconds : 0.0;
        char line[256];
        if (!m_tty) {
            std::snprintf(line, sizeof line, "import: %llu entries, %.1f MB, %.1f MB/s\n",
                          static_cast<unsigned long long>(t.entries),
                          static_cast<double>(t.bytes) / 1e6, rate);
            std::fputs(line, stderr);
            return;
        }
        const double fraction =
            m_total > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(m_total))
                        : 0.0;
        constexpr int k_width = 30;
        std::string bar(k_width, ' ');
        std::fill_n(bar.begin(), static_cast<int>(fraction * k_width), '#');
        char eta[32] = "";
        if (m_total > 0 && fraction > 0.0 && fraction < 1.0) {
            const auto left = static_cast<long long>(seconds * (1.0 - fraction) / fraction);
            std::snprintf(eta, sizeof eta, "  ETA %lld:%02lld", left / 60, left % 60);
        }
        std::snprintf(line, sizeof line, "\r[%s] %3.0f%%  %llu entries  %.1f MB/s%s\033[K",
                      bar.c_str(), fraction * 100.0, static_cast<unsigned long long>(t.entries),
                      rate, eta);
        std::fputs(line, stderr);
        m_drawn = true;
    }

    void finish()
    {
        if (m_tty && m_drawn) {
            std::fputs("\n", stderr);
        }
    }

    [[nodiscard]] double seconds() const
    {
        return std::chrono::duration<double>(Clock::now() - m_start).count();
    }

private:
    std::uint64_t m_total;
    bool m_tty;
    bool m_drawn = false;
    Clock::time_point m_start;
    Clock::time_point m_last;
};

void report_error(Totals& t, const std::string& file, std::optional<std::uint64_t> offset,
                  std::uint64_t size, const std::string& message)
{
    const std::uint64_t n = t.malformed + t.skipped_files + t.rejected; // already counted
    if (n <= k_errors_printed) {
        std::string where = terminal_safe(file);
        if (offset) {
            where += ":" + std::to_string(*offset);
        }
        std::fprintf(stderr, "modsec-observe: import: %s: %s%s\n", where.c_str(),
                     terminal_safe(message).c_str(),
                     size > 0 ? (" (" + std::to_string(size) + " bytes skipped)").c_str() : "");
        if (n == k_errors_printed) {
            std::fputs("modsec-observe: import: further errors are only counted\n", stderr);
        }
    }
    if (t.errors.size() < k_errors_listed) {
        json e;
        e["file"] = file;
        if (offset) {
            e["offset"] = *offset;
            e["size"] = size;
        }
        e["error"] = message;
        t.errors.push_back(std::move(e));
    }
}

// One import connection: event lines out in batches, syncs pipelined, answers counted.
class Uploader {
public:
    explicit Uploader(Totals& totals) : m_totals(totals) {}

    Result<void> start(const std::string& socket_path, const std::string& source)
    {
        if (auto opened = m_connection.open(socket_path); !opened) {
            return opened;
        }
        auto started = m_connection.request(import_start_line(source));
        if (!started) {
            return fail(started.error());
        }
        return ok();
    }

    // A sync when nothing was sent for k_keepalive.
    Result<void> keepalive()
    {
        if (Clock::now() - m_last_send < k_keepalive) {
            return ok();
        }
        return sync();
    }

    Result<void> add(std::string_view line)
    {
        m_batch.append(line);
        m_batch += '\n';
        ++m_since_sync;
        if (m_since_sync >= k_events_per_sync) {
            return sync();
        }
        if (m_batch.size() >= k_send_batch_bytes) {
            return flush();
        }
        return ok();
    }

    // Sends a sync (after what is batched); waits for the oldest answer when too many
    // are in flight.
    Result<void> sync()
    {
        m_batch.append(k_import_sync_line);
        m_batch += '\n';
        m_since_sync = 0;
        ++m_in_flight;
        if (auto sent = flush(); !sent) {
            return sent;
        }
        while (m_in_flight > k_syncs_in_flight) {
            if (auto answered = receive(); !answered) {
                return answered;
            }
        }
        return ok();
    }

    // The last sync and the end; every answer received.
    Result<void> finish()
    {
        if (auto synced = sync(); !synced) {
            return synced;
        }
        while (m_in_flight > 0) {
            if (auto answered = receive(); !answered) {
                return answered;
            }
        }
        if (auto sent = m_connection.send(k_import_end_line); !sent) {
            return sent;
        }
        auto ended = m_connection.receive();
        if (!ended) {
            return fail(ended.error());
        }
        return ok();
    }

private:
    Result<void> flush()
    {
        if (m_batch.empty()) {
            return ok();
        }
        if (m_batch.back() == '\n') {
            m_batch.pop_back(); // send() adds it back
        }
        auto sent = m_connection.send(m_batch);
        m_batch.clear();
        m_last_send = Clock::now();
        return sent;
    }

    Result<void> receive()
    {
        auto answer = m_connection.receive();
        if (!answer) {
            return fail(answer.error());
        }
        auto checked = answer_ok(std::move(*answer));
        if (!checked) {
            return fail(checked.error());
        }
        const json& a = *checked;
        const auto count = [&](const char* key) { return a.value(key, std::uint64_t{0}); };
        m_totals.inserted += count(import_key::k_inserted);
        m_totals.duplicates += count(import_key::k_duplicates);
        m_totals.lost += count(import_key::k_lost);
        m_totals.too_old += count(import_key::k_too_old);
        m_totals.history_days = a.value(import_key::k_history_days, std::int64_t{0});
        const std::uint64_t rejected = count(import_key::k_malformed);
        if (rejected > 0) {
            const auto lines = a.find(import_key::k_malformed_lines);
            if (lines != a.end() && lines->is_array()) {
                for (const json& l : *lines) {
                    report_error(m_totals, "(collector)",
                                 l.value(import_key::k_line, std::uint64_t{0}), 0,
                                 "the collector rejected import line: " +
                                     l.value(import_key::k_reason, std::string()));
                }
            }
            m_totals.rejected += rejected;
        }
        --m_in_flight;
        return ok();
    }

    Totals& m_totals;
    CollectorConnection m_connection;
    std::string m_batch;
    std::uint64_t m_since_sync = 0;
    std::size_t m_in_flight = 0;
    Clock::time_point m_last_send = Clock::now();
};

// A readable input: a file (plain or gzip, zlib reads both) or stdin.
class GzInput {
public:
    static Result<GzInput> open(const std::string& path)
    {
        const int fd = path == "-" ? ::dup(STDIN_FILENO)
                                   : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            return fail(errno_text(errno));
        }
        gzFile gz = ::gzdopen(fd, "rb");
        if (gz == nullptr) {
            ::close(fd);
            return fail("cannot read it (out of memory)");
        }
        ::gzbuffer(gz, 256 * 1024);
        return GzInput(gz);
    }

    GzInput(GzInput&& other) noexcept : m_gz(std::exchange(other.m_gz, nullptr)) {}
    GzInput& operator=(GzInput&&) = delete;
    GzInput(const GzInput&) = delete;
    GzInput& operator=(const GzInput&) = delete;
    ~GzInput()
    {
        if (m_gz != nullptr) {
            ::gzclose(m_gz);
        }
    }

    // Up to `buffer.size()` bytes; 0 at the end; an error (a corrupt .gz) as such.
    Result<std::size_t> read(std::string& buffer)
    {
        const int n = ::gzread(m_gz, buffer.data(), static_cast<unsigned>(buffer.size()));
        if (n < 0) {
            int err = 0;
            const char* text = ::gzerror(m_gz, &err);
            return fail(err == Z_ERRNO ? errno_text(errno) : std::string(text));
        }
        return static_cast<std::size_t>(n);
    }

    // Bytes of the file read so far (compressed bytes for a .gz).
    [[nodiscard]] std::uint64_t raw_offset() const
    {
        const auto n = ::gzoffset(m_gz);
        return n > 0 ? static_cast<std::uint64_t>(n) : 0;
    }

private:
    explicit GzInput(gzFile gz) : m_gz(gz) {}
    gzFile m_gz;
};

// The importer: inputs in, event lines to the uploader.
class Importer : public AuditSink {
public:
    Importer(const ImportSettings& settings, std::optional<VhostMap> map, std::size_t max_data,
             Totals& totals)
        : m_settings(settings),
          m_map(std::move(map)),
          m_max_data(max_data),
          m_totals(totals),
          m_uploader(totals)
    {
        m_buffer.resize(k_read_bytes);
    }

    // Streams one PATH argument under `source`; false when the collector failed (the
    // import cannot go on).
    Result<void> import_path(const std::string& path, const std::string& source, Progress& progress)
    {
        m_progress = &progress;
        if (auto started = m_uploader.start(m_settings.socket_path, source); !started) {
            return started;
        }
        if (auto r = walk(path, true); !r) {
            return r;
        }
        return m_uploader.finish();
    }

    void entry(const AuditEntry& e) override
    {
        if (!m_failure) {
            std::string_view vhost = e.event.vhost;
            if (!m_settings.vhost.empty()) {
                vhost = m_settings.vhost;
            } else if (m_map) {
                vhost = m_map->label(e.event.vhost);
            }
            encode_import_line(e.event, vhost, e.engine, m_line, m_max_data);
            ++m_totals.entries;
            if (auto added = m_uploader.add(m_line); !added) {
                m_failure = added.error();
            }
        }
    }

    void error(const AuditError& e) override
    {
        ++m_totals.malformed;
        report_error(m_totals, m_current, e.offset, e.size, e.message);
    }

    [[nodiscard]] std::uint64_t done_bytes() const { return m_done_bytes; }

private:
    [[nodiscard]] bool interrupted() const
    {
        return m_settings.interrupted != nullptr && *m_settings.interrupted != 0;
    }

    void skip_file(const std::string& path, const std::string& why)
    {
        ++m_totals.skipped_files;
        report_error(m_totals, path, std::nullopt, 0, why);
    }

    Result<void> failed() const { return m_failure ? Result<void>(fail(*m_failure)) : ok(); }

    // A file, a directory (walked in name order), or stdin.
    Result<void> walk(const std::string& path, bool top)
    {
        if (interrupted()) {
            m_totals.interrupted = true;
            return ok();
        }
        if (path == "-") {
            return read_input(path);
        }
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            skip_file(path, errno_text(errno));
            return ok();
        }
        if (S_ISDIR(st.st_mode)) {
            return walk_directory(path);
        }
        if (!S_ISREG(st.st_mode) && !top) {
            return ok(); // sockets, fifos found in a walk
        }
        return read_input(path, !top);
    }

    Result<void> walk_directory(const std::string& path)
    {
        std::vector<std::string> names;
        {
            DIR* dir = ::opendir(path.c_str());
            if (dir == nullptr) {
                skip_file(path, errno_text(errno));
                return ok();
            }
            while (const dirent* d = ::readdir(dir)) {
                const std::string_view name = d->d_name;
                if (name != "." && name != "..") {
                    names.emplace_back(name);
                }
            }
            ::closedir(dir);
        }
        std::sort(names.begin(), names.end());
        for (const std::string& name : names) {
            if (auto r = walk(path + "/" + name, false); !r) {
                return r;
            }
        }
        return ok();
    }

    // One input: an audit log (any dialect), or a Concurrent index.
    Result<void> read_input(const std::string& path, bool in_walk = false)
    {
        auto input = GzInput::open(path);
        if (!input) {
            skip_file(path, input.error());
            return ok();
        }
        m_current = path == "-" ? std::string("(stdin)") : path;
        auto first = input->read(m_buffer);
        if (!first) {
            skip_file(m_current, first.error());
            return ok();
        }
        const std::string_view head(m_buffer.data(), *first);
        if (!head.empty() && detect_format(head) == AuditFormat::unknown) {
            const std::string_view line = head.substr(0, head.find('\n'));
            if (parse_index_line(line)) {
                if (in_walk) {
                    // Its entries are the storage files of this walk, read as files.
                    return ok();
                }
                return read_index(*input, head);
            }
            skip_file(m_current, "not an audit log (no entry of any ModSecurity audit log "
                                 "format in its first MiB)");
            return ok();
        }
        ++m_totals.files;
        AuditReaderOptions options;
        options.utc_offset_minutes = local_utc_offset_minutes();
        AuditReader reader(options);
        std::size_t n = *first;
        const std::uint64_t done_before = m_done_bytes;
        while (n > 0) {
            m_totals.bytes += n;
            reader.feed(std::string_view(m_buffer.data(), n), *this);
            if (auto r = failed(); !r) {
                return r;
            }
            m_done_bytes = done_before + input->raw_offset();
            m_progress->update(m_totals, m_done_bytes);
            if (auto alive = m_uploader.keepalive(); !alive) {
                return alive;
            }
            if (interrupted()) {
                m_totals.interrupted = true;
                return ok();
            }
            auto more = input->read(m_buffer);
            if (!more) {
                report_error(m_totals, m_current, reader.bytes_read(), 0,
                             "cannot read on: " + more.error());
                ++m_totals.malformed;
                break;
            }
            n = *more;
        }
        reader.finish(*this);
        return failed();
    }

    // A v2 Concurrent index: each line names an entry file under the storage directory.
    Result<void> read_index(GzInput& input, std::string_view head)
    {
        const std::string index = m_current;
        std::string pending(head);
        std::uint64_t offset = 0; // of pending[0] in the index
        std::optional<std::string> root;
        for (bool more = true; more;) {
            std::size_t newline = 0;
            while ((newline = pending.find('\n')) != std::string::npos) {
                const std::string line = pending.substr(0, newline);
                if (auto r = index_entry(index, offset, line, root); !r) {
                    return r;
                }
                pending.erase(0, newline + 1);
                offset += newline + 1;
                if (auto alive = m_uploader.keepalive(); !alive) {
                    return alive;
                }
                if (interrupted()) {
                    m_totals.interrupted = true;
                    return ok();
                }
            }
            if (pending.size() > k_max_index_line) {
                ++m_totals.malformed;
                report_error(m_totals, index, offset, pending.size(),
                             "an index line longer than 64 KiB");
                offset += pending.size();
                pending.clear();
            }
            auto n = input.read(m_buffer);
            if (!n) {
                ++m_totals.malformed;
                report_error(m_totals, index, offset, 0, "cannot read on: " + n.error());
                break;
            }
            more = *n > 0;
            pending.append(m_buffer.data(), *n);
        }
        if (!pending.empty()) {
            if (auto r = index_entry(index, offset, pending, root); !r) {
                return r;
            }
        }
        return ok();
    }

    Result<void> index_entry(const std::string& index, std::uint64_t offset, std::string_view line,
                             std::optional<std::string>& root)
    {
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            return ok();
        }
        auto parsed = parse_index_line(line);
        if (!parsed) {
            ++m_totals.malformed;
            report_error(m_totals, index, offset, line.size(), parsed.error());
            return ok();
        }
        const std::string& relative = parsed->path;
        if (relative.find("/../") != std::string::npos || relative.ends_with("/..")) {
            ++m_totals.malformed;
            report_error(m_totals, index, offset, line.size(),
                         "the entry path leaves the storage directory");
            return ok();
        }
        if (!root) {
            root = storage_root(index, relative);
        }
        if (!root) {
            skip_file(index + ":" + std::to_string(offset),
                      "entry file " + relative +
                          " not found (next to the index, in its storage/ directory, or under "
                          "--storage-dir)");
            return ok();
        }
        const std::string file = *root + relative;
        if (::access(file.c_str(), R_OK) != 0) {
            skip_file(file, "named by " + index + ":" + std::to_string(offset) + ": " +
                                errno_text(errno));
            return ok();
        }
        auto r = read_input(file);
        m_current = index;
        return r;
    }

    // The storage directory an index's entry paths are relative to: the first of
    // --storage-dir, <index dir>/storage, <index dir> where `relative` exists.
    [[nodiscard]] std::optional<std::string> storage_root(const std::string& index,
                                                          const std::string& relative) const
    {
        const std::size_t slash = index.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : index.substr(0, slash);
        std::vector<std::string> candidates;
        if (!m_settings.storage_dir.empty()) {
            candidates.push_back(m_settings.storage_dir);
        }
        candidates.push_back(dir + "/storage");
        candidates.push_back(dir);
        for (const std::string& c : candidates) {
            if (::access((c + relative).c_str(), F_OK) == 0) {
                return c;
            }
        }
        return std::nullopt;
    }

    // ModSecurity v3's JSON time stamps are local time without a zone: this machine's.
    static int local_utc_offset_minutes()
    {
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        ::localtime_r(&now, &local);
        return static_cast<int>(local.tm_gmtoff / 60);
    }

    const ImportSettings& m_settings;
    std::optional<VhostMap> m_map;
    std::size_t m_max_data; // --matched-data
    Totals& m_totals;
    Uploader m_uploader;
    Progress* m_progress = nullptr;
    std::string m_buffer;
    std::string m_line;
    std::string m_current; // the input being read, for error reports
    std::uint64_t m_done_bytes = 0;
    std::optional<std::string> m_failure; // the collector failed
};

// Bytes on disk of the inputs (for the progress bar's ETA); stdin counts 0.
std::uint64_t input_bytes(const std::string& path)
{
    struct stat st {};
    if (path == "-" || ::stat(path.c_str(), &st) != 0) {
        return 0;
    }
    if (S_ISREG(st.st_mode)) {
        return static_cast<std::uint64_t>(st.st_size);
    }
    if (!S_ISDIR(st.st_mode)) {
        return 0;
    }
    std::uint64_t total = 0;
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) {
        return 0;
    }
    while (const dirent* d = ::readdir(dir)) {
        const std::string_view name = d->d_name;
        if (name != "." && name != "..") {
            total += input_bytes(path + "/" + std::string(name));
        }
    }
    ::closedir(dir);
    return total;
}

// import:NAME: --source, else the PATH's last component ("stdin" for -).
std::string source_of(const ImportSettings& s, const std::string& path)
{
    if (!s.source.empty()) {
        return s.source.starts_with("import:") ? s.source : "import:" + s.source;
    }
    if (path == "-") {
        return "import:stdin";
    }
    std::string name = path;
    while (name.size() > 1 && name.back() == '/') {
        name.pop_back();
    }
    const std::size_t slash = name.rfind('/');
    return "import:" + (slash == std::string::npos ? name : name.substr(slash + 1));
}

void print_summary(const Totals& t, double seconds, bool as_json)
{
    if (as_json) {
        json j;
        j["files"] = t.files;
        j["bytes"] = t.bytes;
        j["seconds"] = seconds;
        j["entries"] = t.entries;
        j["imported"] = t.inserted;
        j["duplicates"] = t.duplicates;
        j["malformed"] = t.malformed;
        j["skipped_files"] = t.skipped_files;
        j["lost"] = t.lost;
        j["rejected"] = t.rejected;
        j["too_old"] = t.too_old;
        j["history_days"] = t.history_days;
        j["interrupted"] = t.interrupted;
        j["errors"] = t.errors;
        const bool ascii = isatty(STDOUT_FILENO) != 0;
        std::cout << j.dump(2, ' ', ascii, json::error_handler_t::replace) << '\n';
        return;
    }
    char line[512];
    std::snprintf(line, sizeof line,
                  "%llu entries from %llu files (%.1f MB in %.1f s): %llu imported, %llu "
                  "duplicates, %llu malformed\n",
                  static_cast<unsigned long long>(t.entries),
                  static_cast<unsigned long long>(t.files), static_cast<double>(t.bytes) / 1e6,
                  seconds, static_cast<unsigned long long>(t.inserted),
                  static_cast<unsigned long long>(t.duplicates),
                  static_cast<unsigned long long>(t.malformed));
    std::cout << line;
    if (t.skipped_files > 0) {
        std::cout << t.skipped_files << " files skipped\n";
    }
    if (t.lost + t.rejected > 0) {
        std::cout << t.lost << " lost by the collector (disk full or I/O error), " << t.rejected
                  << " rejected by it\n";
    }
    if (t.too_old > 0) {
        std::cout << t.too_old << " older than the collector keeps (--history-days "
                  << t.history_days
                  << "): not stored; start modsec-observed with a larger --history-days (0: any "
                     "age) to keep them\n";
    }
    if (t.interrupted) {
        std::cout << "interrupted: the rest was not read\n";
    }
}

} // namespace

int run_import(const ImportSettings& settings)
{
    if (settings.paths.empty()) {
        std::fputs("modsec-observe: import: no PATH given\n", stderr);
        return k_import_usage;
    }
    if (!settings.vhost.empty() && !settings.vhost_map.empty()) {
        std::fputs("modsec-observe: import: --vhost and --vhost-map exclude each other\n", stderr);
        return k_import_usage;
    }
    std::optional<VhostMap> map;
    if (!settings.vhost_map.empty()) {
        auto loaded = VhostMap::load(settings.vhost_map);
        if (!loaded) {
            std::fprintf(stderr, "modsec-observe: import: --vhost-map: %s\n",
                         terminal_safe(loaded.error()).c_str());
            return k_import_usage;
        }
        map = std::move(*loaded);
    }
    const auto max_data = matched_data_bytes(settings.matched_data);
    if (!max_data) {
        std::fprintf(stderr, "modsec-observe: import: --matched-data: %s\n",
                     terminal_safe(max_data.error()).c_str());
        return k_import_usage;
    }
    std::uint64_t total = 0;
    for (const std::string& path : settings.paths) {
        total += input_bytes(path);
    }
    Totals totals;
    Progress progress(total);
    Importer importer(settings, std::move(map), *max_data, totals);
    for (const std::string& path : settings.paths) {
        auto r = importer.import_path(path, source_of(settings, path), progress);
        if (!r) {
            progress.finish();
            std::fprintf(stderr, "modsec-observe: import: %s\n", terminal_safe(r.error()).c_str());
            print_summary(totals, progress.seconds(), settings.as_json);
            return k_import_failed;
        }
        if (totals.interrupted) {
            break;
        }
    }
    progress.update(totals, importer.done_bytes(), true);
    progress.finish();
    print_summary(totals, progress.seconds(), settings.as_json);
    std::cout.flush();
    return totals.problems() > 0 || totals.interrupted ? k_import_skipped : k_import_ok;
}

} // namespace mso
