// The vhost label map of `modsec-observe import --vhost-map FILE`: which label each Host
// header becomes, so imported events carry the labels the module uses (its
// ModSecObserveVhostName or ServerName) instead of whatever the client sent.
//
// The file: one `HOST LABEL` pair per line, separated by spaces or tabs; blank lines and
// lines starting with `#` (after optional blanks) are ignored. HOST matches the Host
// header case-insensitively, first as sent (`shop.example:8443`), then without its port;
// HOST `*` gives the label of every Host the file does not name. Without `*`, an
// unmapped Host keeps its own name. A line with another number of fields, a HOST named
// twice, or a label longer than 256 bytes is an error naming the line. Pure; thread-safe
// after construction.
#pragma once

#include "util/result.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mso {

class VhostMap {
public:
    // Parses the text of a map file; errors start with "NAME:LINE: ".
    [[nodiscard]] static Result<VhostMap> parse(std::string_view text, std::string_view name);
    // Reads and parses the file at `path` (at most 16 MiB).
    [[nodiscard]] static Result<VhostMap> load(const std::string& path);

    // The label of an event whose Host header was `host`.
    [[nodiscard]] std::string_view label(std::string_view host) const;
    [[nodiscard]] std::size_t size() const noexcept { return m_labels.size(); }

private:
    std::unordered_map<std::string, std::string> m_labels; // lowercase host -> label
    std::optional<std::string> m_default;                  // the `*` line
};

} // namespace mso
