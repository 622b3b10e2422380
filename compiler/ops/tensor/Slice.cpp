//===- Slice.cpp - Strided sub-tensor -------------------------------------===//
//
// slice(x; starts, ends, axes, steps) selects x[start:end:step] along each
// listed axis (numpy basic slicing), with ONNX's clamping (opset 13):
//   - axes default to [0, ..., len(starts)-1], negative axes count from the
//     back, and an axis may be listed once; steps default to 1, never 0;
//   - a negative start or end has the dim d added to it; then, for step > 0,
//     start and end are clamped to [0, d]; for step < 0, start is clamped to
//     [0, d-1] and end to [-1, d-1];
//   - the result has max(0, ceil((end - start) / step)) elements along the
//     axis, element k being x[start + k * step].
// So INT64_MAX / INT64_MIN ends mean "to the end" / "to the beginning".
// One corner differs from numpy: with step < 0, a start below -d is clamped
// to 0 and still takes element 0 (numpy takes nothing); this follows the
// ONNX spec text and onnx's own shape inference.
// starts/ends/axes/steps are attributes (the importer converts ONNX's
// constant inputs). Lowers to mote_rt::strided_copy<T> (tensor.h): steps
// (also negative ones) become strides, starts the base offset.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// What the slice reads along one input dim.
struct AxisSlice {
  int64_t Start = 0;
  int64_t Step = 1;
  int64_t Count = 0;
};

/// Start, step and element count of slicing a dim of size \p Dim.
AxisSlice sliceDim(int64_t Dim, int64_t Start, int64_t End, int64_t Step) {
  // Dim <= MaxTensorBytes, so adding it to a negative value cannot overflow.
  if (Start < 0)
    Start += Dim;
  if (End < 0)
    End += Dim;
  AxisSlice R;
  R.Step = Step;
  if (Step > 0) {
    R.Start = std::clamp<int64_t>(Start, 0, Dim);
    End = std::clamp<int64_t>(End, 0, Dim);
    if (End > R.Start)
      R.Count = (End - R.Start - 1) / Step + 1;
  } else if (Dim > 0) {
    R.Start = std::clamp<int64_t>(Start, 0, Dim - 1);
    End = std::clamp<int64_t>(End, -1, Dim - 1);
    // -Step overflows for INT64_MIN; divide in unsigned arithmetic.
    uint64_t AbsStep = uint64_t(0) - uint64_t(Step);
    if (R.Start > End)
      R.Count = int64_t(uint64_t(R.Start - End - 1) / AbsStep) + 1;
  }
  // With at most one element the step is never applied; normalising it keeps
  // Step * stride products in the kernel small.
  if (R.Count <= 1)
    R.Step = 1;
  return R;
}

/// The slice of every dim of a tensor of shape \p Dims, from the attributes.
Expected<std::vector<AxisSlice>> slicePlan(const Node &N, const Shape &Dims) {
  const AttrMap &A = N.attrs();
  std::vector<int64_t> Starts = A.getInts("starts");
  std::vector<int64_t> Ends = A.getInts("ends");
  size_t Num = Starts.size();
  if (Ends.size() != Num)
    return opError(
        fmt::format("starts has {} entries but ends has {}", Num, Ends.size()));
  std::vector<int64_t> Axes;
  if (A.has("axes")) {
    Axes = A.getInts("axes");
    if (Axes.size() != Num)
      return opError(fmt::format("axes has {} entries but starts has {}",
                                 Axes.size(), Num));
  } else {
    if (Num > Dims.size())
      return opError(fmt::format("starts has {} entries but the input {} has "
                                 "only {} dims",
                                 Num, shapeStr(Dims), Dims.size()));
    for (size_t I = 0; I < Num; ++I)
      Axes.push_back(int64_t(I));
  }
  std::vector<int64_t> Steps = A.getInts("steps", std::vector<int64_t>(Num, 1));
  if (Steps.size() != Num)
    return opError(fmt::format("steps has {} entries but starts has {}",
                               Steps.size(), Num));

  std::vector<AxisSlice> Plan(Dims.size());
  std::vector<bool> Listed(Dims.size(), false);
  for (size_t D = 0; D < Dims.size(); ++D)
    Plan[D] = {0, 1, Dims[D]};
  for (size_t I = 0; I < Num; ++I) {
    std::optional<int64_t> Axis = normalizeAxis(Axes[I], int64_t(Dims.size()));
    if (!Axis)
      return opError(fmt::format("axes {} contains axis {}, which is out of "
                                 "range for rank {}",
                                 shapeStr(Axes), Axes[I], Dims.size()));
    if (Listed[size_t(*Axis)])
      return opError(fmt::format("axes {} names axis {} more than once",
                                 shapeStr(Axes), *Axis));
    Listed[size_t(*Axis)] = true;
    if (Steps[I] == 0)
      return opError(fmt::format("steps {} has a 0 step for axis {}",
                                 shapeStr(Steps), *Axis));
    Plan[size_t(*Axis)] =
        sliceDim(Dims[size_t(*Axis)], Starts[I], Ends[I], Steps[I]);
  }
  return Plan;
}

