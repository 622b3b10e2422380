//===- Gemm.cpp - General matrix multiply ---------------------------------===//
//
// Gemm (ONNX opset 13 semantics): a fully connected layer. With A' = A^T if
// transA else A ([M, K]) and B' = B^T if transB else B ([K, N]):
//
//   Y[i, j] = alpha * sum_k A'[i, k] B'[k, j] + beta * C[i, j]
//
// where the optional C is unidirectionally broadcast to [M, N] (a scalar, a
// row [N], a column [M, 1] or the full matrix). The kernel accumulates in
// double. The fuse pass may fold a following Relu, Clip or HardSwish into
// the node (attribute `activation`, see FusedActivation in NnUtils.h),
// applied to Y; such a node has no gradient rule (fuse runs after autodiff). It
// may also turn a weight gradient and its whole-weight SGD update into one
// Gemm whose C is the weight and whose result overwrites it (other updates:
// GemmGradWeightSgd / Momentum / Adam, ops/grad/GemmGrad.cpp; see
// passes/Fuse.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnLower.h"

namespace mote {
namespace {

/// Sizes of one Gemm node, checked (C too).
Expected<GemmGeometry> checkedGemm(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 2}); !S)
    return S.takeError();
  Expected<GemmGeometry> R = gemmGeometry(N);
  if (!R)
    return R.takeError();
  const GemmGeometry &G = *R;
  if (const Value *C = N.input(2)) {
    const Shape &CS = C->type().Dims;
    Shape MN = {G.M, G.N};
    if (CS.size() > 2 || broadcastShapes(CS, MN) != MN)
      return opError(fmt::format("C {} cannot be broadcast to the result "
                                 "shape [M, N] = {}",
                                 shapeStr(CS), shapeStr(MN)));
  }
  return R;
}

Expected<std::vector<TensorType>> inferGemm(const Node &N) {
  Expected<GemmGeometry> G = checkedGemm(N);
  if (!G)
    return G.takeError();
  if (Expected<FusedActivation> A = fusedActivation(N); !A)
    return A.takeError();
  return std::vector<TensorType>{
      TensorType(N.inType(0).Elem, Shape{G->M, G->N})};
}

template <class E>
void gemmImpl(const GemmGeometry &G, double Alpha, double Beta, const Tensor &A,
              const Tensor &B, const Tensor *C, Tensor &Y) {
  auto PA = A.data<E>();
  auto PB = B.data<E>();
  auto PY = Y.data<E>();
  // Element (i, k) of A' and (k, j) of B' in the stored matrices.
  auto AAt = [&](int64_t I, int64_t K) {
    return double(PA[size_t(G.TransA ? K * G.M + I : I * G.K + K)]);
  };
  auto BAt = [&](int64_t K, int64_t J) {
    return double(PB[size_t(G.TransB ? J * G.K + K : K * G.N + J)]);
  };
  Shape MN = {G.M, G.N};
  std::vector<int64_t> CStrides;
  if (C)
    CStrides = broadcastStrides(C->shape(), MN);
  for (int64_t I = 0; I < G.M; ++I) {
    for (int64_t J = 0; J < G.N; ++J) {
      double Acc = 0;
      for (int64_t K = 0; K < G.K; ++K)
        Acc += AAt(I, K) * BAt(K, J);
      double V = Alpha * Acc;
      if (C)
        V += Beta *
             double(C->data<E>()[size_t(I * CStrides[0] + J * CStrides[1])]);
      PY[size_t(I * G.N + J)] = E(V);
    }
  }
}

Status kernelGemm(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  Expected<GemmGeometry> G = checkedGemm(N);
  if (!G)
    return G.takeError();
  Expected<FusedActivation> A = fusedActivation(N);
  if (!A)
    return A.takeError();
  double Alpha = N.attrs().getFloat("alpha", 1.0f);
  double Beta = N.attrs().getFloat("beta", 1.0f);
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    gemmImpl<E>(*G, Alpha, Beta, *In[0], *In[1],
                In.size() > 2 ? In[2] : nullptr, Out[0]);
    applyFusedActivation(*A, Out[0]);
    return ok();
  });
}

// MACs = M * N * K.
int64_t macsGemm(const Node &N) {
  Expected<GemmGeometry> G = checkedGemm(N);
  return G ? G->M * G->N * G->K : 0;
}

