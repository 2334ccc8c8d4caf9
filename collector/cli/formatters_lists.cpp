// The formatters of the vhosts, rules, top and timeseries answers (see formatters.h).
#include "cli/formatters.h"

#include "cli/format_util.h"
#include "util/table.h"
#include "util/terminal.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>

namespace mso {
namespace {

using json = nlohmann::ordered_json;
using format_util::dump_safe;
using format_util::field;
using format_util::number;
using format_util::several_sources;
using format_util::with_source;

// The columns of a table, SOURCE first when `with`.
std::vector<Column> columns(bool with, std::vector<Column> rest)
{
    if (with) {
        rest.insert(rest.begin(), Column{"SOURCE", Align::left, 32});
    }
    return rest;
}

// " [source]" after a block's title when the answer has several sources.
std::string source_suffix(bool with, const json& row)
{
    return with ? "  [" + field(row, "source") + "]" : std::string();
}

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

// "path × target (count), ..." of a `top_pairs` list.
std::string pair_entries(const json& entries)
{
    std::string out;
    for (const json& e : entries) {
        out += (out.empty() ? "" : ", ") + field(e, "path") + " \u00d7 " + field(e, "target") +
               " (" + field(e, "count") + ")";
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
    const bool sources = several_sources(vhosts);
    // ENGINE: SecRuleEngine as the vhost's configuration sets it ("-": not said).
    Table table(columns(sources, {{"VHOST", Align::left, 40},
                                  {"ENGINE", Align::left, 0},
                                  {"REQUESTS", Align::right, 0},
                                  {"FLAGGED", Align::right, 0},
                                  {"INTERCEPTED", Align::right, 0},
                                  {"WOULD-BLOCK", Align::right, 0},
                                  {"RULES", Align::right, 0},
                                  {"LAST SEEN", Align::left, 0}}));
    for (const json& v : vhosts) {
        table.add_row(
            with_source(sources, v,
                        {field(v, "vhost"), field(v, "engine"), field(v, "requests"),
                         field(v, "flagged"), field(v, "intercepted"), field(v, "would_block"),
                         field(v, "rules"), field(v, "last_seen")}));
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
    const bool sources = several_sources(rules);
    std::string out;
    for (const json& r : rules) {
        const std::string source = sources ? field(r, "source") + "  " : std::string();
        if (from_history) { // the window's hits and last seen (docs/protocol.md)
            out += source + field(r, "vhost") + "  " + field(r, "id") + "  " +
                   fit_width(field(r, "msg"), 80) + "\n  hits " + field(r, "hits") +
                   ", last seen " + field(r, "last_seen") + "\n";
            // With a rule: where it matched in the window.
            for (const auto& [key, label] : {std::pair{"top_paths", "  top paths:   "},
                                             {"top_targets", "  top targets: "},
                                             {"top_pairs", "  top pairs:   "}}) {
                const auto it = r.find(key);
                if (it != r.end()) {
                    const std::string entries =
                        std::string_view(key) == "top_pairs" ? pair_entries(*it) : top_entries(*it);
                    out += label + fit_width(entries, 90) + "\n";
                }
            }
            if (r.contains("top_since")) {
                out += "  (lists of the hits since " + field(r, "top_since") + ")\n";
            }
            continue;
        }
        out += source + field(r, "vhost") + "  " + field(r, "id") + "  " + field(r, "severity") +
               "  PL" + field(r, "pl") + "  " + fit_width(field(r, "msg"), 80) + "\n";
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
    const bool sources = several_sources(entries);
    Table table(columns(
        sources, {{"VALUE", Align::left, 80}, {"COUNT", Align::right, 0}, {"±", Align::right, 0}}));
    for (const json& e : entries) {
        table.add_row(
            with_source(sources, e, {field(e, "value"), field(e, "count"), field(e, "error")}));
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
    const bool sources = several_sources(series);
    std::string out;
    for (const json& s : series) {
        out += field(s, "vhost") + " (per " + field(s, "resolution") + ")" +
               source_suffix(sources, s) + "\n";
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

namespace {

// "3m ago", "2h ago", "5d ago" from a number of seconds.
std::string ago(const json& source)
{
    const auto it = source.find("last_seen_ago_s");
    if (it == source.end() || !it->is_number_integer()) {
        return "-";
    }
    const auto s = it->get<std::int64_t>();
    if (s < 120) {
        return std::to_string(s) + "s ago";
    }
    if (s < 2 * 3600) {
        return std::to_string(s / 60) + "m ago";
    }
    if (s < 2 * 86400) {
        return std::to_string(s / 3600) + "h ago";
    }
    return std::to_string(s / 86400) + "d ago";
}

// "-1.5..+2.0 (last +0.3)" from the clock_skew_s object.
std::string skew(const json& source)
{
    const auto it = source.find("clock_skew_s");
    if (it == source.end() || !it->is_object()) {
        return "-";
    }
    auto secs = [&](const char* key) {
        const auto v = it->find(key);
        if (v == it->end() || !v->is_number()) {
            return std::string("?");
        }
        char out[32];
        std::snprintf(out, sizeof out, "%+.1f", v->get<double>());
        return std::string(out);
    };
    return secs("min") + ".." + secs("max") + " (last " + secs("last") + ")";
}

// "auth 3, too_large 1".
std::string refusals(const json& source)
{
    const auto it = source.find("refusals");
    if (it == source.end() || !it->is_object() || it->empty()) {
        return "-";
    }
    std::string out;
    for (auto r = it->begin(); r != it->end(); ++r) {
        out += (out.empty() ? "" : ", ") + terminal_safe(r.key()) + " " + dump_safe(r.value());
    }
    return out;
}

} // namespace

std::string format_sources(const json& answer)
{
    const json& live = list(answer, "sources");
    std::string out;
    if (live.empty()) {
        out += "no live sources yet\n";
    } else {
        Table table({{"SOURCE", Align::left, 40},
                     {"EVENTS", Align::right, 0},
                     {"BYTES", Align::right, 0},
                     {"LAST SEEN", Align::left, 0},
                     {"AGO", Align::right, 0},
                     {"CLOCK SKEW (s)", Align::left, 0},
                     {"REFUSED", Align::right, 0},
                     {"REFUSALS", Align::left, 60}});
        for (const json& s : live) {
            table.add_row({field(s, "source"), field(s, "events"), field(s, "bytes"),
                           field(s, "last_seen"), ago(s), skew(s), field(s, "refused"),
                           refusals(s)});
        }
        out += table.render();
    }
    const auto stored = answer.find("history");
    if (stored == answer.end() || !stored->is_array()) {
        return out;
    }
    out += "\nin history:\n";
    if (stored->empty()) {
        return out + "  no stored events\n";
    }
    Table table({{"SOURCE", Align::left, 40},
                 {"EVENTS", Align::right, 0},
                 {"NEWEST EVENT", Align::left, 0}});
    for (const json& s : *stored) {
        table.add_row({field(s, "source"), field(s, "events"), field(s, "last_event_time")});
    }
    return out + format_util::indent(table.render(), 2);
}

} // namespace mso
