//===- Fuse.cpp - Fewer, larger kernels, forward and backward -------------===//
//
// Each rewrite is one pattern, tried on every node; none changes what the
// step computes (the interpreter gives the same result before and after,
// tests/unit/FuseTest.cpp), only how many kernels run and which buffers
// exist:
//
//   conv-activation   Conv or Gemm, then Relu, Clip (ReLU6) or HardSwish on
//                     its result: the activation moves into the producer
//                     (attribute `activation`), which now computes the
//                     activation's value. HardSwish's gradient needs the
//                     pre-activation value, so it fuses only where no
//                     gradient flows back through it (inference, frozen
//                     layers of sparse training). In a training graph the
//                     Relu / Clip gradient
//                     (ReluGrad / ClipGrad) reads the pre-activation value;
//                     it is switched to the activated one, whose mask is
//                     the same (x > 0 iff relu(x) > 0; min < x < max iff
//                     min < clip(x) < max), so the pre-activation tensor
//                     is never stored.
//   conv-weight-update
//                     ConvGradWeight followed by the SgdUpdate,
//                     MomentumUpdate or AdamUpdate of that weight becomes
//                     ConvGradWeightSgd, ConvGradWeightMomentum or
//                     ConvGradWeightAdam, which writes the updated weight
//                     (and optimizer state) in place: the weight gradient (a
//                     whole weight-sized buffer) never exists. An int8
//                     weight's SGD or momentum step (QAS) fuses too: its
//                     f32 gradient is four times the weight.
//   gemm-weight-sgd   A Gemm computing a weight gradient followed by its
//                     full SgdUpdate becomes one Gemm with the weight as C,
//                     alpha' = -lr alpha and beta = 1 - lr norm_coefficient:
//                     W' = W - lr (dW + norm W), written over W.
//   gemm-weight-update
//                     The same Gemm followed by its MomentumUpdate or
//                     AdamUpdate, or by an SgdUpdate of the first rows only
//                     (a channel slice), becomes GemmGradWeightSgd,
//                     GemmGradWeightMomentum or GemmGradWeightAdam, which
//                     applies the update to each gradient element as it is
//                     finished.
//   activation-grad-bias
//                     ReluGrad or ClipGrad, and a ReduceSum of its result
//                     over every axis but 1 (the gradient of the bias of
//                     the Conv or Gemm before the activation) become one
//                     ActivationGradSum, which sums each channel as it
//                     writes it: one pass over the gradient instead of two.
//   elementwise-chain
//                     A run of float elementwise ops (FusedElementwise's
//                     step ops: arithmetic, Pow, Relu, Sigmoid, Tanh, Exp,
//                     Log, Sqrt, Neg, Abs, Reciprocal, Erf and the gradients
//                     of Relu, Sigmoid, Tanh and Erf) of one phase, each
//                     intermediate result of the chain's result type and
//                     read only by the next op of the chain, becomes one
//                     FusedElementwise of up to 6 steps and 6 inputs: one
//                     pass over the result, and the intermediate tensors
//                     never exist. Tried last, after the patterns above have
//                     taken the Relus and mask gradients they fold.
//
// Runs after prune-backward (the set of gradients and their channel slices
// is final) and before schedule and the memory plan, which then see the
// fused nodes. A pattern applies only where nothing else reads the value it
// removes.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "compiler/ops/math/Fused.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace mote {

