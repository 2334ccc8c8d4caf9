// The import stream's lines (import_line.h).
#include "protocol/import_line.h"

#include "event_fields.h"
#include "json_writer.h"
#include "protocol/query.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

// The limits of common/event_encoder.h's defaults: what the module itself sends.
constexpr std::size_t k_max_findings = 128;
constexpr std::size_t k_max_path = 1024;
constexpr std::size_t k_max_user_agent = 256;
constexpr std::size_t k_max_msg = 512;
// Room kept for the keys after the findings.
constexpr std::size_t k_tail_reserve = 128;

// The raw text of a top-level string value named `key` in a JSON object, when the
// value holds no escapes; nullopt otherwise. A scan that tracks strings and depth, so
// a key inside a nested object or a string never counts. Meant for text that already
// parsed as JSON; on other text it finds nothing or something meaningless, never reads
// out of bounds.
std::optional<std::string_view> top_level_string(std::string_view text, std::string_view key)
{
    int depth = 0;
    bool expect_key = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') {
            const std::size_t begin = i + 1;
            std::size_t end = begin;
            bool escaped = false;
            while (end < text.size() && text[end] != '"') {
                escaped |= text[end] == '\\';
                end += text[end] == '\\' ? 2U : 1U;
            }
            if (end >= text.size()) {
                return std::nullopt;
            }
            const std::string_view name = text.substr(begin, end - begin);
            i = end;
            if (depth != 1 || !expect_key) {
                continue;
            }
            expect_key = false;
            if (escaped || name != key) {
                continue;
            }
            std::size_t v = i + 1;
            while (v < text.size() && (text[v] == ' ' || text[v] == ':' || text[v] == '\t')) {
                ++v;
            }
            if (v >= text.size() || text[v] != '"') {
                return std::nullopt;
            }
            const std::size_t close = text.find_first_of("\"\\", v + 1);
            if (close == std::string_view::npos || text[close] != '"') {
                return std::nullopt;
            }
            return text.substr(v + 1, close - v - 1);
        }
        if (c == '{' || c == '[') {
            ++depth;
            expect_key = c == '{' && depth == 1;
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
    }
    return std::nullopt;
}

void write_scores(JsonWriter& w, const std::optional<AnomalyScores>& s)
{
    w.key(k_field_scores);
    if (!s) {
        w.null();
        return;
    }
    w.begin_object();
    w.key(k_field_inbound);
    w.integer(s->inbound);
    w.key(k_field_outbound);
    w.integer(s->outbound);
    w.key(k_field_inbound_pl);
    w.begin_array();
    for (const int v : s->inbound_pl) {
        w.integer(v);
    }
    w.end_array();
    w.key(k_field_outbound_pl);
    w.begin_array();
    for (const int v : s->outbound_pl) {
        w.integer(v);
    }
    w.end_array();
    const std::array<std::pair<std::string_view, int>, 4> known_if_set{{
        {k_field_inbound_threshold, s->inbound_threshold},
        {k_field_outbound_threshold, s->outbound_threshold},
        {k_field_blocking_pl, s->blocking_pl},
        {k_field_detection_pl, s->detection_pl},
    }};
    for (const auto& [key, value] : known_if_set) {
        if (value > 0) {
            w.key(key);
            w.integer(value);
        }
    }
    w.end_object();
}

void write_finding(JsonWriter& w, const Finding& f, std::size_t max_data)
{
    w.begin_object();
    w.key(k_field_id);
    w.string(f.id, 32);
    w.key(k_field_msg);
    w.string(f.msg, k_max_msg);
    w.key(k_field_severity);
    w.string(f.severity, 16);
    w.key(k_field_pl);
    w.integer(f.paranoia_level);
    w.key(k_field_phase);
    w.integer(f.phase);
    w.key(k_field_tags);
    w.begin_array();
    std::size_t written = 0;
    for (const std::string_view tag : f.tags) {
        if (written++ == k_max_tags_per_finding) {
            break;
        }
        w.string(tag, 128);
    }
    w.end_array();
    w.key(k_field_target);
    w.string(f.target, 256);
    w.key(k_field_data);
    bool cut = false;
    if (max_data == 0) {
        w.string(""); // off: nothing of it, as the module's `off`
    } else {
        w.string(f.data, std::min(max_data, k_import_data_max), &cut);
    }
    if (max_data != 0 && (cut || f.data_truncated)) {
        w.key(k_field_data_truncated);
        w.boolean(true);
    }
    w.key(k_field_intercepted);
    w.boolean(f.intercepted);
    w.key(k_field_truncated);
    w.boolean(f.truncated);
    if (f.engine) {
        w.key(k_field_engine);
        w.boolean(true);
    }
    w.end_object();
}

} // namespace

std::optional<Result<std::string>> parse_import_start(std::string_view line)
{
    if (line.find("\"import\"") == std::string_view::npos) {
        return std::nullopt; // the usual query: no parse here
    }
    const json request = json::parse(line.begin(), line.end(), nullptr, false);
    if (!request.is_object()) {
        return std::nullopt;
    }
    const auto cmd = request.find(query_key::k_cmd);
    if (cmd == request.end() || !cmd->is_string() ||
        cmd->get_ref<const std::string&>() != "import") {
        return std::nullopt;
    }
    const auto source = request.find(import_key::k_source);
    if (source == request.end() || !source->is_string()) {
        return Result<std::string>(fail("import: \"source\" must be a string"));
    }
    const std::string& name = source->get_ref<const std::string&>();
    if (name.empty() || name.size() > k_max_source_bytes) {
        return Result<std::string>(fail("import: \"source\" must have 1 to " +
                                        std::to_string(k_max_source_bytes) + " bytes"));
    }
    for (const char c : name) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return Result<std::string>(fail("import: \"source\" has a control character"));
        }
    }
    if (name == "module") {
        return Result<std::string>(fail("import: the source \"module\" is the module's own"));
    }
    return Result<std::string>(name);
}

