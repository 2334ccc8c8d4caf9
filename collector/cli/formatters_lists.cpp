// The formatters of the vhosts, rules, top and timeseries answers (see formatters.h).
#include "cli/formatters.h"

#include "cli/format_util.h"
#include "util/table.h"
#include "util/terminal.h"

#include <nlohmann/json.hpp>

namespace mso {
namespace {

using json = nlohmann::ordered_json;
using format_util::field;
using format_util::number;

// The array at `key`, or an empty one.
const json& list(const json& answer, const char* key)
{
    static const json empty = json::array();
    const auto it = answer.find(key);
    return it != answer.end() && it->is_array() ? *it : empty;
}

std::string top_entries(const json& entries)
{
    std::string out;
    for (const json& e : entries) {
        out += (out.empty() ? "" : ", ") + field(e, "value") + " (" + field(e, "count") + ")";
    }
    return out.empty() ? "-" : out;
}

} // namespace

std::string format_vhosts(const json& answer)
{
    const json& vhosts = list(answer, "vhosts");
    if (vhosts.empty()) {
        return "no vhosts yet\n";
    }
    Table table({{"VHOST", Align::left, 40},
                 {"REQUESTS", Align::right, 0},
                 {"FLAGGED", Align::right, 0},
                 {"INTERCEPTED", Align::right, 0},
                 {"WOULD-BLOCK", Align::right, 0},
                 {"RULES", Align::right, 0},
                 {"LAST SEEN", Align::left, 0}});
    for (const json& v : vhosts) {
        table.add_row({field(v, "vhost"), field(v, "requests"), field(v, "flagged"),
                       field(v, "intercepted"), field(v, "would_block"), field(v, "rules"),
                       field(v, "last_seen")});
    }
    return table.render();
}

std::string format_rules(const json& answer)
{
    const json& rules = list(answer, "rules");
    if (rules.empty()) {
        return "no rules matched\n";
    }
    const bool from_history = field(answer, "from") == "history";
    std::string out;
    for (const json& r : rules) {
        if (from_history) { // the window's hits and last seen only (docs/protocol.md)
            out += field(r, "vhost") + "  " + field(r, "id") + "  " +
                   fit_width(field(r, "msg"), 80) + "\n  hits " + field(r, "hits") +
                   ", last seen " + field(r, "last_seen") + "\n";
            continue;
        }
        out += field(r, "vhost") + "  " + field(r, "id") + "  " + field(r, "severity") + "  PL" +
               field(r, "pl") + "  " + fit_width(field(r, "msg"), 80) + "\n";
        const auto paths = r.find("top_paths");
        const auto targets = r.find("top_targets");
        out += "  hits " + field(r, "hits") + ", matches " + field(r, "matches") + ", first seen " +
               field(r, "first_seen") + ", last seen " + field(r, "last_seen") + "\n";
        out += "  top paths:   " + fit_width(top_entries(paths != r.end() ? *paths : json()), 90) +
               "\n";
        out +=
            "  top targets: " + fit_width(top_entries(targets != r.end() ? *targets : json()), 90) +
            "\n";
    }
    return out;
}

std::string format_top(const json& answer)
{
    const json& entries = list(answer, "top");
    if (entries.empty()) {
        return "nothing counted yet\n";
    }
    Table table({{"VALUE", Align::left, 80}, {"COUNT", Align::right, 0}, {"±", Align::right, 0}});
    for (const json& e : entries) {
        table.add_row({field(e, "value"), field(e, "count"), field(e, "error")});
    }
    if (field(answer, "from") == "history") {
        return table.render() + "(exact counts of the stored events, from history)\n";
    }
    std::string note = "(counts are upper bounds; the true count is at least COUNT minus ±";
    if (const auto bound = answer.find("error_bound");
        bound != answer.end() && bound->is_number_unsigned()) {
        note += ", and ± is at most " + field(answer, "error_bound");
    }
    return table.render() + note + ")\n";
}

std::string format_timeseries(const json& answer)
{
    const json& series = list(answer, "series");
    if (series.empty()) {
        return "no data\n";
    }
    std::string out;
    for (const json& s : series) {
        out += field(s, "vhost") + " (per " + field(s, "resolution") + ")\n";
        Table table({{"TIME", Align::left, 0},
                     {"REQUESTS", Align::right, 0},
                     {"FLAGGED", Align::right, 0},
                     {"INTERCEPTED", Align::right, 0},
                     {"WOULD-BLOCK", Align::right, 0},
                     {"RULE HITS", Align::right, 0}});
        const auto points = s.find("points");
        if (points != s.end() && points->is_array()) {
            for (const json& p : *points) {
                table.add_row({field(p, "time"), field(p, "requests"), field(p, "flagged"),
                               field(p, "intercepted"), field(p, "would_block"),
                               field(p, "rule_hits")});
            }
        }
        out += format_util::indent(table.render(), 2);
    }
    return out;
}

} // namespace mso
