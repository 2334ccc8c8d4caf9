// Answers of the HTTP API shared between browsers that ask the same thing within a
// short time. Ten dashboards refreshing every 2 s ask the same `vhosts`, `stats` and
// `timeseries` lines; without sharing, the loop (or the history worker) builds each
// answer ten times, on the cores ingest runs on. With it, a line asked again less than
// `max_age` after it was first asked gets that answer (finished, or still being built:
// the second asker waits for the first's answer instead of asking again). A dashboard
// sees data at most `max_age` older than it would otherwise; the CLI socket and the
// live tail are not behind it.
//
// Bounded: at most `max_entries` lines are remembered (a line that finds the cache
// full is asked without it), each for `max_age`; expired lines are dropped whenever a
// line is looked up. Error answers are shared while in flight, like any other, but
// are not kept after (nor is a question the answerer dropped, as a stopping loop
// does: its future then holds a broken_promise). Thread-safe; get() never blocks (the
// caller waits on the future, with its own timeout).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mso {

inline constexpr std::chrono::milliseconds k_answer_cache_max_age{1000};
inline constexpr std::size_t k_answer_cache_max_entries = 64;

class AnswerCache {
public:
    using Clock = std::chrono::steady_clock;
    // Asks `line` of whoever answers it; `reply` is called once with the answer, from
    // any thread.
    using Ask = std::function<void(std::string line, std::function<void(std::string)> reply)>;
    // Whether an answer is an error answer (not kept once it arrived).
    using IsError = std::function<bool(const std::string&)>;

    AnswerCache(Ask ask, IsError is_error,
                std::chrono::milliseconds max_age = k_answer_cache_max_age,
                std::size_t max_entries = k_answer_cache_max_entries);

    // The answer to `line`: shared when the same line was asked less than max_age ago.
    [[nodiscard]] std::shared_future<std::string> get(const std::string& line);

    // How many get() calls were answered by an earlier ask, and how many asked.
    struct Counts {
        std::size_t shared = 0;
        std::size_t asked = 0;
    };
    [[nodiscard]] Counts counts() const;
    // Lines remembered now (expired ones included until the next get()).
    [[nodiscard]] std::size_t size() const;

    // For tests: the clock get() reads.
    void set_clock(std::function<Clock::time_point()> now) { m_now = std::move(now); }

private:
    struct Entry {
        std::shared_future<std::string> answer;
        Clock::time_point asked;
    };

    void drop_expired(Clock::time_point now);

    Ask m_ask;
    IsError m_is_error;
    std::chrono::milliseconds m_max_age;
    std::size_t m_max_entries;
    std::function<Clock::time_point()> m_now = [] { return Clock::now(); };
    mutable std::mutex m_mutex; // guards everything below
    std::unordered_map<std::string, Entry> m_entries;
    Counts m_counts;
};

} // namespace mso
