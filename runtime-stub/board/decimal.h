//===- decimal.h - Integers as decimal text, for every board ----*- C++ -*-===//
//
// Shared by the boards' io.h (no libc, so no printf): formats a signed
// integer into a caller's buffer.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_BOARD_DECIMAL_H
#define MOTE_BOARD_DECIMAL_H

#include <stdint.h>

namespace mote_board {

/// Writes \p V in decimal, NUL-terminated, at the end of \p Buf (24 bytes
/// hold any int64_t); returns where the text starts.
inline const char *formatDecimal(int64_t V, char (&Buf)[24]) {
  int I = 23;
  Buf[I] = 0;
  bool Neg = V < 0;
  uint64_t U = Neg ? uint64_t(-(V + 1)) + 1 : uint64_t(V);
  do {
    Buf[--I] = char('0' + U % 10);
    U /= 10;
  } while (U);
  if (Neg)
    Buf[--I] = '-';
  return Buf + I;
}

} // namespace mote_board

#endif // MOTE_BOARD_DECIMAL_H
