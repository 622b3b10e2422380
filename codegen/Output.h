//===- Output.h - Files the code generators write ---------------*- C++ -*-===//

#ifndef MOTE_CODEGEN_OUTPUT_H
#define MOTE_CODEGEN_OUTPUT_H

#include <span>
#include <string>

namespace mote {

struct EmittedFile {
  std::string Path; ///< relative to the output directory
  std::string Text; ///< the contents (binary for objects and weight data)
};

/// The runtime-stub files the generated code includes (paths like
/// "mote_rt/core.h") and the board glue ("board/mps2/startup.cpp"),
/// embedded in the compiler at build time.
std::span<const EmittedFile> runtimeStubFiles();

} // namespace mote

#endif // MOTE_CODEGEN_OUTPUT_H
