//===- Autodiff.cpp - Compile-time reverse-mode differentiation -----------===//
//
// The pass differentiates the loss (PassContext::Loss) with respect to every
// trainable parameter and records the gradients in PassContext::Gradients
// for add-optimizer. buildGradients is the engine, also used directly by the
// finite-difference gradient checks. Gradients of quantized values are f32
// (compiler/GradContext.h); the backward pass reads quantized weights and
// activations through DequantizeLinear nodes of its own, so only the
// quantized tensors stay live between the passes.
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff.h"
#include "compiler/GradContext.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "compiler/Quant.h"
#include "passes/Pass.h"

#include <cassert>
#include <cmath>
#include <fmt/format.h>
#include <unordered_set>

namespace mote {

namespace {

/// Values that need a gradient: float or quantized values that depend on some value of
/// \p Wrt and on which the loss depends.
std::unordered_set<const Value *>
valuesNeedingGrad(const Graph &G, const Value *Loss,
                  std::span<Value *const> Wrt) {
  std::unordered_set<const Value *> FromWrt(Wrt.begin(), Wrt.end());
  for (const auto &N : G.nodes()) {
    bool Any = false;
    for (const Value *In : N->inputs())
      Any |= In && FromWrt.count(In);
    if (!Any)
      continue;
    for (const Value *O : N->outputs())
      FromWrt.insert(O);
  }
  std::unordered_set<const Value *> ToLoss = {Loss};
  for (auto It = G.nodes().rbegin(); It != G.nodes().rend(); ++It) {
    const Node &N = **It;
    bool Any = false;
    for (const Value *O : N.outputs())
      Any |= ToLoss.count(O) > 0;
    if (!Any)
      continue;
    for (const Value *In : N.inputs())
      if (In)
        ToLoss.insert(In);
  }
  std::unordered_set<const Value *> R;
  for (const Value *V : FromWrt)
    if (ToLoss.count(V) &&
        (isFloat(V->type().Elem) || V->type().isQuantized()))
      R.insert(V);
  return R;
}

/// A parameter of \p Wrt that \p V depends on, for messages.
std::string someSource(const Graph &G, const Value *V,
                       std::span<Value *const> Wrt) {
  std::unordered_set<const Value *> Seen;
  std::vector<const Value *> Work = {V};
  while (!Work.empty()) {
    const Value *X = Work.back();
    Work.pop_back();
    if (!Seen.insert(X).second)
      continue;
    for (const Value *W : Wrt)
      if (W == X)
        return W->name();
    if (const Node *P = X->producer())
      for (const Value *In : P->inputs())
        if (In)
          Work.push_back(In);
  }
  (void)G;
  return "?";
}

/// The quantized tensor a forward value \p V stands for, if any: the
/// operand of the DequantizeLinear that computes V, or the result of a
/// QuantizeLinear that reads V.
Value *quantizedForm(const Graph &G, Value *V) {
  Node *P = V->producer();
  if (P && P->phase() == NodePhase::Forward &&
      P->op() == OpKind::DequantizeLinear)
    return P->input(0);
  if (P && P->phase() != NodePhase::Forward)
    return nullptr;
  for (Node *U : G.users(V))
    if (U->op() == OpKind::QuantizeLinear && U->phase() == NodePhase::Forward)
      return U->output(0);
  return nullptr;
}

/// For a ReluGrad or ClipGrad \p N reading the input \p V of a forward
/// ReLU or Clip whose result the forward pass quantizes: that quantized
/// result, N's bounds set to take its mask from it in codes. The mask of
/// the clamp the integer op applies: [q > zero point] for ReLU (x > 0
/// exactly), [code(min) < q < code(max)] for Clip, a bound whose code lies
/// outside the type's range masking nothing (saturation passes the
/// gradient straight through, as QuantizeLinear's rule has it). A
/// dequantized code compares with the dequantized bound as the codes do
/// (dequantization is strictly increasing).
Value *activationMaskSource(const Graph &G, Node *N, Value *V) {
  OpKind Fwd = N->op() == OpKind::ReluGrad   ? OpKind::Relu
               : N->op() == OpKind::ClipGrad ? OpKind::Clip
                                             : OpKind::Identity;
  if (Fwd == OpKind::Identity || N->input(1) != V)
    return nullptr;
  for (Node *U : G.users(V)) {
    if (U->op() != Fwd || U->phase() != NodePhase::Forward ||
        U->attrs() != N->attrs())
      continue;
    Value *Q = quantizedForm(G, U->output(0));
    if (!Q || Q->type().Quant->perAxis())
      continue;
    if (Fwd == OpKind::Clip) {
      const TensorType &T = Q->type();
      float S = T.Quant->Scale[0];
      int32_t Z = T.Quant->ZeroPoint[0];
      AttrMap &A = N->attrs();
      for (const char *Bound : {"min", "max"}) {
        if (!A.has(Bound))
          continue;
        // As QuantizeLinear computes a code (compiler/Quant.h), unsaturated.
        float R = A.getFloat(Bound, 0) / S;
        double Code = std::nearbyint(double(R)) + Z;
        if (Code < double(quantMin(T.Elem)) || Code > double(quantMax(T.Elem)))
          A.erase(Bound);
        else
          A.set(Bound, dequantizeValue(int64_t(Code), S, Z));
      }
    }
    return Q;
  }
  return nullptr;
}

/// Backward nodes that read a forward value with a quantized form (an int8
/// weight or activation as float, or a float activation the forward pass
/// quantizes) read a DequantizeLinear of that form instead, made before the
/// first of them: what the backward pass keeps from the forward one is the
/// quantized tensor, not a float copy (as TTE's backward reads the int8
/// activations; the mask of a ReLU or ReLU6 then comes from the quantized
/// value, activationMaskSource). A ConvGradInput reads a quantized weight
/// directly, and a ReluGrad or ClipGrad the codes.
void redequantizeForBackward(Graph &G) {
  std::unordered_map<const Value *, Value *> Fresh;
  std::vector<Node *> Backward;
  for (const auto &N : G.nodes())
    if (N->phase() == NodePhase::Backward)
      Backward.push_back(N.get());
  for (Node *N : Backward)
    for (size_t I = 0; I < N->numInputs(); ++I) {
      Value *V = N->input(I);
      Value *Q = V ? quantizedForm(G, V) : nullptr;
      if (V && !Q)
        Q = activationMaskSource(G, N, V);
      if (!Q)
        continue;
      // A convolution's input gradient reads a quantized weight as it is
      // (no float copy of it), a ReLU or Clip mask the codes; their type
      // rules say where they can.
      if ((N->op() == OpKind::ConvGradInput && I == 1 && Q->isParam()) ||
          ((N->op() == OpKind::ReluGrad || N->op() == OpKind::ClipGrad) &&
           I == 1)) {
        N->setInput(I, Q);
        if (inferNodeTypes(*N))
          continue;
        N->setInput(I, V);
      }
      Value *&F = Fresh[Q];
      if (!F) {
        std::string Name = G.uniqueName(Q->name() + ".bwd");
        Expected<Node *> D = G.createNode(N, OpKind::DequantizeLinear,
                                          G.uniqueName(Name + ".node"), {Q},
                                          {}, {Name});
        assert(D && "DequantizeLinear of a quantized tensor");
        (*D)->setPhase(NodePhase::Backward);
        F = (*D)->output(0);
      }
      N->setInput(I, F);
    }
}

} // namespace

Expected<std::unordered_map<const Value *, Value *>>
buildGradients(Graph &G, Value *Loss, std::span<Value *const> Wrt) {
  if (!isFloat(Loss->type().Elem) || Loss->type().isQuantized() ||
      Loss->type().numElements() != 1)
    return Diag(fmt::format("the loss '{}' must be a float scalar, got {}",
                            Loss->name(), Loss->type().str()));
  std::unordered_set<const Value *> Needs = valuesNeedingGrad(G, Loss, Wrt);
  std::unordered_map<const Value *, Value *> Grads;
  Tensor One(Loss->type());
  One.setFromDouble(0, 1.0);
  Grads[Loss] = G.addConst(G.uniqueName(Loss->name() + ".grad.seed"), One);

  // Walk the forward nodes backwards; rules append backward nodes.
  std::vector<Node *> Forward;
  for (const auto &N : G.nodes())
    Forward.push_back(N.get());
  auto NeedsGrad = [&](const Value *V) { return Needs.count(V) > 0; };
  for (auto It = Forward.rbegin(); It != Forward.rend(); ++It) {
    Node &N = **It;
    bool HasOutGrad = false;
    for (const Value *O : N.outputs())
      HasOutGrad |= Grads.count(O) > 0;
    bool InNeeds = false;
    for (const Value *In : N.inputs())
      InNeeds |= In && Needs.count(In);
    if (!HasOutGrad || !InNeeds)
      continue;
    const OpDef &D = N.def();
    auto Located = [&](Diag E) {
      E.at(N);
      E.inFile(G.SourceFile);
      E.withOpset(G.Opset);
      return E;
    };
    if (!D.Grad || (D.Flags & OpFlagNotDifferentiable)) {
      const Value *Src = nullptr;
      for (const Value *In : N.inputs())
        if (In && Needs.count(In))
          Src = In;
      return Located(Diag(fmt::format(
          "{} has no gradient rule, but it lies between the trainable "
          "parameter '{}' and the loss; freeze the layers before it or "
          "choose another --update spec",
          D.Name, someSource(G, Src, Wrt))));
    }
    GradContext Ctx(G, N, NeedsGrad, Grads, nullptr);
    if (Status S = D.Grad(Ctx, N); !S)
      return Located(S.takeError());
  }
  std::unordered_map<const Value *, Value *> R;
  for (const Value *W : Wrt) {
    auto It = Grads.find(W);
    R[W] = It == Grads.end() ? nullptr : It->second;
  }
  return R;
}

Expected<bool> runAutodiff(Graph &G, PassContext &Ctx) {
  if (!Ctx.Loss)
    return Diag("autodiff needs a loss; run add-loss first");
  std::vector<Value *> Wrt;
  for (Value *P : G.params())
    if (P->isTrainable())
      Wrt.push_back(P);
  if (Wrt.empty())
    return Diag("no parameter is trainable; check the --update spec");
  auto Grads = buildGradients(G, Ctx.Loss, Wrt);
  if (!Grads)
    return Grads.takeError();
  redequantizeForBackward(G);
  Ctx.Gradients.clear();
  for (Value *W : Wrt) {
    Value *Gr = (*Grads)[W];
    if (!Gr)
      return Diag(fmt::format("trainable parameter '{}' does not affect the "
                              "loss; leave it out of the --update spec",
                              W->name()));
    Ctx.Gradients.push_back({W, Gr});
  }
  return true;
}

} // namespace mote
