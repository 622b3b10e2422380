//===- Norm.cpp - Batch and layer normalization ---------------------------===//
//
// BatchNormalization in inference mode: the per-channel statistics are
// inputs (running mean and variance), so it is an affine map per channel c
// (dim 1 of X [N, C, D...]):
//
//   Y = scale[c] * (X - mean[c]) / sqrt(var[c] + epsilon) + B[c]
//
// Training-mode BatchNormalization (batch statistics, running-stat outputs)
// is refused: models are exported in eval mode and mote's training graph
// builds its own statistics. The schema admits the up to 5 results of
// training-mode nodes only so that such a node gets that message rather
// than an arity error.
//
// LayerNormalization (opset 17) normalises over the dims from `axis` on.
// With D = prod(X.shape[axis:]) and each row x of D elements:
//
//   mean = sum(x) / D,   var = sum((x - mean)^2) / D
//   InvStdDev = 1 / sqrt(var + epsilon)
//   Y = (x - mean) * InvStdDev * Scale + B
//
// Scale and B broadcast to X.shape[axis:]. Mean and InvStdDev are f32
// (stash_type 1) with the shape of X and dims from axis on set to 1.
// Statistics are computed in double.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
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

//===----------------------------------------------------------------------===//
// BatchNormalization
//===----------------------------------------------------------------------===//

Expected<std::vector<TensorType>> inferBatchNorm(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 2, 3, 4}); !S)
    return S.takeError();
  int64_t Training = N.attrs().getInt("training_mode", 0);
  if (Training == 1 || N.numOutputs() > 1)
    return opError("training-mode BatchNormalization is not supported; "
                   "export the model in eval mode");
  if (Training != 0)
    return opError(
        fmt::format("training_mode must be 0 or 1, got {}", Training));
  if (Status S = checkEpsilon(N); !S)
    return S.takeError();
  const Shape &X = N.inType(0).Dims;
  if (X.size() < 2)
    return opError(fmt::format("input X {} must have rank 2 or more "
                               "([N, C, D1, ...])",
                               shapeStr(X)));
  static constexpr const char *ParamNames[] = {"scale", "B", "input_mean",
                                               "input_var"};
  for (size_t I = 1; I < 5; ++I)
    if (N.inType(I).Dims != Shape{X[1]})
      return opError(fmt::format("{} {} must have shape [{}], one value per "
                                 "channel of X {}",
                                 ParamNames[I - 1], shapeStr(N.inType(I).Dims),
                                 X[1], shapeStr(X)));
  return std::vector<TensorType>{N.inType(0)};
}

template <class E>
void batchNormImpl(double Eps, std::span<const Tensor *const> In, Tensor &Y) {
  const Shape &XS = In[0]->shape();
  int64_t Batch = XS[0], C = XS[1];
  int64_t Inner = productOf(XS, 2, XS.size());
  auto PX = In[0]->data<E>();
  auto Scale = In[1]->data<E>();
  auto Bias = In[2]->data<E>();
  auto Mean = In[3]->data<E>();
  auto Var = In[4]->data<E>();
  auto PY = Y.data<E>();
  for (int64_t Ch = 0; Ch < C; ++Ch) {
    size_t CI = size_t(Ch);
    // Y = A * X + Shift with A = scale / sqrt(var + eps).
    double A = double(Scale[CI]) / std::sqrt(double(Var[CI]) + Eps);
    double Shift = double(Bias[CI]) - A * double(Mean[CI]);
    for (int64_t Nb = 0; Nb < Batch; ++Nb) {
      int64_t Base = (Nb * C + Ch) * Inner;
      for (int64_t I = 0; I < Inner; ++I)
        PY[size_t(Base + I)] = E(A * double(PX[size_t(Base + I)]) + Shift);
    }
  }
}

