// What a proposed exclusion (the `tune` answer, docs/protocol.md) may carry into
// ModSecurity's configuration: the daemon proposes only values that pass these checks
// (tuning/exclusion_scope.h) and the CLI checks them again before it writes a file
// (protocol/exclusion_file.h). Request data (a vhost name, a path, an argument name) ends
// up inside a double-quoted Apache argument, a ModSecurity operator (where %{...} is a
// macro) and a ctl action (where ',' ends the action and ';' splits the target), so
// only characters that need no escaping in any of them are accepted; anything else is
// refused, never escaped. Pure.
#pragma once

#include <string_view>

namespace mso {

// A host name as SERVER_NAME compares it (lowercased): [a-z0-9.-], 1-253 bytes, not
// starting with '.' or '-'.
[[nodiscard]] bool safe_host(std::string_view host) noexcept;
// A path for REQUEST_FILENAME: "/" then [A-Za-z0-9/._~-], at most 1024 bytes (no '%':
// REQUEST_FILENAME is decoded, the recorded path is not).
[[nodiscard]] bool safe_path(std::string_view path) noexcept;
// A target for ctl:ruleRemoveTargetById: COLLECTION ([A-Z_]+), optionally ":name" with
// name in [A-Za-z0-9_.[]@/-], not starting with '/' (a regular expression), at most 256.
[[nodiscard]] bool safe_target(std::string_view target) noexcept;
// A rule id: 1 to 9 digits, no leading zero.
[[nodiscard]] bool safe_rule_id(std::string_view rule) noexcept;
// A method for REQUEST_METHOD @streq: [A-Z], 1-16 bytes (GET, POST, PROPFIND ...).
[[nodiscard]] bool safe_method(std::string_view method) noexcept;

} // namespace mso
