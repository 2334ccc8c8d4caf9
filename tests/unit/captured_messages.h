// Every request's alert messages in a captured Apache error log (tests/data), as the
// module's error_log hook keeps them (after apache_log_unescape), grouped by unique_id.
// Shared by the tests that feed the encoders with every captured request.
#pragma once

#include "modsec_message.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace mso {

inline std::vector<std::vector<std::string>> captured_messages(const std::string& file)
{
    std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/" + file);
    std::map<std::string, std::vector<std::string>> by_request;
    for (std::string line; std::getline(in, line);) {
        const std::size_t u = line.find("[unique_id \"");
        const std::size_t m = line.find("[client 127.0.0.1] ModSecurity: ");
        if (u == std::string::npos || m == std::string::npos)
            continue;
        std::string text = line.substr(m);
        text.resize(apache_log_unescape(text.data(), text.size()));
        by_request[line.substr(u, line.find('"', u + 12) - u)].push_back(text);
    }
    std::vector<std::vector<std::string>> out;
    for (auto& [uid, texts] : by_request)
        out.push_back(std::move(texts));
    return out;
}

} // namespace mso
