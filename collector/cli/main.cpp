// modsec-observe: the command-line client. Sends queries to the collector's query
// socket and prints the answers as tables or, with --json, as JSON for scripts; `tail`
// streams events as they arrive and `top` (without a list) is a live view. Exit status:
// 0 success, 1 collector unreachable or error answer, 2 bad usage.
#include "cli/connection.h"
#include "util/duration.h"
#include "cli/live_view.h"
#include "cli/formatters.h"
#include "util/terminal.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>

namespace {

using json = nlohmann::ordered_json;
using Formatter = std::string (*)(const json&);

constexpr const char* k_default_socket = "/run/modsec-observe/query.sock";

volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int)
{
    g_interrupted = 1;
}

// Prints one answer: JSON without "ok", or the table.
int print_answer(json answer, bool as_json, Formatter format)
{
    if (as_json) {
        answer.erase("ok");
        // On a terminal, non-ASCII is escaped too: JSON strings from the network may hold
        // C1 controls (U+009B is CSI) or bidi overrides that JSON escaping leaves raw.
        const bool ascii = isatty(STDOUT_FILENO) != 0;
        std::cout << answer.dump(2, ' ', ascii, json::error_handler_t::replace) << '\n';
    } else {
        std::cout << format(answer);
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
}

int run_query(const std::string& socket_path, const json& request, bool as_json, Formatter format)
{
    auto answer = mso::query_collector(socket_path, request);
    return answer ? print_answer(std::move(*answer), as_json, format) : 1;
}

// Streams events: one table line (or one JSON line) per event until interrupted.
int run_tail(const std::string& socket_path, const json& request, bool as_json)
{
    mso::CollectorConnection connection;
    if (!connection.open(socket_path) || !connection.send(request)) {
        return 1;
    }
    auto first = connection.receive();
    if (!first || !mso::answer_ok(*first)) {
        return 1;
    }
    if (!as_json) {
        std::cout << mso::format_event_header() << std::flush;
    }
    while (!g_interrupted) {
        auto event = connection.receive(/*quiet_on_interrupt=*/true);
        if (!event) {
            return g_interrupted ? 0 : 1;
        }
        const bool ascii = isatty(STDOUT_FILENO) != 0;
        std::cout << (as_json ? event->dump(-1, ' ', ascii, json::error_handler_t::replace) + "\n"
                              : mso::format_event_line(*event))
                  << std::flush;
    }
    return 0;
}

// The live view (all vhosts, or only `vhost`): refreshes every `interval` seconds,
// `iterations` times (0: forever).
int run_live(const std::string& socket_path, const std::string& vhost, double interval,
             int iterations)
{
    mso::LiveView view(vhost);
    for (int i = 0; (iterations == 0 || i < iterations) && !g_interrupted; ++i) {
        auto stats = mso::query_collector(socket_path, view.request());
        if (!stats) {
            return 1;
        }
        std::cout << view.render(*stats, std::time(nullptr), isatty(STDOUT_FILENO) != 0)
                  << std::flush;
        if (iterations == 0 || i + 1 < iterations) {
            std::this_thread::sleep_for(std::chrono::duration<double>(interval));
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::string socket_path = k_default_socket;
    std::string vhost, rule, client, window, since, resolution = "minute";
    bool as_json = false;
    bool intercepted_only = false;
    std::size_t limit = 100;
    std::size_t top_limit = 20;
    std::string list;
    double interval = 2.0;
    int iterations = 0;

    CLI::App app{"modsec-observe: show what ModSecurity found, per virtual host"};
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("--socket", socket_path, "collector query socket")
        ->envname("MODSEC_OBSERVE_SOCKET")
        ->capture_default_str();
    auto json_flag = [&](CLI::App* sub) { sub->add_flag("--json", as_json, "print JSON"); };
    auto window_options = [&](CLI::App* sub) {
        sub->add_option("--window", window, "only the last DURATION (90s, 15m, 1h, 7d)");
        sub->add_option("--since", since, "since DURATION ago or an ISO time (UTC)");
    };
    auto event_filters = [&](CLI::App* sub) {
        sub->add_option("--vhost", vhost, "only this vhost");
        sub->add_option("--rule", rule, "only requests where this rule id matched");
        sub->add_option("--client", client, "only requests from this client address");
        sub->add_flag("--intercepted", intercepted_only, "only requests ModSecurity denied");
    };

    auto* vhosts = app.add_subcommand("vhosts", "the vhosts seen, with their totals");
    json_flag(vhosts);
    auto* stats = app.add_subcommand("stats", "requests, findings and top rules per vhost");
    stats->add_option("--vhost", vhost, "only this vhost");
    window_options(stats);
    json_flag(stats);
    auto* rules =
        app.add_subcommand("rules", "per rule: hits, first/last seen, top paths and targets");
    rules->add_option("--vhost", vhost, "only this vhost");
    rules->add_option("--rule", rule, "only this rule id");
    json_flag(rules);
    auto* top = app.add_subcommand(
        "top", "heavy hitters (top clients|paths|agents|targets), or without a list a live view "
               "of each vhost's rates, hottest rules and top clients");
    top->add_option("list", list, "clients, paths, agents or targets")
        ->check(CLI::IsMember({"clients", "paths", "agents", "targets"}));
    top->add_option("--vhost", vhost, "only this vhost");
    top->add_option("--limit", top_limit, "how many entries")->capture_default_str();
    top->add_option("--interval", interval, "live view: seconds between refreshes")
        ->check(CLI::Range(0.2, 3600.0))
        ->capture_default_str();
    top->add_option("--iterations", iterations, "live view: refreshes before exiting (0: until ^C)")
        ->check(CLI::NonNegativeNumber);
    top->add_flag("--json", as_json, "print JSON (with a list; the live view has no JSON form)");
    auto* series = app.add_subcommand("timeseries", "requests, flagged, intercepted over time");
    series->add_option("--vhost", vhost, "only this vhost");
    series->add_option("--rule", rule, "also the hits of this rule id");
    series->add_option("--resolution", resolution, "minute or hour")
        ->check(CLI::IsMember({"minute", "hour"}))
        ->capture_default_str();
    window_options(series);
    json_flag(series);
    auto* events = app.add_subcommand("events", "recent requests with findings, newest first");
    event_filters(events);
    window_options(events);
    events->add_option("--limit", limit, "how many events (0: all the collector keeps)")
        ->capture_default_str();
    json_flag(events);
    auto* tail = app.add_subcommand("tail", "follow requests with findings as they arrive");
    event_filters(tail);
    tail->add_flag("--json", as_json, "print one JSON object per line");
    auto* health = app.add_subcommand("health", "collector counters");
    json_flag(health);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? 0 : 2;
    }
    // Without SA_RESTART, so that ^C interrupts a blocking recv() in tail and top.
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    json request = json::object();
    auto put_if = [&](const char* key, const std::string& value) {
        if (!value.empty()) {
            request[key] = value;
        }
    };
    // --window or --since as seconds; false (after a message) when invalid.
    auto put_window = [&]() {
        const std::int64_t now = std::time(nullptr);
        std::optional<std::int64_t> seconds;
        if (!window.empty() && !(seconds = mso::parse_duration(window))) {
            std::fprintf(stderr,
                         "modsec-observe: --window: expected a duration such as 15m, "
                         "got \"%s\"\n",
                         mso::terminal_safe(window).c_str());
            return false;
        }
        if (!since.empty() && !(seconds = mso::parse_since(since, now))) {
            std::fprintf(stderr,
                         "modsec-observe: --since: expected a duration or a past ISO "
                         "time, got \"%s\"\n",
                         mso::terminal_safe(since).c_str());
            return false;
        }
        if (seconds) {
            request["window"] = *seconds;
        }
        return true;
    };
    auto put_event_filters = [&]() {
        put_if("vhost", vhost);
        put_if("rule", rule);
        put_if("client", client);
        if (intercepted_only) {
            request["intercepted"] = true;
        }
    };

    if (vhosts->parsed()) {
        request["cmd"] = "vhosts";
        return run_query(socket_path, request, as_json, mso::format_vhosts);
    }
    if (stats->parsed()) {
        request["cmd"] = "stats";
        put_if("vhost", vhost);
        if (!put_window()) {
            return 2;
        }
        return run_query(socket_path, request, as_json, mso::format_stats);
    }
    if (rules->parsed()) {
        request["cmd"] = "rules";
        put_if("vhost", vhost);
        put_if("rule", rule);
        return run_query(socket_path, request, as_json, mso::format_rules);
    }
    if (top->parsed()) {
        if (list.empty()) {
            if (as_json) {
                std::fprintf(stderr, "modsec-observe: top: --json needs a list (clients, paths, "
                                     "agents or targets); the live view is for terminals, its "
                                     "data as JSON is `stats --json`\n");
                return 2;
            }
            return run_live(socket_path, vhost, interval, iterations);
        }
        request = json{{"cmd", "top"}, {"list", list}, {"limit", top_limit}};
        put_if("vhost", vhost);
        return run_query(socket_path, request, as_json, mso::format_top);
    }
    if (series->parsed()) {
        request = json{{"cmd", "timeseries"}, {"resolution", resolution}};
        put_if("vhost", vhost);
        put_if("rule", rule);
        if (!put_window()) {
            return 2;
        }
        return run_query(socket_path, request, as_json, mso::format_timeseries);
    }
    if (events->parsed()) {
        request["cmd"] = "events";
        put_event_filters();
        request["limit"] = limit;
        if (!put_window()) {
            return 2;
        }
        return run_query(socket_path, request, as_json, mso::format_events);
    }
    if (tail->parsed()) {
        request["cmd"] = "tail";
        put_event_filters();
        return run_tail(socket_path, request, as_json);
    }
    request["cmd"] = "health";
    (void)health;
    return run_query(socket_path, request, as_json, mso::format_health);
}
