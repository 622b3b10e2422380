//===- Generate.h - Graph to generated code, shared by compile and run -*- C++ -*-===//

#ifndef MOTE_TOOLS_MOTEC_GENERATE_H
#define MOTE_TOOLS_MOTEC_GENERATE_H

#include "Session.h"
#include "codegen/Targets.h"
#include "codegen/cpp/CppEmitter.h"
#include "compiler/Graph.h"
#include "memory/Layout.h"

#include <filesystem>
#include <memory>

namespace mote::cli {

struct Generated {
  std::unique_ptr<Graph> G;
  MemoryLayout Layout;
  /// NAME.h, NAME.cpp and the runtime-stub headers.
  std::vector<EmittedFile> Files;
  /// Emitted in the --check-bounds mode (needs AddressSanitizer to build).
  bool CheckBounds = false;
  /// motec run --cxxflags: compiler flags after the default ones.
  std::string CxxFlags;
};

/// Imports, compiles and lays out the model of \p S and emits C++ named \p Name.
/// \p CheckBounds: the --check-bounds debug mode (CppEmitOptions).
Expected<Generated> generateCpp(Session &S, const std::string &Name,
                                bool CheckBounds = false);

/// NAME.h and NAME.o of the LLVM backend for \p Target from what
/// generateCpp made (same graph and layout), optimised at \p OptLevel.
Expected<std::vector<EmittedFile>> generateObject(const Session &S,
                                                  const Generated &Gen,
                                                  const std::string &Name,
                                                  const TargetInfo &Target,
                                                  int OptLevel = 2);

/// Writes \p Files under \p Dir through a temporary sibling directory, so a
/// failure leaves no partial output; existing files of the same names in
/// \p Dir are replaced, others are kept.
Status writeFilesAtomically(const std::filesystem::path &Dir,
                            const std::vector<EmittedFile> &Files);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_GENERATE_H
