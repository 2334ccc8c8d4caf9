// Directive handlers: each validates its argument and fails start-up with
// "<Directive>: reason" on a bad value, so misconfiguration never reaches run time.
#include "mso_config.h"

#include <sys/un.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mso {
namespace {

ServerConfig* config_of(cmd_parms* cmd) noexcept
{
    return server_config(cmd->server);
}

const char* set_socket(cmd_parms* cmd, void*, const char* arg) noexcept
{
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY))
        return err;
    if (arg[0] != '/')
        return "ModSecObserveSocket: the socket path must be absolute";
    if (std::strlen(arg) >= sizeof(sockaddr_un::sun_path))
        return apr_psprintf(cmd->pool,
                            "ModSecObserveSocket: path longer than %" APR_SIZE_T_FMT " bytes",
                            static_cast<apr_size_t>(sizeof(sockaddr_un::sun_path) - 1));
    config_of(cmd)->socket_path = arg;
    return nullptr;
}

const char* set_enabled(cmd_parms* cmd, void*, int flag) noexcept
{
    config_of(cmd)->enabled = flag;
    return nullptr;
}

const char* set_vhost_name(cmd_parms* cmd, void*, const char* arg) noexcept
{
    const std::size_t n = std::strlen(arg);
    if (n == 0 || n > 255)
        return "ModSecObserveVhostName: the label must be 1 to 255 characters";
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(arg[i]);
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\')
            return "ModSecObserveVhostName: the label may not contain spaces, quotes, "
                   "backslashes or control characters";
    }
    config_of(cmd)->vhost_name = arg;
    return nullptr;
}

const char* set_events(cmd_parms* cmd, void*, const char* arg) noexcept
{
    if (std::strcmp(arg, "flagged") == 0)
        config_of(cmd)->events = EventMode::flagged;
    else if (std::strcmp(arg, "all") == 0)
        config_of(cmd)->events = EventMode::all;
    else
        return apr_psprintf(
            cmd->pool, "ModSecObserveEvents: expected \"flagged\" or \"all\", got \"%s\"", arg);
    return nullptr;
}

const char* set_query_string(cmd_parms* cmd, void*, int flag) noexcept
{
    config_of(cmd)->query_string = flag;
    return nullptr;
}

const char* set_matched_data(cmd_parms* cmd, void*, const char* arg) noexcept
{
    ServerConfig* c = config_of(cmd);
    if (std::strcmp(arg, "full") == 0) {
        c->data_mode = MatchedDataMode::keep;
        c->data_bytes = k_full_data_bytes;
    } else if (std::strcmp(arg, "hash") == 0) {
        c->data_mode = MatchedDataMode::hash;
        c->data_bytes = 0;
    } else if (std::strcmp(arg, "off") == 0) {
        c->data_mode = MatchedDataMode::off;
        c->data_bytes = 0;
    } else if (std::strncmp(arg, "truncate:", 9) == 0) {
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(arg + 9, &end, 10);
        if (end == arg + 9 || *end != '\0' || errno != 0 || n < 1 || n > k_full_data_bytes)
            return apr_psprintf(cmd->pool,
                                "ModSecObserveMatchedData: truncate:N needs N from 1 to %d "
                                "bytes, got \"%s\"",
                                k_full_data_bytes, arg);
        c->data_mode = MatchedDataMode::keep;
        c->data_bytes = static_cast<int>(n);
    } else {
        return apr_psprintf(cmd->pool,
                            "ModSecObserveMatchedData: expected full, truncate:N, hash or off, "
                            "got \"%s\"",
                            arg);
    }
    return nullptr;
}

const char* set_flush_interval(cmd_parms* cmd, void*, const char* arg) noexcept
{
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY))
        return err;
    char* end = nullptr;
    const long ms = std::strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || ms < 50 || ms > 60000)
        return apr_psprintf(cmd->pool,
                            "ModSecObserveFlushInterval: expected milliseconds from 50 to "
                            "60000, got \"%s\"",
                            arg);
    config_of(cmd)->flush_interval_ms = static_cast<int>(ms);
    return nullptr;
}

