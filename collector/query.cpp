// Parses and answers query lines. Everything that arrives here is untrusted:
// nlohmann is used without exceptions and every key is looked up with find().
#include "query.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace mso {

namespace {

using json = nlohmann::ordered_json;

// How much of an unknown command name is echoed back in the error.
constexpr std::size_t k_max_echo_bytes = 64;

std::string dump_line(const json& j)
{
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

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
        return QueryError{std::string("\"") + key + "\" must be a string, got " +
                          it->type_name()};
    }
    out = it->get<std::string>();
    return std::nullopt;
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
        return QueryError{std::string("request must be a json object, got ") +
                          request.type_name()};
    }
    const auto cmd = request.find("cmd");
    if (cmd == request.end()) {
        return QueryError{"missing \"cmd\" (expected \"stats\", \"events\" or \"health\")"};
    }
    if (!cmd->is_string()) {
        return QueryError{std::string("\"cmd\" must be a string, got ") + cmd->type_name()};
    }
    const auto& name = cmd->get_ref<const std::string&>();
    Query query;
    if (name == "stats") {
        query.command = QueryCommand::stats;
    } else if (name == "health") {
        query.command = QueryCommand::health;
    } else if (name == "events") {
        query.command = QueryCommand::events;
    } else {
        return QueryError{"unknown cmd " + echo_quoted(name) +
                          " (expected \"stats\", \"events\" or \"health\")"};
    }
    if (auto error = read_string(request, "vhost", query.vhost)) {
        return *error;
    }
    if (query.command != QueryCommand::events) {
        return query;
    }
    EventFilter& filter = query.events;
    filter.vhost = query.vhost;
    if (auto error = read_string(request, "rule", filter.rule)) {
        return *error;
    }
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
    if (const auto it = request.find("limit"); it != request.end()) {
        if (!it->is_number_unsigned()) {
            return QueryError{"\"limit\" must be a non-negative integer"};
        }
        filter.limit = static_cast<std::size_t>(
            std::min<std::uint64_t>(it->get<std::uint64_t>(), k_max_events_limit));
    }
    return query;
}

std::string error_answer(std::string_view message)
{
    json out = json::object();
    out["ok"] = false;
    out["error"] = std::string(message);
    return dump_line(out);
}

std::string answer_query(std::string_view line, Collector& collector,
                         Collector::Clock::time_point now)
{
    auto parsed = parse_query(line);
    if (const auto* error = std::get_if<QueryError>(&parsed)) {
        collector.count_bad_query();
        return error_answer(error->message);
    }
    const auto& query = std::get<Query>(parsed);
    json out = json::object();
    out["ok"] = true;
    switch (query.command) {
    case QueryCommand::stats: {
        std::optional<std::string_view> vhost;
        if (query.vhost) {
            vhost = *query.vhost;
        }
        out["vhosts"] = collector.aggregator().stats(vhost);
        break;
    }
    case QueryCommand::events:
        out["events"] = collector.events().select(query.events);
        break;
    case QueryCommand::health: {
        json health = collector.health(now);
        for (auto it = health.begin(); it != health.end(); ++it) {
            out[it.key()] = std::move(it.value());
        }
        break;
    }
    }
    return dump_line(out);
}

} // namespace mso
