//===- Strategies.cpp - The placement orders the planner tries -----------===//
//
// Each strategy is the greedy placement (Placement.cpp) over one order of
// the buffers: largest first, longest-lived first, most conflicted first
// (the bytes of everything live with it), or by first use. The table order
// breaks ties between equal arenas.
//
//===----------------------------------------------------------------------===//

#include "memory/Placement.h"

#include <cassert>
#include <iterator>
#include <utility>

namespace mote {

namespace memory_detail {

namespace {

std::vector<int32_t> orderBySize(const Problem &P) {
  return groupedOrder(
      P, [&](int32_t X, int32_t Y) { return P.Rounded[X] > P.Rounded[Y]; });
}

std::vector<int32_t> orderByLifetime(const Problem &P) {
  const auto &B = P.Buffers;
  return groupedOrder(P, [&](int32_t X, int32_t Y) {
    int64_t LX = int64_t(B[X].Last) - B[X].First;
    int64_t LY = int64_t(B[Y].Last) - B[Y].First;
    return std::pair(LX, P.Rounded[X]) > std::pair(LY, P.Rounded[Y]);
  });
}

/// For every buffer, the sum of the rounded sizes of the other buffers live
/// at some step with it: all that start by its last step minus those that
/// end before its first, found by binary search over prefix sums.
std::vector<int64_t> conflictPressure(const Problem &P) {
  const auto &B = P.Buffers;
  size_t N = B.size();
  std::vector<std::pair<int32_t, int64_t>> ByFirst, ByLast;
  for (size_t I = 0; I < N; ++I) {
    if (B[I].Size == 0)
      continue;
    ByFirst.emplace_back(B[I].First, P.Rounded[I]);
    ByLast.emplace_back(B[I].Last, P.Rounded[I]);
  }
  std::sort(ByFirst.begin(), ByFirst.end());
  std::sort(ByLast.begin(), ByLast.end());
  auto PrefixSums = [](const auto &V) {
    std::vector<int64_t> Sums(V.size() + 1, 0);
    for (size_t I = 0; I < V.size(); ++I)
      Sums[I + 1] = Sums[I] + V[I].second;
    return Sums;
  };
  std::vector<int64_t> FirstSums = PrefixSums(ByFirst);
  std::vector<int64_t> LastSums = PrefixSums(ByLast);
  std::vector<int64_t> Pressure(N, 0);
  for (size_t I = 0; I < N; ++I) {
    if (B[I].Size == 0)
      continue;
    auto StartedBy = std::upper_bound(
        ByFirst.begin(), ByFirst.end(), B[I].Last,
        [](int32_t Step, const auto &E) { return Step < E.first; });
    auto EndedBefore = std::lower_bound(
        ByLast.begin(), ByLast.end(), B[I].First,
        [](const auto &E, int32_t Step) { return E.first < Step; });
    Pressure[I] = FirstSums[StartedBy - ByFirst.begin()] -
                  LastSums[EndedBefore - ByLast.begin()] - P.Rounded[I];
  }
  return Pressure;
}

std::vector<int32_t> orderByConflicts(const Problem &P) {
  std::vector<int64_t> Pressure = conflictPressure(P);
  return groupedOrder(
      P, [&](int32_t X, int32_t Y) { return Pressure[X] > Pressure[Y]; });
}

std::vector<int32_t> orderByFirstUse(const Problem &P) {
  const auto &B = P.Buffers;
  return groupedOrder(P, [&](int32_t X, int32_t Y) {
    if (B[X].First != B[Y].First)
      return B[X].First < B[Y].First;
    return P.Rounded[X] > P.Rounded[Y];
  });
}

constexpr OrderStrategy OrderTable[] = {
    {"size", orderBySize},
    {"lifetime", orderByLifetime},
    {"conflicts", orderByConflicts},
    {"first-use", orderByFirstUse},
};

} // namespace

std::span<const OrderStrategy> orderStrategies() { return OrderTable; }

} // namespace memory_detail

namespace {

using namespace memory_detail;

/// Strategy \p Index alone: its placement, without the improvement step.
template <size_t Index>
MemoryPlan runStrategy(std::span<const BufferRequest> Buffers,
                       int64_t ArenaAlign) {
  assert(ArenaAlign >= 1 && "arena alignment must be positive");
  Problem P = buildProblem(Buffers);
  std::vector<int32_t> Order = OrderTable[Index].Order(P);
  Placement L;
  place(P, Order, 0, L);
  return makePlan(L, livenessLowerBound(Buffers), ArenaAlign,
                  OrderTable[Index].Name);
}

constexpr PlannerStrategy StrategyTable[] = {
    {OrderTable[0].Name, runStrategy<0>},
    {OrderTable[1].Name, runStrategy<1>},
    {OrderTable[2].Name, runStrategy<2>},
    {OrderTable[3].Name, runStrategy<3>},
};
static_assert(std::size(StrategyTable) == std::size(OrderTable));

} // namespace

std::span<const PlannerStrategy> plannerStrategies() { return StrategyTable; }

} // namespace mote
