// Rendering of the live view; see live_view.h.
#include "cli/live_view.h"

#include "cli/format_util.h"
#include "util/table.h"
#include "util/terminal.h"
#include "util/time_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

using format_util::number;
using format_util::vhost_name;

// A string field, escaped for the terminal; "" when missing (unlike format_util::field's "-").
std::string text(const json& obj, const char* key)
{
    const std::string value = format_util::field(obj, key);
    return value == "-" ? std::string() : value;
}

std::string rate(std::uint64_t now, std::uint64_t before, double seconds)
{
    if (seconds <= 0 || now < before) {
        return "-";
    }
    char out[32];
    std::snprintf(out, sizeof out, "%.1f", static_cast<double>(now - before) / seconds);
    return out;
}

// The objects of the array at `key`, at most `limit` of them.
std::vector<const json*> objects(const json& obj, const char* key, std::size_t limit)
{
    std::vector<const json*> out;
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_array()) {
        return out;
    }
    for (const json& e : *it) {
        if (out.size() == limit) {
            break;
        }
        if (e.is_object()) {
            out.push_back(&e);
        }
    }
    return out;
}

// A vhost's hottest rules and top clients side by side, under its name.
std::string vhost_detail(const json& v)
{
    const auto rules = objects(v, "rules", k_live_top_rules);
    const auto clients = objects(v, "top_clients", k_live_top_clients);
    std::string out = vhost_name(v) + ":\n";
    if (rules.empty() && clients.empty()) {
        return out + "  no findings yet\n";
    }
    Table table({{"HOTTEST RULES", Align::left, 48},
                 {"HITS", Align::right, 0},
                 {"TOP CLIENTS", Align::left, 39},
                 {"EVENTS", Align::right, 0}});
    for (std::size_t i = 0; i < std::max(rules.size(), clients.size()); ++i) {
        std::vector<std::string> row(4);
        if (i < rules.size()) {
            const json& r = *rules[i];
            const std::string msg = text(r, "msg");
            row[0] = text(r, "id") + (msg.empty() ? "" : " " + msg);
            row[1] = std::to_string(number(r, "hits"));
        }
        if (i < clients.size()) {
            row[2] = text(*clients[i], "value");
            row[3] = std::to_string(number(*clients[i], "count"));
        }
        table.add_row(std::move(row));
    }
    return out + format_util::indent(table.render(), 2);
}

} // namespace

Query LiveView::request() const
{
    Query query;
    query.command = QueryCommand::stats;
    query.shape = {k_live_top_rules, k_live_top_clients};
    if (!m_vhost.empty()) {
        query.vhost = m_vhost;
    }
    return query;
}

std::string LiveView::render(const json& stats, std::int64_t now, bool clear)
{
    std::string out = clear ? "\x1b[H\x1b[2J" : "\n";
    out += "modsec-observe top  " + iso_time_s(now) + "  (^C to quit)\n\n";
    const double elapsed = m_previous_time != 0 ? static_cast<double>(now - m_previous_time) : 0;
    Table summary({{"VHOST", Align::left, 40},
                   {"REQ/S", Align::right, 0},
                   {"FLAG/S", Align::right, 0},
                   {"BLOCK/S", Align::right, 0},
                   {"REQUESTS", Align::right, 0},
                   {"FLAGGED", Align::right, 0},
                   {"BLOCKED", Align::right, 0},
                   {"WOULD-BLOCK", Align::right, 0}});
    std::string details;
    std::map<std::string, Totals> current;
    const auto vhosts = stats.find("vhosts");
    if (vhosts != stats.end() && vhosts->is_array()) {
        for (const json& v : *vhosts) {
            if (!v.is_object()) {
                continue;
            }
            const std::string name = vhost_name(v);
            const Totals t{number(v, "requests"), number(v, "flagged"), number(v, "intercepted")};
            const auto before = m_previous.find(name);
            const Totals b = before != m_previous.end() ? before->second : Totals{};
            const double seconds = before != m_previous.end() ? elapsed : 0;
            summary.add_row(
                {name, rate(t.requests, b.requests, seconds), rate(t.flagged, b.flagged, seconds),
                 rate(t.intercepted, b.intercepted, seconds), std::to_string(t.requests),
                 std::to_string(t.flagged), std::to_string(t.intercepted),
                 std::to_string(number(v, "would_block"))});
            details += "\n" + vhost_detail(v);
            current[name] = t;
        }
    }
    if (current.empty()) {
        out += m_vhost.empty() ? std::string("no vhosts seen yet\n")
                               : "vhost \"" + terminal_safe(m_vhost) + "\" not seen yet\n";
    } else {
        out += summary.render() + details;
    }
    m_previous = std::move(current);
    m_previous_time = now;
    return out;
}

} // namespace mso
