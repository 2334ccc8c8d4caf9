// Apache's configtest for tune --check-config (config_check.h).
#include "cli/config_check.h"

#include "util/errno_text.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mso {
namespace {

std::string real_path(const std::string& path)
{
    char buf[PATH_MAX];
    return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

} // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv)
{
    if (argv.empty()) {
        return fail("run: no program");
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return fail("pipe: " + errno_text(errno));
    }
    const pid_t pid = fork();
    if (pid < 0) {
        const int err = errno;
        close(fds[0]);
        close(fds[1]);
        return fail("fork: " + errno_text(err));
    }
    if (pid == 0) {
        const int null = open("/dev/null", O_RDONLY);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
        }
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        std::vector<char*> args;
        for (const std::string& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    ProcessOutput out;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) {
            if (out.output.size() < (1U << 20)) {
                out.output.append(buf, static_cast<std::size_t>(n));
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (out.status == 127 && out.output.empty()) {
        return fail("cannot run " + argv[0]);
    }
    return out;
}

std::vector<std::string> included_files(std::string_view dump)
{
    std::vector<std::string> out;
    std::istringstream in{std::string(dump)};
    std::string line;
    while (std::getline(in, line)) {
        const std::size_t open = line.find('(');
        const std::size_t close = line.find(") ");
        if (open == std::string::npos || close == std::string::npos || close < open) {
            continue;
        }
        const std::string path = line.substr(close + 2);
        if (!path.empty() && path.front() == '/') {
            out.push_back(path);
        }
    }
    return out;
}

std::set<long> rule_ids_in(std::string_view text)
{
    std::set<long> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        const std::size_t first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') {
            continue;
        }
        for (std::size_t i = 0; i + 3 < line.size(); ++i) {
            const bool boundary =
                i == 0 ||
                !(std::isalnum(static_cast<unsigned char>(line[i - 1])) || line[i - 1] == '_');
            if (!boundary || std::tolower(static_cast<unsigned char>(line[i])) != 'i' ||
                std::tolower(static_cast<unsigned char>(line[i + 1])) != 'd' ||
                line[i + 2] != ':') {
                continue;
            }
            std::size_t j = i + 3;
            while (j < line.size() && (line[j] == '\'' || line[j] == '"' || line[j] == ' ')) {
                ++j;
            }
            long value = 0;
            std::size_t digits = 0;
            while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j])) &&
                   digits < 10) {
                value = value * 10 + (line[j] - '0');
                ++j;
                ++digits;
            }
            if (digits > 0) {
                out.insert(value);
            }
        }
    }
    return out;
}

Result<std::set<long>> loaded_rule_ids(const std::string& ctl, const std::string& config,
                                       const std::string& skip_file, bool& includes_skip_file)
{
    auto dump = run_process({ctl, "-f", config, "-t", "-D", "DUMP_INCLUDES"});
    if (!dump) {
        return fail(dump.error());
    }
    const std::vector<std::string> files = included_files(dump->output);
    if (files.empty()) {
        return fail(ctl + " -f " + config + " -t -D DUMP_INCLUDES listed no files (exit " +
                    std::to_string(dump->status) + "): " + dump->output.substr(0, 2000));
    }
    const std::string skip = real_path(skip_file);
    std::set<long> ids;
    includes_skip_file = false;
    for (const std::string& f : files) {
        if (real_path(f) == skip) {
            includes_skip_file = true;
            continue;
        }
        std::ifstream in(f, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        const std::set<long> here = rule_ids_in(text.str());
        ids.insert(here.begin(), here.end());
    }
    return ids;
}

Result<ConfigCheck> check_config(const std::string& ctl, const std::string& config,
                                 const std::string& file, bool already_included)
{
    ConfigCheck c;
    c.already_included = already_included;
    c.command = {ctl, "-f", config, "-t"};
    if (!already_included) {
        c.command.emplace_back("-c");
        c.command.push_back("Include \"" + real_path(file) + "\"");
    }
    auto run = run_process(c.command);
    if (!run) {
        return fail(run.error());
    }
    c.ok = run->status == 0;
    c.output = std::move(run->output);
    return c;
}

} // namespace mso