Expected<TypeList> inferSlice(const Node &N) {
  const TensorType &In = N.inType(0);
  Expected<std::vector<AxisSlice>> Plan = slicePlan(N, In.Dims);
  if (!Plan)
    return Plan.takeError();
  Shape Dims;
  for (const AxisSlice &S : *Plan)
    Dims.push_back(S.Count);
  // A quantized value keeps its quantization: the codes are copied as
  // they are (per-axis scales only if that axis is taken whole).
  if (In.isQuantized()) {
    if (In.Quant->perAxis() && Dims[size_t(In.Quant->Axis)] !=
                                   In.Dims[size_t(In.Quant->Axis)])
      return opError(fmt::format("{} is quantized per slice of axis {}, "
                                 "which the slice cuts",
                                 In.str(), In.Quant->Axis));
    TensorType T = In;
    T.Dims = Dims;
    return TypeList{T};
  }
  return TypeList{TensorType(In.Elem, Dims)};
}

Status kernelSlice(const Node &N, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  if (Y.numElements() == 0)
    return ok();
  Expected<std::vector<AxisSlice>> Plan = slicePlan(N, X.shape());
  if (!Plan)
    return Plan.takeError();
  // Element j of the result along dim D reads x at Start + j * Step there:
  // x offset = Base + sum_D j_D * (Step_D * stride_D).
  std::vector<int64_t> InStrides = stridesOf(X.shape());
  std::vector<int64_t> Strides(InStrides.size());
  int64_t Base = 0;
  for (size_t D = 0; D < InStrides.size(); ++D) {
    const AxisSlice &S = (*Plan)[D];
    Base += S.Start * InStrides[D];
    Strides[D] = S.Step * InStrides[D];
  }
  const Shape &OS = Y.shape();
  return dispatchDType(X.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto Src = X.data<E>();
    auto Dst = Y.data<E>();
    for (int64_t I = 0; I < int64_t(Dst.size()); ++I)
      Dst[size_t(I)] = Src[size_t(Base + offsetFor(I, OS, Strides))];
    return ok();
  });
}

constexpr AttrSpec SliceAttrs[] = {{"starts", AttrKind::Ints, true},
                                   {"ends", AttrKind::Ints, true},
                                   {"axes", AttrKind::Ints},
                                   {"steps", AttrKind::Ints}};

/// A unit-step slice's gradient is the result gradient padded with zeros
/// back to the input's shape. Strided and reversed slices have no rule.
Status gradSlice(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  const Shape &XD = N.inType(0).Dims;
  Expected<std::vector<AxisSlice>> Plan = slicePlan(N, XD);
  if (!Plan)
    return Plan.takeError();
  size_t R = XD.size();
  std::vector<int64_t> Pads(2 * R, 0);
  for (size_t I = 0; I < R; ++I) {
    const AxisSlice &S = (*Plan)[I];
    if (S.Step != 1)
      return opError("no gradient rule for a Slice with steps other than 1");
    Pads[I] = S.Start;
    Pads[R + I] = XD[I] - S.Start - S.Count;
  }
  AttrMap A;
  A.set("pads", Pads);
  Expected<Value *> DX = Ctx.emit1(OpKind::Pad, {DY}, A);
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

/// mote_rt::strided_copy<T>(StridedP, x, y), with the offsets of kernelSlice.
Status lowerSlice(const Node &N, KernelCall &C) {
  const Shape &XS = N.inType(0).Dims;
  Expected<std::vector<AxisSlice>> Plan = slicePlan(N, XS);
  if (!Plan)
    return Plan.takeError();
  std::vector<int64_t> InStrides = stridesOf(XS);
  std::vector<int64_t> Strides(XS.size());
  int64_t Base = 0;
  for (size_t D = 0; D < XS.size(); ++D) {
    const AxisSlice &S = (*Plan)[D];
    Base += S.Start * InStrides[D];
    Strides[D] = S.Step * InStrides[D];
  }
  return lowerStridedCopy(N, N.outType(0).Dims, Strides, Base, C);
}

} // namespace

extern const OpDef OpDef_Slice = {
    .Name = "Slice",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SliceAttrs,
    .Infer = inferSlice,
    .Kernel = kernelSlice,
    .Macs = nullptr,
    .Grad = gradSlice,
    .Flags = OpFlagDataMovement | OpFlagQuantAware,
    .Summary = "x[starts:ends:steps] along `axes`, clamped as in ONNX",
    .Lower = lowerSlice,
};

} // namespace mote