Status kernelBatchNorm(const Node &N, std::span<const Tensor *const> In,
                       std::span<Tensor> Out) {
  double Eps = N.attrs().getFloat("epsilon", 1e-5f);
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    batchNormImpl<E>(Eps, In, Out[0]);
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// LayerNormalization
//===----------------------------------------------------------------------===//

Expected<std::vector<TensorType>> inferLayerNorm(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 2}); !S)
    return S.takeError();
  if (Status S = checkEpsilon(N); !S)
    return S.takeError();
  int64_t Stash = N.attrs().getInt("stash_type", 1);
  if (Stash != 1)
    return opError(fmt::format("stash_type {} is not supported; only 1 (f32 "
                               "statistics) is",
                               Stash));
  const Shape &X = N.inType(0).Dims;
  int64_t AxisAttr = N.attrs().getInt("axis", -1);
  std::optional<int64_t> Axis = normalizeAxis(AxisAttr, int64_t(X.size()));
  if (!Axis)
    return opError(fmt::format("axis {} is out of range for X {} of rank {}",
                               AxisAttr, shapeStr(X), X.size()));
  Shape Norm(X.begin() + *Axis, X.end());
  for (size_t I : {size_t(1), size_t(2)}) {
    const Value *P = N.input(I);
    if (!P)
      continue;
    const Shape &PS = P->type().Dims;
    if (PS.size() > Norm.size() || broadcastShapes(PS, Norm) != Norm)
      return opError(fmt::format("{} {} cannot be broadcast to the normalized "
                                 "dims {} of X {}",
                                 I == 1 ? "Scale" : "B", shapeStr(PS),
                                 shapeStr(Norm), shapeStr(X)));
  }
  std::vector<TensorType> Types = {N.inType(0)};
  Shape StatDims = X;
  std::fill(StatDims.begin() + *Axis, StatDims.end(), 1);
  for (size_t I = 1; I < N.numOutputs(); ++I)
    Types.emplace_back(DType::F32, StatDims);
  return Types;
}

template <class E>
void layerNormImpl(int64_t Axis, double Eps, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  const Shape &XS = In[0]->shape();
  Shape Norm(XS.begin() + Axis, XS.end());
  int64_t Rows = productOf(XS, 0, size_t(Axis));
  int64_t D = productOf(Norm, 0, Norm.size());
  auto PX = In[0]->data<E>();
  auto PY = Out[0].data<E>();
  // Offsets of Scale and B for each position of a row (broadcast).
  auto Offsets = [&](const Tensor &P) {
    std::vector<int64_t> S = broadcastStrides(P.shape(), Norm);
    std::vector<int64_t> Off(static_cast<size_t>(D));
    for (int64_t J = 0; J < D; ++J)
      Off[size_t(J)] = offsetFor(J, Norm, S);
    return Off;
  };
  const Tensor *Bias = In.size() > 2 ? In[2] : nullptr;
  std::vector<int64_t> ScaleOff = Offsets(*In[1]);
  std::vector<int64_t> BiasOff = Bias ? Offsets(*Bias) : std::vector<int64_t>();
  auto Scale = In[1]->data<E>();
  for (int64_t R = 0; R < Rows; ++R) {
    int64_t Base = R * D;
    double Sum = 0;
    for (int64_t J = 0; J < D; ++J)
      Sum += double(PX[size_t(Base + J)]);
    double Mean = D > 0 ? Sum / double(D) : 0.0;
    double SqSum = 0;
    for (int64_t J = 0; J < D; ++J) {
      double Diff = double(PX[size_t(Base + J)]) - Mean;
      SqSum += Diff * Diff;
    }
    double Var = D > 0 ? SqSum / double(D) : 0.0;
    double InvStd = 1.0 / std::sqrt(Var + Eps);
    for (int64_t J = 0; J < D; ++J) {
      size_t JI = size_t(J);
      double V = (double(PX[size_t(Base + J)]) - Mean) * InvStd *
                 double(Scale[size_t(ScaleOff[JI])]);
      if (Bias)
        V += double(Bias->data<E>()[size_t(BiasOff[JI])]);
      PY[size_t(Base + J)] = E(V);
    }
    if (Out.size() > 1)
      Out[1].data<float>()[size_t(R)] = float(Mean);
    if (Out.size() > 2)
      Out[2].data<float>()[size_t(R)] = float(InvStd);
  }
}

