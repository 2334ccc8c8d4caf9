// Who may send audit entries to the console receiver (daemon/console_receiver.h):
// mlogc sensors, from an htpasswd file (`--sensors`, `htpasswd -B`), checked with
// APR-util's apr_password_validate; and ModSecurity v3 sensors, from a token file
// (`--v3-sensors`, lines `name token [cidr,...]`), whose token is part of the URL.
// Parsing is pure; the checks are constant-time where we compare (tokens, cached
// credentials), and an unknown user costs one bcrypt check like a wrong password.
//
// Thread-safety: a loaded table is immutable apart from its credential cache, which
// has its own mutex; authenticate() and find_token() may run on many threads at once.
#pragma once

#include "util/result.h"

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mso {

// Sensor names become sources ("sensor:<name>"): 1-64 of [A-Za-z0-9._-].
[[nodiscard]] bool valid_sensor_name(std::string_view name) noexcept;

// An IPv4 or IPv6 network, "10.0.0.0/8", "::1/128" or a single address.
struct Network {
    int family = AF_INET;
    std::array<unsigned char, 16> address{};
    int prefix = 0;
};

[[nodiscard]] Result<Network> parse_network(std::string_view text);
// Whether `address` (an IP literal, IPv4-mapped IPv6 counts as IPv4) is in `network`.
[[nodiscard]] bool network_contains(const Network& network, std::string_view address) noexcept;

// One mlogc sensor: its name and password hash (as htpasswd wrote it).
struct MlogcSensor {
    std::string name;
    std::string hash;
};

// One ModSecurity v3 sensor: the token of its URL (/v3/<token>) and the client networks
// it may send from (empty: any).
struct V3Sensor {
    std::string name;
    std::string token;
    std::vector<Network> allow;
};

// Parses an htpasswd file's text: `name:hash` lines, blank lines and `#` comments
// skipped. Only hashes htpasswd writes with a salt are accepted (bcrypt `$2y$`, `$2a$`,
// `$2b$`; `$apr1$`; SHA-crypt `$5$`, `$6$`): plain text and DES crypt are refused.
// Errors name the line ("line 3: ...").
[[nodiscard]] Result<std::vector<MlogcSensor>> parse_htpasswd(std::string_view text);
// Parses a v3 sensors file: `name token [cidr,...]`; the token is at least 32 hex
// digits (modsec-observed --new-token prints 64). Names and tokens are unique.
[[nodiscard]] Result<std::vector<V3Sensor>> parse_v3_sensors(std::string_view text);

// A new token: 32 random bytes (getrandom) as 64 lowercase hex digits.
[[nodiscard]] Result<std::string> new_token();

// Compares in time that depends only on the lengths.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// The sensors in force; replaced as a whole on SIGHUP (held by shared_ptr: requests in
// flight keep the table they started with).
class SensorTable {
public:
    SensorTable() = default;
    SensorTable(std::vector<MlogcSensor> mlogc, std::vector<V3Sensor> v3);

    // Reads both files ("" : none of that kind). Errors name the file.
    [[nodiscard]] static Result<std::shared_ptr<const SensorTable>>
    load(const std::string& sensors_file, const std::string& v3_file);

    // The sensor name when `user` and `password` match; nullopt otherwise. An unknown
    // user is checked against a dummy bcrypt hash, so it costs what a wrong password
    // costs. A successful check is cached (a keyed SHA-256 of the pair), so a sensor's
    // later requests cost a hash, not a bcrypt. Blocks for a bcrypt check (~ms).
    [[nodiscard]] std::optional<std::string> authenticate(std::string_view user,
                                                          std::string_view password) const;
    // The v3 sensor whose token is `token` (every token is compared, in constant time).
    [[nodiscard]] const V3Sensor* find_token(std::string_view token) const noexcept;

    [[nodiscard]] std::size_t mlogc_count() const noexcept { return m_mlogc.size(); }
    [[nodiscard]] std::size_t v3_count() const noexcept { return m_v3.size(); }

private:
    [[nodiscard]] std::string cache_key(std::string_view user, std::string_view password) const;

    std::vector<MlogcSensor> m_mlogc;
    std::vector<V3Sensor> m_v3;
    std::array<unsigned char, 32> m_cache_salt{};
    mutable std::mutex m_cache_mutex;
    mutable std::unordered_map<std::string, std::string> m_verified; // user -> cache_key
};

} // namespace mso
