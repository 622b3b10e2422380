//===- Quantize.cpp - QuantizeLinear and DequantizeLinear -----------------===//
//
// The two ops at the border between float and quantized tensors, with the
// semantics compiler/Quant.h states once:
//
//   QuantizeLinear(x: f32) {to, scale, zero_point[, axis]} : i8|u8<...>
//     q = saturate(round_half_even(x / scale) + zero_point); the result's
//     type carries the quantization parameters, per tensor (one scale and
//     zero point) or, with `axis`, one pair per index along that dim.
//   DequantizeLinear(q: i8|u8|i32<...>) : f32
//     x = float(q - zero_point) * scale, with the parameters of q's type.
//
// Gradients are taken with respect to real values (compiler/GradContext.h:
// the gradient of a quantized value is f32, for the real value it stands
// for), so both pass the gradient through unchanged. For QuantizeLinear that
// is the straight-through estimator: rounding counts as the identity, and
// so does saturation (the rule reads nothing of the forward pass, so the
// backward keeps no float copy of the quantized tensor; PyTorch's fake
// quantization instead zeroes the gradient where the input saturated).
//
// Lowering: mote_rt::quantize_linear<T> / dequantize_linear<T>(QuantP, x,
// y) (runtime-stub/mote_rt/quant.h), the tensor viewed as [Outer,
// Channels, Inner] with the scales and zero points as tables.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/Quant.h"
#include "compiler/ops/OpUtils.h"

#include <cstdint>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The quantization parameters QuantizeLinear's attributes give a tensor of
/// shape \p Dims.
Expected<QuantParams> attrQuantParams(const Node &N, const Shape &Dims) {
  const AttrMap &A = N.attrs();
  QuantParams Q;
  Q.Scale = A.getFloats("scale", {});
  for (int64_t Z : A.getInts("zero_point", {})) {
    if (Z < INT32_MIN || Z > INT32_MAX)
      return opError(fmt::format("zero point {} is not a 32-bit integer", Z));
    Q.ZeroPoint.push_back(int32_t(Z));
  }
  if (A.has("axis")) {
    int64_t Axis = A.getInt("axis", 0);
    std::optional<int64_t> Norm = normalizeAxis(Axis, int64_t(Dims.size()));
    if (!Norm)
      return opError(fmt::format("axis {} is out of range for rank {}", Axis,
                                 Dims.size()));
    Q.Axis = int32_t(*Norm);
  }
  if (Q.Scale.size() != Q.ZeroPoint.size())
    return opError(fmt::format("{} scales but {} zero points", Q.Scale.size(),
                               Q.ZeroPoint.size()));
  size_t Want = Q.perAxis() ? size_t(Dims[size_t(Q.Axis)]) : 1;
  if (Q.Scale.size() != Want)
    return opError(
        Q.perAxis()
            ? fmt::format("{} scales for the {} indices of axis {}",
                          Q.Scale.size(), Want, Q.Axis)
            : fmt::format("{} scales without an axis (one scale quantizes "
                          "the whole tensor; several need `axis`)",
                          Q.Scale.size()));
  return Q;
}

Expected<TypeList> inferQuantize(const Node &N) {
  const TensorType &X = N.inType(0);
  if (X.Elem != DType::F32)
    return opError(fmt::format("quantizes f32 tensors, not {}", X.str()));
  std::string To = N.attrs().getString("to", "");
  std::optional<DType> T = parseDType(To);
  if (!T || (*T != DType::I8 && *T != DType::U8))
    return opError(fmt::format("to must be \"i8\" or \"u8\", got \"{}\"", To));
  Expected<QuantParams> Q = attrQuantParams(N, X.Dims);
  if (!Q)
    return Q.takeError();
  TensorType R(*T, X.Dims, std::move(*Q));
  if (std::string Why = R.invalidReason(); !Why.empty())
    return opError(Why);
  return TypeList{std::move(R)};
}

Expected<TypeList> inferDequantize(const Node &N) {
  const TensorType &X = N.inType(0);
  if (!X.isQuantized())
    return opError(fmt::format("operand {} has no quantization parameters; "
                               "DequantizeLinear reads its scale and zero "
                               "point from the operand's type",
                               X.str()));
  return TypeList{TensorType(DType::F32, X.Dims)};
}

