// The vhost label map (vhost_map.h).
#include "cli/vhost_map.h"

#include "util/errno_text.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

namespace mso {
namespace {

constexpr std::size_t k_max_label_bytes = 256;
constexpr std::size_t k_max_file_bytes = 16 * 1024 * 1024;

std::string lowercase(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

std::vector<std::string_view> fields(std::string_view line)
{
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
            ++i;
        }
        const std::size_t begin = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
            ++i;
        }
        if (i > begin) {
            out.push_back(line.substr(begin, i - begin));
        }
    }
    return out;
}

} // namespace

Result<VhostMap> VhostMap::parse(std::string_view text, std::string_view name)
{
    VhostMap map;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        const std::size_t newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const auto f = fields(line);
        if (f.empty() || f.front().starts_with('#')) {
            continue;
        }
        const std::string where = std::string(name) + ":" + std::to_string(number) + ": ";
        if (f.size() != 2) {
            return fail(where + "expected HOST LABEL, found " + std::to_string(f.size()) +
                        (f.size() == 1 ? " field" : " fields"));
        }
        if (f[1].size() > k_max_label_bytes) {
            return fail(where + "the label is longer than " + std::to_string(k_max_label_bytes) +
                        " bytes");
        }
        if (f[0] == "*") {
            if (map.m_default) {
                return fail(where + "`*` is named twice");
            }
            map.m_default = std::string(f[1]);
            continue;
        }
        if (!map.m_labels.emplace(lowercase(f[0]), std::string(f[1])).second) {
            return fail(where + "host " + std::string(f[0]) + " is named twice");
        }
    }
    return map;
}

Result<VhostMap> VhostMap::load(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(path + ": " + errno_text(errno));
    }
    std::string text;
    text.resize(k_max_file_bytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > k_max_file_bytes) {
        return fail(path + ": larger than 16 MiB");
    }
    return parse(text, path);
}

std::string_view VhostMap::label(std::string_view host) const
{
    std::string key = lowercase(host);
    if (const auto it = m_labels.find(key); it != m_labels.end()) {
        return it->second;
    }
    // Without the port: "shop.example:8443" and "[::1]:8443", not "::1".
    const std::size_t colon = key.rfind(':');
    const bool has_port = colon != std::string::npos &&
                          (key.starts_with('[') ? key.find(']') < colon : key.find(':') == colon);
    if (has_port) {
        key.resize(colon);
        if (const auto it = m_labels.find(key); it != m_labels.end()) {
            return it->second;
        }
    }
    if (m_default) {
        return *m_default;
    }
    return host;
}

} // namespace mso
