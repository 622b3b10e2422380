//===- Canonicalize.cpp - One canonical form for the later passes ---------===//
//
//   - Identity and eval-mode Dropout are removed (their users read the input
//     directly; a graph output keeps its name through a rename when free),
//   - BatchNormalization right after a Conv whose result nothing else reads
//     is folded into the Conv's weight and bias:
//       s = scale / sqrt(var + eps);  W' = W * s[c];  B' = (B - mean) * s + b
//     so training sees one affine layer, as TTE and PyTorch's eval export do.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace mote {

namespace {

/// Makes \p New carry the name of \p Old when Old is a graph output, so the
/// model's interface keeps its names.
void takeOutputName(Graph &G, Value *Old, Value *New) {
  bool IsOutput = G.isOutput(Old);
  G.replaceAllUsesWith(Old, New);
  if (!IsOutput || !New->producer())
    return;
  std::string Name = Old->name();
  G.renameValue(Old, G.uniqueName(Name + ".removed"));
  G.renameValue(New, Name);
}

/// Folds BatchNormalization \p Bn into the Conv producing its input.
/// Returns false if the pattern does not apply.
bool foldBatchNorm(Graph &G, Node *Bn) {
  Node *Conv = Bn->input(0)->producer();
  if (!Conv || Conv->op() != OpKind::Conv || !onlyUser(G, Bn->input(0), Bn))
    return false;
  for (size_t I = 1; I < 5; ++I)
    if (!Bn->input(I) || !Bn->input(I)->hasData())
      return false;
  Value *W = Conv->input(1);
  Value *B = Conv->input(2);
  if (!W->isParam() || W->type().Elem != DType::F32 || G.users(W).size() != 1)
    return false;
  if (B && (!B->isParam() || G.users(B).size() != 1))
    return false;
  const Tensor &Scale = *Bn->input(1)->data();
  const Tensor &Shift = *Bn->input(2)->data();
  const Tensor &Mean = *Bn->input(3)->data();
  const Tensor &Var = *Bn->input(4)->data();
  double Eps = Bn->attrs().getFloat("epsilon", 1e-5f);
  int64_t C = W->type().Dims[0];
  int64_t Per = W->type().numElements() / std::max<int64_t>(C, 1);
  Tensor NewW = *W->data();
  Tensor NewB(TensorType(DType::F32, {C}));
  for (int64_t O = 0; O < C; ++O) {
    double S = Scale.getAsDouble(O) / std::sqrt(Var.getAsDouble(O) + Eps);
    for (int64_t K = 0; K < Per; ++K)
      NewW.setFromDouble(O * Per + K, NewW.getAsDouble(O * Per + K) * S);
    double Bias = B ? B->data()->getAsDouble(O) : 0.0;
    NewB.setFromDouble(O, (Bias - Mean.getAsDouble(O)) * S +
                              Shift.getAsDouble(O));
  }
  *W->mutableData() = std::move(NewW);
  if (B)
    *B->mutableData() = std::move(NewB);
  else
    B = G.addParam(G.uniqueName(Conv->name() + ".bias"), std::move(NewB));
  Conv->setInputs({Conv->input(0), W, B});
  Value *Out = Bn->output(0);
  takeOutputName(G, Out, Conv->output(0));
  G.eraseNode(Bn);
  return true;
}

} // namespace

Expected<bool> runCanonicalize(Graph &G, PassContext &) {
  bool Changed = false;
  std::vector<Node *> Nodes;
  for (const auto &N : G.nodes())
    Nodes.push_back(N.get());
  for (Node *N : Nodes) {
    if (N->op() == OpKind::BatchNormalization) {
      Changed |= foldBatchNorm(G, N);
      continue;
    }
    bool PassThrough = N->op() == OpKind::Identity ||
                       (N->op() == OpKind::Dropout && N->numOutputs() == 1);
    if (!PassThrough)
      continue;
    Value *In = N->input(0);
    Value *Out = N->output(0);
    bool IsOutput = G.isOutput(Out);
    // A graph output computed straight from an input or parameter keeps its
    // node: the output's name is part of the interface.
    if (IsOutput && !In->producer())
      continue;
    takeOutputName(G, Out, In);
    G.eraseNode(N);
    Changed = true;
  }
  Changed |= G.removeDeadCode();
  return Changed;
}

} // namespace mote
