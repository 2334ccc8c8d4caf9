// The daemon's options (options.h). One CLI11 App definition serves start-up and
// every SIGHUP, so a reload parses exactly what a restart would.
#include "daemon/options.h"
#include "daemon/web_server.h"

#include "daemon/server.h"
#include "protocol/import_line.h"
#include "state/collector.h"
#include "util/duration.h"
#include "util/log.h"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <utility>

namespace mso {

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
                   "recent request events kept in memory for the events query (default: " +
                       std::to_string(k_default_events_ring_with_history) +
                       " with the history store, which keeps every event; " +
                       std::to_string(k_default_events_ring) + " without)")
        ->check(CLI::Range(std::size_t{1}, k_max_events_ring));
    app.add_option("--metrics-listen", opt.metrics_listen,
                   "serve Prometheus metrics at http://ADDRESS/metrics; ADDRESS is "
                   "IPV4:PORT or [IPV6]:PORT (default: off)");
    app.add_option("--http-listen", opt.http_listen,
                   "serve the dashboard, its JSON API and /metrics at http://ADDRESS/; "
                   "ADDRESS is IPV4:PORT or [IPV6]:PORT, loopback unless --http-users "
                   "(add TLS) or --http-insecure (default: off)");
    app.add_option("--http-users", opt.http_users,
                   "ask the dashboard's visitors for a user and password of this htpasswd "
                   "file (htpasswd -B; re-read on SIGHUP), over HTTP Basic authentication");
    app.add_option("--http-tls-cert", opt.http_tls_cert,
                   "serve the dashboard over HTTPS with this PEM certificate (chain); needs "
                   "--http-tls-key");
    app.add_option("--http-tls-key", opt.http_tls_key, "the PEM private key of --http-tls-cert");
    app.add_flag("--http-insecure", opt.http_insecure,
                 "let --http-listen use a non-loopback address without authentication "
                 "(anyone who reaches it sees every request the collector saw)");
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
    app.add_flag("--no-history", opt.no_history,
                 "do not keep request events in --state-dir/history.db (default: kept when "
                 "--state-dir is set)");
    app.add_option("--history-days", opt.history_days,
                   "delete stored events older than N days (0: keep by age)")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{36500}))
        ->capture_default_str();
    app.add_option("--history-max-bytes", opt.history_max_bytes,
                   "delete the oldest stored events while the database uses more than SIZE "
                   "(K, M, G, T: binary units; 0: no limit)")
        ->capture_default_str();
    app.add_option("--console-listen", opt.console_listen,
                   "receive audit entries from mlogc (PUT /rpc/auditLogReceiver) and ModSecurity "
                   "v3 (POST /v3/TOKEN) at IPV4:PORT or [IPV6]:PORT (needs history; default: off)");
    app.add_option("--console-tls-cert", opt.console_tls_cert,
                   "serve --console-listen over HTTPS with this certificate (PEM, chain first)");
    app.add_option("--console-tls-key", opt.console_tls_key,
                   "the private key of --console-tls-cert");
    app.add_option("--sensors", opt.sensors_file,
                   "mlogc sensors: an htpasswd file (htpasswd -B); re-read on SIGHUP");
    app.add_option("--v3-sensors", opt.v3_sensors_file,
                   "ModSecurity v3 sensors: lines 'name token [cidr,...]'; re-read on SIGHUP");
    app.add_option("--console-max-body", opt.console_max_body,
                   "largest audit entry accepted (K, M: binary units); larger ones get 409")
        ->capture_default_str();
    app.add_option("--console-matched-data", opt.console_matched_data,
                   "what each uploaded finding keeps of its matched data (it can hold "
                   "passwords): full (up to 4096 bytes), truncate:N or off")
        ->capture_default_str();
    app.add_option("--console-workers", opt.console_workers,
                   "requests the console serves at once (one per connection)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1024}))
        ->capture_default_str();
    app.add_option("--console-rate", opt.console_rate,
                   "uploads per second each sensor may send; more get 503 (0: no limit)")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    app.add_option("--console-deadline", opt.console_deadline,
                   "seconds one console request may take to arrive before its connection is "
                   "closed")
        ->check(CLI::Range(1U, 3600U))
        ->capture_default_str();
    app.add_flag("--new-token", opt.new_token,
                 "print a new random token for --v3-sensors and exit");
}

