//===- PruneBackward.cpp - Only the backward work something needs ---------===//
//
// Autodiff already builds gradients only along paths from trainable
// parameters to the loss. This pass finishes the job once the updates exist:
//   - a partial-channel parameter's weight gradient is computed on the kept
//     slice only: ConvGradWeight gets out_channels = k, and a Gemm/MatMul
//     weight gradient has its output-gradient operand sliced to the first k
//     channels before the product (never computed whole and then sliced),
//   - every node no output or state update needs is removed, and with it
//     every activation only those nodes kept alive.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <fmt/format.h>

namespace mote {

namespace {

/// Emits Slice(V, axis, [0, K)) before \p Before.
Value *sliceBefore(Graph &G, Node *Before, Value *V, int64_t Axis, int64_t K) {
  AttrMap A;
  A.set("starts", std::vector<int64_t>{0});
  A.set("ends", std::vector<int64_t>{K});
  A.set("axes", std::vector<int64_t>{Axis});
  TensorType T = V->type();
  T.Dims[size_t(Axis)] = K;
  std::string Name = G.uniqueName(V->name() + ".kept");
  Node *S = G.insertNode(Before, OpKind::Slice, Name, {V}, A, {{Name, T}});
  S->setPhase(NodePhase::Backward);
  return S->output(0);
}

/// Restricts the weight-gradient node \p P (result axis \p Axis) to its
/// first \p K channels, in place. Returns false if \p P is of a kind this
/// pass does not slice.
bool restrictToChannels(Graph &G, Node *P, int64_t Axis, int64_t K) {
  TensorType T = P->output(0)->type();
  int64_t Rank = int64_t(T.rank());
  if (P->op() == OpKind::ConvGradWeight && Axis == 0) {
    P->attrs().set("out_channels", K);
  } else if (P->op() == OpKind::Gemm && Rank == 2 && !P->input(2)) {
    bool TA = P->attrs().getInt("transA", 0), TB = P->attrs().getInt("transB", 0);
    if (Axis == 0)
      P->setInput(0, sliceBefore(G, P, P->input(0), TA ? 1 : 0, K));
    else
      P->setInput(1, sliceBefore(G, P, P->input(1), TB ? 0 : 1, K));
  } else if (P->op() == OpKind::MatMul && Rank >= 2 &&
             P->input(0)->type().rank() >= 2 &&
             P->input(1)->type().rank() >= 2) {
    if (Axis == Rank - 1) {
      Value *B = P->input(1);
      P->setInput(1, sliceBefore(G, P, B, int64_t(B->type().rank()) - 1, K));
    } else if (Axis == Rank - 2) {
      Value *A = P->input(0);
      P->setInput(0, sliceBefore(G, P, A, int64_t(A->type().rank()) - 2, K));
    } else {
      return false;
    }
  } else {
    return false;
  }
  T.Dims[size_t(Axis)] = K;
  P->output(0)->setType(T);
  return true;
}

} // namespace

Expected<bool> runPruneBackward(Graph &G, PassContext &) {
  bool Changed = false;
  std::vector<Node *> Updates;
  for (const auto &N : G.nodes())
    if (isParameterUpdate(*N) && N->attrs().has("channels"))
      Updates.push_back(N.get());
  for (Node *U : Updates) {
    Value *Grad = U->input(1);
    // Accumulated: the update reads the accumulator, already sliced; the
    // gradient summed into it is what to slice.
    if (Grad->producer() &&
        Grad->producer()->op() == OpKind::GradAccumulate)
      Grad = Grad->producer()->input(1);
    Node *P = Grad->producer();
    int64_t Axis = U->attrs().getInt("axis", 0);
    int64_t K = U->attrs().getInt("channels", -1);
    if (!P || P->phase() != NodePhase::Backward || G.users(Grad).size() != 1 ||
        Grad->type().Dims[size_t(Axis)] == K)
      continue;
    // Only gradients that end in a product are worth slicing; a bias
    // gradient (a reduction) is read partially by the update as it is.
    if (P->op() != OpKind::ConvGradWeight && P->op() != OpKind::Gemm &&
        P->op() != OpKind::MatMul)
      continue;
    Changed |= restrictToChannels(G, P, Axis, K);
  }
  Changed |= G.removeDeadCode();
  return Changed;
}

} // namespace mote
