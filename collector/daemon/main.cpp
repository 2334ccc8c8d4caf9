// modsec-observed: the collector daemon. Parses options (command line, then the
// --config file; daemon/options.h), restores the --state-dir snapshot, creates the
// event and query sockets (and, with --metrics-listen, the Prometheus endpoint), runs
// the Server until SIGTERM/SIGINT, saves a last snapshot and removes its sockets on
// the way out. SIGHUP re-reads the options and applies those that can change at run
// time. Start-up errors exit with status 2 (bad options) or 1.
#include "daemon/console_entry.h"
#include "daemon/console_receiver.h"
#include "daemon/console_sensors.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "daemon/web_server.h"
#include "daemon/options.h"
#include "daemon/server.h"
#include "daemon/snapshot.h"
#include "daemon/socket_security.h"
#include "state/collector.h"
#include "store/history_store.h"
#include "store/store_writer.h"
#include "util/log.h"
#include "util/time_format.h"
#include "util/unix_socket.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reload = 0;

extern "C" void on_stop_signal(int /*signal*/)
{
    g_stop = 1;
}

extern "C" void on_reload_signal(int /*signal*/)
{
    g_reload = 1;
}

// Logs each line of `text` (check_options() may report several problems).
void log_lines(const std::string& text)
{
    std::size_t start = 0;
    for (std::size_t newline = text.find('\n'); newline != std::string::npos;
         newline = text.find('\n', start)) {
        mso::log_line(std::string_view(text).substr(start, newline - start));
        start = newline + 1;
    }
    mso::log_line(std::string_view(text).substr(start));
}

// Linux queues at most net.unix.max_dgram_qlen + 1 datagrams on a Unix socket, whatever
// SO_RCVBUF says (default 10): a burst larger than that makes Apache count events as
// lost. Read once at start, after the socket exists (the value in force when it was
// created applies); nullopt when it cannot be read. Server::set_event_queue decides
// whether the loop rests between reads; main warns when it does not.
std::optional<std::uint64_t> event_socket_queue()
{
    std::FILE* f = std::fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
    if (!f) {
        return std::nullopt;
    }
    long qlen = 0;
    const bool read = std::fscanf(f, "%ld", &qlen) == 1 && qlen >= 0;
    std::fclose(f);
    if (!read) {
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(qlen);
}

// Prepares --state-dir and restores the snapshot in it, if any (before the sockets
// exist, so nothing is received first). Fails when the directory cannot be used; a
// snapshot that cannot be loaded is set aside and the collector starts empty.
mso::Result<void> restore_state(const std::string& dir, mso::Collector& collector)
{
    if (auto prepared = mso::prepare_state_dir(dir); !prepared) {
        return mso::fail("--state-dir: " + prepared.error());
    }
    const mso::SnapshotRead read = mso::read_snapshot(dir, collector, mso::wall_clock_now());
    const std::string file = dir + "/" + mso::k_snapshot_file;
    if (read.loaded) {
        mso::log_line("restored state from " + file + ": " + std::to_string(read.loaded->vhosts) +
                      " vhosts, " + std::to_string(read.loaded->events) + " events (" +
                      std::to_string(read.loaded->events_evicted) + " older events and " +
                      std::to_string(read.loaded->dropped) + " entries beyond the bounds dropped)");
    } else if (read.found) {
        mso::log_line("snapshot " + file + " not loaded (" + read.error + "); moved aside to " +
                      (read.set_aside.empty() ? "(nowhere)" : read.set_aside) + "; starting empty");
    }
    return mso::ok();
}

// Blocks the stop and reload signals and installs their handlers; returns the mask
// under which Server::run() waits in ppoll(), the only place they are delivered.
sigset_t block_signals()
{
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    sigset_t wait_mask;
    sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGHUP);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    action.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return wait_mask;
}

// The two socket files; each removes itself when destroyed.
struct Sockets {
    mso::BoundSocket events;
    mso::BoundSocket queries;
};

mso::Result<Sockets> bind_sockets(const mso::Options& opt, const mso::StartSettings& settings)
{
    auto events = mso::bind_unix_socket(opt.event_socket, SOCK_DGRAM, settings.event_file);
    if (!events) {
        return mso::fail(events.error());
    }
    auto queries = mso::bind_unix_socket(opt.query_socket, SOCK_STREAM, settings.query_file);
    if (!queries) {
        return mso::fail(queries.error());
    }
    return Sockets{std::move(*events), std::move(*queries)};
}

