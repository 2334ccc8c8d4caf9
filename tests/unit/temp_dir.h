// A fresh directory under /tmp for one test, removed with everything in it. Under /tmp
// rather than $TMPDIR so that socket paths stay short (sun_path holds 107 bytes).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace mso::test_support {

class TempDir {
public:
    // "/tmp/<prefix>-XXXXXX", then chmod to `mode` (mkdtemp creates it 0700).
    explicit TempDir(std::string_view prefix, mode_t mode = 0700)
    {
        std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = pattern;
        if (mode != 0700) {
            ::chmod(m_path.c_str(), mode);
        }
    }
    ~TempDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

} // namespace mso::test_support
