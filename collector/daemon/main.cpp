// modsec-observed: the collector daemon. Parses options (command line, then the
// --config file), restores the --state-dir snapshot, creates the event and query
// sockets (and, with --metrics-listen, the Prometheus endpoint), runs the Server
// until SIGTERM/SIGINT, saves a last snapshot and removes its sockets on the way
// out. SIGHUP re-reads the options and applies those that can change at run time.
// Start-up errors exit with status 2 (bad options) or 1.
#include "state/collector.h"
#include "util/log.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "protocol/query.h"
#include "daemon/server.h"
#include "daemon/snapshot.h"
#include "daemon/socket_security.h"
#include "util/time_format.h"
#include "util/unix_socket.h"

#include <CLI/CLI.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
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

// Parses an octal permission string such as "0660" or "660".
std::optional<mode_t> parse_mode(const std::string& text)
{
    unsigned value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value, 8);
    if (text.empty() || ec != std::errc() || ptr != end || value > 07777) {
        return std::nullopt;
    }
    return static_cast<mode_t>(value);
}

struct Options {
    std::string event_socket = "/run/modsec-observe/events.sock";
    std::string query_socket = "/run/modsec-observe/query.sock";
    std::string event_mode = "0660";
    std::string query_mode = "0660";
    std::string event_group;
    std::string query_group;
    std::size_t events_ring = mso::k_default_events_ring;
    std::string metrics_listen;          // empty: no metrics endpoint
    std::string state_dir;               // empty: no snapshots
    unsigned snapshot_interval = 60;     // seconds; 0: only at exit
    std::vector<std::string> allow_uids; // event senders; empty: www-data
    std::vector<std::string> allow_gids;
    std::vector<std::string> query_allow_uids; // query clients; empty: the socket's group
    std::vector<std::string> query_allow_gids;
    std::string user;      // empty: keep running as the starting user
    std::string spool_dir; // empty: no spool replay
};

// Turns the option strings into socket file options, or prints why not.
std::optional<mso::SocketFileOptions> file_options(const std::string& mode_option,
                                                   const std::string& mode,
                                                   const std::string& group_option,
                                                   const std::string& group)
{
    mso::SocketFileOptions options;
    const auto parsed = parse_mode(mode);
    if (!parsed) {
        std::fprintf(stderr,
                     "modsec-observed: %s: invalid mode \"%s\" (expected octal, e.g. 0660)\n",
                     mode_option.c_str(), mode.c_str());
        return std::nullopt;
    }
    options.mode = *parsed;
    if (!group.empty()) {
        auto gid = mso::resolve_group(group);
        if (!gid) {
            std::fprintf(stderr, "modsec-observed: %s: %s\n", group_option.c_str(),
                         gid.error().c_str());
            return std::nullopt;
        }
        options.group = *gid;
    }
    return options;
}

} // namespace

// Linux queues at most net.unix.max_dgram_qlen + 1 datagrams on a Unix socket, whatever
// SO_RCVBUF says (default 10): a burst larger than that makes Apache count events as
// lost. Read once at start; the value in force when the socket was created applies.
void warn_if_socket_queue_is_short()
{
    std::FILE* f = std::fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
    if (!f) {
        return;
    }
    long qlen = 0;
    const bool read = std::fscanf(f, "%ld", &qlen) == 1;
    std::fclose(f);
    if (read && qlen < 512) {
        std::fprintf(stderr,
                     "modsec-observed: warning: net.unix.max_dgram_qlen is %ld; the event "
                     "socket holds at most %ld datagrams, so bursts make Apache count events as "
                     "lost. Set it to 1024 before starting the collector "
                     "(packaging/99-modsec-observe.conf).\n",
                     qlen, qlen + 1);
    }
}

