// Failed logins per client address, for the console receiver: an address that failed
// `limit` times within `window` of its first failure is refused without a password
// check (or a token lookup) until that window ends, so a password-guessing client gets a
// handful of bcrypt checks a minute instead of as many as the workers can run. Bounded:
// at most `max_addresses` are tracked; a new one beyond that first drops the expired,
// then the address whose window started first.
//
// Thread-safe (one mutex); no call blocks on I/O. The clock is the caller's (tests).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mso {

class LoginFailures {
public:
    using Clock = std::chrono::steady_clock;

    // `limit` 0: never blocks.
    LoginFailures(std::size_t limit, std::chrono::seconds window, std::size_t max_addresses = 4096);

    // Whether `address` is refused at `now`.
    [[nodiscard]] bool blocked(std::string_view address, Clock::time_point now);
    // Counts a failure of `address` at `now`; true when this one makes it blocked.
    bool failed(std::string_view address, Clock::time_point now);
    // Forgets every address (the sensors were reloaded: the passwords may have changed).
    void clear();
    // Addresses tracked now.
    [[nodiscard]] std::size_t size() const;

private:
    struct Entry {
        std::size_t failures = 0;
        Clock::time_point since; // the window's first failure
    };

    // Makes room for one more address (m_mutex held).
    void make_room(Clock::time_point now);

    const std::size_t m_limit;
    const Clock::duration m_window;
    const std::size_t m_max;
    mutable std::mutex m_mutex;
    std::unordered_map<std::string, Entry> m_entries;
};

} // namespace mso
