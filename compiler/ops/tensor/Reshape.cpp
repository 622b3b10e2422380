//===- Reshape.cpp - Ops that only change the shape -----------------------===//
//
// Reshape, Flatten, Squeeze and Unsqueeze keep the element order and change
// only the shape, so their kernels copy the data unchanged (a byte copy works
// for every element type) and their type rules carry all the logic. An
// operand quantized per tensor keeps its parameters (the codes move with
// their values); one quantized per axis is refused.
//
// All four lower to mote_rt::reshape<T> (runtime-stub/mote_rt/tensor.h),
// a copy of the elements; the code generator may alias the buffers instead.
//
// Operands that ONNX passes as constant tensor inputs are attributes here
// (the importer converts them):
//   - Reshape `shape` is the exact, fully resolved result shape: no 0 (copy
//     the input dim) or -1 (infer the dim) placeholders.
//   - Squeeze `axes` absent or empty removes every dim of size 1 (empty as
//     onnxruntime reads it); listed axes must be 1-dims.
//   - Unsqueeze `axes` (required) index the output (opset 13 semantics).
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// Normalises every entry of \p Axes (attribute \p What) into [0, Rank) and
/// rejects out-of-range and repeated axes.
Expected<std::vector<int64_t>>
normalizeAxisList(const std::vector<int64_t> &Axes, int64_t Rank,
                  std::string_view What) {
  std::vector<int64_t> R;
  for (int64_t A : Axes) {
    std::optional<int64_t> Norm = normalizeAxis(A, Rank);
    if (!Norm)
      return opError(fmt::format("{} {} contains axis {}, which is out of "
                                 "range for rank {}",
                                 What, shapeStr(Axes), A, Rank));
    if (std::find(R.begin(), R.end(), *Norm) != R.end())
      return opError(fmt::format("{} {} names axis {} more than once", What,
                                 shapeStr(Axes), *Norm));
    R.push_back(*Norm);
  }
  return R;
}

/// The result of \p N: its operand's element type and per-tensor
/// quantization, shape \p Dims.
Expected<TypeList> reshaped(const Node &N, Shape Dims) {
  const TensorType &In = N.inType(0);
  if (In.Quant && In.Quant->perAxis())
    return opError(fmt::format("input {} is quantized per axis; {} keeps "
                               "only per-tensor parameters",
                               In.str(), N.def().Name));
  TensorType T(In.Elem, std::move(Dims));
  T.Quant = In.Quant;
  return TypeList{std::move(T)};
}

/// Copies the input data unchanged; the result has the same element count.
Status copyKernel(const Node &, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  assert(In[0]->byteSize() == Out[0].byteSize() && "element count changes");
  std::copy(In[0]->raw(), In[0]->raw() + In[0]->byteSize(), Out[0].raw());
  return ok();
}

// reshape(x, shape): same elements in row-major order, result dims = shape.
Expected<TypeList> inferReshape(const Node &N) {
  const TensorType &In = N.inType(0);
  Shape Dims = N.attrs().getInts("shape");
  for (int64_t D : Dims)
    if (D < 0)
      return opError(fmt::format("shape {} has a negative dim; the IR needs "
                                 "the fully resolved shape",
                                 shapeStr(Dims)));
  std::optional<int64_t> Count = checkedNumElements(Dims);
  if (!Count)
    return opError(fmt::format("shape {} is too large", shapeStr(Dims)));
  if (*Count != In.numElements())
    return opError(fmt::format("cannot reshape {} ({} elements) to {} ({} "
                               "elements)",
                               shapeStr(In.Dims), In.numElements(),
                               shapeStr(Dims), *Count));
  return reshaped(N, std::move(Dims));
}

// flatten(x, axis): 2-D [d0 * ... * d(axis-1), d(axis) * ... * d(r-1)];
// axis in [-r, r], negative counts from the back.
Expected<TypeList> inferFlatten(const Node &N) {
  const TensorType &In = N.inType(0);
  int64_t Rank = int64_t(In.rank());
  int64_t Axis = N.attrs().getInt("axis", 1);
  if (Axis < -Rank || Axis > Rank)
    return opError(fmt::format("axis {} is out of range [{}, {}] for rank {}",
                               Axis, -Rank, Rank, Rank));
  if (Axis < 0)
    Axis += Rank;
  std::optional<int64_t> Outer =
      checkedNumElements(Shape(In.Dims.begin(), In.Dims.begin() + Axis));
  std::optional<int64_t> Inner =
      checkedNumElements(Shape(In.Dims.begin() + Axis, In.Dims.end()));
  if (!Outer || !Inner)
    return opError(fmt::format("flattening {} at axis {} gives a dim that is "
                               "too large",
                               shapeStr(In.Dims), Axis));
  return reshaped(N, {*Outer, *Inner});
}

