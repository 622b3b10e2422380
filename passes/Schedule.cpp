//===- Schedule.cpp - Memory-aware order of the training step -------------===//
//
// Chooses a topological order of the nodes that keeps the live bytes low
// (a deterministic greedy list scheduler, no MILP):
//   - dependences: every operand before its reader, and the update of a
//     parameter after every other reader of that parameter (the update
//     writes in place),
//   - among the ready nodes, take the one that adds the fewest live bytes
//     (bytes of its new results minus bytes of operands it is the last
//     reader of); ties go to the node earlier in the current order. A
//     second run defers the nodes that read only parameters and constants
//     (a weight dequantized for the backward) until nothing else is ready.
// Updates free their gradient and allocate nothing, so each runs as soon as
// its gradient and the parameter's last reader are done and the gradient
// dies at once: TTE's in-place update reordering falls out of the rule.
// The greedy choice is local, so the pass keeps, of the two greedy orders
// and the one the graph came in, the one with the lowest peak of live bytes. --no-reorder leaves the pass
// out (naive order: all gradients, then all updates).
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "memory/Buffers.h"
#include "passes/Pass.h"

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace mote {

namespace {

bool persistent(const Value *V) {
  // Params and consts live for the whole step (or in flash): running a node
  // that reads them frees nothing.
  return V->isParam() || V->isConst();
}

} // namespace

Expected<bool> runSchedule(Graph &G, PassContext &) {
  const auto &Nodes = G.nodes();
  size_t N = Nodes.size();
  std::unordered_map<const Node *, size_t> Pos;
  for (size_t I = 0; I < N; ++I)
    Pos[Nodes[I].get()] = I;

  // Successor lists and predecessor counts.
  std::vector<std::vector<size_t>> Succ(N);
  std::vector<size_t> Preds(N, 0);
  auto Edge = [&](size_t From, size_t To) {
    Succ[From].push_back(To);
    ++Preds[To];
  };
  std::unordered_map<const Value *, std::vector<size_t>> Readers;
  for (size_t I = 0; I < N; ++I)
    for (const Value *In : Nodes[I]->inputs())
      if (In) {
        auto &R = Readers[In];
        if (R.empty() || R.back() != I)
          R.push_back(I);
        if (const Node *P = In->producer())
          Edge(Pos[P], I);
      }
  for (const Graph::StateUpdate &U : G.stateUpdates()) {
    size_t W = Pos[U.NewValue->producer()];
    for (size_t R : Readers[U.Param])
      if (R != W)
        Edge(R, W);
  }

  std::unordered_set<const Value *> Outputs(G.outputs().begin(),
                                            G.outputs().end());
  // A node that reads only parameters and constants (a dequantized weight
  // the backward reads, say) may run at any time, and its result is live
  // from then on; so may a backward DequantizeLinear, soon after the
  // forward pass. With Defer, the greedy takes such a node only when
  // nothing else is ready, the one a reader needs soonest.
  auto Greedy = [&](bool Defer) {
    std::vector<size_t> P = Preds;
    std::unordered_map<const Value *, size_t> Remaining;
    for (const auto &[V, R] : Readers)
      Remaining[V] = R.size();
    auto Delta = [&](size_t I) {
      const Node &Nd = *Nodes[I];
      int64_t D = 0;
      for (const Value *O : Nd.outputs())
        D += O->type().bytes();
      if (Nd.phase() == NodePhase::Update)
        D = 0; // written in place into the parameter
      std::unordered_set<const Value *> Seen;
      bool Free = true; // reads nothing but persistent values
      for (const Value *In : Nd.inputs()) {
        Free = Free && (!In || persistent(In));
        if (In && !persistent(In) && !Outputs.count(In) &&
            Seen.insert(In).second && Remaining[In] == 1)
          D -= In->type().bytes();
      }
      // A backward DequantizeLinear recomputes a float copy of a quantized
      // tensor the forward pass kept: as late as possible too.
      bool Copy = Nd.phase() == NodePhase::Backward &&
                  Nd.op() == OpKind::DequantizeLinear;
      bool Late =
          Defer && ((Free && Nd.phase() != NodePhase::Update) || Copy);
      // Of the late ones, first the one a reader waits on the least for.
      size_t Wait = 0;
      if (Late) {
        Wait = SIZE_MAX;
        for (size_t S : Succ[I])
          Wait = std::min(Wait, P[S]);
      }
      return std::tuple{Late, Wait, D};
    };
    std::vector<size_t> Ready;
    for (size_t I = 0; I < N; ++I)
      if (!P[I])
        Ready.push_back(I);
    std::vector<Node *> Order;
    Order.reserve(N);
    while (!Ready.empty()) {
      size_t Best = 0;
      auto BestD = Delta(Ready[0]);
      for (size_t K = 1; K < Ready.size(); ++K) {
        auto D = Delta(Ready[K]);
        if (D < BestD || (D == BestD && Ready[K] < Ready[Best])) {
          Best = K;
          BestD = D;
        }
      }
      size_t I = Ready[Best];
      Ready.erase(Ready.begin() + std::ptrdiff_t(Best));
      Order.push_back(Nodes[I].get());
      std::unordered_set<const Value *> Seen;
      for (const Value *In : Nodes[I]->inputs())
        if (In && Seen.insert(In).second)
          --Remaining[In];
      for (size_t S : Succ[I])
        if (--P[S] == 0)
          Ready.push_back(S);
    }
    return Order;
  };
  std::vector<Node *> Order = Greedy(false);
  if (Order.size() != N)
    return Diag("the graph has a cycle; cannot schedule it");
  std::vector<Node *> Deferred = Greedy(true);
  // The greedy choice is local; keep whichever order (the two greedy ones
  // or the one the graph came in) has the lowest peak of live bytes. (Nodes
  // follows the graph's order: the greedy runs, which index it, are done.)
  std::vector<Node *> Before;
  for (const auto &Nd : Nodes)
    Before.push_back(Nd.get());
  Expected<int64_t> Old = liveBytesLowerBound(G);
  G.setNodeOrder(Order);
  Expected<int64_t> New = liveBytesLowerBound(G);
  G.setNodeOrder(Deferred);
  Expected<int64_t> NewDeferred = liveBytesLowerBound(G);
  if (New && NewDeferred && *NewDeferred < *New) {
    Order = std::move(Deferred);
    New = NewDeferred;
  } else {
    G.setNodeOrder(Order);
  }
  if (Old && New && *Old < *New) {
    G.setNodeOrder(Before);
    return false;
  }
  bool Changed = false;
  for (size_t I = 0; I < N; ++I)
    Changed |= Order[I] != Before[I];
  return Changed;
}

} // namespace mote
