// mod_modsec_observe: reports what mod_security2 found for each request to
// modsec-observed. The module record and the hooks live here.
//
// Invariants (see docs/ARCHITECTURE.md):
//  - The request path never blocks on the collector: one non-blocking sendto per
//    request that has an event (flagged, or every request under ModSecObserveEvents
//    all), and other requests only increment per-vhost atomics. Only when a send fails
//    and ModSecObserveSpool is set does the event go to the child's spool file (one
//    append under the spool's mutex).
//  - Request-path memory comes from the request pool; nothing is heap-allocated there.
//  - No hook returns anything but OK/DECLINED, and none changes the response.
//  - Built with -fno-exceptions: nothing can throw into httpd.
//  - The vhost label is the configured one (or ServerName), never the Host header.
#include "httpd_api.h"

#include "anomaly_scores.h"
#include "event_encoder.h"
#include "event_fields.h"
#include "mso_capture.h"
#include "mso_config.h"
#include "mso_sender.h"
#include "mso_spool.h"

#include <apr_sha1.h>

#include <cstring>
#include <new>

namespace mso {
namespace {

// Datagram buffer for one version 1 event, from the request pool.
constexpr std::size_t k_event_buffer = 32 * 1024;
// Version 2's buffer besides the messages: the request's fields at their limits, all
// escaped (2,816 bytes of path, query, user agent, vhost and the rest, up to six bytes
// per byte as \u00XX: 16,896), with keys and scores.
constexpr std::size_t k_header_room = 20 * 1024;

std::string_view env_lookup(void* table, const char* name) noexcept
{
    const char* v = apr_table_get(static_cast<apr_table_t*>(table), name);
    return v ? std::string_view(v) : std::string_view();
}

std::string_view view(const char* s) noexcept
{
    return s ? std::string_view(s) : std::string_view();
}

// ModSecObserveMatchedData hash: SHA-1 from APR-util, which httpd already links.
void sha1_hex(std::string_view data, char* out) noexcept
{
    apr_sha1_ctx_t ctx;
    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, reinterpret_cast<const unsigned char*>(data.data()),
                           static_cast<unsigned int>(data.size()));
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_final(digest, &ctx);
    static const char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < APR_SHA1_DIGESTSIZE; ++i) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
}

EncoderLimits limits_for(const ServerConfig* c) noexcept
{
    EncoderLimits limits;
    limits.data_mode = c->data_mode;
    limits.max_data =
        static_cast<std::size_t>(c->data_bytes >= 0 ? c->data_bytes : k_default_data_bytes);
    limits.hash_data = sha1_hex;
    return limits;
}

void count_request(ServerConfig* c, int status, bool event_lost) noexcept
{
    VhostCounters& v = *c->counters;
    const std::size_t slot = status >= k_min_status && status <= k_max_status
                                 ? static_cast<std::size_t>(status - k_min_status)
                                 : k_status_slots - 1;
    v.status[slot].fetch_add(1, std::memory_order_relaxed);
    if (event_lost)
        v.events_lost.fetch_add(1, std::memory_order_relaxed);
    v.requests.fetch_add(1, std::memory_order_relaxed);
}

