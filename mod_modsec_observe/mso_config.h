// Configuration of mod_modsec_observe: the directive table, and the per-server (virtual
// host) configuration record its handlers fill (what each directive accepts is in
// mso_directives.h). Global settings (socket, flush interval, spool) live in the main
// server's record. Records are allocated from the configuration pool and are read-only
// once the server has started, except the counters they point to.
#pragma once

#include "httpd_api.h"

#include "event_encoder.h"
#include "mso_directives.h"

#include <atomic>
#include <cstdint>

namespace mso {

// Per-vhost totals of requests not sent as events, in one Apache child. Lock-free; the
// request path increments, the flusher thread drains with exchange().
struct VhostCounters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> events_lost{0};
    std::atomic<std::uint64_t> status[k_status_slots] = {};
    // The vhost's engine (ServerConfig::engine) goes with every counter report. A vhost
    // whose requests were all sent as events has none to send: the request path sets
    // engine_wanted after an event until a report has said the engine (engine_said,
    // the flusher's), which the flusher then sends with zero counts, once per child.
    std::atomic<bool> engine_wanted{false};
    std::atomic<bool> engine_said{false};
};

struct ServerConfig {
    int enabled = -1;                 // ModSecObserve; -1 unset (On)
    const char* vhost_name = nullptr; // ModSecObserveVhostName
    EventMode events = EventMode::unset;
    int query_string = -1;                             // ModSecObserveQueryString; -1 unset (Off)
    MatchedDataMode data_mode = MatchedDataMode::keep; // ModSecObserveMatchedData
    int data_bytes = -1; // its byte limit in keep mode; -1 unset (default)
    // Global (main server only):
    const char* socket_path = nullptr; // ModSecObserveSocket
    int flush_interval_ms = -1;        // ModSecObserveFlushInterval
    int protocol = -1;                 // ModSecObserveProtocol; -1 unset (2)
    const char* spool_dir = nullptr;   // ModSecObserveSpool; nullptr: no spool
    std::uint64_t spool_max_bytes = 0; // its max-size per spool file
    // Set at post_config:
    VhostCounters* counters = nullptr;
    const char* label = nullptr; // vhost label sent with every event/report
    int port = 0;
    // SecRuleEngine as this server's configuration sets it ("on", "off",
    // "detection_only"; nullptr without mod_security2), sent with its counter reports.
    const char* engine = nullptr;
};

extern const command_rec k_directives[];
void* create_server_config(apr_pool_t* p, server_rec* s) noexcept;
void* merge_server_config(apr_pool_t* p, void* base, void* add) noexcept;

ServerConfig* server_config(const server_rec* s) noexcept;

inline bool is_enabled(const ServerConfig* c) noexcept
{
    return c->enabled != 0;
}

} // namespace mso

extern "C" module AP_MODULE_DECLARE_DATA modsec_observe_module;
// What APLOG_USE_MODULE would declare, with the module record's C linkage kept.
static int* const aplog_module_index = &modsec_observe_module.module_index;
