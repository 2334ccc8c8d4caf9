// The formatters of the stats, events (and tail) and health answers (see formatters.h).
// stats: one summary table, then per vhost its status codes, data-quality warnings and
// top rules.
#include "cli/formatters.h"

#include "cli/format_util.h"
#include "util/table.h"
#include "util/terminal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace mso {

namespace {

using json = nlohmann::ordered_json;
using format_util::dump_safe;
using format_util::field;
using format_util::number;
using format_util::vhost_name;

std::string ports_text(const json& vhost)
{
    const auto it = vhost.find("ports");
    if (it == vhost.end() || !it->is_array() || it->empty()) {
        return "-";
    }
    std::string out;
    for (const auto& port : *it) {
        if (!out.empty()) {
            out += ',';
        }
        out += dump_safe(port);
    }
    return out;
}

std::string status_text(const json& vhost)
{
    const auto it = vhost.find("status");
    if (it == vhost.end() || !it->is_object() || it->empty()) {
        return "-";
    }
    std::string out;
    for (auto s = it->begin(); s != it->end(); ++s) {
        if (!out.empty()) {
            out += "  ";
        }
        out += terminal_safe(s.key()) + ": " + dump_safe(s.value());
    }
    return out;
}

void append_rules(std::string& out, const json& vhost)
{
    const auto rules = vhost.find("rules");
    if (rules == vhost.end() || !rules->is_array() || rules->empty()) {
        out += "  no rules matched\n";
        return;
    }
    constexpr std::size_t k_fixed = 8 + 6 + 8 + 8 + 4 * 2; // RULE HITS MATCHES SEVERITY + gaps
    Table table({{"RULE", Align::left, 12},
                 {"HITS", Align::right, 0},
                 {"MATCHES", Align::right, 0},
                 {"SEVERITY", Align::left, 10},
                 {"MESSAGE", Align::left, k_stats_columns - k_fixed - 2}});
    std::size_t shown = 0;
    for (const auto& rule : *rules) {
        if (shown == k_stats_top_rules) {
            break;
        }
        table.add_row({field(rule, "id"), field(rule, "hits"), field(rule, "matches"),
                       field(rule, "severity"), field(rule, "msg")});
        ++shown;
    }
    out += format_util::indent(table.render(), 2); // the rules under their vhost
    if (rules->size() > shown) {
        out +=
            "  ... and " + std::to_string(rules->size() - shown) + " more rules (--json for all)\n";
    }
}

// The vhost's configured engine as its directive spells it; what the collector does not
// know is shown as it came (already terminal-safe).
std::string engine_text(const std::string& engine)
{
    if (engine == "on") {
        return "On";
    }
    if (engine == "off") {
        return "Off (ModSecurity does not look at its requests)";
    }
    if (engine == "detection_only") {
        return "DetectionOnly (nothing is blocked; would-block counts what On would)";
    }
    return engine;
}

} // namespace

std::string format_stats(const json& answer)
{
    const auto vhosts = answer.is_object() ? answer.find("vhosts") : answer.end();
    if (!answer.is_object() || vhosts == answer.end() || !vhosts->is_array() || vhosts->empty()) {
        return "no vhosts seen yet\n";
    }
    const bool sources = format_util::several_sources(*vhosts);
    std::vector<Column> columns{{"VHOST", Align::left, 40},       {"PORTS", Align::left, 16},
                                {"REQUESTS", Align::right, 0},    {"FLAGGED", Align::right, 0},
                                {"INTERCEPTED", Align::right, 0}, {"EVENTS", Align::right, 0},
                                {"LOST", Align::right, 0}};
    if (sources) {
        columns.insert(columns.begin(), Column{"SOURCE", Align::left, 32});
    }
    Table summary(std::move(columns));
    for (const auto& v : *vhosts) {
        summary.add_row(format_util::with_source(
            sources, v,
            {vhost_name(v), v.is_object() ? ports_text(v) : "-", field(v, "requests"),
             field(v, "flagged"), field(v, "intercepted"), field(v, "events"),
             field(v, "events_lost")}));
    }
    std::string out = summary.render();
    for (const auto& v : *vhosts) {
        if (!v.is_object()) {
            continue;
        }
        out += '\n';
        out += vhost_name(v) + (sources ? "  [" + field(v, "source") + "]" : std::string()) + "\n";
        out += "  status: " + status_text(v) + "\n";
        if (const std::string engine = field(v, "engine"); engine != "-") {
            out += "  SecRuleEngine: " + engine_text(engine) + "\n";
        }
        if (const auto n = number(v, "truncated_findings"); n != 0) {
            out += "  truncated findings: " + std::to_string(n) +
                   " (ModSecurity cut the message, rule id unknown; possible evasion)\n";
        }
        if (const auto n = number(v, "engine_messages"); n != 0) {
            out +=
                "  engine messages: " + std::to_string(n) +
                " (ModSecurity errors such as body parser failures: the rules may not have run)\n";
        }
        if (const auto n = number(v, "events_without_scores"); n != 0) {
            out += "  events without anomaly scores: " + std::to_string(n) +
                   " (is modsec_observe_rules.conf included?)\n";
        }
        append_rules(out, v);
    }
    return out;
}

