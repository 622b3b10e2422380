//===- Toolchain.h - Building and running generated code --------*- C++ -*-===//
//
// What `motec run` and `motec check` do after compiling: build a compiled
// model's generated code (its C++, or the LLVM backend's object) with a
// harness (driver harnessSource) for a target, with the host's compiler or
// the target's cross compiler, run it natively or under qemu (an emulated
// board with Arm semihosting, or Linux user mode), and read back the
// losses, trained parameters or outputs and, optionally, the guest
// instructions counted by the qemu plugin. Also the inputs such a run
// takes.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_TOOLCHAIN_H
#define MOTE_TOOLS_MOTEC_TOOLCHAIN_H

#include "codegen/Output.h"
#include "codegen/Targets.h"
#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mote {
class Graph;
class Value;
struct CompiledModel;
} // namespace mote

namespace mote::cli {

/// What a run produced, whichever engine ran it.
struct RunResult {
  std::vector<float> Losses; ///< training: one per step
  std::vector<std::pair<const Value *, Tensor>> Params;  ///< trained values
  std::vector<std::pair<const Value *, Tensor>> Outputs; ///< inference
  uint64_t Instructions = 0; ///< guest instructions, when counted
};

/// How to build and run.
struct RunSettings {
  /// Keep the build directory (printed).
  bool Keep = false;
  /// Compiler flags after the defaults (motec run --cxxflags).
  std::string CxxFlags;
  /// The qemu plugin that counts guest instructions (emulated targets);
  /// empty: none.
  std::filesystem::path CountPlugin;
};

/// Builds \p Files (model.h with model.cpp + model.weights, or model.o;
/// the runtime-stub files are added) of \p M with a harness for \p Target
/// in a temporary directory and runs \p Steps training steps (or
/// inferences) on \p Feeds, which holds a tensor for every graph input.
Expected<RunResult>
runGenerated(const CompiledModel &M, const std::vector<EmittedFile> &Files,
             int64_t Steps, const std::map<std::string, Tensor> &Feeds,
             const TargetInfo &Target, const RunSettings &S);

/// Guest instructions of one training step (or inference) on an emulated
/// \p Target: runs of 1 and 2 steps with the counting plugin, their
/// difference (start-up and file I/O cancel). The run of \p Steps steps
/// when that is 1 or 2.
struct CountedRun {
  uint64_t Counts[2] = {0, 0};
  int64_t PerStep = 0;
  std::optional<RunResult> Result;
};
Expected<CountedRun>
countInstructions(const CompiledModel &M, const std::vector<EmittedFile> &Files,
                  int64_t Steps, const std::map<std::string, Tensor> &Feeds,
                  const TargetInfo &Target, RunSettings S);

/// Reads `--input NAME=FILE.pb` values for the inputs of \p G, converting
/// integer labels to the graph's integer type. A malformed value is a usage
/// error. With \p RequireAll, a graph input without a value is an error.
Expected<std::map<std::string, Tensor>>
readInputFiles(const Graph &G, const std::vector<std::string> &Specs,
               bool RequireAll = true);

/// The instruction-counting qemu plugin built next to motec.
Expected<std::filesystem::path> findCountPlugin();

/// An error if the compiler or emulator \p Target needs is not installed.
Status checkTargetTools(const TargetInfo &Target);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_TOOLCHAIN_H
