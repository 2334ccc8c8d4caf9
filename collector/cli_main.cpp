// modsec-observe: the command-line client. Sends one query to the collector's
// query socket and prints the answer as a table or, with --json, as JSON for
// scripts. Exit status: 0 success, 1 collector unreachable or error answer,
// 2 bad usage.
#include "event_ring.h"
#include "report.h"
#include "terminal.h"
#include "unix_socket.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

namespace {

using json = nlohmann::ordered_json;

constexpr const char* k_default_socket = "/run/modsec-observe/query.sock";
// Largest answer accepted (a stats answer for many vhosts can be large).
constexpr std::size_t k_max_answer_bytes = 256 * 1024 * 1024;
constexpr time_t k_timeout_s = 30;

void fail(const std::string& message)
{
    std::fprintf(stderr, "modsec-observe: %s\n", message.c_str());
}

// Sends `request` and reads one answer line; prints why not on failure.
bool exchange(const std::string& socket_path, const std::string& request, std::string& answer)
{
    auto connected = mso::connect_unix_stream(socket_path);
    if (!connected) {
        fail("cannot connect to the collector at " + mso::terminal_safe(socket_path) + ": " +
             connected.error + " (is modsec-observed running?)");
        return false;
    }
    const int fd = connected.value->get();
    timeval timeout{k_timeout_s, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));

    const std::string line = request + "\n";
    for (std::size_t sent = 0; sent < line.size();) {
        const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fail(std::string("cannot send the query: ") + std::strerror(errno));
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    answer.clear();
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(std::string("no answer from the collector: ") + std::strerror(errno));
            return false;
        }
        if (n == 0) {
            fail("the collector closed the connection without answering");
            return false;
        }
        answer.append(buffer, static_cast<std::size_t>(n));
        if (const auto newline = answer.find('\n'); newline != std::string::npos) {
            answer.resize(newline);
            return true;
        }
        if (answer.size() > k_max_answer_bytes) {
            fail("the collector's answer is too large");
            return false;
        }
    }
}

// Runs one query; returns the process exit status.
int run_query(const std::string& socket_path, const json& request, bool as_json,
              const std::function<std::string(const json&)>& format)
{
    std::string line;
    if (!exchange(socket_path, request.dump(-1, ' ', false, json::error_handler_t::replace),
                  line)) {
        return 1;
    }
    json answer = json::parse(line, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
        fail("the collector sent an invalid answer");
        return 1;
    }
    const auto ok = answer.find("ok");
    if (ok == answer.end() || !ok->is_boolean() || !ok->get<bool>()) {
        const auto error = answer.find("error");
        fail("the collector refused the query: " +
             (error != answer.end() && error->is_string()
                  ? mso::terminal_safe(error->get_ref<const std::string&>())
                  : std::string("no reason given")));
        return 1;
    }
    if (as_json) {
        answer.erase("ok");
        std::cout << answer.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    } else {
        std::cout << format(answer);
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    std::string socket_path = k_default_socket;
    std::string vhost;
    bool stats_json = false;
    bool health_json = false;

    CLI::App app{"modsec-observe: show what ModSecurity found, per virtual host"};
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("--socket", socket_path, "collector query socket")
        ->envname("MODSEC_OBSERVE_SOCKET")
        ->capture_default_str();
    auto* stats = app.add_subcommand("stats", "requests, findings and top rules per vhost");
    stats->add_option("--vhost", vhost, "only this vhost");
    stats->add_flag("--json", stats_json, "print JSON instead of a table");
    mso::EventFilter filter;
    std::string rule, client;
    bool events_json = false;
    bool intercepted_only = false;
    auto* events = app.add_subcommand("events", "recent requests with findings, newest first");
    events->add_option("--vhost", vhost, "only this vhost");
    events->add_option("--rule", rule, "only requests where this rule id matched");
    events->add_option("--client", client, "only requests from this client address");
    events->add_flag("--intercepted", intercepted_only, "only requests ModSecurity denied");
    events->add_option("--limit", filter.limit, "how many events (0: all the collector keeps)")
        ->capture_default_str();
    events->add_flag("--json", events_json, "print JSON instead of a table");
    auto* health = app.add_subcommand("health", "collector counters");
    health->add_flag("--json", health_json, "print JSON instead of a table");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? 0 : 2;
    }

    json request = json::object();
    if (stats->parsed()) {
        request["cmd"] = "stats";
        if (stats->count("--vhost") != 0) {
            request["vhost"] = vhost;
        }
        const bool filtered = stats->count("--vhost") != 0;
        return run_query(socket_path, request, stats_json, [&](const json& answer) {
            const auto vhosts = answer.find("vhosts");
            if (filtered && vhosts != answer.end() && vhosts->is_array() && vhosts->empty()) {
                return "no data for vhost " + mso::terminal_safe(vhost) + "\n";
            }
            return mso::format_stats(answer);
        });
    }
    if (events->parsed()) {
        request["cmd"] = "events";
        if (events->count("--vhost") != 0) {
            request["vhost"] = vhost;
        }
        if (events->count("--rule") != 0) {
            request["rule"] = rule;
        }
        if (events->count("--client") != 0) {
            request["client"] = client;
        }
        if (intercepted_only) {
            request["intercepted"] = true;
        }
        request["limit"] = filter.limit;
        return run_query(socket_path, request, events_json, mso::format_events);
    }
    request["cmd"] = "health";
    return run_query(socket_path, request, health_json, mso::format_health);
}
