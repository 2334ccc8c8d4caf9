// modsec-observe: the command-line client. Sends queries to the collector's query
// socket and prints the answers as tables or, with --json, as JSON for scripts; `tail`
// streams events as they arrive and `top` (without a list) is a live view. The
// subcommands are the table k_subcommands: each declares its options, how they become a
// Query (sent as protocol/query.h's request_line()) and the formatter of its answer.
// Exit status: 0 success, 1 collector unreachable or error answer, 2 bad usage; `import`
// also 3: done, but some input was skipped (cli/import.h).
#include "cli/config_check.h"
#include "cli/connection.h"
#include "protocol/exclusion_file.h"
#include "cli/export.h"
#include "cli/formatters.h"
#include "cli/import.h"
#include "cli/live_view.h"
#include "protocol/query.h"
#include "util/duration.h"
#include "util/result.h"
#include "util/terminal.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace {

using json = nlohmann::ordered_json;
using mso::Query;
using mso::QueryCommand;
using mso::Result;
using Formatter = std::string (*)(const json&);

constexpr const char* k_default_socket = "/run/modsec-observe/query.sock";

volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int)
{
    g_interrupted = 1;
}

// Every option of every subcommand; each subcommand declares the ones it takes.
struct Options {
    std::string socket_path = k_default_socket;
    std::string vhost, rule, client, window, since, list;
    std::string resolution = "minute";
    bool as_json = false;
    bool intercepted_only = false;
    // events and export: the history filters; event: the request.
    std::string path_prefix, engine, until, grep, cursor, unique_id;
    std::string source; // events, export: a filter; import: the events' source
    int status = 0;     // 0: any
    bool would_block_only = false;
    std::string format = "jsonl"; // export
    std::size_t export_limit = 0; // export: most events (0: all)
    std::size_t limit = 100;      // events
    std::size_t top_limit = 20;   // top LIST
    double interval = 2.0;        // live view
    int iterations = 0;           // live view
    // import
    std::string vhost_map, storage_dir, matched_data;
    std::vector<std::string> paths;
    // tune and readiness
    mso::TuneOptions tune;
    std::string output, id_range = "10000-19999", check_config, apachectl = "apache2ctl";
};

void print_error(const std::string& message)
{
    std::fprintf(stderr, "modsec-observe: %s\n", message.c_str());
}

// --- Options ---------------------------------------------------------------------------

void add_json(CLI::App& sub, Options& o)
{
    sub.add_flag("--json", o.as_json, "print JSON");
}

void add_vhost(CLI::App& sub, Options& o)
{
    sub.add_option("--vhost", o.vhost, "only this vhost");
}

void add_window(CLI::App& sub, Options& o)
{
    sub.add_option("--window", o.window, "only the last DURATION (90s, 15m, 1h, 7d)");
    sub.add_option("--since", o.since, "since DURATION ago or an ISO time (UTC)");
}

void add_event_filters(CLI::App& sub, Options& o)
{
    add_vhost(sub, o);
    sub.add_option("--rule", o.rule, "only requests where this rule id matched");
    sub.add_option("--client", o.client, "only requests from this client address");
    sub.add_flag("--intercepted", o.intercepted_only, "only requests ModSecurity denied");
}

// events and export: the filters that history answers (the ring too, but engine and
// source; docs/protocol.md).
void add_history_filters(CLI::App& sub, Options& o)
{
    add_event_filters(sub, o);
    sub.add_option("--path", o.path_prefix, "only requests whose path starts with PREFIX");
    sub.add_option("--status", o.status, "only requests answered with this status")
        ->check(CLI::Range(100, 999));
    sub.add_flag("--would-block", o.would_block_only,
                 "only requests not blocked whose scores reached a threshold");
    sub.add_option("--engine", o.engine, "only requests ModSecurity saw in this engine mode")
        ->check(CLI::IsMember({"on", "detection-only"}));
    sub.add_option("--source", o.source,
                   "only events from this source (module, sensor:NAME, import:NAME)");
    add_window(sub, o);
    sub.add_option("--until", o.until, "only requests before DURATION ago or an ISO time (UTC)");
    sub.add_option("--grep", o.grep,
                   "only requests with a finding whose message or matched "
                   "data contains TEXT");
}

// stats, vhosts, rules, top, timeseries, tail: the live views of one source.
void add_source(CLI::App& sub, Options& o)
{
    sub.add_option("--source", o.source,
                   "only events from this source (module, sensor:NAME; see `sources`)");
}

