// Parses request lines and writes them. Everything that parse_query() reads is untrusted:
// nlohmann is used without exceptions and every key is looked up with find().
#include "protocol/query.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
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

// Longest window a query may ask for: the hour series covers 30 days.
constexpr std::int64_t k_max_window_s = 30 * 24 * 3600;
constexpr std::uint64_t k_max_top_limit = 10000;

Result<void> read_window(const json& request, std::optional<std::int64_t>& out)
{
    const auto it = request.find(query_key::k_window);
    if (it == request.end()) {
        return ok();
    }
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0 ||
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(k_max_window_s)) {
        return fail(std::string("\"") + query_key::k_window +
                    "\" must be a number of seconds from 1 to " + std::to_string(k_max_window_s));
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
        return read_count(request, k_top_clients, query.shape.top_clients, k_max_top_clients);
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
        return ok();
    }
    case QueryCommand::events:
    case QueryCommand::tail: {
        EventFilter& filter = query.events;
        filter.vhost = query.vhost;
        filter.rule = query.rule;
        if (auto read = read_string(request, k_client, filter.client); !read) {
            return read;
        }
        if (const auto it = request.find(k_intercepted); it != request.end()) {
            if (!it->is_boolean()) {
                return fail(std::string("\"") + k_intercepted + "\" must be a boolean, got " +
                            it->type_name());
            }
            filter.intercepted = it->get<bool>();
        }
        return read_count(request, k_limit, filter.limit, k_max_events_limit);
    }
    default: return ok();
    }
}

} // namespace

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
    if (auto read = read_window(request, query.window); !read) {
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
    if (query.window) {
        out[k_window] = *query.window;
    }
    if (query.command == QueryCommand::top) {
        out[k_limit] = query.limit;
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
    return dump_line(out);
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

} // namespace mso
