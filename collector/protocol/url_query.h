// The dashboard's API (docs/protocol.md, "HTTP API") in terms of the query protocol:
// `GET /api/<command>?key=value&...` becomes the request line a socket client would
// send, and parse_query() then checks it exactly as it checks the socket's, so the two
// front ends accept the same queries with the same errors. URL values are text; the
// keys the protocol wants as numbers or booleans are converted here (and `window`
// also takes a duration such as "24h"; `vhosts`, repeated, is the list of names).
// Pure; never throws.
#pragma once

#include "util/result.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mso {

// The request line for command `command` with the URL parameters `params` (decoded,
// in order), or why it cannot be one (unknown key, a repeated key other than
// `vhosts`, a number that is not one): lowercase, naming the key.
[[nodiscard]] Result<std::string>
request_line_from_url(std::string_view command,
                      const std::vector<std::pair<std::string, std::string>>& params);

} // namespace mso
