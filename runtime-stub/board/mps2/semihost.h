//===- semihost.h - Arm semihosting calls for the emulated boards -*- C++ -*-===//
//
// The debugger-call interface (BKPT 0xAB in Thumb state) that QEMU implements
// with -semihosting-config enable=on: console output, files on the host
// (relative to QEMU's working directory) and exit with a status. Used only by
// the test harnesses that run generated code under qemu-system-arm; generated
// model code never calls it.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_BOARD_SEMIHOST_H
#define MOTE_BOARD_SEMIHOST_H

#include "board/decimal.h"

#include <stddef.h>
#include <stdint.h>

namespace mote_board {

inline int32_t semihostCall(int32_t Op, const void *Arg) {
  register int32_t R0 __asm__("r0") = Op;
  register const void *R1 __asm__("r1") = Arg;
  __asm__ volatile("bkpt 0xab" : "+r"(R0) : "r"(R1) : "memory");
  return R0;
}

inline size_t length(const char *S) {
  size_t N = 0;
  while (S[N])
    ++N;
  return N;
}

/// Writes a NUL-terminated string to the host's stdout.
inline void print(const char *S) { semihostCall(0x04 /* SYS_WRITE0 */, S); }

/// Opens a host file; Mode is the semihosting mode (0 "r", 1 "rb", 4 "w",
/// 5 "wb"). Returns a handle, or -1.
inline int32_t open(const char *Path, int32_t Mode) {
  const uint32_t Args[3] = {uint32_t(uintptr_t(Path)), uint32_t(Mode),
                            uint32_t(length(Path))};
  return semihostCall(0x01 /* SYS_OPEN */, Args);
}

/// Returns the number of bytes NOT transferred (0 on success).
inline int32_t write(int32_t H, const void *Buf, size_t N) {
  const uint32_t Args[3] = {uint32_t(H), uint32_t(uintptr_t(Buf)), uint32_t(N)};
  return semihostCall(0x05 /* SYS_WRITE */, Args);
}
inline int32_t read(int32_t H, void *Buf, size_t N) {
  const uint32_t Args[3] = {uint32_t(H), uint32_t(uintptr_t(Buf)), uint32_t(N)};
  return semihostCall(0x06 /* SYS_READ */, Args);
}
inline void close(int32_t H) {
  const uint32_t Args[1] = {uint32_t(H)};
  semihostCall(0x02 /* SYS_CLOSE */, Args);
}

/// Ends the emulation with \p Status as QEMU's exit code.
[[noreturn]] inline void exit(int32_t Status) {
  const uint32_t Args[2] = {0x20026 /* ADP_Stopped_ApplicationExit */,
                            uint32_t(Status)};
  semihostCall(0x20 /* SYS_EXIT_EXTENDED */, Args);
  for (;;) {
  }
}

/// Prints \p V in decimal.
inline void printInt(int64_t V) {
  char Buf[24];
  print(formatDecimal(V, Buf));
}

} // namespace mote_board

#endif // MOTE_BOARD_SEMIHOST_H
