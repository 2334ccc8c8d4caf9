// Parses query lines. Everything that arrives here is untrusted:
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
std::optional<QueryError> read_string(const json& request, const char* key,
                                      std::optional<std::string>& out)
{
    const auto it = request.find(key);
    if (it == request.end()) {
        return std::nullopt;
    }
    if (!it->is_string()) {
        return QueryError{std::string("\"") + key + "\" must be a string, got " + it->type_name()};
    }
    out = it->get<std::string>();
    return std::nullopt;
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

std::optional<QueryError> read_window(const json& request, std::optional<std::int64_t>& out)
{
    const auto it = request.find("window");
    if (it == request.end()) {
        return std::nullopt;
    }
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0 ||
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(k_max_window_s)) {
        return QueryError{"\"window\" must be a number of seconds from 1 to " +
                          std::to_string(k_max_window_s)};
    }
    out = static_cast<std::int64_t>(it->get<std::uint64_t>());
    return std::nullopt;
}

// Reads an optional count (a non-negative integer, capped at `max`) into `out`.
std::optional<QueryError> read_count(const json& request, const char* key, std::size_t& out,
                                     std::uint64_t max)
{
    const auto it = request.find(key);
    if (it == request.end()) {
        return std::nullopt;
    }
    if (!it->is_number_unsigned()) {
        return QueryError{std::string("\"") + key + "\" must be a non-negative integer"};
    }
    out = static_cast<std::size_t>(std::min<std::uint64_t>(it->get<std::uint64_t>(), max));
    return std::nullopt;
}

// Reads "limit" into `out` (default when absent, capped at `max`), then yields the query.
std::variant<Query, QueryError> read_limit(const json& request, std::size_t& out,
                                           std::size_t fallback, std::uint64_t max, Query& query)
{
    out = fallback;
    if (const auto it = request.find("limit"); it != request.end()) {
        if (!it->is_number_unsigned()) {
            return QueryError{"\"limit\" must be a non-negative integer"};
        }
        out = static_cast<std::size_t>(std::min<std::uint64_t>(it->get<std::uint64_t>(), max));
    }
    return std::move(query);
}

} // namespace

std::variant<Query, QueryError> parse_query(std::string_view line)
{
    if (line.size() > k_max_query_line_bytes) {
        return QueryError{"request line too long (more than " +
                          std::to_string(k_max_query_line_bytes) + " bytes)"};
    }
    const json request = json::parse(line.begin(), line.end(), nullptr, false);
    if (request.is_discarded()) {
        return QueryError{"invalid json in request line"};
    }
    if (!request.is_object()) {
        return QueryError{std::string("request must be a json object, got ") + request.type_name()};
    }
    const auto cmd = request.find("cmd");
    if (cmd == request.end()) {
        return QueryError{std::string("missing \"cmd\" (expected one of: ") + k_query_commands +
                          ")"};
    }
    if (!cmd->is_string()) {
        return QueryError{std::string("\"cmd\" must be a string, got ") + cmd->type_name()};
    }
    const auto& name = cmd->get_ref<const std::string&>();
    Query query;
    const auto command = lookup(k_commands, name);
    if (!command) {
        return QueryError{"unknown cmd " + echo_quoted(name) +
                          " (expected one of: " + k_query_commands + ")"};
    }
    query.command = *command;
    if (auto error = read_string(request, "vhost", query.vhost)) {
        return *error;
    }
    if (auto error = read_string(request, "rule", query.rule)) {
        return *error;
    }
    if (auto error = read_window(request, query.window)) {
        return *error;
    }
    switch (query.command) {
    case QueryCommand::stats:
        if (auto error =
                read_count(request, "rules_limit", query.shape.rules_limit, k_max_rules_limit)) {
            return *error;
        }
        if (auto error =
                read_count(request, "top_clients", query.shape.top_clients, k_max_top_clients)) {
            return *error;
        }
        return query;
    case QueryCommand::top: {
        std::optional<std::string> list;
        if (auto error = read_string(request, "list", list)) {
            return *error;
        }
        const auto parsed = list ? lookup(k_lists, *list) : std::nullopt;
        if (!parsed) {
            return QueryError{"\"list\" must be one of: clients, paths, agents, targets"};
        }
        query.list = *parsed;
        return read_limit(request, query.limit, 20, k_max_top_limit, query);
    }
    case QueryCommand::timeseries: {
        std::optional<std::string> resolution;
        if (auto error = read_string(request, "resolution", resolution)) {
            return *error;
        }
        if (resolution) {
            const auto parsed = lookup(k_resolutions, *resolution);
            if (!parsed) {
                return QueryError{"\"resolution\" must be \"minute\" or \"hour\""};
            }
            query.resolution = *parsed;
        }
        return query;
    }
    case QueryCommand::events:
    case QueryCommand::tail: {
        EventFilter& filter = query.events;
        filter.vhost = query.vhost;
        filter.rule = query.rule;
        if (auto error = read_string(request, "client", filter.client)) {
            return *error;
        }
        if (const auto it = request.find("intercepted"); it != request.end()) {
            if (!it->is_boolean()) {
                return QueryError{std::string("\"intercepted\" must be a boolean, got ") +
                                  it->type_name()};
            }
            filter.intercepted = it->get<bool>();
        }
        return read_limit(request, filter.limit, 100, k_max_events_limit, query);
    }
    default: return query;
    }
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
