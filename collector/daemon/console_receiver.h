// The console receiver (`--console-listen`): what AuditConsole was for mlogc, and the
// HTTPS target of ModSecurity v3's `SecAuditLogType HTTPS`. Two routes on one
// cpp-httplib server (plain or TLS) with threads of its own, never the ingest loop's:
//   PUT  /rpc/auditLogReceiver  mlogc: Basic credentials of a --sensors entry
//   POST /v3/<token>            libmodsecurity 3: a --v3-sensors token in the path
// Each accepted body is parsed (console_entry.h), offered to the history writer with
// its own producer and a waited-for marker, and answered 200 only once the writer
// committed it (or found it already stored: idempotent), with no body. What happened
// is handed to `report` (the daemon posts it to the loop: counters, live views, `tail`):
// the uploads of one commit together by the writer thread before their 200s go out, a
// refusal by its request thread.
//
// Threads: start() starts httplib's accept thread and `workers` request threads; the
// sensors table may be swapped from any thread (SIGHUP). stop() joins them all.
#pragma once

#include "daemon/console_entry.h"
#include "daemon/console_sensors.h"
#include "protocol/import_line.h"
#include "daemon/metrics_http.h"
#include "store/store_writer.h"
#include "util/result.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mso {

struct ConsoleOptions {
    ListenAddress address;
    std::string tls_cert; // both set: HTTPS
    std::string tls_key;
    std::size_t max_body = 4 * 1024 * 1024; // larger entries get 409 "too large"
    // Bytes of matched data each finding keeps (--console-matched-data; 0: none).
    std::size_t max_data = k_import_data_default;
    std::size_t workers = 16; // requests served at once (one per connection)
    std::size_t pending = 32; // accepted connections waiting for a worker
    // Threads that answer connections beyond workers + pending with a counted 503
    // ("too many connections"); 0: they wait unseen in the kernel's listen queue.
    std::size_t overflow_threads = 2;
    std::chrono::seconds read_timeout{10}; // each read of a request
    std::chrono::seconds deadline{60};     // a whole request, read to answer
    std::chrono::seconds commit_wait{30};  // for the writer's answer, then 503
    double rate = 0;                       // uploads per second per sensor, 0: no limit
    // Failed logins (401) from one client address within login_window of its first:
    // beyond, the address gets 429 without a password check until the window ends.
    std::size_t login_failures = 10; // 0: no limit
    std::chrono::seconds login_window{60};
};

// One upload's outcome, for the counters and the live views; or, with an empty sensor,
// only the connection gauges (sent by the watchdog when they change).
struct ConsoleReport {
    std::string sensor; // "-" when no valid credentials or token came with it
    std::optional<ConsoleRefusal> refusal;
    bool duplicate = false;            // already stored (200)
    std::uint64_t bytes = 0;           // the body's
    std::optional<StoredEvent> stored; // set when newly stored: for the live views
    std::size_t open_connections = 0;  // the receiver's, when this was reported
    // Accepted and waiting for a thread, plus those in the kernel's accept queue.
    std::size_t waiting_connections = 0;
};

class ConsoleReceiver {
public:
    // Called on a request thread (a refusal) or the history writer's thread (the uploads
    // of one commit, while their request threads wait); must not block (the daemon posts
    // it to the loop).
    using Report = std::function<void(std::vector<ConsoleReport>)>;

    // `writer` is null when the collector keeps no history (every upload: 503); else it
    // must outlive the receiver, which sets its after-markers hook (one receiver a writer).
    ConsoleReceiver(ConsoleOptions options, std::shared_ptr<const SensorTable> sensors,
                    StoreWriter* writer, Report report);
    ~ConsoleReceiver(); // stop()
    ConsoleReceiver(const ConsoleReceiver&) = delete;
    ConsoleReceiver& operator=(const ConsoleReceiver&) = delete;

    // Loads the certificate (HTTPS) and binds. Blocks only on bind(2) and file reads.
    [[nodiscard]] Result<void> bind();
    void start();
    // Stops accepting, closes open connections, joins every thread. Idempotent.
    void stop();
    // Swaps the sensors in force (SIGHUP) and forgets failed logins; requests in flight
    // keep the old table.
    void set_sensors(std::shared_ptr<const SensorTable> sensors);
    // Connections accepted and not yet closed.
    [[nodiscard]] std::size_t open_connections() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::thread m_thread;
};

} // namespace mso
