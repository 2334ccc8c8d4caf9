// Text views of query answers: one summary table, then per vhost its status
// codes, data-quality warnings and top rules.
#include "report.h"

#include "table.h"
#include "terminal.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace mso {

namespace {

using json = nlohmann::ordered_json;

std::string dump_safe(const json& j)
{
    return terminal_safe(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

// A field as display text: strings escaped, numbers as written, else "-".
std::string field(const json& obj, const char* key)
{
    if (!obj.is_object()) {
        return "-";
    }
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return "-";
    }
    if (it->is_string()) {
        return terminal_safe(it->get_ref<const std::string&>());
    }
    if (it->is_number() || it->is_boolean()) {
        return dump_safe(*it);
    }
    return "-";
}

// The vhost name for display; an empty name would otherwise be invisible.
std::string vhost_name(const json& vhost)
{
    const std::string name = field(vhost, "vhost");
    return name.empty() ? "\"\"" : name;
}

std::uint64_t number(const json& obj, const char* key)
{
    if (!obj.is_object()) {
        return 0;
    }
    const auto it = obj.find(key);
    return it != obj.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

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
                 {"MESSAGE", Align::left, k_report_columns - k_fixed - 2}});
    std::size_t shown = 0;
    for (const auto& rule : *rules) {
        if (shown == k_report_top_rules) {
            break;
        }
        table.add_row({field(rule, "id"), field(rule, "hits"), field(rule, "matches"),
                       field(rule, "severity"), field(rule, "msg")});
        ++shown;
    }
    std::string rendered = table.render();
    // Indent the rules under their vhost.
    std::string indented;
    for (std::size_t start = 0; start < rendered.size();) {
        const std::size_t end = rendered.find('\n', start);
        indented += "  ";
        indented.append(rendered, start, end - start + 1);
        start = end + 1;
    }
    out += indented;
    if (rules->size() > shown) {
        out += "  ... and " + std::to_string(rules->size() - shown) + " more rules (--json for all)\n";
    }
}

} // namespace

std::string format_stats(const json& answer)
{
    const auto vhosts = answer.is_object() ? answer.find("vhosts") : answer.end();
    if (!answer.is_object() || vhosts == answer.end() || !vhosts->is_array() ||
        vhosts->empty()) {
        return "no vhosts seen yet\n";
    }
    Table summary({{"VHOST", Align::left, 40},
                   {"PORTS", Align::left, 16},
                   {"REQUESTS", Align::right, 0},
                   {"FLAGGED", Align::right, 0},
                   {"INTERCEPTED", Align::right, 0},
                   {"EVENTS", Align::right, 0},
                   {"LOST", Align::right, 0}});
    for (const auto& v : *vhosts) {
        summary.add_row({vhost_name(v), v.is_object() ? ports_text(v) : "-",
                         field(v, "requests"), field(v, "flagged"), field(v, "intercepted"),
                         field(v, "events"), field(v, "events_lost")});
    }
    std::string out = summary.render();
    for (const auto& v : *vhosts) {
        if (!v.is_object()) {
            continue;
        }
        out += '\n';
        out += vhost_name(v) + "\n";
        out += "  status: " + status_text(v) + "\n";
        if (const auto n = number(v, "truncated_findings"); n != 0) {
            out += "  truncated findings: " + std::to_string(n) +
                   " (ModSecurity cut the message, rule id unknown; possible evasion)\n";
        }
        if (const auto n = number(v, "events_without_scores"); n != 0) {
            out += "  events without anomaly scores: " + std::to_string(n) +
                   " (is modsec_observe_rules.conf included?)\n";
        }
        append_rules(out, v);
    }
    return out;
}

std::string format_events(const json& answer)
{
    const auto events = answer.find("events");
    if (events == answer.end() || !events->is_array() || events->empty()) {
        return "no events\n";
    }
    Table table({{"TIME", Align::left, 0},
                 {"VHOST", Align::left, 24},
                 {"CLIENT", Align::left, 39},
                 {"REQUEST", Align::left, 40},
                 {"STATUS", Align::right, 0},
                 {"ACTION", Align::left, 0},
                 {"RULES", Align::left, 40}});
    for (const auto& e : *events) {
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
                    id = "(truncated)";
                }
                if (std::find(seen.begin(), seen.end(), id) != seen.end()) {
                    continue;
                }
                seen.push_back(id);
                rule_ids += (rule_ids.empty() ? "" : ",") + id;
            }
        }
        const auto intercepted = e.find("intercepted");
        const bool denied = intercepted != e.end() && intercepted->is_boolean() &&
                            intercepted->get<bool>();
        table.add_row({time, field(e, "vhost"), field(e, "client"),
                       field(e, "method") + " " + field(e, "path"), field(e, "status"),
                       denied ? "blocked" : "pass", rule_ids});
    }
    return table.render();
}

std::string format_health(const json& answer)
{
    if (!answer.is_object()) {
        return "unexpected answer\n";
    }
    Table table({{"", Align::left, 0}, {"", Align::right, 0}});
    for (auto it = answer.begin(); it != answer.end(); ++it) {
        if (it.key() == "ok") {
            continue;
        }
        if (it.key() == "malformed_by_reason" && it->is_object()) {
            for (auto r = it->begin(); r != it->end(); ++r) {
                table.add_row({"  " + terminal_safe(r.key()), dump_safe(r.value())});
            }
            continue;
        }
        table.add_row({terminal_safe(it.key()),
                       it->is_string() ? terminal_safe(it->get_ref<const std::string&>())
                                       : dump_safe(*it)});
    }
    std::string out = table.render();
    // Drop the (empty) header line.
    return out.substr(out.find('\n') + 1);
}

} // namespace mso
