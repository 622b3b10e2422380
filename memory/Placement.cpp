//===- Placement.cpp - The greedy placement every strategy runs -----------===//
//
// Places buffers one at a time, in a given order, each at the lowest offset
// (aligned for it) that overlaps no placed buffer whose interval overlaps
// its own; a buffer with a valid in-place partner takes the partner's offset
// when that is free. Placed buffers are kept sorted by offset and scanned
// once per buffer, so one placement is O(n^2) with a small constant and no
// conflict graph is stored.
//
//===----------------------------------------------------------------------===//

#include "memory/Placement.h"

#include <cassert>
#include <utility>

namespace mote::memory_detail {

namespace {

/// A placed positive-size buffer, as the placement scans it.
struct PlacedRange {
  int64_t Start, End; // rounded size
  int32_t First, Last;
  int32_t Id;
};

} // namespace

int32_t inplaceParent(std::span<const BufferRequest> B, size_t I) {
  int32_t K = B[I].InplaceWith;
  if (K < 0 || size_t(K) >= I)
    return -1;
  if (B[K].Last != B[I].First || B[K].Size < B[I].Size)
    return -1;
  return K;
}

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

size_t place(const Problem &P, std::span<const int32_t> Order, size_t From,
             Placement &L) {
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

} // namespace mote::memory_detail