namespace {

constexpr const char* k_description =
    "modsec-observed: collects ModSecurity findings sent by mod_modsec_observe "
    "and answers queries (see modsec-observe)";

void add_options(CLI::App& app, Options& opt)
{
    app.set_config("--config", "",
                   "read options from FILE (key = value lines, long option names without "
                   "--); the command line wins; SIGHUP re-reads it");
    app.add_option("--event-socket", opt.event_socket, "event socket (SOCK_DGRAM) path")
        ->capture_default_str();
    app.add_option("--query-socket", opt.query_socket, "query socket (SOCK_STREAM) path")
        ->capture_default_str();
    app.add_option("--event-socket-mode", opt.event_mode, "event socket permissions (octal)")
        ->capture_default_str();
    app.add_option("--event-socket-group", opt.event_group,
                   "group owning the event socket (Apache's user group, e.g. www-data)");
    app.add_option("--query-socket-mode", opt.query_mode, "query socket permissions (octal)")
        ->capture_default_str();
    app.add_option("--query-socket-group", opt.query_group, "group owning the query socket");
    app.add_option("--allow-uid", opt.allow_uids,
                   "accept event datagrams from this user (name or uid; repeatable); "
                   "root and the collector's own user always may; default: www-data")
        ->delimiter(',');
    app.add_option("--allow-gid", opt.allow_gids,
                   "accept event datagrams from this group (name or gid; repeatable); "
                   "default: www-data")
        ->delimiter(',');
    app.add_option("--query-allow-uid", opt.query_allow_uids,
                   "answer query clients running as this user (repeatable); root and the "
                   "collector's own user always may")
        ->delimiter(',');
    app.add_option("--query-allow-gid", opt.query_allow_gids,
                   "answer query clients in this group (repeatable); default: the "
                   "--query-socket-group, else the collector's own group")
        ->delimiter(',');
    app.add_option("--user", opt.user,
                   "switch to this user (and its groups) once the sockets exist; "
                   "--state-dir must be writable by it");
    app.add_option("--events-ring", opt.events_ring,
                   "recent request events kept for the events query")
        ->check(CLI::Range(std::size_t{1}, mso::k_max_events_ring))
        ->capture_default_str();
    app.add_option("--metrics-listen", opt.metrics_listen,
                   "serve Prometheus metrics at http://ADDRESS/metrics; ADDRESS is "
                   "IPV4:PORT or [IPV6]:PORT (default: off)");
    app.add_option("--state-dir", opt.state_dir,
                   "keep the collected state in DIR/state.json across restarts "
                   "(created 0700 if missing; default: off)");
    app.add_option("--snapshot-interval", opt.snapshot_interval,
                   "seconds between snapshots to --state-dir (0: only at exit)")
        ->check(CLI::Range(0U, 7U * 24 * 3600))
        ->capture_default_str();
    app.add_option("--spool-dir", opt.spool_dir,
                   "directory of the module's spool files (ModSecObserveSpool): replayed at "
                   "start, every second, and at exit, then removed")
        ->check(CLI::ExistingDirectory);
}

// SIGHUP: the options again (command line, then the --config file as it is now).
std::optional<Options> reread_options(int argc, char** argv, std::string& error)
{
    Options opt;
    CLI::App app{k_description};
    add_options(app, opt);
    try {
        app.parse(argc, argv);
    } catch (const CLI::Error& e) {
        error = e.what();
        return std::nullopt;
    }
    return opt;
}

std::string join(const std::vector<std::string>& values)
{
    std::string out;
    for (const std::string& v : values) {
        out += (out.empty() ? "" : ",") + v;
    }
    return out;
}

// The allowlists for event senders and query clients (docs/SECURITY.md), or why not.
struct AccessPolicies {
    mso::CredentialPolicy events;
    mso::CredentialPolicy queries;
};

// What the allowlists are built from besides the options: the collector's own user and
// group (after --user) and the query socket's group.
struct PolicyBasis {
    uid_t self;
    gid_t self_group;
    std::optional<gid_t> query_group;
};

std::optional<AccessPolicies> access_policies(const Options& opt, const PolicyBasis& basis)
{
    const uid_t self = basis.self;
    mso::CredentialPolicy always; // root and ourselves: they could bypass any check
    always.uids = {0};
    if (self != 0) {
        always.uids.push_back(self);
    }
    const bool events_given = !opt.allow_uids.empty() || !opt.allow_gids.empty();
    auto events = events_given ? mso::make_policy(always, opt.allow_uids, opt.allow_gids)
                               : mso::make_policy(mso::default_event_senders(self), {}, {});
    if (!events) {
        std::fprintf(stderr, "modsec-observed: --allow-uid/--allow-gid: %s\n",
                     events.error().c_str());
        return std::nullopt;
    }
    mso::CredentialPolicy query_base = always;
    if (opt.query_allow_uids.empty() && opt.query_allow_gids.empty()) {
        query_base.gids.push_back(basis.query_group.value_or(basis.self_group));
    }
    auto queries = mso::make_policy(query_base, opt.query_allow_uids, opt.query_allow_gids);
    if (!queries) {
        std::fprintf(stderr, "modsec-observed: --query-allow-uid/--query-allow-gid: %s\n",
                     queries.error().c_str());
        return std::nullopt;
    }
    return AccessPolicies{std::move(*events), std::move(*queries)};
}

// Applies what can change at run time, logs each change, names what cannot.
void apply_reload(const Options& next, Options& running, const PolicyBasis& basis,
                  mso::Collector& collector, mso::Server& server)
{
    const auto allowlists = [](const Options& o) {
        return join(o.allow_uids) + ";" + join(o.allow_gids) + ";" + join(o.query_allow_uids) +
               ";" + join(o.query_allow_gids);
    };
    if (allowlists(next) != allowlists(running)) {
        // An invalid list (unknown user, bad number) was already reported on stderr.
        if (const auto policies = access_policies(next, basis)) {
            // SO_PASSCRED is on since start-up, so this cannot fail.
            (void)server.set_event_senders(policies->events);
            server.set_query_peers(policies->queries);
            mso::log_line("reload: accepting events from " + policies->events.describe() +
                          "; queries from " + policies->queries.describe());
            running.allow_uids = next.allow_uids;
            running.allow_gids = next.allow_gids;
            running.query_allow_uids = next.query_allow_uids;
            running.query_allow_gids = next.query_allow_gids;
        } else {
            mso::log_line("reload: allowlists not applied, keeping the running ones");
        }
    }
    if (next.events_ring != running.events_ring) {
        collector.resize_events(next.events_ring);
        mso::log_line("reload: events-ring " + std::to_string(running.events_ring) + " -> " +
                      std::to_string(next.events_ring));
        running.events_ring = next.events_ring;
    }
    if (next.snapshot_interval != running.snapshot_interval) {
        server.set_periodic_interval(std::chrono::seconds(next.snapshot_interval));
        mso::log_line("reload: snapshot-interval " + std::to_string(running.snapshot_interval) +
                      " -> " + std::to_string(next.snapshot_interval));
        running.snapshot_interval = next.snapshot_interval;
    }
    std::string restart;
    const auto check = [&restart](const char* name, const std::string& a, const std::string& b) {
        if (a != b) {
            restart += restart.empty() ? name : std::string(", ") + name;
        }
    };
    check("event-socket", running.event_socket, next.event_socket);
    check("query-socket", running.query_socket, next.query_socket);
    check("event-socket-mode", running.event_mode, next.event_mode);
    check("query-socket-mode", running.query_mode, next.query_mode);
    check("event-socket-group", running.event_group, next.event_group);
    check("query-socket-group", running.query_group, next.query_group);
    check("metrics-listen", running.metrics_listen, next.metrics_listen);
    check("state-dir", running.state_dir, next.state_dir);
    check("user", running.user, next.user);
    check("spool-dir", running.spool_dir, next.spool_dir);
    if (!restart.empty()) {
        mso::log_line("reload: changed but kept until a restart: " + restart);
    }
}

// Writes a snapshot and records the outcome in `health`.
void save_state_now(const std::string& dir, mso::Collector& collector, bool at_exit)
{
    static mso::RateLimiter failures;
    const std::int64_t now = mso::wall_clock_now();
    const mso::SnapshotWrite written = mso::save_snapshot(dir, collector, now);
    mso::SnapshotStatus& status = collector.snapshot_status();
    if (written.error) {
        status.last_error = "cannot save snapshot: " + *written.error;
        mso::log_limited(failures, status.last_error);
        return;
    }
    status.last_saved = mso::iso_time_s(now);
    status.last_error.clear();
    if (at_exit) {
        mso::log_line("saved state to " + dir + "/" + mso::k_snapshot_file + " (" +
                      std::to_string(written.bytes) + " bytes)");
    }
}

} // namespace

