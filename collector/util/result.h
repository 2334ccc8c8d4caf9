// The one result type of the collector: a value or an error message (lowercase, with
// context), for every failure a caller is expected to handle.
#pragma once

#include <optional>
#include <string>

namespace mso {

// A value or an error message (lowercase, with context).
template <typename T> struct Result {
    std::optional<T> value;
    std::string error;
    explicit operator bool() const noexcept { return value.has_value(); }
};

} // namespace mso
