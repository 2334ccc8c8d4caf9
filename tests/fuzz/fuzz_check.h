// Shared by the fuzz targets: the check that turns a broken invariant into a crash
// (libFuzzer saves the input; the corpus replay test fails), also in builds without
// assertions or sanitizers.
#pragma once

#include <cstdio>
#include <cstdlib>

#define MSO_FUZZ_CHECK(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", __FILE__, __LINE__,       \
                         #cond);                                                                   \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)