int main(int argc, char** argv)
{
    Options opt;
    CLI::App app{k_description};
    add_options(app, opt);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? 0 : 2;
    }

    const auto event_options = file_options("--event-socket-mode", opt.event_mode,
                                            "--event-socket-group", opt.event_group);
    const auto query_options = file_options("--query-socket-mode", opt.query_mode,
                                            "--query-socket-group", opt.query_group);
    if (!event_options || !query_options) {
        return 2;
    }
    std::optional<mso::ListenAddress> metrics_address;
    if (!opt.metrics_listen.empty()) {
        std::string error;
        metrics_address = mso::parse_listen_address(opt.metrics_listen, error);
        if (!metrics_address) {
            std::fprintf(stderr, "modsec-observed: --metrics-listen: %s\n", error.c_str());
            return 2;
        }
    }
    if (opt.event_socket == opt.query_socket) {
        std::fprintf(stderr, "modsec-observed: --event-socket and --query-socket must differ\n");
        return 2;
    }
    std::optional<mso::UserIdentity> run_as;
    if (!opt.user.empty()) {
        auto user = mso::lookup_user(opt.user);
        if (!user) {
            std::fprintf(stderr, "modsec-observed: --user: %s\n", user.error().c_str());
            return 2;
        }
        run_as = *user;
    }
    const uid_t self = run_as ? run_as->uid : ::geteuid();
    const PolicyBasis policy_basis{self, run_as ? run_as->gid : ::getegid(), query_options->group};
    const auto policies = access_policies(opt, policy_basis);
    if (!policies) {
        return 2;
    }
    for (const std::string* path : {&opt.event_socket, &opt.query_socket}) {
        if (auto unsafe = mso::check_socket_path(*path, self)) {
            std::fprintf(stderr, "modsec-observed: %s\n", unsafe->c_str());
            return 1;
        }
    }

    // The state is restored before the sockets exist, so nothing is received first.
    mso::Collector collector(mso::Collector::Clock::now(), opt.events_ring);
    if (!opt.state_dir.empty()) {
        if (auto error = mso::prepare_state_dir(opt.state_dir)) {
            std::fprintf(stderr, "modsec-observed: --state-dir: %s\n", error->c_str());
            return 1;
        }
        const mso::SnapshotRead read =
            mso::read_snapshot(opt.state_dir, collector, mso::wall_clock_now());
        if (read.loaded) {
            std::fprintf(stderr,
                         "modsec-observed: restored state from %s/%s: %zu vhosts, %zu events "
                         "(%llu older events and %llu entries beyond the bounds dropped)\n",
                         opt.state_dir.c_str(), mso::k_snapshot_file, read.loaded->vhosts,
                         read.loaded->events,
                         static_cast<unsigned long long>(read.loaded->events_evicted),
                         static_cast<unsigned long long>(read.loaded->dropped));
        } else if (read.found) {
            std::fprintf(stderr,
                         "modsec-observed: snapshot %s/%s not loaded (%s); moved aside to %s; "
                         "starting empty\n",
                         opt.state_dir.c_str(), mso::k_snapshot_file, read.error.c_str(),
                         read.set_aside.empty() ? "(nowhere)" : read.set_aside.c_str());
        }
    }

    // Block the stop and reload signals; Server::run() unblocks them only inside ppoll().
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

    auto events = mso::bind_unix_socket(opt.event_socket, SOCK_DGRAM, *event_options);
    if (!events) {
        std::fprintf(stderr, "modsec-observed: %s\n", events.error().c_str());
        return 1;
    }
    auto queries = mso::bind_unix_socket(opt.query_socket, SOCK_STREAM, *query_options);
    if (!queries) {
        std::fprintf(stderr, "modsec-observed: %s\n", queries.error().c_str());
        mso::remove_socket_file(*events);
        return 1;
    }

    warn_if_socket_queue_is_short();
    mso::Server server(collector, std::move(events->fd), std::move(queries->fd));
    if (auto error = server.set_event_senders(policies->events)) {
        std::fprintf(stderr, "modsec-observed: %s\n", error->c_str());
        mso::remove_socket_file(*events);
        mso::remove_socket_file(*queries);
        return 1;
    }
    server.set_query_peers(policies->queries);
    // Before any thread exists; the sockets are bound and keep their permissions.
    if (run_as) {
        std::optional<std::string> error = mso::drop_privileges(*run_as);
        if (!error && !opt.state_dir.empty() && ::access(opt.state_dir.c_str(), W_OK | X_OK) != 0) {
            error = "--state-dir " + opt.state_dir + " is not writable by user " + run_as->name +
                    " (chown it to that user)";
        }
        if (error) {
            std::fprintf(stderr, "modsec-observed: --user: %s\n", error->c_str());
            mso::remove_socket_file(*events);
            mso::remove_socket_file(*queries);
            return 1;
        }
        std::fprintf(stderr, "modsec-observed: running as user %s (uid %u, gid %u)\n",
                     run_as->name.c_str(), static_cast<unsigned>(run_as->uid),
                     static_cast<unsigned>(run_as->gid));
    }
    std::fprintf(stderr, "modsec-observed: accepting events from %s; queries from %s\n",
                 policies->events.describe().c_str(), policies->queries.describe().c_str());
    if (!opt.state_dir.empty()) {
        server.set_periodic_task(
            std::chrono::seconds(opt.snapshot_interval),
            [&opt](mso::Collector& c) { save_state_now(opt.state_dir, c, false); });
    }
    if (!opt.spool_dir.empty()) {
        server.enable_spool_replay(opt.spool_dir); // what children spooled while we were down
    }
    server.set_signal_task(g_reload, [&](mso::Collector& c) {
        std::string error;
        const auto next = reread_options(argc, argv, error);
        if (!next) {
            mso::log_line("reload: configuration not applied, keeping the running one: " + error);
            return;
        }
        apply_reload(*next, opt, policy_basis, c, server);
    });
    // Started after the stop signals are blocked: its threads inherit the mask,
    // so SIGTERM always reaches the loop's ppoll().
    std::optional<mso::MetricsHttp> metrics;
    if (metrics_address) {
        // /proc is read outside the collector lock; rendering needs it.
        metrics.emplace([&server] {
            const mso::ProcessStats process = mso::read_process_stats();
            return server.with_collector([&process](const mso::Collector& c) {
                return mso::render_metrics(c, mso::Collector::Clock::now(), process);
            });
        });
        if (auto error = metrics->bind(*metrics_address)) {
            std::fprintf(stderr, "modsec-observed: --metrics-listen: %s\n", error->c_str());
            mso::remove_socket_file(*events);
            mso::remove_socket_file(*queries);
            return 1;
        }
        metrics->start();
        std::fprintf(stderr, "modsec-observed: serving metrics on http://%s/metrics\n",
                     opt.metrics_listen.c_str());
    }
    std::fprintf(stderr, "modsec-observed: listening on events=%s query=%s\n",
                 opt.event_socket.c_str(), opt.query_socket.c_str());
    int status = 0;
    try {
        server.run(g_stop, wait_mask);
    } catch (const std::exception& e) {
        // Only resource exhaustion gets here; leave a clean state for a restart.
        std::fprintf(stderr, "modsec-observed: fatal: %s\n", e.what());
        status = 1;
    }
    if (metrics) {
        metrics->stop();
    }
    // Senders fail over to their spools once the path is gone; what they queued before
    // is still read, so a stop loses nothing that was handed to us.
    mso::remove_socket_file(*events);
    mso::remove_socket_file(*queries);
    server.drain_before_exit();
    if (!opt.state_dir.empty()) {
        save_state_now(opt.state_dir, collector, true); // the loop and scrapes have stopped
    }

    std::fprintf(stderr, "modsec-observed: stopped\n");
    return status;
}