// Gradient rule. With A' = op(A), B' = op(B) (op = transpose if the flag
// is set) and Y = alpha A' B' + beta C:
//   dA' = alpha dY B'^T,   dB' = alpha A'^T dY,   dC = beta sumToShape(dY)
// and dA = dA' (or dA'^T if transA), dB likewise, each one Gemm:
//   transA = 0: dA = alpha dY op(B)^T    = Gemm(dY, B, transB = !transB)
//   transA = 1: dA = alpha op(B) dY^T    = Gemm(B, dY, transA = transB,
//                                               transB = 1)
//   transB = 0: dB = alpha op(A)^T dY    = Gemm(A, dY, transA = !transA)
//   transB = 1: dB = alpha dY^T op(A)    = Gemm(dY, A, transA = 1,
//                                               transB = transA)
// The weight gradients have no C operand, so prune-backward can slice
// their dY operand to the trained channels.
Status gradGemm(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  if (N.attrs().has("activation"))
    return opError("a Gemm with a fused activation has no gradient rule; "
                   "run the fuse pass after autodiff");
  Value *A = N.input(0), *B = N.input(1);
  int64_t TA = N.attrs().getInt("transA", 0);
  int64_t TB = N.attrs().getInt("transB", 0);
  float Alpha = N.attrs().getFloat("alpha", 1.0f);
  auto Product = [&](Value *L, Value *R, int64_t TL,
                     int64_t TR) -> Expected<Value *> {
    AttrMap Attrs;
    if (TL)
      Attrs.set("transA", int64_t(1));
    if (TR)
      Attrs.set("transB", int64_t(1));
    if (Alpha != 1.0f)
      Attrs.set("alpha", Alpha);
    return Ctx.emit1(OpKind::Gemm, {L, R}, std::move(Attrs));
  };
  if (Ctx.needsGrad(0)) {
    Expected<Value *> DA = TA ? Product(B, DY, TB, 1) : Product(DY, B, 0, !TB);
    if (!DA)
      return DA.takeError();
    if (Status S = Ctx.addInputGrad(0, *DA); !S)
      return S;
  }
  if (Ctx.needsGrad(1)) {
    Expected<Value *> DB = TB ? Product(DY, A, 1, TA) : Product(A, DY, !TA, 0);
    if (!DB)
      return DB.takeError();
    if (Status S = Ctx.addInputGrad(1, *DB); !S)
      return S;
  }
  if (Ctx.needsGrad(2)) {
    Expected<Value *> DC = Ctx.sumToShape(DY, N.inType(2).Dims);
    if (!DC)
      return DC.takeError();
    float Beta = N.attrs().getFloat("beta", 1.0f);
    if (Beta != 1.0f) {
      DC = Ctx.emit1(OpKind::Mul, {*DC, scalarLike(Ctx, *DC, double(Beta))});
      if (!DC)
        return DC.takeError();
    }
    if (Status S = Ctx.addInputGrad(2, *DC); !S)
      return S;
  }
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::gemm<T>(GemmP, A, B, C, Y) (gemm.h), A' read through
// strides so transA costs nothing, C through its broadcast strides.
//===----------------------------------------------------------------------===//

Status lowerGemm(const Node &N, KernelCall &C) {
  Expected<GemmGeometry> G = checkedGemm(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/gemm.h";
  C.Kernel = "gemm";
  C.TypeArgs = {N.inType(0).Elem};
  std::vector<int64_t> CStrides = {0, 0};
  if (const Value *CV = N.input(2))
    CStrides = broadcastStrides(CV->type().Dims, Shape{G->M, G->N});
  Expected<FusedActivation> A = fusedActivation(N);
  if (!A)
    return A.takeError();
  // A'(i, k) = A[i * AStrideM + k * AStrideK].
  C.setParams(kparams::GemmP{.M = G->M,
                             .N = G->N,
                             .K = G->K,
                             .AStrideM = G->TransA ? 1 : G->K,
                             .AStrideK = G->TransA ? G->M : 1,
                             .TransB = G->TransB,
                             .Alpha = N.attrs().getFloat("alpha", 1.0f),
                             .Beta = N.attrs().getFloat("beta", 1.0f),
                             .CStrideM = CStrides[0],
                             .CStrideN = CStrides[1],
                             .Act = activationParams(*A)});
  return ok();
}

constexpr AttrSpec GemmAttrs[] = {
    {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},
    {"transA", AttrKind::Int},
    {"transB", AttrKind::Int},
    FusedActivationAttrs[0],
    FusedActivationAttrs[1],
    FusedActivationAttrs[2],
};

} // namespace

extern const OpDef OpDef_Gemm = {
    .Name = "Gemm",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = GemmAttrs,
    .Infer = inferGemm,
    .Kernel = kernelGemm,
    .Macs = macsGemm,
    .Grad = gradGemm,
    .Flags = OpFlagNone,
    .Summary = "alpha * A' B' + beta * C with optional transposes of A and B",
    .Lower = lowerGemm,
};

} // namespace mote
