// Parses request lines and writes them. Everything that parse_query() reads is untrusted:
// nlohmann is used without exceptions and every key is looked up with find().
#include "protocol/query.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>
#include <utility>

namespace mso {

namespace {

using json = nlohmann::ordered_json;

// How much of an unknown command name is echoed back in the error.
constexpr std::size_t k_max_echo_bytes = 64;

std::string echo_quoted(std::string_view s)
{
    const bool cut = s.size() > k_max_echo_bytes;
    std::string out = dump_line(json(std::string(s.substr(0, k_max_echo_bytes))));
    if (cut) {
        out += "...";
    }
    return out;
}

// Reads an optional string field; an error when it is present with another type.
Result<void> read_string(const json& request, const char* key, std::optional<std::string>& out)
{
    const auto it = request.find(key);
    if (it == request.end()) {
        return ok();
    }
    if (!it->is_string()) {
        return fail(std::string("\"") + key + "\" must be a string, got " + it->type_name());
    }
    out = it->get<std::string>();
    return ok();
}

template <typename T, std::size_t N>
std::optional<T> lookup(const std::pair<std::string_view, T> (&table)[N], std::string_view name)
{
    for (const auto& [key, value] : table) {
        if (key == name) {
            return value;
        }
    }
    return std::nullopt;
}

// The name of `value` in `table` (every value has one).
template <typename T, std::size_t N>
std::string name_of(const std::pair<std::string_view, T> (&table)[N], T value)
{
    for (const auto& [key, named] : table) {
        if (named == value) {
            return std::string(key);
        }
    }
    return {};
}

template <typename T, std::size_t N>
std::vector<std::string> names(const std::pair<std::string_view, T> (&table)[N])
{
    std::vector<std::string> out;
    for (const auto& entry : table) {
        out.emplace_back(entry.first);
    }
    return out;
}

constexpr std::pair<std::string_view, QueryCommand> k_commands[] = {
    {"stats", QueryCommand::stats},
    {"vhosts", QueryCommand::vhosts},
    {"rules", QueryCommand::rules},
    {"top", QueryCommand::top},
    {"timeseries", QueryCommand::timeseries},
    {"events", QueryCommand::events},
    {"tail", QueryCommand::tail},
    {"health", QueryCommand::health},
    {"event", QueryCommand::event},
    {"sources", QueryCommand::sources},
    {"tune", QueryCommand::tune},
    {"readiness", QueryCommand::readiness},
};
constexpr std::pair<std::string_view, TopList> k_lists[] = {
    {"clients", TopList::clients},
    {"paths", TopList::paths},
    {"agents", TopList::agents},
    {"targets", TopList::targets},
};
constexpr std::pair<std::string_view, Resolution> k_resolutions[] = {
    {"minute", Resolution::minute},
    {"hour", Resolution::hour},
};
constexpr std::pair<std::string_view, EngineMode> k_engines[] = {
    {"on", EngineMode::on},
    {"detection_only", EngineMode::detection_only},
};

// Latest `since` and `until` accepted: the last second of year 9999.
constexpr std::uint64_t k_max_time_s = 253402300799;
constexpr std::int64_t k_us_per_s = 1'000'000;

// Longest window a query may ask for: the hour series covers 30 days.
constexpr std::int64_t k_max_window_s = 30 * 24 * 3600;
constexpr std::uint64_t k_max_top_limit = 10000;

Result<void> read_window(const json& request, std::optional<std::int64_t>& out, std::int64_t max_s)
{
    const auto it = request.find(query_key::k_window);
    if (it == request.end()) {
        return ok();
    }
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0 ||
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(max_s)) {
        return fail(std::string("\"") + query_key::k_window +
                    "\" must be a number of seconds from 1 to " + std::to_string(max_s));
    }
    out = static_cast<std::int64_t>(it->get<std::uint64_t>());
    return ok();
}

// Reads an optional count (a non-negative integer, capped at `max`) into `out`; `out`
// keeps its default when the key is absent.
Result<void> read_count(const json& request, const char* key, std::size_t& out, std::uint64_t max)
{
    const auto it = request.find(key);
    if (it == request.end()) {
        return ok();
    }
    if (!it->is_number_unsigned()) {
        return fail(std::string("\"") + key + "\" must be a non-negative integer");
    }
    out = static_cast<std::size_t>(std::min<std::uint64_t>(it->get<std::uint64_t>(), max));
    return ok();
}

Result<void> read_bool(const json& request, const char* key, std::optional<bool>& out)
{
    const auto it = request.find(key);
    if (it == request.end()) {
        return ok();
    }
    if (!it->is_boolean()) {
        return fail(std::string("\"") + key + "\" must be a boolean, got " + it->type_name());
    }
    out = it->get<bool>();
    return ok();
}

// A time in Unix seconds (since, until) as microseconds.
Result<void> read_time(const json& request, const char* key, std::optional<std::int64_t>& out_us)
{
    const auto it = request.find(key);
    if (it == request.end()) {
        return ok();
    }
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() > k_max_time_s) {
        return fail(std::string("\"") + key + "\" must be a time in Unix seconds from 0 to " +
                    std::to_string(k_max_time_s));
    }
    out_us = static_cast<std::int64_t>(it->get<std::uint64_t>()) * k_us_per_s;
    return ok();
}