std::string import_start_line(std::string_view source)
{
    json j;
    j[query_key::k_cmd] = "import";
    j[import_key::k_source] = std::string(source);
    return dump_line(j);
}

ImportLineKind import_line_kind(std::string_view line)
{
    const auto cmd = top_level_string(line, query_key::k_cmd);
    if (!cmd) {
        return line.find("\"cmd\"") == std::string_view::npos ? ImportLineKind::event
                                                              : ImportLineKind::bad_command;
    }
    if (*cmd == "sync") {
        return ImportLineKind::sync;
    }
    if (*cmd == "end") {
        return ImportLineKind::end;
    }
    return ImportLineKind::bad_command;
}

std::variant<ImportedEvent, DecodeFailure> decode_import_line(std::string_view line)
{
    Decoded decoded = decode_datagram(line);
    if (auto* failure = std::get_if<DecodeFailure>(&decoded)) {
        return std::move(*failure);
    }
    auto* event = std::get_if<RequestEvent>(&decoded);
    if (event == nullptr) {
        return DecodeFailure{DecodeError::unknown_type, "an import line must be a request event"};
    }
    ImportedEvent out;
    out.event = std::move(*event);
    if (const auto mode = top_level_string(line, import_key::k_engine_mode)) {
        if (*mode == engine_mode_name(EngineMode::on)) {
            out.engine_mode = EngineMode::on;
        } else if (*mode == engine_mode_name(EngineMode::detection_only)) {
            out.engine_mode = EngineMode::detection_only;
        }
    }
    return out;
}

void encode_import_line(const RequestEvent& e, std::string_view vhost, EngineMode mode,
                        std::string& out, std::size_t max_data)
{
    out.resize(k_max_import_line_bytes);
    JsonWriter w(out.data(), out.size());
    w.begin_object();
    w.key(k_field_version);
    w.integer(1);
    w.key(k_field_type);
    w.string(k_type_request);
    w.key(k_field_time_us);
    w.integer(e.time_us);
    w.key(k_field_vhost);
    w.string(vhost, 256);
    w.key(k_field_port);
    w.integer(e.port);
    w.key(k_field_unique_id);
    w.string(e.unique_id, 128);
    w.key(k_field_client);
    w.string(e.client, 64);
    w.key(k_field_method);
    w.string(e.method, 32);
    w.key(k_field_path);
    w.string(e.path, k_max_path);
    w.key(k_field_query);
    w.string(e.query, k_max_path);
    w.key(k_field_status);
    w.integer(e.status);
    w.key(k_field_protocol);
    w.string(e.protocol, 32);
    w.key(k_field_user_agent);
    w.string(e.user_agent, k_max_user_agent);
    write_scores(w, e.scores);
    w.key(import_key::k_engine_mode);
    w.string(engine_mode_name(mode));
    w.reserve(k_tail_reserve);
    w.key(k_field_findings);
    w.begin_array();
    std::uint64_t dropped = e.findings_dropped;
    std::size_t written = 0;
    for (const Finding& f : e.findings) {
        if (written == k_max_findings) {
            ++dropped;
            continue;
        }
        const JsonWriter::Mark before = w.mark();
        write_finding(w, f, max_data);
        if (w.overflowed()) {
            w.rollback(before);
            ++dropped;
            continue;
        }
        ++written;
    }
    w.release_reserve();
    w.end_array();
    w.key(k_field_findings_dropped);
    w.integer(static_cast<std::int64_t>(dropped));
    w.key(k_field_intercepted);
    w.boolean(e.intercepted);
    w.key(k_field_phase);
    w.integer(e.phase);
    w.end_object();
    out.resize(w.overflowed() ? 0 : w.view().size());
}

Result<std::size_t> matched_data_bytes(std::string_view value)
{
    if (value.empty()) {
        return k_import_data_default;
    }
    if (value == "full") {
        return k_import_data_max;
    }
    if (value == "off") {
        return std::size_t{0};
    }
    constexpr std::string_view truncate = "truncate:";
    if (value.starts_with(truncate)) {
        const std::string_view digits = value.substr(truncate.size());
        std::size_t n = 0;
        const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (err == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
            n <= k_import_data_max) {
            return n;
        }
    }
    return fail("'" + std::string(value) + "' is not full, truncate:N (N from 0 to " +
                std::to_string(k_import_data_max) + ") or off");
}

void limit_matched_data(Finding& finding, std::size_t max_data) noexcept
{
    std::string& data = finding.data;
    if (max_data == 0) { // off: nothing of it, and no mark (as the module's `off`)
        data.clear();
        finding.data_truncated = false;
        return;
    }
    if (max_data > k_import_data_max)
        max_data = k_import_data_max;
    if (data.size() <= max_data)
        return;
    std::size_t n = max_data;
    // Back off over continuation bytes to the start of the character that would be cut
    // (at most three: a UTF-8 character is at most four bytes).
    for (std::size_t back = 0;
         back < 3 && n > 0 && (static_cast<unsigned char>(data[n]) & 0xC0) == 0x80; ++back)
        --n;
    data.resize(n);
    finding.data_truncated = true;
}

} // namespace mso
