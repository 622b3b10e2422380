//===- Harness.h - Programs that drive generated code ------------*- C++ -*-===//
//
// `motec run --engine generated` compiles the generated code with a small
// main() and runs it. The host harness reads each input from a raw file
// (in<i>.bin, graph input order), runs N training steps (or one inference)
// and writes loss.bin (one float per step) and checkpoint.bin (NAME_save), or
// out<i>.bin for inference. The host harness uses the host's libc; the board
// harness only semihosting. The generated code itself uses neither.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_CPP_HARNESS_H
#define MOTE_CODEGEN_CPP_HARNESS_H

#include <cstdint>
#include <string>
#include <vector>

namespace mote {

struct HarnessSpec {
  std::string Name;
  bool Training = false;
  /// Training steps; for inference, how many times the inference runs
  /// (instruction counts take the difference of two such runs).
  int64_t Steps = 1;
  /// Board directory under runtime-stub/board whose io.h the board harness
  /// includes (mote_board::open/read/write/close/print/printInt/exit).
  std::string Board = "mps2";
  std::vector<int64_t> InputBytes;  ///< per input of the entry point
  std::vector<int64_t> OutputBytes; ///< inference outputs
};

/// The host harness (libc: stdio, aligned_alloc).
std::string emitHostHarness(const HarnessSpec &S);

/// The same program for emulated boards and freestanding Linux programs: no
/// libc, static buffers, files through board/<Board>/io.h (Arm semihosting
/// on the MPS2/MPS3 boards, raw system calls under QEMU's user mode), a
/// progress line per step on the console.
std::string emitBoardHarness(const HarnessSpec &S);

} // namespace mote

#endif // MOTE_CODEGEN_CPP_HARNESS_H
