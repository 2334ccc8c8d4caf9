// The values of the ModSecObserve* directives: what each accepts, its bounds and its
// default, and the parsing of its argument. Free of httpd and APR so that the unit tests
// can run it; mso_config.cpp's handlers call it and store the result in the server's
// record. A failure is the "<Directive>: reason" text that the handler returns to httpd,
// which fails start-up with it. Runs at configuration time only; thread-compatible.
#pragma once

#include "event_encoder.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace mso {

// ModSecObserveEvents.
enum class EventMode { unset, flagged, all };

inline constexpr const char* k_default_socket = "/run/modsec-observe/events.sock";
inline constexpr int k_default_flush_interval_ms = 1000;
// ModSecObserveProtocol.
inline constexpr int k_default_protocol = 2;
inline constexpr int k_min_flush_interval_ms = 50;
inline constexpr int k_max_flush_interval_ms = 60000;
// ModSecObserveVhostName.
inline constexpr std::size_t k_max_vhost_name_bytes = 255;
// ModSecObserveMatchedData: the default "truncate:32", and "full" (the decoder's string
// bound; ModSecurity's own logdata limit is lower).
inline constexpr int k_default_data_bytes = 32;
inline constexpr int k_full_data_bytes = 4096;
// ModSecObserveSpool: the directory path's bound, and the max-size of a spool file.
inline constexpr std::size_t k_max_spool_dir_bytes = 3000;
inline constexpr std::uint64_t k_default_spool_max_bytes = 16ULL * 1024 * 1024;
inline constexpr std::uint64_t k_min_spool_max_bytes = 64ULL * 1024;
inline constexpr std::uint64_t k_max_spool_max_bytes = 64ULL * 1024 * 1024 * 1024;

// Why a directive's argument was rejected: "<Directive>: reason".
struct Rejection {
    std::string error;
};

[[nodiscard]] inline Rejection rejected(std::string error)
{
    return Rejection{std::move(error)};
}

// A directive's parsed value, or its Rejection.
template <typename T> class [[nodiscard]] DirectiveValue {
public:
    // NOLINTBEGIN(google-explicit-constructor): `return value;` and `return rejected(...);`
    DirectiveValue(T value) : m_value(std::move(value)) {}
    DirectiveValue(Rejection r) : m_error(std::move(r.error)) {}
    // NOLINTEND(google-explicit-constructor)

    [[nodiscard]] bool has_value() const noexcept { return m_error.empty(); }
    explicit operator bool() const noexcept { return has_value(); }
    // The value; only when has_value().
    [[nodiscard]] const T& operator*() const noexcept { return m_value; }
    [[nodiscard]] const T* operator->() const noexcept { return &m_value; }
    // "<Directive>: reason"; "" when has_value().
    [[nodiscard]] const std::string& error() const noexcept { return m_error; }

private:
    T m_value{};
    std::string m_error;
};

// ModSecObserveMatchedData: the mode, and the byte limit in keep mode (0 otherwise).
struct MatchedDataSetting {
    MatchedDataMode mode = MatchedDataMode::keep;
    int bytes = 0;

    bool operator==(const MatchedDataSetting&) const = default;
};

// ModSecObserveSpool DIR [MAX]: the directory, and the max-size of each spool file.
struct SpoolSetting {
    const char* dir = nullptr; // the argument itself
    std::uint64_t max_bytes = k_default_spool_max_bytes;
};

// Each takes the directive's argument as httpd passes it (NUL-terminated, non-null).

// ModSecObserveSocket: an absolute path that fits in sockaddr_un; gives the path.
DirectiveValue<const char*> parse_socket_path(const char* arg);

// ModSecObserveVhostName: 1 to 255 bytes, no space, quote, backslash or control
// character; gives the label.
DirectiveValue<const char*> parse_vhost_name(const char* arg);

// ModSecObserveEvents: "flagged" or "all" (case matters).
DirectiveValue<EventMode> parse_event_mode(const char* arg);

// ModSecObserveMatchedData: "full", "truncate:N" (N from 1 to k_full_data_bytes),
// "hash" or "off" (case matters).
DirectiveValue<MatchedDataSetting> parse_matched_data(const char* arg);

// ModSecObserveProtocol: "1" (the module parses alerts into JSON findings) or "2" (it
// sends them raw for the collector to parse; the default, docs/protocol.md 1.3).
DirectiveValue<int> parse_protocol(const char* arg);

// ModSecObserveFlushInterval: milliseconds from 50 to 60000.
DirectiveValue<int> parse_flush_interval(const char* arg);

// A spool file's max-size: bytes, or a number with K, M or G (either case), from 64K to
// 64G; 0 when malformed or out of range.
[[nodiscard]] std::uint64_t parse_spool_size(const char* arg) noexcept;

// ModSecObserveSpool: an absolute directory of at most 3000 bytes, and `size` (nullptr:
// the default 16M) as parse_spool_size reads it.
DirectiveValue<SpoolSetting> parse_spool(const char* dir, const char* size);

// The argument of one `SecRuleEngine` line, as mod_security2 reads it (On, Off or
// DetectionOnly in any case, optionally in double quotes, blanks around): "on", "off"
// or "detection_only" (the names the collector uses), nullptr for anything else.
[[nodiscard]] const char* sec_rule_engine_value(std::string_view args) noexcept;

} // namespace mso
