//===- PackMasks.cpp - Save one bit where the backward needs one bit ------===//
//
// The gradient of a ReLU or a Clip (ReLU6) is a mask: dX = dY where the
// forward value passed the activation's test (x > 0; min < x < max) and 0
// elsewhere. Without this pass the backward reads that test from the
// forward value itself, so the whole tensor (f32, or int8 codes in a
// quantized model) stays in the arena from the forward pass to the
// activation's gradient. When nothing else of the backward reads it
// (TinyTL's observation: training biases needs only the masks), this pass
// saves the test instead, one bit per element:
//
//   ReluGrad(dY, V)                  MaskGrad(dY, M)
//   ClipGrad(dY, V)           ->     MaskGrad(dY, M)
//   ActivationGradSum(dY, V)         MaskGrad(dY, M) -> (dX, dB)
//
// with M = ActivationMask(V) computed in the forward pass right after V.
// V then dies with its last forward reader; M lives until the last mask
// gradient, 1/32 (f32) or 1/8 (int8) of V's bytes.
//
// A value qualifies when it is computed by a forward node, is not a graph
// output, and every reader is a forward node or one of the three mask
// gradients reading it as the saved value (input 1) with the same test.
// A value some backward node reads whole (the input of a trained weight's
// gradient, or a FusedElementwise chain holding a ReluGrad) is kept as it
// is: it must be in memory anyway, and a mask beside it would only add.
//
// Runs after fuse, whose conv-activation pattern switches the mask
// gradients to the activated value (the same mask) and whose
// activation-grad-bias pattern makes the ActivationGradSum nodes, and
// before schedule, which places the ActivationMask nodes.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace mote {

namespace {

/// The attributes of ActivationMask for the test of mask gradient \p N
/// (activation, activation_min, activation_max), or nullopt if \p N is not
/// a mask gradient.
std::optional<AttrMap> maskAttrs(const Node &N) {
  AttrMap A;
  switch (N.op()) {
  case OpKind::ReluGrad:
  case OpKind::ClipGrad:
    return maskTestAttrs(N);
  case OpKind::ActivationGradSum:
    for (const char *K : {"activation", "activation_min", "activation_max"})
      if (N.attrs().has(K))
        A.set(K, *N.attrs().find(K));
    return A;
  default:
    return std::nullopt;
  }
}

/// The mask gradients reading \p V as their saved value, if \p V can be
/// saved as a mask (see the file comment); empty otherwise.
std::vector<Node *> maskReaders(const Graph &G, const Value *V) {
  Node *P = V->producer();
  if (!P || P->phase() != NodePhase::Forward || G.isOutput(V))
    return {};
  std::vector<Node *> Masks;
  std::optional<AttrMap> Test;
  for (Node *U : G.users(V)) {
    std::optional<AttrMap> A = maskAttrs(*U);
    if (!A) {
      if (U->phase() != NodePhase::Forward)
        return {};
      continue;
    }
    if (U->input(0) == V || U->input(1) != V || (Test && *Test != *A))
      return {};
    Test = std::move(A);
    Masks.push_back(U);
  }
  return Masks;
}

/// Replaces the mask gradients \p Masks of \p V by MaskGrad nodes reading
/// one ActivationMask of \p V.
Status packMask(Graph &G, PassContext &Ctx, Value *V,
                const std::vector<Node *> &Masks) {
  Node *P = V->producer();
  // Right after the producer: the next node in the graph's order, so the
  // mask is taken in the forward pass whatever the schedule does.
  Node *After = nullptr;
  for (auto It = G.nodes().begin(); It != G.nodes().end(); ++It)
    if (It->get() == P) {
      auto Next = std::next(It);
      After = Next == G.nodes().end() ? nullptr : Next->get();
      break;
    }
  std::string Name = G.uniqueName(V->name() + ".mask");
  Expected<Node *> M = G.createNode(After, OpKind::ActivationMask, Name, {V},
                                    *maskAttrs(*Masks.front()), {Name});
  if (!M)
    return M.takeError();
  (*M)->setPhase(NodePhase::Forward);
  Value *Mask = (*M)->output(0);
  for (Node *R : Masks) {
    AttrMap A;
    std::vector<std::string> Results = {
        G.uniqueName(R->output(0)->name() + ".masked")};
    if (R->op() == OpKind::ActivationGradSum) {
      A.set("keepdims", R->attrs().getInt("keepdims", 1));
      Results.push_back(G.uniqueName(R->output(1)->name() + ".masked"));
    }
    Expected<Node *> MG =
        G.createNode(R, OpKind::MaskGrad, G.uniqueName(R->name() + ".masked"),
                     {R->input(0), Mask}, std::move(A), Results);
    if (!MG)
      return MG.takeError();
    (*MG)->setPhase(R->phase());
    for (size_t I = 0; I < R->numOutputs(); ++I)
      replaceValue(G, Ctx, R->output(I), (*MG)->output(I), ".unmasked");
    G.eraseNode(R);
  }
  ++Ctx.Masks.Values;
  Ctx.Masks.ValueBytes += V->type().bytes();
  Ctx.Masks.MaskBytes += Mask->type().bytes();
  return ok();
}

} // namespace

Expected<bool> runPackMasks(Graph &G, PassContext &Ctx) {
  // The saved values, in graph order, each once.
  std::vector<Value *> Saved;
  for (const auto &N : G.nodes())
    if (maskAttrs(*N) && N->phase() != NodePhase::Forward) {
      Value *V = N->input(1);
      if (std::find(Saved.begin(), Saved.end(), V) == Saved.end())
        Saved.push_back(V);
    }
  bool Changed = false;
  for (Value *V : Saved) {
    std::vector<Node *> Masks = maskReaders(G, V);
    if (Masks.empty())
      continue;
    if (Status S = packMask(G, Ctx, V, Masks); !S)
      return S.takeError();
    Changed = true;
  }
  return Changed;
}

} // namespace mote
