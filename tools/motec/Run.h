//===- Run.h - Running generated code, shared by run and check --*- C++ -*-===//
//
// What `motec run` does after compiling, exposed for `motec check`: build
// the generated code with a harness for a target, run it (natively or under
// qemu), and read back the losses, trained parameters or outputs and,
// optionally, the guest instructions counted by the qemu plugin.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_RUN_H
#define MOTE_TOOLS_MOTEC_RUN_H

#include "Generate.h"
#include "codegen/Targets.h"
#include "compiler/Tensor.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mote::cli {

/// What a run produced, whichever engine ran it.
struct RunResult {
  std::vector<float> Losses;              ///< training: one per step
  std::vector<std::pair<const Value *, Tensor>> Params; ///< trained values
  std::vector<std::pair<const Value *, Tensor>> Outputs; ///< inference
  uint64_t Instructions = 0; ///< guest instructions, when counted
};

/// Builds \p Gen (model.cpp, or model.o when Gen.Files holds one) with a
/// harness for \p Target in a temporary directory (kept with \p KeepDir) and
/// runs \p Steps training steps (or one inference) on \p Feeds, which holds
/// a tensor for every graph input. A non-empty \p CountPlugin is the qemu
/// plugin that counts guest instructions (emulated targets only).
Expected<RunResult> runGenerated(const Generated &Gen, bool Training,
                                 int64_t Steps,
                                 const std::map<std::string, Tensor> &Feeds,
                                 const TargetInfo &Target, bool KeepDir,
                                 const std::filesystem::path &CountPlugin = {});

/// Reads `--input NAME=FILE.pb` values for the inputs of \p G, converting
/// integer labels to the graph's integer type. A malformed value is a usage
/// error (Diag::Line == -2, as parseSession reports them). With
/// \p RequireAll, a graph input without a value is an error.
Expected<std::map<std::string, Tensor>>
readInputFiles(const Graph &G, const std::vector<std::string> &Specs,
               bool RequireAll = true);

/// The instruction-counting qemu plugin built next to motec.
Expected<std::filesystem::path> findCountPlugin();

/// An error if the compiler or emulator \p Target needs is not installed.
Status checkTargetTools(const TargetInfo &Target);

/// Replaces model.cpp in \p Gen with the LLVM backend's model.o for
/// \p Target (model.h is the same).
Status useObject(const Session &S, Generated &Gen, const TargetInfo &Target);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_RUN_H