void json_only_options(CLI::App& sub, Options& o)
{
    add_json(sub, o);
}

void vhosts_options(CLI::App& sub, Options& o)
{
    add_source(sub, o);
    add_json(sub, o);
}

void stats_options(CLI::App& sub, Options& o)
{
    add_vhost(sub, o);
    add_source(sub, o);
    add_window(sub, o);
    add_json(sub, o);
}

void rules_options(CLI::App& sub, Options& o)
{
    add_vhost(sub, o);
    sub.add_option("--rule", o.rule, "only this rule id");
    add_source(sub, o);
    add_window(sub, o);
    add_json(sub, o);
}

void top_options(CLI::App& sub, Options& o)
{
    sub.add_option("list", o.list, "clients, paths, agents or targets")
        ->check(CLI::IsMember(mso::top_list_names()));
    add_vhost(sub, o);
    add_source(sub, o);
    add_window(sub, o);
    sub.add_option("--limit", o.top_limit, "how many entries")->capture_default_str();
    sub.add_option("--interval", o.interval, "live view: seconds between refreshes")
        ->check(CLI::Range(0.2, 3600.0))
        ->capture_default_str();
    sub.add_option("--iterations", o.iterations,
                   "live view: refreshes before exiting (0: until ^C)")
        ->check(CLI::NonNegativeNumber);
    sub.add_flag("--json", o.as_json, "print JSON (with a list; the live view has no JSON form)");
}

void timeseries_options(CLI::App& sub, Options& o)
{
    add_vhost(sub, o);
    sub.add_option("--rule", o.rule, "also the hits of this rule id");
    add_source(sub, o);
    sub.add_option("--resolution", o.resolution, "minute or hour")
        ->check(CLI::IsMember(mso::resolution_names()))
        ->capture_default_str();
    add_window(sub, o);
    add_json(sub, o);
}

void events_options(CLI::App& sub, Options& o)
{
    add_history_filters(sub, o);
    sub.add_option("--limit", o.limit,
                   "how many events (0: all the ring keeps, or a page of 10000 from history)")
        ->capture_default_str();
    sub.add_option("--cursor", o.cursor, "the next page (the \"more: --cursor\" of the last one)");
    add_json(sub, o);
}

void event_options(CLI::App& sub, Options& o)
{
    sub.add_option("unique_id", o.unique_id, "the request's UNIQUE_ID")->required();
    sub.add_option("--source", o.source, "the source that recorded it (module, import:NAME)");
    add_json(sub, o);
}

void export_options(CLI::App& sub, Options& o)
{
    sub.add_option("--format", o.format, "jsonl (one event per line) or csv")
        ->check(CLI::IsMember({"jsonl", "csv"}))
        ->capture_default_str();
    add_history_filters(sub, o);
    sub.add_option("--limit", o.export_limit, "at most this many events (0: every match)")
        ->capture_default_str();
}

void tail_options(CLI::App& sub, Options& o)
{
    add_event_filters(sub, o);
    add_source(sub, o);
    sub.add_flag("--json", o.as_json, "print one JSON object per line");
}

void import_options(CLI::App& sub, Options& o)
{
    auto* vhost = sub.add_option("--vhost", o.vhost, "label every imported event with LABEL");
    sub.add_option("--vhost-map", o.vhost_map,
                   "label events by their Host header through FILE (`HOST LABEL` lines, `#` "
                   "comments, `*` for the rest; unmapped hosts keep the Host)")
        ->excludes(vhost);
    sub.add_option("--source", o.source,
                   "store the events with source import:NAME (default: import:<file or "
                   "directory name>, import:stdin)");
    sub.add_option("--storage-dir", o.storage_dir,
                   "a Concurrent index's SecAuditLogStorageDir (default: its storage/ "
                   "subdirectory or its own directory)");
    sub.add_option("--matched-data", o.matched_data,
                   "what each finding keeps of its matched data (it can hold passwords and "
                   "tokens), as ModSecObserveMatchedData: full (up to 4096 bytes), "
                   "truncate:N, off (default: truncate:256)");
    add_json(sub, o);
    sub.add_option("path", o.paths,
                   "audit logs (any ModSecurity v2/v3 format, .gz too), directories, a v2 "
                   "Concurrent index, or - for stdin")
        ->required();
}

// --- Queries ---------------------------------------------------------------------------

