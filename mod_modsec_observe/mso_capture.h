// Capture of mod_security2's messages about a request through Apache's error_log hook.
// Messages are copied into the root request's pool (bounded per request) and read back
// in the logging phase, where the encoder makes findings of the alerts among them. Called on the
// request's own thread; never blocks, never allocates outside the request pool.
#pragma once

#include "httpd_api.h"

#include <cstddef>
#include <string_view>

namespace mso {

// Per-request bound on kept messages and their bytes; beyond them messages are counted
// as dropped, never silently lost.
inline constexpr std::size_t k_max_messages = 128;
inline constexpr std::size_t k_max_message_bytes = 64 * 1024;

// mod_security2's messages about one request chain, unescaped, in the order logged.
struct CapturedMessages {
    std::string_view messages[k_max_messages];
    std::size_t count = 0;
    std::size_t bytes = 0;
    std::size_t dropped = 0;
};

// Set at post_config: mod_security2's module index, or -1 when it is not loaded.
void set_modsec_module_index(int index) noexcept;
[[nodiscard]] int modsec_module_index() noexcept;

void capture_error_log(const ap_errorlog_info* info, const char* errstr) noexcept;

// The first request of a chain of subrequests and internal redirects.
const request_rec* root_request(const request_rec* r) noexcept;

// What was captured for the request chain `root` starts, or nullptr.
const CapturedMessages* captured_messages(const request_rec* root) noexcept;

} // namespace mso
