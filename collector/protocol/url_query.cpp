// URL parameters into a request line: a table of the keys that are not strings, and
// `vhosts`, the one key that may be repeated (a list).
#include "protocol/url_query.h"

#include "protocol/query.h"
#include "util/duration.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <set>

namespace mso {

namespace {

using namespace query_key;

// Keys whose value is a non-negative integer on the wire.
constexpr std::array k_number_keys = {k_limit, k_rules_limit, k_top_clients, k_status,
                                      k_since, k_until,       k_max_age};
// Keys whose value is true or false on the wire.
constexpr std::array k_bool_keys = {k_intercepted, k_would_block, k_score_levels};
// Keys whose value is a string (parse_query() checks which belong to which command).
constexpr std::array k_string_keys = {k_vhost,  k_rule,   k_list, k_resolution, k_client,   k_path,
                                      k_engine, k_source, k_grep, k_cursor,     k_unique_id};

template <std::size_t N> bool listed(const std::array<const char*, N>& keys, std::string_view key)
{
    return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; });
}

std::optional<std::uint64_t> whole_number(std::string_view text)
{
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

} // namespace

Result<std::string>
request_line_from_url(std::string_view command,
                      const std::vector<std::pair<std::string, std::string>>& params)
{
    nlohmann::ordered_json request;
    request[k_cmd] = std::string(command);
    std::set<std::string, std::less<>> seen;
    for (const auto& [key, value] : params) {
        // `vhosts` is a list: each repeat is one more name.
        if (key == k_vhosts) {
            request[k_vhosts].push_back(value);
            continue;
        }
        if (!seen.insert(key).second) {
            return fail("\"" + key + "\" is given more than once");
        }
        if (key == k_window) {
            const auto seconds = parse_duration(value);
            if (!seconds) {
                return fail("\"window\" must be a duration such as 3600, 15m, 24h or 7d");
            }
            request[k_window] = static_cast<std::uint64_t>(*seconds);
        } else if (listed(k_number_keys, key)) {
            const auto number = whole_number(value);
            if (!number) {
                return fail("\"" + key + "\" must be a non-negative integer");
            }
            request[key] = *number;
        } else if (listed(k_bool_keys, key)) {
            if (value != "true" && value != "false") {
                return fail("\"" + key + "\" must be true or false");
            }
            request[key] = value == "true";
        } else if (listed(k_string_keys, key)) {
            request[key] = value;
        } else {
            return fail("unknown parameter \"" + key + "\"");
        }
    }
    return dump_line(request);
}

} // namespace mso
