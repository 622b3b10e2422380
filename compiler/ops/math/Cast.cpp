//===- Cast.cpp - Element type conversion ---------------------------------===//
//
// cast(x; to) converts every element to the element type named by `to` (a
// mote type name: "f32", "f64", "i8", "u8", "i32", "i64", "bool"; the
// importer maps ONNX's TensorProto type numbers). The shape is unchanged.
// Conversions, for every pair of types:
//   - to bool: x != 0 (so NaN is true); from bool: 0 or 1;
//   - float to integer: truncation toward zero, saturating at the limits of
//     the target type; NaN becomes 0 (C++ leaves these undefined);
//   - integer to another integer type: the value modulo 2^bits (wraps, as
//     numpy does; u8 255 -> i8 -1);
//   - f64 to f32: IEEE rounding to nearest, overflowing to +-inf;
//   - integer to float: the nearest representable value.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/math/MathLower.h"

#include <cmath>
#include <limits>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

static_assert(std::numeric_limits<float>::is_iec559 &&
                  std::numeric_limits<double>::is_iec559,
              "f64 -> f32 overflow relies on IEEE 754 semantics");

/// Converts one element as described in the file comment.
template <class To, class From> To convertElement(From V) {
  if constexpr (std::is_same_v<To, From>) {
    return V;
  } else if constexpr (std::is_same_v<To, bool>) {
    return V != From(0);
  } else if constexpr (std::is_same_v<From, bool>) {
    return V ? To(1) : To(0);
  } else if constexpr (std::is_floating_point_v<From> &&
                       std::is_integral_v<To>) {
    double D = double(V);
    if (std::isnan(D))
      return To(0);
    // Both limits are exact in double except INT64_MAX, which rounds up to
    // 2^63; `>=` then still catches every value that does not fit.
    if (D <= double(std::numeric_limits<To>::lowest()))
      return std::numeric_limits<To>::lowest();
    if (D >= double(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    return To(D);
  } else {
    return static_cast<To>(V);
  }
}

Expected<DType> targetType(const Node &N) {
  std::string To = N.attrs().getString("to", "");
  std::optional<DType> T = parseDType(To);
  if (!T)
    return opError(fmt::format("to must be one of f32, f64, i8, u8, i32, i64, "
                               "bool, got \"{}\"",
                               To));
  return *T;
}

Expected<TypeList> inferCast(const Node &N) {
  Expected<DType> T = targetType(N);
  if (!T)
    return T.takeError();
  return TypeList{TensorType(*T, N.inType(0).Dims)};
}

Status kernelCast(const Node &, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  return dispatchDType(X.dtype(), [&](auto FromTag) -> Status {
    using From = decltype(FromTag);
    return dispatchDType(Y.dtype(), [&](auto ToTag) -> Status {
      using To = decltype(ToTag);
      auto Src = X.data<From>();
      auto Dst = Y.data<To>();
      for (size_t I = 0; I < Src.size(); ++I)
        Dst[I] = convertElement<To>(Src[I]);
      return ok();
    });
  });
}

constexpr AttrSpec CastAttrs[] = {{"to", AttrKind::String, true}};

/// Between float types the gradient is cast back; casts to or from
/// integers carry no gradient (autodiff never asks: integers need none).
Status gradCast(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0) || !isFloat(DY->type().Elem))
    return ok();
  AttrMap A;
  A.set("to", std::string(dtypeName(N.inType(0).Elem)));
  Expected<Value *> DX = Ctx.emit1(OpKind::Cast, {DY}, A);
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// mote_rt::cast<From, To>(UnaryP{N}, x, y) (unary.h), for every pair of
// element types; it converts as convertElement does.
Status lowerCast(const Node &N, KernelCall &C) {
  Expected<int64_t> Count =
      lowerElementwise(N, C, "mote_rt/unary.h", "cast",
                       {N.inType(0).Elem, N.outType(0).Elem});
  return Count ? ok() : Count.takeError();
}

} // namespace

extern const OpDef OpDef_Cast = {
    .Name = "Cast",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = CastAttrs,
    .Infer = inferCast,
    .Kernel = kernelCast,
    .Macs = nullptr,
    .Grad = gradCast,
    // Cast is elementwise too, but it changes the element type, which passes
    // may not expect of an OpFlagElementwise op; and casts between float
    // types are differentiable.
    .Flags = OpFlagNone,
    .Summary = "each element converted to the type `to` (saturating)",
    .Lower = lowerCast,
};

} // namespace mote
