//===- Liveness.h - Buffers of a scheduled graph and their layout -*- C++ -*-===//
//
// Turns a graph, taken in its node order as the schedule, into the buffers a
// device needs and lays them out with the memory planner:
//   - frozen parameters and constants are read-only (flash),
//   - trainable parameters and optimizer state persist across steps: arena,
//     live over the whole step,
//   - graph inputs and node results are arena buffers live from their
//     definition (inputs: step 0) to their last use (outputs: the last step),
//   - the new value of a parameter (a state update) is written in place
//     into the parameter's buffer, so it is no buffer of its own; so is the
//     result of an elementwise op (OpFlagInPlace) written over an input
//     that dies there.
// Schedule step i is node i.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_PASSES_LIVENESS_H
#define MOTE_PASSES_LIVENESS_H

#include "compiler/Diagnostic.h"
#include "passes/MemoryPlanner.h"

#include <string>
#include <vector>

namespace mote {

class Graph;
class Value;

enum class BufferKind { Activation, Gradient, Param, OptimizerState, Input };
std::string_view bufferKindName(BufferKind K);

struct BufferInfo {
  const Value *V = nullptr;
  BufferKind Kind = BufferKind::Activation;
  bool InArena = true;
  int64_t Bytes = 0;
  int32_t First = 0, Last = 0; ///< schedule steps, inclusive (arena only)
  int64_t Offset = -1;         ///< arena offset, -1 for flash
  /// Value whose storage this value is written into (state updates: the
  /// parameter; in-place elementwise results: the input they overwrite).
  const Value *InplaceWith = nullptr;
};

struct MemoryLayout {
  std::vector<BufferInfo> Buffers;
  MemoryPlan Plan;
  int64_t FlashBytes = 0;
  int32_t NumSteps = 0;
};

/// Live arena bytes at each schedule step.
std::vector<int64_t> liveBytesPerStep(const MemoryLayout &L);
/// The step with the most live bytes (the first such step).
int32_t peakStep(const MemoryLayout &L);
/// Arena buffers live at step \p S, largest first (stable by creation order).
std::vector<const BufferInfo *> buffersLiveAt(const MemoryLayout &L, int32_t S);

/// Buffers and arena layout of \p G in its current node order. With
/// \p InPlace, results of OpFlagInPlace ops share the storage of an input
/// of the same type that dies at their node (InplaceWith names it; the
/// chain's first buffer's interval is extended over the whole chain).
Expected<MemoryLayout> computeLayout(const Graph &G, int64_t Align = 16,
                                     bool InPlace = true);

} // namespace mote

#endif // MOTE_PASSES_LIVENESS_H
