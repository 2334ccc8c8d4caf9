// One import connection's state on the daemon's side (docs/protocol.md, "import"): it
// takes the connection's complete lines, decodes each event line with the datagram
// decoder and offers it to the history writer as a bulk offer of its own producer with
// the import's duplicate rule (Dedup::request), counts malformed lines with their line
// numbers and events older than the store keeps (not offered: retention would delete
// them at its next step), and turns each sync (and the end) into a writer marker whose
// answer reaches the loop thread through `post`. It stops taking lines when the writer
// has no room for imports or too many syncs wait; the server then stops reading the
// connection and calls consume() again on a short timer.
//
// Loop thread only, except that marker callbacks run on the writer thread and only call
// `post`.
#pragma once

#include "state/collector.h"
#include "store/store_writer.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace mso {

class ImportSession {
public:
    // Runs a task on the loop thread (Server::post).
    using Post = std::function<void(std::function<void()>)>;
    // Called on the loop thread with each answer line (no newline); `end` after the
    // answer to {"cmd":"end"}.
    using Deliver = std::function<void(std::string line, bool end)>;

    enum class State : std::uint8_t {
        reading,       // wants more input
        waiting_room,  // the writer's share for imports is full: call consume() later
        waiting_syncs, // k_max_syncs_in_flight unanswered: wait for an answer
        ended,         // {"cmd":"end"} taken: read nothing more
    };

    ImportSession(StoreWriter& writer, std::string source, ImportCounters& counters, Post post,
                  Deliver deliver);

    // Takes the complete lines at the front of `input` (erasing them) until it must wait;
    // a partial line longer than an import line may be is dropped up to its newline
    // (counted malformed). Returns what the session waits for.
    State consume(std::string& input);
    // An answer was delivered (the server calls this from its Deliver).
    void answered() noexcept;

    [[nodiscard]] State state() const noexcept { return m_state; }
    // Waiting for the writer (room or answers): the connection is not idle.
    [[nodiscard]] bool busy() const noexcept
    {
        return m_in_flight > 0 || m_state == State::waiting_room || m_state == State::waiting_syncs;
    }
    [[nodiscard]] const std::string& source() const noexcept { return m_source; }

private:
    struct Pending; // what a sync answer reports besides the marker's result

    void take_line(std::string_view line);
    void sync(bool end);
    void malformed(std::string_view reason, std::string detail);

    StoreWriter& m_writer;
    Producer m_producer;
    std::string m_source;
    ImportCounters& m_counters;
    Post m_post;
    Deliver m_deliver;
    State m_state = State::reading;
    std::uint64_t m_line = 2;   // the line being read (the import command was line 1)
    std::uint64_t m_events = 0; // event lines received
    std::uint64_t m_in_flight = 0;
    bool m_dropping = false; // inside an over-long line, up to its newline
    // Since the previous sync: malformed lines, and the first k_max_listed_malformed.
    std::uint64_t m_malformed = 0;
    std::uint64_t m_too_old = 0;
    std::string m_malformed_lines; // JSON array elements, comma-separated
    std::size_t m_listed = 0;
};

} // namespace mso
