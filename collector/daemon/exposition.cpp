// Writes the Prometheus text format (0.0.4). Everything appends to a caller's
// string so a whole scrape is one growing buffer; nothing here can fail on
// input, only on memory.
#include "daemon/exposition.h"

#include <charconv>
#include <cmath>
#include <cstddef>

namespace mso {

namespace {

constexpr std::string_view k_replacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the well-formed UTF-8 sequence at the start of `text`, 0 when the
// first byte does not start one (Unicode 15, table 3-7).
std::size_t utf8_sequence_length(std::string_view text)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char b0 = byte(0);
    if (b0 < 0x80) {
        return 1;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        low = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
        high = b0 == 0xED ? 0x9F : 0xBF; // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        low = b0 == 0xF0 ? 0x90 : 0x80;  // no overlong forms
        high = b0 == 0xF4 ? 0x8F : 0xBF; // nothing above U+10FFFF
    } else {
        return 0;
    }
    if (text.size() < length || byte(1) < low || byte(1) > high) {
        return 0;
    }
    for (std::size_t i = 2; i < length; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xBF) {
            return 0;
        }
    }
    return length;
}

// Appends `text` as valid UTF-8 with `\` and newline escaped, and `"` too when
// `quote` (label values; HELP text keeps its quotes).
void append_escaped(std::string& out, std::string_view text, bool quote)
{
    out.reserve(out.size() + text.size());
    while (!text.empty()) {
        const std::size_t length = utf8_sequence_length(text);
        if (length == 0) {
            out += k_replacement;
            text.remove_prefix(1);
            continue;
        }
        if (length == 1) {
            const char c = text.front();
            if (c == '\\') {
                out += "\\\\";
            } else if (c == '\n') {
                out += "\\n";
            } else if (c == '"' && quote) {
                out += "\\\"";
            } else {
                out += c;
            }
        } else {
            out.append(text.substr(0, length));
        }
        text.remove_prefix(length);
    }
}

void append_labels(std::string& out, std::span<const Label> labels, const Label* extra)
{
    if (labels.empty() && extra == nullptr) {
        return;
    }
    out += '{';
    bool first = true;
    const auto one = [&](const Label& label) {
        if (!first) {
            out += ',';
        }
        first = false;
        out += label.first;
        out += "=\"";
        append_label_value(out, label.second);
        out += '"';
    };
    for (const Label& label : labels) {
        one(label);
    }
    if (extra != nullptr) {
        one(*extra);
    }
    out += '}';
}

void append_uint(std::string& out, std::uint64_t value)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, result.ptr);
}

void append_suffixed(std::string& out, std::string_view name, std::string_view suffix,
                     std::span<const Label> labels, const Label* extra)
{
    out += name;
    out += suffix;
    append_labels(out, labels, extra);
    out += ' ';
}

} // namespace

void append_label_value(std::string& out, std::string_view value)
{
    append_escaped(out, value, true);
}

void append_family(std::string& out, std::string_view name, std::string_view help, MetricType type)
{
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, help, false);
    out += "\n# TYPE ";
    out += name;
    switch (type) {
    case MetricType::counter: out += " counter\n"; break;
    case MetricType::gauge: out += " gauge\n"; break;
    case MetricType::histogram: out += " histogram\n"; break;
    }
}

void append_number(std::string& out, double value)
{
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
    } else {
        char buffer[32];
        const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
        out.append(buffer, result.ptr);
    }
}

void append_sample(std::string& out, std::string_view name, std::span<const Label> labels,
                   std::uint64_t value)
{
    append_suffixed(out, name, "", labels, nullptr);
    append_uint(out, value);
    out += '\n';
}

void append_sample(std::string& out, std::string_view name, std::span<const Label> labels,
                   double value)
{
    append_suffixed(out, name, "", labels, nullptr);
    append_number(out, value);
    out += '\n';
}

bool append_histogram(std::string& out, std::string_view name, std::span<const Label> labels,
                      std::span<const double> upper_bounds,
                      std::span<const std::uint64_t> cumulative_counts, double sum,
                      std::uint64_t count)
{
    if (upper_bounds.size() != cumulative_counts.size()) {
        return false;
    }
    for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
        if (!std::isfinite(upper_bounds[i]) ||
            (i > 0 && (upper_bounds[i] <= upper_bounds[i - 1] ||
                       cumulative_counts[i] < cumulative_counts[i - 1]))) {
            return false;
        }
    }
    if (!cumulative_counts.empty() && cumulative_counts.back() > count) {
        return false;
    }
    std::string bound;
    for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
        bound.clear();
        append_number(bound, upper_bounds[i]);
        const Label le{"le", bound};
        append_suffixed(out, name, "_bucket", labels, &le);
        append_uint(out, cumulative_counts[i]);
        out += '\n';
    }
    const Label inf{"le", "+Inf"};
    append_suffixed(out, name, "_bucket", labels, &inf);
    append_uint(out, count);
    out += '\n';
    append_suffixed(out, name, "_sum", labels, nullptr);
    append_number(out, sum);
    out += '\n';
    append_suffixed(out, name, "_count", labels, nullptr);
    append_uint(out, count);
    out += '\n';
    return true;
}

} // namespace mso
