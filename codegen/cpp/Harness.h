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
  int64_t Steps = 1;
  std::vector<int64_t> InputBytes;  ///< per input of the entry point
  std::vector<int64_t> OutputBytes; ///< inference outputs
};

/// The host harness (libc: stdio, aligned_alloc).
std::string emitHostHarness(const HarnessSpec &S);

/// The same program for the emulated MPS2 boards: no libc, static buffers,
/// files through Arm semihosting (runtime-stub/board/mps2), a progress line
/// per step on the console.
std::string emitBoardHarness(const HarnessSpec &S);

} // namespace mote

#endif // MOTE_CODEGEN_CPP_HARNESS_H