// A query of `command` with the vhost and rule options that are set (an empty option
// means all, as before request lines were built from queries).
Query base_query(QueryCommand command, const Options& o)
{
    Query query;
    query.command = command;
    if (!o.vhost.empty()) {
        query.vhost = o.vhost;
    }
    if (!o.rule.empty()) {
        query.rule = o.rule;
    }
    const bool aggregates = command == QueryCommand::stats || command == QueryCommand::vhosts ||
                            command == QueryCommand::rules || command == QueryCommand::top ||
                            command == QueryCommand::timeseries;
    if (aggregates && !o.source.empty()) {
        query.source = o.source;
    }
    return query;
}

// --window or --since as the query's window; an error naming the option when invalid.
Result<Query> with_window(Query query, const Options& o)
{
    if (!o.window.empty()) {
        query.window = mso::parse_duration(o.window);
        if (!query.window) {
            return mso::fail("--window: expected a duration such as 15m, got \"" +
                             mso::terminal_safe(o.window) + "\"");
        }
    }
    if (!o.since.empty()) {
        query.window = mso::parse_since(o.since, std::time(nullptr));
        if (!query.window) {
            return mso::fail("--since: expected a duration or a past ISO time, got \"" +
                             mso::terminal_safe(o.since) + "\"");
        }
    }
    return query;
}

// events and tail: the filters of the event filter options.
Query with_event_filters(Query query, const Options& o)
{
    query.events.vhost = query.vhost;
    query.events.rule = query.rule;
    if (!o.client.empty()) {
        query.events.client = o.client;
    }
    if (o.intercepted_only) {
        query.events.intercepted = true;
    }
    return query;
}

// vhosts and health: the command alone.
template <QueryCommand command> Result<Query> bare_query(const Options& /*unused*/)
{
    Query query;
    query.command = command;
    return query;
}

Result<Query> stats_query(const Options& o)
{
    return with_window(base_query(QueryCommand::stats, o), o);
}

Result<Query> rules_query(const Options& o)
{
    return with_window(base_query(QueryCommand::rules, o), o);
}

// top LIST; without a list the live view builds its own query (LiveView::request()).
Result<Query> top_query(const Options& o)
{
    Query query = base_query(QueryCommand::top, o);
    query.list = mso::top_list_named(o.list).value_or(mso::TopList::clients);
    query.limit = o.top_limit;
    return with_window(query, o);
}

Result<Query> timeseries_query(const Options& o)
{
    Query query = base_query(QueryCommand::timeseries, o);
    query.resolution = mso::resolution_named(o.resolution).value_or(mso::Resolution::minute);
    return with_window(query, o);
}

// --until as microseconds since the epoch (a duration back from now, or an ISO time).
Result<std::optional<std::int64_t>> until_us(const Options& o, std::int64_t now)
{
    if (o.until.empty()) {
        return std::optional<std::int64_t>();
    }
    const auto back = mso::parse_since(o.until, now);
    if (!back) {
        return mso::fail("--until: expected a duration or a past ISO time, got \"" +
                         mso::terminal_safe(o.until) + "\"");
    }
    return std::optional<std::int64_t>((now - *back) * 1'000'000);
}

// events and export: the filters, the time range and the cursor.
Result<Query> history_filters(const Options& o)
{
    Query query = with_event_filters(base_query(QueryCommand::events, o), o);
    query.events.limit = o.limit;
    if (!o.path_prefix.empty()) {
        query.events.path_prefix = o.path_prefix;
    }
    if (o.status != 0) {
        query.events.status = o.status;
    }
    if (o.would_block_only) {
        query.events.would_block = true;
    }
    if (!o.engine.empty()) {
        query.events.engine = mso::engine_filter_named(o.engine == "on" ? "on" : "detection_only");
    }
    if (!o.source.empty()) {
        query.events.source = o.source;
    }
    if (!o.grep.empty()) {
        query.events.grep = o.grep;
    }
    auto until = until_us(o, std::time(nullptr));
    if (!until) {
        return mso::fail(until.error());
    }
    query.events.until_us = *until;
    if (!o.cursor.empty()) {
        query.events.cursor = mso::parse_cursor(o.cursor);
        if (!query.events.cursor) {
            return mso::fail("--cursor: expected the value after \"more: --cursor\" of a previous "
                             "page, got \"" +
                             mso::terminal_safe(o.cursor) + "\"");
        }
    }
    return with_window(query, o);
}

