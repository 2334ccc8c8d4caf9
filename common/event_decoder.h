// Decoding of event datagrams (docs/protocol.md, section 1) into owned values.
// Untrusted input: every failure is a returned reason, never an exception or a
// crash. Thread-compatible (no shared state); never blocks.
#pragma once

#include "event.h"

#include <string>
#include <string_view>
#include <variant>

namespace mso {

// Why a datagram was rejected; stable names (reason_name) appear in `health`.
enum class DecodeError {
    too_large,
    not_json,
    not_object,
    bad_version,
    unknown_type,
    missing_field,
    bad_field_type,
    out_of_bounds, // more findings, tags or string bytes than any module sends
};

// What a decoded event may hold at most; the module's own limits are well below
// (128 findings, 16 tags, 1 KiB strings), so only a broken or hostile sender exceeds them.
inline constexpr std::size_t k_max_findings_per_event = 256;
inline constexpr std::size_t k_max_tags_per_finding = 32;
inline constexpr std::size_t k_max_field_bytes = 4096;
// Nesting of objects and arrays (the datagram's object is level 1; events need 4).
// Deeper datagrams are out_of_bounds before they are parsed, so no sender can make
// the collector build and free a DOM tens of thousands of levels deep.
inline constexpr std::size_t k_max_json_depth = 16;

[[nodiscard]] const char* reason_name(DecodeError e) noexcept;

struct DecodeFailure {
    DecodeError reason;
    std::string detail; // e.g. "missing field \"vhost\""

    bool operator==(const DecodeFailure&) const = default;
};

using Decoded = std::variant<RequestEvent, CounterReport, DecodeFailure>;

[[nodiscard]] Decoded decode_datagram(std::string_view datagram);
// The same decoding with nlohmann/json only (slower: it builds a tree). decode_datagram
// must give the same answer for every input; the tests and the fuzz target check it.
[[nodiscard]] Decoded decode_datagram_reference(std::string_view datagram);

} // namespace mso