int log_transaction(request_rec* r) noexcept
{
    const request_rec* root = root_request(r);
    ServerConfig* c = server_config(root->server);
    if (!is_enabled(c) || !c->counters)
        return DECLINED;
    const request_rec* last = root;
    while (last->next)
        last = last->next;

    const CapturedMessages* captured = captured_messages(root);
    if (!captured && c->events != EventMode::all) {
        count_request(c, last->status, false);
        return DECLINED;
    }

    // Phase-5 environment lands on the last internal redirect.
    AnomalyScores scores;
    const bool have_scores = scores_from_env(env_lookup, last->subprocess_env, scores);
    RequestRecord rec;
    rec.time_us = root->request_time;
    rec.vhost = c->label;
    rec.port = root->connection->local_addr ? root->connection->local_addr->port : c->port;
    rec.unique_id = view(apr_table_get(last->subprocess_env, "UNIQUE_ID"));
    if (rec.unique_id.empty())
        rec.unique_id = view(apr_table_get(root->subprocess_env, "UNIQUE_ID"));
    rec.client = view(root->useragent_ip);
    rec.method = view(root->method);
    // parsed_uri.path is percent-decoded in place by httpd; report the path as sent.
    rec.path = request_target_path(view(root->unparsed_uri));
    rec.query = view(root->parsed_uri.query);
    rec.include_query = c->query_string == 1;
    rec.status = last->status;
    rec.protocol = view(root->protocol);
    rec.user_agent = view(apr_table_get(root->headers_in, "User-Agent"));
    rec.scores = have_scores ? &scores : nullptr;

    const std::string_view* messages = captured ? captured->messages : nullptr;
    const std::size_t count = captured ? captured->count : 0;
    const std::size_t dropped = captured ? captured->dropped : 0;
    const EncoderLimits limits = limits_for(c);
    // Version 2 sends the alerts as logged, so only where the matched data may leave
    // the process (keep mode; the collector cuts it to the limit).
    bool tried = false; // a version 2 datagram was built and offered to the collector
    bool sent = false;
    if (c->protocol != 1 && limits.data_mode == MatchedDataMode::keep) {
        std::size_t capacity = k_header_room + count + (captured ? captured->bytes : 0);
        if (capacity > k_max_datagram_bytes)
            capacity = k_max_datagram_bytes;
        auto* buffer = static_cast<char*>(apr_palloc(r->pool, capacity));
        const EncodeResult enc =
            encode_request_event_v2(rec, messages, count, dropped, limits, buffer, capacity);
        tried = enc.size != 0; // else the messages did not fit whole: version 1 below
        sent = tried && send_event(buffer, enc.size);
    }
    // Version 1: the protocol chosen, an event too large for version 2, or the spool's
    // when version 2 could not be sent (a spool file holds one datagram per line; raw
    // alerts may hold a newline).
    if (!sent && (!tried || spool_enabled())) {
        auto* buffer = static_cast<char*>(apr_palloc(r->pool, k_event_buffer));
        const EncodeResult enc =
            encode_request_event(rec, messages, count, dropped, limits, buffer, k_event_buffer);
        sent = enc.size != 0 &&
               ((!tried && send_event(buffer, enc.size)) || spool_event(buffer, enc.size));
    }
    if (!sent)
        count_request(c, last->status, true);
    else if (c->engine && !c->counters->engine_said.load(std::memory_order_relaxed))
        c->counters->engine_wanted.store(true, std::memory_order_relaxed);
    return DECLINED;
}

void error_log(const ap_errorlog_info* info, const char* errstr) noexcept
{
    capture_error_log(info, errstr);
}

void warn_if_log_level_hides_modsecurity(server_rec* s, int modsec_index) noexcept
{
    const int level = ap_get_server_module_loglevel(s, modsec_index);
    if (level >= APLOG_ERR)
        return;
    ap_log_error(APLOG_MARK, APLOG_WARNING | APLOG_STARTUP, 0, s,
                 "modsec_observe: LogLevel for security2 in %s:%d is below \"error\"; "
                 "ModSecurity's alerts are dropped before modsec_observe sees them, so "
                 "its findings will be missing (set \"LogLevel security2:error\" or higher)",
                 s->server_hostname ? s->server_hostname : "(main server)", s->port);
}

// The last `SecRuleEngine` among `first` and its siblings (not inside their containers).
const char* last_engine_setting(const ap_directive_t* first) noexcept
{
    const char* value = nullptr;
    for (const ap_directive_t* d = first; d; d = d->next) {
        if (d->directive && d->args && strcasecmp(d->directive, "SecRuleEngine") == 0) {
            if (const char* v = sec_rule_engine_value(d->args))
                value = v;
        }
    }
    return value;
}

// The <VirtualHost> section that defined `s` (httpd records its file and line).
const ap_directive_t* vhost_section(const server_rec* s) noexcept
{
    if (!s->defn_name)
        return nullptr;
    for (const ap_directive_t* d = ap_conftree; d; d = d->next) {
        if (d->directive && strcasecmp(d->directive, "<VirtualHost") == 0 &&
            d->line_num == static_cast<int>(s->defn_line_number) && d->filename &&
            std::strcmp(d->filename, s->defn_name) == 0)
            return d;
    }
    return nullptr;
}

