// export: paging through the events answers, JSON lines and CSV (export.h).
#include "cli/export.h"

#include "util/terminal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

// The columns of the CSV, in order: the header name and the event's field.
constexpr const char* k_columns[] = {"time",
                                     "unique_id",
                                     "vhost",
                                     "port",
                                     "client",
                                     "method",
                                     "path",
                                     "query",
                                     "status",
                                     "verdict",
                                     "engine",
                                     "source",
                                     "inbound",
                                     "outbound",
                                     "inbound_threshold",
                                     "outbound_threshold",
                                     "rules",
                                     "user_agent"};

// A scalar field as text: strings as they are, numbers and booleans as JSON writes them,
// anything else empty.
std::string text_of(const json& value)
{
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_number() || value.is_boolean()) {
        return value.dump();
    }
    return {};
}

std::string cell_of(const json& event, std::string_view column)
{
    if (!event.is_object()) {
        return {};
    }
    if (column == "rules") {
        std::vector<std::string> ids;
        const auto rules = event.find("rules");
        if (rules != event.end() && rules->is_array()) {
            for (const json& r : *rules) {
                const auto id = r.is_object() ? r.find("id") : r.end();
                if (id != r.end() && id->is_string() &&
                    !id->get_ref<const std::string&>().empty() &&
                    std::find(ids.begin(), ids.end(), id->get<std::string>()) == ids.end()) {
                    ids.push_back(id->get<std::string>());
                }
            }
        }
        std::string out;
        for (const std::string& id : ids) {
            out += (out.empty() ? "" : ";") + id;
        }
        return out;
    }
    if (column.starts_with("inbound") || column.starts_with("outbound")) {
        const auto scores = event.find("scores");
        if (scores == event.end() || !scores->is_object()) {
            return {};
        }
        const auto it = scores->find(std::string(column));
        return it != scores->end() ? text_of(*it) : std::string();
    }
    const auto it = event.find(std::string(column));
    return it != event.end() ? text_of(*it) : std::string();
}

// The events of an answer, or an empty array.
const json& events_of(const json& answer)
{
    static const json empty = json::array();
    const auto it = answer.find("events");
    return it != answer.end() && it->is_array() ? *it : empty;
}

} // namespace

std::string csv_cell(std::string_view text)
{
    std::string cell;
    if (!text.empty() && (text.front() == '=' || text.front() == '+' || text.front() == '-' ||
                          text.front() == '@' || text.front() == '\t' || text.front() == '\r')) {
        cell = "'";
    }
    cell += text;
    if (cell.find_first_of(",\"\r\n") == std::string::npos) {
        return cell;
    }
    std::string quoted = "\"";
    for (const char c : cell) {
        quoted += c;
        if (c == '"') {
            quoted += '"';
        }
    }
    return quoted + "\"";
}

std::string csv_header()
{
    std::string out;
    for (const char* column : k_columns) {
        out += (out.empty() ? "" : ",") + csv_cell(column);
    }
    return out + "\r\n";
}

std::string csv_row(const json& event, bool terminal)
{
    std::string out;
    bool first = true;
    for (const char* column : k_columns) {
        std::string text = cell_of(event, column);
        if (terminal) {
            text = terminal_safe(text);
        }
        out += (first ? "" : ",") + csv_cell(text);
        first = false;
    }
    return out + "\r\n";
}

std::string jsonl_line(const json& event, bool terminal)
{
    return event.dump(-1, ' ', terminal, json::error_handler_t::replace) + "\n";
}

Result<std::uint64_t> export_events(Query query, ExportFormat format, bool terminal,
                                    const std::function<Result<json>(const std::string&)>& ask,
                                    std::ostream& out)
{
    const std::size_t wanted = query.events.limit; // 0: all
    std::uint64_t written = 0;
    if (format == ExportFormat::csv) {
        out << csv_header();
    }
    for (bool first = true;; first = false) {
        query.events.limit = wanted == 0 ? k_export_page
                                         : static_cast<std::size_t>(std::min<std::uint64_t>(
                                               k_export_page, wanted - written));
        auto answer = ask(request_line(query));
        if (!answer) {
            return fail(answer.error());
        }
        const auto from = answer->find("from");
        const bool from_ring = from != answer->end() && *from == "ring";
        if (first && from_ring && events_of(*answer).size() == query.events.limit &&
            query.events.limit != wanted) {
            // The ring has no pages: ask once for every match it holds.
            query.events.limit = wanted;
            answer = ask(request_line(query));
            if (!answer) {
                return fail(answer.error());
            }
        }
        for (const json& event : events_of(*answer)) {
            out << (format == ExportFormat::csv ? csv_row(event, terminal)
                                                : jsonl_line(event, terminal));
            ++written;
        }
        if (!out) {
            return fail("cannot write the export to stdout");
        }
        const auto next = answer->find("next");
        if (next == answer->end() || !next->is_string() || (wanted != 0 && written >= wanted)) {
            return written;
        }
        const auto cursor = parse_cursor(next->get_ref<const std::string&>());
        if (!cursor) {
            return fail("the collector's \"next\" is not a cursor");
        }
        query.events.cursor = *cursor;
    }
}

} // namespace mso