// Switches to --user once the sockets exist (before any thread does) and checks that
// it can write --state-dir.
mso::Result<void> become_user(const mso::UserIdentity& user, const std::string& state_dir)
{
    if (auto dropped = mso::drop_privileges(user); !dropped) {
        return mso::fail("--user: " + dropped.error());
    }
    if (!state_dir.empty() && ::access(state_dir.c_str(), W_OK | X_OK) != 0) {
        return mso::fail("--user: --state-dir " + state_dir + " is not writable by user " +
                         user.name + " (chown it to that user)");
    }
    mso::log_line("running as user " + user.name + " (uid " + std::to_string(user.uid) + ", gid " +
                  std::to_string(user.gid) + ")");
    return mso::ok();
}

// Writes a snapshot and records the outcome in `health`.
void save_state_now(const std::string& dir, mso::Collector& collector, bool at_exit)
{
    static mso::RateLimiter failures;
    const std::int64_t now = mso::wall_clock_now();
    const auto written = mso::save_snapshot(dir, collector, now);
    mso::SnapshotStatus& status = collector.snapshot_status();
    if (!written) {
        status.last_error = "cannot save snapshot: " + written.error();
        mso::log_limited(failures, status.last_error);
        return;
    }
    status.last_saved = mso::iso_time_s(now);
    status.last_error.clear();
    if (at_exit) {
        mso::log_line("saved state to " + dir + "/" + mso::k_snapshot_file + " (" +
                      std::to_string(*written) + " bytes)");
    }
}

// Snapshots every --snapshot-interval, spool replay, and SIGHUP: re-parse `argv` and
// apply what can change (`running` is then what is in force).
void schedule_tasks(mso::Server& server, mso::Options& running, const mso::PolicyBasis& basis,
                    int argc, const char* const* argv,
                    const std::function<void(const mso::Options&)>& reload_sensors)
{
    if (!running.state_dir.empty()) {
        server.set_periodic_task(
            std::chrono::seconds(running.snapshot_interval),
            [&running](mso::Collector& c) { save_state_now(running.state_dir, c, false); });
    }
    if (!running.spool_dir.empty()) {
        server.enable_spool_replay(running.spool_dir); // what children spooled while we were down
    }
    server.set_signal_task(
        g_reload, [&running, &basis, &server, argc, argv, &reload_sensors](mso::Collector& c) {
            const auto next = mso::parse_options(argc, argv);
            if (!next) {
                mso::log_line("reload: configuration not applied, keeping the running one: " +
                              next.error());
                return;
            }
            mso::apply_reload(*next, running, basis, c, server);
            if (reload_sensors) {
                reload_sensors(*next);
            }
        });
}

// Opens the history database (--state-dir/history.db; a corrupt one is moved aside and
// reported) and starts its writer thread, after --user so the files are the user's.
mso::Result<std::unique_ptr<mso::StoreWriter>> open_history(const std::string& path,
                                                            const mso::Options& opt,
                                                            const mso::StartSettings& settings,
                                                            mso::Collector& collector)
{
    auto store = mso::HistoryStore::open(path);
    if (!store) {
        return mso::fail("history: cannot open " + path + ": " + store.error() +
                         " (fix it, or start with --no-history)");
    }
    const mso::OpenReport& report = store->open_report();
    if (!report.set_aside.empty()) {
        collector.history_status().set_aside = report.set_aside;
        mso::log_line("history: " + path + " was unusable (" + report.problem +
                      "); moved aside to " + report.set_aside + "; starting a new one");
    } else if (report.created) {
        mso::log_line("history: created " + path);
    } else if (report.migrated_from >= 0) {
        mso::log_line("history: migrated " + path + " from schema version " +
                      std::to_string(report.migrated_from));
    }
    mso::StoreWriterOptions options;
    options.max_age_days = opt.history_days;
    options.max_bytes = settings.history_max_bytes;
    options.log = [](std::string_view line) { mso::log_line("history: " + std::string(line)); };
    return std::make_unique<mso::StoreWriter>(std::move(*store), std::move(options));
}

// One /metrics answer: /proc read outside the collector lock, the collector's series
// copied under it a few vhosts at a time and formatted between (MetricsRender), so a
// scrape over many vhosts never holds the loop for its whole render.
std::string scrape_metrics(const mso::Server& server)
{
    mso::MetricsRender render(mso::Collector::Clock::now(), mso::read_process_stats());
    for (bool last = false; !last;) {
        last = server.with_collector([&render](const mso::Collector& c) { return render.step(c); });
        render.format();
    }
    return render.finish();
}

