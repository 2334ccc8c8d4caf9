// The text views of `tune` and `readiness` (formatters.h): the groups with their labels
// and reasons, the proposed exclusions, the what-if before -> after with the threshold
// ladder and the caveats; per vhost the readiness verdict with its reasons and the
// would-block requests per day. Every string from the answer is terminal_safe().
#include "cli/format_util.h"
#include "cli/formatters.h"
#include "util/table.h"

#include <nlohmann/json.hpp>

namespace mso {
namespace {

using json = nlohmann::ordered_json;
using format_util::field;
using format_util::number;

std::string arrow(const json& obj, const char* before, const char* after)
{
    return std::to_string(number(obj, before)) + " -> " + std::to_string(number(obj, after));
}

// A JSON string as plain escaped text (dump_safe() quotes it).
std::string plain(const json& j)
{
    std::string s = format_util::dump_safe(j);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
        s = s.substr(1, s.size() - 2);
    }
    return s;
}

std::string plain_lines(const json& obj, const char* key, const std::string& prefix)
{
    std::string out;
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_array()) {
        return out;
    }
    for (const json& line : *it) {
        out += prefix + plain(line) + "\n";
    }
    return out;
}

// The counts of obj[key] (an object: name -> count) as "name:count" joined by `sep`.
std::string counts_text(const json& obj, const char* key, const char* sep)
{
    std::string out;
    if (const auto by = obj.find(key); by != obj.end() && by->is_object()) {
        for (auto it = by->begin(); it != by->end(); ++it) {
            out += (out.empty() ? "" : sep) + plain(json(it.key())) + ":" +
                   format_util::dump_safe(it.value());
        }
    }
    return out;
}

// The rows of w[key] (objects with `column`, "before" and "after") as a table, indented;
// "" when there are none.
std::string before_after_table(const json& w, const char* key, const char* column,
                               const char* column_label, const char* before_label)
{
    const auto rows = w.find(key);
    if (rows == w.end() || !rows->is_array() || rows->empty()) {
        return {};
    }
    Table t({{column_label, Align::right}, {before_label, Align::right}, {"after", Align::right}});
    for (const json& row : *rows) {
        t.add_row({field(row, column), field(row, "before"), field(row, "after")});
    }
    return format_util::indent(t.render(), 2);
}

std::string what_if_text(const json& w)
{
    std::string out = "What-if (from the recorded findings and scores; before -> after):\n";
    out += "  requests blocked or would-block: " + arrow(w, "would_block", "would_block_after") +
           "  (clients " + arrow(w, "clients", "clients_after") + ")\n";
    out +=
        "  not attacks among them:          " + arrow(w, "benign_blocked", "benign_blocked_after") +
        "\n";
    out +=
        "  attacks caught:                  " + arrow(w, "attacks_caught", "attacks_caught_after") +
        " of " + field(w, "attacks") + " attack requests\n";
    if (w.value("unsure_blocked_after", 0) > 0) {
        out += "  of those after, only unsure:     " + field(w, "unsure_blocked_after") +
               " requests from " + field(w, "unsure_clients_after") +
               " clients (few clients, none suspicious: check them)\n";
    }
    out += before_after_table(w, "inbound_ladder", "threshold", "inbound threshold", "before");
    out += before_after_table(w, "paranoia_levels", "level", "blocking paranoia level",
                              "blocked before");
    out += "Caveats:\n" + plain_lines(w, "caveats", "  - ");
    return out;
}

} // namespace

