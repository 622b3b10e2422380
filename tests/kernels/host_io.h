//===- host_io.h - qkernels.cpp's output on the host ------------*- C++ -*-===//
//
// The two board I/O functions tests/kernels/qkernels.cpp uses, over stdio,
// for its host build (qkernels.py check host-pairs).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TESTS_KERNELS_HOST_IO_H
#define MOTE_TESTS_KERNELS_HOST_IO_H

#include <stdint.h>
#include <stdio.h>

namespace mote_board {
inline void print(const char *S) { fputs(S, stdout); }
inline void printInt(int64_t V) { printf("%lld", static_cast<long long>(V)); }
} // namespace mote_board

#endif // MOTE_TESTS_KERNELS_HOST_IO_H
