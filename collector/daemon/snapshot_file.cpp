// The snapshot file in --state-dir (snapshot.h): written atomically (temporary file,
// fsync, rename, fsync of the directory), so a crash at any moment leaves either the
// previous snapshot or the new one; read once at start, and moved aside when it
// cannot be used so that it is neither loaded again nor overwritten.
#include "daemon/snapshot.h"

#include "util/fd.h"
#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <variant>

namespace mso {
namespace {

std::string errno_text(const std::string& what, const std::string& path)
{
    return what + " " + path + ": " + std::strerror(errno);
}

std::optional<std::string> write_all(int fd, std::string_view data, const std::string& path)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno_text("cannot write", path);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return std::nullopt;
}

// The file's contents, or why it could not be read (ENOENT is reported by `missing`).
std::optional<std::string> read_all(const std::string& path, std::string& out, bool& missing)
{
    missing = false;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        missing = errno == ENOENT;
        return errno_text("cannot open", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return errno_text("cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        return path + ": not a regular file";
    }
    if (static_cast<std::uint64_t>(st.st_size) > k_max_snapshot_bytes) {
        return "absurd size: " + std::to_string(st.st_size) + " bytes (at most " +
               std::to_string(k_max_snapshot_bytes) + ")";
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno_text("cannot read", path);
        }
        if (n == 0) {
            break; // shrank while we read: parse what we have
        }
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return std::nullopt;
}

} // namespace

std::optional<std::string> prepare_state_dir(const std::string& dir)
{
    if (dir.empty()) {
        return "empty state directory";
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return errno_text("cannot create", dir);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        return errno_text("cannot stat", dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        return dir + ": not a directory";
    }
    if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
        return errno_text("cannot use", dir);
    }
    return std::nullopt;
}

std::optional<std::string> write_snapshot(const std::string& dir, std::string_view data)
{
    const std::string path = dir + "/" + k_snapshot_file;
    const std::string tmp = path + ".tmp";
    {
        Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) {
            return errno_text("cannot create", tmp);
        }
        if (auto error = write_all(fd.get(), data, tmp)) {
            ::unlink(tmp.c_str());
            return error;
        }
        if (::fsync(fd.get()) != 0) {
            auto error = errno_text("cannot fsync", tmp);
            ::unlink(tmp.c_str());
            return error;
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto error = errno_text("cannot rename to", path);
        ::unlink(tmp.c_str());
        return error;
    }
    const Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd || ::fsync(dir_fd.get()) != 0) {
        return errno_text("cannot fsync", dir);
    }
    return std::nullopt;
}

SnapshotWrite save_snapshot(const std::string& dir, const Collector& collector, std::int64_t now)
{
    SnapshotWrite result;
    const std::string data =
        save_state(collector, now).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    result.error = write_snapshot(dir, data);
    if (!result.error) {
        result.bytes = data.size();
    }
    return result;
}

SnapshotRead read_snapshot(const std::string& dir, Collector& collector, std::int64_t now)
{
    SnapshotRead result;
    const std::string path = dir + "/" + k_snapshot_file;
    std::string data;
    bool missing = false;
    std::optional<std::string> error = read_all(path, data, missing);
    if (missing) {
        return result;
    }
    result.found = true;
    if (!error) {
        const auto doc = nlohmann::json::parse(data, nullptr, false);
        data = std::string(); // free the text before the document is loaded
        if (doc.is_discarded()) {
            error = "not valid JSON (truncated?)";
        } else {
            auto loaded = load_state(doc, collector);
            if (auto* summary = std::get_if<LoadSummary>(&loaded)) {
                result.loaded = *summary;
                collector.snapshot_status().loaded = true;
                return result;
            }
            error = std::get<LoadError>(loaded).message;
        }
    }
    result.error = *error;
    const std::string aside = path + ".corrupt-" + std::to_string(now);
    if (::rename(path.c_str(), aside.c_str()) == 0) {
        result.set_aside = aside;
    } else {
        result.error += "; " + errno_text("cannot move it aside to", aside);
    }
    SnapshotStatus& status = collector.snapshot_status();
    status.last_error = result.error;
    status.set_aside = result.set_aside;
    return result;
}

} // namespace mso
