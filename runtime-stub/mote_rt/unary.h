//===- unary.h - Elementwise unary kernels and Cast -------------*- C++ -*-===//
//
// Y[i] = f(X[i]) over N elements for the activations and elementwise math of
// compiler/ops/math/Unary.cpp, and Cast (compiler/ops/math/Cast.cpp). Each
// kernel evaluates the same expression, in the same element type, as the
// interpreter; the transcendental functions come from mote_rt/math.h
// (within a few ulp of libm). X and Y may be the same buffer.
//
// Float-only kernels take T = float or double; relu, neg, abs and
// clip_int also take the integer types (neg and abs wrap around on the most
// negative value, as two's complement hardware does); identity and cast take
// every element type (bool too).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_UNARY_H
#define MOTE_RT_UNARY_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace unary_detail {

template <class T, class F>
MOTE_RT_INLINE void map(int32_t N, const T *X, T *Y, F Fn) {
  for (int32_t I = 0; I < N; ++I)
    Y[I] = Fn(X[I]);
}

/// 1 / (1 + e^-v), as sigmoid computes it.
template <class T> MOTE_RT_INLINE T sigmoidOf(T V) {
  return T(1) / (T(1) + mote_rt::exp(-V));
}

/// -V, wrapping around for the most negative integer.
template <class T> MOTE_RT_INLINE T negate(T V) {
  if constexpr (IsFloatType<T>)
    return -V;
  else if constexpr (sizeof(T) == 8)
    return T(uint64_t(0) - uint64_t(V));
  else
    return T(uint32_t(0) - uint32_t(V));
}

/// v < 0 ? -v : v (so abs(-0.0) is -0.0, as in the interpreter).
template <class T> MOTE_RT_INLINE T absValue(T V) {
  return V < T(0) ? negate(V) : V;
}

/// An integer element widened to a type that also holds every int32_t.
template <class T> MOTE_RT_INLINE auto widen(T V) {
  if constexpr (sizeof(T) == 8)
    return int64_t(V);
  else
    return int32_t(V);
}

/// std::clamp(V, 0, 1): NaN stays NaN.
template <class T> MOTE_RT_INLINE T clamp01(T V) {
  return V < T(0) ? T(0) : (T(1) < V ? T(1) : V);
}

template <class T> inline constexpr bool IsBool = false;
template <> inline constexpr bool IsBool<bool> = true;

/// Converts one element as Cast does (see compiler/ops/math/Cast.cpp).
template <class To, class From> MOTE_RT_INLINE To convert(From V) {
  if constexpr (IsSameType<To, From>) {
    return V;
  } else if constexpr (IsBool<To>) {
    return V != From(0); // NaN is true
  } else if constexpr (IsBool<From>) {
    return V ? To(1) : To(0);
  } else if constexpr (IsFloatType<From> && !IsFloatType<To>) {
    // Truncation toward zero, saturating; NaN becomes 0. The limits are
    // exact in From except the highest of i32 (float) and i64, which round
    // up to a power of two, so `>=` still catches every value that does not
    // fit.
    if (!(V == V))
      return To(0);
    if (V <= From(IntLimits<To>::Lowest))
      return IntLimits<To>::Lowest;
    if (V >= From(IntLimits<To>::Max))
      return IntLimits<To>::Max;
    return To(V);
  } else {
    // Integer to integer wraps (modulo 2^bits); to float rounds to nearest.
    return static_cast<To>(V);
  }
}

} // namespace unary_detail

/// max(x, 0).
template <class T> MOTE_RT_KERNEL void relu(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return V > T(0) ? V : T(0); });
}

template <class T>
MOTE_RT_KERNEL void leaky_relu(const LeakyReluP &P, const T *X, T *Y) {
  T Alpha = T(P.Alpha);
  unary_detail::map(P.N, X, Y, [Alpha](T V) MOTE_RT_LAMBDA {
    return V >= T(0) ? V : T(Alpha * V);
  });
}

/// Float tensors; absent bounds compare as -inf / +inf, like the
/// interpreter's.
template <class T> MOTE_RT_KERNEL void clip(const ClipP &P, const T *X, T *Y) {
  T Lo = P.HasMin ? T(P.Min) : -infinity<T>();
  T Hi = P.HasMax ? T(P.Max) : infinity<T>();
  unary_detail::map(P.N, X, Y, [Lo, Hi](T V) MOTE_RT_LAMBDA {
    if (V < Lo)
      return Lo;
    if (V > Hi)
      return Hi;
    return V;
  });
}