// A socket file's mode and group, from the option values `mode` and `group`; the error
// names `mode_option` or `group_option`.
Result<SocketFileOptions> file_options(const std::string& mode_option, const std::string& mode,
                                       const std::string& group_option, const std::string& group)
{
    SocketFileOptions options;
    const auto parsed = parse_mode(mode);
    if (!parsed) {
        return fail(mode_option + ": invalid mode \"" + mode + "\" (expected octal, e.g. 0660)");
    }
    options.mode = *parsed;
    if (!group.empty()) {
        auto gid = resolve_group(group);
        if (!gid) {
            return fail(group_option + ": " + gid.error());
        }
        options.group = *gid;
    }
    return options;
}

std::string join(const std::vector<std::string>& values)
{
    std::string out;
    for (const std::string& v : values) {
        out += (out.empty() ? "" : ",") + v;
    }
    return out;
}

// The four allowlist options as one string, to tell whether any of them changed.
std::string allowlists(const Options& o)
{
    return join(o.allow_uids) + ";" + join(o.allow_gids) + ";" + join(o.query_allow_uids) + ";" +
           join(o.query_allow_gids);
}

void apply_allowlists(const Options& next, Options& running, const PolicyBasis& basis,
                      Server& server)
{
    const auto policies = access_policies(next, basis);
    if (!policies) {
        log_line(policies.error());
        log_line("reload: allowlists not applied, keeping the running ones");
        return;
    }
    // SO_PASSCRED is on since start-up, so this cannot fail.
    (void)server.set_event_senders(policies->events);
    server.set_query_peers(policies->queries);
    log_line("reload: accepting events from " + policies->events.describe() + "; queries from " +
             policies->queries.describe());
    running.allow_uids = next.allow_uids;
    running.allow_gids = next.allow_gids;
    running.query_allow_uids = next.query_allow_uids;
    running.query_allow_gids = next.query_allow_gids;
}

std::string comma_list(const std::vector<std::string>& names)
{
    std::string out;
    for (const std::string& name : names) {
        out += (out.empty() ? "" : ", ") + name;
    }
    return out;
}

// --events-ring's default for a daemon started with `opt`: smaller with the history store.
std::size_t default_events_ring(const Options& opt)
{
    return history_path(opt).empty() ? k_default_events_ring : k_default_events_ring_with_history;
}

// What parse() leaves of the options that default to something the others decide.
void apply_dependent_defaults(const CLI::App& app, Options& opt)
{
    opt.events_ring_given = app.count("--events-ring") != 0; // the command line or the file
    if (!opt.events_ring_given) {
        opt.events_ring = default_events_ring(opt);
    }
}

// The ring a reload to `next` asks for. Without a value given, the default follows the
// history store the daemon runs with, which a reload does not change (--state-dir and
// --no-history need a restart): `next`'s would shrink a store-less daemon's ring, its
// only record of the events, to the store's 1,000.
std::size_t reload_events_ring(const Options& running, const Options& next)
{
    return next.events_ring_given ? next.events_ring : default_events_ring(running);
}

} // namespace

Result<Options> parse_options(int argc, const char* const* argv)
{
    Options opt;
    CLI::App app{k_description};
    add_options(app, opt);
    try {
        app.parse(argc, argv);
    } catch (const CLI::Error& e) {
        return fail(e.what());
    }
    apply_dependent_defaults(app, opt);
    return opt;
}

std::optional<int> parse_command_line(int argc, const char* const* argv, Options& out)
{
    CLI::App app{k_description};
    add_options(app, out);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? 0 : 2;
    }
    apply_dependent_defaults(app, out);
    return std::nullopt;
}

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

