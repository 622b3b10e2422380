//===- Layout.h - The arena layout of a scheduled graph ---------*- C++ -*-===//
//
// The driver of memory planning for a graph: its buffers (Buffers.h) laid
// out by the planner (Planner.h) in one arena. Buffers written into another
// buffer's storage (state updates, in-place chains) get their partner's
// offset.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_MEMORY_LAYOUT_H
#define MOTE_MEMORY_LAYOUT_H

#include "memory/Buffers.h"

namespace mote {

struct MemoryLayout : ScheduleBuffers {
  MemoryPlan Plan;
};

/// Buffers and arena layout of \p G in its current node order (see
/// scheduleBuffers for \p InPlace); every arena request aligned to \p Align.
Expected<MemoryLayout> computeLayout(const Graph &G, int64_t Align = 16,
                                     bool InPlace = true);

} // namespace mote

#endif // MOTE_MEMORY_LAYOUT_H
