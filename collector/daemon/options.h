// modsec-observed's options: the command line and the --config file (CLI11, the
// command line winning), their checks, the access policies built from them (who may
// send events, who may query; docs/SECURITY.md), and what a SIGHUP reload applies at
// run time versus what waits for a restart. Parsing, checking and diffing are pure
// apart from user and group lookups (NSS) and reading the --config file, so they are
// tested without sockets (tests/unit/test_options.cpp).
#pragma once

#include "daemon/metrics_http.h"
#include "daemon/socket_security.h"
#include "state/event_ring.h"
#include "util/identity.h"
#include "util/result.h"
#include "util/unix_socket.h"

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mso {

class Collector;
class Server;

// The options as given, strings unchecked (check_options() checks them).
struct Options {
    std::string event_socket = "/run/modsec-observe/events.sock";
    std::string query_socket = "/run/modsec-observe/query.sock";
    std::string event_mode = "0660";
    std::string query_mode = "0660";
    std::string event_group;
    std::string query_group;
    // Unless given: k_default_events_ring_with_history when history_path() is set.
    std::size_t events_ring = k_default_events_ring;
    bool events_ring_given = false; // by the command line or the --config file
    std::string metrics_listen;     // empty: no metrics endpoint
    std::string http_listen;        // empty: no dashboard
    bool http_insecure = false;     // dashboard beyond loopback without authentication
    std::string http_users;         // --http-users: htpasswd file of the dashboard's users
    std::string http_tls_cert;      // --http-tls-cert (with --http-tls-key: HTTPS)
    std::string http_tls_key;
    std::string state_dir;               // empty: no snapshots
    unsigned snapshot_interval = 60;     // seconds; 0: only at exit
    std::vector<std::string> allow_uids; // event senders; empty: www-data
    std::vector<std::string> allow_gids;
    std::vector<std::string> query_allow_uids; // query clients; empty: the socket's group
    std::vector<std::string> query_allow_gids;
    std::string user;      // empty: keep running as the starting user
    std::string spool_dir; // empty: no spool replay
    // The history store at <state_dir>/history.db (needs --state-dir).
    bool no_history = false;
    std::int64_t history_days = 30;       // retention by age; 0: none
    std::string history_max_bytes = "2G"; // retention by size; "0": none
    // The console receiver (daemon/console_receiver.h); empty: off.
    std::string console_listen;
    std::string console_tls_cert;
    std::string console_tls_key;
    std::string sensors_file;    // htpasswd (mlogc sensors); re-read on SIGHUP
    std::string v3_sensors_file; // name token [cidr,...] (ModSecurity v3); re-read on SIGHUP
    std::string console_max_body = "4M";
    std::string console_matched_data = "truncate:256"; // full|truncate:N|off
    std::size_t console_workers = 16;
    double console_rate = 0;        // uploads per second per sensor; 0: no limit
    unsigned console_deadline = 60; // seconds for one request
    bool new_token = false;         // print a new v3 token and exit
};

// The history database's path, or "" when history is off (no --state-dir, or
// --no-history).
[[nodiscard]] std::string history_path(const Options& opt);

// Parses `argv` (argv[0] is the program name) and the --config file it names. Fails
// with CLI11's message, e.g. "--events-ring: Value 0 not in range 1 to 10000000".
// Reads the --config file (blocks on it); prints nothing.
[[nodiscard]] Result<Options> parse_options(int argc, const char* const* argv);

// parse_options() for start-up: --help prints the usage on stdout and an error goes
// to stderr as CLI11 words it; returns the exit status then (0 after --help, 2 after
// an error), nullopt when the daemon should start with `out`.
[[nodiscard]] std::optional<int> parse_command_line(int argc, const char* const* argv,
                                                    Options& out);

// An octal permission string such as "0660" or "660"; nullopt unless 0 to 07777.
[[nodiscard]] std::optional<mode_t> parse_mode(const std::string& text);

// What start-up derives from the options before it creates any socket.
struct StartSettings {
    SocketFileOptions event_file;
    SocketFileOptions query_file;
    std::optional<ListenAddress> metrics; // unset also when the dashboard serves /metrics
    std::optional<ListenAddress> http;
    std::optional<UserIdentity> run_as;   // --user
    std::int64_t history_max_bytes = 0;   // --history-max-bytes, parsed
    std::optional<ListenAddress> console; // --console-listen
    std::size_t console_max_body = 0;     // --console-max-body, parsed
    std::size_t console_max_data = 0;     // --console-matched-data, parsed
};

// Checks the options and resolves the names in them (socket groups, --user; blocks on
// NSS). The error names the option ("--user: unknown user x"); with an invalid mode
// or group for both sockets, it holds one line for each.
[[nodiscard]] Result<StartSettings> check_options(const Options& opt);

// What the allowlists are built from besides the options: the collector's own user and
// group (after --user) and the query socket's group.
struct PolicyBasis {
    uid_t self = 0;
    gid_t self_group = 0;
    std::optional<gid_t> query_group;
};

// The basis for `settings`: the --user's identity, else the process's effective one.
[[nodiscard]] PolicyBasis policy_basis(const StartSettings& settings);

// The allowlists for event senders and query clients. Root and the collector's own
// user are always allowed (they could bypass any check). Without --allow-uid and
// --allow-gid, events are accepted from www-data (default_event_senders); without
// --query-allow-*, queries from the query socket's group, else the collector's group.
struct AccessPolicies {
    CredentialPolicy events;
    CredentialPolicy queries;
};

// Fails naming the options ("--allow-uid/--allow-gid: unknown user x"). Blocks on NSS.
[[nodiscard]] Result<AccessPolicies> access_policies(const Options& opt, const PolicyBasis& basis);

// What a reload from `running` to `next` changes.
struct OptionChanges {
    bool allowlists = false; // --allow-uid, --allow-gid, --query-allow-uid, --query-allow-gid
    bool events_ring = false;
    bool snapshot_interval = false;
    // Options that changed but apply only at the next start ("query-socket-mode"), in a
    // fixed order.
    std::vector<std::string> need_restart;
};

[[nodiscard]] OptionChanges diff_options(const Options& running, const Options& next);

// Applies what diff_options() finds applicable at run time, logs each change and names
// what waits for a restart; `running` then holds what is in force. An allowlist that
// does not resolve is logged and the running ones are kept. Runs on the loop thread
// with the collector lock held (a Server signal task).
void apply_reload(const Options& next, Options& running, const PolicyBasis& basis,
                  Collector& collector, Server& server);

} // namespace mso