Result<StartSettings> check_options(const Options& opt)
{
    StartSettings settings;
    auto event_file = file_options("--event-socket-mode", opt.event_mode, "--event-socket-group",
                                   opt.event_group);
    auto query_file = file_options("--query-socket-mode", opt.query_mode, "--query-socket-group",
                                   opt.query_group);
    if (!event_file || !query_file) {
        const std::string both = !event_file && !query_file ? "\n" : "";
        return fail((event_file ? "" : event_file.error()) + both +
                    (query_file ? "" : query_file.error()));
    }
    settings.event_file = *event_file;
    settings.query_file = *query_file;
    if (!opt.metrics_listen.empty()) {
        auto address = parse_listen_address(opt.metrics_listen);
        if (!address) {
            return fail("--metrics-listen: " + address.error());
        }
        settings.metrics = std::move(*address);
    }
    if (!opt.http_listen.empty()) {
        auto address = parse_listen_address(opt.http_listen);
        if (!address) {
            return fail("--http-listen: " + address.error());
        }
        if (opt.http_tls_cert.empty() != opt.http_tls_key.empty()) {
            return fail("--http-tls-cert and --http-tls-key go together");
        }
        if (!is_loopback(*address) && !opt.http_insecure && opt.http_users.empty()) {
            return fail("--http-listen: " + opt.http_listen +
                        " is not a loopback address and the dashboard has no authentication: "
                        "give --http-users FILE (htpasswd -B), or use 127.0.0.1 or [::1] (and an "
                        "SSH tunnel or a reverse proxy with authentication), or say "
                        "--http-insecure");
        }
        // One server when both name the same place: the dashboard serves /metrics too.
        if (settings.metrics && settings.metrics->host == address->host &&
            settings.metrics->port == address->port) {
            settings.metrics.reset();
        }
        settings.http = std::move(*address);
    }
    if (opt.event_socket == opt.query_socket) {
        return fail("--event-socket and --query-socket must differ");
    }
    const auto max_bytes = parse_byte_size(opt.history_max_bytes);
    if (!max_bytes) {
        return fail("--history-max-bytes: not a size: \"" + opt.history_max_bytes +
                    "\" (a number of bytes, or with K, M, G or T, e.g. 2G)");
    }
    settings.history_max_bytes = *max_bytes;
    if (!opt.console_listen.empty()) {
        auto address = parse_listen_address(opt.console_listen);
        if (!address) {
            return fail("--console-listen: " + address.error());
        }
        settings.console = std::move(*address);
        if (opt.console_tls_cert.empty() != opt.console_tls_key.empty()) {
            return fail("--console-tls-cert and --console-tls-key go together");
        }
        if (opt.sensors_file.empty() && opt.v3_sensors_file.empty()) {
            return fail("--console-listen: no sensors (give --sensors, --v3-sensors or both)");
        }
        if (history_path(opt).empty()) {
            return fail("--console-listen: needs the history store (--state-dir, without "
                        "--no-history): an entry is answered 200 once it is stored");
        }
    }
    const auto max_body = parse_byte_size(opt.console_max_body);
    if (!max_body || *max_body < 1024 || *max_body > 256LL * 1024 * 1024) {
        return fail("--console-max-body: not a size from 1K to 256M: \"" + opt.console_max_body +
                    "\"");
    }
    settings.console_max_body = static_cast<std::size_t>(*max_body);
    const auto max_data = matched_data_bytes(opt.console_matched_data);
    if (!max_data) {
        return fail("--console-matched-data: " + max_data.error());
    }
    settings.console_max_data = *max_data;
    if (!opt.user.empty()) {
        auto user = lookup_user(opt.user);
        if (!user) {
            return fail("--user: " + user.error());
        }
        settings.run_as = std::move(*user);
    }
    return settings;
}

std::string history_path(const Options& opt)
{
    return opt.state_dir.empty() || opt.no_history ? std::string() : opt.state_dir + "/history.db";
}

PolicyBasis policy_basis(const StartSettings& settings)
{
    const auto& run_as = settings.run_as;
    return PolicyBasis{run_as ? run_as->uid : ::geteuid(), run_as ? run_as->gid : ::getegid(),
                       settings.query_file.group};
}

