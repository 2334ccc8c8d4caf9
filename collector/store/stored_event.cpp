// The content hash and the findings blob of stored_event.h.
#include "store/stored_event.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace mso {
namespace {

constexpr std::uint64_t k_fnv_offset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t k_fnv_prime = 0x100000001b3ULL;

// Bits of a finding's flags in the blob.
constexpr std::uint64_t k_data_truncated = 1;
constexpr std::uint64_t k_intercepted = 2;
constexpr std::uint64_t k_truncated = 4;
constexpr std::uint64_t k_engine = 8;

class Hasher {
public:
    // The length, then the bytes as little-endian 64-bit words (the last zero-padded).
    void bytes(std::string_view s) noexcept
    {
        integer(static_cast<std::int64_t>(s.size()));
        if constexpr (std::endian::native == std::endian::little) {
            // The same words, loaded 8 bytes at a time (the hash is stored: it must not
            // change with the way it is computed).
            for (; s.size() >= 8; s.remove_prefix(8)) {
                std::uint64_t word = 0;
                std::memcpy(&word, s.data(), 8);
                mix(word);
            }
        }
        while (!s.empty()) {
            const std::size_t n = std::min<std::size_t>(s.size(), 8);
            std::uint64_t word = 0;
            for (std::size_t i = 0; i < n; ++i) {
                word |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
            }
            mix(word);
            s.remove_prefix(n);
        }
    }
    void integer(std::int64_t v) noexcept { mix(static_cast<std::uint64_t>(v)); }
    [[nodiscard]] std::uint64_t value() const noexcept
    {
        std::uint64_t h = m_h;
        h ^= h >> 33U;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33U;
        return h;
    }

private:
    // FNV-1a's step on 64-bit words, then a rotation so high bits reach low ones.
    void mix(std::uint64_t word) noexcept
    {
        m_h = (m_h ^ word) * k_fnv_prime;
        m_h = (m_h << 29U) | (m_h >> 35U);
    }

    std::uint64_t m_h = k_fnv_offset;
};

std::uint64_t zigzag(int v) noexcept
{
    const auto w = static_cast<std::int64_t>(v);
    return (static_cast<std::uint64_t>(w) << 1U) ^ static_cast<std::uint64_t>(w >> 63);
}

int unzigzag(std::uint64_t u) noexcept
{
    return static_cast<int>(static_cast<std::int64_t>(u >> 1U) ^
                            -static_cast<std::int64_t>(u & 1U));
}

// Id 0 is the empty string, which is never stored.
std::optional<std::int64_t> intern(StringIds& ids, std::string_view text)
{
    if (text.empty()) {
        return 0;
    }
    return ids.id_of(text);
}

std::optional<std::string> resolve(StringIds& ids, std::uint64_t id)
{
    if (id == 0) {
        return std::string();
    }
    return ids.text_of(static_cast<std::int64_t>(id));
}

} // namespace

std::uint64_t content_hash(const RequestEvent& e) noexcept
{
    Hasher h;
    h.integer(e.time_us);
    for (const std::string* s : {&e.vhost, &e.unique_id, &e.client, &e.method, &e.path, &e.query,
                                 &e.protocol, &e.user_agent}) {
        h.bytes(*s);
    }
    for (const int v : {e.port, e.status, e.phase, e.intercepted ? 1 : 0}) {
        h.integer(v);
    }
    h.integer(static_cast<std::int64_t>(e.findings_dropped));
    if (e.scores) {
        const AnomalyScores& s = *e.scores;
        for (const int v : {s.inbound, s.outbound, s.inbound_threshold, s.outbound_threshold,
                            s.blocking_pl, s.detection_pl}) {
            h.integer(v);
        }
        for (std::size_t i = 0; i < 4; ++i) {
            h.integer(s.inbound_pl[i]);
            h.integer(s.outbound_pl[i]);
        }
    } else {
        h.integer(-1);
    }
    h.integer(static_cast<std::int64_t>(e.findings.size()));
    for (const Finding& f : e.findings) {
        for (const std::string* s : {&f.id, &f.msg, &f.severity, &f.target, &f.data}) {
            h.bytes(*s);
        }
        h.integer(static_cast<std::int64_t>(f.tags.size()));
        for (const auto& t : f.tags) {
            h.bytes(t);
        }
        h.integer(f.paranoia_level);
        h.integer(f.phase);
        h.integer((f.data_truncated ? 1 : 0) | (f.intercepted ? 2 : 0) | (f.truncated ? 4 : 0) |
                  (f.engine ? 8 : 0));
    }
    return h.value();
}

std::optional<EngineMode> parse_engine_mode(std::string_view name) noexcept
{
    if (name == "on") {
        return EngineMode::on;
    }
    if (name == "detection_only" || name == "detection-only" || name == "DetectionOnly") {
        return EngineMode::detection_only;
    }
    if (name == "unknown") {
        return EngineMode::unknown;
    }
    return std::nullopt;
}

