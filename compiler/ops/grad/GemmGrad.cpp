//===- GemmGrad.cpp - Gemm weight gradients fused with their update -------===//
//
// The fuse pass turns a weight gradient computed by a Gemm, and the update
// of that weight, into one op that never stores the gradient (the Gemm
// counterpart of ConvGradWeightSgd / Momentum / Adam, ConvGrad.cpp). With
// A' = A^T if transA else A ([M, K]), B' likewise ([K, N]):
//
//   G = scale A' B'                           (the weight gradient, [M, N])
//   GemmGradWeightSgd(A, B, W){transA, transB, scale, lr, norm_coefficient}
//     -> W'
//   GemmGradWeightMomentum(A, B, W, V[, T]){..., alpha, beta, mode} -> W', V'
//   GemmGradWeightAdam(A, B, W, V, H, T){..., alpha, beta, epsilon,
//                                        norm_coefficient_post} -> W', V', H'
//
// each applying SgdUpdate / MomentumUpdate / AdamUpdate (their attributes
// and arithmetic, compiler/ops/train/Optimizer.cpp) to W [R, N] with
// gradient G. M may be less than R: then only the first M rows train (a
// partial-channel update along axis 0) and the rest, with their optimizer
// state, pass through. The interpreter computes G in double.
//
// W may be quantized (int8 or uint8, per tensor or per row) for SGD and
// momentum: G is f32 and W moves by whole integer steps, as the update ops
// move it (`scaling`; the momentum is f32).
//
// Lowering: mote_rt::gemm_grad_weight_sgd / _momentum / _adam<T>, and
// gemm_grad_weight_qsgd / _qmomentum<T, TW> for a quantized W
// (runtime-stub/mote_rt/gemm.h), which apply the update to each element of
// G as it is finished, in place on a device.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnLower.h"
#include "compiler/ops/train/Optimizer.h"

namespace mote {
namespace {

UpdateKind updateKind(const Node &N) {
  switch (N.op()) {
  case OpKind::GemmGradWeightMomentum:
    return UpdateKind::Momentum;
  case OpKind::GemmGradWeightAdam:
    return UpdateKind::Adam;
  default:
    return UpdateKind::Sgd;
  }
}

Expected<GemmGeometry> gemmGradGeometry(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1}); !S)
    return S.takeError();
  Expected<GemmGeometry> G = gemmGeometry(N);
  if (!G)
    return G.takeError();
  const TensorType &W = N.inType(2);
  if (W.isQuantized()) {
    if ((W.Elem != DType::I8 && W.Elem != DType::U8) ||
        (W.Quant->perAxis() && W.Quant->Axis != 0) ||
        N.inType(0).Elem != DType::F32)
      return opError(fmt::format("a quantized weight must be int8 or uint8, "
                                 "per tensor or per row (axis 0), with f32 "
                                 "operands; got {} and {}",
                                 W.str(), N.inType(0).str()));
    if (updateKind(N) == UpdateKind::Adam)
      return opError(fmt::format("Adam does not update the quantized weight "
                                 "{}; use SGD or momentum",
                                 W.str()));
  }
  const DType WElem = W.isQuantized() ? DType::F32 : W.Elem;
  if (WElem != N.inType(0).Elem || W.rank() != 2 || W.Dims[1] != G->N ||
      W.Dims[0] < G->M || G->M < 1)
    return opError(fmt::format("the weight W {} must be a {} matrix [R, {}] "
                               "with R >= M = {} (the gradient is [{}, {}])",
                               W.str(), dtypeName(N.inType(0).Elem), G->N,
                               G->M, G->M, G->N));
  if (Status S = checkUpdateOperands(N, updateKind(N), 2); !S)
    return S.takeError();
  return G;
}

Expected<std::vector<TensorType>> inferGemmGrad(const Node &N) {
  if (Expected<GemmGeometry> G = gemmGradGeometry(N); !G)
    return G.takeError();
  // The new weight, then the state (f32 for a quantized weight).
  const TensorType &W = N.inType(2);
  std::vector<TensorType> R(1 + numUpdateStates(updateKind(N)),
                            W.isQuantized() ? TensorType(DType::F32, W.Dims)
                                            : W);
  R[0] = W;
  return R;
}

template <class E>
void gradImpl(const GemmGeometry &G, double Scale, const Tensor &A,
              const Tensor &B, Tensor &Out) {
  auto PA = A.data<E>();
  auto PB = B.data<E>();
  auto PG = Out.data<E>();
  for (int64_t I = 0; I < G.M; ++I)
    for (int64_t J = 0; J < G.N; ++J) {
      double Acc = 0;
      for (int64_t K = 0; K < G.K; ++K)
        Acc += double(PA[size_t(G.TransA ? K * G.M + I : I * G.K + K)]) *
               double(PB[size_t(G.TransB ? J * G.K + K : K * G.N + J)]);
      PG[size_t(I * G.N + J)] = E(Scale * Acc);
    }
}

