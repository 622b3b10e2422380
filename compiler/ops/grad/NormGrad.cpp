//===- NormGrad.cpp - Backward ops of LayerNormalization and BatchNorm ----===//
//
// LayerNormGrad(dY, X, Scale){axis, epsilon} -> dX[, dScale[, dBias]]
//   Recomputes the statistics of each row x (the D elements of X from axis
//   on) as the forward op does: mean, var = sum((x - mean)^2) / D,
//   r = 1 / sqrt(var + epsilon), xhat = (x - mean) r. With g = dY * Scale
//   (Scale broadcast to the row):
//
//     dX     = r * (g - mean(g) - xhat * mean(g * xhat))
//     dScale = sum of dY * xhat over every element Scale broadcasts to
//     dBias  = sum of dY        over every element Scale broadcasts to
//
//   dScale and dBias have Scale's shape (the forward's B gradient when B
//   has Scale's shape).
//
// BatchNormGrad(dY, X, scale, mean, var){epsilon} -> dX[, dScale[, dBias]]
//   Eval-mode BatchNormalization is the per-channel affine map
//   y = (x - mean[c]) * scale[c] * r[c] + B[c], r[c] = 1 / sqrt(var[c] + eps),
//   channel c = dim 1 of X [N, C, D...]:
//
//     dX        = dY * scale[c] * r[c]
//     dScale[c] = sum_{n, d} dY * (x - mean[c]) * r[c]
//     dBias[c]  = sum_{n, d} dY
//
// The trailing results are optional so a rule asks only for what it needs.
// The kernels accumulate in double.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnLower.h"

#include <cmath>

namespace mote {
namespace {

Status checkEpsilon(const Node &N) {
  float Eps = N.attrs().getFloat("epsilon", 1e-5f);
  if (!(Eps >= 0) || !std::isfinite(Eps))
    return opError(fmt::format("epsilon must be finite and non-negative, got "
                               "{}",
                               Eps));
  return ok();
}

/// Requires the output gradient dY (input 0) to have X's (input 1) type.
Status checkOutputGrad(const Node &N) {
  if (N.inType(0) != N.inType(1))
    return opError(fmt::format("the output gradient dY {} must have the type "
                               "{} of X",
                               N.inType(0).str(), N.inType(1).str()));
  return ok();
}

//===----------------------------------------------------------------------===//
// LayerNormGrad
//===----------------------------------------------------------------------===//

Expected<std::vector<TensorType>> inferLayerNormGrad(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 2}); !S)
    return S.takeError();
  if (Status S = checkOutputGrad(N); !S)
    return S.takeError();
  if (Status S = checkEpsilon(N); !S)
    return S.takeError();
  const Shape &X = N.inType(1).Dims;
  int64_t AxisAttr = N.attrs().getInt("axis", -1);
  std::optional<int64_t> Axis = normalizeAxis(AxisAttr, int64_t(X.size()));
  if (!Axis)
    return opError(fmt::format("axis {} is out of range for X {} of rank {}",
                               AxisAttr, shapeStr(X), X.size()));
  Shape Norm(X.begin() + *Axis, X.end());
  const Shape &PS = N.inType(2).Dims;
  if (PS.size() > Norm.size() || broadcastShapes(PS, Norm) != Norm)
    return opError(fmt::format("Scale {} cannot be broadcast to the "
                               "normalized dims {} of X {}",
                               shapeStr(PS), shapeStr(Norm), shapeStr(X)));
  std::vector<TensorType> Types = {N.inType(1)};
  for (size_t I = 1; I < N.numOutputs(); ++I)
    Types.push_back(N.inType(2));
  return Types;
}

