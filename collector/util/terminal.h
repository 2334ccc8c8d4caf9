// Making untrusted text safe and measurable for a terminal. Vhost names, rule
// messages and ids reach the CLI from the network (ultimately from whatever a
// client or a rule put into a log message); printed raw, an ESC or a C1 control
// could move the cursor, rewrite the screen or set the window title.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mso {

// Replaces C0 controls (including TAB and newlines), DEL, C1 controls
// (U+0080-U+009F), bidirectional overrides/isolates and line/paragraph
// separators with visible escapes (`\x1b`, `\u009b`, `\u202e`), and every byte
// that is not part of well-formed UTF-8 with `\xHH`. Valid printable UTF-8 is
// kept. The result is valid UTF-8 without control characters. Pure.
[[nodiscard]] std::string terminal_safe(std::string_view text);

// Terminal columns `text` occupies, assuming terminal_safe() output: one per
// code point, two for East Asian wide characters, none for combining marks.
[[nodiscard]] std::size_t display_width(std::string_view text);

// Cuts valid UTF-8 `text` to at most `width` columns on a code point boundary,
// ending in "…" when something was cut. Pure.
[[nodiscard]] std::string fit_width(std::string_view text, std::size_t width);

} // namespace mso