// Serves /metrics at `address` on threads of its own. Call after block_signals(): the
// threads inherit the mask, so SIGTERM always reaches the loop's ppoll().
mso::Result<void> serve_metrics(std::optional<mso::MetricsHttp>& metrics,
                                const mso::ListenAddress& address, mso::Server& server)
{
    metrics.emplace([&server] { return scrape_metrics(server); });
    if (auto bound = metrics->bind(address); !bound) {
        return mso::fail("--metrics-listen: " + bound.error());
    }
    metrics->start();
    return mso::ok();
}

// Serves the dashboard at `address` (daemon/web_server.h), on threads of its own; its
// questions go to the loop through the inbox. Call after block_signals().
// The dashboard's users (--http-users), replaced as a whole on SIGHUP; request threads
// take the table in force under the mutex and check against it without it.
struct DashboardUsers {
    std::mutex mutex;
    std::shared_ptr<const mso::SensorTable> table;

    std::shared_ptr<const mso::SensorTable> current()
    {
        std::lock_guard lock(mutex);
        return table;
    }
    void replace(std::shared_ptr<const mso::SensorTable> next)
    {
        std::lock_guard lock(mutex);
        table = std::move(next);
    }
};

// Serves the dashboard at `address` (daemon/web_server.h), on threads of its own; its
// questions go to the loop through the inbox. `users`: null, or who may look (HTTP Basic,
// checked as the console checks its sensors). Call after block_signals().
mso::Result<void> serve_dashboard(std::optional<mso::WebServer>& web,
                                  const mso::ListenAddress& address, const mso::WebTls& tls,
                                  mso::Server& server, const std::shared_ptr<DashboardUsers>& users)
{
    mso::WebHandlers handlers;
    if (users) {
        handlers.authorize = [users](const std::string& authorization) {
            const auto credentials = mso::parse_basic_auth(authorization);
            return credentials &&
                   users->current()->authenticate(credentials->user, credentials->password);
        };
    }
    handlers.ask = [&server](std::string line, mso::Server::Reply reply) {
        server.ask(std::move(line), std::move(reply));
    };
    handlers.subscribe = [&server](mso::EventFilter filter, std::shared_ptr<mso::TailSink> sink) {
        server.subscribe(std::move(filter), std::move(sink));
    };
    handlers.metrics = [&server] { return scrape_metrics(server); };
    web.emplace(std::move(handlers), mso::k_web_answer_timeout, tls);
    if (auto bound = web->bind(address); !bound) {
        return mso::fail("--http-listen: " + bound.error());
    }
    web->start();
    return mso::ok();
}

// The console's report of one upload, on the loop thread: its sensor's counters, and the
// event (when newly stored) into the live views with its source. A report without a
// sensor only updates the connection gauges.
void count_console_report(mso::Server& server, mso::Collector& c, const mso::ConsoleReport& r)
{
    c.console_status().connections = r.open_connections;
    c.console_status().waiting = r.waiting_connections;
    if (r.sensor.empty()) {
        return;
    }
    mso::SensorCounters& counters = c.console_status().sensors[r.sensor];
    ++counters.requests;
    counters.last_seen = static_cast<std::int64_t>(std::time(nullptr));
    if (r.refusal) {
        ++counters.refused[std::string(mso::refusal_name(*r.refusal))];
        // A named sensor's refusals also show in `sources` (not those without valid
        // credentials: "-" is nobody's source).
        if (r.sensor != "-") {
            c.count_source_refusal("sensor:" + r.sensor, mso::refusal_name(*r.refusal),
                                   counters.last_seen);
        }
        return;
    }
    if (r.duplicate) {
        ++counters.duplicates;
        return;
    }
    ++counters.stored;
    counters.bytes += r.bytes;
    if (r.stored) {
        server.ingest_received(r.stored->event, r.stored->source, r.bytes, r.stored->engine_mode);
    }
}

