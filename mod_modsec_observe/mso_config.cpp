// Directive handlers: each checks where its directive may appear, has its argument
// parsed (mso_directives.h) and stores the value, or fails start-up with the parser's
// "<Directive>: reason", so misconfiguration never reaches run time.
#include "mso_config.h"

#include <new>
#include <string>

namespace mso {
namespace {

ServerConfig* config_of(cmd_parms* cmd) noexcept
{
    return server_config(cmd->server);
}

// A parser's rejection, copied to the configuration pool for httpd to report.
const char* rejection(cmd_parms* cmd, const std::string& error) noexcept
{
    return apr_pstrmemdup(cmd->pool, error.data(), error.size());
}

const char* set_socket(cmd_parms* cmd, void*, const char* arg) noexcept
{
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY))
        return err;
    const DirectiveValue<const char*> path = parse_socket_path(arg);
    if (!path)
        return rejection(cmd, path.error());
    config_of(cmd)->socket_path = *path;
    return nullptr;
}

const char* set_enabled(cmd_parms* cmd, void*, int flag) noexcept
{
    config_of(cmd)->enabled = flag;
    return nullptr;
}

const char* set_vhost_name(cmd_parms* cmd, void*, const char* arg) noexcept
{
    const DirectiveValue<const char*> name = parse_vhost_name(arg);
    if (!name)
        return rejection(cmd, name.error());
    config_of(cmd)->vhost_name = *name;
    return nullptr;
}

const char* set_events(cmd_parms* cmd, void*, const char* arg) noexcept
{
    const DirectiveValue<EventMode> mode = parse_event_mode(arg);
    if (!mode)
        return rejection(cmd, mode.error());
    config_of(cmd)->events = *mode;
    return nullptr;
}

const char* set_query_string(cmd_parms* cmd, void*, int flag) noexcept
{
    config_of(cmd)->query_string = flag;
    return nullptr;
}

const char* set_matched_data(cmd_parms* cmd, void*, const char* arg) noexcept
{
    const DirectiveValue<MatchedDataSetting> data = parse_matched_data(arg);
    if (!data)
        return rejection(cmd, data.error());
    ServerConfig* c = config_of(cmd);
    c->data_mode = data->mode;
    c->data_bytes = data->bytes;
    return nullptr;
}

// A directive of the main server only whose value is a number (ModSecObserveFlushInterval,
// ModSecObserveProtocol): `Parse` reads it into the main server's `Field`.
template <DirectiveValue<int> (*Parse)(const char*), int ServerConfig::*Field>
const char* set_global_number(cmd_parms* cmd, void*, const char* arg) noexcept
{
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY))
        return err;
    const DirectiveValue<int> value = Parse(arg);
    if (!value)
        return rejection(cmd, value.error());
    config_of(cmd)->*Field = *value;
    return nullptr;
}

const char* set_spool(cmd_parms* cmd, void*, const char* dir, const char* size) noexcept
{
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY))
        return err;
    const DirectiveValue<SpoolSetting> spool = parse_spool(dir, size);
    if (!spool)
        return rejection(cmd, spool.error());
    ServerConfig* c = config_of(cmd);
    c->spool_dir = spool->dir;
    c->spool_max_bytes = spool->max_bytes;
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
    AP_INIT_TAKE1(
        "ModSecObserveFlushInterval",
        handler(set_global_number<parse_flush_interval, &ServerConfig::flush_interval_ms>), nullptr,
        RSRC_CONF, "Milliseconds between counter reports (default 1000)"),
    AP_INIT_TAKE1("ModSecObserveProtocol",
                  handler(set_global_number<parse_protocol, &ServerConfig::protocol>), nullptr,
                  RSRC_CONF,
                  "1|2: alerts parsed into findings in Apache (1), or sent raw for "
                  "modsec-observed to parse (2, the default)"),
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
