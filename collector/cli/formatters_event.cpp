// The formatter of the `event` answer (see formatters.h): one request in full.
#include "cli/formatters.h"

#include "cli/format_util.h"
#include "util/table.h"
#include "util/terminal.h"

#include <nlohmann/json.hpp>

namespace mso {
namespace {

using json = nlohmann::ordered_json;
using format_util::field;

// The object at `key`, or null.
const json& object_at(const json& obj, const char* key)
{
    static const json none;
    const auto it = obj.find(key);
    return it != obj.end() && it->is_object() ? *it : none;
}

std::string tags_text(const json& finding)
{
    const auto tags = finding.find("tags");
    if (tags == finding.end() || !tags->is_array() || tags->empty()) {
        return "-";
    }
    std::string out;
    for (const json& t : *tags) {
        out += (out.empty() ? "" : ", ") +
               (t.is_string() ? terminal_safe(t.get_ref<const std::string&>()) : "-");
    }
    return out;
}

// "inbound 10 / 5 (PL 1: 10, ...)": a score against its threshold.
std::string score_line(const json& scores, const char* which, const char* threshold)
{
    return field(scores, which) + " (threshold " + field(scores, threshold) + ")";
}

std::string rule_name(const json& finding)
{
    std::string id = field(finding, "id");
    if (!id.empty() && id != "-") {
        return id;
    }
    const auto engine = finding.find("engine");
    return engine != finding.end() && *engine == true ? "(engine)" : "(truncated)";
}

} // namespace

std::string format_event_detail(const json& answer)
{
    const json& e = object_at(answer, "event");
    if (e.is_null()) {
        return "unexpected answer\n";
    }
    Table head({{"", Align::left, 0}, {"", Align::left, 0}});
    head.add_row({"unique id", field(e, "unique_id")});
    head.add_row({"time", field(e, "time")});
    head.add_row({"vhost", format_util::vhost_name(e) + ":" + field(e, "port")});
    head.add_row({"client", field(e, "client")});
    std::string request = field(e, "method") + " " + field(e, "path");
    if (const std::string query = field(e, "query"); !query.empty() && query != "-") {
        request += "?" + query;
    }
    head.add_row({"request", request + " " + field(e, "protocol")});
    head.add_row({"user agent", field(e, "user_agent")});
    head.add_row({"status", field(e, "status")});
    head.add_row({"verdict", field(e, "verdict")});
    head.add_row({"engine mode", field(e, "engine")});
    head.add_row({"source", field(e, "source")});
    const json& scores = object_at(e, "scores");
    if (scores.is_null()) {
        head.add_row({"scores", "- (the scoring snippet did not run)"});
    } else {
        head.add_row({"inbound score", score_line(scores, "inbound", "inbound_threshold")});
        head.add_row({"outbound score", score_line(scores, "outbound", "outbound_threshold")});
        head.add_row({"paranoia level", "blocking " + field(scores, "blocking_pl") +
                                            ", detection " + field(scores, "detection_pl")});
    }
    head.add_row({"findings' points", field(e, "score_sum") +
                                          " (CRS default severity scores; 0 for the "
                                          "scoring and reporting rules)"});
    if (const auto dropped = format_util::number(e, "findings_dropped"); dropped != 0) {
        head.add_row({"findings dropped", std::to_string(dropped) + " (did not fit the datagram)"});
    }
    std::string out = head.render();
    out = out.substr(out.find('\n') + 1); // no header line

    const auto rules = e.find("rules");
    if (rules == e.end() || !rules->is_array() || rules->empty()) {
        return out + "\nno findings\n";
    }
    Table table({{"#", Align::right, 0},
                 {"RULE", Align::left, 12},
                 {"SEVERITY", Align::left, 10},
                 {"PL", Align::right, 0},
                 {"PHASE", Align::right, 0},
                 {"SCORE", Align::right, 0},
                 {"TARGET", Align::left, 40},
                 {"DATA", Align::left, 50}});
    std::size_t n = 0;
    for (const json& f : *rules) {
        table.add_row({std::to_string(++n), rule_name(f), field(f, "severity"), field(f, "pl"),
                       field(f, "phase"), "+" + field(f, "score"), field(f, "target"),
                       field(f, "data")});
    }
    out += "\n" + table.render() + "\n";
    n = 0;
    for (const json& f : *rules) {
        out += "#" + std::to_string(++n) + " " + rule_name(f) + "  " + field(f, "msg") + "\n";
        out += "   target: " + field(f, "target") + "\n";
        out += "   data:   " + field(f, "data") + "\n";
        out += "   tags:   " + tags_text(f) + "\n";
    }
    return out;
}

} // namespace mso
