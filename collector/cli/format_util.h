// Field access for the CLI's formatters (formatters.h, live_view.h): answers come from a
// socket, so every field is read defensively (missing or wrong-typed: "-" or 0) and every string is
// passed through terminal_safe(). Pure.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mso::format_util {

// A JSON value as one escaped line.
[[nodiscard]] std::string dump_safe(const nlohmann::ordered_json& j);
// A field as display text: strings escaped, numbers and booleans as written, else "-".
[[nodiscard]] std::string field(const nlohmann::ordered_json& obj, const char* key);
// The "vhost" field of `obj` for display: field()'s text, but `""` for the empty name
// (a vhost without a ServerName), which would otherwise be invisible.
[[nodiscard]] std::string vhost_name(const nlohmann::ordered_json& obj);
// An unsigned field, 0 when missing or of another type.
[[nodiscard]] std::uint64_t number(const nlohmann::ordered_json& obj, const char* key);
// Whether the rows of an answer name more than one distinct "source": the views show a
// SOURCE column (or the source of each block) only then.
[[nodiscard]] bool several_sources(const nlohmann::ordered_json& rows);
// `columns`' cells with the row's source first when `with_source`.
[[nodiscard]] std::vector<std::string>
with_source(bool with_source, const nlohmann::ordered_json& row, std::vector<std::string> cells);
// Indents every line of `text` by `spaces`.
[[nodiscard]] std::string indent(const std::string& text, std::size_t spaces);

} // namespace mso::format_util
