//===- io.h - Harness I/O for static freestanding Linux programs -*- C++ -*-===//
//
// The board I/O interface of the harnesses (the same functions as the Arm
// semihosting one in board/mps2/semihost.h) over raw Linux system calls, for
// programs that run under QEMU's user mode (qemu-aarch64, qemu-hexagon)
// without a C library. Files are relative to the working directory.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_BOARD_LINUX_IO_H
#define MOTE_BOARD_LINUX_IO_H

#include "board/decimal.h"
#include "board/linux/syscall.h"

#include <stddef.h>
#include <stdint.h>

namespace mote_board {

inline size_t length(const char *S) {
  size_t N = 0;
  while (S[N])
    ++N;
  return N;
}

/// Writes a NUL-terminated string to stdout.
inline void print(const char *S) {
  syscall4(SysWrite, 1, long(S), long(length(S)), 0);
}

/// Opens a file; Mode as in semihosting (0/1 read, 4/5 write: create and
/// truncate). Returns a descriptor, or -1.
inline int32_t open(const char *Path, int32_t Mode) {
  const long AtFdCwd = -100;
  const long Flags = Mode >= 4 ? 01 | 0100 | 01000 /* WRONLY|CREAT|TRUNC */
                               : 0 /* RDONLY */;
  long R = syscall4(SysOpenAt, AtFdCwd, long(Path), Flags, 0644);
  return R < 0 ? -1 : int32_t(R);
}

/// Returns the number of bytes NOT transferred (0 on success).
inline int32_t write(int32_t H, const void *Buf, size_t N) {
  const char *P = static_cast<const char *>(Buf);
  while (N) {
    long R = syscall4(SysWrite, H, long(P), long(N), 0);
    if (R <= 0)
      break;
    P += R;
    N -= size_t(R);
  }
  return int32_t(N);
}
inline int32_t read(int32_t H, void *Buf, size_t N) {
  char *P = static_cast<char *>(Buf);
  while (N) {
    long R = syscall4(SysRead, H, long(P), long(N), 0);
    if (R <= 0)
      break;
    P += R;
    N -= size_t(R);
  }
  return int32_t(N);
}
inline void close(int32_t H) { syscall4(SysClose, H, 0, 0, 0); }

/// Ends the process with \p Status.
[[noreturn]] inline void exit(int32_t Status) {
  for (;;)
    syscall4(SysExitGroup, Status, 0, 0, 0);
}

/// Prints \p V in decimal.
inline void printInt(int64_t V) {
  char Buf[24];
  print(formatDecimal(V, Buf));
}

} // namespace mote_board

#endif // MOTE_BOARD_LINUX_IO_H
