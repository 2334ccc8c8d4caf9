// Checked reading of an untrusted snapshot document (snapshot.h): typed accessors
// over nlohmann::json that never throw, bound every array and string, and remember
// the first failure with the JSON path of the value ("vhosts[2].rules[0].hits: not an
// unsigned integer"). Also the snapshot's record of one request event, which both the
// writer and the loader use. Internal to snapshot.cpp; not thread-safe; never blocks.
#pragma once

#include "event.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mso {

class SnapshotReader {
public:
    using json = nlohmann::json;

    // The path of the value being read, extended while a Scope lives.
    class Scope {
    public:
        Scope(std::string& path, std::size_t length) : m_path(path), m_length(length) {}
        ~Scope() { m_path.resize(m_length); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        std::string& m_path;
        std::size_t m_length;
    };

    [[nodiscard]] Scope enter(std::string_view key);
    [[nodiscard]] Scope enter(std::size_t index);

    [[nodiscard]] bool failed() const noexcept { return !m_error.empty(); }
    [[nodiscard]] const std::string& error() const noexcept { return m_error; }
    // Records `what` at the current path (the first failure wins); returns false.
    bool fail(std::string_view what);

    // Members of an object: `key` must be present. With `key` nullptr, object() and
    // array() check `value` itself. array() accepts up to `bound` times
    // k_snapshot_overflow_factor entries.
    [[nodiscard]] const json* member(const json& obj, const char* key);
    [[nodiscard]] const json* object(const json& value, const char* key);
    [[nodiscard]] const json* array(const json& value, const char* key, std::size_t bound);
    // An array of exactly `size` elements.
    [[nodiscard]] const json* tuple(const json& value, std::size_t size);

    bool u64(const json& obj, const char* key, std::uint64_t& out);
    bool i64(const json& obj, const char* key, std::int64_t& out);
    bool int32(const json& obj, const char* key, int& out);
    bool string(const json& obj, const char* key, std::string& out);
    bool boolean(const json& obj, const char* key, bool& out);

    bool u64_value(const json& value, std::uint64_t& out);
    bool i64_value(const json& value, std::int64_t& out);
    bool int_value(const json& value, int& out);
    bool string_value(const json& value, std::string& out);
    bool bool_value(const json& value, bool& out);

private:
    template <typename T>
    bool read_member(const json& obj, const char* key, T& out,
                     bool (SnapshotReader::*read)(const json&, T&));

    std::string m_path;
    std::string m_error;
};

// One ring event as a snapshot stores it (every field of RequestEvent).
[[nodiscard]] nlohmann::json snapshot_event(const RequestEvent& e);
// The reverse; false (with the reason in `r`) when any field is missing or mistyped.
bool read_event(SnapshotReader& r, const nlohmann::json& value, RequestEvent& out);

} // namespace mso
