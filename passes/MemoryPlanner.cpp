//===- MemoryPlanner.cpp - Static arena layout for live buffers -----------===//
//
// Every strategy is the same greedy placement run over a different order:
// take the buffers one at a time and put each at the lowest offset, aligned
// for it, that does not overlap any already-placed buffer whose interval
// overlaps its own. A buffer with a valid in-place partner is placed right
// after the partner and takes the partner's offset when that is free.
//
// Placed buffers are kept sorted by offset and scanned once per buffer, so
// one placement is O(n^2) with a small constant and no conflict graph is
// stored. The improvement step re-places only the suffix of the order that a
// local change touched, and stops after a fixed number of trials or a fixed
// amount of work, whichever comes first.
//
//===----------------------------------------------------------------------===//

#include "passes/MemoryPlanner.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <iterator>
#include <string>
#include <utility>

namespace mote {

namespace {

int64_t alignUp(int64_t V, int64_t A) { return (V + A - 1) / A * A; }

/// The valid in-place partner of buffer \p I, or -1.
int32_t inplaceParent(std::span<const BufferRequest> B, size_t I) {
  int32_t K = B[I].InplaceWith;
  if (K < 0 || size_t(K) >= I)
    return -1;
  if (B[K].Last != B[I].First || B[K].Size < B[I].Size)
    return -1;
  return K;
}

/// Everything the placements share: rounded sizes and in-place partners.
struct Problem {
  std::span<const BufferRequest> Buffers;
  std::vector<int64_t> Rounded;
  std::vector<int32_t> Parent;
};

Problem buildProblem(std::span<const BufferRequest> B) {
  Problem P;
  P.Buffers = B;
  P.Rounded.resize(B.size());
  P.Parent.resize(B.size());
  for (size_t I = 0; I < B.size(); ++I) {
    assert(B[I].Size >= 0 && B[I].Align >= 1 &&
           (B[I].Align & (B[I].Align - 1)) == 0 && B[I].First <= B[I].Last &&
           "malformed buffer request");
    P.Rounded[I] = alignUp(B[I].Size, B[I].Align);
    P.Parent[I] = inplaceParent(B, I);
  }
  return P;
}

bool liveTogether(const BufferRequest &A, const BufferRequest &B) {
  return A.First <= B.Last && B.First <= A.Last;
}

/// Offsets produced by placing buffers in some order.
struct Layout {
  std::vector<int64_t> Offsets;
  /// max(offset + size) before rounding to the arena alignment.
  int64_t Top = 0;
};

/// A placed positive-size buffer, as the placement scans it.
struct PlacedRange {
  int64_t Start, End; // rounded size
  int32_t First, Last;
  int32_t Id;
};

/// Greedy placement of Order[From..] on top of the offsets \p L already
/// holds for Order[..From). Keeps the placed buffers sorted by offset and
/// scans them once per buffer, so a placement is O(n^2) with a small
/// constant. Returns the work done (placed buffers scanned).
size_t place(const Problem &P, std::span<const int32_t> Order, size_t From,
             Layout &L) {
  const auto &B = P.Buffers;
  size_t N = B.size();
  L.Offsets.resize(N, 0);
  std::vector<PlacedRange> Placed;
  Placed.reserve(Order.size());
  std::vector<char> IsPlaced(N, 0);
  for (size_t Pos = 0; Pos < From; ++Pos) {
    int32_t I = Order[Pos];
    IsPlaced[I] = 1;
    if (B[I].Size > 0)
      Placed.push_back({L.Offsets[I], L.Offsets[I] + P.Rounded[I], B[I].First,
                        B[I].Last, I});
  }
  auto ByStart = [](const PlacedRange &X, const PlacedRange &Y) {
    return std::pair(X.Start, X.Id) < std::pair(Y.Start, Y.Id);
  };
  std::sort(Placed.begin(), Placed.end(), ByStart);
  size_t Work = 0;
  for (size_t Pos = From; Pos < Order.size(); ++Pos) {
    int32_t I = Order[Pos];
    IsPlaced[I] = 1;
    if (B[I].Size == 0) {
      L.Offsets[I] = 0;
      continue;
    }
    const BufferRequest &R = B[I];
    int64_t Size = P.Rounded[I], Align = R.Align;
    int32_t K = P.Parent[I];
    int64_t Offset = -1;
    // In place: the partner's offset, if aligned and free of everyone else.
    if (K >= 0 && IsPlaced[K] && L.Offsets[K] % Align == 0) {
      int64_t Start = L.Offsets[K], End = Start + Size;
      bool Free = true;
      for (const PlacedRange &Q : Placed) {
        ++Work;
        if (Q.Start >= End)
          break;
        if (Q.End > Start && Q.Id != K && Q.First <= R.Last &&
            R.First <= Q.Last) {
          Free = false;
          break;
        }
      }
      if (Free)
        Offset = Start;
    }
    if (Offset < 0) {
      // Lowest aligned gap: Q is scanned by start, End is the highest end of
      // a conflicting buffer so far.
      int64_t End = 0;
      for (const PlacedRange &Q : Placed) {
        ++Work;
        if (Q.First > R.Last || R.First > Q.Last)
          continue;
        if (alignUp(End, Align) + Size <= Q.Start)
          break;
        End = std::max(End, Q.End);
      }
      Offset = alignUp(End, Align);
    }
    L.Offsets[I] = Offset;
    PlacedRange New{Offset, Offset + Size, R.First, R.Last, I};
    Placed.insert(std::upper_bound(Placed.begin(), Placed.end(), New, ByStart),
                  New);
  }
  L.Top = 0;
  for (size_t I = 0; I < N; ++I)
    if (B[I].Size > 0)
      L.Top = std::max(L.Top, L.Offsets[I] + B[I].Size);
  return Work;
}

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

struct OrderStrategy {
  std::string_view Name;
  std::vector<int32_t> (*Order)(const Problem &);
};

constexpr OrderStrategy OrderTable[] = {
    {"size", orderBySize},
    {"lifetime", orderByLifetime},
    {"conflicts", orderByConflicts},
    {"first-use", orderByFirstUse},
};

MemoryPlan makePlan(const Layout &L, int64_t LowerBound, int64_t ArenaAlign,
                    std::string_view Name) {
  MemoryPlan Plan;
  Plan.Offsets = L.Offsets;
  Plan.ArenaBytes = alignUp(L.Top, ArenaAlign);
  Plan.LowerBoundBytes = LowerBound;
  Plan.Strategy = std::string(Name);
  return Plan;
}

template <size_t Index>
MemoryPlan runStrategy(std::span<const BufferRequest> Buffers,
                       int64_t ArenaAlign) {
  assert(ArenaAlign >= 1 && "arena alignment must be positive");
  Problem P = buildProblem(Buffers);
  std::vector<int32_t> Order = OrderTable[Index].Order(P);
  Layout L;
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

/// Local changes tried after the strategies, and the work they may spend
/// (placed buffers scanned while re-placing suffixes).
constexpr int MaxImproveTrials = 200;
constexpr size_t MaxImproveWork = size_t(2) << 20;

/// The buffer reaching \p L's top placed earliest in \p Order, with its
/// position; (-1, 0) if nothing has positive size.
std::pair<int32_t, size_t>
topBuffer(const Problem &P, std::span<const int32_t> Order, const Layout &L) {
  for (size_t Pos = 0; Pos < Order.size(); ++Pos) {
    int32_t I = Order[Pos];
    if (P.Buffers[I].Size > 0 && L.Offsets[I] + P.Buffers[I].Size == L.Top)
      return {I, Pos};
  }
  return {-1, 0};
}

/// Tries deterministic local changes to \p Order (move the buffer at the
/// top earlier; swap a conflicting neighbour of it with its successor) and
/// keeps every one that lowers the top. Returns whether anything improved.
bool improve(const Problem &P, std::vector<int32_t> &Order, Layout &Best) {
  bool Improved = false;
  int Trials = 0;
  size_t Work = 0;
  std::vector<size_t> PosOf(Order.size());
  Layout Trial;
  while (Trials < MaxImproveTrials && Work < MaxImproveWork) {
    auto [Top, TopPos] = topBuffer(P, Order, Best);
    if (Top < 0 || TopPos == 0)
      break;
    for (size_t Pos = 0; Pos < Order.size(); ++Pos)
      PosOf[Order[Pos]] = Pos;
    // Candidate changes, each a (from, to) move in the order.
    std::vector<std::pair<size_t, size_t>> Moves;
    for (size_t To : {size_t(0), TopPos / 2, TopPos - 1})
      if (std::find(Moves.begin(), Moves.end(), std::pair(TopPos, To)) ==
          Moves.end())
        Moves.emplace_back(TopPos, To);
    std::vector<size_t> Neighbours;
    for (size_t J = 0; J < Order.size(); ++J)
      if (P.Buffers[J].Size > 0 && int32_t(J) != Top &&
          liveTogether(P.Buffers[J], P.Buffers[Top]) && PosOf[J] + 1 < TopPos)
        Neighbours.push_back(PosOf[J]);
    std::sort(Neighbours.begin(), Neighbours.end(), std::greater<>());
    for (size_t Pos : Neighbours)
      Moves.emplace_back(Pos, Pos + 1); // swap with its successor
    bool Accepted = false;
    for (auto [From, To] : Moves) {
      if (Trials >= MaxImproveTrials || Work >= MaxImproveWork)
        break;
      ++Trials;
      std::vector<int32_t> Candidate = Order;
      int32_t Moved = Candidate[From];
      Candidate.erase(Candidate.begin() + From);
      Candidate.insert(Candidate.begin() + To, Moved);
      size_t Start = std::min(From, To);
      Trial.Offsets = Best.Offsets;
      Work += place(P, Candidate, Start, Trial);
      if (Trial.Top < Best.Top) {
        Order = std::move(Candidate);
        std::swap(Best, Trial);
        Improved = Accepted = true;
        break;
      }
    }
    if (!Accepted)
      break;
  }
  return Improved;
}

} // namespace

std::span<const PlannerStrategy> plannerStrategies() { return StrategyTable; }

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
  Layout Best;
  for (size_t S = 0; S < std::size(OrderTable); ++S) {
    std::vector<int32_t> Order = OrderTable[S].Order(P);
    Layout L;
    place(P, Order, 0, L);
    int64_t Placed = alignUp(L.Top, ArenaAlign);
    bool Improved = L.Top > LowerBound && improve(P, Order, L) &&
                    alignUp(L.Top, ArenaAlign) < Placed;
    if (S == 0 || alignUp(L.Top, ArenaAlign) < alignUp(Best.Top, ArenaAlign)) {
      Name = std::string(OrderTable[S].Name) + (Improved ? "+improved" : "");
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
