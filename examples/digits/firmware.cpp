// On-device transfer learning: the firmware of tools/demo.sh.
//
// The model (digits.onnx, pre-trained on the digits 0-4) is compiled by
// motec into digits.h/digits.cpp: a training step that updates only the
// parameters the update spec names, and inference. This program, built for
// an emulated Cortex-M4 (qemu mps2-an386), measures the accuracy on a
// held-out test set, trains EPOCHS passes over the adaptation images (the
// digits 5-9 and a few kept examples of 0-4), and measures again. Images
// arrive one batch at a time, as from a sensor: here they are read from
// files on the host over semihosting. No heap, no libc: the RAM used is the
// arena plus one batch.
//
// Build with -DDIGITS_HOST to run the same program on the host (stdio).

#include "digits.h"

#include "board/decimal.h" // written by motec next to digits.h

#include <stdint.h>

#ifndef EPOCHS
#define EPOCHS 4
#endif

#if defined(DIGITS_HOST)
#include <cstdio>
#include <cstdlib>
namespace io {
inline void print(const char *S) { std::fputs(S, stdout); std::fflush(stdout); }
using File = FILE *;
inline File open(const char *Path) { return std::fopen(Path, "rb"); }
inline bool ok(File F) { return F != nullptr; }
inline bool read(File F, void *Buf, uint32_t N) { return std::fread(Buf, 1, N, F) == N; }
inline void close(File F) { std::fclose(F); }
[[noreturn]] inline void exit(int S) { std::exit(S); }
} // namespace io
#else
#include "board/mps2/io.h"
namespace io {
inline void print(const char *S) { mote_board::print(S); }
using File = int32_t;
inline File open(const char *Path) { return mote_board::open(Path, 1); }
inline bool ok(File F) { return F >= 0; }
inline bool read(File F, void *Buf, uint32_t N) { return mote_board::read(F, Buf, N) == 0; }
inline void close(File F) { mote_board::close(F); }
[[noreturn]] inline void exit(int S) { mote_board::exit(S); }
} // namespace io
#endif

namespace {

constexpr int Batch = 10, Pixels = 64, Classes = 10;

alignas(16) unsigned char Arena[digits_ARENA_BYTES];
float X[Batch * Pixels];
int32_t Y[Batch];
float Logits[Batch * Classes];

/// A stream of batches: images and labels from two files.
struct Batches {
  io::File Xs, Ys;
  Batches(const char *XPath, const char *YPath)
      : Xs(io::open(XPath)), Ys(io::open(YPath)) {
    if (!io::ok(Xs) || !io::ok(Ys)) {
      io::print("cannot open ");
      io::print(XPath);
      io::print("\n");
      io::exit(3);
    }
  }
  ~Batches() {
    io::close(Xs);
    io::close(Ys);
  }
  /// The next batch into X and Y.
  void next() {
    if (!io::read(Xs, X, sizeof(X)) || !io::read(Ys, Y, sizeof(Y))) {
      io::print("the data files end early\n");
      io::exit(3);
    }
  }
};

void printInt(long V) {
  char Buf[24];
  io::print(mote_board::formatDecimal(V, Buf));
}

/// Prints \p V with three decimals (no printf on the device).
void printFixed(float V) {
  if (V < 0) {
    io::print("-");
    V = -V;
  }
  long Milli = long(V * 1000.0f + 0.5f);
  printInt(Milli / 1000);
  io::print(".");
  char D[4] = {char('0' + Milli / 100 % 10), char('0' + Milli / 10 % 10),
               char('0' + Milli % 10), 0};
  io::print(D);
}

struct Accuracy {
  int Right[2] = {0, 0}, Total[2] = {0, 0}; // [0]: digits 0-4, [1]: 5-9
};

Accuracy evaluate(int N) {
  Accuracy A;
  Batches Test("test_x.bin", "test_y.bin");
  for (int B = 0; B < N; B += Batch) {
    Test.next();
    digits_infer(Arena, X, Logits);
    for (int I = 0; I < Batch; ++I) {
      int Best = 0;
      for (int C = 1; C < Classes; ++C)
        if (Logits[I * Classes + C] > Logits[I * Classes + Best])
          Best = C;
      int Group = Y[I] >= 5;
      A.Total[Group] += 1;
      A.Right[Group] += Best == Y[I];
    }
  }
  return A;
}

void report(const char *When, const Accuracy &A) {
  io::print(When);
  io::print(" held-out accuracy: new digits 5-9 ");
  printFixed(float(A.Right[1]) / float(A.Total[1]));
  io::print(" (");
  printInt(A.Right[1]);
  io::print("/");
  printInt(A.Total[1]);
  io::print("), old digits 0-4 ");
  printFixed(float(A.Right[0]) / float(A.Total[0]));
  io::print(" (");
  printInt(A.Right[0]);
  io::print("/");
  printInt(A.Total[0]);
  io::print(")\n");
}

} // namespace

int main() {
  io::print("digits firmware: arena ");
  printInt(digits_ARENA_BYTES);
  io::print(" bytes, read-only data ");
  printInt(digits_FLASH_BYTES);
  io::print(" bytes\n");
  // counts.bin: the number of adaptation and test images (multiples of
  // the batch).
  int32_t Counts[2];
  io::File F = io::open("counts.bin");
  if (!io::ok(F) || !io::read(F, Counts, sizeof(Counts)) || Counts[0] <= 0 ||
      Counts[1] <= 0 || Counts[0] % Batch || Counts[1] % Batch) {
    io::print("counts.bin is missing or out of range\n");
    io::exit(3);
  }
  io::close(F);
  int NA = Counts[0], NT = Counts[1];
  digits_init(Arena);
  report("before adaptation:", evaluate(NT));
  for (int E = 1; E <= EPOCHS; ++E) {
    float Sum = 0;
    int Steps = 0;
    Batches Adapt("adapt_x.bin", "adapt_y.bin");
    for (int B = 0; B < NA; B += Batch, ++Steps) {
      Adapt.next();
      Sum += digits_train_step(Arena, X, Y);
    }
    io::print("  epoch ");
    printInt(E);
    io::print("/");
    printInt(EPOCHS);
    io::print(": ");
    printInt(Steps);
    io::print(" training steps on the device, mean loss ");
    printFixed(Sum / float(Steps));
    io::print("\n");
  }
  report("after adaptation: ", evaluate(NT));
  return 0;
}
