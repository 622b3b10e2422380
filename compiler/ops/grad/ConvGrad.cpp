//===- ConvGrad.cpp - Backward ops of Conv --------------------------------===//
//
// The gradients of Conv's input and weight (its bias gradient is a plain
// ReduceSum). Both carry Conv's attributes (auto_pad, dilations, group,
// kernel_shape, pads, strides) and the shape of the operand they replace,
// so they see the same window geometry as the forward op (convGeometry,
// NnUtils.h). With X [N, C, D1..Dk], W [M, C/G, K1..Kk], dY [N, M, O1..Ok],
// g = m / (M/G) and the tap position t(o, k) = o * s - pb + k * d:
//
//   ConvGradInput(dY, W){input_shape = X.shape}
//     dX[n, g C/G + c, t] = sum_{m in group g} sum_{o, k : t(o, k) = t}
//                           dY[n, m, o] W[m, c, k]
//
//   ConvGradWeight(X, dY){weight_shape = W.shape, out_channels = K}
//     dW[m, c, k] = sum_n sum_o X[n, g C/G + c, t(o, k)] dY[n, m, o]
//     for m < K only: the result is [K, C/G, K1..Kk]. Sparse-update training
//     trains the first K output channels of a layer (prune-backward sets
//     out_channels), and the kernel computes nothing else. Without
//     out_channels, K = M.
//
//   ConvGradWeightSgd(X, dY, W){weight_shape, out_channels = K, lr,
//                              norm_coefficient}
//     W'[m] = W[m] - lr (dW[m] + norm_coefficient W[m])   for m < K
//     W'[m] = W[m]                                          otherwise
//     ConvGradWeight and SgdUpdate in one op (the fuse pass makes it): TTE's
//     in-place SGD. The result overwrites W on a device and the weight
//     gradient is never stored whole: the kernel folds each finished sum
//     into the weight as it is made.
//
//   ConvGradWeightMomentum(X, dY, W, V[, T]){..., lr, alpha, beta, mode,
//                                            norm_coefficient} -> W', V'
//   ConvGradWeightAdam(X, dY, W, V, H, T){..., lr, alpha, beta, epsilon,
//                        norm_coefficient, norm_coefficient_post} -> W', V', H'
//     The same with MomentumUpdate / AdamUpdate (their attributes and
//     arithmetic, compiler/ops/train/Optimizer.cpp): the optimizer state
//     of the first K channels steps with the weight, the rest passes
//     through.
//
// ConvGradInput's W may be quantized (i8 or u8, per tensor or per output
// channel): the backward pass of a quantized model reads a frozen int8
// weight as it is, without a float copy of it (passes/Autodiff.cpp). The
// result is that of the dequantized weight.
//
// Taps in the padding read nothing and receive nothing. The interpreter
// kernels accumulate in double.
//
//===----------------------------------------------------------------------===//

#include "compiler/Quant.h"
#include "compiler/ops/nn/NnLower.h"
#include "compiler/ops/train/Optimizer.h"