Status kernelLayerNorm(const Node &N, std::span<const Tensor *const> In,
                       std::span<Tensor> Out) {
  std::optional<int64_t> Axis = normalizeAxis(N.attrs().getInt("axis", -1),
                                              int64_t(In[0]->shape().size()));
  if (!Axis)
    return opError("axis is out of range");
  double Eps = N.attrs().getFloat("epsilon", 1e-5f);
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    layerNormImpl<E>(*Axis, Eps, In, Out);
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// Gradient rules
//===----------------------------------------------------------------------===//

/// Number of leading results of a backward op needed to cover inputs 0..2 of
/// \p Ctx's node that need a gradient (0 if none does).
size_t resultsNeeded(const GradContext &Ctx) {
  size_t R = 0;
  for (size_t I = 0; I < 3; ++I)
    if (Ctx.needsGrad(I))
      R = I + 1;
  return R;
}

// Gradient rule: y = (x - mean) r scale + B per channel with
// r = 1 / sqrt(var + epsilon), so (grad/NormGrad.cpp)
//   dX = dY scale r,   dscale = sum dY (x - mean) r,   dB = sum dY
// over every dim but the channel dim 1. The running mean and variance are
// statistics, not trained: they get no gradient.
Status gradBatchNorm(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  size_t Results = resultsNeeded(Ctx);
  if (!DY || Results == 0)
    return ok();
  AttrMap A;
  if (N.attrs().has("epsilon"))
    A.set("epsilon", N.attrs().getFloat("epsilon", 1e-5f));
  Expected<std::vector<Value *>> G =
      Ctx.emit(OpKind::BatchNormGrad,
               {DY, N.input(0), N.input(1), N.input(3), N.input(4)},
               std::move(A), Results);
  if (!G)
    return G.takeError();
  for (size_t I = 0; I < Results; ++I)
    if (Ctx.needsGrad(I))
      if (Status S = Ctx.addInputGrad(I, (*G)[I]); !S)
        return S;
  return ok();
}

// Gradient rule: y = xhat Scale + B with xhat the normalized row, so
// (grad/NormGrad.cpp, r = 1 / sqrt(var + epsilon), g = dY Scale)
//   dX = r (g - mean(g) - xhat mean(g xhat))
//   dScale = sumToShape(dY xhat),   dB = sumToShape(dY)
// LayerNormGrad returns the last two with Scale's shape; a B of another
// shape gets sumToShape(dY, B.shape). Only result 0 carries a gradient: the
// saved Mean and InvStdDev are not differentiated.
Status gradLayerNorm(GradContext &Ctx, const Node &N) {
  for (size_t I = 1; I < N.numOutputs(); ++I)
    if (Ctx.outputGrad(I))
      return opError(fmt::format("no gradient rule for result {} ({}) of "
                                 "LayerNormalization; only Y can be "
                                 "differentiated",
                                 I, I == 1 ? "Mean" : "InvStdDev"));
  Value *DY = Ctx.outputGrad(0);
  size_t Results = resultsNeeded(Ctx);
  if (!DY || Results == 0)
    return ok();
  bool BiasFromOp = Ctx.needsGrad(2) && N.inType(2).Dims == N.inType(1).Dims;
  if (Ctx.needsGrad(2) && !BiasFromOp) {
    Expected<Value *> DB = Ctx.sumToShape(DY, N.inType(2).Dims);
    if (!DB)
      return DB.takeError();
    if (Status S = Ctx.addInputGrad(2, *DB); !S)
      return S;
    Results = Ctx.needsGrad(1) ? 2 : Ctx.needsGrad(0) ? 1 : 0;
    if (Results == 0)
      return ok();
  }
  AttrMap A;
  A.set("axis", N.attrs().getInt("axis", -1));
  if (N.attrs().has("epsilon"))
    A.set("epsilon", N.attrs().getFloat("epsilon", 1e-5f));
  Expected<std::vector<Value *>> G =
      Ctx.emit(OpKind::LayerNormGrad, {DY, N.input(0), N.input(1)},
               std::move(A), Results);
  if (!G)
    return G.takeError();
  for (size_t I = 0; I < Results; ++I)
    if (Ctx.needsGrad(I))
      if (Status S = Ctx.addInputGrad(I, (*G)[I]); !S)
        return S;
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::batch_norm<T>(BatchNormP, X, scale, B, mean, var, Y)
// and layer_norm<T>(LayerNormP, X, Scale, B, Y[, Mean[, InvStdDev]])
// (norm.h).
//===----------------------------------------------------------------------===//

Status lowerBatchNorm(const Node &N, KernelCall &C) {
  if (Status S = requireKernelSizes(N); !S)
    return S;
  lowerBatchNormParams(N, N.inType(0).Dims, "batch_norm", C);
  return ok();
}

Status lowerLayerNorm(const Node &N, KernelCall &C) {
  if (Status S = requireKernelSizes(N); !S)
    return S;
  const Shape &X = N.inType(0).Dims;
  int64_t Axis =
      *normalizeAxis(N.attrs().getInt("axis", -1), int64_t(X.size()));
  C.Header = "mote_rt/norm.h";
  C.Kernel = "layer_norm";
  C.TypeArgs = {N.inType(0).Elem};
  const Value *B = N.input(2);
  LayerNormRows R =
      layerNormRows(X, Axis, N.inType(1).Dims, B ? &B->type().Dims : nullptr);
  C.setParams(kparams::LayerNormP{
      .Rows = R.Rows,
      .D = R.D,
      .Epsilon = N.attrs().getFloat("epsilon", 1e-5f),
      .Rank = int64_t(R.Dims.size()),
      .Dims = R.Dims,
      .ScaleStrides = R.ScaleStrides,
      .BiasStrides = R.BiasStrides});
  return ok();
}

constexpr AttrSpec BatchNormAttrs[] = {
    {"epsilon", AttrKind::Float},
    {"momentum", AttrKind::Float},
    {"training_mode", AttrKind::Int},
};

constexpr AttrSpec LayerNormAttrs[] = {
    {"axis", AttrKind::Int},
    {"epsilon", AttrKind::Float},
    {"stash_type", AttrKind::Int},
};

} // namespace

extern const OpDef OpDef_BatchNormalization = {
    .Name = "BatchNormalization",
    .MinInputs = 5,
    .MaxInputs = 5,
    .MinOutputs = 1,
    .MaxOutputs = 5, // > 1 only to refuse training mode (see above)
    .Attrs = BatchNormAttrs,
    .Infer = inferBatchNorm,
    .Kernel = kernelBatchNorm,
    .Macs = nullptr,
    .Grad = gradBatchNorm,
    .Flags = OpFlagNone,
    .Summary = "inference-mode batch norm: scale * (X - mean) / sqrt(var + "
               "epsilon) + B per channel",
    .Lower = lowerBatchNorm,
};

extern const OpDef OpDef_LayerNormalization = {
    .Name = "LayerNormalization",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 3,
    .Attrs = LayerNormAttrs,
    .Infer = inferLayerNorm,
    .Kernel = kernelLayerNorm,
    .Macs = nullptr,
    .Grad = gradLayerNorm,
    .Flags = OpFlagNone,
    .Summary = "(X - mean) / sqrt(var + epsilon) * Scale + B over the dims "
               "from axis on",
    .Lower = lowerLayerNorm,
};

} // namespace mote
