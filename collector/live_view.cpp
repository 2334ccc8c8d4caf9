// Rendering of the live view; see live_view.h.
#include "live_view.h"

#include "report_util.h"
#include "table.h"
#include "terminal.h"
#include "time_format.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

using report::number;

// A string field, escaped for the terminal; "" when missing (unlike report::field's "-").
std::string text(const json& obj, const char* key)
{
    const std::string value = report::field(obj, key);
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

} // namespace

std::string LiveView::render(const json& stats, const json& clients, std::int64_t now, bool clear)
{
    std::string out = clear ? "\x1b[H\x1b[2J" : "\n";
    out += "modsec-observe top  " + iso_time_s(now) + "  (^C to quit)\n\n";
    const double elapsed = m_previous_time != 0 ? static_cast<double>(now - m_previous_time) : 0;
    Table table({{"VHOST", Align::left, 28},
                 {"REQ/S", Align::right, 0},
                 {"FLAG/S", Align::right, 0},
                 {"BLOCK/S", Align::right, 0},
                 {"REQUESTS", Align::right, 0},
                 {"FLAGGED", Align::right, 0},
                 {"BLOCKED", Align::right, 0},
                 {"WOULD-BLOCK", Align::right, 0},
                 {"HOTTEST RULE", Align::left, 48}});
    std::map<std::string, Totals> current;
    const auto vhosts = stats.find("vhosts");
    if (vhosts != stats.end() && vhosts->is_array()) {
        for (const json& v : *vhosts) {
            if (!v.is_object()) {
                continue;
            }
            const std::string name = text(v, "vhost");
            const Totals t{number(v, "requests"), number(v, "flagged"), number(v, "intercepted")};
            const auto before = m_previous.find(name);
            const Totals b = before != m_previous.end() ? before->second : Totals{};
            const double seconds = before != m_previous.end() ? elapsed : 0;
            std::string hottest;
            const auto rules = v.find("rules");
            if (rules != v.end() && rules->is_array() && !rules->empty() &&
                rules->front().is_object()) {
                const json& r = rules->front();
                hottest = text(r, "id") + " " + text(r, "msg") + " (" +
                          std::to_string(number(r, "hits")) + ")";
            }
            table.add_row({name, rate(t.requests, b.requests, seconds),
                           rate(t.flagged, b.flagged, seconds),
                           rate(t.intercepted, b.intercepted, seconds), std::to_string(t.requests),
                           std::to_string(t.flagged), std::to_string(t.intercepted),
                           std::to_string(number(v, "would_block")), hottest});
            current[name] = t;
        }
    }
    out += table.render();
    Table top({{"TOP CLIENTS", Align::left, 40}, {"FLAGGED REQUESTS", Align::right, 0}});
    const auto entries = clients.find("top");
    if (entries != clients.end() && entries->is_array()) {
        for (const json& e : *entries) {
            if (e.is_object()) {
                top.add_row({text(e, "value"), std::to_string(number(e, "count"))});
            }
        }
    }
    out += "\n" + top.render();
    m_previous = std::move(current);
    m_previous_time = now;
    return out;
}

} // namespace mso
