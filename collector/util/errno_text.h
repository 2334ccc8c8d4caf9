// The text of an errno value, for error messages ("cannot bind /run/x.sock: " +
// errno_text(errno)): the collector's one way to turn errno into words.
#pragma once

#include <string>

namespace mso {

// The system's description of `err` ("Permission denied"), or "Unknown error N".
// Thread-safe (unlike std::strerror); never blocks. Pass a saved copy of errno when
// other calls come between the failure and the message.
[[nodiscard]] std::string errno_text(int err);

} // namespace mso