// The `vhosts` of timeseries: 1 to k_max_listed_vhosts strings, as listed (repeats
// are harmless: the answer names each vhost once); never together with `vhost`.
Result<void> read_vhost_list(const json& request, Query& query)
{
    using namespace query_key;
    const auto it = request.find(k_vhosts);
    if (it == request.end()) {
        return ok();
    }
    if (query.vhost) {
        return fail(std::string("\"") + k_vhost + "\" and \"" + k_vhosts +
                    "\" cannot be combined (list the one vhost in \"" + k_vhosts + "\")");
    }
    const std::string expected = std::string("\"") + k_vhosts + "\" must be an array of 1 to " +
                                 std::to_string(k_max_listed_vhosts) + " vhost names, got ";
    if (!it->is_array()) {
        return fail(expected + it->type_name());
    }
    if (it->empty() || it->size() > k_max_listed_vhosts) {
        return fail(expected + std::to_string(it->size()) + " names");
    }
    std::vector<std::string> names;
    names.reserve(it->size());
    for (const json& name : *it) {
        if (!name.is_string()) {
            return fail(std::string("\"") + k_vhosts + "\" must hold strings, got " +
                        name.type_name());
        }
        names.push_back(name.get<std::string>());
    }
    query.vhosts = std::move(names);
    return ok();
}

// The filters that `events` adds to those of `tail`: path, status, verdict, engine,
// source, time range, text and cursor.
Result<void> read_history_filters(const json& request, EventFilter& filter)
{
    using namespace query_key;
    for (auto [key, out] : {std::pair{k_path, &filter.path_prefix},
                            std::pair{k_source, &filter.source}, std::pair{k_grep, &filter.grep}}) {
        if (auto read = read_string(request, key, *out); !read) {
            return read;
        }
    }
    if (filter.grep && (filter.grep->empty() || filter.grep->size() > k_max_grep_bytes)) {
        return fail(std::string("\"") + k_grep + "\" must be 1 to " +
                    std::to_string(k_max_grep_bytes) + " bytes");
    }
    if (const auto it = request.find(k_status); it != request.end()) {
        if (!it->is_number_unsigned() || it->get<std::uint64_t>() < 100 ||
            it->get<std::uint64_t>() > 999) {
            return fail(std::string("\"") + k_status +
                        "\" must be an HTTP status code from 100 to 999");
        }
        filter.status = static_cast<int>(it->get<std::uint64_t>());
    }
    if (auto read = read_bool(request, k_would_block, filter.would_block); !read) {
        return read;
    }
    std::optional<std::string> engine;
    if (auto read = read_string(request, k_engine, engine); !read) {
        return read;
    }
    if (engine) {
        filter.engine = engine_filter_named(*engine);
        if (!filter.engine) {
            return fail(std::string("\"") + k_engine + "\" must be \"on\" or \"detection_only\"");
        }
    }
    if (auto read = read_time(request, k_since, filter.since_us); !read) {
        return read;
    }
    if (auto read = read_time(request, k_until, filter.until_us); !read) {
        return read;
    }
    if (filter.since_us && request.contains(k_window)) {
        return fail(std::string("\"") + k_since + "\" and \"" + k_window +
                    "\" cannot be combined (since is a time, window a duration back from now)");
    }
    if (const auto it = request.find(k_cursor); it != request.end()) {
        const auto parsed =
            it->is_string() ? parse_cursor(it->get_ref<const std::string&>()) : std::nullopt;
        if (!parsed) {
            return fail(std::string("\"") + k_cursor +
                        "\" must be the \"next\" string of a previous events answer");
        }
        filter.cursor = parsed;
    }
    return ok();
}