template <class E>
void layerNormGradImpl(int64_t Axis, double Eps,
                       std::span<const Tensor *const> In,
                       std::span<Tensor> Out) {
  const Tensor &DY = *In[0], &X = *In[1], &Scale = *In[2];
  const Shape &XS = X.shape();
  Shape Norm(XS.begin() + Axis, XS.end());
  int64_t Rows = productOf(XS, 0, size_t(Axis));
  int64_t D = productOf(Norm, 0, Norm.size());
  if (D == 0)
    return;
  // Offset into Scale of each position of a row (broadcast).
  std::vector<int64_t> Strides = broadcastStrides(Scale.shape(), Norm);
  std::vector<int64_t> Off(static_cast<size_t>(D));
  for (int64_t J = 0; J < D; ++J)
    Off[size_t(J)] = offsetFor(J, Norm, Strides);
  auto PDY = DY.data<E>();
  auto PX = X.data<E>();
  auto PS = Scale.data<E>();
  auto PDX = Out[0].data<E>();
  std::vector<double> DScale(size_t(Scale.numElements()), 0.0);
  std::vector<double> DBias(DScale.size(), 0.0);
  std::vector<double> XHat(static_cast<size_t>(D));
  std::vector<double> G(static_cast<size_t>(D));
  for (int64_t R = 0; R < Rows; ++R) {
    size_t Base = size_t(R * D);
    double Sum = 0;
    for (size_t J = 0; J < size_t(D); ++J)
      Sum += double(PX[Base + J]);
    double Mean = Sum / double(D);
    double SqSum = 0;
    for (size_t J = 0; J < size_t(D); ++J) {
      double Diff = double(PX[Base + J]) - Mean;
      SqSum += Diff * Diff;
    }
    double InvStd = 1.0 / std::sqrt(SqSum / double(D) + Eps);
    double MeanG = 0, MeanGX = 0;
    for (size_t J = 0; J < size_t(D); ++J) {
      double Dy = double(PDY[Base + J]);
      XHat[J] = (double(PX[Base + J]) - Mean) * InvStd;
      G[J] = Dy * double(PS[size_t(Off[J])]);
      MeanG += G[J];
      MeanGX += G[J] * XHat[J];
      DScale[size_t(Off[J])] += Dy * XHat[J];
      DBias[size_t(Off[J])] += Dy;
    }
    MeanG /= double(D);
    MeanGX /= double(D);
    for (size_t J = 0; J < size_t(D); ++J)
      PDX[Base + J] = E(InvStd * (G[J] - MeanG - XHat[J] * MeanGX));
  }
  for (size_t K = 1; K < Out.size(); ++K) {
    const std::vector<double> &Src = K == 1 ? DScale : DBias;
    auto P = Out[K].data<E>();
    for (size_t I = 0; I < Src.size(); ++I)
      P[I] = E(Src[I]);
  }
}

Status kernelLayerNormGrad(const Node &N, std::span<const Tensor *const> In,
                           std::span<Tensor> Out) {
  std::optional<int64_t> Axis = normalizeAxis(N.attrs().getInt("axis", -1),
                                              int64_t(In[1]->shape().size()));
  if (!Axis)
    return opError("axis is out of range");
  double Eps = N.attrs().getFloat("epsilon", 1e-5f);
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    layerNormGradImpl<E>(*Axis, Eps, In, Out);
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// BatchNormGrad
//===----------------------------------------------------------------------===//

Expected<std::vector<TensorType>> inferBatchNormGrad(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 2, 3, 4}); !S)
    return S.takeError();
  if (Status S = checkOutputGrad(N); !S)
    return S.takeError();
  if (Status S = checkEpsilon(N); !S)
    return S.takeError();
  const Shape &X = N.inType(1).Dims;
  if (X.size() < 2)
    return opError(fmt::format("input X {} must have rank 2 or more "
                               "([N, C, D1, ...])",
                               shapeStr(X)));
  static constexpr const char *ParamNames[] = {"scale", "input_mean",
                                               "input_var"};
  for (size_t I = 2; I < 5; ++I)
    if (N.inType(I).Dims != Shape{X[1]})
      return opError(fmt::format("{} {} must have shape [{}], one value per "
                                 "channel of X {}",
                                 ParamNames[I - 2], shapeStr(N.inType(I).Dims),
                                 X[1], shapeStr(X)));
  std::vector<TensorType> Types = {N.inType(1)};
  for (size_t I = 1; I < N.numOutputs(); ++I)
    Types.push_back(N.inType(2));
  return Types;
}

