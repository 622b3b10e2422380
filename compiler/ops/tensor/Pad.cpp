//===- Pad.cpp - Pad or crop a tensor at both ends of each dim ------------===//
//
// pad(x; pads, mode, value): `pads` has 2 * rank entries in ONNX order
// [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; result dim i is
// d_i + begin_i + end_i. A negative pad removes that many elements from that
// end (crop); positive pads then add elements, filled according to `mode`:
//   - "constant" (default): `value` (default 0), converted to the element
//     type (saturating for integers; nonzero is true for bool);
//   - "edge": the nearest edge element;
//   - "reflect": the mirror image about the edge element, excluding it
//     (numpy.pad "reflect": [1 2 3] padded by 2 is [3 2 1 2 3 2 1]); pads
//     wider than the axis keep reflecting, and an axis of one element repeats.
// Crops apply before pads (as onnxruntime does), so edge and reflect mirror
// about the elements that remain. Edge and reflect cannot pad an axis that
// is empty after cropping. `pads` and `value` are attributes (the importer
// converts ONNX's constant inputs). Lowers to mote_rt::pad<T> (tensor.h).
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>
#include <limits>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The values are the kernel's (mote_rt::PadConstant, PadEdge, PadReflect).
enum class PadMode { Constant = 0, Edge = 1, Reflect = 2 };

/// How one dim is padded: the input elements [Lo, Lo + Kept) are kept and
/// placed after Before new elements; After new elements follow.
struct AxisPad {
  int64_t Lo = 0;
  int64_t Kept = 0;
  int64_t Before = 0;
  int64_t After = 0;
};

struct PadPlan {
  PadMode Mode = PadMode::Constant;
  std::vector<AxisPad> Axes;
};

Expected<PadPlan> padPlan(const Node &N, const Shape &Dims) {
  PadPlan P;
  std::string Mode = N.attrs().getString("mode", "constant");
  if (Mode == "constant")
    P.Mode = PadMode::Constant;
  else if (Mode == "edge")
    P.Mode = PadMode::Edge;
  else if (Mode == "reflect")
    P.Mode = PadMode::Reflect;
  else
    return opError(fmt::format("mode must be \"constant\", \"reflect\" or "
                               "\"edge\", got \"{}\"",
                               Mode));
  std::vector<int64_t> Pads = N.attrs().getInts("pads");
  size_t Rank = Dims.size();
  if (Pads.size() != 2 * Rank)
    return opError(fmt::format("pads {} has {} entries; a rank-{} input needs "
                               "{} (all begins, then all ends)",
                               shapeStr(Pads), Pads.size(), Rank, 2 * Rank));
  for (int64_t V : Pads)
    if (V < -MaxTensorBytes || V > MaxTensorBytes)
      return opError(fmt::format("pads {} has an entry of absurd size {}",
                                 shapeStr(Pads), V));
  for (size_t D = 0; D < Rank; ++D) {
    int64_t Begin = Pads[D], End = Pads[D + Rank];
    AxisPad A;
    A.Lo = std::max<int64_t>(0, -Begin);
    A.Kept = Dims[D] - A.Lo - std::max<int64_t>(0, -End);
    A.Before = std::max<int64_t>(0, Begin);
    A.After = std::max<int64_t>(0, End);
    if (A.Kept < 0)
      return opError(fmt::format("pads {} crop {} elements from axis {}, which "
                                 "has only {}",
                                 shapeStr(Pads), Dims[D] - A.Kept, D, Dims[D]));
    if (A.Kept == 0 && (A.Before > 0 || A.After > 0) &&
        P.Mode != PadMode::Constant)
      return opError(fmt::format("cannot pad axis {} in {} mode: it has no "
                                 "elements to copy",
                                 D, Mode));
    P.Axes.push_back(A);
  }
  return P;
}

Expected<TypeList> inferPad(const Node &N) {
  const TensorType &In = N.inType(0);
  Expected<PadPlan> P = padPlan(N, In.Dims);
  if (!P)
    return P.takeError();
  Shape Dims;
  for (const AxisPad &A : P->Axes)
    Dims.push_back(A.Before + A.Kept + A.After);
  return TypeList{TensorType(In.Elem, Dims)};
}

/// Index into [0, Kept) that result position \p J (relative to the first
/// kept element, possibly outside [0, Kept)) copies in \p Mode; -1 for the
/// constant.
int64_t sourceIndex(int64_t J, int64_t Kept, PadMode Mode) {
  if (J >= 0 && J < Kept)
    return J;
  switch (Mode) {
  case PadMode::Constant:
    return -1;
  case PadMode::Edge:
    return J < 0 ? 0 : Kept - 1;
  case PadMode::Reflect: {
    if (Kept == 1)
      return 0;
    // Reflection is periodic with period 2 (Kept - 1):
    // 0 1 .. Kept-1 Kept-2 .. 1 | 0 1 ...
    int64_t Period = 2 * (Kept - 1);
    int64_t M = ((J % Period) + Period) % Period;
    return M < Kept ? M : Period - M;
  }
  }
  __builtin_unreachable();
}

