// Delivery to modsec-observed, per Apache child: one non-blocking AF_UNIX datagram
// socket shared by all request threads, and a flusher thread that sends the per-vhost
// counters every ModSecObserveFlushInterval, closes the spool file once the collector
// listens again, and writes the (rate-limited) log lines about failed sends and spooled
// events. send_event() never blocks and never retries: a failure is counted. Only a
// child that is exiting waits (up to 1 s) for room in a full queue for its last counts,
// then spools them or logs that they are lost.
#pragma once

#include "httpd_api.h"

#include <cstddef>

namespace mso {

// Opens the socket and starts the flusher thread; both end with `child_pool`.
void start_sender(apr_pool_t* child_pool, server_rec* main_server) noexcept;

// Sends one datagram; false when it could not be delivered (collector down, queue
// full, no socket). Safe from any request thread.
[[nodiscard]] bool send_event(const char* data, std::size_t size) noexcept;

} // namespace mso
