// Parses and answers query lines. Everything that arrives here is untrusted:
// nlohmann is used without exceptions and every key is looked up with find().
#include "query.h"

#include <nlohmann/json.hpp>

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
        return QueryError{"missing \"cmd\" (expected \"stats\" or \"health\")"};
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
    } else {
        return QueryError{"unknown cmd " + echo_quoted(name) + " (expected \"stats\" or \"health\")"};
    }
    if (const auto vhost = request.find("vhost"); vhost != request.end()) {
        if (!vhost->is_string()) {
            return QueryError{std::string("\"vhost\" must be a string, got ") +
                              vhost->type_name()};
        }
        query.vhost = vhost->get<std::string>();
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
