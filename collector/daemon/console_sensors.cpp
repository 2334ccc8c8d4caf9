// The sensor tables of console_sensors.h. Passwords are checked by APR-util (the
// library htpasswd itself uses), so every hash htpasswd writes verifies the same way.
#include "daemon/console_sensors.h"

#include "util/errno_text.h"

#include <apr_general.h>
#include <apr_md5.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace mso {
namespace {

// A bcrypt hash (cost 5, htpasswd -B's default) of a random password nobody knows:
// what an unknown user's password is checked against.
constexpr const char* k_dummy_hash = "$2y$05$X37m02XmYIzpjX6nzSFP.uIcE73UqUA51laRRFreK2TuROwzfa6Ju";

constexpr std::size_t k_max_sensors_file = 4 * 1024 * 1024;

void init_apr_once()
{
    static std::once_flag once;
    std::call_once(once, [] { (void)apr_initialize(); });
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

bool salted_hash(std::string_view hash)
{
    for (const std::string_view prefix : {"$2y$", "$2a$", "$2b$", "$apr1$", "$5$", "$6$"}) {
        if (hash.starts_with(prefix)) {
            return true;
        }
    }
    return false;
}

bool is_hex(std::string_view s) noexcept
{
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

// Splits `text` into lines and calls `line(number, trimmed)` for each that is not blank
// or a comment; stops at the first error.
template <typename Line> Result<void> for_each_line(std::string_view text, Line&& line)
{
    std::size_t number = 0;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view raw = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++number;
        const std::string_view content = trim(raw);
        if (content.empty() || content.front() == '#') {
            continue;
        }
        if (auto done = line(number, content); !done) {
            return fail("line " + std::to_string(number) + ": " + done.error());
        }
    }
    return ok();
}

Result<std::string> read_small_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail("cannot open " + path + ": " + errno_text(errno));
    }
    std::string text;
    char buffer[8192];
    while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > k_max_sensors_file) {
            return fail(path + ": larger than 4 MiB");
        }
    }
    return text;
}

} // namespace

bool valid_sensor_name(std::string_view name) noexcept
{
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

Result<Network> parse_network(std::string_view text)
{
    Network net;
    const std::size_t slash = text.find('/');
    const std::string address(text.substr(0, slash));
    if (::inet_pton(AF_INET, address.c_str(), net.address.data()) == 1) {
        net.family = AF_INET;
        net.prefix = 32;
    } else if (::inet_pton(AF_INET6, address.c_str(), net.address.data()) == 1) {
        net.family = AF_INET6;
        net.prefix = 128;
    } else {
        return fail("\"" + std::string(text) + "\" is not an IP address or network");
    }
    if (slash != std::string_view::npos) {
        const std::string_view bits = text.substr(slash + 1);
        int prefix = -1;
        const auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
        if (bits.empty() || ec != std::errc() || ptr != bits.data() + bits.size() || prefix < 0 ||
            prefix > net.prefix) {
            return fail("\"" + std::string(text) + "\" has an invalid prefix length");
        }
        net.prefix = prefix;
    }
    return net;
}

bool network_contains(const Network& network, std::string_view address) noexcept
{
    std::array<unsigned char, 16> bytes{};
    std::string text(address);
    int family = AF_INET;
    if (::inet_pton(AF_INET, text.c_str(), bytes.data()) != 1) {
        if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) {
            return false;
        }
        family = AF_INET6;
        // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
        static constexpr unsigned char k_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (network.family == AF_INET && std::equal(k_mapped, k_mapped + 12, bytes.begin())) {
            std::copy(bytes.begin() + 12, bytes.end(), bytes.begin());
            family = AF_INET;
        }
    }
    if (family != network.family) {
        return false;
    }
    const int whole = network.prefix / 8;
    for (int i = 0; i < whole; ++i) {
        if (bytes[static_cast<std::size_t>(i)] != network.address[static_cast<std::size_t>(i)]) {
            return false;
        }
    }
    const int rest = network.prefix % 8;
    if (rest == 0) {
        return true;
    }
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (bytes[static_cast<std::size_t>(whole)] & mask) ==
           (network.address[static_cast<std::size_t>(whole)] & mask);
}

Result<std::vector<MlogcSensor>> parse_htpasswd(std::string_view text)
{
    std::vector<MlogcSensor> sensors;
    std::set<std::string, std::less<>> names;
    auto parsed = for_each_line(text, [&](std::size_t, std::string_view line) -> Result<void> {
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            return fail("expected name:hash (create entries with htpasswd -B)");
        }
        const std::string_view name = line.substr(0, colon);
        const std::string_view hash = line.substr(colon + 1);
        if (!valid_sensor_name(name)) {
            return fail("sensor name \"" + std::string(name) +
                        "\" is not 1-64 of letters, digits, '.', '_', '-'");
        }
        if (!salted_hash(hash)) {
            return fail("sensor " + std::string(name) +
                        ": unsupported hash (use htpasswd -B for bcrypt; plain text and DES crypt "
                        "are refused)");
        }
        if (!names.insert(std::string(name)).second) {
            return fail("sensor " + std::string(name) + " appears twice");
        }
        sensors.push_back(MlogcSensor{std::string(name), std::string(hash)});
        return ok();
    });
    if (!parsed) {
        return fail(parsed.error());
    }
    return sensors;
}

