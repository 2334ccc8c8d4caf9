// The Prometheus text exposition format, version 0.0.4: family headers
// (`# HELP`, `# TYPE`), samples with escaped labels, and histograms. Knows
// nothing of ModSecurity or the collector; metrics.cpp decides what is exported.
// Label values may come from the network (rule ids, severities): they are made
// valid UTF-8 and escaped here, so no input can break the output's syntax.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace mso {

inline constexpr std::string_view k_exposition_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, histogram };

// A label name (a fixed identifier chosen by us) and its value (any bytes).
using Label = std::pair<std::string_view, std::string_view>;

// Appends `value` as a label value: invalid UTF-8 becomes U+FFFD, then `\`,
// `"` and newline are escaped as the format requires. Pure.
void append_label_value(std::string& out, std::string_view value);

// Appends "# HELP name help\n# TYPE name type\n". `help` is escaped (`\`, newline)
// and made valid UTF-8. Write it once per family, before the family's samples.
void append_family(std::string& out, std::string_view name, std::string_view help, MetricType type);

// Appends one sample line: `name{labels} value\n` (no braces without labels).
void append_sample(std::string& out, std::string_view name, std::span<const Label> labels,
                   std::uint64_t value);
void append_sample(std::string& out, std::string_view name, std::span<const Label> labels,
                   double value);

// Appends a number as the format writes it: shortest round-trip form, `+Inf`,
// `-Inf`, `NaN`. Pure.
void append_number(std::string& out, double value);

// Appends the samples of one histogram series: `name_bucket{labels,le="b"}` for
// every upper bound, `le="+Inf"` (= `count`), `name_sum` and `name_count`.
// `cumulative_counts[i]` counts observations <= `upper_bounds[i]`. Returns false
// and appends nothing when the input is not a histogram: sizes differ, bounds
// are not strictly increasing and finite, counts decrease, or the last count
// exceeds `count`. The caller writes the family header (append_family).
[[nodiscard]] bool append_histogram(std::string& out, std::string_view name,
                                    std::span<const Label> labels,
                                    std::span<const double> upper_bounds,
                                    std::span<const std::uint64_t> cumulative_counts, double sum,
                                    std::uint64_t count);

} // namespace mso