Result<Query> events_query(const Options& o)
{
    return history_filters(o);
}

// export: the window fixed as a time once, so that every page has the same range.
Result<Query> export_query(const Options& o)
{
    auto query = history_filters(o);
    if (query) {
        query->events.limit = o.export_limit;
    }
    if (query && query->window) {
        query->events.since_us = (std::time(nullptr) - *query->window) * 1'000'000;
        query->window.reset();
    }
    return query;
}

Result<Query> event_query(const Options& o)
{
    Query query;
    query.command = QueryCommand::event;
    query.unique_id = o.unique_id;
    if (!o.source.empty()) {
        query.events.source = o.source;
    }
    if (o.unique_id.empty()) {
        return mso::fail("event: the UNIQUE_ID must not be empty");
    }
    return query;
}

Result<Query> tail_query(const Options& o)
{
    Query query = with_event_filters(base_query(QueryCommand::tail, o), o);
    if (!o.source.empty()) {
        query.events.source = o.source;
    }
    return query;
}

Result<Query> vhosts_query(const Options& o)
{
    return base_query(QueryCommand::vhosts, o);
}

// import sends no query of the table's kind: its own protocol (cli/import.h).
Result<Query> import_query(const Options& /*unused*/)
{
    return Query{};
}

void tune_rule_options(CLI::App& sub, Options& o)
{
    add_json(sub, o);
    sub.add_option("--window", o.window, "the last DURATION of history (default 7d)");
    sub.add_option("--min-clients", o.tune.min_clients,
                   "fewer distinct clients: likely attack (default 5)");
    sub.add_option("--max-suspicious-pct", o.tune.max_suspicious_pct,
                   "more clients that also sent scanner or wide attack traffic (percent): "
                   "likely attack (default 10)")
        ->check(CLI::Range(0, 100));
    sub.add_option("--wide-families", o.tune.wide_families,
                   "a client firing this many attack rule families ... (default 3)");
    sub.add_option("--wide-paths", o.tune.wide_paths,
                   "... on this many paths is suspicious (default 3)");
    sub.add_option("--family-paths", o.tune.family_paths,
                   "paths under one directory that make a path family, @beginsWith (default 3)");
    sub.add_option("--many-paths", o.tune.many_paths,
                   "paths with no common directory that scope a target to the host (default 5)");
    sub.add_option("--many-targets", o.tune.many_targets,
                   "targets on many paths that remove the whole rule for the host (default 5)");
}

void tune_options(CLI::App& sub, Options& o)
{
    sub.add_option("--vhost", o.vhost, "the vhost to tune")->required();
    tune_rule_options(sub, o);
    sub.add_option("--output", o.output,
                   "write the exclusion file here (default: stdout); a rerun keeps the ids of "
                   "the exclusions this file already has");
    sub.add_option("--id-range", o.id_range, "rule ids to use, FIRST-LAST (default 10000-19999)");
    sub.add_option("--check-config", o.check_config,
                   "run Apache's configtest with the file included, moving ids that "
                   "collide with loaded ones (e.g. /etc/apache2/apache2.conf)");
    sub.add_option("--apachectl", o.apachectl,
                   "the program --check-config runs as CTL -f CONFIG -t (default apache2ctl)");
}

void readiness_options(CLI::App& sub, Options& o)
{
    add_vhost(sub, o);
    tune_rule_options(sub, o);
}

Result<Query> tune_query(const Options& o)
{
    auto query = with_window(base_query(QueryCommand::tune, o), o);
    if (query) {
        query->tune = o.tune;
    }
    return query;
}

Result<Query> readiness_query(const Options& o)
{
    auto query = with_window(base_query(QueryCommand::readiness, o), o);
    if (query) {
        query->tune = o.tune;
    }
    return query;
}

// --- Running ---------------------------------------------------------------------------

// Prints one answer: JSON without "ok", or the formatter's text.
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

// One query, one answer.
int run_answer(const Options& o, const Query& query, Formatter format)
{
    auto answer = mso::query_collector(o.socket_path, mso::request_line(query));
    if (!answer) {
        print_error(answer.error());
        return 1;
    }
    return print_answer(std::move(*answer), o.as_json, format);
}

