//===- Improve.cpp - Local reorderings after the greedy placement ---------===//
//
// The improvement step of the planner: starting from a strategy's order, it
// tries deterministic local changes (move the buffer that reaches the top of
// the arena earlier in the order; swap a buffer live with it with its
// successor), re-placing only the suffix of the order a change touched, and
// keeps every change that lowers the top. It stops after a fixed number of
// trials or a fixed amount of work, whichever comes first.
//
//===----------------------------------------------------------------------===//

#include "memory/Placement.h"

#include <functional>
#include <utility>

namespace mote::memory_detail {

namespace {

/// Local changes tried after the strategies, and the work they may spend
/// (placed buffers scanned while re-placing suffixes).
constexpr int MaxImproveTrials = 200;
constexpr size_t MaxImproveWork = size_t(2) << 20;

/// The buffer reaching \p L's top placed earliest in \p Order, with its
/// position; (-1, 0) if nothing has positive size.
std::pair<int32_t, size_t> topBuffer(const Problem &P,
                                     std::span<const int32_t> Order,
                                     const Placement &L) {
  for (size_t Pos = 0; Pos < Order.size(); ++Pos) {
    int32_t I = Order[Pos];
    if (P.Buffers[I].Size > 0 && L.Offsets[I] + P.Buffers[I].Size == L.Top)
      return {I, Pos};
  }
  return {-1, 0};
}

} // namespace

bool improve(const Problem &P, std::vector<int32_t> &Order, Placement &Best) {
  bool Improved = false;
  int Trials = 0;
  size_t Work = 0;
  std::vector<size_t> PosOf(Order.size());
  Placement Trial;
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

} // namespace mote::memory_detail