namespace {

/// Is \p U the gradient of activation \p Act reading \p Pre (the activation's
/// input) as its saved value, and nothing else?
bool isMaskGradOf(const Node &U, const Node &Act, const Value *Pre) {
  OpKind Want =
      Act.op() == OpKind::Relu ? OpKind::ReluGrad : OpKind::ClipGrad;
  return U.op() == Want && U.input(1) == Pre && U.input(0) != Pre &&
         U.attrs() == Act.attrs();
}

/// conv-activation: folds Relu / Clip \p Act into the Conv or Gemm before it.
bool fuseActivation(Graph &G, PassContext &Ctx, Node *Act) {
  bool Swish = Act->op() == OpKind::HardSwish;
  if (Act->op() != OpKind::Relu && Act->op() != OpKind::Clip && !Swish)
    return false;
  Value *Pre = Act->input(0);
  Node *P = Pre->producer();
  if (!P || (P->op() != OpKind::Conv && P->op() != OpKind::Gemm) ||
      P->phase() != NodePhase::Forward || P->attrs().has("activation") ||
      !isFloat(Pre->type().Elem) || G.isOutput(Pre))
    return false;
  std::vector<Node *> MaskGrads;
  for (Node *U : G.users(Pre)) {
    if (U == Act)
      continue;
    // HardSwish's gradient needs the pre-activation value itself.
    if (Swish || !isMaskGradOf(*U, *Act, Pre))
      return false;
    MaskGrads.push_back(U);
  }
  Value *Post = Act->output(0);
  ++Ctx.Fusion.Activations;
  Ctx.Fusion.PreActivationBytes += Pre->type().bytes();
  for (Node *U : MaskGrads)
    U->setInput(1, Post);
  AttrMap &A = P->attrs();
  A.set("activation", std::string(Act->opName()));
  if (Act->op() == OpKind::Clip) {
    if (Act->attrs().has("min"))
      A.set("activation_min", Act->attrs().getFloat("min", 0));
    if (Act->attrs().has("max"))
      A.set("activation_max", Act->attrs().getFloat("max", 0));
  }
  replaceValue(G, Ctx, Post, Pre, ".fused");
  G.eraseNode(Act);
  return true;
}

/// The update reading \p Grad as its gradient, if it is Grad's only use
/// (and not Adam on a quantized parameter: the fused kernels take SGD and
/// momentum steps on int8 weights).
Node *soleUpdateUser(const Graph &G, const Value *Grad) {
  std::vector<Node *> Us = G.users(Grad);
  // An accumulated update reads the accumulator, not a gradient.
  if (Us.size() != 1 || !isParameterUpdate(*Us[0]) ||
      Us[0]->attrs().getInt("every", 1) > 1 ||
      (Us[0]->inType(0).isQuantized() && Us[0]->op() == OpKind::AdamUpdate) ||
      Us[0]->input(1) != Grad || Us[0]->input(0) == Grad || G.isOutput(Grad))
    return nullptr;
  for (size_t I = 2; I < Us[0]->numInputs(); ++I)
    if (Us[0]->input(I) == Grad)
      return nullptr;
  return Us[0];
}

/// Does update \p Upd train every element of its parameter?
bool updatesAll(const Node &Upd) {
  const TensorType &X = Upd.inType(0);
  int64_t Axis = Upd.attrs().getInt("axis", 0);
  int64_t Channels = Upd.attrs().getInt("channels", -1);
  return Channels == -1 ||
         (Axis >= 0 && Axis < int64_t(X.rank()) &&
          Channels == X.Dims[size_t(Axis)]);
}

/// Gives each result of the erased update \p Upd to the same result of
/// \p F, which computes it now.
void takeResults(Graph &G, PassContext &Ctx, Node *Upd, Node *F) {
  F->setPhase(NodePhase::Update);
  for (size_t I = 0; I < Upd->numOutputs(); ++I)
    replaceValue(G, Ctx, Upd->output(I), F->output(I), ".fused");
}

/// Copies the update attributes of \p Upd named in \p Names into \p A.
void copyAttrs(const Node &Upd, AttrMap &A,
               std::initializer_list<const char *> Names) {
  for (const char *Name : Names)
    if (const AttrValue *V = Upd.attrs().find(Name))
      A.set(Name, *V);
}

/// Replaces weight-gradient node \p GW and its update \p Upd with one
/// node \p Op(\p Ins){\p A} computing the update's results, under their
/// names; counts the gradient bytes never stored.
Expected<bool> fuseInto(Graph &G, PassContext &Ctx, Node *GW, Node *Upd,
                        OpKind Op, const char *Suffix,
                        const std::vector<Value *> &Ins, AttrMap A) {
  std::vector<std::string> Outs;
  for (const Value *O : Upd->outputs())
    Outs.push_back(G.uniqueName(O->name() + ".fused"));
  Expected<Node *> F = G.createNode(Upd, Op, G.uniqueName(GW->name() + Suffix),
                                    Ins, std::move(A), Outs);
  if (!F)
    return F.takeError();
  ++Ctx.Fusion.WeightUpdates;
  Ctx.Fusion.GradientBytes += GW->output(0)->type().bytes();
  takeResults(G, Ctx, Upd, *F);
  G.eraseNode(Upd);
  G.eraseNode(GW);
  return true;
}

/// The fused op of each update kind: SgdUpdate, MomentumUpdate, AdamUpdate.
struct FusedOps {
  OpKind Sgd, Momentum, Adam;
};

/// Replaces weight-gradient node \p GW and its update \p Upd with the
/// matching op of \p Ops: operands GW's two, then Upd's but the gradient
/// (the weight, the optimizer state, the step count); attributes \p A and
/// the update's.
Expected<bool> replaceWithUpdate(Graph &G, PassContext &Ctx, Node *GW,
                                 Node *Upd, FusedOps Ops, AttrMap A) {
  copyAttrs(*Upd, A, {"lr", "norm_coefficient", "scaling"});
  OpKind Op = Ops.Sgd;
  const char *Suffix = ".sgd";
  if (Upd->op() == OpKind::MomentumUpdate) {
    Op = Ops.Momentum;
    Suffix = ".momentum";
    copyAttrs(*Upd, A, {"alpha", "beta", "mode"});
  } else if (Upd->op() == OpKind::AdamUpdate) {
    Op = Ops.Adam;
    Suffix = ".adam";
    copyAttrs(*Upd, A, {"alpha", "beta", "epsilon", "norm_coefficient_post"});
  }
  std::vector<Value *> Ins = {GW->input(0), GW->input(1)};
  for (size_t I = 0; I < Upd->numInputs(); ++I)
    if (I != 1)
      Ins.push_back(Upd->input(I));
  return fuseInto(G, Ctx, GW, Upd, Op, Suffix, Ins, std::move(A));
}

/// conv-weight-update: ConvGradWeight \p GW and its SgdUpdate,
/// MomentumUpdate or AdamUpdate become one ConvGradWeightSgd,
/// ConvGradWeightMomentum or ConvGradWeightAdam.
Expected<bool> fuseConvWeightUpdate(Graph &G, PassContext &Ctx, Node *GW) {
  if (GW->op() != OpKind::ConvGradWeight)
    return false;
  Node *Upd = soleUpdateUser(G, GW->output(0));
  if (!Upd || Upd->attrs().getInt("axis", 0) != 0)
    return false;
  Value *W = Upd->input(0);
  // An int8 or uint8 weight, per tensor or per output channel, as the
  // quantized kernels take it.
  if (const TensorType &T = W->type();
      T.isQuantized() && ((T.Elem != DType::I8 && T.Elem != DType::U8) ||
                          (T.Quant->perAxis() && T.Quant->Axis != 0)))
    return false;
  // The update's channel count must be the one the gradient was made for.
  int64_t GradChannels = GW->output(0)->type().Dims[0];
  int64_t Channels = Upd->attrs().getInt("channels", W->type().Dims[0]);
  if (Channels != GradChannels)
    return false;
  return replaceWithUpdate(G, Ctx, GW, Upd,
                           {OpKind::ConvGradWeightSgd,
                            OpKind::ConvGradWeightMomentum,
                            OpKind::ConvGradWeightAdam},
                           GW->attrs());
}

/// The update of the weight gradient Gemm \p GW (no C, no activation), if
/// it is the gradient's only use and trains whole rows of the weight: the
/// gradient is [M, N], the weight [R, N] with its first M rows training.
Node *gemmWeightUpdate(const Graph &G, Node *GW) {
  if (GW->op() != OpKind::Gemm || GW->phase() != NodePhase::Backward ||
      GW->input(2) || GW->attrs().has("activation"))
    return nullptr;
  Node *Upd = soleUpdateUser(G, GW->output(0));
  if (!Upd)
    return nullptr;
  const TensorType &W = Upd->inType(0), &Grad = GW->output(0)->type();
  // An int8 or uint8 weight, per tensor or per row, as the quantized
  // kernels take it, with an f32 gradient.
  if (W.isQuantized() &&
      ((W.Elem != DType::I8 && W.Elem != DType::U8) ||
       (W.Quant->perAxis() && W.Quant->Axis != 0) || Grad.Elem != DType::F32))
    return nullptr;
  const DType WElem = W.isQuantized() ? DType::F32 : W.Elem;
  if (W.rank() != 2 || WElem != Grad.Elem || W.Dims[1] != Grad.Dims[1])
    return nullptr;
  if (updatesAll(*Upd))
    return W.Dims[0] == Grad.Dims[0] ? Upd : nullptr;
  // A channel slice: along the rows, as many as the gradient has.
  if (Upd->attrs().getInt("axis", 0) != 0 ||
      Upd->attrs().getInt("channels", -1) != Grad.Dims[0])
    return nullptr;
  return Upd;
}

/// gemm-weight-sgd: a weight-gradient Gemm \p GW (no C) and its full
/// SgdUpdate become one Gemm with the weight as C.
Expected<bool> fuseGemmWeightSgd(Graph &G, PassContext &Ctx, Node *GW) {
  Node *Upd = gemmWeightUpdate(G, GW);
  if (!Upd || Upd->op() != OpKind::SgdUpdate || !updatesAll(*Upd) ||
      Upd->inType(0).isQuantized())
    return false;
  double Lr = Upd->attrs().getFloat("lr", 0);
  double Norm = Upd->attrs().getFloat("norm_coefficient", 0);
  AttrMap A = GW->attrs();
  A.set("alpha", float(-Lr * GW->attrs().getFloat("alpha", 1.0f)));
  A.set("beta", float(1.0 - Lr * Norm));
  return fuseInto(G, Ctx, GW, Upd, OpKind::Gemm, ".sgd",
                  {GW->input(0), GW->input(1), Upd->input(0)}, std::move(A));
}

/// gemm-weight-update: a weight-gradient Gemm \p GW (no C) and its
/// momentum or Adam update, or an SGD update of a row slice, become one
/// GemmGradWeightSgd / Momentum / Adam.
Expected<bool> fuseGemmWeightUpdate(Graph &G, PassContext &Ctx, Node *GW) {
  Node *Upd = gemmWeightUpdate(G, GW);
  if (!Upd)
    return false;
  AttrMap A;
  copyAttrs(*GW, A, {"transA", "transB"});
  if (GW->attrs().has("alpha"))
    A.set("scale", GW->attrs().getFloat("alpha", 1.0f));
  return replaceWithUpdate(G, Ctx, GW, Upd,
                           {OpKind::GemmGradWeightSgd,
                            OpKind::GemmGradWeightMomentum,
                            OpKind::GemmGradWeightAdam},
                           std::move(A));
}

/// Is \p S a ReduceSum of its input over every axis but 1?
bool isChannelSum(const Node &S) {
  if (S.op() != OpKind::ReduceSum || S.numInputs() != 1 ||
      S.attrs().getInt("noop_with_empty_axes", 0) != 0)
    return false;
  int64_t Rank = int64_t(S.inType(0).Dims.size());
  if (Rank < 2)
    return false;
  std::vector<int64_t> Axes = S.attrs().getInts("axes");
  std::vector<bool> Reduced(size_t(Rank), false);
  for (int64_t A : Axes) {
    int64_t D = A < 0 ? A + Rank : A;
    if (D < 0 || D >= Rank || Reduced[size_t(D)])
      return false;
    Reduced[size_t(D)] = true;
  }
  for (int64_t D = 0; D < Rank; ++D)
    if (Reduced[size_t(D)] != (D != 1))
      return false;
  return true;
}

/// activation-grad-bias: ReluGrad / ClipGrad \p R and the channel sum of
/// its result become one ActivationGradSum.
Expected<bool> fuseActivationGradBias(Graph &G, PassContext &Ctx, Node *R) {
  if (R->op() != OpKind::ReluGrad && R->op() != OpKind::ClipGrad)
    return false;
  Value *DX = R->output(0);
  if (!isFloat(DX->type().Elem) || DX->type().Dims.size() < 2)
    return false;
  Node *S = nullptr;
  for (Node *U : G.users(DX))
    if (isChannelSum(*U)) {
      S = U;
      break;
    }
  if (!S)
    return false;
  AttrMap A = maskTestAttrs(*R);
  A.set("keepdims", S->attrs().getInt("keepdims", 1));
  Value *Sum = S->output(0);
  Expected<Node *> F = G.createNode(
      R, OpKind::ActivationGradSum, G.uniqueName(R->name() + ".sum"),
      {R->input(0), R->input(1)}, std::move(A),
      {G.uniqueName(DX->name() + ".fused"),
       G.uniqueName(Sum->name() + ".fused")});
  if (!F)
    return F.takeError();
  (*F)->setPhase(R->phase());
  ++Ctx.Fusion.BiasGradients;
  replaceValue(G, Ctx, Sum, (*F)->output(1), ".fused");
  G.eraseNode(S);
  replaceValue(G, Ctx, DX, (*F)->output(0), ".fused");
  G.eraseNode(R);
  return true;
}

/// Can \p N be a step of an elementwise chain?
bool isChainStep(const Node &N) {
  if (!isFusedElementwiseStep(N.op()) || N.numOutputs() != 1 ||
      !N.attrs().empty() || !isFloat(N.outType(0).Elem))
    return false;
  for (Value *V : N.inputs())
    if (!V || V->type().Elem != N.outType(0).Elem)
      return false;
  return true;
}

/// The inputs of the chain \p Members that no member computes, in order of
/// first use.
std::vector<Value *> chainLeaves(const std::vector<Node *> &Members) {
  std::vector<Value *> Leaves;
  for (Node *M : Members)
    for (Value *V : M->inputs()) {
      bool Inner = std::find(Members.begin(), Members.end(), V->producer()) !=
                   Members.end();
      if (!Inner && std::find(Leaves.begin(), Leaves.end(), V) == Leaves.end())
        Leaves.push_back(V);
    }
  return Leaves;
}

/// Replaces the chain \p Members (in execution order; the last computes
/// the result, every other member's result is read only inside the chain)
/// by one FusedElementwise.
Status fuseChain(Graph &G, PassContext &Ctx, const std::vector<Node *> &Members) {
  std::vector<Value *> Leaves = chainLeaves(Members);
  auto RefOf = [&](const Value *V) -> int64_t {
    auto L = std::find(Leaves.begin(), Leaves.end(), V);
    if (L != Leaves.end())
      return L - Leaves.begin();
    auto M = std::find(Members.begin(), Members.end(), V->producer());
    return int64_t(Leaves.size()) + (M - Members.begin());
  };
  std::vector<std::string> Ops;
  std::vector<int64_t> Args;
  int64_t Bytes = 0;
  for (Node *M : Members) {
    Ops.emplace_back(M->opName());
    Args.push_back(RefOf(M->input(0)));
    Args.push_back(M->numInputs() > 1 ? RefOf(M->input(1)) : -1);
    if (M != Members.back())
      Bytes += M->output(0)->type().bytes();
  }
  Node *Root = Members.back();
  AttrMap A;
  A.set("ops", std::move(Ops));
  A.set("args", std::move(Args));
  Value *Result = Root->output(0);
  Expected<Node *> F = G.createNode(
      Root, OpKind::FusedElementwise, G.uniqueName(Root->name() + ".chain"),
      Leaves, std::move(A), {G.uniqueName(Result->name() + ".fused")});
  if (!F)
    return F.takeError();
  (*F)->setPhase(Root->phase());
  ++Ctx.Fusion.ElementwiseChains;
  Ctx.Fusion.ElementwiseOps += int64_t(Members.size());
  Ctx.Fusion.IntermediateBytes += Bytes;
  replaceValue(G, Ctx, Result, (*F)->output(0), ".fused");
  for (auto It = Members.rbegin(); It != Members.rend(); ++It)
    G.eraseNode(*It);
  return ok();
}

/// elementwise-chain: groups the chain steps, in execution order, each with
/// the chains that compute its operands where those are read by it alone;
/// then replaces every group of two or more by a FusedElementwise.
Expected<bool> fuseElementwiseChains(Graph &G, PassContext &Ctx) {
  std::unordered_map<const Node *, size_t> Pos, GroupOf;
  std::vector<std::vector<Node *>> Groups;
  for (const auto &N : G.nodes())
    Pos[N.get()] = Pos.size();
  auto IsState = [&](const Value *V) {
    for (const Graph::StateUpdate &U : G.stateUpdates())
      if (U.NewValue == V)
        return true;
    return false;
  };
  for (const auto &NP : G.nodes()) {
    Node *N = NP.get();
    if (!isChainStep(*N))
      continue;
    std::vector<Node *> Members;
    for (Value *V : N->inputs()) {
      Node *P = V->producer();
      auto Gi = P ? GroupOf.find(P) : GroupOf.end();
      if (Gi == GroupOf.end() || Groups[Gi->second].empty() ||
          Groups[Gi->second].back() != P || P->phase() != N->phase() ||
          V->type() != N->outType(0) || G.isOutput(V) || IsState(V) ||
          V == Ctx.Loss || V == Ctx.Prediction)
        continue;
      std::vector<Node *> Us = G.users(V);
      if (!std::all_of(Us.begin(), Us.end(), [&](Node *U) { return U == N; }))
        continue;
      std::vector<Node *> Try = Members;
      Try.insert(Try.end(), Groups[Gi->second].begin(),
                 Groups[Gi->second].end());
      Try.push_back(N);
      if (Try.size() > size_t(MaxFusedSteps) ||
          chainLeaves(Try).size() > size_t(MaxFusedInputs))
        continue;
      Members.insert(Members.end(), Groups[Gi->second].begin(),
                     Groups[Gi->second].end());
      Groups[Gi->second].clear();
    }
    Members.push_back(N);
    std::sort(Members.begin(), Members.end(),
              [&](const Node *X, const Node *Y) { return Pos[X] < Pos[Y]; });
    for (Node *M : Members)
      GroupOf[M] = Groups.size();
    Groups.push_back(std::move(Members));
  }
  bool Changed = false;
  for (const std::vector<Node *> &Members : Groups) {
    if (Members.size() < 2)
      continue;
    if (Status S = fuseChain(G, Ctx, Members); !S)
      return S.takeError();
    Changed = true;
  }
  return Changed;
}

} // namespace

