// What the history store keeps of a request: the RequestEvent as the collector decoded
// it, plus where it came from (source), the engine mode when known, and the verdict
// derived from it. Also the pieces of the on-disk form that need no database: the
// content hash that makes imports idempotent, and the compact encoding of an event's
// findings (docs/STORE.md, "findings blob"), whose repeated strings are ids into the
// strings table. Pure functions; thread-safe.
#pragma once

#include "event.h"
#include "varint.h" // the blobs' numbers

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

// The source of the events the module sends (StoredEvent::source).
inline constexpr std::string_view k_source_module = "module";

struct StoredEvent {
    RequestEvent event;
    std::string source; // "module", "import:<name>", "sensor:<name>"
    EngineMode engine_mode = EngineMode::unknown;
    // Set by search() and find(): the row's id (half of a page cursor); ignored on write.
    std::int64_t row_id = 0;

    bool operator==(const StoredEvent&) const = default;
};

// A 64-bit hash (FNV-1a over 64-bit words, docs/STORE.md) of every field of the event except the
// source and row id: the same request read twice, from any source, hashes the same.
[[nodiscard]] std::uint64_t content_hash(const RequestEvent& event) noexcept;

[[nodiscard]] std::optional<EngineMode> parse_engine_mode(std::string_view name) noexcept;

// Maps strings to their ids in the strings table and back. The encoder interns, the
// decoder looks up; either may fail (I/O), which they report as nullopt.
class StringIds {
public:
    virtual ~StringIds() = default;
    [[nodiscard]] virtual std::optional<std::int64_t> id_of(std::string_view text) = 0;
    [[nodiscard]] virtual std::optional<std::string> text_of(std::int64_t id) = 0;
};

// Appends the findings blob of `findings` to `out`; false when a string could not be
// interned.
[[nodiscard]] bool encode_findings(const std::vector<Finding>& findings, StringIds& ids,
                                   std::string& out);
// Decodes a findings blob; nullopt when it is malformed or names an unknown string.
[[nodiscard]] std::optional<std::vector<Finding>> decode_findings(std::string_view blob,
                                                                  StringIds& ids);
// One finding of a blob, its strings unresolved (ids; 0 is "").
struct BlobFinding {
    enum : std::size_t { k_rule = 0, k_msg = 1, k_severity = 2, k_tags = 3, k_target = 4 };
    std::array<std::int64_t, 5> strings{};
    int paranoia_level = 0;
    int phase = 0;
    std::uint64_t flags = 0;
    std::string_view data;
};
// Reads the next finding off the front of `blob`; false when it is malformed.
[[nodiscard]] bool next_finding(std::string_view& blob, BlobFinding& finding) noexcept;
// The rule id string ids of a findings blob, each once, without resolving them and
// without 0 (no rule id): the rule index. Empty when the blob is malformed.
[[nodiscard]] std::vector<std::int64_t> finding_rule_ids(std::string_view blob);
// The same into `out` (cleared first), reusing its memory: the writer's per-event path.
void finding_rule_ids(std::string_view blob, std::vector<std::int64_t>& out);

// The scores blob: 14 zigzag varints (docs/STORE.md); "" (stored as NULL) when absent.
[[nodiscard]] std::string encode_scores(const std::optional<AnomalyScores>& scores);
// Appends the scores blob to `out` (nothing when absent).
void append_scores(const std::optional<AnomalyScores>& scores, std::string& out);
[[nodiscard]] std::optional<AnomalyScores> decode_scores(std::string_view blob);

} // namespace mso
