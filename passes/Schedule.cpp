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
// Each greedy order then sinks the nodes that only allocate (they read
// nothing of the arena, or make a float copy of a kept quantized tensor)
// to just before the first node that needs them: the greedy choice, local
// as it is, may run one early for want of anything better ready, and the
// stream pass, after this one, may take away the forward peak that hid
// the cost. The greedy choice is local, so the pass keeps, of the two
// greedy orders and the one the graph came in, the one with the lowest
// peak of live bytes. --no-reorder leaves the pass out (naive order: all
// gradients, then all updates).
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
  // Moves each node that allocates without freeing anything of the
  // arena (it reads only parameters and constants, or it is a backward
  // DequantizeLinear: a float copy of a quantized tensor the forward pass
  // kept) to just before the first node that must follow it. Its result
  // is live for fewer steps and nothing else is live longer (a quantized
  // operand it was the last reader of is smaller than the copy), so no
  // step's live bytes grow: what the greedy choice, local as it is, may
  // have run early for want of anything better stays cheap.
  auto Sink = [&](const std::vector<Node *> &In) {
    auto Sinks = [&](const Node &Nd) {
      if (Nd.phase() == NodePhase::Update || Nd.numOutputs() == 0)
        return false;
      if (Nd.phase() == NodePhase::Backward &&
          Nd.op() == OpKind::DequantizeLinear)
        return true;
      for (const Value *V : Nd.inputs())
        if (V && !persistent(V))
          return false;
      return true;
    };
    std::vector<Node *> Out;
    Out.reserve(In.size());
    std::vector<bool> Pending(N, false);
    std::vector<size_t> PendingList;
    // Pred[I]: the nodes that must run before node I.
    std::vector<std::vector<size_t>> Pred(N);
    for (size_t I = 0; I < N; ++I)
      for (size_t S : Succ[I])
        Pred[S].push_back(I);
    for (Node *Nd : In) {
      size_t I = Pos[Nd];
      if (Sinks(*Nd)) {
        Pending[I] = true;
        PendingList.push_back(I);
        continue;
      }
      for (size_t P : Pred[I])
        if (Pending[P]) {
          Out.push_back(Nodes[P].get());
          Pending[P] = false;
        }
      Out.push_back(Nd);
    }
    for (size_t I : PendingList) // read by nothing: a graph output
      if (Pending[I])
        Out.push_back(Nodes[I].get());
    return Out;
  };
  std::vector<Node *> Order = Sink(Greedy(false));
  if (Order.size() != N)
    return Diag("the graph has a cycle; cannot schedule it");
  std::vector<Node *> Deferred = Sink(Greedy(true));
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
