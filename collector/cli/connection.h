// The CLI's side of the query protocol: one connection to the collector, JSON lines out
// and in. Every failure is printed once to stderr as "modsec-observe: ..." (strings from
// the socket made terminal-safe) and returned as nullopt/false. Blocking; one thread.
#pragma once

#include "util/fd.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace mso {

class CollectorConnection {
public:
    // Connects; with `timeout_s` > 0, sends and receives time out after that long.
    [[nodiscard]] bool open(const std::string& socket_path, int timeout_s = 0);
    [[nodiscard]] bool send(const nlohmann::ordered_json& request);
    // The next answer line as JSON; nullopt on EOF, error or interruption (a signal
    // handler without SA_RESTART), printing why unless interrupted and quiet.
    [[nodiscard]] std::optional<nlohmann::ordered_json> receive(bool quiet_on_interrupt = false);

private:
    // After a failed send: prints the error answer the collector left, if any.
    [[nodiscard]] bool refusal_pending();

    Fd m_fd;
    std::string m_socket_path;
    std::string m_buffer; // bytes received after the last returned line
};

// True when `answer` says ok; otherwise prints the collector's error.
[[nodiscard]] bool answer_ok(const nlohmann::ordered_json& answer);

// One query on a fresh connection (30 s timeout); the answer when it is ok.
[[nodiscard]] std::optional<nlohmann::ordered_json>
query_collector(const std::string& socket_path, const nlohmann::ordered_json& request);

} // namespace mso
