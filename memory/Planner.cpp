//===- Planner.cpp - The planner's driver, lower bound and plan check -----===//
//
// planMemory runs every order of the strategy table (Strategies.cpp) through
// the greedy placement (Placement.cpp) and the improvement step
// (Improve.cpp) and keeps the smallest arena. The liveness lower bound and
// the independent plan check live here too.
//
//===----------------------------------------------------------------------===//

#include "memory/Planner.h"
#include "memory/Placement.h"

#include <cassert>
#include <string>
#include <utility>

namespace mote {

namespace memory_detail {

MemoryPlan makePlan(const Placement &L, int64_t LowerBound, int64_t ArenaAlign,
                    std::string_view Name) {
  MemoryPlan Plan;
  Plan.Offsets = L.Offsets;
  Plan.ArenaBytes = alignUp(L.Top, ArenaAlign);
  Plan.LowerBoundBytes = LowerBound;
  Plan.Strategy = std::string(Name);
  return Plan;
}

} // namespace memory_detail

using namespace memory_detail;

MemoryPlan planMemory(std::span<const BufferRequest> Buffers,
                      int64_t ArenaAlign) {
  assert(ArenaAlign >= 1 && "arena alignment must be positive");
  Problem P = buildProblem(Buffers);
  int64_t LowerBound = livenessLowerBound(Buffers);
  // Each order is placed, then improved by local changes; the lowest arena
  // wins. (Improving every order, not only the best first placement, costs
  // a few milliseconds at most and finds the better layout where the first
  // placements are close.)
  std::string Name;
  Placement Best;
  std::span<const OrderStrategy> Orders = orderStrategies();
  for (size_t S = 0; S < Orders.size(); ++S) {
    std::vector<int32_t> Order = Orders[S].Order(P);
    Placement L;
    place(P, Order, 0, L);
    int64_t Placed = alignUp(L.Top, ArenaAlign);
    bool Improved = L.Top > LowerBound && improve(P, Order, L) &&
                    alignUp(L.Top, ArenaAlign) < Placed;
    if (S == 0 || alignUp(L.Top, ArenaAlign) < alignUp(Best.Top, ArenaAlign)) {
      Name = std::string(Orders[S].Name) + (Improved ? "+improved" : "");
      Best = std::move(L);
    }
  }
  return makePlan(Best, LowerBound, ArenaAlign, Name);
}

int64_t livenessLowerBound(std::span<const BufferRequest> Buffers) {
  // (step, delta) events; a partner shares storage with its largest valid
  // child at the one step they are both live, so that child counts once.
  std::vector<std::pair<int64_t, int64_t>> Events;
  std::vector<int64_t> LargestChild(Buffers.size(), 0);
  for (size_t I = 0; I < Buffers.size(); ++I) {
    const BufferRequest &B = Buffers[I];
    if (B.Size == 0)
      continue;
    Events.emplace_back(B.First, B.Size);
    Events.emplace_back(int64_t(B.Last) + 1, -B.Size);
    int32_t K = inplaceParent(Buffers, I);
    if (K >= 0)
      LargestChild[K] = std::max(LargestChild[K], B.Size);
  }
  for (size_t K = 0; K < Buffers.size(); ++K) {
    if (LargestChild[K] == 0)
      continue;
    Events.emplace_back(Buffers[K].Last, -LargestChild[K]);
    Events.emplace_back(int64_t(Buffers[K].Last) + 1, LargestChild[K]);
  }
  std::sort(Events.begin(), Events.end());
  int64_t Live = 0, Max = 0;
  for (size_t E = 0; E < Events.size();) {
    int64_t Step = Events[E].first;
    for (; E < Events.size() && Events[E].first == Step; ++E)
      Live += Events[E].second;
    Max = std::max(Max, Live);
  }
  return Max;
}

std::string checkPlan(std::span<const BufferRequest> Buffers,
                      const MemoryPlan &P) {
  auto Str = [](int64_t V) { return std::to_string(V); };
  if (P.Offsets.size() != Buffers.size())
    return "plan has " + Str(int64_t(P.Offsets.size())) + " offsets for " +
           Str(int64_t(Buffers.size())) + " buffers";
  for (size_t I = 0; I < Buffers.size(); ++I) {
    int64_t Off = P.Offsets[I];
    const BufferRequest &B = Buffers[I];
    if (Off < 0)
      return "buffer " + Str(int64_t(I)) + " has negative offset " + Str(Off);
    if (B.Align < 1 || Off % B.Align != 0)
      return "buffer " + Str(int64_t(I)) + " at offset " + Str(Off) +
             " is not aligned to " + Str(B.Align);
    if (Off + B.Size > P.ArenaBytes)
      return "buffer " + Str(int64_t(I)) + " [" + Str(Off) + ", " +
             Str(Off + B.Size) + ") lies outside the arena of " +
             Str(P.ArenaBytes) + " bytes";
  }
  for (size_t I = 0; I < Buffers.size(); ++I) {
    const BufferRequest &A = Buffers[I];
    if (A.Size == 0)
      continue;
    for (size_t J = I + 1; J < Buffers.size(); ++J) {
      const BufferRequest &B = Buffers[J];
      if (B.Size == 0 || A.Last < B.First || B.Last < A.First)
        continue;
      int64_t OA = P.Offsets[I], OB = P.Offsets[J];
      if (OA + A.Size <= OB || OB + B.Size <= OA)
        continue;
      if (inplaceParent(Buffers, J) == int32_t(I) && OA == OB)
        continue;
      return "buffers " + Str(int64_t(I)) + " [" + Str(OA) + ", " +
             Str(OA + A.Size) + ") and " + Str(int64_t(J)) + " [" + Str(OB) +
             ", " + Str(OB + B.Size) + ") overlap while both live at step " +
             Str(std::max(A.First, B.First));
    }
  }
  return "";
}

} // namespace mote