// Serves the console receiver (--console-listen) on threads of its own; the history
// writer must outlive it.
mso::Result<void> serve_console(std::unique_ptr<mso::ConsoleReceiver>& console,
                                const mso::Options& opt, const mso::StartSettings& settings,
                                mso::Server& server, mso::StoreWriter* writer)
{
    auto sensors = mso::SensorTable::load(opt.sensors_file, opt.v3_sensors_file);
    if (!sensors) {
        return mso::fail("--sensors: " + sensors.error());
    }
    mso::ConsoleOptions options;
    options.address = *settings.console;
    options.tls_cert = opt.console_tls_cert;
    options.tls_key = opt.console_tls_key;
    options.max_body = settings.console_max_body;
    options.max_data = settings.console_max_data;
    options.workers = opt.console_workers;
    options.rate = opt.console_rate;
    options.deadline = std::chrono::seconds(opt.console_deadline);
    const std::size_t mlogc = (*sensors)->mlogc_count();
    const std::size_t v3 = (*sensors)->v3_count();
    console = std::make_unique<mso::ConsoleReceiver>(
        std::move(options), std::move(*sensors), writer,
        [&server](std::vector<mso::ConsoleReport> reports) {
            server.post_to_collector([&server, reports = std::move(reports)](mso::Collector& c) {
                for (const mso::ConsoleReport& report : reports) {
                    count_console_report(server, c, report);
                }
            });
        });
    if (auto bound = console->bind(); !bound) {
        return mso::fail("--console-listen: " + bound.error());
    }
    const std::string scheme = opt.console_tls_cert.empty() ? "http://" : "https://";
    server.post_to_collector([listen = scheme + opt.console_listen](mso::Collector& c) {
        c.console_status().enabled = true;
        c.console_status().listen = listen;
    });
    console->start();
    mso::log_line("console: receiving audit entries on " + scheme + opt.console_listen + " from " +
                  std::to_string(mlogc) + " mlogc and " + std::to_string(v3) + " v3 sensors");
    return mso::ok();
}

} // namespace

