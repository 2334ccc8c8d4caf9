// The one error shape of the collector: a call that can fail in a way its caller must
// handle returns Result<T> (or Result<void>), a value or an error message. Messages are
// lowercase and carry their context ("cannot bind /run/x.sock: permission denied"), so
// a caller can prefix its own and log the whole. The interface follows C++23's
// std::expected<T, std::string>, which GCC 12 has but clang 14 (the fuzz builds) lacks.
// Exceptions stay for start-up failures only; nothing on the data path throws.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace mso {

// The error of a Result: what went wrong, lowercase, with context.
struct Error {
    std::string message;
};

// Builds an Error; `return fail("cannot open " + path + ": " + errno_text(errno));`.
[[nodiscard]] inline Error fail(std::string message)
{
    return Error{std::move(message)};
}

template <typename T> class [[nodiscard]] Result {
public:
    // NOLINTBEGIN(google-explicit-constructor): a value or an Error converts implicitly,
    // as into std::expected, so `return value;` and `return fail(...);` both work.
    Result(T value) : m_value(std::move(value)) {}
    Result(Error error) : m_error(std::move(error.message)) {}
    // NOLINTEND(google-explicit-constructor)

    [[nodiscard]] bool has_value() const noexcept { return m_value.has_value(); }
    explicit operator bool() const noexcept { return m_value.has_value(); }

    // The value; only when has_value().
    [[nodiscard]] T& value() & { return *m_value; }
    [[nodiscard]] const T& value() const& { return *m_value; }
    [[nodiscard]] T&& value() && { return std::move(*m_value); }
    [[nodiscard]] T& operator*() & { return *m_value; }
    [[nodiscard]] const T& operator*() const& { return *m_value; }
    [[nodiscard]] T* operator->() { return &*m_value; }
    [[nodiscard]] const T* operator->() const { return &*m_value; }

    // The error message; "" when has_value().
    [[nodiscard]] const std::string& error() const noexcept { return m_error; }

private:
    std::optional<T> m_value;
    std::string m_error;
};

// Success or an error message, for calls that have nothing to return.
template <> class [[nodiscard]] Result<void> {
public:
    Result() = default;
    // NOLINTNEXTLINE(google-explicit-constructor): `return fail(...);`
    Result(Error error) : m_error(std::move(error.message)), m_failed(true) {}

    [[nodiscard]] bool has_value() const noexcept { return !m_failed; }
    explicit operator bool() const noexcept { return !m_failed; }
    [[nodiscard]] const std::string& error() const noexcept { return m_error; }

private:
    std::string m_error;
    bool m_failed = false;
};

// Success of a Result<void>: `return ok();`.
[[nodiscard]] inline Result<void> ok()
{
    return {};
}

} // namespace mso