// The keys of one command, after "cmd" and the common vhost, rule and window.
Result<void> read_command_keys(const json& request, Query& query)
{
    using namespace query_key;
    switch (query.command) {
    case QueryCommand::stats: {
        auto rules = read_count(request, k_rules_limit, query.shape.rules_limit, k_max_rules_limit);
        if (!rules) {
            return rules;
        }
        auto clients =
            read_count(request, k_top_clients, query.shape.top_clients, k_max_top_clients);
        if (!clients) {
            return clients;
        }
        std::optional<bool> levels;
        auto read = read_bool(request, k_score_levels, levels);
        query.shape.score_levels = levels.value_or(false);
        return read;
    }
    case QueryCommand::top: {
        std::optional<std::string> list;
        if (auto read = read_string(request, k_list, list); !read) {
            return read;
        }
        const auto parsed = list ? top_list_named(*list) : std::nullopt;
        if (!parsed) {
            return fail(std::string("\"") + k_list +
                        "\" must be one of: clients, paths, agents, targets");
        }
        query.list = *parsed;
        if (auto age = read_count(request, k_max_age, query.max_age, k_max_answer_age_s); !age) {
            return age;
        }
        return read_count(request, k_limit, query.limit, k_max_top_limit);
    }
    case QueryCommand::timeseries: {
        std::optional<std::string> resolution;
        if (auto read = read_string(request, k_resolution, resolution); !read) {
            return read;
        }
        if (resolution) {
            const auto parsed = resolution_named(*resolution);
            if (!parsed) {
                return fail(std::string("\"") + k_resolution + "\" must be \"minute\" or \"hour\"");
            }
            query.resolution = *parsed;
        }
        return read_vhost_list(request, query);
    }
    case QueryCommand::events:
    case QueryCommand::tail: {
        EventFilter& filter = query.events;
        filter.vhost = query.vhost;
        filter.rule = query.rule;
        if (auto read = read_string(request, k_client, filter.client); !read) {
            return read;
        }
        if (auto read = read_bool(request, k_intercepted, filter.intercepted); !read) {
            return read;
        }
        if (query.command == QueryCommand::tail) {
            return read_string(request, k_source, filter.source);
        }
        if (auto read = read_history_filters(request, filter); !read) {
            return read;
        }
        return read_count(request, k_limit, filter.limit, k_max_events_limit);
    }
    case QueryCommand::event: {
        if (auto read = read_string(request, k_unique_id, query.unique_id); !read) {
            return read;
        }
        if (!query.unique_id || query.unique_id->empty()) {
            return fail(std::string("\"") + k_unique_id + "\" (a non-empty string) is required");
        }
        return read_string(request, k_source, query.events.source);
    }
    case QueryCommand::tune:
    case QueryCommand::readiness: {
        if (query.command == QueryCommand::tune && (!query.vhost || query.vhost->empty())) {
            return fail(std::string("tune needs \"") + k_vhost + "\" (a non-empty string)");
        }
        TuneOptions& o = query.tune;
        const std::pair<const char*, std::uint64_t*> counts[] = {
            {k_min_clients, &o.min_clients},     {k_max_suspicious_pct, &o.max_suspicious_pct},
            {k_wide_families, &o.wide_families}, {k_wide_paths, &o.wide_paths},
            {k_family_paths, &o.family_paths},   {k_many_paths, &o.many_paths},
            {k_many_targets, &o.many_targets}};
        for (const auto& [key, value] : counts) {
            std::size_t n = static_cast<std::size_t>(*value);
            if (auto read = read_count(request, key, n, k_max_tune_option); !read) {
                return read;
            }
            *value = n;
        }
        if (o.max_suspicious_pct > 100) {
            return fail(std::string("\"") + k_max_suspicious_pct + "\" must be 0 to 100");
        }
        return ok();
    }
    default: return ok();
    }
}