namespace mote {
namespace {

/// Checks that dY (input \p I) has the shape Conv produces for \p G.
Status checkOutputGrad(const Node &N, size_t I, const ConvGeometry &G) {
  Shape Want = {G.Batch, G.M};
  Want.insert(Want.end(), G.Win.Out.begin(), G.Win.Out.end());
  if (N.inType(I).Dims != Want)
    return opError(fmt::format("the output gradient dY {} must have the "
                               "shape {} of the convolution's result",
                               shapeStr(N.inType(I).Dims), shapeStr(Want)));
  return ok();
}

/// Checks an ints attribute holding a shape; returns it.
Expected<Shape> shapeAttr(const Node &N, std::string_view Name) {
  Shape S = N.attrs().getInts(Name);
  if (!TensorType(DType::F32, S).isValid())
    return opError(fmt::format("{} {} must have non-negative dims and at most "
                               "{} bytes",
                               Name, shapeStr(S), MaxTensorBytes));
  return S;
}

//===----------------------------------------------------------------------===//
// ConvGradInput(dY, W)
//===----------------------------------------------------------------------===//

Expected<ConvGeometry> convGradInputGeometry(const Node &N) {
  const TensorType &W = N.inType(1);
  if (Status S = requireFloatOperands(N, W.isQuantized()
                                             ? std::initializer_list<size_t>{0}
                                             : std::initializer_list<size_t>{
                                                   0, 1});
      !S)
    return S.takeError();
  if (W.isQuantized() &&
      (N.inType(0).Elem != DType::F32 ||
       (W.Elem != DType::I8 && W.Elem != DType::U8) ||
       (W.Quant->perAxis() && W.Quant->Axis != 0)))
    return opError(fmt::format("a quantized weight must be i8 or u8, per "
                               "tensor or per output channel (axis 0), with "
                               "an f32 dY; got {} and dY {}",
                               W.str(), N.inType(0).str()));
  Expected<Shape> X = shapeAttr(N, "input_shape");
  if (!X)
    return X.takeError();
  Expected<ConvGeometry> G = convGeometry(
      N, *X, N.inType(1).Dims, {.XLong = "input_shape", .X = "input_shape"});
  if (!G)
    return G.takeError();
  if (Status S = checkOutputGrad(N, 0, *G); !S)
    return S.takeError();
  return G;
}

Expected<std::vector<TensorType>> inferConvGradInput(const Node &N) {
  Expected<ConvGeometry> G = convGradInputGeometry(N);
  if (!G)
    return G.takeError();
  return std::vector<TensorType>{
      TensorType(N.inType(0).Elem, N.attrs().getInts("input_shape"))};
}

template <class E>
void convGradInputImpl(const ConvGeometry &G, const Tensor &DY, const Tensor &W,
                       Tensor &DX) {
  auto PDY = DY.data<E>();
  auto PW = W.data<E>();
  std::vector<double> Acc(size_t(DX.numElements()), 0.0);
  forEachConvTerm(G, G.M, [&](int64_t YOff, int64_t XOff, int64_t WOff) {
    Acc[size_t(XOff)] += double(PDY[size_t(YOff)]) * double(PW[size_t(WOff)]);
  });
  auto PDX = DX.data<E>();
  for (size_t I = 0; I < Acc.size(); ++I)
    PDX[I] = E(Acc[I]);
}

Status kernelConvGradInput(const Node &N, std::span<const Tensor *const> In,
                           std::span<Tensor> Out) {
  Expected<ConvGeometry> G = convGradInputGeometry(N);
  if (!G)
    return G.takeError();
  if (In[1]->type().isQuantized()) {
    convGradInputImpl<float>(*G, *In[0], dequantizeTensor(*In[1]), Out[0]);
    return ok();
  }
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    convGradInputImpl<E>(*G, *In[0], *In[1], Out[0]);
    return ok();
  });
}

// MACs = those of the forward Conv: N * M * prod(out) * (C / group) *
// prod(kernel).
int64_t macsConvGradInput(const Node &N) {
  Expected<ConvGeometry> G = convGradInputGeometry(N);
  if (!G)
    return 0;
  size_t R = G->Win.rank();
  return G->Batch * G->M * productOf(G->Win.Out, 0, R) * G->cPerGroup() *
         productOf(G->Win.Kernel, 0, R);
}

//===----------------------------------------------------------------------===//
// ConvGradWeight(X, dY)
//===----------------------------------------------------------------------===//

/// Geometry of a ConvGradWeight node and the number of output channels it
/// computes.
struct WeightGradGeometry {
  ConvGeometry Conv;
  int64_t Channels = 0;
};

Expected<WeightGradGeometry> convGradWeightGeometry(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1}); !S)
    return S.takeError();
  Expected<Shape> W = shapeAttr(N, "weight_shape");
  if (!W)
    return W.takeError();
  Expected<ConvGeometry> G = convGeometry(
      N, N.inType(0).Dims, *W, {.WLong = "weight_shape", .W = "weight_shape"});
  if (!G)
    return G.takeError();
  if (Status S = checkOutputGrad(N, 1, *G); !S)
    return S.takeError();
  WeightGradGeometry R;
  R.Channels = N.attrs().getInt("out_channels", G->M);
  if (N.attrs().has("out_channels") && (R.Channels < 1 || R.Channels > G->M))
    return opError(fmt::format("out_channels {} must be in [1, {}], the "
                               "output channels of weight_shape {}",
                               R.Channels, G->M, shapeStr(*W)));
  R.Conv = std::move(*G);
  return R;
}

Expected<std::vector<TensorType>> inferConvGradWeight(const Node &N) {
  Expected<WeightGradGeometry> G = convGradWeightGeometry(N);
  if (!G)
    return G.takeError();
  Shape Dims = N.attrs().getInts("weight_shape");
  Dims[0] = G->Channels;
  return std::vector<TensorType>{TensorType(N.inType(1).Elem, Dims)};
}

