// The snapshot file in --state-dir (snapshot.h): written atomically (temporary file,
// fsync, rename, fsync of the directory), so a crash at any moment leaves either the
// previous snapshot or the new one; read once at start, and moved aside when it
// cannot be used so that it is neither loaded again nor overwritten.
#include "daemon/snapshot.h"

#include "util/errno_text.h"
#include "util/fd.h"
#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <utility>

namespace mso {
namespace {

// "<what> <path>: <errno text>", for the errno of the call that just failed.
std::string with_errno(const std::string& what, const std::string& path)
{
    const int err = errno;
    return what + " " + path + ": " + errno_text(err);
}

Result<void> write_all(int fd, std::string_view data, const std::string& path)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(with_errno("cannot write", path));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
}

// The file's contents; nullopt when it does not exist.
Result<std::optional<std::string>> read_all(const std::string& path)
{
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) {
            return std::optional<std::string>();
        }
        return fail(with_errno("cannot open", path));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return fail(with_errno("cannot stat", path));
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(path + ": not a regular file");
    }
    if (static_cast<std::uint64_t>(st.st_size) > k_max_snapshot_bytes) {
        return fail("absurd size: " + std::to_string(st.st_size) + " bytes (at most " +
                    std::to_string(k_max_snapshot_bytes) + ")");
    }
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(with_errno("cannot read", path));
        }
        if (n == 0) {
            break; // shrank while we read: parse what we have
        }
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return std::optional<std::string>(std::move(out));
}

// Parses and loads the text of a snapshot file.
Result<LoadSummary> load_text(std::string text, Collector& collector)
{
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    text = std::string(); // free the text before the document is loaded
    if (doc.is_discarded()) {
        return fail("not valid JSON (truncated?)");
    }
    return load_state(doc, collector);
}

} // namespace

Result<void> prepare_state_dir(const std::string& dir)
{
    if (dir.empty()) {
        return fail("empty state directory");
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail(with_errno("cannot create", dir));
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        return fail(with_errno("cannot stat", dir));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(dir + ": not a directory");
    }
    if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
        return fail(with_errno("cannot use", dir));
    }
    return ok();
}

Result<void> write_snapshot(const std::string& dir, std::string_view data)
{
    const std::string path = dir + "/" + k_snapshot_file;
    const std::string tmp = path + ".tmp";
    {
        Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) {
            return fail(with_errno("cannot create", tmp));
        }
        if (auto written = write_all(fd.get(), data, tmp); !written) {
            ::unlink(tmp.c_str());
            return written;
        }
        if (::fsync(fd.get()) != 0) {
            auto error = with_errno("cannot fsync", tmp);
            ::unlink(tmp.c_str());
            return fail(std::move(error));
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto error = with_errno("cannot rename to", path);
        ::unlink(tmp.c_str());
        return fail(std::move(error));
    }
    const Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd || ::fsync(dir_fd.get()) != 0) {
        return fail(with_errno("cannot fsync", dir));
    }
    return ok();
}

Result<std::size_t> save_snapshot(const std::string& dir, const Collector& collector,
                                  std::int64_t now)
{
    const std::string data =
        save_state(collector, now).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (auto written = write_snapshot(dir, data); !written) {
        return fail(written.error());
    }
    return data.size();
}

SnapshotRead read_snapshot(const std::string& dir, Collector& collector, std::int64_t now)
{
    SnapshotRead result;
    const std::string path = dir + "/" + k_snapshot_file;
    auto text = read_all(path);
    if (text && !text->has_value()) {
        return result; // no snapshot yet
    }
    result.found = true;
    const Result<LoadSummary> loaded =
        text ? load_text(std::move(**text), collector) : fail(text.error());
    if (loaded) {
        result.loaded = *loaded;
        collector.snapshot_status().loaded = true;
        return result;
    }
    result.error = loaded.error();
    const std::string aside = path + ".corrupt-" + std::to_string(now);
    if (::rename(path.c_str(), aside.c_str()) == 0) {
        result.set_aside = aside;
    } else {
        result.error += "; " + with_errno("cannot move it aside to", aside);
    }
    SnapshotStatus& status = collector.snapshot_status();
    status.last_error = result.error;
    status.set_aside = result.set_aside;
    return result;
}

} // namespace mso
