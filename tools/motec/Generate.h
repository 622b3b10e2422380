//===- Generate.h - Graph to generated code, shared by compile and run -*- C++ -*-===//

#ifndef MOTE_TOOLS_MOTEC_GENERATE_H
#define MOTE_TOOLS_MOTEC_GENERATE_H

#include "Session.h"
#include "codegen/cpp/CppEmitter.h"
#include "compiler/Graph.h"
#include "passes/Liveness.h"

#include <filesystem>
#include <memory>

namespace mote::cli {

struct Generated {
  std::unique_ptr<Graph> G;
  MemoryLayout Layout;
  /// NAME.h, NAME.cpp and the runtime-stub headers.
  std::vector<EmittedFile> Files;
};

/// Imports, compiles and lays out the model of \p S and emits C++ named \p Name.
Expected<Generated> generateCpp(Session &S, const std::string &Name);

/// Writes \p Files under \p Dir through a temporary sibling directory, so a
/// failure leaves no partial output; existing files of the same names in
/// \p Dir are replaced, others are kept.
Status writeFilesAtomically(const std::filesystem::path &Dir,
                            const std::vector<EmittedFile> &Files);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_GENERATE_H
