//===- Placement.h - Greedy placement shared by the planner -----*- C++ -*-===//
//
// Internal to memory/. Every planner strategy is the same greedy placement
// run over a different order of the buffers (Strategies.cpp), and the
// improvement step (Improve.cpp) re-places suffixes of an order. This header
// holds what they share: the problem (rounded sizes, in-place partners), a
// placement's offsets, the placement itself and the grouping of in-place
// children after their partner.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_MEMORY_PLACEMENT_H
#define MOTE_MEMORY_PLACEMENT_H

#include "memory/Planner.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace mote::memory_detail {

inline int64_t alignUp(int64_t V, int64_t A) { return (V + A - 1) / A * A; }

/// The valid in-place partner of buffer \p I, or -1.
int32_t inplaceParent(std::span<const BufferRequest> B, size_t I);

inline bool liveTogether(const BufferRequest &A, const BufferRequest &B) {
  return A.First <= B.Last && B.First <= A.Last;
}

/// Everything the placements share: rounded sizes and in-place partners.
struct Problem {
  std::span<const BufferRequest> Buffers;
  std::vector<int64_t> Rounded;
  std::vector<int32_t> Parent;
};

Problem buildProblem(std::span<const BufferRequest> B);

/// Offsets produced by placing buffers in some order.
struct Placement {
  std::vector<int64_t> Offsets;
  /// max(offset + size) before rounding to the arena alignment.
  int64_t Top = 0;
};

/// Greedy placement of Order[From..] on top of the offsets \p L already
/// holds for Order[..From): each buffer goes to the lowest offset, aligned
/// for it, that overlaps no placed buffer live at the same time (an
/// in-place child takes its partner's offset when that is free). Returns
/// the work done (placed buffers scanned).
size_t place(const Problem &P, std::span<const int32_t> Order, size_t From,
             Placement &L);

/// Sorts the buffers without a partner by \p Less and puts every partnered
/// buffer right after its partner (children in index order, recursively),
/// so that the partner's offset is known when the child is placed.
template <typename LessFn>
std::vector<int32_t> groupedOrder(const Problem &P, LessFn Less) {
  size_t N = P.Buffers.size();
  std::vector<int32_t> Roots;
  std::vector<std::vector<int32_t>> Children(N);
  for (size_t I = 0; I < N; ++I) {
    if (P.Parent[I] >= 0)
      Children[P.Parent[I]].push_back(int32_t(I));
    else
      Roots.push_back(int32_t(I));
  }
  std::sort(Roots.begin(), Roots.end(), [&](int32_t X, int32_t Y) {
    if (Less(X, Y))
      return true;
    if (Less(Y, X))
      return false;
    return X < Y;
  });
  std::vector<int32_t> Order, Stack;
  Order.reserve(N);
  for (int32_t R : Roots) {
    Stack.push_back(R);
    while (!Stack.empty()) {
      int32_t I = Stack.back();
      Stack.pop_back();
      Order.push_back(I);
      for (auto It = Children[I].rbegin(); It != Children[I].rend(); ++It)
        Stack.push_back(*It);
    }
  }
  return Order;
}

/// One order of the strategy table (Strategies.cpp).
struct OrderStrategy {
  std::string_view Name;
  std::vector<int32_t> (*Order)(const Problem &);
};
std::span<const OrderStrategy> orderStrategies();

/// The improvement step (Improve.cpp): deterministic local changes to
/// \p Order, each kept when it lowers the top of \p Best. Returns whether
/// anything improved.
bool improve(const Problem &P, std::vector<int32_t> &Order, Placement &Best);

/// The plan of placement \p L.
MemoryPlan makePlan(const Placement &L, int64_t LowerBound, int64_t ArenaAlign,
                    std::string_view Name);

} // namespace mote::memory_detail

#endif // MOTE_MEMORY_PLACEMENT_H