template <class E>
void convGradWeightImpl(const WeightGradGeometry &WG, const Tensor &X,
                        const Tensor &DY, Tensor &DW) {
  auto PX = X.data<E>();
  auto PDY = DY.data<E>();
  std::vector<double> Acc(size_t(DW.numElements()), 0.0);
  forEachConvTerm(WG.Conv, WG.Channels,
                  [&](int64_t YOff, int64_t XOff, int64_t WOff) {
                    Acc[size_t(WOff)] +=
                        double(PDY[size_t(YOff)]) * double(PX[size_t(XOff)]);
                  });
  auto PDW = DW.data<E>();
  for (size_t I = 0; I < Acc.size(); ++I)
    PDW[I] = E(Acc[I]);
}

Status kernelConvGradWeight(const Node &N, std::span<const Tensor *const> In,
                            std::span<Tensor> Out) {
  Expected<WeightGradGeometry> G = convGradWeightGeometry(N);
  if (!G)
    return G.takeError();
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    convGradWeightImpl<E>(*G, *In[0], *In[1], Out[0]);
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// ConvGradWeightSgd(X, dY, W), ConvGradWeightMomentum(X, dY, W, V[, T]),
// ConvGradWeightAdam(X, dY, W, V, H, T)
//===----------------------------------------------------------------------===//

/// The update a fused weight-gradient op applies.
UpdateKind updateKind(const Node &N) {
  switch (N.op()) {
  case OpKind::ConvGradWeightMomentum:
    return UpdateKind::Momentum;
  case OpKind::ConvGradWeightAdam:
    return UpdateKind::Adam;
  default:
    return UpdateKind::Sgd;
  }
}

Expected<WeightGradGeometry> convGradWeightUpdateGeometry(const Node &N) {
  Expected<WeightGradGeometry> G = convGradWeightGeometry(N);
  if (!G)
    return G.takeError();
  const TensorType &W = N.inType(2);
  Shape Want = N.attrs().getInts("weight_shape");
  if (W.isQuantized()) {
    if (W.Dims != Want || (W.Elem != DType::I8 && W.Elem != DType::U8) ||
        (W.Quant->perAxis() && W.Quant->Axis != 0) ||
        N.inType(0).Elem != DType::F32 || updateKind(N) == UpdateKind::Adam)
      return opError(fmt::format("a quantized weight W {} must be i8 or u8 "
                                 "of weight_shape {}, per tensor or per "
                                 "output channel, with f32 X and dY and an "
                                 "SGD or momentum update",
                                 W.str(), shapeStr(Want)));
  } else if (W.Dims != Want || W.Elem != N.inType(0).Elem) {
    return opError(fmt::format("the weight W {} must be a {} tensor of "
                               "weight_shape {}",
                               W.str(), dtypeName(N.inType(0).Elem),
                               shapeStr(Want)));
  }
  if (Status S = checkUpdateOperands(N, updateKind(N), 2); !S)
    return S.takeError();
  return G;
}

Expected<std::vector<TensorType>> inferConvGradWeightUpdate(const Node &N) {
  if (Expected<WeightGradGeometry> G = convGradWeightUpdateGeometry(N); !G)
    return G.takeError();
  // W', then the state as it came in (f32 for a quantized weight).
  std::vector<TensorType> R = {N.inType(2)};
  for (size_t I = 0; I < numUpdateStates(updateKind(N)); ++I)
    R.push_back(N.inType(3 + I));
  return R;
}

// dW as ConvGradWeight computes it, then the update op's own arithmetic
// (compiler/ops/train/Optimizer.h) on the channels it covers, so the result
// equals the two unfused ops exactly.
Status kernelConvGradWeightUpdate(const Node &N,
                                  std::span<const Tensor *const> In,
                                  std::span<Tensor> Out) {
  Expected<WeightGradGeometry> G = convGradWeightUpdateGeometry(N);
  if (!G)
    return G.takeError();
  Shape DWDims = N.attrs().getInts("weight_shape");
  DWDims[0] = G->Channels;
  Tensor DW(TensorType(N.inType(0).Elem, DWDims));
  Status S = dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    convGradWeightImpl<E>(*G, *In[0], *In[1], DW);
    return ok();
  });
  if (!S)
    return S;
  // The update op's operands: W, dW, the state, the step count.
  std::vector<const Tensor *> UpdateIn = {In[2], &DW};
  UpdateIn.insert(UpdateIn.end(), In.begin() + 3, In.end());
  AttrMap A = N.attrs();
  if (G->Channels != G->Conv.M) {
    A.set("axis", int64_t(0));
    A.set("channels", G->Channels);
  }
  return applyUpdate(updateKind(N), A, UpdateIn, Out);
}

