//===- Concat.cpp - Join tensors along an axis ----------------------------===//
//
// concat(x0, ..., xn-1; axis): the inputs placed one after another along
// `axis` (negative counts from the back, range [-r, r-1]). All inputs have
// the same element type and rank (at least 1) and equal dims except along
// `axis`; the result dim there is the sum of the input dims.
//
// Lowers to mote_rt::concat<T> (tensor.h), whose operands are the result
// FIRST, then every input: the kernel is a variadic template over the input
// pointers. Its parameter struct holds one row length per input, so one call
// takes at most mote_rt::MaxConcatInputs (24) inputs; more are rejected.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

Expected<TypeList> inferConcat(const Node &N) {
  for (size_t I = 0; I < N.numInputs(); ++I)
    if (!N.input(I))
      return opError(fmt::format("input {} is missing; every input of Concat "
                                 "is required",
                                 I));
  Status S = requireSameDType(N);
  if (!S)
    return S.takeError();
  const TensorType &First = N.inType(0);
  int64_t Rank = int64_t(First.rank());
  if (Rank == 0)
    return opError("cannot concatenate scalars; Unsqueeze them to rank 1");
  int64_t AxisAttr = N.attrs().getInt("axis", 0);
  std::optional<int64_t> Axis = normalizeAxis(AxisAttr, Rank);
  if (!Axis)
    return opError(
        fmt::format("axis {} is out of range for rank {}", AxisAttr, Rank));
  Shape Dims = First.Dims;
  Dims[size_t(*Axis)] = 0;
  for (size_t I = 0; I < N.numInputs(); ++I) {
    const Shape &D = N.inType(I).Dims;
    bool Compatible = int64_t(D.size()) == Rank;
    for (int64_t K = 0; Compatible && K < Rank; ++K)
      Compatible = K == *Axis || D[size_t(K)] == First.Dims[size_t(K)];
    if (!Compatible)
      return opError(fmt::format("input {} has shape {}, which does not match "
                                 "input 0 shape {} except along axis {}",
                                 I, shapeStr(D), shapeStr(First.Dims), *Axis));
    // Valid input dims are at most MaxTensorBytes, so the sum cannot
    // overflow before this check trips.
    Dims[size_t(*Axis)] += D[size_t(*Axis)];
    if (Dims[size_t(*Axis)] > MaxTensorBytes)
      return opError(fmt::format("concatenated axis {} is too large", *Axis));
  }
  return TypeList{TensorType(First.Elem, Dims)};
}

Status kernelConcat(const Node &N, std::span<const Tensor *const> In,
                    std::span<Tensor> Out) {
  Tensor &Y = Out[0];
  if (Y.numElements() == 0)
    return ok();
  const Shape &OS = Y.shape();
  size_t Axis =
      size_t(*normalizeAxis(N.attrs().getInt("axis", 0), int64_t(OS.size())));
  // View every tensor as [Outer, AxisDim * Inner]: each outer row of the
  // result is the rows of the inputs one after another.
  int64_t Outer = 1, Inner = 1;
  for (size_t K = 0; K < OS.size(); ++K) {
    if (K < Axis)
      Outer *= OS[K];
    if (K > Axis)
      Inner *= OS[K];
  }
  return dispatchDType(Y.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto Dst = Y.data<E>();
    size_t Pos = 0;
    for (int64_t O = 0; O < Outer; ++O) {
      for (const Tensor *X : In) {
        int64_t Row = X->shape()[Axis] * Inner;
        auto Src = X->data<E>().subspan(size_t(O * Row), size_t(Row));
        std::copy(Src.begin(), Src.end(), Dst.begin() + ptrdiff_t(Pos));
        Pos += Src.size();
      }
    }
    return ok();
  });
}

constexpr AttrSpec ConcatAttrs[] = {{"axis", AttrKind::Int, true}};

/// Each input's gradient is its slice of the result gradient.
Status gradConcat(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  int64_t Rank = int64_t(N.inType(0).rank());
  std::optional<int64_t> Axis =
      normalizeAxis(N.attrs().getInt("axis", 0), Rank);
  if (!Axis)
    return opError("axis out of range");
  int64_t Offset = 0;
  for (size_t I = 0; I < N.numInputs(); ++I) {
    int64_t Len = N.inType(I).Dims[size_t(*Axis)];
    if (Ctx.needsGrad(I)) {
      AttrMap A;
      A.set("starts", std::vector<int64_t>{Offset});
      A.set("ends", std::vector<int64_t>{Offset + Len});
      A.set("axes", std::vector<int64_t>{*Axis});
      Expected<Value *> DX = Ctx.emit1(OpKind::Slice, {DY}, A);
      if (!DX)
        return DX.takeError();
      if (Status S = Ctx.addInputGrad(I, *DX); !S)
        return S;
    }
    Offset += Len;
  }
  return ok();
}

/// Inputs one mote_rt::concat call takes (ConcatP::Rows).
constexpr size_t MaxConcatInputs = size_t(kparams::MaxConcatInputs);

/// mote_rt::concat<T>(ConcatP, y, x0, x1, ...): every tensor viewed as
/// [Outer, row]; ConcatP is {Outer, result row, row of each input (four
/// MaxRank arrays)}.
Status lowerConcat(const Node &N, KernelCall &C) {
  if (N.numInputs() > MaxConcatInputs)
    return opError(fmt::format("concatenating {} inputs; the kernel takes at "
                               "most {}, so split the Concat into several",
                               N.numInputs(), MaxConcatInputs));
  if (Status S = requireKernelElements(N); !S)
    return S;
  const Shape &OS = N.outType(0).Dims;
  size_t Axis =
      size_t(*normalizeAxis(N.attrs().getInt("axis", 0), int64_t(OS.size())));
  int64_t Outer = 1, Inner = 1;
  for (size_t K = 0; K < OS.size(); ++K) {
    if (K < Axis)
      Outer *= OS[K];
    if (K > Axis)
      Inner *= OS[K];
  }
  std::vector<int64_t> Rows(N.numInputs(), 0);
  for (size_t I = 0; I < N.numInputs(); ++I)
    Rows[I] = N.inType(I).Dims[Axis] * Inner;
  C.Header = "mote_rt/tensor.h";
  C.Kernel = "concat";
  C.TypeArgs = {N.outType(0).Elem};
  C.setParams(kparams::ConcatP{
      .Outer = Outer, .OutRow = OS[Axis] * Inner, .Rows = Rows});
  C.Operands.push_back({true, 0});
  for (size_t I = 0; I < N.numInputs(); ++I)
    C.Operands.push_back({false, int(I)});
  return ok();
}

} // namespace

extern const OpDef OpDef_Concat = {
    .Name = "Concat",
    .MinInputs = 1,
    .MaxInputs = Variadic,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ConcatAttrs,
    .Infer = inferConcat,
    .Kernel = kernelConcat,
    .Macs = nullptr,
    .Grad = gradConcat,
    .Flags = OpFlagDataMovement,
    .Summary = "the inputs joined along `axis`",
    .Lower = lowerConcat,
};

} // namespace mote
