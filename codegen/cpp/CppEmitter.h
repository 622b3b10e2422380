//===- CppEmitter.h - Freestanding C++ from a lowered program ---*- C++ -*-===//
//
// Writes NAME.cpp (and NAME.h, codegen/ApiHeader.h) from a lowered program
// (codegen/Program.h): one function per call, each calling its runtime-stub
// kernel with a constant parameter struct and its operands at their planned
// arena offsets, and the entry points as lists of those calls. The
// read-only arrays go to NAME.weights, raw bytes the assembler places in
// read-only memory (.incbin): NAME.cpp stays small whatever the model's
// size. Build it with -I on the output directory (the assembler finds
// NAME.weights there). The API is docs/generated-api.md's. Output is a
// pure function of the program and the options.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_CPP_CPPEMITTER_H
#define MOTE_CODEGEN_CPP_CPPEMITTER_H

#include "codegen/Output.h"

#include <vector>

namespace mote {

struct LoweredProgram;

struct CppEmitOptions {
  /// Debug mode: every kernel call may touch only its operands' planned
  /// arena bytes, enforced with AddressSanitizer (mote_rt/check.h). The
  /// code then needs -fsanitize=address.
  bool CheckBounds = false;
};

/// NAME.h, NAME.cpp and NAME.weights (empty if the program has no
/// read-only data).
std::vector<EmittedFile> emitCpp(const LoweredProgram &P,
                                 const CppEmitOptions &O = {});

/// The name of the read-only data file of model \p Name.
std::string weightsFileName(std::string_view Name);

} // namespace mote

#endif // MOTE_CODEGEN_CPP_CPPEMITTER_H