void write_history_filters(const EventFilter& filter, json& out)
{
    using namespace query_key;
    if (filter.path_prefix) {
        out[k_path] = *filter.path_prefix;
    }
    if (filter.status) {
        out[k_status] = *filter.status;
    }
    if (filter.would_block) {
        out[k_would_block] = *filter.would_block;
    }
    if (filter.engine) {
        out[k_engine] = name_of(k_engines, *filter.engine);
    }
    if (filter.source) {
        out[k_source] = *filter.source;
    }
    if (filter.since_us) {
        out[k_since] = *filter.since_us / k_us_per_s;
    }
    if (filter.until_us) {
        out[k_until] = *filter.until_us / k_us_per_s;
    }
    if (filter.grep) {
        out[k_grep] = *filter.grep;
    }
    if (filter.cursor) {
        out[k_cursor] = format_cursor(*filter.cursor);
    }
}

// Up to 16 hex digits as a non-negative int64.
std::optional<std::int64_t> parse_hex(std::string_view text)
{
    std::uint64_t value = 0;
    if (text.empty() || text.size() > 16) {
        return std::nullopt;
    }
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (error != std::errc() || end != text.data() + text.size() ||
        value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(value);
}

std::string hex(std::int64_t value)
{
    char out[24];
    const auto [end, error] =
        std::to_chars(out, out + sizeof(out), static_cast<std::uint64_t>(value), 16);
    return error == std::errc() ? std::string(out, end) : std::string();
}

// The cursor's version prefix: a later format can be told apart.
constexpr std::string_view k_cursor_prefix = "c1.";

} // namespace

std::string format_cursor(const EventCursor& cursor)
{
    return std::string(k_cursor_prefix) + hex(std::max<std::int64_t>(cursor.time_us, 0)) + "." +
           hex(std::max<std::int64_t>(cursor.row_id, 0));
}

std::optional<EventCursor> parse_cursor(std::string_view text)
{
    if (!text.starts_with(k_cursor_prefix)) {
        return std::nullopt;
    }
    text.remove_prefix(k_cursor_prefix.size());
    const std::size_t dot = text.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    const auto time_us = parse_hex(text.substr(0, dot));
    const auto row_id = parse_hex(text.substr(dot + 1));
    if (!time_us || !row_id) {
        return std::nullopt;
    }
    return EventCursor{*time_us, *row_id};
}

std::vector<std::string> engine_filter_names()
{
    return names(k_engines);
}

std::optional<EngineMode> engine_filter_named(std::string_view name)
{
    return lookup(k_engines, name);
}

Result<Query> parse_query(std::string_view line)
{
    using namespace query_key;
    if (line.size() > k_max_query_line_bytes) {
        return fail("request line too long (more than " + std::to_string(k_max_query_line_bytes) +
                    " bytes)");
    }
    const json request = json::parse(line.begin(), line.end(), nullptr, false);
    if (request.is_discarded()) {
        return fail("invalid json in request line");
    }
    if (!request.is_object()) {
        return fail(std::string("request must be a json object, got ") + request.type_name());
    }
    const auto cmd = request.find(k_cmd);
    if (cmd == request.end()) {
        return fail(std::string("missing \"") + k_cmd + "\" (expected one of: " + k_query_commands +
                    ")");
    }
    if (!cmd->is_string()) {
        return fail(std::string("\"") + k_cmd + "\" must be a string, got " + cmd->type_name());
    }
    const auto& name = cmd->get_ref<const std::string&>();
    const auto command = lookup(k_commands, name);
    if (!command) {
        return fail("unknown " + std::string(k_cmd) + " " + echo_quoted(name) +
                    " (expected one of: " + k_query_commands + ")");
    }
    Query query;
    query.command = *command;
    if (auto read = read_string(request, k_vhost, query.vhost); !read) {
        return fail(read.error());
    }
    if (auto read = read_string(request, k_rule, query.rule); !read) {
        return fail(read.error());
    }
    const bool aggregates =
        query.command == QueryCommand::stats || query.command == QueryCommand::vhosts ||
        query.command == QueryCommand::rules || query.command == QueryCommand::top ||
        query.command == QueryCommand::timeseries;
    if (auto read = aggregates ? read_string(request, k_source, query.source) : ok(); !read) {
        return fail(read.error());
    }
    // The commands that history answers beyond memory's 30 days (docs/protocol.md).
    const bool long_window =
        query.command == QueryCommand::events || query.command == QueryCommand::timeseries ||
        query.command == QueryCommand::stats || query.command == QueryCommand::rules ||
        query.command == QueryCommand::top || query.command == QueryCommand::tune ||
        query.command == QueryCommand::readiness;
    if (auto read = read_window(request, query.window,
                                long_window ? k_max_history_window_s : k_max_window_s);
        !read) {
        return fail(read.error());
    }
    if (auto read = read_command_keys(request, query); !read) {
        return fail(read.error());
    }
    return query;
}