// MACs = those of the forward Conv restricted to the computed channels:
// N * out_channels * prod(out) * (C / group) * prod(kernel).
int64_t macsConvGradWeight(const Node &N) {
  Expected<WeightGradGeometry> G = convGradWeightGeometry(N);
  if (!G)
    return 0;
  const ConvGeometry &C = G->Conv;
  size_t R = C.Win.rank();
  return C.Batch * G->Channels * productOf(C.Win.Out, 0, R) * C.cPerGroup() *
         productOf(C.Win.Kernel, 0, R);
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::conv_grad_input<T>(ConvP, dY, W, dX) and
// conv_grad_weight<T>(ConvP, X, dY, dW) (conv.h), ConvP.Channels being the
// output channels computed.
//===----------------------------------------------------------------------===//

Status lowerConvGradInput(const Node &N, KernelCall &C) {
  Expected<ConvGeometry> G = convGradInputGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/conv_grad.h";
  const TensorType &W = N.inType(1);
  if (!W.isQuantized()) {
    C.Kernel = "conv_grad_input";
    C.TypeArgs = {N.inType(0).Elem};
    return lowerConvParams(*G, G->M, C);
  }
  // conv_grad_input_q<T, TW>(QConvGradInputP{conv, scale[m], zero point[m]},
  // dY, W, dX).
  Expected<kparams::ConvP> P = convParams(*G, G->M);
  if (!P)
    return P.takeError();
  std::vector<float> Scale;
  std::vector<int32_t> Zero;
  for (int64_t M = 0; M < G->M; ++M) {
    size_t I = W.Quant->perAxis() ? size_t(M) : 0;
    Scale.push_back(W.Quant->Scale[I]);
    Zero.push_back(W.Quant->ZeroPoint[I]);
  }
  C.Kernel = "conv_grad_input_q";
  C.TypeArgs = {N.inType(0).Elem, W.Elem};
  C.setParams(kparams::QConvGradInputP{
      .Conv = std::move(*P), .Scale = Scale, .ZeroPoint = Zero});
  return ok();
}

Status lowerConvGradWeight(const Node &N, KernelCall &C) {
  Expected<WeightGradGeometry> G = convGradWeightGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/conv_grad.h";
  C.Kernel = "conv_grad_weight";
  C.TypeArgs = {N.inType(0).Elem};
  return lowerConvParams(G->Conv, G->Channels, C);
}

/// conv_grad_weight_sgd / _momentum / _adam<T>(ConvP, X, dY, W, state...,
/// step, W', state'...), the update's attributes in ConvP's epilogue; a
/// quantized W: conv_grad_weight_qsgd / _qmomentum<T, TW>(QConvGradWeightP
/// {ConvP, the update's QStepP}, ...).
Status lowerConvGradWeightUpdate(const Node &N, KernelCall &C) {
  Expected<WeightGradGeometry> G = convGradWeightUpdateGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  static constexpr const char *Kernels[] = {"conv_grad_weight_sgd",
                                             "conv_grad_weight_momentum",
                                             "conv_grad_weight_adam"};
  static constexpr const char *QKernels[] = {"conv_grad_weight_qsgd",
                                              "conv_grad_weight_qmomentum"};
  UpdateKind K = updateKind(N);
  C.Header = "mote_rt/conv_grad.h";
  ConvEpilogue E{.Update = &N.attrs(), .Kind = K};
  const TensorType &W = N.inType(2);
  if (!W.isQuantized()) {
    C.Kernel = Kernels[size_t(K)];
    C.TypeArgs = {N.inType(0).Elem};
    return lowerConvParams(G->Conv, G->Channels, C, E);
  }
  Expected<kparams::ConvP> P = convParams(G->Conv, G->Channels, E);
  if (!P)
    return P.takeError();
  C.Kernel = QKernels[size_t(K)];
  C.TypeArgs = {N.inType(0).Elem, W.Elem};
  C.setParams(kparams::QConvGradWeightP{
      .Conv = std::move(*P), .Q = qstepParams(W, N.attrs())});
  return ok();
}

constexpr AttrSpec ConvGradInputAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"dilations", AttrKind::Ints},
    {"group", AttrKind::Int},
    {"input_shape", AttrKind::Ints, /*Required=*/true},
    {"kernel_shape", AttrKind::Ints},
    {"pads", AttrKind::Ints},
    {"strides", AttrKind::Ints},
};