// Streams events: one formatted line (or one JSON line) per event until interrupted.
int run_tail(const Options& o, const Query& query, Formatter format)
{
    mso::CollectorConnection connection;
    auto opened = connection.open(o.socket_path);
    auto started = opened ? connection.request(mso::request_line(query))
                          : Result<json>(mso::fail(opened.error()));
    if (!started) {
        print_error(started.error());
        return 1;
    }
    if (!o.as_json) {
        std::cout << mso::format_event_header() << std::flush;
    }
    while (!g_interrupted) {
        auto event = connection.receive(/*interruptible=*/true);
        if (!event) {
            if (event.error() != mso::k_interrupted) {
                print_error(event.error());
            }
            return g_interrupted ? 0 : 1;
        }
        const bool ascii = isatty(STDOUT_FILENO) != 0;
        std::cout << (o.as_json ? event->dump(-1, ' ', ascii, json::error_handler_t::replace) + "\n"
                                : format(*event))
                  << std::flush;
    }
    return 0;
}

// The live view (all vhosts, or only --vhost): refreshes every --interval seconds,
// --iterations times (0: forever).
int run_live(const Options& o)
{
    mso::LiveView view(o.vhost);
    for (int i = 0; (o.iterations == 0 || i < o.iterations) && !g_interrupted; ++i) {
        auto stats = mso::query_collector(o.socket_path, mso::request_line(view.request()));
        if (!stats) {
            print_error(stats.error());
            return 1;
        }
        std::cout << view.render(*stats, std::time(nullptr), isatty(STDOUT_FILENO) != 0)
                  << std::flush;
        if (o.iterations == 0 || i + 1 < o.iterations) {
            std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
        }
    }
    return 0;
}

// top LIST answers once; top alone is the live view.
int run_top(const Options& o, const Query& query, Formatter format)
{
    if (!o.list.empty()) {
        return run_answer(o, query, format);
    }
    if (!o.window.empty() || !o.since.empty()) {
        print_error("top: --window and --since need a list (clients, paths, agents or "
                    "targets); the live view shows the current rates");
        return 2;
    }
    if (o.as_json) {
        print_error("top: --json needs a list (clients, paths, agents or targets); the live "
                    "view is for terminals, its data as JSON is `stats --json`");
        return 2;
    }
    return run_live(o);
}

// Streams every match to stdout, page by page (export.h).
int run_export(const Options& o, const Query& query, Formatter /*unused*/)
{
    mso::CollectorConnection connection;
    if (auto opened = connection.open(o.socket_path, 60); !opened) {
        print_error(opened.error());
        return 1;
    }
    const auto format = o.format == "csv" ? mso::ExportFormat::csv : mso::ExportFormat::jsonl;
    auto written = mso::export_events(
        query, format, isatty(STDOUT_FILENO) != 0,
        [&](const std::string& line) { return connection.request(line); }, std::cout);
    std::cout.flush();
    if (!written) {
        print_error(written.error());
        return 1;
    }
    return std::cout ? 0 : 1;
}

int run_import_command(const Options& o, const Query& /*unused*/, Formatter /*unused*/)
{
    mso::ImportSettings settings;
    settings.socket_path = o.socket_path;
    settings.vhost = o.vhost;
    settings.vhost_map = o.vhost_map;
    settings.source = o.source;
    settings.storage_dir = o.storage_dir;
    settings.matched_data = o.matched_data;
    settings.as_json = o.as_json;
    settings.paths = o.paths;
    settings.interrupted = &g_interrupted;
    return mso::run_import(settings);
}

Result<std::string> read_text_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return mso::fail("cannot read " + path + ": " + std::strerror(errno));
    }
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Writes `text` to `path` through a temporary file in the same directory and rename.
Result<void> write_file_atomically(const std::string& path, const std::string& text)
{
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            return mso::fail("cannot write " + tmp + ": " + std::strerror(errno));
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        return mso::fail("cannot rename " + tmp + " to " + path + ": " + ec.message());
    }
    return mso::ok();
}