/// Calls \p F(Index, Scale, ZeroPoint) for every element of a tensor of
/// quantized type \p T, in row-major order.
template <class Fn> void forEachQuantized(const TensorType &T, Fn &&F) {
  QuantLayout L = quantLayout(T);
  int64_t I = 0;
  for (int64_t O = 0; O < L.Outer; ++O)
    for (int64_t C = 0; C < L.Channels; ++C)
      for (int64_t K = 0; K < L.Inner; ++K, ++I)
        F(I, T.Quant->Scale[size_t(C)], T.Quant->ZeroPoint[size_t(C)]);
}

Status kernelQuantize(const Node &, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  auto X = In[0]->data<float>();
  Tensor &Y = Out[0];
  int64_t Lo = quantMin(Y.dtype()), Hi = quantMax(Y.dtype());
  forEachQuantized(Y.type(), [&](int64_t I, float S, int32_t Z) {
    Y.setFromDouble(I, quantizeValue(X[size_t(I)], S, Z, Lo, Hi));
  });
  return ok();
}

Status kernelDequantize(const Node &, std::span<const Tensor *const> In,
                        std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  auto Y = Out[0].data<float>();
  forEachQuantized(X.type(), [&](int64_t I, float S, int32_t Z) {
    Y[size_t(I)] = dequantizeValue(X.getAsInt(I), S, Z);
  });
  return ok();
}

/// Both ops: the result's gradient is the operand's.
Status gradPassThrough(GradContext &Ctx, const Node &) {
  if (Value *G = Ctx.outputGrad(0); G && Ctx.needsGrad(0))
    return Ctx.addInputGrad(0, G);
  return ok();
}

/// QuantP for quantized type \p T.
Expected<kparams::QuantP> quantParams(const TensorType &T) {
  if (T.numElements() > int64_t(INT32_MAX))
    return opError(fmt::format("{} has more than 2^31 - 1 elements, the "
                               "kernels' 32-bit index limit",
                               T.str()));
  QuantLayout L = quantLayout(T);
  return kparams::QuantP{.Outer = L.Outer,
                         .Channels = L.Channels,
                         .Inner = L.Inner,
                         .Scale = T.Quant->Scale,
                         .ZeroPoint = T.Quant->ZeroPoint};
}

// mote_rt::quantize_linear<T>(QuantP, x, y)
Status lowerQuantize(const Node &N, KernelCall &C) {
  Expected<kparams::QuantP> P = quantParams(N.outType(0));
  if (!P)
    return P.takeError();
  C.Header = "mote_rt/quant.h";
  C.Kernel = "quantize_linear";
  C.TypeArgs = {N.outType(0).Elem};
  C.setParams(*P);
  return ok();
}

// mote_rt::dequantize_linear<T>(QuantP, q, x)
Status lowerDequantize(const Node &N, KernelCall &C) {
  Expected<kparams::QuantP> P = quantParams(N.inType(0));
  if (!P)
    return P.takeError();
  C.Header = "mote_rt/quant.h";
  C.Kernel = "dequantize_linear";
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(*P);
  return ok();
}

constexpr AttrSpec QuantizeAttrs[] = {
    {"to", AttrKind::String, true},
    {"scale", AttrKind::Floats, true},
    {"zero_point", AttrKind::Ints, true},
    {"axis", AttrKind::Int},
};

} // namespace

extern const OpDef OpDef_QuantizeLinear = {
    .Name = "QuantizeLinear",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = QuantizeAttrs,
    .Infer = inferQuantize,
    .Kernel = kernelQuantize,
    .Grad = gradPassThrough,
    .Summary = "x / scale rounded half to even, plus the zero point, "
               "saturated to `to` (i8 or u8); per tensor or along `axis`",
    .Lower = lowerQuantize,
};

extern const OpDef OpDef_DequantizeLinear = {
    .Name = "DequantizeLinear",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = {},
    .Infer = inferDequantize,
    .Kernel = kernelDequantize,
    .Grad = gradPassThrough,
    .Flags = OpFlagQuantAware,
    .Summary = "float(q - zero point) * scale, with the parameters of the "
               "operand's quantized type",
    .Lower = lowerDequantize,
};

} // namespace mote
