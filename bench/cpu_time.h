// CPU time for the C++ benchmarks: what they report per event or request, so that a busy
// machine slows the wall clock more than the figures.
#pragma once

#include <sys/resource.h>
#include <time.h>

namespace mso::bench {

// CPU seconds (user + system) of `who` (RUSAGE_SELF or RUSAGE_THREAD).
inline double cpu_seconds(int who = RUSAGE_SELF)
{
    rusage u{};
    getrusage(who, &u);
    auto s = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return s(u.ru_utime) + s(u.ru_stime);
}

// CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID) or of the process
// (CLOCK_PROCESS_CPUTIME_ID): the scheduler's own account, exact at any interval, where
// getrusage() splits it into user and system time by sampled ticks and may lag over
// intervals of a few milliseconds (a loop that sleeps between short slices).
inline double clock_cpu_seconds(clockid_t clock = CLOCK_THREAD_CPUTIME_ID)
{
    timespec t{};
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

} // namespace mso::bench
