//===- Quant.cpp - The integer semantics of quantized tensors -------------===//

#include "compiler/Quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <fmt/format.h>

namespace mote {

int64_t quantMin(DType T) {
  switch (T) {
  case DType::I8:
    return -128;
  case DType::U8:
    return 0;
  case DType::I32:
    return INT32_MIN;
  default:
    assert(false && "not a quantizable type");
    return 0;
  }
}

int64_t quantMax(DType T) {
  switch (T) {
  case DType::I8:
    return 127;
  case DType::U8:
    return 255;
  case DType::I32:
    return INT32_MAX;
  default:
    assert(false && "not a quantizable type");
    return 0;
  }
}

int32_t quantizeValue(float X, float Scale, int32_t ZeroPoint, int64_t QMin,
                      int64_t QMax) {
  float R = X / Scale;
  if (std::isnan(R))
    R = 0;
  // Beyond 2^62 every result saturates anyway (also for i32); the bound
  // keeps the int64 arithmetic below exact.
  R = std::clamp(R, -0x1p62f, 0x1p62f);
  int64_t Q = int64_t(std::nearbyint(R)) + ZeroPoint; // ties to even
  return int32_t(std::clamp(Q, QMin, QMax));
}

float dequantizeValue(int64_t Q, float Scale, int32_t ZeroPoint) {
  return float(Q - ZeroPoint) * Scale;
}

Expected<FixedMultiplier> fixedMultiplier(double M) {
  if (!std::isfinite(M) || M <= 0)
    return Diag(fmt::format("requantization multiplier {} is not a finite "
                            "number > 0",
                            M));
  int E = 0;
  double F = std::frexp(M, &E); // M = F * 2^E, F in [0.5, 1)
  auto Mult = int64_t(std::nearbyint(std::ldexp(F, 31)));
  if (Mult == (int64_t(1) << 31)) { // F rounded up to 1
    Mult /= 2;
    ++E;
  }
  // M ~ Mult * 2^(E - 31).
  int Shift = 31 - E;
  if (Shift < 0)
    return Diag(fmt::format("requantization multiplier {} is 2^31 or more", M));
  // |Acc * Mult| < 2^62: beyond a shift of 62 everything rounds to 0.
  if (Shift > 62)
    return FixedMultiplier{};
  return FixedMultiplier{int32_t(Mult), int32_t(Shift)};
}

int64_t roundShift(int64_t P, int32_t Shift) {
  if (Shift == 0)
    return P;
  int64_t Q = P >> Shift; // floor
  uint64_t Rem = uint64_t(P) & ((uint64_t(1) << Shift) - 1);
  uint64_t Half = uint64_t(1) << (Shift - 1);
  if (Rem > Half || (Rem == Half && (Q & 1)))
    ++Q;
  return Q;
}

int64_t requantize(int32_t Acc, FixedMultiplier F) {
  return roundShift(int64_t(Acc) * F.Multiplier, F.Shift);
}

Expected<SumMultipliers> sumMultipliers(double Ra, double Rb) {
  for (double R : {Ra, Rb})
    if (Expected<FixedMultiplier> F = fixedMultiplier(R); !F)
      return F.takeError();
  Expected<FixedMultiplier> F = fixedMultiplier(std::max(Ra, Rb));
  if (F->Multiplier == 0)
    return SumMultipliers{};
  auto At = [&](double R) {
    return R == std::max(Ra, Rb)
               ? F->Multiplier
               : int32_t(std::nearbyint(std::ldexp(R, F->Shift)));
  };
  return SumMultipliers{At(Ra), At(Rb), F->Shift};
}

double accumulatorScale(const TensorType &X, const TensorType &W, int64_t C) {
  return double(X.Quant->scaleAt(0)) * double(W.Quant->scaleAt(C));
}

bool isAccumulatorUnit(float Scale, int32_t ZeroPoint, double Unit) {
  return ZeroPoint == 0 && std::fabs(double(Scale) - Unit) <= 1e-6 * Unit;
}

QuantLayout quantLayout(const TensorType &T) {
  QuantLayout L;
  if (!T.Quant || !T.Quant->perAxis()) {
    L.Inner = T.numElements();
    return L;
  }
  size_t Axis = size_t(T.Quant->Axis);
  for (size_t D = 0; D < T.Dims.size(); ++D) {
    if (D < Axis)
      L.Outer *= T.Dims[D];
    else if (D > Axis)
      L.Inner *= T.Dims[D];
  }
  L.Channels = T.Dims[Axis];
  return L;
}

Tensor dequantizeTensor(const Tensor &Q) {
  const TensorType &T = Q.type();
  assert(T.isQuantized() && "dequantizeTensor of an unquantized tensor");
  Tensor R(TensorType(DType::F32, T.Dims));
  QuantLayout L = quantLayout(T);
  auto P = R.data<float>();
  for (int64_t I = 0; I < R.numElements(); ++I) {
    size_t C = size_t((I / L.Inner) % L.Channels);
    P[size_t(I)] =
        dequantizeValue(Q.getAsInt(I), T.Quant->Scale[C], T.Quant->ZeroPoint[C]);
  }
  return R;
}

std::pair<int64_t, int64_t> codeInterval(const TensorType &T,
                                         std::optional<double> Below,
                                         std::optional<double> Above) {
  assert(T.isQuantized() && !T.Quant->perAxis() && "one scale");
  int64_t Min = quantMin(T.Elem), Max = quantMax(T.Elem);
  float S = T.Quant->Scale[0];
  int32_t Z = T.Quant->ZeroPoint[0];
  auto Real = [&](int64_t Q) { return double(dequantizeValue(Q, S, Z)); };
  int64_t Lo = Min - 1, Hi = Max + 1;
  if (Below)
    while (Lo < Max && Real(Lo + 1) <= *Below)
      ++Lo;
  if (Above)
    while (Hi > Min && Real(Hi - 1) >= *Above)
      --Hi;
  return {Lo, Hi};
}

} // namespace mote
