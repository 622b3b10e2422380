//===- mem.cpp - memcpy/memset/memmove for the bare-metal harness ---------===//
//
// Compilers may turn copy and fill loops (and large struct copies) into calls
// to these four functions even in freestanding code; every embedded toolchain
// provides them. The emulated-board harness links no C library, so it
// defines them here. Build this file with -fno-tree-loop-distribute-patterns
// so the loops below are not turned into calls to themselves.
//
//===----------------------------------------------------------------------===//

#include <stddef.h>

extern "C" {

void *memcpy(void *D, const void *S, size_t N) {
  unsigned char *Dp = static_cast<unsigned char *>(D);
  const unsigned char *Sp = static_cast<const unsigned char *>(S);
  for (size_t I = 0; I < N; ++I)
    Dp[I] = Sp[I];
  return D;
}

void *memmove(void *D, const void *S, size_t N) {
  unsigned char *Dp = static_cast<unsigned char *>(D);
  const unsigned char *Sp = static_cast<const unsigned char *>(S);
  if (Dp < Sp)
    for (size_t I = 0; I < N; ++I)
      Dp[I] = Sp[I];
  else
    for (size_t I = N; I-- > 0;)
      Dp[I] = Sp[I];
  return D;
}

void *memset(void *D, int C, size_t N) {
  unsigned char *Dp = static_cast<unsigned char *>(D);
  for (size_t I = 0; I < N; ++I)
    Dp[I] = static_cast<unsigned char>(C);
  return D;
}

int memcmp(const void *A, const void *B, size_t N) {
  const unsigned char *Ap = static_cast<const unsigned char *>(A);
  const unsigned char *Bp = static_cast<const unsigned char *>(B);
  for (size_t I = 0; I < N; ++I)
    if (Ap[I] != Bp[I])
      return Ap[I] < Bp[I] ? -1 : 1;
  return 0;
}
}