Status kernelPad(const Node &N, std::span<const Tensor *const> In,
                 std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  if (Y.numElements() == 0)
    return ok();
  Expected<PadPlan> P = padPlan(N, X.shape());
  if (!P)
    return P.takeError();
  // The fill value in the element type, converted (and saturated) by the
  // tensor's own conversion.
  Tensor Fill(TensorType(X.dtype(), {}));
  Fill.setFromDouble(0, double(N.attrs().getFloat("value", 0.0f)));

  const Shape &OS = Y.shape();
  std::vector<int64_t> InStrides = stridesOf(X.shape());
  return dispatchDType(X.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto Src = X.data<E>();
    auto Dst = Y.data<E>();
    E Value = Fill.data<E>()[0];
    for (int64_t I = 0; I < int64_t(Dst.size()); ++I) {
      // Walk the dims from the last, peeling result coordinates off I.
      int64_t Rest = I, Off = 0;
      bool IsFill = false;
      for (size_t D = OS.size(); D-- > 0;) {
        const AxisPad &A = P->Axes[D];
        int64_t J = Rest % OS[D] - A.Before;
        Rest /= OS[D];
        int64_t K = sourceIndex(J, A.Kept, P->Mode);
        if (K < 0) {
          IsFill = true;
          break;
        }
        Off += (A.Lo + K) * InStrides[D];
      }
      Dst[size_t(I)] = IsFill ? Value : Src[size_t(Off)];
    }
    return ok();
  });
}

constexpr AttrSpec PadAttrs[] = {{"pads", AttrKind::Ints, true},
                                 {"mode", AttrKind::String},
                                 {"value", AttrKind::Float}};

/// A constant pad's gradient is the slice of the result gradient where the
/// input sits. Cropping (negative pads), reflect and edge have no rule.
Status gradPad(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  if (N.attrs().getString("mode", "constant") != "constant")
    return opError("no gradient rule for reflect or edge Pad");
  const Shape &XD = N.inType(0).Dims;
  std::vector<int64_t> Pads = N.attrs().getInts("pads");
  std::vector<int64_t> Starts, Ends, Axes;
  for (size_t I = 0; I < XD.size(); ++I) {
    if (Pads[I] < 0 || Pads[XD.size() + I] < 0)
      return opError("no gradient rule for a Pad with negative pads");
    Starts.push_back(Pads[I]);
    Ends.push_back(Pads[I] + XD[I]);
    Axes.push_back(int64_t(I));
  }
  AttrMap A;
  A.set("starts", Starts);
  A.set("ends", Ends);
  A.set("axes", Axes);
  Expected<Value *> DX = Ctx.emit1(OpKind::Slice, {DY}, A);
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

/// mote_rt::pad<T>(PadP, x, y): PadP is {rank, mode, value as float, value
/// converted to an integer element type, offset of the first kept element,
/// result dims, kept dims, leading pads, input strides}.
Status lowerPad(const Node &N, KernelCall &C) {
  if (Status S = requireKernelRank(N.outType(0)); !S)
    return S;
  if (Status S = requireKernelElements(N); !S)
    return S;
  const TensorType &XT = N.inType(0);
  Expected<PadPlan> P = padPlan(N, XT.Dims);
  if (!P)
    return P.takeError();
  // The fill value converted as kernelPad converts it. Float element types
  // read the float attribute itself; the others need the converted integer
  // in 32 bits.
  float Value = N.attrs().getFloat("value", 0.0f);
  Tensor Fill(TensorType(XT.Elem, {}));
  Fill.setFromDouble(0, double(Value));
  int64_t IntValue = isFloat(XT.Elem) ? 0 : Fill.getAsInt(0);
  if (IntValue < std::numeric_limits<int32_t>::min() ||
      IntValue > std::numeric_limits<int32_t>::max())
    return opError(fmt::format("the pad value {} does not fit in 32 bits, "
                               "which the kernel needs",
                               IntValue));
  std::vector<int64_t> InStrides = stridesOf(XT.Dims);
  Shape Dims, Kept, Before;
  std::vector<int64_t> Strides;
  int64_t Base = 0;
  for (size_t D = 0; D < P->Axes.size(); ++D) {
    const AxisPad &A = P->Axes[D];
    Dims.push_back(A.Before + A.Kept + A.After);
    Kept.push_back(A.Kept);
    Before.push_back(A.Before);
    Strides.push_back(InStrides[D]);
    Base += A.Lo * InStrides[D];
  }
  if (Dims.empty()) { // a scalar: one kept element
    Dims = Kept = {1};
    Before = {0};
    Strides = {1};
  }
  C.Header = "mote_rt/tensor.h";
  C.Kernel = "pad";
  C.TypeArgs = {XT.Elem};
  C.setParams(kparams::PadP{.Rank = int64_t(Dims.size()),
                            .Mode = int64_t(P->Mode),
                            .Value = double(Value),
                            .IntValue = IntValue,
                            .Base = Base,
                            .Dims = Dims,
                            .Kept = Kept,
                            .Before = Before,
                            .Strides = Strides});
  return ok();
}

} // namespace

extern const OpDef OpDef_Pad = {
    .Name = "Pad",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = PadAttrs,
    .Infer = inferPad,
    .Kernel = kernelPad,
    .Macs = nullptr,
    .Grad = gradPad,
    // Not OpFlagDataMovement: constant mode writes `value`, which is not an
    // element of the input.
    .Flags = OpFlagNone,
    .Summary = "pads (or crops, if negative) each dim by `pads` in `mode`",
    .Lower = lowerPad,
};

} // namespace mote
