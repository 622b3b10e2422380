//===- Planner.h - Static arena layout for live buffers ---------*- C++ -*-===//
//
// The memory planner gives every buffer of a schedule a byte offset in one
// arena so that buffers live at the same step never share bytes. It is a
// pure function over plain structs (size, alignment, live interval and an
// optional in-place partner) and knows nothing about the IR.
//
// Instead of solving the layout exactly (MILP), it tries a table of greedy
// strategies that differ only in the order buffers are placed, each putting
// a buffer at the lowest aligned offset free of conflicts, keeps the
// smallest arena, and then spends a bounded number of local reorderings
// trying to lower it further. The liveness lower bound is reported beside
// the arena so callers can print the efficiency (lower bound / arena).
//
// The files of the planner: Placement.cpp (the greedy placement every
// strategy runs), Strategies.cpp (the orders), Improve.cpp (the local
// reorderings), Planner.cpp (the driver that keeps the best, the lower
// bound, the plan check). Buffers.h turns a scheduled graph into requests;
// Layout.h runs the planner on them.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_MEMORY_PLANNER_H
#define MOTE_MEMORY_PLANNER_H

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mote {

/// One buffer to place.
struct BufferRequest {
  /// Bytes, >= 0. Zero-size buffers get offset 0 and never conflict.
  int64_t Size;
  /// Power of two >= 1. The size is rounded up to it when placed.
  int64_t Align;
  /// Live interval over schedule steps, inclusive; First <= Last.
  int32_t First, Last;
  /// Index of an earlier buffer whose storage this one may reuse exactly:
  /// it must end at this one's First and be at least as big. -1: none. A
  /// request that breaks these rules is treated as -1.
  int32_t InplaceWith = -1;
};

/// Where every buffer goes.
struct MemoryPlan {
  /// Byte offset of each request, in request order.
  std::vector<int64_t> Offsets;
  /// max(offset + size), rounded up to the arena alignment.
  int64_t ArenaBytes = 0;
  /// Max over steps of the sum of sizes live at that step, in-place pairs
  /// counted once; no layout can use fewer bytes.
  int64_t LowerBoundBytes = 0;
  /// LowerBoundBytes / ArenaBytes (1 for an empty arena): 1 is optimal.
  double efficiency() const {
    return ArenaBytes ? double(LowerBoundBytes) / double(ArenaBytes) : 1.0;
  }
  /// Name of the strategy that produced the plan; planMemory appends
  /// "+improved" when its improvement step lowered the arena.
  std::string Strategy;
};

/// One named strategy; the table lists them all.
struct PlannerStrategy {
  std::string_view Name;
  MemoryPlan (*Run)(std::span<const BufferRequest>, int64_t ArenaAlign);
};

/// The strategies planMemory tries, in tie-breaking order.
std::span<const PlannerStrategy> plannerStrategies();

/// Runs every strategy, keeps the smallest arena (ties: first in table
/// order), then runs a bounded improvement step on the winner's order.
/// Deterministic: the same input always gives the same plan.
MemoryPlan planMemory(std::span<const BufferRequest> Buffers,
                      int64_t ArenaAlign = 16);

/// The liveness lower bound alone (see MemoryPlan::LowerBoundBytes).
int64_t livenessLowerBound(std::span<const BufferRequest> Buffers);

/// Independent validity check used by tests: no two buffers with
/// overlapping intervals overlap in address (except an in-place pair
/// sharing exactly), each offset aligned, all inside the arena. Returns an
/// empty string if \p P is valid, else a description of the first violation.
std::string checkPlan(std::span<const BufferRequest> Buffers,
                      const MemoryPlan &P);

} // namespace mote

#endif // MOTE_MEMORY_PLANNER_H
