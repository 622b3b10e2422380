//===- CppEmitter.h - Freestanding C++ source from a planned graph -*- C++ -*-===//
//
// Emits NAME.h + NAME.cpp from a scheduled graph and its memory layout: one
// runtime-stub kernel call per node (the op's Lower hook), in schedule
// order, every tensor at its planned arena offset, frozen weights as const
// arrays (flash). The API is DESIGN.md's "Generated API"; docs/generated-api.md
// describes it for users. Output is a pure function of the graph, the layout
// and the options (byte-identical for the same input).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_CPP_CPPEMITTER_H
#define MOTE_CODEGEN_CPP_CPPEMITTER_H

#include "compiler/Diagnostic.h"

#include <span>
#include <string>
#include <vector>

namespace mote {

class Graph;
class Value;
struct MemoryLayout;

struct CppEmitOptions {
  /// Prefix of every exported symbol; a C identifier.
  std::string Name = "model";
  /// For training graphs: the model output inference returns (the value the
  /// loss is on); null for inference graphs (the graph outputs) or models
  /// that compute their own loss (no inference entry then).
  const Value *Prediction = nullptr;
  /// Shown in the file banner.
  std::string Source;
  /// Debug mode: every kernel call may touch only its operands' planned
  /// arena bytes, enforced with AddressSanitizer (mote_rt/check.h). The
  /// code then needs -fsanitize=address.
  bool CheckBounds = false;
};

struct EmittedFile {
  std::string Path; ///< relative to the output directory
  std::string Text;
};

/// The generated header and source. Fails, naming the node, if a node has no
/// lowering or its lowering rejects it.
Expected<std::vector<EmittedFile>> emitCpp(const Graph &G,
                                           const MemoryLayout &L,
                                           const CppEmitOptions &O);

/// The runtime-stub headers the generated code includes (paths like
/// "mote_rt/core.h"), embedded in the compiler at build time.
std::span<const EmittedFile> runtimeStubFiles();

/// Whether \p S is a valid C identifier (and so a valid --name).
bool isCIdentifier(std::string_view S);

/// Description of one entry of the checkpoint (trainable parameters and
/// optimizer state, in graph order), for tools that read checkpoints.
struct CheckpointEntry {
  const Value *V = nullptr;
  int64_t Offset = 0; ///< in the checkpoint
  int64_t Bytes = 0;
};
std::vector<CheckpointEntry> checkpointLayout(const Graph &G);

class Node;
/// What the inference entry (NAME_infer_v) of a graph runs, shared by the
/// code generators: for a training graph, the forward nodes \p Prediction
/// depends on (in schedule order, at their planned offsets: a prefix-closed
/// subset of the step), the graph inputs they read and the prediction; for
/// an inference graph, everything. Empty (no entry) for a training graph
/// without a prediction (the model computes its own loss).
struct InferencePlan {
  std::vector<const Node *> Nodes;
  std::vector<const Value *> Inputs, Outputs;
};
InferencePlan inferencePlan(const Graph &G, bool Training,
                            const Value *Prediction);

} // namespace mote

#endif // MOTE_CODEGEN_CPP_CPPEMITTER_H
