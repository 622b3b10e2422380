//===- board.h - What the example needs from its board ---------*- C++ -*-===//
//
// One output function, implemented per board: board_host.cpp (stdout) and
// board_mps2.cpp (Arm semihosting on QEMU's MPS2 boards).
//
//===----------------------------------------------------------------------===//

#ifndef CMAKE_USER_BOARD_H
#define CMAKE_USER_BOARD_H

/// Writes a NUL-terminated string to the console.
void boardPrint(const char *S);

#endif // CMAKE_USER_BOARD_H