Expected<bool> runFuse(Graph &G, PassContext &Ctx) {
  bool Changed = false;
  // Each pattern erases the node it is tried on and nodes of a kind no
  // pattern starts from (an activation erases only itself; a mask gradient
  // itself and a ReduceSum; a weight-gradient pattern its gradient node and
  // an update), so the candidates listed up front stay valid.
  std::vector<Node *> Acts, MaskGrads, WeightGrads;
  for (const auto &N : G.nodes()) {
    if (N->op() == OpKind::Relu || N->op() == OpKind::Clip ||
        N->op() == OpKind::HardSwish)
      Acts.push_back(N.get());
    else if (N->op() == OpKind::ReluGrad || N->op() == OpKind::ClipGrad)
      MaskGrads.push_back(N.get());
    else if (N->op() == OpKind::ConvGradWeight || N->op() == OpKind::Gemm)
      WeightGrads.push_back(N.get());
  }
  for (Node *N : Acts)
    Changed |= fuseActivation(G, Ctx, N);
  // After conv-activation, which may switch a mask gradient's saved value.
  for (Node *N : MaskGrads) {
    Expected<bool> R = fuseActivationGradBias(G, Ctx, N);
    if (!R)
      return R.takeError();
    Changed |= *R;
  }
  for (Node *N : WeightGrads) {
    for (auto Pattern :
         {fuseConvWeightUpdate, fuseGemmWeightSgd, fuseGemmWeightUpdate}) {
      Expected<bool> R = Pattern(G, Ctx, N);
      if (!R)
        return R.takeError();
      if (*R) {
        Changed = true;
        break;
      }
    }
  }
  Expected<bool> R = fuseElementwiseChains(G, Ctx);
  if (!R)
    return R.takeError();
  return Changed || *R;
}

} // namespace mote
