// CPU time for the C++ benchmarks: what they report per event or request, so that a busy
// machine slows the wall clock more than the figures.
#pragma once

#include <sys/resource.h>

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

} // namespace mso::bench
