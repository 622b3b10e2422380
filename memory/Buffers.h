//===- Buffers.h - The buffers of a scheduled graph -------------*- C++ -*-===//
//
// The analysis half of memory planning: a graph, taken in its node order as
// the schedule (step i is node i), becomes the buffers a device needs, each
// with its live interval:
//   - frozen parameters and constants are read-only (flash),
//   - trainable parameters and optimizer state persist across steps: arena,
//     live over the whole step,
//   - graph inputs and node results are arena buffers live from their
//     definition (inputs: step 0) to their last use (outputs: the last step),
//   - the new value of a parameter (a state update) is written in place
//     into the parameter's buffer, so it is no buffer of its own; so is the
//     result of an elementwise op (OpFlagInPlace) written over an input
//     that dies there.
// The arena buffers become the planner's requests (Planner.h). The liveness
// lower bound needs nothing more, so the schedule pass asks for it here
// without laying anything out.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_MEMORY_BUFFERS_H
#define MOTE_MEMORY_BUFFERS_H

#include "compiler/Diagnostic.h"
#include "memory/Planner.h"

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
  /// A graph input: read where the caller's buffer is (the pointer the
  /// entry point receives), neither in the arena nor in flash.
  bool FromCaller = false;
  int64_t Bytes = 0;
  int32_t First = 0, Last = 0; ///< schedule steps, inclusive (arena only)
  int64_t Offset = -1;         ///< arena offset, -1 for flash
  /// Value whose storage this value is written into (state updates: the
  /// parameter; in-place elementwise results: the input they overwrite).
  const Value *InplaceWith = nullptr;
};

/// The buffers of a schedule.
struct ScheduleBuffers {
  /// Inputs, parameters (graph order), then node results (schedule order).
  std::vector<BufferInfo> Buffers;
  int64_t FlashBytes = 0;
  /// Bytes of the graph inputs read from the caller's buffers.
  int64_t CallerBytes = 0;
  int32_t NumSteps = 0;
};

/// The buffers of \p G in its current node order. With \p InPlace, results
/// of OpFlagInPlace ops share the storage of an input of the same type that
/// dies at their node (InplaceWith names it; the chain's first buffer's
/// interval is extended over the whole chain). Fails if a parameter is read
/// after its update.
Expected<ScheduleBuffers> scheduleBuffers(const Graph &G, bool InPlace = true);

/// The planner's requests for the arena buffers of \p S that have storage of
/// their own (not flash, not written into another buffer), aligned to
/// \p Align; \p Planned receives the index in S.Buffers of each request.
std::vector<BufferRequest>
arenaRequests(const ScheduleBuffers &S, int64_t Align,
              std::vector<size_t> *Planned = nullptr);

/// The liveness lower bound of \p G's arena in its current order (what
/// computeLayout reports as LowerBoundBytes), without laying anything out.
Expected<int64_t> liveBytesLowerBound(const Graph &G, int64_t Align = 16);

/// Live arena bytes at each schedule step.
std::vector<int64_t> liveBytesPerStep(const ScheduleBuffers &S);
/// The step with the most live bytes (the first such step).
int32_t peakStep(const ScheduleBuffers &S);
/// Arena buffers live at step \p Step, largest first (stable by creation
/// order).
std::vector<const BufferInfo *> buffersLiveAt(const ScheduleBuffers &S,
                                              int32_t Step);

} // namespace mote

#endif // MOTE_MEMORY_BUFFERS_H