// squeeze(x, axes): x without the listed dims (each must be 1), or without
// every 1-dim if axes is absent or empty.
Expected<TypeList> inferSqueeze(const Node &N) {
  const TensorType &In = N.inType(0);
  int64_t Rank = int64_t(In.rank());
  std::vector<bool> Drop(size_t(Rank), false);
  std::vector<int64_t> Axes = N.attrs().getInts("axes");
  if (!Axes.empty()) {
    Expected<std::vector<int64_t>> Norm = normalizeAxisList(Axes, Rank, "axes");
    if (!Norm)
      return Norm.takeError();
    for (int64_t A : *Norm) {
      if (In.Dims[size_t(A)] != 1)
        return opError(fmt::format("cannot squeeze axis {} of {}: its size is "
                                   "{}, not 1",
                                   A, shapeStr(In.Dims), In.Dims[size_t(A)]));
      Drop[size_t(A)] = true;
    }
  } else {
    for (size_t I = 0; I < In.rank(); ++I)
      Drop[I] = In.Dims[I] == 1;
  }
  Shape Dims;
  for (size_t I = 0; I < In.rank(); ++I)
    if (!Drop[I])
      Dims.push_back(In.Dims[I]);
  return reshaped(N, std::move(Dims));
}

// unsqueeze(x, axes): inserts a 1-dim at each listed index of the result,
// whose rank is rank(x) + len(axes).
Expected<TypeList> inferUnsqueeze(const Node &N) {
  const TensorType &In = N.inType(0);
  std::vector<int64_t> Axes = N.attrs().getInts("axes");
  int64_t OutRank = int64_t(In.rank()) + int64_t(Axes.size());
  Expected<std::vector<int64_t>> Norm =
      normalizeAxisList(Axes, OutRank, "axes");
  if (!Norm)
    return Norm.takeError();
  std::vector<bool> IsNew(size_t(OutRank), false);
  for (int64_t A : *Norm)
    IsNew[size_t(A)] = true;
  Shape Dims;
  size_t Next = 0;
  for (size_t I = 0; I < size_t(OutRank); ++I)
    Dims.push_back(IsNew[I] ? 1 : In.Dims[Next++]);
  return reshaped(N, std::move(Dims));
}

constexpr AttrSpec ReshapeAttrs[] = {{"shape", AttrKind::Ints, true}};
constexpr AttrSpec FlattenAttrs[] = {{"axis", AttrKind::Int}};
constexpr AttrSpec SqueezeAttrs[] = {{"axes", AttrKind::Ints}};
constexpr AttrSpec UnsqueezeAttrs[] = {{"axes", AttrKind::Ints, true}};

/// Reshape, Flatten, Squeeze and Unsqueeze move no data: the gradient is
/// the result gradient reshaped to the input's shape.
Status gradReshapeLike(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  AttrMap A;
  A.set("shape", N.inType(0).Dims);
  Expected<Value *> DX = Ctx.emit1(OpKind::Reshape, {DY}, A);
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

} // namespace

extern const OpDef OpDef_Reshape = {
    .Name = "Reshape",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ReshapeAttrs,
    .Infer = inferReshape,
    .Kernel = copyKernel,
    .Macs = nullptr,
    .Grad = gradReshapeLike,
    .Flags = OpFlagDataMovement | OpFlagInPlace | OpFlagQuantAware,
    .Summary = "same data, result shape given by `shape` (fully resolved)",
    .Lower = lowerReshapeCopy,
};

extern const OpDef OpDef_Flatten = {
    .Name = "Flatten",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = FlattenAttrs,
    .Infer = inferFlatten,
    .Kernel = copyKernel,
    .Macs = nullptr,
    .Grad = gradReshapeLike,
    .Flags = OpFlagDataMovement | OpFlagInPlace | OpFlagQuantAware,
    .Summary = "same data as a matrix: dims before `axis` x dims from `axis`",
    .Lower = lowerReshapeCopy,
};

extern const OpDef OpDef_Squeeze = {
    .Name = "Squeeze",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SqueezeAttrs,
    .Infer = inferSqueeze,
    .Kernel = copyKernel,
    .Macs = nullptr,
    .Grad = gradReshapeLike,
    .Flags = OpFlagDataMovement | OpFlagInPlace | OpFlagQuantAware,
    .Summary = "removes the 1-dims listed in `axes` (all 1-dims if none)",
    .Lower = lowerReshapeCopy,
};

extern const OpDef OpDef_Unsqueeze = {
    .Name = "Unsqueeze",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = UnsqueezeAttrs,
    .Infer = inferUnsqueeze,
    .Kernel = copyKernel,
    .Macs = nullptr,
    .Grad = gradReshapeLike,
    .Flags = OpFlagDataMovement | OpFlagInPlace | OpFlagQuantAware,
    .Summary = "inserts 1-dims at the result indices listed in `axes`",
    .Lower = lowerReshapeCopy,
};

} // namespace mote