// "16M", "512K", "1G" or bytes; 0 when malformed or out of range.
std::uint64_t parse_size(const char* arg) noexcept
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

const char* set_spool(cmd_parms* cmd, void*, const char* dir, const char* size) noexcept
{
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY))
        return err;
    if (dir[0] != '/')
        return "ModSecObserveSpool: the spool directory must be absolute";
    if (std::strlen(dir) > 3000)
        return "ModSecObserveSpool: the spool directory path is too long";
    std::uint64_t bytes = k_default_spool_max_bytes;
    if (size) {
        bytes = parse_size(size);
        if (bytes == 0)
            return apr_psprintf(cmd->pool,
                                "ModSecObserveSpool: max-size must be from 64K to 64G "
                                "(bytes, or with K, M or G), got \"%s\"",
                                size);
    }
    ServerConfig* c = config_of(cmd);
    c->spool_dir = dir;
    c->spool_max_bytes = bytes;
    return nullptr;
}

// httpd declares directive handlers as `const char* (*)()` in C++ (no designated
// initializers); void(*)() is the cast GCC accepts between function pointer types.
template <typename Handler> cmd_func handler(Handler h) noexcept
{
    return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(h));
}

} // namespace

const command_rec k_directives[] = {
    AP_INIT_TAKE1("ModSecObserveSocket", handler(set_socket), nullptr, RSRC_CONF,
                  "Unix datagram socket of modsec-observed (default "
                  "/run/modsec-observe/events.sock)"),
    AP_INIT_FLAG("ModSecObserve", handler(set_enabled), nullptr, RSRC_CONF,
                 "On|Off: observe this server or virtual host (default On)"),
    AP_INIT_TAKE1("ModSecObserveVhostName", handler(set_vhost_name), nullptr, RSRC_CONF,
                  "Label reported for this virtual host (default its ServerName)"),
    AP_INIT_TAKE1("ModSecObserveEvents", handler(set_events), nullptr, RSRC_CONF,
                  "flagged|all: send an event only for requests with findings (default), "
                  "or for every request"),
    AP_INIT_FLAG("ModSecObserveQueryString", handler(set_query_string), nullptr, RSRC_CONF,
                 "On|Off: include the query string in events (default Off)"),
    AP_INIT_TAKE1("ModSecObserveMatchedData", handler(set_matched_data), nullptr, RSRC_CONF,
                  "full|truncate:N|hash|off: what findings carry of the matched data "
                  "(default truncate:32; it may hold passwords or tokens)"),
    AP_INIT_TAKE1("ModSecObserveFlushInterval", handler(set_flush_interval), nullptr, RSRC_CONF,
                  "Milliseconds between counter reports (default 1000)"),
    AP_INIT_TAKE12("ModSecObserveSpool", handler(set_spool), nullptr, RSRC_CONF,
                   "Directory for events that cannot be sent, and the max-size of each "
                   "child's spool file (default 16M); replayed by modsec-observed "
                   "--spool-dir"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

void* create_server_config(apr_pool_t* p, server_rec*) noexcept
{
    return new (apr_pcalloc(p, sizeof(ServerConfig))) ServerConfig{};
}

void* merge_server_config(apr_pool_t* p, void* base_v, void* add_v) noexcept
{
    const auto* base = static_cast<const ServerConfig*>(base_v);
    const auto* add = static_cast<const ServerConfig*>(add_v);
    auto* merged = new (apr_pcalloc(p, sizeof(ServerConfig))) ServerConfig{};
    merged->enabled = add->enabled != -1 ? add->enabled : base->enabled;
    merged->vhost_name = add->vhost_name; // a label names one vhost: never inherited
    merged->events = add->events != EventMode::unset ? add->events : base->events;
    merged->query_string = add->query_string != -1 ? add->query_string : base->query_string;
    const bool data_set = add->data_bytes != -1;
    merged->data_mode = data_set ? add->data_mode : base->data_mode;
    merged->data_bytes = data_set ? add->data_bytes : base->data_bytes;
    return merged;
}

ServerConfig* server_config(const server_rec* s) noexcept
{
    return static_cast<ServerConfig*>(
        ap_get_module_config(s->module_config, &modsec_observe_module));
}

} // namespace mso