Result<std::vector<V3Sensor>> parse_v3_sensors(std::string_view text)
{
    std::vector<V3Sensor> sensors;
    std::set<std::string, std::less<>> names;
    std::set<std::string, std::less<>> tokens;
    auto parsed = for_each_line(text, [&](std::size_t, std::string_view line) -> Result<void> {
        std::istringstream fields{std::string(line)};
        V3Sensor sensor;
        std::string networks;
        fields >> sensor.name >> sensor.token >> networks;
        std::string extra;
        if (sensor.token.empty() || (fields >> extra)) {
            return fail("expected: name token [cidr,...]");
        }
        if (!valid_sensor_name(sensor.name)) {
            return fail("sensor name \"" + sensor.name +
                        "\" is not 1-64 of letters, digits, '.', '_', '-'");
        }
        if (sensor.token.size() < 32 || sensor.token.size() > 128 || !is_hex(sensor.token)) {
            return fail("sensor " + sensor.name +
                        ": the token must be 32 to 128 hex digits (modsec-observed --new-token)");
        }
        std::size_t start = 0;
        while (start < networks.size()) {
            const std::size_t comma = networks.find(',', start);
            const std::string item = networks.substr(start, comma - start);
            start = comma == std::string::npos ? networks.size() : comma + 1;
            if (item.empty()) {
                continue;
            }
            auto net = parse_network(item);
            if (!net) {
                return fail("sensor " + sensor.name + ": " + net.error());
            }
            sensor.allow.push_back(*net);
        }
        if (!names.insert(sensor.name).second) {
            return fail("sensor " + sensor.name + " appears twice");
        }
        if (!tokens.insert(sensor.token).second) {
            return fail("sensor " + sensor.name + ": its token is another sensor's");
        }
        sensors.push_back(std::move(sensor));
        return ok();
    });
    if (!parsed) {
        return fail(parsed.error());
    }
    return sensors;
}

Result<std::string> new_token()
{
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof(bytes)) {
        const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail("getrandom: " + errno_text(errno));
        }
        got += static_cast<std::size_t>(n);
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string token;
    for (const unsigned char b : bytes) {
        token.push_back(k_hex[b >> 4]);
        token.push_back(k_hex[b & 15]);
    }
    return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = static_cast<unsigned char>(
            diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
    }
    return diff == 0;
}

SensorTable::SensorTable(std::vector<MlogcSensor> mlogc, std::vector<V3Sensor> v3)
    : m_mlogc(std::move(mlogc)), m_v3(std::move(v3))
{
    init_apr_once();
    std::size_t got = 0;
    while (got < m_cache_salt.size()) {
        const ssize_t n = ::getrandom(m_cache_salt.data() + got, m_cache_salt.size() - got, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            break; // the salt is a hardening, not the check itself
        }
        got += static_cast<std::size_t>(n);
    }
}

Result<std::shared_ptr<const SensorTable>> SensorTable::load(const std::string& sensors_file,
                                                             const std::string& v3_file)
{
    std::vector<MlogcSensor> mlogc;
    std::vector<V3Sensor> v3;
    if (!sensors_file.empty()) {
        auto text = read_small_file(sensors_file);
        if (!text) {
            return fail(text.error());
        }
        auto parsed = parse_htpasswd(*text);
        if (!parsed) {
            return fail(sensors_file + ": " + parsed.error());
        }
        mlogc = std::move(*parsed);
    }
    if (!v3_file.empty()) {
        auto text = read_small_file(v3_file);
        if (!text) {
            return fail(text.error());
        }
        auto parsed = parse_v3_sensors(*text);
        if (!parsed) {
            return fail(v3_file + ": " + parsed.error());
        }
        v3 = std::move(*parsed);
    }
    return std::shared_ptr<const SensorTable>(
        std::make_shared<SensorTable>(std::move(mlogc), std::move(v3)));
}

std::string SensorTable::cache_key(std::string_view user, std::string_view password) const
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) {
        return {};
    }
    const std::uint64_t user_size = user.size();
    const bool done = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                      EVP_DigestUpdate(ctx, m_cache_salt.data(), m_cache_salt.size()) == 1 &&
                      EVP_DigestUpdate(ctx, &user_size, sizeof(user_size)) == 1 &&
                      EVP_DigestUpdate(ctx, user.data(), user.size()) == 1 &&
                      EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                      EVP_DigestFinal_ex(ctx, digest, &length) == 1;
    EVP_MD_CTX_free(ctx);
    return done ? std::string(reinterpret_cast<const char*>(digest), length) : std::string{};
}

std::optional<std::string> SensorTable::authenticate(std::string_view user,
                                                     std::string_view password) const
{
    const MlogcSensor* found = nullptr;
    for (const MlogcSensor& sensor : m_mlogc) {
        if (sensor.name == user) {
            found = &sensor;
        }
    }
    const std::string key = cache_key(user, password);
    if (found != nullptr && !key.empty()) {
        const std::lock_guard lock(m_cache_mutex);
        const auto it = m_verified.find(found->name);
        if (it != m_verified.end() && constant_time_equal(it->second, key)) {
            return found->name;
        }
    }
    // apr_password_validate needs NUL-terminated strings; a NUL inside fails the check.
    const std::string given(password);
    const bool valid =
        apr_password_validate(given.c_str(), found != nullptr ? found->hash.c_str()
                                                              : k_dummy_hash) == APR_SUCCESS &&
        given.size() == std::string_view(given.c_str()).size();
    if (found == nullptr || !valid) {
        return std::nullopt;
    }
    if (!key.empty()) {
        const std::lock_guard lock(m_cache_mutex);
        m_verified[found->name] = key;
    }
    return found->name;
}

const V3Sensor* SensorTable::find_token(std::string_view token) const noexcept
{
    const V3Sensor* found = nullptr;
    for (const V3Sensor& sensor : m_v3) {
        if (constant_time_equal(sensor.token, token)) {
            found = &sensor;
        }
    }
    return found;
}

} // namespace mso