std::string encode_scores(const std::optional<AnomalyScores>& scores)
{
    std::string out;
    append_scores(scores, out);
    return out;
}

void append_scores(const std::optional<AnomalyScores>& scores, std::string& out)
{
    if (!scores) {
        return;
    }
    const AnomalyScores& s = *scores;
    for (const int v : {s.inbound, s.outbound, s.inbound_threshold, s.outbound_threshold,
                        s.blocking_pl, s.detection_pl}) {
        put_varint(out, zigzag(v));
    }
    for (const int v : s.inbound_pl) {
        put_varint(out, zigzag(v));
    }
    for (const int v : s.outbound_pl) {
        put_varint(out, zigzag(v));
    }
}

std::optional<AnomalyScores> decode_scores(std::string_view blob)
{
    AnomalyScores s;
    std::array<int*, 14> fields{&s.inbound,           &s.outbound,
                                &s.inbound_threshold, &s.outbound_threshold,
                                &s.blocking_pl,       &s.detection_pl};
    for (std::size_t i = 0; i < 4; ++i) {
        fields[6 + i] = &s.inbound_pl[i];
        fields[10 + i] = &s.outbound_pl[i];
    }
    for (int* f : fields) {
        std::uint64_t v = 0;
        if (!get_varint(blob, v)) {
            return std::nullopt;
        }
        *f = unzigzag(v);
    }
    return s;
}

bool encode_findings(const std::vector<Finding>& findings, StringIds& ids, std::string& out)
{
    for (const Finding& f : findings) {
        std::array<std::int64_t, 5> sid{};
        // The tags as one interned string: their list's own encoding.
        const std::array<std::string_view, 5> texts{f.id, f.msg, f.severity, f.tags.encoded(),
                                                    f.target};
        for (std::size_t i = 0; i < texts.size(); ++i) {
            const auto id = intern(ids, texts[i]);
            if (!id) {
                return false;
            }
            sid[i] = *id;
        }
        for (const std::int64_t id : sid) {
            put_varint(out, static_cast<std::uint64_t>(id));
        }
        put_varint(out, zigzag(f.paranoia_level));
        put_varint(out, zigzag(f.phase));
        put_varint(out, (f.data_truncated ? k_data_truncated : 0U) |
                            (f.intercepted ? k_intercepted : 0U) |
                            (f.truncated ? k_truncated : 0U) | (f.engine ? k_engine : 0U));
        put_varint(out, f.data.size());
        out += f.data;
    }
    return true;
}

bool next_finding(std::string_view& blob, BlobFinding& f) noexcept
{
    std::array<std::uint64_t, 9> v{};
    for (auto& x : v) {
        if (!get_varint(blob, x)) {
            return false;
        }
    }
    if (v[8] > blob.size()) {
        return false;
    }
    for (std::size_t i = 0; i < f.strings.size(); ++i) {
        f.strings[i] = static_cast<std::int64_t>(v[i]);
    }
    f.paranoia_level = unzigzag(v[5]);
    f.phase = unzigzag(v[6]);
    f.flags = v[7];
    f.data = blob.substr(0, v[8]);
    blob.remove_prefix(v[8]);
    return true;
}

std::optional<std::vector<Finding>> decode_findings(std::string_view blob, StringIds& ids)
{
    std::vector<Finding> out;
    BlobFinding b;
    while (!blob.empty()) {
        if (!next_finding(blob, b)) {
            return std::nullopt;
        }
        Finding f;
        std::string tags;
        const std::array<std::string*, 5> fields{&f.id, &f.msg, &f.severity, &tags, &f.target};
        for (std::size_t i = 0; i < fields.size(); ++i) {
            auto text = resolve(ids, static_cast<std::uint64_t>(b.strings[i]));
            if (!text) {
                return std::nullopt;
            }
            *fields[i] = std::move(*text);
        }
        auto tag_list = TagList::from_encoded(tags);
        if (!tag_list) {
            return std::nullopt;
        }
        f.tags = std::move(*tag_list);
        f.paranoia_level = b.paranoia_level;
        f.phase = b.phase;
        f.data_truncated = (b.flags & k_data_truncated) != 0;
        f.intercepted = (b.flags & k_intercepted) != 0;
        f.truncated = (b.flags & k_truncated) != 0;
        f.engine = (b.flags & k_engine) != 0;
        f.data = std::string(b.data);
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<std::int64_t> finding_rule_ids(std::string_view blob)
{
    std::vector<std::int64_t> out;
    finding_rule_ids(blob, out);
    return out;
}

void finding_rule_ids(std::string_view blob, std::vector<std::int64_t>& out)
{
    out.clear();
    BlobFinding b;
    while (!blob.empty()) {
        if (!next_finding(blob, b)) {
            out.clear();
            return;
        }
        const std::int64_t id = b.strings[BlobFinding::k_rule];
        bool seen = id == 0;
        for (const auto r : out) {
            seen = seen || r == id;
        }
        if (!seen) {
            out.push_back(id);
        }
    }
}

} // namespace mso
