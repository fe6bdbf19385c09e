// CHECK(cond) for the C++ test programs: reports the line and counts the failure; main returns
// `failures ? 1 : 0`.
#pragma once
#include <cstdio>

static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(stderr, "CHECK failed line %d: %s\n", __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)
