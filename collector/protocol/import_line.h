// The import stream of the query protocol (docs/protocol.md, "import"): a client sends
// {"cmd":"import","source":"import:NAME"}, then one request event per line (the event
// datagram of section 1.1 plus "engine_mode"), {"cmd":"sync"} whenever it wants to know
// that everything before is stored, and {"cmd":"end"}. This file holds what both sides
// need without I/O: encoding an event as an import line (the CLI), decoding one (the
// daemon), the control lines and the answers' keys. Pure; thread-safe.
#pragma once

#include "event.h"
#include "event_decoder.h"
#include "util/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mso {

namespace import_key {
inline constexpr const char k_source[] = "source";
inline constexpr const char k_engine_mode[] = "engine_mode";
// Answers to sync and end.
inline constexpr const char k_synced[] = "synced"; // events received before this sync
inline constexpr const char k_inserted[] = "inserted";
inline constexpr const char k_duplicates[] = "duplicates";
inline constexpr const char k_lost[] = "lost";
// Events older than the store keeps (modsec-observed --history-days): not stored.
inline constexpr const char k_too_old[] = "too_old";
inline constexpr const char k_history_days[] = "history_days"; // the store's, 0: any age
inline constexpr const char k_malformed[] = "malformed";
inline constexpr const char k_malformed_lines[] = "malformed_lines";
inline constexpr const char k_line[] = "line";
inline constexpr const char k_reason[] = "reason";
} // namespace import_key

// Longest import line (not counting the newline): a datagram's limit.
inline constexpr std::size_t k_max_import_line_bytes = k_max_datagram_bytes;
// Syncs one connection may have waiting for the store; beyond, the collector stops
// reading the connection until the oldest is answered.
inline constexpr std::size_t k_max_syncs_in_flight = 64;
// Malformed lines a sync answer lists in full (all are counted).
inline constexpr std::size_t k_max_listed_malformed = 10;
// Longest source name.
inline constexpr std::size_t k_max_source_bytes = 256;

// The source of an import when the line starts one: {"cmd":"import","source":S}.
// nullopt: not an import command (answer it as a query); an error: an import command
// with a bad source (empty, longer than k_max_source_bytes, control characters, or
// "module", which is the module's).
[[nodiscard]] std::optional<Result<std::string>> parse_import_start(std::string_view line);
// The request line that starts an import of `source`.
[[nodiscard]] std::string import_start_line(std::string_view source);

// A line of an import stream: an event, or a control command.
enum class ImportLineKind : std::uint8_t { event, sync, end, bad_command };
[[nodiscard]] ImportLineKind import_line_kind(std::string_view line);
inline constexpr std::string_view k_import_sync_line = R"({"cmd":"sync"})";
inline constexpr std::string_view k_import_end_line = R"({"cmd":"end"})";

// One decoded import line.
struct ImportedEvent {
    RequestEvent event;
    EngineMode engine_mode = EngineMode::unknown;
};

// Decodes an event line with the datagram decoder (every check of section 1) and reads
// its top-level "engine_mode" ("on", "detection_only"; absent or another value:
// unknown).
[[nodiscard]] std::variant<ImportedEvent, DecodeFailure> decode_import_line(std::string_view line);

// Writes `event`, with `vhost` instead of its own, as one import line (no newline) into
// `out`, within the limits the module keeps (strings cut as its encoder cuts them, at
// most 128 findings); findings that do not fit into k_max_import_line_bytes are dropped
// whole and counted in findings_dropped, so the line always decodes.
// What a finding's matched data keeps, in bytes (`modsec-observe import --matched-data`):
// by default 256, at most 4,096 (as the module's `ModSecObserveMatchedData full`), 0 for
// none (`off`). A cut is marked data_truncated.
inline constexpr std::size_t k_import_data_default = 256;
inline constexpr std::size_t k_import_data_max = 4096;
void encode_import_line(const RequestEvent& event, std::string_view vhost, EngineMode mode,
                        std::string& out, std::size_t max_data = k_import_data_default);

// The bytes of matched data a `--matched-data VALUE` option keeps (the CLI's import, the
// daemon's console receiver): full (4,096), truncate:N (N from 0 to 4,096), off (0); ""
// is the default (256). An error names what is accepted.
[[nodiscard]] Result<std::size_t> matched_data_bytes(std::string_view value);

// Cuts `finding`'s matched data to at most `max_data` bytes, never in the middle of a
// UTF-8 character, and marks the cut in data_truncated; 0 (off) empties it unmarked. As
// encode_import_line's line decodes, for events that pass through none (console uploads).
void limit_matched_data(Finding& finding, std::size_t max_data) noexcept;

} // namespace mso
