// Defensive field access for the formatters; see format_util.h.
#include "cli/format_util.h"

#include "util/terminal.h"

#include <nlohmann/json.hpp>

namespace mso::format_util {

using json = nlohmann::ordered_json;

std::string dump_safe(const json& j)
{
    return terminal_safe(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

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

std::string vhost_name(const json& obj)
{
    std::string name = field(obj, "vhost");
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

bool several_sources(const json& rows)
{
    if (!rows.is_array()) {
        return false;
    }
    const json* first = nullptr;
    for (const json& row : rows) {
        const auto it = row.is_object() ? row.find("source") : row.end();
        if (it == row.end()) {
            continue;
        }
        if (first == nullptr) {
            first = &*it;
        } else if (*it != *first) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> with_source(bool with_source, const json& row,
                                     std::vector<std::string> cells)
{
    if (with_source) {
        cells.insert(cells.begin(), field(row, "source"));
    }
    return cells;
}

std::string indent(const std::string& text, std::size_t spaces)
{
    std::string out;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = text.find('\n', start);
        const std::size_t stop = end == std::string::npos ? text.size() : end + 1;
        out.append(spaces, ' ');
        out.append(text, start, stop - start);
        start = stop;
    }
    return out;
}

} // namespace mso::format_util