std::string request_line(const Query& query)
{
    using namespace query_key;
    json out = json::object();
    out[k_cmd] = name_of(k_commands, query.command);
    if (query.command == QueryCommand::top) {
        out[k_list] = name_of(k_lists, query.list);
    }
    if (query.command == QueryCommand::timeseries) {
        out[k_resolution] = name_of(k_resolutions, query.resolution);
    }
    if (query.vhost) {
        out[k_vhost] = *query.vhost;
    }
    if (query.command == QueryCommand::timeseries && !query.vhosts.empty()) {
        out[k_vhosts] = query.vhosts;
    }
    if (query.rule) {
        out[k_rule] = *query.rule;
    }
    const bool events =
        query.command == QueryCommand::events || query.command == QueryCommand::tail;
    if (events && query.events.client) {
        out[k_client] = *query.events.client;
    }
    if (events && query.events.intercepted) {
        out[k_intercepted] = *query.events.intercepted;
    }
    if (query.command == QueryCommand::events) {
        write_history_filters(query.events, out);
    }
    if (query.command == QueryCommand::event) {
        out[k_unique_id] = query.unique_id.value_or("");
        if (query.events.source) {
            out[k_source] = *query.events.source;
        }
    }
    if (query.command == QueryCommand::tail && query.events.source) {
        out[k_source] = *query.events.source;
    }
    const bool aggregates =
        query.command == QueryCommand::stats || query.command == QueryCommand::vhosts ||
        query.command == QueryCommand::rules || query.command == QueryCommand::top ||
        query.command == QueryCommand::timeseries;
    if (aggregates && query.source) {
        out[k_source] = *query.source;
    }
    if (query.window) {
        out[k_window] = *query.window;
    }
    if (query.command == QueryCommand::top) {
        out[k_limit] = query.limit;
        if (query.max_age != 0) {
            out[k_max_age] = query.max_age;
        }
    }
    if (query.command == QueryCommand::events) {
        out[k_limit] = query.events.limit;
    }
    if (query.command == QueryCommand::stats && query.shape.rules_limit != 0) {
        out[k_rules_limit] = query.shape.rules_limit;
    }
    if (query.command == QueryCommand::stats && query.shape.top_clients != 0) {
        out[k_top_clients] = query.shape.top_clients;
    }
    if (query.command == QueryCommand::stats && query.shape.score_levels) {
        out[k_score_levels] = true;
    }
    if (query.command == QueryCommand::tune || query.command == QueryCommand::readiness) {
        const TuneOptions& o = query.tune;
        out[k_min_clients] = o.min_clients;
        out[k_max_suspicious_pct] = o.max_suspicious_pct;
        out[k_wide_families] = o.wide_families;
        out[k_wide_paths] = o.wide_paths;
        out[k_family_paths] = o.family_paths;
        out[k_many_paths] = o.many_paths;
        out[k_many_targets] = o.many_targets;
    }
    return dump_line(out);
}

std::vector<std::string> listed_vhosts(const Query& query)
{
    std::vector<std::string> names = query.vhosts;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::vector<std::string> top_list_names()
{
    return names(k_lists);
}

std::vector<std::string> resolution_names()
{
    return names(k_resolutions);
}

std::optional<TopList> top_list_named(std::string_view name)
{
    return lookup(k_lists, name);
}

std::optional<Resolution> resolution_named(std::string_view name)
{
    return lookup(k_resolutions, name);
}

std::string dump_line(const json& j)
{
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_answer(std::string_view message)
{
    json out = json::object();
    out["ok"] = false;
    out["error"] = std::string(message);
    return dump_line(out);
}

bool is_error_answer(std::string_view line)
{
    return line.starts_with(R"({"ok":false)");
}

} // namespace mso
