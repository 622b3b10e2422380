//===- QuantOps.cpp - Checks the integer ops share ------------------------===//

#include "compiler/ops/quant/QuantOps.h"
#include "compiler/Quant.h"

namespace mote {

Status requireQuantOperand(const Node &N, size_t I, std::string_view Name,
                           int64_t Axis) {
  const TensorType &T = N.inType(I);
  if (T.Elem != DType::I8 && T.Elem != DType::U8)
    return opError(fmt::format("{} must be i8 or u8, got {}", Name, T.str()));
  if (!T.isQuantized())
    return opError(fmt::format("{} {} has no quantization parameters (its "
                               "zero point and scale)",
                               Name, T.str()));
  if (T.Quant->perAxis() && T.Quant->Axis != Axis)
    return opError(
        Axis < 0
            ? fmt::format("{} {} must be quantized per tensor", Name, T.str())
            : fmt::format("{} {} is quantized along axis {}; per-channel "
                          "parameters must be along axis {}",
                          Name, T.str(), T.Quant->Axis, Axis));
  return ok();
}

int64_t largestTerm(const TensorType &T) {
  int64_t R = 0;
  for (int32_t Z : T.Quant->ZeroPoint)
    R = std::max({R, Z - quantMin(T.Elem), quantMax(T.Elem) - Z});
  return R;
}

Expected<QuantResult> quantResult(const Node &N, DType To, const Shape &Dims) {
  const AttrMap &A = N.attrs();
  std::vector<float> Scale = A.getFloats("scale", {});
  std::vector<int64_t> Zp = A.getInts("zero_point", {});
  if (Scale.size() != 1 || Zp.size() != 1)
    return opError(fmt::format("an {} result takes one scale and one zero "
                               "point (got {} and {})",
                               dtypeName(To), Scale.size(), Zp.size()));
  if (Zp[0] < INT32_MIN || Zp[0] > INT32_MAX)
    return opError(fmt::format("zero point {} is not a 32-bit integer", Zp[0]));
  QuantResult R{TensorType(To, Dims, QuantParams{-1, Scale, {int32_t(Zp[0])}}),
                quantMin(To), quantMax(To)};
  if (std::string Why = R.Out.invalidReason(); !Why.empty())
    return opError(Why);
  if (A.has("clamp")) {
    std::vector<int64_t> Cl = A.getInts("clamp", {});
    if (Cl.size() != 2 || Cl[0] > Cl[1])
      return opError("clamp must be [lo, hi] with lo <= hi");
    R.YMin = std::max(R.YMin, Cl[0]);
    R.YMax = std::min(R.YMax, Cl[1]);
    if (R.YMin > R.YMax)
      return opError(fmt::format("clamp [{}, {}] leaves nothing of the range "
                                 "of {}",
                                 Cl[0], Cl[1], dtypeName(To)));
  }
  return R;
}

} // namespace mote
