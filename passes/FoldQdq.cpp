//===- FoldQdq.cpp - QDQ patterns to integer ops --------------------------===//
//
// Quantization tools write a quantized layer as a float op between
// DequantizeLinear and QuantizeLinear nodes (the QDQ form). This pass turns
// each such layer into the integer op it stands for:
//
//   QuantizeLinear(Conv(DQ(xq), DQ(wq)[, DQ(bq)]) [-> Relu | Clip])
//     -> QConv(xq, wq[, bq]) {Conv's attributes, the Q's scale and zero
//        point, clamp = the activation's range in the output's codes}
//   QuantizeLinear(Gemm(DQ(aq), DQ(bq)[, DQ(cq)]) [-> Relu | Clip])
//     -> QMatMul(aq, bq'[, cq])   (alpha = beta = 1, no transA; bq' is bq
//        transposed at compile time when transB is set)
//   QuantizeLinear(MatMul(DQ(aq), DQ(bq)) [-> Relu | Clip])
//     -> QMatMul(aq, bq)
//   QuantizeLinear(AveragePool(DQ(xq)) [-> Relu | Clip])
//     -> QAveragePool(xq) {AveragePool's attributes, ...}
//   QuantizeLinear(GlobalAveragePool(DQ(xq)) [-> Relu | Clip])
//     -> QAveragePool(xq) {kernel_shape = xq's spatial dims, ...}
//   QuantizeLinear(Add(DQ(aq), DQ(bq)) [-> Relu | Clip])
//     -> QAdd(aq, bq)
//   QuantizeLinear(MaxPool(DQ(xq))), the Q's parameters xq's
//     -> MaxPool(xq)   (on the codes: exact, quantizing is monotonic)
//
// First, a per-tensor QuantizeLinear after Reshape, Flatten, Squeeze or
// Unsqueeze moves before it (quantizing commutes with moving data), so
// QuantizeLinear(Flatten(GlobalAveragePool(DQ(xq)))) becomes
// Flatten(QAveragePool(xq)).
//
// The activation folds into the requantization's clamp because quantizing
// is monotonic: Q(clip(v, lo, hi)) = clamp(Q(v), Q(lo), Q(hi)), Q(0) being
// the zero point for ReLU. A bias whose scales are not the input scale
// times the weight scales (to float precision) is rescaled into those
// units at compile time (rounded half to even, saturated) as a constant.
//
// The integer op computes what the QDQ pattern specifies to within one
// output step (compiler/Quant.h). A pattern whose integer form the type
// rules refuse (an accumulator that could overflow, a per-channel
// parameter along another axis, a requantization multiplier of 2^31 or
// more) stays in float, as does every other op between Q/DQ pairs.
// DequantizeLinear -> QuantizeLinear with the same parameters is the
// identity and goes. Last, a layer reading dequantized operands whose
// float result is not quantized again (a classifier's logits) becomes
//
//   Mul(Cast(QConv|QMatMul {to = "i32"}), s_x * s_w)
//
// the int32 accumulator (bias included) scaled per channel to float,
// which loses no output step.
//
// Before a training step, a layer a gradient flows through (it reads a
// trained parameter, or its input depends on one) keeps its QDQ form:
// autodiff differentiates the float op on the dequantized operands, and
// the trained int8 weights are updated in place. The pass runs again once
// the backward graph is final (after prune-backward): the backward reads
// quantized tensors through DequantizeLinear nodes of its own (autodiff),
// so a trained layer whose float results only the forward pattern reads
// becomes an integer op too, the forward running in int8 throughout
// (its scales do not change as its integers train).
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "compiler/Quant.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <cmath>
#include <unordered_set>
#include <fmt/format.h>

