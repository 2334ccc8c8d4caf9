// modsec-observed: the collector daemon. Parses options, creates the event and
// query sockets, runs the Server until SIGTERM/SIGINT and removes its sockets
// on the way out. Start-up errors exit with status 2 (bad options) or 1.
#include "collector.h"
#include "server.h"
#include "unix_socket.h"

#include <CLI/CLI.hpp>

#include <signal.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>

namespace {

volatile sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int /*signal*/)
{
    g_stop = 1;
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
        std::fprintf(stderr, "modsec-observed: %s: invalid mode \"%s\" (expected octal, e.g. 0660)\n",
                     mode_option.c_str(), mode.c_str());
        return std::nullopt;
    }
    options.mode = *parsed;
    if (!group.empty()) {
        auto gid = mso::resolve_group(group);
        if (!gid) {
            std::fprintf(stderr, "modsec-observed: %s: %s\n", group_option.c_str(),
                         gid.error.c_str());
            return std::nullopt;
        }
        options.group = *gid.value;
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

int main(int argc, char** argv)
{
    Options opt;
    CLI::App app{"modsec-observed: collects ModSecurity findings sent by mod_modsec_observe "
                 "and answers queries (see modsec-observe)"};
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
    app.add_option("--events-ring", opt.events_ring,
                   "recent request events kept for the events query")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
        ->capture_default_str();
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
    if (opt.event_socket == opt.query_socket) {
        std::fprintf(stderr, "modsec-observed: --event-socket and --query-socket must differ\n");
        return 2;
    }

    // Block the stop signals; Server::run() unblocks them only inside ppoll().
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigset_t wait_mask;
    sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);

    auto events = mso::bind_unix_socket(opt.event_socket, SOCK_DGRAM, *event_options);
    if (!events) {
        std::fprintf(stderr, "modsec-observed: %s\n", events.error.c_str());
        return 1;
    }
    auto queries = mso::bind_unix_socket(opt.query_socket, SOCK_STREAM, *query_options);
    if (!queries) {
        std::fprintf(stderr, "modsec-observed: %s\n", queries.error.c_str());
        mso::remove_socket_file(*events.value);
        return 1;
    }

    warn_if_socket_queue_is_short();
    mso::Collector collector(mso::Collector::Clock::now(), opt.events_ring);
    mso::Server server(collector, std::move(events.value->fd), std::move(queries.value->fd));
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

    mso::remove_socket_file(*events.value);
    mso::remove_socket_file(*queries.value);
    std::fprintf(stderr, "modsec-observed: stopped\n");
    return status;
}
