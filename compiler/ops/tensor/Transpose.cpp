//===- Transpose.cpp - Permute the dims of a tensor -----------------------===//
//
// transpose(x, perm): result dim i is input dim perm[i], and
// y[j0, ..., j(r-1)] = x[k] with k[perm[i]] = j[i] (numpy.transpose).
// `perm` defaults to the reversed dims [r-1, ..., 0] and must be a
// permutation of 0..r-1 (no negative entries, as in ONNX). Lowers to
// mote_rt::strided_copy<T> (tensor.h); dims that stay neighbours in the same
// order merge, so e.g. a rank-7 permutation that moves two blocks fits.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The node's permutation, checked against \p Rank.
Expected<std::vector<int64_t>> getPerm(const Node &N, size_t Rank) {
  if (!N.attrs().has("perm")) {
    std::vector<int64_t> Reversed;
    for (size_t I = Rank; I-- > 0;)
      Reversed.push_back(int64_t(I));
    return Reversed;
  }
  std::vector<int64_t> Perm = N.attrs().getInts("perm");
  std::vector<bool> Seen(Rank, false);
  bool IsPerm = Perm.size() == Rank;
  for (size_t I = 0; IsPerm && I < Perm.size(); ++I) {
    int64_t P = Perm[I];
    IsPerm = P >= 0 && P < int64_t(Rank) && !Seen[size_t(P)];
    if (IsPerm)
      Seen[size_t(P)] = true;
  }
  if (!IsPerm) {
    if (Rank == 0)
      return opError(fmt::format("perm {} is not a permutation of the dims "
                                 "of a scalar; use []",
                                 shapeStr(Perm)));
    return opError(fmt::format("perm {} is not a permutation of 0..{}",
                               shapeStr(Perm), Rank - 1));
  }
  return Perm;
}

Expected<TypeList> inferTranspose(const Node &N) {
  const TensorType &In = N.inType(0);
  Expected<std::vector<int64_t>> Perm = getPerm(N, In.rank());
  if (!Perm)
    return Perm.takeError();
  Shape Dims;
  for (int64_t P : *Perm)
    Dims.push_back(In.Dims[size_t(P)]);
  return TypeList{TensorType(In.Elem, Dims)};
}

Status kernelTranspose(const Node &N, std::span<const Tensor *const> In,
                       std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  Expected<std::vector<int64_t>> Perm = getPerm(N, X.shape().size());
  if (!Perm)
    return Perm.takeError();
  // Stride in x of each result dim: walking result dim i walks x dim perm[i].
  std::vector<int64_t> InStrides = stridesOf(X.shape());
  std::vector<int64_t> Strides;
  for (int64_t P : *Perm)
    Strides.push_back(InStrides[size_t(P)]);
  const Shape &OS = Y.shape();
  return dispatchDType(X.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto Src = X.data<E>();
    auto Dst = Y.data<E>();
    for (int64_t I = 0; I < int64_t(Dst.size()); ++I)
      Dst[size_t(I)] = Src[size_t(offsetFor(I, OS, Strides))];
    return ok();
  });
}

constexpr AttrSpec TransposeAttrs[] = {{"perm", AttrKind::Ints}};

/// The gradient of a transpose is the transpose by the inverse permutation.
Status gradTranspose(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<std::vector<int64_t>> Perm = getPerm(N, N.inType(0).rank());
  if (!Perm)
    return Perm.takeError();
  std::vector<int64_t> Inv(Perm->size());
  for (size_t I = 0; I < Perm->size(); ++I)
    Inv[size_t((*Perm)[I])] = int64_t(I);
  AttrMap A;
  A.set("perm", Inv);
  Expected<Value *> DX = Ctx.emit1(OpKind::Transpose, {DY}, A);
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

/// mote_rt::strided_copy<T>(StridedP, x, y): result dim i walks input dim
/// perm[i].
Status lowerTranspose(const Node &N, KernelCall &C) {
  Expected<std::vector<int64_t>> Perm = getPerm(N, N.inType(0).rank());
  if (!Perm)
    return Perm.takeError();
  std::vector<int64_t> InStrides = stridesOf(N.inType(0).Dims);
  std::vector<int64_t> Strides;
  for (int64_t P : *Perm)
    Strides.push_back(InStrides[size_t(P)]);
  return lowerStridedCopy(N, N.outType(0).Dims, Strides, 0, C);
}

} // namespace

extern const OpDef OpDef_Transpose = {
    .Name = "Transpose",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = TransposeAttrs,
    .Infer = inferTranspose,
    .Kernel = kernelTranspose,
    .Macs = nullptr,
    .Grad = gradTranspose,
    .Flags = OpFlagDataMovement,
    .Summary = "permutes the dims by `perm` (default: reversed)",
    .Lower = lowerTranspose,
};

} // namespace mote
