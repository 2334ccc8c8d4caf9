// The characters an exclusion may carry (exclusion_syntax.h).
#include "protocol/exclusion_syntax.h"

#include <algorithm>

namespace mso {
namespace {

bool is_lower_alnum(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) noexcept
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

} // namespace

bool safe_host(std::string_view host) noexcept
{
    return !host.empty() && host.size() <= 253 && host.front() != '-' && host.front() != '.' &&
           std::all_of(host.begin(), host.end(),
                       [](char c) { return is_lower_alnum(c) || c == '.' || c == '-'; });
}

bool safe_path(std::string_view path) noexcept
{
    return !path.empty() && path.size() <= 1024 && path.front() == '/' &&
           std::all_of(path.begin(), path.end(), [](char c) {
               return is_alnum(c) || c == '/' || c == '.' || c == '_' || c == '~' || c == '-';
           });
}

bool safe_target(std::string_view target) noexcept
{
    if (target.empty() || target.size() > 256) {
        return false;
    }
    const std::size_t colon = target.find(':');
    const std::string_view collection = target.substr(0, colon);
    if (collection.empty() || !std::all_of(collection.begin(), collection.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || c == '_';
        })) {
        return false;
    }
    if (colon == std::string_view::npos) {
        return true;
    }
    const std::string_view name = target.substr(colon + 1);
    return !name.empty() && name.front() != '/' &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '[' || c == ']' ||
                      c == '@' || c == '/';
           });
}

bool safe_rule_id(std::string_view rule) noexcept
{
    return !rule.empty() && rule.size() <= 9 && rule.front() != '0' &&
           std::all_of(rule.begin(), rule.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool safe_method(std::string_view method) noexcept
{
    return !method.empty() && method.size() <= 16 &&
           std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

} // namespace mso
