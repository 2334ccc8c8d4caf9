// Decoding of event datagrams (docs/protocol.md, section 1) into owned values.
// Untrusted input: every failure is a returned reason, never an exception or a
// crash. Thread-compatible (no shared state); never blocks.
#pragma once

#include "event.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace mso {

// Why a datagram was rejected: one line per reason, its enumerator (whose spelling
// is also its stable name: the key in `health`'s "malformed_by_reason" and the
// `reason` label of /metrics) and what it means. The enum DecodeError and the table
// k_decode_errors are both made from this list, so neither can miss a reason.
#define MSO_DECODE_ERRORS(X)                                                                       \
    X(too_large, "larger than a datagram may be (65,536 bytes)")                                   \
    X(not_json, "not valid JSON")                                                                  \
    X(not_object, "not a JSON object")                                                             \
    X(bad_version, "no schema version this collector reads (\"v\": 1 or 2)")                       \
    X(unknown_type, "no \"type\", or one this collector does not know")                            \
    X(missing_field, "a required field is missing")                                                \
    X(bad_field_type, "a field of the wrong type or out of range")                                 \
    X(out_of_bounds, "more findings, tags, string bytes or nesting than any module sends")

enum class DecodeError {
#define MSO_DECODE_ERROR_ENUMERATOR(name, help) name,
    MSO_DECODE_ERRORS(MSO_DECODE_ERROR_ENUMERATOR)
#undef MSO_DECODE_ERROR_ENUMERATOR
};

struct DecodeErrorInfo {
    DecodeError reason;
    std::string_view name; // as the enumerator is spelled
    std::string_view help; // what the reason means, for people
};

// Every reason in enum order: k_decode_errors[static_cast<std::size_t>(r)].reason == r.
inline constexpr std::array k_decode_errors = {
#define MSO_DECODE_ERROR_INFO(name, help) DecodeErrorInfo{DecodeError::name, #name, help},
    MSO_DECODE_ERRORS(MSO_DECODE_ERROR_INFO)
#undef MSO_DECODE_ERROR_INFO
};

static_assert([] {
    for (std::size_t i = 0; i < k_decode_errors.size(); ++i) {
        if (static_cast<std::size_t>(k_decode_errors[i].reason) != i) {
            return false;
        }
    }
    return true;
}());

// What a decoded event may hold at most; the module's own limits are well below
// (128 findings, 16 tags, 1 KiB strings), so only a broken or hostile sender exceeds them.
inline constexpr std::size_t k_max_findings_per_event = 256;
inline constexpr std::size_t k_max_tags_per_finding = 32;
inline constexpr std::size_t k_max_field_bytes = 4096;
// Nesting of objects and arrays (the datagram's object is level 1; events need 4).
// Deeper datagrams are out_of_bounds before they are parsed, so no sender can make
// the collector build and free a DOM tens of thousands of levels deep.
inline constexpr std::size_t k_max_json_depth = 16;

// The reason's stable name (from k_decode_errors; NUL-terminated).
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