// G as the Gemm computes it, then the update op's own arithmetic, so the
// result equals the two unfused ops exactly.
Status kernelGemmGrad(const Node &N, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  Expected<GemmGeometry> G = gemmGradGeometry(N);
  if (!G)
    return G.takeError();
  Tensor Grad(TensorType(N.inType(0).Elem, Shape{G->M, G->N}));
  double Scale = N.attrs().getFloat("scale", 1.0f);
  Status S = dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    gradImpl<decltype(Tag)>(*G, Scale, *In[0], *In[1], Grad);
    return ok();
  });
  if (!S)
    return S;
  std::vector<const Tensor *> UpdateIn = {In[2], &Grad};
  UpdateIn.insert(UpdateIn.end(), In.begin() + 3, In.end());
  AttrMap A = N.attrs();
  if (G->M != N.inType(2).Dims[0]) {
    A.set("axis", int64_t(0));
    A.set("channels", G->M);
  }
  return applyUpdate(updateKind(N), A, UpdateIn, Out);
}

int64_t macsGemmGrad(const Node &N) {
  Expected<GemmGeometry> G = gemmGradGeometry(N);
  return G ? G->M * G->N * G->K : 0;
}

/// gemm_grad_weight_sgd / _momentum / _adam<T>(GemmUpdateP, A, B, W,
/// state..., step, W', state'...).
Status lowerGemmGrad(const Node &N, KernelCall &C) {
  Expected<GemmGeometry> G = gemmGradGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  const AttrMap &A = N.attrs();
  const TensorType &W = N.inType(2);
  C.Header = "mote_rt/gemm.h";
  C.TypeArgs = {N.inType(0).Elem};
  static constexpr const char *Kernels[] = {"gemm_grad_weight_sgd",
                                             "gemm_grad_weight_momentum",
                                             "gemm_grad_weight_adam"};
  static constexpr const char *QKernels[] = {"gemm_grad_weight_qsgd",
                                              "gemm_grad_weight_qmomentum"};
  UpdateKind K = updateKind(N);
  C.Kernel = W.isQuantized() ? QKernels[size_t(K)] : Kernels[size_t(K)];
  if (W.isQuantized())
    C.TypeArgs.push_back(W.Elem);
  // A'(i, k) = A[i * AStrideM + k * AStrideK], B'(k, j) = B[k * BStrideK +
  // j * BStrideN].
  kparams::GemmUpdateP P{.M = G->M,
                         .N = G->N,
                         .K = G->K,
                         .AStrideM = G->TransA ? 1 : G->K,
                         .AStrideK = G->TransA ? G->M : 1,
                         .BStrideK = G->TransB ? 1 : G->N,
                         .BStrideN = G->TransB ? G->K : 1,
                         .Rows = W.Dims[0],
                         .Scale = A.getFloat("scale", 1.0f),
                         .Update = updateStepParams(K, A)};
  if (W.isQuantized())
    C.setParams(kparams::QGemmUpdateP{.Gemm = P, .Q = qstepParams(W, A)});
  else
    C.setParams(P);
  return ok();
}

#define MOTE_GEMM_GRAD_ATTRS                                                   \
  {"transA", AttrKind::Int}, {"transB", AttrKind::Int},                        \
      {"scale", AttrKind::Float}, {"lr", AttrKind::Float, /*Required=*/true},  \
      {"norm_coefficient", AttrKind::Float}, {"scaling", AttrKind::String}

constexpr AttrSpec SgdAttrs[] = {MOTE_GEMM_GRAD_ATTRS};
constexpr AttrSpec MomentumAttrs[] = {
    MOTE_GEMM_GRAD_ATTRS,
    {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},
    {"mode", AttrKind::String},
};
constexpr AttrSpec AdamAttrs[] = {
    MOTE_GEMM_GRAD_ATTRS,
    {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},
    {"epsilon", AttrKind::Float},
    {"norm_coefficient_post", AttrKind::Float},
};
#undef MOTE_GEMM_GRAD_ATTRS

} // namespace

extern const OpDef OpDef_GemmGradWeightSgd = {
    .Name = "GemmGradWeightSgd",
    .MinInputs = 3,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SgdAttrs,
    .Infer = inferGemmGrad,
    .Kernel = kernelGemmGrad,
    .Macs = macsGemmGrad,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "weight W [R, N] after one SGD step on its gradient scale A' "
               "B' [M, N] (a Gemm weight gradient + SgdUpdate fused; the "
               "first M rows train)",
    .Lower = lowerGemmGrad,
};

extern const OpDef OpDef_GemmGradWeightMomentum = {
    .Name = "GemmGradWeightMomentum",
    .MinInputs = 4,
    .MaxInputs = 5,
    .MinOutputs = 2,
    .MaxOutputs = 2,
    .Attrs = MomentumAttrs,
    .Infer = inferGemmGrad,
    .Kernel = kernelGemmGrad,
    .Macs = macsGemmGrad,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "weight W and momentum V after one momentum step on the "
               "gradient scale A' B' (a Gemm weight gradient + "
               "MomentumUpdate fused; the first M rows train)",
    .Lower = lowerGemmGrad,
};

extern const OpDef OpDef_GemmGradWeightAdam = {
    .Name = "GemmGradWeightAdam",
    .MinInputs = 6,
    .MaxInputs = 6,
    .MinOutputs = 3,
    .MaxOutputs = 3,
    .Attrs = AdamAttrs,
    .Infer = inferGemmGrad,
    .Kernel = kernelGemmGrad,
    .Macs = macsGemmGrad,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "weight W and Adam moments V, H after one Adam step on the "
               "gradient scale A' B' (a Gemm weight gradient + AdamUpdate "
               "fused; the first M rows train)",
    .Lower = lowerGemmGrad,
};

} // namespace mote
