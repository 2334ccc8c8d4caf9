// The CLI's side of the query protocol: one connection to the collector, request lines
// out and JSON answer lines in. Every failure is returned as an error message without
// the "modsec-observe: " prefix, strings from the socket made terminal-safe. Blocking;
// one thread.
#pragma once

#include "util/fd.h"
#include "util/result.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace mso {

// The error of an interrupted CollectorConnection::receive(true).
inline constexpr const char* k_interrupted = "interrupted";

class CollectorConnection {
public:
    // Connects; with `timeout_s` > 0, sends and receives time out after that long.
    [[nodiscard]] Result<void> open(const std::string& socket_path, int timeout_s = 0);
    // Sends one request line (protocol/query.h request_line(), without the newline).
    // When the collector refused the connection, the error is its reason.
    [[nodiscard]] Result<void> send(std::string_view request_line);
    // The next answer line as a JSON object. Fails on EOF, error or interruption (a
    // signal handler without SA_RESTART): with `interruptible`, an interrupted wait
    // fails at once with k_interrupted instead of waiting on.
    [[nodiscard]] Result<nlohmann::ordered_json> receive(bool interruptible = false);
    // send(), then receive() the answer: the answer when it says ok, else the
    // collector's error.
    [[nodiscard]] Result<nlohmann::ordered_json> request(std::string_view request_line);

private:
    // After a failed send: the error answer the collector left, if any.
    [[nodiscard]] Result<void> pending_refusal();

    Fd m_fd;
    std::string m_buffer; // bytes received after the last returned line
};

// `answer` when it says ok; otherwise the collector's error.
[[nodiscard]] Result<nlohmann::ordered_json> answer_ok(nlohmann::ordered_json answer);

// One request line on a fresh connection (30 s timeout); the answer when it is ok.
[[nodiscard]] Result<nlohmann::ordered_json> query_collector(const std::string& socket_path,
                                                             std::string_view request_line);

} // namespace mso
