//===- LossGrad.cpp - Backward op of SoftmaxCrossEntropyLoss --------------===//
//
// SoftmaxCrossEntropyLossGrad(dLoss, scores, labels[, weights])
//   {ignore_index, reduction} -> dScores
//
// The exact derivative of SoftmaxCrossEntropyLoss (ops/nn/Loss.cpp) with
// respect to its scores. With p = softmax(scores) along the class dim 1 and,
// for each position i = (n, d1..) with label l_i, the weight w_i (0 if l_i
// is ignore_index, else weights[l_i] or 1), d loss_i / d scores[n, c, d] =
// w_i (p[n, c, d] - [c == l_i]), so
//
//   dScores[n, c, d] = k_i (p[n, c, d] - [c == l_i])
//
//   reduction "none": k_i = dLoss[i] w_i     (dLoss has the labels' shape)
//   reduction "sum":  k_i = dLoss w_i        (dLoss is a scalar)
//   reduction "mean": k_i = dLoss w_i / W,   W = sum_i w_i (the forward
//                     divisor: the weights of the positions not ignored)
//
// Ignored positions get 0, also when every position is ignored (as in
// PyTorch, where the loss is then NaN but its gradient 0). A label outside
// [0, C) that is not ignore_index is an error of the kernel, as in the
// forward op. The kernel computes in double.
//
// Lowering: mote_rt::softmax_cross_entropy_grad<T, L>(SoftmaxCrossEntropyP,
// dLoss, scores, labels, weights or nullptr, dScores)
// (runtime-stub/mote_rt/loss.h); a label out of range at run time gets a
// zero gradient there.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mote {
namespace {

Expected<std::vector<TensorType>>
inferSoftmaxCrossEntropyLossGrad(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 3}); !S)
    return S.takeError();
  Expected<Shape> LabelDims = checkSoftmaxCrossEntropyOperands(N, 1);
  if (!LabelDims)
    return LabelDims.takeError();
  bool Reduced = N.attrs().getString("reduction", "mean") != "none";
  Shape Want = Reduced ? Shape{} : *LabelDims;
  if (N.inType(0).Dims != Want)
    return opError(fmt::format("the loss gradient dLoss {} must have the "
                               "shape {} of the loss",
                               shapeStr(N.inType(0).Dims), shapeStr(Want)));
  return std::vector<TensorType>{N.inType(1)};
}

template <class E>
Status lossGradImpl(const Node &N, std::span<const Tensor *const> In,
                    Tensor &Out) {
  const Tensor &DLoss = *In[0];
  const Tensor &X = *In[1];
  const Tensor &Labels = *In[2];
  const Tensor *Weights = In.size() > 3 ? In[3] : nullptr;
  const Shape &XS = X.shape();
  int64_t Batch = XS[0], C = XS[1];
  int64_t D = productOf(XS, 2, XS.size());
  auto PX = X.data<E>();
  auto PDX = Out.data<E>();
  std::string Reduction = N.attrs().getString("reduction", "mean");
  bool HasIgnore = N.attrs().has("ignore_index");
  int64_t Ignore = N.attrs().getInt("ignore_index", 0);

  // Weight of each position (0 if ignored) and their sum.
  std::vector<double> W(size_t(Batch * D), 0.0);
  double WeightSum = 0;
  for (int64_t I = 0; I < Batch * D; ++I) {
    int64_t L = Labels.getAsInt(I);
    if (HasIgnore && L == Ignore)
      continue;
    if (L < 0 || L >= C)
      return opError(fmt::format("label {} at flat index {} is out of range "
                                 "[0, {}) and is not ignore_index",
                                 L, I, C));
    W[size_t(I)] = Weights ? double(Weights->data<E>()[size_t(L)]) : 1.0;
    WeightSum += W[size_t(I)];
  }

  for (int64_t Nb = 0; Nb < Batch; ++Nb) {
    for (int64_t Dd = 0; Dd < D; ++Dd) {
      int64_t I = Nb * D + Dd;
      auto At = [&](int64_t Cl) { return size_t((Nb * C + Cl) * D + Dd); };
      double K = 0;
      if (W[size_t(I)] != 0) {
        if (Reduction == "none")
          K = DLoss.getAsDouble(I) * W[size_t(I)];
        else if (Reduction == "sum")
          K = DLoss.getAsDouble(0) * W[size_t(I)];
        else
          K = DLoss.getAsDouble(0) * W[size_t(I)] / WeightSum;
      }
      if (K == 0) {
        for (int64_t Cl = 0; Cl < C; ++Cl)
          PDX[At(Cl)] = E(0);
        continue;
      }
      double Max = -std::numeric_limits<double>::infinity();
      for (int64_t Cl = 0; Cl < C; ++Cl)
        Max = std::max(Max, double(PX[At(Cl)]));
      double Sum = 0;
      for (int64_t Cl = 0; Cl < C; ++Cl)
        Sum += std::exp(double(PX[At(Cl)]) - Max);
      int64_t L = Labels.getAsInt(I);
      for (int64_t Cl = 0; Cl < C; ++Cl) {
        double P = std::exp(double(PX[At(Cl)]) - Max) / Sum;
        PDX[At(Cl)] = E(K * (P - (Cl == L ? 1.0 : 0.0)));
      }
    }
  }
  return ok();
}

Status kernelSoftmaxCrossEntropyLossGrad(const Node &N,
                                         std::span<const Tensor *const> In,
                                         std::span<Tensor> Out) {
  return dispatchFloat(In[1]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    return lossGradImpl<E>(N, In, Out[0]);
  });
}

constexpr AttrSpec LossGradAttrs[] = {
    {"ignore_index", AttrKind::Int},
    {"reduction", AttrKind::String},
};

Status lowerSoftmaxCrossEntropyLossGrad(const Node &N, KernelCall &C) {
  C.Kernel = "softmax_cross_entropy_grad";
  return lowerCrossEntropyFamily(N, 1, C);
}

} // namespace

extern const OpDef OpDef_SoftmaxCrossEntropyLossGrad = {
    .Name = "SoftmaxCrossEntropyLossGrad",
    .MinInputs = 3,
    .MaxInputs = 4,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = LossGradAttrs,
    .Infer = inferSoftmaxCrossEntropyLossGrad,
    .Kernel = kernelSoftmaxCrossEntropyLossGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "gradient of SoftmaxCrossEntropyLoss's scores: k_i (softmax - "
               "onehot(label)) with k_i from dLoss, the weights and reduction",
    .Lower = lowerSoftmaxCrossEntropyLossGrad,
};

} // namespace mote
