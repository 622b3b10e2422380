//===- syscall.h - Raw Linux system calls, no libc --------------*- C++ -*-===//
//
// The architecture-specific half of the Linux user-mode board: one inline
// function that traps into the kernel (here: QEMU's user-mode emulation).
// AArch64 passes the number in x8 and arguments in x0-x5 (`svc 0`); Hexagon
// the number in r6 and arguments in r0-r5 (`trap0(#1)`). Both use the
// asm-generic numbers below.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_BOARD_LINUX_SYSCALL_H
#define MOTE_BOARD_LINUX_SYSCALL_H

namespace mote_board {

enum : long {
  SysOpenAt = 56,
  SysClose = 57,
  SysRead = 63,
  SysWrite = 64,
  SysExitGroup = 94,
};

/// Performs system call \p N with four arguments; returns the kernel's
/// result (negative errno on failure).
inline long syscall4(long N, long A, long B, long C, long D) {
#if defined(__aarch64__)
  register long X8 __asm__("x8") = N;
  register long X0 __asm__("x0") = A;
  register long X1 __asm__("x1") = B;
  register long X2 __asm__("x2") = C;
  register long X3 __asm__("x3") = D;
  __asm__ volatile("svc 0"
                   : "+r"(X0)
                   : "r"(X8), "r"(X1), "r"(X2), "r"(X3)
                   : "memory", "cc");
  return X0;
#elif defined(__hexagon__)
  register long R6 __asm__("r6") = N;
  register long R0 __asm__("r0") = A;
  register long R1 __asm__("r1") = B;
  register long R2 __asm__("r2") = C;
  register long R3 __asm__("r3") = D;
  __asm__ volatile("trap0(#1)"
                   : "+r"(R0)
                   : "r"(R6), "r"(R1), "r"(R2), "r"(R3)
                   : "memory");
  return R0;
#else
#error "board/linux: no system call sequence for this architecture"
#endif
}

} // namespace mote_board

#endif // MOTE_BOARD_LINUX_SYSCALL_H