// Whether a SecRuleEngine other than `value` stands anywhere inside the containers
// among `first` and its siblings (<Directory>, <Location>, <Files>, <If>, at any depth),
// <VirtualHost> sections excepted.
bool containers_differ(const ap_directive_t* first, const char* value) noexcept
{
    for (const ap_directive_t* d = first; d; d = d->next) {
        if (!d->first_child || (d->directive && strcasecmp(d->directive, "<VirtualHost") == 0))
            continue;
        const char* inside = last_engine_setting(d->first_child);
        if ((inside && std::strcmp(inside, value) != 0) || containers_differ(d->first_child, value))
            return true;
    }
    return false;
}

// The SecRuleEngine a server's requests run under, as its configuration says: the last
// one directly inside its <VirtualHost>, else the last one at the top level
// (mod_security2 merges the main server's into every vhost), else "off", ModSecurity's
// default. <IfModule>, <IfDefine> and Include are already spliced into the tree where
// they stood. nullptr when a container in its scope (<Location>, <Directory>, ... of its
// own or of the top level) sets another value: then it depends on the request. A rule's
// ctl:ruleEngine is not seen here; the collector's inference from what happened to a
// request (intercepted, or a blocking evaluation that did not block) covers it.
const char* configured_engine(const server_rec* s, const server_rec* main) noexcept
{
    const ap_directive_t* section = s != main ? vhost_section(s) : nullptr;
    const char* engine = section ? last_engine_setting(section->first_child) : nullptr;
    if (!engine)
        engine = last_engine_setting(ap_conftree);
    if (!engine)
        engine = "off";
    if (containers_differ(ap_conftree, engine) ||
        (section && containers_differ(section->first_child, engine)))
        return nullptr;
    return engine;
}

int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* main) noexcept
{
    const module* modsec = ap_find_linked_module("mod_security2.c");
    set_modsec_module_index(modsec ? modsec->module_index : -1);
    if (!modsec)
        ap_log_error(APLOG_MARK, APLOG_WARNING | APLOG_STARTUP, 0, main,
                     "modsec_observe: mod_security2 is not loaded; only request counts "
                     "will be reported");
    const ServerConfig* main_config = server_config(main);
    for (server_rec* s = main; s; s = s->next) {
        ServerConfig* c = server_config(s);
        if (s != main && c == main_config) {
            // httpd shares the main server's record with every vhost that has none of
            // our directives; each vhost needs its own label and counters.
            c = new (apr_palloc(pconf, sizeof(ServerConfig))) ServerConfig(*main_config);
            ap_set_module_config(s->module_config, &modsec_observe_module, c);
        }
        c->counters = new (apr_palloc(pconf, sizeof(VhostCounters))) VhostCounters{};
        c->label = c->vhost_name        ? c->vhost_name
                   : s->server_hostname ? s->server_hostname
                                        : "default";
        c->port = s->port ? s->port : (s->addrs ? s->addrs->host_port : 0);
        c->engine = modsec ? configured_engine(s, main) : nullptr;
        // A global directive: every server sends what the main server says.
        c->protocol = main_config->protocol == -1 ? k_default_protocol : main_config->protocol;
        if (modsec && is_enabled(c))
            warn_if_log_level_hides_modsecurity(s, modsec->module_index);
    }
    return OK;
}

void child_init(apr_pool_t* pchild, server_rec* s) noexcept
{
    start_sender(pchild, s);
}

void register_hooks(apr_pool_t*) noexcept
{
    static const char* const after_modsecurity[] = {"mod_security2.c", nullptr};
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_error_log(error_log, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_transaction, after_modsecurity, nullptr, APR_HOOK_MIDDLE);
}

} // namespace
} // namespace mso

extern "C" {
__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA modsec_observe_module = {
    STANDARD20_MODULE_STUFF,
    nullptr, // create per-directory config
    nullptr, // merge per-directory config
    mso::create_server_config,
    mso::merge_server_config,
    mso::k_directives,
    mso::register_hooks,
    0, // flags
};
}