std::string format_tune(const json& answer)
{
    std::string out = "vhost " + format_util::vhost_name(answer) + ": " + field(answer, "events") +
                      " recorded requests, " + field(answer, "since") + " to " +
                      field(answer, "until") + ", engine " + field(answer, "engine") + ", CRS " +
                      field(answer, "crs_version") + ", paranoia level " +
                      field(answer, "paranoia_level") + "\n\n";
    Table groups({{"#", Align::right},
                  {"label"},
                  {"rule"},
                  {"target", Align::left, 32},
                  {"method"},
                  {"path", Align::left, 40},
                  {"requests", Align::right},
                  {"clients", Align::right},
                  {"decisive", Align::right}});
    std::string reasons;
    if (const auto list = answer.find("groups"); list != answer.end() && list->is_array()) {
        std::size_t i = 0;
        for (const json& g : *list) {
            const std::string label =
                field(g, "label") + (g.value("unsure", false) ? " (unsure)" : "");
            groups.add_row({std::to_string(i), label, field(g, "rule"), field(g, "target"),
                            field(g, "method"), field(g, "path"), field(g, "requests"),
                            field(g, "clients"), field(g, "decisive")});
            reasons += "  #" + std::to_string(i) + " " + field(g, "rule") + " " +
                       field(g, "target") + " " + field(g, "path") + ":\n" +
                       plain_lines(g, "reasons", "      ");
            ++i;
        }
    }
    out += "Groups (every finding that raised a score, by rule, target, path, method):\n";
    out += format_util::indent(groups.render(), 2) + "Reasons:\n" + reasons + "\n";
    Table xs({{"rule"},
              {"target"},
              {"scope"},
              {"path", Align::left, 40},
              {"requests", Align::right},
              {"clients", Align::right},
              {"removes blocks", Align::right}});
    std::string why;
    if (const auto list = answer.find("exclusions"); list != answer.end() && list->is_array()) {
        for (const json& x : *list) {
            const std::string target = plain(x.value("target", json("")));
            const std::string method = plain(x.value("method", json("")));
            xs.add_row({field(x, "rule"), target.empty() ? "(whole rule)" : target,
                        field(x, "match") + (method.empty() ? "" : " " + method), field(x, "path"),
                        field(x, "requests"), field(x, "clients"), field(x, "removes_blocks")});
            const std::string path = plain(x.value("path", json("")));
            why += "  " + field(x, "rule") + (path.empty() ? "" : " " + field(x, "path")) + ": " +
                   plain(x.value("why", json(""))) + "\n";
            if (x.value("releases_attacks", 0) > 0) {
                why += "    WARNING: it also helps release " + field(x, "releases_attacks") +
                       " caught attack requests: narrow it or leave it out\n";
            }
        }
    }
    out += "Proposed exclusions (host " + format_util::vhost_name(answer) + " only):\n";
    out += format_util::indent(xs.render(), 2) + why;
    if (const auto list = answer.find("skipped");
        list != answer.end() && list->is_array() && !list->empty()) {
        out += "Skipped false-positive groups (no safe exclusion):\n";
        for (const json& s : *list) {
            out += "  #" + field(s, "group") + " " + field(s, "rule") + " " + field(s, "target") +
                   " " + field(s, "path") + ": " + plain(s.value("reason", json(""))) + "\n";
        }
    }
    out += "\n";
    if (const auto w = answer.find("what_if"); w != answer.end() && w->is_object()) {
        out += what_if_text(*w);
    }
    out += "\nVerdict: " + field(answer, "verdict") +
           " (as it is now, without the exclusions: " + field(answer, "verdict_now") + ")\n" +
           plain_lines(answer, "reasons", "  - ");
    return out;
}

std::string format_readiness(const json& answer)
{
    std::string out;
    const auto list = answer.find("vhosts");
    if (list == answer.end() || !list->is_array() || list->empty()) {
        return "no vhost has recorded requests in the window\n";
    }
    for (const json& v : *list) {
        out += "vhost " + format_util::vhost_name(v) + " (engine " + field(v, "engine") +
               "): " + field(v, "verdict") +
               " (as it is now, without the exclusions: " + field(v, "verdict_now") + ")\n";
        out += plain_lines(v, "reasons", "  - ");
        out += "  requests with findings " + field(v, "requests") + ", blocked or would-block " +
               arrow(v, "would_block", "would_block_after") + " with the " +
               field(v, "exclusions") + " proposed exclusions (explained " + field(v, "explained") +
               "), clients " + arrow(v, "clients", "clients_after") + ", attacks caught " +
               arrow(v, "attacks_caught", "attacks_caught_after") + "\n";
        if (v.contains("false_positive_blocks")) {
            out += "  blocked requests that look like false positives (real users blocked): " +
                   field(v, "false_positive_blocks") + "\n";
            if (const auto ids = v.find("false_positive_examples");
                ids != v.end() && ids->is_array() && !ids->empty()) {
                std::string examples;
                for (const json& id : *ids) {
                    examples += (examples.empty() ? "" : " ") + plain(id);
                }
                out += "    for example " + examples + " (modsec-observe event ID)\n";
            }
        }
        if (const auto days = v.find("days"); days != v.end() && days->is_array()) {
            Table t({{"day"},
                     {"would block", Align::right},
                     {"after", Align::right},
                     {"by rule group", Align::left, 80},
                     {"by top rule", Align::left, 48}});
            for (const json& d : *days) {
                t.add_row({field(d, "day"), field(d, "would_block"), field(d, "would_block_after"),
                           counts_text(d, "by_group", ", "), counts_text(d, "by_rule", " ")});
            }
            out += format_util::indent(t.render(), 2);
        }
        out += "\n";
    }
    return out;
}

} // namespace mso
