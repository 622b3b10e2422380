//===- MatMul.cpp - Batched matrix product with numpy semantics -----------===//
//
// MatMul follows numpy.matmul: the last two dims of each operand are the
// matrices and the leading dims broadcast as batch dims. A 1-D A [K] is read
// as [1, K] and a 1-D B [K] as [K, 1]; the added dim is dropped from the
// result. With A [..., M, K] and B [..., K, N]:
//
//   Y[b, i, j] = sum_k A[b, i, k] B[b, k, j]
//
// where b ranges over the broadcast batch dims. The kernel accumulates in
// double.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnLower.h"

#include <utility>

namespace mote {
namespace {

Expected<MatMulGeometry> matMulGeometry(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1}); !S)
    return S.takeError();
  return mote::matMulGeometry(N.inType(0).Dims, N.inType(1).Dims);
}

Expected<std::vector<TensorType>> inferMatMul(const Node &N) {
  Expected<MatMulGeometry> G = matMulGeometry(N);
  if (!G)
    return G.takeError();
  return std::vector<TensorType>{TensorType(N.inType(0).Elem, G->Out)};
}

template <class E>
void matMulImpl(const MatMulGeometry &G, const Tensor &A, const Tensor &B,
                Tensor &Y) {
  auto PA = A.data<E>();
  auto PB = B.data<E>();
  auto PY = Y.data<E>();
  std::vector<int64_t> AStrides = broadcastStrides(G.ABatch, G.Batch);
  std::vector<int64_t> BStrides = broadcastStrides(G.BBatch, G.Batch);
  int64_t NumBatch = productOf(G.Batch, 0, G.Batch.size());
  for (int64_t Bt = 0; Bt < NumBatch; ++Bt) {
    int64_t ABase = offsetFor(Bt, G.Batch, AStrides) * G.M * G.K;
    int64_t BBase = offsetFor(Bt, G.Batch, BStrides) * G.K * G.N;
    int64_t YBase = Bt * G.M * G.N;
    for (int64_t I = 0; I < G.M; ++I) {
      for (int64_t J = 0; J < G.N; ++J) {
        double Acc = 0;
        for (int64_t K = 0; K < G.K; ++K)
          Acc += double(PA[size_t(ABase + I * G.K + K)]) *
                 double(PB[size_t(BBase + K * G.N + J)]);
        PY[size_t(YBase + I * G.N + J)] = E(Acc);
      }
    }
  }
}

Status kernelMatMul(const Node &N, std::span<const Tensor *const> In,
                    std::span<Tensor> Out) {
  Expected<MatMulGeometry> G = matMulGeometry(N);
  if (!G)
    return G.takeError();
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    matMulImpl<E>(*G, *In[0], *In[1], Out[0]);
    return ok();
  });
}

// MACs = prod(batch) * M * N * K.
int64_t macsMatMul(const Node &N) {
  Expected<MatMulGeometry> G = matMulGeometry(N);
  if (!G)
    return 0;
  return productOf(G->Batch, 0, G->Batch.size()) * G->M * G->N * G->K;
}

/// \p V with its last two dims swapped.
Expected<Value *> swapLastTwo(GradContext &Ctx, Value *V) {
  std::vector<int64_t> Perm;
  size_t R = V->type().rank();
  for (size_t I = 0; I < R; ++I)
    Perm.push_back(int64_t(I));
  std::swap(Perm[R - 2], Perm[R - 1]);
  AttrMap A;
  A.set("perm", Perm);
  return Ctx.emit1(OpKind::Transpose, {V}, std::move(A));
}

// Gradient rule, for operands of rank 2 or more. With Y = A B batched over
// the broadcast batch dims:
//   dA = sumToShape(dY B^T, A.shape),   dB = sumToShape(A^T dY, B.shape)
// where ^T swaps the last two dims and sumToShape sums over the batch dims
// broadcasting added or stretched.
Status gradMatMul(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  Value *A = N.input(0), *B = N.input(1);
  if (A->type().rank() < 2 || B->type().rank() < 2)
    return opError("no gradient rule for MatMul with a 1-D operand; reshape "
                   "it to 2-D");
  if (Ctx.needsGrad(0)) {
    Expected<Value *> BT = swapLastTwo(Ctx, B);
    if (!BT)
      return BT.takeError();
    Expected<Value *> P = Ctx.emit1(OpKind::MatMul, {DY, *BT});
    if (!P)
      return P.takeError();
    Expected<Value *> DA = Ctx.sumToShape(*P, A->type().Dims);
    if (!DA)
      return DA.takeError();
    if (Status S = Ctx.addInputGrad(0, *DA); !S)
      return S;
  }
  if (Ctx.needsGrad(1)) {
    Expected<Value *> AT = swapLastTwo(Ctx, A);
    if (!AT)
      return AT.takeError();
    Expected<Value *> P = Ctx.emit1(OpKind::MatMul, {*AT, DY});
    if (!P)
      return P.takeError();
    Expected<Value *> DB = Ctx.sumToShape(*P, B->type().Dims);
    if (!DB)
      return DB.takeError();
    if (Status S = Ctx.addInputGrad(1, *DB); !S)
      return S;
  }
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::matmul<T>(MatMulP, A, B, Y) (gemm.h). The batch dims
// are walked with the element strides of each operand's matrices (0 along
// broadcast dims); when B is one matrix shared by all of A's batch, A's
// batch folds into M and the product is a single matrix product.
//===----------------------------------------------------------------------===//

Status lowerMatMul(const Node &N, KernelCall &C) {
  Expected<MatMulGeometry> G = matMulGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/gemm.h";
  C.Kernel = "matmul";
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(matMulParams(*G));
  return ok();
}

} // namespace

extern const OpDef OpDef_MatMul = {
    .Name = "MatMul",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = {},
    .Infer = inferMatMul,
    .Kernel = kernelMatMul,
    .Macs = macsMatMul,
    .Grad = gradMatMul,
    .Flags = OpFlagNone,
    .Summary = "numpy matmul: batched A [..., M, K] x B [..., K, N] with "
               "broadcast batch dims and 1-D promotion",
    .Lower = lowerMatMul,
};

} // namespace mote
