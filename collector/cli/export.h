// `modsec-observe export`: every event an `events` query matches, streamed to stdout
// page by page (the answer's "next" cursor), as JSON lines or as CSV with a header row.
// Memory holds one page. The CSV writer quotes as RFC 4180 says and neutralises cells
// a spreadsheet would run as a formula.
#pragma once

#include "protocol/query.h"
#include "util/result.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace mso {

enum class ExportFormat { jsonl, csv };

// Events asked for per page.
inline constexpr std::size_t k_export_page = 1000;

// One CSV cell: a text starting with = + - @ TAB or CR gets a leading ' (a spreadsheet
// would run it as a formula), then the cell is quoted when it holds a comma, a double
// quote, CR or LF (quotes doubled). Pure.
[[nodiscard]] std::string csv_cell(std::string_view text);

// The CSV header row and one event's row (each ending in CRLF, as RFC 4180 says). The
// cells are strings of the event's fields; its rules' ids are joined with ';' (each id
// once, in order). With `terminal`, every cell is also made terminal-safe. Pure.
[[nodiscard]] std::string csv_header();
[[nodiscard]] std::string csv_row(const nlohmann::ordered_json& event, bool terminal);

// One event as a JSON line (with "\n"); `terminal` escapes non-ASCII too. Pure.
[[nodiscard]] std::string jsonl_line(const nlohmann::ordered_json& event, bool terminal);

// Sends `query` (an events query; its limit is the most events to export, 0: all) page
// by page through `ask` (one request line -> its ok answer) and writes every event to
// `out`. Returns the number of events written. An answer from the ring (a collector
// without history) has no pages: the first one is asked again for the whole ring.
[[nodiscard]] Result<std::uint64_t>
export_events(Query query, ExportFormat format, bool terminal,
              const std::function<Result<nlohmann::ordered_json>(const std::string&)>& ask,
              std::ostream& out);

} // namespace mso
