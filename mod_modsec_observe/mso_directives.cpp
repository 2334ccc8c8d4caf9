// Parsing of the directives' arguments. Numbers go through strtol/strtoull, as httpd
// modules commonly do: leading blanks and a '+' are accepted, trailing text is not.
#include "mso_directives.h"

#include <strings.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace mso {
namespace {

// `prefix` + the argument in quotes: the rejections that echo what they were given.
Rejection rejected_got(std::string prefix, const char* arg)
{
    return rejected(std::move(prefix) + "got \"" + arg + "\"");
}

} // namespace

DirectiveValue<const char*> parse_socket_path(const char* arg)
{
    if (arg[0] != '/')
        return rejected("ModSecObserveSocket: the socket path must be absolute");
    constexpr std::size_t max_bytes = sizeof(sockaddr_un::sun_path) - 1; // and the NUL
    if (std::strlen(arg) > max_bytes)
        return rejected("ModSecObserveSocket: path longer than " + std::to_string(max_bytes) +
                        " bytes");
    return arg;
}

DirectiveValue<const char*> parse_vhost_name(const char* arg)
{
    const std::size_t n = std::strlen(arg);
    if (n == 0 || n > k_max_vhost_name_bytes)
        return rejected("ModSecObserveVhostName: the label must be 1 to 255 characters");
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(arg[i]);
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\')
            return rejected("ModSecObserveVhostName: the label may not contain spaces, quotes, "
                            "backslashes or control characters");
    }
    return arg;
}

DirectiveValue<EventMode> parse_event_mode(const char* arg)
{
    if (std::strcmp(arg, "flagged") == 0)
        return EventMode::flagged;
    if (std::strcmp(arg, "all") == 0)
        return EventMode::all;
    return rejected_got("ModSecObserveEvents: expected \"flagged\" or \"all\", ", arg);
}

DirectiveValue<int> parse_protocol(const char* arg)
{
    if (std::strcmp(arg, "1") == 0)
        return 1;
    if (std::strcmp(arg, "2") == 0)
        return 2;
    return rejected_got("ModSecObserveProtocol: expected 1 or 2, ", arg);
}

DirectiveValue<MatchedDataSetting> parse_matched_data(const char* arg)
{
    if (std::strcmp(arg, "full") == 0)
        return MatchedDataSetting{MatchedDataMode::keep, k_full_data_bytes};
    if (std::strcmp(arg, "hash") == 0)
        return MatchedDataSetting{MatchedDataMode::hash, 0};
    if (std::strcmp(arg, "off") == 0)
        return MatchedDataSetting{MatchedDataMode::off, 0};
    if (std::strncmp(arg, "truncate:", 9) == 0) {
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(arg + 9, &end, 10);
        if (end == arg + 9 || *end != '\0' || errno != 0 || n < 1 || n > k_full_data_bytes)
            return rejected_got("ModSecObserveMatchedData: truncate:N needs N from 1 to " +
                                    std::to_string(k_full_data_bytes) + " bytes, ",
                                arg);
        return MatchedDataSetting{MatchedDataMode::keep, static_cast<int>(n)};
    }
    return rejected_got("ModSecObserveMatchedData: expected full, truncate:N, hash or off, ", arg);
}

DirectiveValue<int> parse_flush_interval(const char* arg)
{
    char* end = nullptr;
    const long ms = std::strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || ms < k_min_flush_interval_ms || ms > k_max_flush_interval_ms)
        return rejected_got("ModSecObserveFlushInterval: expected milliseconds from 50 to "
                            "60000, ",
                            arg);
    return static_cast<int>(ms);
}

std::uint64_t parse_spool_size(const char* arg) noexcept
{
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(arg, &end, 10);
    if (end == arg || errno != 0 || arg[0] == '-')
        return 0;
    std::uint64_t unit = 1;
    if (*end == 'K' || *end == 'k')
        unit = 1024;
    else if (*end == 'M' || *end == 'm')
        unit = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        unit = 1024 * 1024 * 1024;
    if (unit != 1)
        ++end;
    if (*end != '\0' || n > k_max_spool_max_bytes / unit)
        return 0;
    const std::uint64_t bytes = n * unit;
    return bytes >= k_min_spool_max_bytes && bytes <= k_max_spool_max_bytes ? bytes : 0;
}

DirectiveValue<SpoolSetting> parse_spool(const char* dir, const char* size)
{
    if (dir[0] != '/')
        return rejected("ModSecObserveSpool: the spool directory must be absolute");
    if (std::strlen(dir) > k_max_spool_dir_bytes)
        return rejected("ModSecObserveSpool: the spool directory path is too long");
    SpoolSetting spool;
    spool.dir = dir;
    if (size) {
        spool.max_bytes = parse_spool_size(size);
        if (spool.max_bytes == 0)
            return rejected_got("ModSecObserveSpool: max-size must be from 64K to 64G "
                                "(bytes, or with K, M or G), ",
                                size);
    }
    return spool;
}

const char* sec_rule_engine_value(std::string_view args) noexcept
{
    constexpr std::string_view blanks = " \t";
    const std::size_t first = args.find_first_not_of(blanks);
    if (first == std::string_view::npos)
        return nullptr;
    args = args.substr(first, args.find_last_not_of(blanks) - first + 1);
    if (args.size() >= 2 && args.front() == '"' && args.back() == '"')
        args = args.substr(1, args.size() - 2);
    const auto is = [args](std::string_view name) {
        return args.size() == name.size() &&
               strncasecmp(args.data(), name.data(), name.size()) == 0;
    };
    if (is("On"))
        return "on";
    if (is("Off"))
        return "off";
    if (is("DetectionOnly"))
        return "detection_only";
    return nullptr;
}

} // namespace mso