namespace {

// Column widths of the event lines; fixed, since `tail` prints them as they come.
constexpr std::size_t k_time_w = 19, k_vhost_w = 24, k_client_w = 15, k_request_w = 40,
                      k_status_w = 6, k_action_w = 7;

std::vector<std::string> event_cells(const json& e)
{
    // "2025-11-21T15:40:00.123456Z" -> "2025-11-21 15:40:00"
    std::string time = field(e, "time");
    if (time.size() >= 19 && time[10] == 'T') {
        time = time.substr(0, 10) + " " + time.substr(11, 8);
    }
    std::string rule_ids;
    std::vector<std::string> seen;
    if (const auto rules = e.find("rules"); rules != e.end() && rules->is_array()) {
        for (const auto& rule : *rules) {
            std::string id = field(rule, "id");
            if (id.empty() || id == "-") {
                const auto engine = rule.is_object() ? rule.find("engine") : rule.end();
                id = engine != rule.end() && engine->is_boolean() && engine->get<bool>()
                         ? "(engine)"
                         : "(truncated)";
            }
            if (std::find(seen.begin(), seen.end(), id) != seen.end()) {
                continue;
            }
            seen.push_back(id);
            rule_ids += (rule_ids.empty() ? "" : ",") + id;
        }
    }
    const auto intercepted = e.find("intercepted");
    const bool denied =
        intercepted != e.end() && intercepted->is_boolean() && intercepted->get<bool>();
    // Events carry their verdict (from history, the ring and `tail` alike).
    const auto verdict = e.find("verdict");
    const bool would_block = verdict != e.end() && *verdict == "would_block";
    return {time,
            field(e, "vhost"),
            field(e, "client"),
            field(e, "method") + " " + field(e, "path"),
            field(e, "status"),
            denied ? "blocked" : (would_block ? "would-block" : "pass"),
            rule_ids};
}

// "more: --cursor X" when the answer says where the next page starts.
std::string next_page_note(const json& answer)
{
    const auto next = answer.find("next");
    if (next == answer.end() || !next->is_string()) {
        return {};
    }
    return "more: --cursor " + terminal_safe(next->get_ref<const std::string&>()) + "\n";
}

std::string pad(const std::string& cell, std::size_t width, bool right = false)
{
    std::string cut = fit_width(cell, width);
    const std::size_t w = display_width(cut);
    const std::string spaces(width > w ? width - w : 0, ' ');
    return right ? spaces + cut : cut + spaces;
}

} // namespace

std::string format_events(const json& answer)
{
    const auto events = answer.find("events");
    if (events == answer.end() || !events->is_array() || events->empty()) {
        return "no events\n" + next_page_note(answer);
    }
    const bool sources = format_util::several_sources(*events);
    std::vector<Column> columns{{"TIME", Align::left, 0},    {"VHOST", Align::left, k_vhost_w},
                                {"CLIENT", Align::left, 39}, {"REQUEST", Align::left, k_request_w},
                                {"STATUS", Align::right, 0}, {"ACTION", Align::left, 0},
                                {"RULES", Align::left, 40}};
    if (sources) {
        columns.insert(columns.begin() + 1, Column{"SOURCE", Align::left, 32});
    }
    Table table(std::move(columns));
    for (const auto& e : *events) {
        std::vector<std::string> cells = event_cells(e);
        if (sources) {
            cells.insert(cells.begin() + 1, field(e, "source"));
        }
        table.add_row(std::move(cells));
    }
    return table.render() + next_page_note(answer);
}

std::string format_event_header()
{
    return pad("TIME", k_time_w) + "  " + pad("VHOST", k_vhost_w) + "  " +
           pad("CLIENT", k_client_w) + "  " + pad("REQUEST", k_request_w) + "  " +
           pad("STATUS", k_status_w, true) + "  " + pad("ACTION", k_action_w) + "  RULES\n";
}

std::string format_event_line(const json& event)
{
    const auto c = event_cells(event);
    return pad(c[0], k_time_w) + "  " + pad(c[1], k_vhost_w) + "  " + pad(c[2], k_client_w) + "  " +
           pad(c[3], k_request_w) + "  " + pad(c[4], k_status_w, true) + "  " +
           pad(c[5], k_action_w) + "  " + fit_width(c[6], 60) + "\n";
}

namespace {

// Memory sizes (the `*_bytes` fields) in MiB, as people read them.
std::string health_value(const std::string& key, const json& value)
{
    if (value.is_string()) {
        return terminal_safe(value.get_ref<const std::string&>());
    }
    if (key.ends_with("_bytes") && value.is_number_unsigned()) {
        char out[32];
        std::snprintf(out, sizeof out, "%.1f MiB",
                      static_cast<double>(value.get<std::uint64_t>()) / (1024.0 * 1024.0));
        return out;
    }
    return dump_safe(value);
}

// One row per scalar; an object (history, import, malformed_by_reason, ...) is a row of
// its name and then its members indented under it, to any depth the answer has.
void add_health_rows(Table& table, const json& object, const std::string& indent)
{
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (it.key() == "ok" && indent.empty()) {
            continue;
        }
        const std::string name = indent + terminal_safe(it.key());
        if (it->is_object() && !it->empty()) {
            table.add_row({name, ""});
            add_health_rows(table, *it, indent + "  ");
            continue;
        }
        table.add_row({name, health_value(it.key(), *it)});
    }
}

} // namespace

std::string format_health(const json& answer)
{
    if (!answer.is_object()) {
        return "unexpected answer\n";
    }
    Table table({{"", Align::left, 0}, {"", Align::right, 0}});
    add_health_rows(table, answer, "");
    std::string out = table.render();
    // Drop the (empty) header line.
    return out.substr(out.find('\n') + 1);
}

} // namespace mso