template <class E>
void batchNormGradImpl(double Eps, std::span<const Tensor *const> In,
                       std::span<Tensor> Out) {
  const Shape &XS = In[1]->shape();
  int64_t Batch = XS[0], C = XS[1];
  int64_t Inner = productOf(XS, 2, XS.size());
  auto PDY = In[0]->data<E>();
  auto PX = In[1]->data<E>();
  auto Scale = In[2]->data<E>();
  auto Mean = In[3]->data<E>();
  auto Var = In[4]->data<E>();
  auto PDX = Out[0].data<E>();
  for (int64_t Ch = 0; Ch < C; ++Ch) {
    size_t CI = size_t(Ch);
    double R = 1.0 / std::sqrt(double(Var[CI]) + Eps);
    double A = double(Scale[CI]) * R;
    double M = double(Mean[CI]);
    double DScale = 0, DBias = 0;
    for (int64_t Nb = 0; Nb < Batch; ++Nb) {
      int64_t Base = (Nb * C + Ch) * Inner;
      for (int64_t I = 0; I < Inner; ++I) {
        size_t K = size_t(Base + I);
        double Dy = double(PDY[K]);
        PDX[K] = E(Dy * A);
        DScale += Dy * (double(PX[K]) - M) * R;
        DBias += Dy;
      }
    }
    if (Out.size() > 1)
      Out[1].data<E>()[CI] = E(DScale);
    if (Out.size() > 2)
      Out[2].data<E>()[CI] = E(DBias);
  }
}

Status kernelBatchNormGrad(const Node &N, std::span<const Tensor *const> In,
                           std::span<Tensor> Out) {
  double Eps = N.attrs().getFloat("epsilon", 1e-5f);
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    batchNormGradImpl<E>(Eps, In, Out);
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::layer_norm_grad<T>(LayerNormGradP, dY, X, Scale, dX
// [, dScale[, dBias]]) and batch_norm_grad<T>(BatchNormP, dY, X, scale,
// mean, var, dX[, dScale[, dBias]]) (norm.h).
//===----------------------------------------------------------------------===//

Status lowerLayerNormGrad(const Node &N, KernelCall &C) {
  if (Status S = requireKernelSizes(N); !S)
    return S;
  const Shape &X = N.inType(1).Dims;
  int64_t Axis =
      *normalizeAxis(N.attrs().getInt("axis", -1), int64_t(X.size()));
  C.Header = "mote_rt/norm.h";
  C.Kernel = "layer_norm_grad";
  C.TypeArgs = {N.inType(0).Elem};
  const Shape &ScaleDims = N.inType(2).Dims;
  LayerNormRows R = layerNormRows(X, Axis, ScaleDims, nullptr);
  C.setParams(kparams::LayerNormGradP{
      .Rows = R.Rows,
      .D = R.D,
      .Epsilon = N.attrs().getFloat("epsilon", 1e-5f),
      .Rank = int64_t(R.Dims.size()),
      .Dims = R.Dims,
      .ScaleStrides = R.ScaleStrides,
      .ScaleSize = productOf(ScaleDims, 0, ScaleDims.size())});
  return ok();
}

Status lowerBatchNormGrad(const Node &N, KernelCall &C) {
  if (Status S = requireKernelSizes(N); !S)
    return S;
  lowerBatchNormParams(N, N.inType(1).Dims, "batch_norm_grad", C);
  return ok();
}

constexpr AttrSpec LayerNormGradAttrs[] = {
    {"axis", AttrKind::Int},
    {"epsilon", AttrKind::Float},
};

constexpr AttrSpec BatchNormGradAttrs[] = {
    {"epsilon", AttrKind::Float},
};

} // namespace

extern const OpDef OpDef_LayerNormGrad = {
    .Name = "LayerNormGrad",
    .MinInputs = 3,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 3,
    .Attrs = LayerNormGradAttrs,
    .Infer = inferLayerNormGrad,
    .Kernel = kernelLayerNormGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "gradients of LayerNormalization's X, Scale and B from dY, X "
               "and Scale",
    .Lower = lowerLayerNormGrad,
};

extern const OpDef OpDef_BatchNormGrad = {
    .Name = "BatchNormGrad",
    .MinInputs = 5,
    .MaxInputs = 5,
    .MinOutputs = 1,
    .MaxOutputs = 3,
    .Attrs = BatchNormGradAttrs,
    .Infer = inferBatchNormGrad,
    .Kernel = kernelBatchNormGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "gradients of eval-mode BatchNormalization's X, scale and B "
               "from dY, X, scale, mean and var",
    .Lower = lowerBatchNormGrad,
};

} // namespace mote
