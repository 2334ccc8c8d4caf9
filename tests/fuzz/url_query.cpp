// Fuzz target: the dashboard's `GET /api/<command>?k=v` translation (protocol/url_query),
// which takes what any HTTP client puts in a URL. The input's first line is the command,
// each further line one parameter `key=value` (already URL-decoded, as httplib hands them
// over; a line without '=' is a key with an empty value). The translation must never
// throw; what it produces must be one line of JSON that parse_query() reads, or be
// refused by it with a message, never crash it.
#include "fuzz_check.h"
#include "protocol/query.h"
#include "protocol/url_query.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// Parameters read before the rest of the input is ignored (keeps runs fast).
constexpr std::size_t k_max_params = 32;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t end = input.find('\n');
    const std::string_view command = input.substr(0, end);
    std::vector<std::pair<std::string, std::string>> params;
    while (end != std::string_view::npos && params.size() < k_max_params) {
        const std::size_t start = end + 1;
        end = input.find('\n', start);
        const std::string_view line = input.substr(
            start, end == std::string_view::npos ? std::string_view::npos : end - start);
        const std::size_t eq = line.find('=');
        params.emplace_back(std::string(line.substr(0, eq)),
                            eq == std::string_view::npos ? std::string()
                                                         : std::string(line.substr(eq + 1)));
    }
    const auto line = mso::request_line_from_url(command, params);
    if (!line) {
        MSO_FUZZ_CHECK(!line.error().empty());
        return 0;
    }
    // One line of JSON (an object), whatever bytes the URL held.
    MSO_FUZZ_CHECK(line->find('\n') == std::string::npos);
    const auto doc = nlohmann::json::parse(*line, nullptr, false);
    MSO_FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
    const auto parsed = mso::parse_query(*line);
    if (!parsed) {
        MSO_FUZZ_CHECK(!parsed.error().empty());
        return 0;
    }
    // What parse_query() accepted, request_line() writes back to a line it accepts again.
    MSO_FUZZ_CHECK(mso::parse_query(mso::request_line(*parsed)).has_value());
    return 0;
}