// Writes all of `text` to `fd`; false (errno set) on failure.
bool write_all(int fd, std::string_view text)
{
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// tune: the proposals from the collector, ids kept from --output's previous version
// and moved off loaded ones (--check-config), the file written, Apache's configtest.
int run_tune(const Options& o, const Query& query, Formatter format)
{
    const auto range = mso::parse_id_range(o.id_range);
    if (!range) {
        print_error(range.error());
        return 2;
    }
    auto answer = mso::query_collector(o.socket_path, mso::request_line(query));
    if (!answer) {
        print_error(answer.error());
        return 1;
    }
    std::vector<std::string> rejected;
    std::vector<mso::ExclusionSpec> specs = mso::specs_from_answer(*answer, rejected);
    std::map<std::string, long> previous;
    std::optional<std::string> previous_text; // --output's content before this run
    if (!o.output.empty() && std::filesystem::exists(o.output)) {
        auto text = read_text_file(o.output);
        if (!text) {
            print_error(text.error());
            return 1;
        }
        previous = mso::ids_in_file(*text);
        previous_text = std::move(*text);
    }
    std::set<long> taken;
    bool already_included = false;
    if (!o.check_config.empty()) {
        auto ids =
            mso::loaded_rule_ids(o.apachectl, o.check_config,
                                 o.output.empty() ? std::string() : o.output, already_included);
        if (!ids) {
            print_error("--check-config: " + ids.error());
            return 1;
        }
        taken = std::move(*ids);
    }
    std::vector<std::string> moved;
    if (auto assigned = mso::assign_ids(specs, previous, *range, taken, moved); !assigned) {
        print_error(assigned.error());
        return 1;
    }
    const std::string file = mso::render_exclusion_file(mso::header_from_answer(*answer), specs);
    json report = json::object();
    report["ids_moved"] = moved;
    report["rejected"] = rejected;
    int status = 0;
    // --output is replaced only by a file Apache accepts: checked as a temporary file
    // (or, where the configuration already includes --output, in place and put back
    // when the check fails).
    bool written = false;
    if (!o.check_config.empty()) {
        const bool in_place = already_included && !o.output.empty();
        std::string check_file = o.output;
        if (!in_place) {
            // Written through mkstemp's own descriptor (O_EXCL, mode 0600): no second
            // name in /tmp to race for.
            char name[] = "/tmp/modsec-observe-tune-XXXXXX";
            const int fd = mkstemp(name);
            if (fd < 0) {
                print_error(std::string("mkstemp: ") + std::strerror(errno));
                return 1;
            }
            check_file = name;
            const bool put = write_all(fd, file);
            const int saved = errno;
            close(fd);
            if (!put) {
                std::error_code ignored;
                std::filesystem::remove(check_file, ignored);
                print_error("cannot write " + check_file + ": " + std::strerror(saved));
                return 1;
            }
        } else if (auto put = write_file_atomically(check_file, file); !put) {
            print_error(put.error());
            return 1;
        }
        auto checked = mso::check_config(o.apachectl, o.check_config, check_file, already_included);
        const bool passed = checked && checked->ok;
        std::error_code ignored;
        if (!in_place) {
            std::filesystem::remove(check_file, ignored);
        } else if (!passed) {
            auto restored = previous_text ? write_file_atomically(o.output, *previous_text)
                                          : mso::Result<void>(mso::ok());
            if (!previous_text) {
                std::filesystem::remove(o.output, ignored);
            }
            if (!restored) {
                print_error("--check-config failed and the previous " + o.output +
                            " could not be put back: " + restored.error());
                return 1;
            }
        }
        if (!checked) {
            print_error("--check-config: " + checked.error());
            return 1;
        }
        json c = json::object();
        c["ok"] = checked->ok;
        c["already_included"] = checked->already_included;
        c["command"] = checked->command;
        c["output"] = checked->output;
        report["config_check"] = std::move(c);
        status = passed ? 0 : 1;
        written = passed && in_place;
    }
    if (!o.output.empty() && status == 0 && !written) {
        if (auto put = write_file_atomically(o.output, file); !put) {
            print_error(put.error());
            return 1;
        }
        written = true;
    }
    json ids = json::object();
    for (const mso::ExclusionSpec& s : specs) {
        ids[s.key] = s.id;
    }
    report["ids"] = std::move(ids);
    report["output"] = o.output;
    report["written"] = written;
    if (o.as_json) {
        json out = std::move(*answer);
        out["file"] = std::move(report);
        if (o.output.empty()) {
            out["file"]["text"] = file;
        }
        return print_answer(std::move(out), true, format) != 0 ? 1 : status;
    }
    std::ostream& summary = o.output.empty() ? std::cerr : std::cout;
    if (o.output.empty()) {
        std::cout << file << std::flush;
    }
    summary << format(*answer);
    std::string where = "written to stdout";
    if (!o.output.empty()) {
        where = written
                    ? "written to " + mso::terminal_safe(o.output)
                    : "NOT written to " + mso::terminal_safe(o.output) +
                          " (the configtest failed; " +
                          (previous_text ? "the previous file is kept" : "no file was left") + ")";
    }
    summary << "\n"
            << specs.size() << " exclusions " << where << " (ids " << mso::terminal_safe(o.id_range)
            << ")\n";
    for (const std::string& line : moved) {
        summary << "  " << mso::terminal_safe(line) << "\n";
    }
    for (const std::string& line : rejected) {
        summary << "  not written: " << mso::terminal_safe(line) << "\n";
    }
    if (report.contains("config_check")) {
        const json& c = report["config_check"];
        summary << "Apache configtest ("
                << (already_included ? "as configured, the file is "
                                       "already included"
                                     : "with the file included")
                << "): " << (c["ok"].get<bool>() ? "passed" : "FAILED") << "\n";
        std::istringstream lines(c["output"].get<std::string>());
        for (std::string line; std::getline(lines, line);) {
            summary << "  " << mso::terminal_safe(line) << "\n";
        }
    }
    summary.flush();
    return status;
}

struct Subcommand {
    const char* name;
    const char* help;
    void (*add_options)(CLI::App&, Options&);
    Result<Query> (*query)(const Options&); // an error is bad usage (exit status 2)
    Formatter format;                       // the answer as text
    int (*run)(const Options&, const Query&, Formatter) = run_answer;
};

// In the order `--help` lists them.
const Subcommand k_subcommands[] = {
    {"vhosts", "the vhosts seen, with their totals", vhosts_options, vhosts_query,
     mso::format_vhosts},
    {"stats", "requests, findings and top rules per vhost", stats_options, stats_query,
     mso::format_stats},
    {"rules", "per rule: hits, first/last seen, top paths and targets", rules_options, rules_query,
     mso::format_rules},
    {"top",
     "heavy hitters (top clients|paths|agents|targets), or without a list a live view of each "
     "vhost's rates, hottest rules and top clients",
     top_options, top_query, mso::format_top, run_top},
    {"timeseries", "requests, flagged, intercepted over time", timeseries_options, timeseries_query,
     mso::format_timeseries},
    {"events",
     "requests with findings, newest first, from memory or history (filters, pages with "
     "--cursor)",
     events_options, events_query, mso::format_events},
    {"event", "one request in full: every finding with its score, scores against thresholds",
     event_options, event_query, mso::format_event_detail},
    {"export", "every matching request to stdout as JSON lines or CSV", export_options,
     export_query, nullptr, run_export},
    {"tail", "follow requests with findings as they arrive", tail_options, tail_query,
     mso::format_event_line, run_tail},
    {"sources",
     "where events come from: each source's events, bytes, last seen, clock skew and refusals, "
     "and the sources in history",
     json_only_options, bare_query<QueryCommand::sources>, mso::format_sources},
    {"health", "collector counters", json_only_options, bare_query<QueryCommand::health>,
     mso::format_health},
    {"tune",
     "exclusion proposals for one vhost from its history, with evidence, what-if and an "
     "optional Apache configtest",
     tune_options, tune_query, mso::format_tune, run_tune},
    {"readiness",
     "per vhost: ready for SecRuleEngine On, ready after the proposed exclusions, "
     "or not ready, with reasons",
     readiness_options, readiness_query, mso::format_readiness},
    {"import",
     "store audit logs' entries in the collector's history (exit 3: something was skipped)",
     import_options, import_query, nullptr, run_import_command},
};

} // namespace

int main(int argc, char** argv)
{
    Options options;
    CLI::App app{"modsec-observe: show what ModSecurity found, per virtual host"};
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("--socket", options.socket_path, "collector query socket")
        ->envname("MODSEC_OBSERVE_SOCKET")
        ->capture_default_str();
    std::vector<std::pair<CLI::App*, const Subcommand*>> parsers;
    for (const Subcommand& sub : k_subcommands) {
        CLI::App* parser = app.add_subcommand(sub.name, sub.help);
        sub.add_options(*parser, options);
        parsers.emplace_back(parser, &sub);
    }
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

    for (const auto& [parser, sub] : parsers) {
        if (!parser->parsed()) {
            continue;
        }
        const auto query = sub->query(options);
        if (!query) {
            print_error(query.error());
            return 2;
        }
        return sub->run(options, *query, sub->format);
    }
    return 2; // unreachable: CLI11 requires one subcommand
}