constexpr AttrSpec ConvGradWeightAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"dilations", AttrKind::Ints},
    {"group", AttrKind::Int},
    {"kernel_shape", AttrKind::Ints},
    {"out_channels", AttrKind::Int},
    {"pads", AttrKind::Ints},
    {"strides", AttrKind::Ints},
    {"weight_shape", AttrKind::Ints, /*Required=*/true},
};

#define MOTE_CONV_ATTRS                                                        \
  {"auto_pad", AttrKind::String}, {"dilations", AttrKind::Ints},              \
      {"group", AttrKind::Int}, {"kernel_shape", AttrKind::Ints},             \
      {"out_channels", AttrKind::Int}, {"pads", AttrKind::Ints},              \
      {"strides", AttrKind::Ints},                                            \
      {"weight_shape", AttrKind::Ints, /*Required=*/true},                    \
      {"lr", AttrKind::Float, /*Required=*/true},                             \
      {"norm_coefficient", AttrKind::Float}, {"scaling", AttrKind::String}

constexpr AttrSpec ConvGradWeightSgdAttrs[] = {MOTE_CONV_ATTRS};
constexpr AttrSpec ConvGradWeightMomentumAttrs[] = {
    MOTE_CONV_ATTRS,
    {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},
    {"mode", AttrKind::String},
};
constexpr AttrSpec ConvGradWeightAdamAttrs[] = {
    MOTE_CONV_ATTRS,
    {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},
    {"epsilon", AttrKind::Float},
    {"norm_coefficient_post", AttrKind::Float},
};
#undef MOTE_CONV_ATTRS

} // namespace

extern const OpDef OpDef_ConvGradInput = {
    .Name = "ConvGradInput",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ConvGradInputAttrs,
    .Infer = inferConvGradInput,
    .Kernel = kernelConvGradInput,
    .Macs = macsConvGradInput,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "gradient of Conv's input X from dY and W (a transposed "
               "convolution), with Conv's attributes and input_shape; W may "
               "be quantized",
    .Lower = lowerConvGradInput,
};

extern const OpDef OpDef_ConvGradWeight = {
    .Name = "ConvGradWeight",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ConvGradWeightAttrs,
    .Infer = inferConvGradWeight,
    .Kernel = kernelConvGradWeight,
    .Macs = macsConvGradWeight,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "gradient of Conv's weight from X and dY, for the first "
               "out_channels output channels",
    .Lower = lowerConvGradWeight,
};

extern const OpDef OpDef_ConvGradWeightSgd = {
    .Name = "ConvGradWeightSgd",
    .MinInputs = 3,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ConvGradWeightSgdAttrs,
    .Infer = inferConvGradWeightUpdate,
    .Kernel = kernelConvGradWeightUpdate,
    .Macs = macsConvGradWeight,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "Conv's weight W after one SGD step on its gradient from X and "
               "dY (ConvGradWeight + SgdUpdate fused; the first out_channels "
               "channels train; W may be int8, stepped as SgdUpdate does)",
    .Lower = lowerConvGradWeightUpdate,
};

extern const OpDef OpDef_ConvGradWeightMomentum = {
    .Name = "ConvGradWeightMomentum",
    .MinInputs = 4,
    .MaxInputs = 5,
    .MinOutputs = 2,
    .MaxOutputs = 2,
    .Attrs = ConvGradWeightMomentumAttrs,
    .Infer = inferConvGradWeightUpdate,
    .Kernel = kernelConvGradWeightUpdate,
    .Macs = macsConvGradWeight,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "Conv's weight W and momentum V after one momentum step on "
               "the weight's gradient from X and dY (ConvGradWeight + "
               "MomentumUpdate fused; the first out_channels channels train; "
               "W may be int8, stepped as MomentumUpdate does)",
    .Lower = lowerConvGradWeightUpdate,
};

extern const OpDef OpDef_ConvGradWeightAdam = {
    .Name = "ConvGradWeightAdam",
    .MinInputs = 6,
    .MaxInputs = 6,
    .MinOutputs = 3,
    .MaxOutputs = 3,
    .Attrs = ConvGradWeightAdamAttrs,
    .Infer = inferConvGradWeightUpdate,
    .Kernel = kernelConvGradWeightUpdate,
    .Macs = macsConvGradWeight,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "Conv's weight W and Adam moments V, H after one Adam step on "
               "the weight's gradient from X and dY (ConvGradWeight + "
               "AdamUpdate fused; the first out_channels channels train)",
    .Lower = lowerConvGradWeightUpdate,
};

} // namespace mote