Result<AccessPolicies> access_policies(const Options& opt, const PolicyBasis& basis)
{
    const uid_t self = basis.self;
    CredentialPolicy always; // root and ourselves: they could bypass any check
    always.uids = {0};
    if (self != 0) {
        always.uids.push_back(self);
    }
    const bool events_given = !opt.allow_uids.empty() || !opt.allow_gids.empty();
    auto events = events_given ? make_policy(always, opt.allow_uids, opt.allow_gids)
                               : make_policy(default_event_senders(self), {}, {});
    if (!events) {
        return fail("--allow-uid/--allow-gid: " + events.error());
    }
    CredentialPolicy query_base = always;
    if (opt.query_allow_uids.empty() && opt.query_allow_gids.empty()) {
        query_base.gids.push_back(basis.query_group.value_or(basis.self_group));
    }
    auto queries = make_policy(query_base, opt.query_allow_uids, opt.query_allow_gids);
    if (!queries) {
        return fail("--query-allow-uid/--query-allow-gid: " + queries.error());
    }
    return AccessPolicies{std::move(*events), std::move(*queries)};
}

OptionChanges diff_options(const Options& running, const Options& next)
{
    OptionChanges changes;
    changes.allowlists = allowlists(next) != allowlists(running);
    changes.events_ring = reload_events_ring(running, next) != running.events_ring;
    changes.snapshot_interval = next.snapshot_interval != running.snapshot_interval;
    const std::pair<const char*, const std::string Options::*> restart_only[] = {
        {"event-socket", &Options::event_socket},
        {"query-socket", &Options::query_socket},
        {"event-socket-mode", &Options::event_mode},
        {"query-socket-mode", &Options::query_mode},
        {"event-socket-group", &Options::event_group},
        {"query-socket-group", &Options::query_group},
        {"metrics-listen", &Options::metrics_listen},
        {"http-listen", &Options::http_listen},
        {"state-dir", &Options::state_dir},
        {"user", &Options::user},
        {"spool-dir", &Options::spool_dir},
        {"history-max-bytes", &Options::history_max_bytes},
        {"console-listen", &Options::console_listen},
        {"console-tls-cert", &Options::console_tls_cert},
        {"console-tls-key", &Options::console_tls_key},
        {"console-max-body", &Options::console_max_body},
        {"console-matched-data", &Options::console_matched_data},
    };
    for (const auto& [name, member] : restart_only) {
        if (running.*member != next.*member) {
            changes.need_restart.emplace_back(name);
        }
    }
    if (running.no_history != next.no_history) {
        changes.need_restart.emplace_back("no-history");
    }
    if (running.history_days != next.history_days) {
        changes.need_restart.emplace_back("history-days");
    }
    if (running.console_workers != next.console_workers) {
        changes.need_restart.emplace_back("console-workers");
    }
    if (running.console_rate != next.console_rate) {
        changes.need_restart.emplace_back("console-rate");
    }
    if (running.console_deadline != next.console_deadline) {
        changes.need_restart.emplace_back("console-deadline");
    }
    return changes;
}

void apply_reload(const Options& next, Options& running, const PolicyBasis& basis,
                  Collector& collector, Server& server)
{
    const OptionChanges changes = diff_options(running, next);
    if (changes.allowlists) {
        apply_allowlists(next, running, basis, server);
    }
    if (changes.events_ring) {
        const std::size_t ring = reload_events_ring(running, next);
        collector.resize_events(ring);
        log_line("reload: events-ring " + std::to_string(running.events_ring) + " -> " +
                 std::to_string(ring));
        running.events_ring = ring;
    }
    if (changes.snapshot_interval) {
        server.set_periodic_interval(std::chrono::seconds(next.snapshot_interval));
        log_line("reload: snapshot-interval " + std::to_string(running.snapshot_interval) + " -> " +
                 std::to_string(next.snapshot_interval));
        running.snapshot_interval = next.snapshot_interval;
    }
    if (!changes.need_restart.empty()) {
        log_line("reload: changed but kept until a restart: " + comma_list(changes.need_restart));
    }
}

} // namespace mso
