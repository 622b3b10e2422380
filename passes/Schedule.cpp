//===- Schedule.cpp - Memory-aware order of the training step -------------===//
//
// Chooses a topological order of the nodes that keeps the live bytes low
// (a deterministic greedy list scheduler, no MILP):
//   - dependences: every operand before its reader, and the update of a
//     parameter after every other reader of that parameter (the update
//     writes in place),
//   - among the ready nodes, take the one that adds the fewest live bytes
//     (bytes of its new results minus bytes of operands it is the last
//     reader of); ties go to the node earlier in the current order.
// Updates free their gradient and allocate nothing, so each runs as soon as
// its gradient and the parameter's last reader are done and the gradient
// dies at once: TTE's in-place update reordering falls out of the rule.
// The greedy choice is local, so the pass keeps the order the graph came in
// if that one has the lower peak of live bytes. --no-reorder leaves the pass
// out (naive order: all gradients, then all updates).
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "memory/Buffers.h"
#include "passes/Pass.h"

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

  std::unordered_map<const Value *, size_t> Remaining;
  for (const auto &[V, R] : Readers)
    Remaining[V] = R.size();
  std::unordered_set<const Value *> Outputs(G.outputs().begin(),
                                            G.outputs().end());
  auto Delta = [&](size_t I) {
    const Node &Nd = *Nodes[I];
    int64_t D = 0;
    for (const Value *O : Nd.outputs())
      D += O->type().bytes();
    if (Nd.phase() == NodePhase::Update)
      D = 0; // written in place into the parameter
    std::unordered_set<const Value *> Seen;
    for (const Value *In : Nd.inputs())
      if (In && !persistent(In) && !Outputs.count(In) && Seen.insert(In).second &&
          Remaining[In] == 1)
        D -= In->type().bytes();
    return D;
  };

  std::vector<size_t> Ready;
  for (size_t I = 0; I < N; ++I)
    if (!Preds[I])
      Ready.push_back(I);
  std::vector<Node *> Order;
  Order.reserve(N);
  while (!Ready.empty()) {
    size_t Best = 0;
    int64_t BestD = Delta(Ready[0]);
    for (size_t K = 1; K < Ready.size(); ++K) {
      int64_t D = Delta(Ready[K]);
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
      if (--Preds[S] == 0)
        Ready.push_back(S);
  }
  if (Order.size() != N)
    return Diag("the graph has a cycle; cannot schedule it");
  // The greedy choice is local; keep whichever order (the new one or the
  // one the graph came in) has the lower peak of live bytes.
  std::vector<Node *> Before;
  for (const auto &Nd : Nodes)
    Before.push_back(Nd.get());
  Expected<int64_t> Old = liveBytesLowerBound(G);
  G.setNodeOrder(Order);
  Expected<int64_t> New = liveBytesLowerBound(G);
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
