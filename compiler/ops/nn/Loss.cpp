//===- Loss.cpp - Softmax cross-entropy loss ------------------------------===//
//
// SoftmaxCrossEntropyLoss (ONNX opset 13): scores [N, C] or [N, C, d1..],
// integer labels [N] or [N, d1..], optional per-class weights [C]. With
// log_prob = LogSoftmax(scores) along the class dim 1 and, for each position
// i = (n, d1..) with label l_i:
//
//   w_i    = 0 if l_i == ignore_index, else (weights[l_i] or 1)
//   loss_i = -w_i * log_prob[n, l_i, d1..]
//
//   reduction "none": loss (shape of labels)
//   reduction "sum":  sum_i loss_i
//   reduction "mean": sum_i loss_i / sum_i w_i
//
// Without weights and ignore_index the mean divides by the number of
// positions; with ignore_index it divides by the number of positions not
// ignored (0 / 0 = NaN when every position is ignored, as in the ONNX
// reference). A label outside [0, C) that is not ignore_index is an error
// of the kernel. The optional second result is log_prob. The kernel
// computes in double.
//
// Lowering: mote_rt::softmax_cross_entropy<T, L>(SoftmaxCrossEntropyP,
// scores, labels, weights or nullptr, loss[, log_prob])
// (runtime-stub/mote_rt/loss.h). The generated kernel cannot fail: a label
// out of range at run time counts as ignored.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mote {
namespace {

Expected<std::vector<TensorType>> inferSoftmaxCrossEntropy(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 2}); !S)
    return S.takeError();
  Expected<Shape> LabelDims = checkSoftmaxCrossEntropyOperands(N, 0);
  if (!LabelDims)
    return LabelDims.takeError();
  bool Reduced = N.attrs().getString("reduction", "mean") != "none";
  DType E = N.inType(0).Elem;
  std::vector<TensorType> Types = {
      TensorType(E, Reduced ? Shape{} : *LabelDims)};
  if (N.numOutputs() > 1)
    Types.push_back(N.inType(0));
  return Types;
}

template <class E>
Status softmaxCrossEntropyImpl(const Node &N, std::span<const Tensor *const> In,
                               std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  const Tensor &Labels = *In[1];
  const Tensor *Weights = In.size() > 2 ? In[2] : nullptr;
  const Shape &XS = X.shape();
  int64_t Batch = XS[0], C = XS[1];
  int64_t D = productOf(XS, 2, XS.size());
  auto PX = X.data<E>();

  // log_prob along dim 1, stabilised by the max of each class vector.
  std::vector<double> LogProb(PX.size());
  for (int64_t Nb = 0; Nb < Batch; ++Nb) {
    for (int64_t Dd = 0; Dd < D; ++Dd) {
      auto At = [&](int64_t Cl) { return size_t((Nb * C + Cl) * D + Dd); };
      double Max = -std::numeric_limits<double>::infinity();
      for (int64_t Cl = 0; Cl < C; ++Cl)
        Max = std::max(Max, double(PX[At(Cl)]));
      double Sum = 0;
      for (int64_t Cl = 0; Cl < C; ++Cl)
        Sum += std::exp(double(PX[At(Cl)]) - Max);
      double LogSum = std::log(Sum);
      for (int64_t Cl = 0; Cl < C; ++Cl)
        LogProb[At(Cl)] = double(PX[At(Cl)]) - Max - LogSum;
    }
  }

  std::string Reduction = N.attrs().getString("reduction", "mean");
  bool HasIgnore = N.attrs().has("ignore_index");
  int64_t Ignore = N.attrs().getInt("ignore_index", 0);
  auto PLoss = Out[0].data<E>();
  double LossSum = 0, WeightSum = 0;
  for (int64_t Nb = 0; Nb < Batch; ++Nb) {
    for (int64_t Dd = 0; Dd < D; ++Dd) {
      int64_t I = Nb * D + Dd;
      int64_t L = Labels.getAsInt(I);
      double W = 0, Loss = 0;
      if (!HasIgnore || L != Ignore) {
        if (L < 0 || L >= C)
          return opError(fmt::format("label {} at flat index {} is out of "
                                     "range [0, {}) and is not ignore_index",
                                     L, I, C));
        W = Weights ? double(Weights->data<E>()[size_t(L)]) : 1.0;
        Loss = -W * LogProb[size_t((Nb * C + L) * D + Dd)];
      }
      if (Reduction == "none")
        PLoss[size_t(I)] = E(Loss);
      LossSum += Loss;
      WeightSum += W;
    }
  }
  if (Reduction == "sum")
    PLoss[0] = E(LossSum);
  else if (Reduction == "mean")
    PLoss[0] = E(LossSum / WeightSum);

  if (Out.size() > 1) {
    auto PLogProb = Out[1].data<E>();
    for (size_t I = 0; I < LogProb.size(); ++I)
      PLogProb[I] = E(LogProb[I]);
  }
  return ok();
}

Status kernelSoftmaxCrossEntropy(const Node &N,
                                 std::span<const Tensor *const> In,
                                 std::span<Tensor> Out) {
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    return softmaxCrossEntropyImpl<E>(N, In, Out);
  });
}

// Gradient rule, with respect to the scores only (labels are integers and
// the class weights are not trained): with p = softmax(scores) along dim 1,
//   dScores[n, c, d] = k_i (p[n, c, d] - [c == l_i])
// k_i = dLoss w_i (none: dLoss[i] w_i; mean: divided by sum_i w_i), computed
// by SoftmaxCrossEntropyLossGrad (grad/LossGrad.cpp). The log_prob result
// must not feed the loss: its gradient is refused with a diagnostic.
Status gradSoftmaxCrossEntropy(GradContext &Ctx, const Node &N) {
  if (Ctx.outputGrad(1))
    return opError("no gradient rule for the log_prob result of "
                   "SoftmaxCrossEntropyLoss; compute the loss from its first "
                   "result, or use LogSoftmax for log_prob");
  Value *DLoss = Ctx.outputGrad(0);
  if (!DLoss || !Ctx.needsGrad(0))
    return ok();
  std::vector<Value *> Ins = {DLoss, N.input(0), N.input(1)};
  if (N.input(2))
    Ins.push_back(N.input(2));
  AttrMap A;
  for (const char *Name : {"ignore_index", "reduction"})
    if (const AttrValue *V = N.attrs().find(Name))
      A.set(Name, *V);
  Expected<Value *> DX = Ctx.emit1(OpKind::SoftmaxCrossEntropyLossGrad,
                                   std::move(Ins), std::move(A));
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

constexpr AttrSpec SoftmaxCrossEntropyAttrs[] = {
    {"ignore_index", AttrKind::Int},
    {"reduction", AttrKind::String},
};

Status lowerSoftmaxCrossEntropy(const Node &N, KernelCall &C) {
  C.Kernel = "softmax_cross_entropy";
  return lowerCrossEntropyFamily(N, 0, C);
}

} // namespace

extern const OpDef OpDef_SoftmaxCrossEntropyLoss = {
    .Name = "SoftmaxCrossEntropyLoss",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 2,
    .Attrs = SoftmaxCrossEntropyAttrs,
    .Infer = inferSoftmaxCrossEntropy,
    .Kernel = kernelSoftmaxCrossEntropy,
    .Macs = nullptr,
    .Grad = gradSoftmaxCrossEntropy,
    .Flags = OpFlagNone,
    .Summary = "cross entropy of LogSoftmax(scores) along dim 1 and integer "
               "labels, with class weights, ignore_index and reduction",
    .Lower = lowerSoftmaxCrossEntropy,
};

} // namespace mote
