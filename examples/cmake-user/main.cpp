//===- main.cpp - Train the keyword-spotting model a few steps ------------===//
//
// Runs KWS_STEPS training steps of the generated kws model on one synthetic
// MFCC patch (label 3) and prints each loss: "step K loss X.XXXXXX". The
// same code runs on the host and on a Cortex-M4; it uses no C library
// (floats are printed by hand), only boardPrint().
//
//===----------------------------------------------------------------------===//

#include "board.h"
#include "kws.h"

#include <stdint.h>

#ifndef KWS_STEPS
#define KWS_STEPS 5
#endif

namespace {

alignas(kws_ARENA_ALIGN) unsigned char Arena[kws_ARENA_BYTES];
float Mfcc[1 * 1 * 49 * 10];

/// Appends the decimal digits of \p V to \p P; returns the new end.
char *putUnsigned(char *P, uint32_t V) {
  char Tmp[12];
  int N = 0;
  do {
    Tmp[N++] = char('0' + V % 10);
    V /= 10;
  } while (V);
  while (N)
    *P++ = Tmp[--N];
  return P;
}

/// Formats \p V with six decimals ("nan"/"inf" when not finite). Float and
/// 32-bit integer arithmetic only: a Cortex-M4 does both in hardware.
void formatFloat(char *P, float V) {
  if (V != V) {
    P[0] = 'n', P[1] = 'a', P[2] = 'n', P[3] = 0;
    return;
  }
  if (V < 0) {
    *P++ = '-';
    V = -V;
  }
  if (V >= 4e9f) {
    P[0] = 'i', P[1] = 'n', P[2] = 'f', P[3] = 0;
    return;
  }
  uint32_t Int = uint32_t(V);
  uint32_t Frac = uint32_t((V - float(Int)) * 1e6f + 0.5f);
  if (Frac >= 1000000) {
    ++Int;
    Frac -= 1000000;
  }
  P = putUnsigned(P, Int);
  *P++ = '.';
  for (uint32_t D = 100000; D; D /= 10)
    *P++ = char('0' + (Frac / D) % 10);
  *P = 0;
}

void printLine(const char *A, uint32_t K, const char *B, const char *C) {
  char Buf[32];
  boardPrint(A);
  *putUnsigned(Buf, K) = 0;
  boardPrint(Buf);
  boardPrint(B);
  boardPrint(C);
  boardPrint("\n");
}

} // namespace

int main() {
  // A fixed, synthetic input in [-1, 1): the test feeds motec run the same.
  for (int I = 0; I < 49 * 10; ++I)
    Mfcc[I] = float((I * 37) % 101) / 50.0f - 1.0f;
  const int32_t Label = 3;

  printLine("kws: arena ", kws_ARENA_BYTES, " bytes", "");
  kws_init(Arena);
  for (int Step = 0; Step < KWS_STEPS; ++Step) {
    float Loss = kws_train_step(Arena, Mfcc, &Label);
    char Text[32];
    formatFloat(Text, Loss);
    printLine("step ", uint32_t(Step), " loss ", Text);
  }
  return 0;
}
