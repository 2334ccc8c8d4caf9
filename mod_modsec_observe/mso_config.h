// Configuration of mod_modsec_observe: the directives, and the per-server (virtual
// host) configuration record they fill. Global settings (socket, flush interval) live
// in the main server's record. Records are allocated from the configuration pool and
// are read-only once the server has started, except the counters they point to.
#pragma once

#include "httpd_api.h"

#include "event_encoder.h"

#include <atomic>
#include <cstdint>

namespace mso {

// Per-vhost totals of requests not sent as events, in one Apache child. Lock-free; the
// request path increments, the flusher thread drains with exchange().
struct VhostCounters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> events_lost{0};
    std::atomic<std::uint64_t> status[k_status_slots] = {};
};

enum class EventMode { unset, flagged, all };

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
    const char* spool_dir = nullptr;   // ModSecObserveSpool; nullptr: no spool
    std::uint64_t spool_max_bytes = 0; // its max-size per spool file
    // Set at post_config:
    VhostCounters* counters = nullptr;
    const char* label = nullptr; // vhost label sent with every event/report
    int port = 0;
};

inline constexpr const char* k_default_socket = "/run/modsec-observe/events.sock";
inline constexpr int k_default_flush_interval_ms = 1000;
// ModSecObserveMatchedData: the default "truncate:32", and "full" (the decoder's string
// bound; ModSecurity's own logdata limit is lower).
inline constexpr int k_default_data_bytes = 32;
inline constexpr int k_full_data_bytes = 4096;
inline constexpr std::uint64_t k_default_spool_max_bytes = 16ULL * 1024 * 1024;
inline constexpr std::uint64_t k_min_spool_max_bytes = 64ULL * 1024;
inline constexpr std::uint64_t k_max_spool_max_bytes = 64ULL * 1024 * 1024 * 1024;

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
