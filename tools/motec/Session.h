//===- Session.h - Options shared by compile, run and inspect ---*- C++ -*-===//
//
// The model options every motec command that builds a graph accepts
// (import: --input-shape, --batch; training: --train, --loss, --output,
// --optimizer, --lr, --update ...), parsed once into ImportOptions and
// PassContext, and the function that imports a model and runs the pipeline.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_SESSION_H
#define MOTE_TOOLS_MOTEC_SESSION_H

#include "Options.h"
#include "frontends/onnx/OnnxImporter.h"
#include "passes/Pass.h"

#include <memory>
#include <vector>

namespace mote {
class Graph;
}

namespace mote::cli {


struct Session {
  std::string ModelPath;
  ImportOptions Import;
  PassContext Passes;
  bool Training = false;
  bool Reorder = true;
  bool Fuse = true;
};

/// Reads the model options from \p Args. A usage error has Diag::Line == -2.
Expected<Session> parseSession(const ParsedArgs &Args);

/// Reports an error of parseSession: a usage error (exit 2) or a user error
/// (exit 1).
int reportSessionError(std::string_view Command, const Diag &D);

/// Imports the model and runs the default pipeline.
Expected<std::unique_ptr<Graph>> buildGraph(Session &S);

/// Node counts by phase and bytes of forward values the backward reads.
struct TrainingStats {
  int64_t ForwardNodes = 0, BackwardNodes = 0, UpdateNodes = 0;
  int64_t SavedActivations = 0, SavedActivationBytes = 0;
  int64_t TrainableParams = 0, TrainableElements = 0;
};
TrainingStats computeTrainingStats(const Graph &G);

/// Combines a command's own options with the model options.
std::vector<OptionSpec> withModelOptions(std::span<const OptionSpec> Own);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_SESSION_H
