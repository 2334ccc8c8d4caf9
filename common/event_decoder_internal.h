// Internal to mso_common: the simdjson fast path of decode_datagram (see
// event_decoder_fast.cpp). Not part of the decoder's interface.
#pragma once

#include "event_decoder.h"

#include <optional>
#include <string>
#include <string_view>

namespace mso::detail {

// A datagram split at its first NUL: the JSON, and version 2's alert messages after it
// (nullopt: no NUL; docs/protocol.md, section 1.3).
struct Framing {
    std::string_view json;
    std::optional<std::string_view> alerts;
};
[[nodiscard]] Framing split_alert_section(std::string_view datagram) noexcept;

// The decoding of a request event that parses as JSON for simdjson, into `out` (the
// event is built in place there, not moved on its way out: each move of an event is
// about 250 instructions), and true; or false, `out` untouched, when the nlohmann
// reference must decide (anything else). No shared state.
[[nodiscard]] bool decode_request_fast(const Framing& datagram, Decoded& out);

// `prefix` and `key` in double quotes ("field \"vhost\""): how both decoders name a
// field in a failure's detail, so that they agree on it.
[[nodiscard]] std::string field_text(std::string_view prefix, std::string_view key);

} // namespace mso::detail