namespace mote {

namespace {

/// The quantized operand behind float operand \p V when a DequantizeLinear
/// produces it, else null.
Value *dequantized(Value *V) {
  Node *P = V ? V->producer() : nullptr;
  return P && P->op() == OpKind::DequantizeLinear ? P->input(0) : nullptr;
}

/// The output codes [lo, hi] activation \p Act (Relu or Clip, or null)
/// keeps when quantized to \p Y's parameters (empty: all of them).
std::vector<int64_t> clampOf(const Node *Act, const TensorType &Y) {
  int64_t Lo = quantMin(Y.Elem), Hi = quantMax(Y.Elem);
  if (!Act)
    return {};
  float S = Y.Quant->Scale[0];
  int32_t Z = Y.Quant->ZeroPoint[0];
  auto Q = [&](float V) { return int64_t(quantizeValue(V, S, Z, Lo, Hi)); };
  const AttrMap &A = Act->attrs();
  int64_t L = Act->op() == OpKind::Relu ? Q(0.0f)
              : A.has("min")            ? Q(A.getFloat("min", 0))
                                        : Lo;
  int64_t H =
      Act->op() == OpKind::Clip && A.has("max") ? Q(A.getFloat("max", 0)) : Hi;
  if (L == Lo && H == Hi)
    return {}; // the activation keeps every code: nothing to clamp
  return {L, H};
}

/// \p B (an i32 bias read through DequantizeLinear) in units of s_x *
/// s_w[c], channel c along its only axis: \p B itself when its scales are
/// those units (to float precision), else a new constant rescaled into
/// them.
Value *biasInUnits(Graph &G, Value *B, const TensorType &X,
                   const TensorType &W) {
  const QuantParams &QB = *B->type().Quant;
  int64_t N = B->type().numElements();
  bool Same = true;
  std::vector<double> Ratio;
  for (int64_t C = 0; C < N; ++C) {
    double Unit = accumulatorScale(X, W, C);
    Same &= isAccumulatorUnit(QB.scaleAt(C), QB.zeroPointAt(C), Unit);
    Ratio.push_back(QB.scaleAt(C) / Unit);
  }
  if (Same)
    return B;
  if (!B->hasData())
    return nullptr; // a computed bias cannot be rescaled here
  Tensor R(TensorType(DType::I32, B->type().Dims));
  for (int64_t C = 0; C < N; ++C) {
    double V =
        double(B->data()->getAsInt(C) - QB.zeroPointAt(C)) * Ratio[size_t(C)];
    V = std::clamp(std::nearbyint(V), double(INT32_MIN), double(INT32_MAX));
    R.setFromDouble(C, V);
  }
  return G.addConst(G.uniqueName(B->name() + ".rescaled"), std::move(R));
}

/// \p W ([N, K], i8/u8, a parameter or constant) transposed to [K, N], its
/// per-row parameters becoming per-column; the new value takes W's name
/// (W, soon unused, is renamed and dropped by dead-code removal).
Value *transposedWeight(Graph &G, Value *W) {
  const TensorType &T = W->type();
  int64_t N = T.Dims[0], K = T.Dims[1];
  QuantParams Q = *T.Quant;
  if (Q.perAxis())
    Q.Axis = 1;
  Tensor R(TensorType(T.Elem, {K, N}, std::move(Q)));
  const Tensor &D = *W->data();
  for (int64_t I = 0; I < N; ++I)
    for (int64_t J = 0; J < K; ++J)
      R.setFromDouble(J * N + I, double(D.getAsInt(I * K + J)));
  std::string Name = W->name();
  bool Param = W->isParam();
  G.renameValue(W, G.uniqueName(Name + ".untransposed"));
  return Param ? G.addParam(Name, std::move(R))
               : G.addConst(Name, std::move(R));
}

/// The integer form of float layer \p L (Conv, Gemm or MatMul) reading
/// dequantized operands: its op, operands (the bias in accumulator units,
/// the weight transposed for a Gemm with transB) and attributes (Conv's;
/// the caller adds the result's). Empty if L has none.
struct IntegerLayer {
  OpKind Op;
  std::vector<Value *> Ins;
  AttrMap Attrs;
  Value *Weight = nullptr;     ///< the quantized weight L reads
  Value *Transposed = nullptr; ///< its transposition, made for this layer
};

std::optional<IntegerLayer> integerLayer(Graph &G, Node *L) {
  OpKind Op = L->op();
  if ((Op != OpKind::Conv && Op != OpKind::Gemm && Op != OpKind::MatMul) ||
      L->attrs().has("activation"))
    return std::nullopt;
  Value *X = dequantized(L->input(0));
  Value *W = dequantized(L->input(1));
  Value *B = L->numInputs() > 2 ? L->input(2) : nullptr;
  Value *BQ = dequantized(B);
  if (!X || !W || (B && !BQ))
    return std::nullopt;
  if (X->type().Elem == DType::I32 || W->type().Elem == DType::I32 ||
      (BQ && BQ->type().Elem != DType::I32))
    return std::nullopt;
  IntegerLayer R{Op == OpKind::Conv ? OpKind::QConv : OpKind::QMatMul};
  bool Transpose = false;
  if (Op == OpKind::Conv) {
    R.Attrs = L->attrs();
  } else if (Op == OpKind::Gemm) {
    const AttrMap &GA = L->attrs();
    if (GA.getInt("transA", 0) || GA.getFloat("alpha", 1) != 1 ||
        GA.getFloat("beta", 1) != 1 || X->type().rank() != 2 ||
        (BQ && BQ->type().rank() != 1))
      return std::nullopt;
    Transpose = GA.getInt("transB", 0) != 0;
    if (Transpose && (!W->hasData() || W->type().rank() != 2 ||
                      !onlyUser(G, W, L->input(1)->producer()) ||
                      !onlyUser(G, L->input(1), L)))
      return std::nullopt;
  }
  R.Ins = {X, W};
  R.Weight = W;
  if (BQ) {
    // The weight as the integer op reads it decides the bias units.
    Value *BU = biasInUnits(G, BQ, X->type(), W->type());
    if (!BU)
      return std::nullopt;
    R.Ins.push_back(BU);
  }
  if (Transpose) {
    R.Transposed = transposedWeight(G, W);
    R.Ins[1] = R.Transposed;
  }
  return R;
}

/// The integer form of float op \p L (AveragePool, GlobalAveragePool or
/// Add) reading dequantized operands, the caller adding the result's
/// attributes; empty if L has none.
std::optional<IntegerLayer> integerPoolOrAdd(Node *L) {
  std::vector<Value *> Ins;
  for (size_t I = 0; I < L->numInputs(); ++I) {
    Value *Q = dequantized(L->input(I));
    if (!Q)
      return std::nullopt;
    Ins.push_back(Q);
  }
  switch (L->op()) {
  case OpKind::AveragePool:
    return IntegerLayer{OpKind::QAveragePool, Ins, L->attrs()};
  case OpKind::GlobalAveragePool: {
    const Shape &X = Ins[0]->type().Dims;
    AttrMap A;
    A.set("kernel_shape", Shape(X.begin() + 2, X.end())); // rank >= 3
    return IntegerLayer{OpKind::QAveragePool, Ins, std::move(A)};
  }
  case OpKind::Add:
    return IntegerLayer{OpKind::QAdd, Ins, {}};
  default:
    return std::nullopt;
  }
}

/// Undoes what integerLayer made when the integer op is refused: the
/// transposed weight gives its name back (the unused copy goes with
/// dead-code removal).
void abandon(Graph &G, const IntegerLayer &I) {
  if (!I.Transposed)
    return;
  std::string Name = I.Transposed->name();
  G.renameValue(I.Transposed, G.uniqueName(Name + ".unused"));
  G.renameValue(I.Weight, Name);
}

/// Tries to turn QuantizeLinear \p Q and the layer before it into one
/// integer op; returns whether it did.
bool foldLayer(Graph &G, PassContext &Ctx, Node *Q) {
  const TensorType &YT = Q->outType(0);
  if (YT.Quant->perAxis())
    return false;
  Value *In = Q->input(0);
  Node *Act = In->producer();
  if (Act && (Act->op() == OpKind::Relu || Act->op() == OpKind::Clip) &&
      onlyUser(G, In, Q)) {
    In = Act->input(0);
  } else {
    Act = nullptr;
  }
  Node *L = In->producer();
  if (!L || !onlyUser(G, In, Act ? Act : Q))
    return false;
  std::optional<IntegerLayer> I = integerLayer(G, L);
  if (!I)
    I = integerPoolOrAdd(L);
  if (!I)
    return false;
  I->Attrs.set("to", std::string(dtypeName(YT.Elem)));
  I->Attrs.set("scale", std::vector<float>{YT.Quant->Scale[0]});
  I->Attrs.set("zero_point", std::vector<int64_t>{YT.Quant->ZeroPoint[0]});
  if (std::vector<int64_t> Cl = clampOf(Act, YT); !Cl.empty())
    I->Attrs.set("clamp", Cl);
  Expected<Node *> N =
      G.createNode(Q, I->Op, G.uniqueName(L->name() + ".q"), I->Ins, I->Attrs,
                   {G.uniqueName(Q->output(0)->name() + ".q")});
  if (!N) {
    // The integer form is refused (see the file comment): the layer stays
    // in float.
    abandon(G, *I);
    return false;
  }
  replaceValue(G, Ctx, Q->output(0), (*N)->output(0), ".folded");
  G.eraseNode(Q);
  if (Act)
    G.eraseNode(Act);
  G.eraseNode(L);
  return true;
}

/// QuantizeLinear \p Q of a MaxPool on DequantizeLinear(xq) with xq's own
/// parameters: MaxPool(xq), on the codes. Returns whether it folded.
bool foldMaxPool(Graph &G, PassContext &Ctx, Node *Q) {
  Value *In = Q->input(0);
  Node *L = In->producer();
  if (!L || L->op() != OpKind::MaxPool || L->numOutputs() != 1 ||
      !onlyUser(G, In, Q))
    return false;
  Value *X = dequantized(L->input(0));
  if (!X)
    return false;
  TensorType Want = X->type();
  Want.Dims = Q->outType(0).Dims;
  if (Want != Q->outType(0))
    return false; // other parameters: a requantization, left in float
  Expected<Node *> N =
      G.createNode(Q, OpKind::MaxPool, G.uniqueName(L->name() + ".q"), {X},
                   L->attrs(), {G.uniqueName(Q->output(0)->name() + ".q")});
  if (!N)
    return false;
  replaceValue(G, Ctx, Q->output(0), (*N)->output(0), ".folded");
  G.eraseNode(Q);
  G.eraseNode(L);
  return true;
}

/// A layer reading dequantized operands whose float result is not
/// quantized again (a model's last layer, typically): the integer op keeps
/// its int32 accumulator (bias included), and the float result is that
/// times s_x * s_w[c] (Cast, then Mul by the per-channel scales): no output
/// step is lost.
bool foldAccumulating(Graph &G, PassContext &Ctx, Node *L) {
  std::optional<IntegerLayer> I = integerLayer(G, L);
  if (!I)
    return false;
  const TensorType &XT = I->Ins[0]->type(), &WT = I->Ins[1]->type();
  I->Attrs.set("to", std::string("i32"));
  std::string Name = L->name();
  Expected<Node *> N =
      G.createNode(L, I->Op, G.uniqueName(Name + ".q"), I->Ins, I->Attrs,
                   {G.uniqueName(L->output(0)->name() + ".acc")});
  if (!N)
    return abandon(G, *I), false;
  // Per-channel units along the result's channel axis: dim 1 of a conv
  // result, the last dim of a matrix product.
  const TensorType &YT = L->outType(0);
  bool PerCh = WT.Quant->perAxis();
  int64_t Channels = PerCh ? WT.Dims[size_t(WT.Quant->Axis)] : 1;
  Shape UDims = {Channels};
  if (I->Op == OpKind::QConv && PerCh)
    UDims.resize(YT.rank() - 1, 1); // [M, 1, ...] broadcasts along dim 1
  Tensor U(TensorType(DType::F32, PerCh ? UDims : Shape{}));
  for (int64_t C = 0; C < Channels; ++C)
    U.data<float>()[size_t(C)] = float(accumulatorScale(XT, WT, C));
  Value *Units = G.addConst(G.uniqueName(Name + ".units"), std::move(U));
  AttrMap CA;
  CA.set("to", std::string("f32"));
  Expected<Node *> Cast = G.createNode(
      L, OpKind::Cast, G.uniqueName(Name + ".cast"), {(*N)->output(0)}, CA,
      {G.uniqueName(L->output(0)->name() + ".accf")});
  assert(Cast && "Cast of an i32 accumulator");
  Expected<Node *> Mul =
      G.createNode(L, OpKind::Mul, G.uniqueName(Name + ".dequantize"),
                   {(*Cast)->output(0), Units}, {},
                   {G.uniqueName(L->output(0)->name() + ".dq")});
  if (!Mul || (*Mul)->outType(0) != YT) {
    abandon(G, *I); // the new nodes go with dead-code removal
    return false;
  }
  replaceValue(G, Ctx, L->output(0), (*Mul)->output(0), ".folded");
  G.eraseNode(L);
  return true;
}

/// QuantizeLinear \p Q of the result of a shape-only op (Reshape, Flatten,
/// Squeeze, Unsqueeze) that only Q reads: the op moves after a
/// QuantizeLinear of its operand, which is returned (null if none moved).
Node *hoistQuantize(Graph &G, PassContext &Ctx, Node *Q) {
  Value *In = Q->input(0);
  Node *M = In->producer();
  if (!M || !(M->def().Flags & OpFlagDataMovement) || M->numInputs() != 1 ||
      !(M->def().Flags & OpFlagQuantAware) || !onlyUser(G, In, Q) ||
      Q->outType(0).Quant->perAxis())
    return nullptr;
  Value *X = M->input(0);
  Expected<Node *> NQ = G.createNode(
      Q, OpKind::QuantizeLinear, G.uniqueName(Q->name() + ".moved"), {X},
      Q->attrs(), {G.uniqueName(X->name() + ".q")});
  if (!NQ)
    return nullptr;
  Expected<Node *> NM = G.createNode(
      Q, M->op(), G.uniqueName(M->name() + ".q"), {(*NQ)->output(0)},
      M->attrs(), {G.uniqueName(Q->output(0)->name() + ".moved")});
  assert(NM && "a shape-only op on a per-tensor quantized operand");
  replaceValue(G, Ctx, Q->output(0), (*NM)->output(0), ".folded");
  G.eraseNode(Q);
  G.eraseNode(M);
  return *NQ;
}

/// DequantizeLinear -> QuantizeLinear with the parameters the DQ's operand
/// already has: the Q's users read the operand.
bool foldPair(Graph &G, PassContext &Ctx, Node *Q) {
  Value *X = dequantized(Q->input(0));
  if (!X || X->type() != Q->outType(0))
    return false;
  Value *Old = Q->output(0);
  if (G.isOutput(Old))
    return false; // the output keeps its own name and buffer
  G.replaceAllUsesWith(Old, X);
  if (Ctx.Prediction == Old)
    Ctx.Prediction = X;
  G.eraseNode(Q);
  return true;
}

} // namespace

Expected<bool> runFoldQdq(Graph &G, PassContext &Ctx) {
  // Before autodiff, the layers a gradient will flow through stay.
  std::unordered_set<const Value *> Trained;
  if (Ctx.Training && Ctx.Gradients.empty())
    Trained = trainedDependents(G, Ctx.Train.Update);
  auto IsLayer = [&](const Node *N) {
    return (N->op() == OpKind::Conv || N->op() == OpKind::Gemm ||
            N->op() == OpKind::MatMul) &&
           !Trained.count(N->output(0));
  };
  bool Changed = false;
  std::vector<Node *> Qs;
  for (const auto &N : G.nodes())
    if (N->op() == OpKind::QuantizeLinear)
      Qs.push_back(N.get());
  for (Node *&Q : Qs)
    while (Node *Moved = hoistQuantize(G, Ctx, Q)) {
      Q = Moved;
      Changed = true;
    }
  for (Node *Q : Qs) {
    // A gradient flows through Q's operand: the layer behind it stays.
    bool Fold = !Trained.count(Q->input(0));
    Changed |= (Fold && (foldLayer(G, Ctx, Q) || foldMaxPool(G, Ctx, Q))) ||
               foldPair(G, Ctx, Q);
  }
  // The layers left whose operands are all quantized keep their
  // accumulator.
  std::vector<Node *> Ls;
  for (const auto &N : G.nodes())
    if (IsLayer(N.get()))
      Ls.push_back(N.get());
  for (Node *L : Ls)
    Changed |= foldAccumulating(G, Ctx, L);
  if (Changed)
    G.removeDeadCode();
  return Changed;
}

} // namespace mote