int main(int argc, char** argv)
{
    mso::Options opt;
    if (const auto exit_status = mso::parse_command_line(argc, argv, opt)) {
        return *exit_status;
    }
    if (opt.new_token) {
        const auto token = mso::new_token();
        if (!token) {
            mso::log_line(token.error());
            return 1;
        }
        std::printf("%s\n", token->c_str());
        return 0;
    }
    const auto settings = mso::check_options(opt);
    if (!settings) {
        log_lines(settings.error());
        return 2;
    }
    const mso::PolicyBasis basis = mso::policy_basis(*settings);
    const auto policies = mso::access_policies(opt, basis);
    if (!policies) {
        mso::log_line(policies.error());
        return 2;
    }
    for (const std::string* path : {&opt.event_socket, &opt.query_socket}) {
        if (auto safe = mso::check_socket_path(*path, basis.self); !safe) {
            mso::log_line(safe.error());
            return 1;
        }
    }

    mso::Collector collector(mso::Collector::Clock::now(), opt.events_ring);
    if (!opt.state_dir.empty()) {
        if (auto restored = restore_state(opt.state_dir, collector); !restored) {
            mso::log_line(restored.error());
            return 1;
        }
    }
    const sigset_t wait_mask = block_signals();
    auto sockets = bind_sockets(opt, *settings);
    if (!sockets) {
        mso::log_line(sockets.error());
        return 1;
    }
    const std::optional<std::uint64_t> event_queue = event_socket_queue();
    auto inbox = mso::LoopInbox::create();
    if (!inbox) {
        mso::log_line(inbox.error());
        return 1;
    }
    mso::Server server(collector, sockets->events.take_fd(), sockets->queries.take_fd(),
                       std::move(*inbox));
    if (event_queue && !server.set_event_queue(*event_queue)) {
        const std::uint64_t qlen = *event_queue;
        mso::log_line("warning: net.unix.max_dgram_qlen is " + std::to_string(qlen) +
                      "; the event socket holds at most " + std::to_string(qlen + 1) +
                      " datagrams, so bursts make Apache count events as lost, and the "
                      "collector reads it on every datagram (more CPU per event). Set it to "
                      "8192 before starting the collector (packaging/99-modsec-observe.conf).");
    }
    if (auto senders = server.set_event_senders(policies->events); !senders) {
        mso::log_line(senders.error());
        return 1;
    }
    server.set_query_peers(policies->queries);
    if (settings->run_as) {
        if (auto became = become_user(*settings->run_as, opt.state_dir); !became) {
            mso::log_line(became.error());
            return 1;
        }
    }
    std::unique_ptr<mso::StoreWriter> history;
    if (const std::string path = mso::history_path(opt); !path.empty()) {
        auto opened = open_history(path, opt, *settings, collector);
        if (!opened) {
            mso::log_line(opened.error());
            return 1;
        }
        history = std::move(*opened);
        server.set_history(*history, path);
        const std::string days = opt.history_days > 0 ? std::to_string(opt.history_days) + " days"
                                                      : std::string("any age");
        const std::string bytes = settings->history_max_bytes > 0
                                      ? "at most " + opt.history_max_bytes + " bytes"
                                      : std::string("any size");
        mso::log_line("history: keeping request events in " + path + " (" + days + ", " + bytes +
                      ")");
    }
    mso::log_line("accepting events from " + policies->events.describe() + "; queries from " +
                  policies->queries.describe());
    std::function<void(const mso::Options&)> reload_sensors;
    schedule_tasks(server, opt, basis, argc, argv, reload_sensors);
    std::optional<mso::MetricsHttp> metrics;
    if (settings->metrics) {
        if (auto served = serve_metrics(metrics, *settings->metrics, server); !served) {
            mso::log_line(served.error());
            return 1;
        }
        mso::log_line("serving metrics on http://" + opt.metrics_listen + "/metrics");
    }
    std::optional<mso::WebServer> web;
    std::shared_ptr<DashboardUsers> web_users;
    if (settings->http && !opt.http_users.empty()) {
        auto users = mso::SensorTable::load(opt.http_users, "");
        if (!users) {
            mso::log_line("--http-users: " + users.error());
            return 1;
        }
        web_users = std::make_shared<DashboardUsers>();
        web_users->replace(std::move(*users));
    }
    if (settings->http) {
        const mso::WebTls tls{opt.http_tls_cert, opt.http_tls_key};
        if (auto served = serve_dashboard(web, *settings->http, tls, server, web_users); !served) {
            mso::log_line(served.error());
            return 1;
        }
        const std::string where = settings->http->host.find(':') == std::string::npos
                                      ? settings->http->host
                                      : "[" + settings->http->host + "]";
        mso::log_line(std::string("serving the dashboard on ") +
                      (web->tls() ? "https://" : "http://") + where + ":" +
                      std::to_string(web->port()) + "/");
    }
    std::unique_ptr<mso::ConsoleReceiver> console;
    if (settings->console) {
        if (auto served = serve_console(console, opt, *settings, server, history.get()); !served) {
            mso::log_line(served.error());
            return 1;
        }
        reload_sensors = [&console, &opt](const mso::Options& next) {
            opt.sensors_file = next.sensors_file;
            opt.v3_sensors_file = next.v3_sensors_file;
            auto sensors = mso::SensorTable::load(opt.sensors_file, opt.v3_sensors_file);
            if (!sensors) {
                mso::log_line("reload: sensors not applied, keeping the running ones: " +
                              sensors.error());
                return;
            }
            mso::log_line("reload: console sensors: " + std::to_string((*sensors)->mlogc_count()) +
                          " mlogc, " + std::to_string((*sensors)->v3_count()) + " v3");
            console->set_sensors(std::move(*sensors));
        };
    }
    if (web_users) {
        reload_sensors = [previous = reload_sensors, web_users, &opt](const mso::Options& next) {
            if (previous) {
                previous(next);
            }
            auto users = mso::SensorTable::load(next.http_users, "");
            if (!users) {
                mso::log_line("reload: dashboard users not applied, keeping the running ones: " +
                              users.error());
                return;
            }
            opt.http_users = next.http_users;
            mso::log_line("reload: dashboard users: " + std::to_string((*users)->mlogc_count()));
            web_users->replace(std::move(*users));
        };
    }
    mso::log_line("listening on events=" + opt.event_socket + " query=" + opt.query_socket);
    int status = 0;
    try {
        server.run(g_stop, wait_mask);
    } catch (const std::exception& e) {
        // Only resource exhaustion gets here; leave a clean state for a restart.
        mso::log_line(std::string("fatal: ") + e.what());
        status = 1;
    }
    if (web) {
        web->stop();
    }
    if (metrics) {
        metrics->stop();
    }
    if (console) {
        console->stop(); // before the writer: a request in flight waits for its commit
    }
    // Senders fail over to their spools once the path is gone; what they queued before
    // is still read, so a stop loses nothing that was handed to us.
    sockets->events.remove_file();
    sockets->queries.remove_file();
    server.drain_before_exit();
    if (history) {
        history->stop(); // commits what is queued
    }
    if (!opt.state_dir.empty()) {
        save_state_now(opt.state_dir, collector, true); // the loop and scrapes have stopped
    }
    mso::log_line("stopped");
    return status;
}
