//===- quant.h - Quantize and dequantize kernels ----------------*- C++ -*-===//
//
// The kernels of QuantizeLinear and DequantizeLinear
// (compiler/ops/quant/Quantize.cpp), bit for bit the semantics
// compiler/Quant.h states:
//
//   quantize_linear<T>   q = saturate(round_half_even(x / s) + z), T i8/u8;
//                        NaN gives z, +-inf saturate
//   dequantize_linear<T> x = float(q - z) * s, T i8/u8/i32
//
// The tensor is viewed as [Outer, Channels, Inner] with (s, z) =
// (Scale[c], ZeroPoint[c]) for channel c (QuantP). Rounding is done without
// libm: for |r| < 2^22, (r + 1.5 * 2^23) - 1.5 * 2^23 is r rounded to an
// integer in the FPU's default mode, to nearest with ties to even (the sum
// lies in [2^23, 2^24), where the float spacing is 1). Like math.h, this
// must not be compiled with -ffast-math, which may fold the two additions
// or turn x / s into x * (1 / s).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_QUANT_H
#define MOTE_RT_QUANT_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace quant_detail {

/// round_half_even(P / 2^S) for S in [0, 62], |P| < 2^62: the rounding of
/// compiler/Quant.h's requantize, written once for the integer kernels
/// (qlinear.h, qpool.h).
MOTE_RT_INLINE int64_t roundShift(int64_t P, int32_t S) {
  if (S == 0)
    return P;
  // floor((P + 2^(S-1) - 1 + q0 % 2) / 2^S) with q0 = floor(P / 2^S): a
  // remainder above half carries, below half does not, exactly half
  // carries when q0 is odd (ties to even). |P| < 2^62: no overflow.
  const int64_t Odd = (P >> S) & 1;
  return (P + ((int64_t(1) << (S - 1)) - 1) + Odd) >> S;
}

/// R rounded to the nearest integer, ties to even; |R| <= 2^22.
MOTE_RT_INLINE float roundHalfEven(float R) {
  constexpr float Magic = 12582912.0f; // 1.5 * 2^23
  return (R + Magic) - Magic;
}

/// x quantized with scale S and zero point Z into T (i8 or u8).
template <class T> MOTE_RT_INLINE T quantize(float X, float S, int32_t Z) {
  static_assert(sizeof(T) == 1, "quantize_linear writes i8 or u8");
  float R = X / S;
  // NaN (R != R) becomes 0; beyond +-2^22 the result saturates anyway.
  constexpr float Bound = 4194304.0f; // 2^22
  R = R != R ? 0.0f : R < -Bound ? -Bound : R > Bound ? Bound : R;
  int32_t Q = int32_t(roundHalfEven(R)) + Z;
  constexpr int32_t Lo = IntLimits<T>::Lowest, Hi = IntLimits<T>::Max;
  return T(Q < Lo ? Lo : Q > Hi ? Hi : Q);
}

/// q dequantized with scale S and zero point Z; q - Z is exact (64-bit for
/// i32 tensors).
template <class T> MOTE_RT_INLINE float dequantize(T Q, float S, int32_t Z) {
  if constexpr (sizeof(T) < 4)
    return float(int32_t(Q) - Z) * S;
  else
    return float(int64_t(Q) - int64_t(Z)) * S;
}

} // namespace quant_detail

namespace quant_detail {

/// Calls F(Base, S, Z) for each run of Inner elements of [Outer, Channels,
/// Inner] at element Base, with its channel's scale S and zero point Z.
template <class Fn> MOTE_RT_INLINE void forEachRun(const QuantP &P, Fn F) {
  for (int32_t O = 0; O < P.Outer; ++O)
    for (int32_t C = 0; C < P.Channels; ++C)
      F((O * P.Channels + C) * P.Inner, P.Scale[C], P.ZeroPoint[C]);
}

} // namespace quant_detail

/// Y = X quantized into T, per channel of [Outer, Channels, Inner].
template <class T>
MOTE_RT_KERNEL void quantize_linear(const QuantP &P, const float *X, T *Y) {
  quant_detail::forEachRun(
      P, [&](int32_t Base, float S, int32_t Z) MOTE_RT_LAMBDA {
        for (int32_t I = 0; I < P.Inner; ++I)
          Y[Base + I] = quant_detail::quantize<T>(X[Base + I], S, Z);
      });
}

/// Y = X dequantized to float, per channel of [Outer, Channels, Inner].
template <class T>
MOTE_RT_KERNEL void dequantize_linear(const QuantP &P, const T *X, float *Y) {
  quant_detail::forEachRun(
      P, [&](int32_t Base, float S, int32_t Z) MOTE_RT_LAMBDA {
        for (int32_t I = 0; I < P.Inner; ++I)
          Y[Base + I] = quant_detail::dequantize(X[Base + I], S, Z);
      });
}

} // namespace mote_rt

#endif // MOTE_RT_QUANT_H