/// Integer tensors (i8, u8, i32, i64).
template <class T>
MOTE_RT_KERNEL void clip_int(const ClipIntP &P, const T *X, T *Y) {
  // The bounds may lie outside T's range (u8 with MaxAbove = -1 clamps
  // everything), so compare in a type holding both.
  unary_detail::map(P.N, X, Y, [&P](T V) MOTE_RT_LAMBDA {
    if (P.HasMin && unary_detail::widen(V) < P.MinBelow)
      return T(P.MinValue);
    if (P.HasMax && unary_detail::widen(V) > P.MaxAbove)
      return T(P.MaxValue);
    return V;
  });
}

/// 1 / (1 + e^-x).
template <class T>
MOTE_RT_KERNEL void sigmoid(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y, [](T V) MOTE_RT_LAMBDA {
    return unary_detail::sigmoidOf(V);
  });
}

template <class T> MOTE_RT_KERNEL void tanh(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return mote_rt::tanh(V); });
}

/// clamp(Alpha x + Beta, 0, 1).
template <class T>
MOTE_RT_KERNEL void hard_sigmoid(const HardSigmoidP &P, const T *X, T *Y) {
  T Alpha = T(P.Alpha), Beta = T(P.Beta);
  unary_detail::map(P.N, X, Y, [Alpha, Beta](T V) MOTE_RT_LAMBDA {
    return unary_detail::clamp01(T(Alpha * V + Beta));
  });
}

/// x clamp(x / 6 + 1/2, 0, 1).
template <class T>
MOTE_RT_KERNEL void hard_swish(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y, [](T V) MOTE_RT_LAMBDA {
    return T(V * unary_detail::clamp01(T(V / T(6) + T(0.5))));
  });
}

template <class T> MOTE_RT_KERNEL void exp(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return mote_rt::exp(V); });
}

template <class T> MOTE_RT_KERNEL void log(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return mote_rt::log(V); });
}

template <class T> MOTE_RT_KERNEL void sqrt(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return mote_rt::sqrt(V); });
}

template <class T> MOTE_RT_KERNEL void neg(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return unary_detail::negate(V); });
}

/// x < 0 ? -x : x (so abs(-0.0) is -0.0, as in the interpreter).
template <class T> MOTE_RT_KERNEL void abs(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return unary_detail::absValue(V); });
}

template <class T>
MOTE_RT_KERNEL void reciprocal(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y, [](T V) MOTE_RT_LAMBDA { return T(T(1) / V); });
}

template <class T> MOTE_RT_KERNEL void erf(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y,
                    [](T V) MOTE_RT_LAMBDA { return mote_rt::erf(V); });
}

/// x/2 (1 + erf(x / sqrt 2)).
template <class T> MOTE_RT_KERNEL void gelu(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y, [](T V) MOTE_RT_LAMBDA {
    return T(T(0.5) * V * (T(1) + mote_rt::erf(T(V * T(0.7071067811865476)))));
  });
}

/// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T>
MOTE_RT_KERNEL void gelu_tanh(const UnaryP &P, const T *X, T *Y) {
  unary_detail::map(P.N, X, Y, [](T V) MOTE_RT_LAMBDA {
    T C = T(0.7978845608028654);
    return T(T(0.5) * V *
             (T(1) + mote_rt::tanh(T(C * (V + T(0.044715) * V * V * V)))));
  });
}

/// A copy (any element type).
template <class T>
MOTE_RT_KERNEL void identity(const UnaryP &P, const T *X, T *Y) {
  if (X != Y)
    copy(X, Y, P.N);
}

/// Element type conversion From -> To, as compiler/ops/math/Cast.cpp
/// describes: to bool x != 0; from bool 0 / 1; float to integer truncates,
/// saturates and maps NaN to 0; integer to integer wraps.
template <class From, class To>
MOTE_RT_KERNEL void cast(const UnaryP &P, const From *X, To *Y) {
  for (int32_t I = 0; I < P.N; ++I)
    Y[I] = unary_detail::convert<To>(X[I]);
}

} // namespace mote_rt

#endif // MOTE_RT_UNARY_H
