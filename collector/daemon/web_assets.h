// The dashboard's files (collector/web/ and the charting library), embedded at build
// time: CMake writes web_assets.cpp into the build directory from the files
// (collector/web/embed_assets.cmake), so the binary serves them with nothing to install.
#pragma once

#include <span>
#include <string_view>

namespace mso {

struct WebAsset {
    std::string_view path;         // as requested, e.g. "/app.js"
    std::string_view content_type; // with charset where it is text
    std::string_view body;
};

// Every embedded file; "/index.html" among them. Static storage, never changes.
[[nodiscard]] std::span<const WebAsset> web_assets();

} // namespace mso
