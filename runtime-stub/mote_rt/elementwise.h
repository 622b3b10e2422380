//===- elementwise.h - Elementwise kernels ---------------------*- C++ -*-===//
//
// Binary ops with numpy broadcasting (Add, Sub, Mul, Div, Pow).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_ELEMENTWISE_H
#define MOTE_RT_ELEMENTWISE_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace detail {
template <class T, class F>
MOTE_RT_INLINE void broadcastApply(const BroadcastP &P, const T *A, const T *B,
                                   T *Y, F Fn) {
  forEachBroadcast(P.Rank, P.Dims, P.SA, P.SB,
                   [&](int32_t I, int32_t OA, int32_t OB)
                       MOTE_RT_LAMBDA { Y[I] = Fn(A[OA], B[OB]); });
}
} // namespace detail

template <class T>
MOTE_RT_KERNEL void add(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y,
                         [](T X, T Z) MOTE_RT_LAMBDA { return T(X + Z); });
}
template <class T>
MOTE_RT_KERNEL void sub(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y,
                         [](T X, T Z) MOTE_RT_LAMBDA { return T(X - Z); });
}
template <class T>
MOTE_RT_KERNEL void mul(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y,
                         [](T X, T Z) MOTE_RT_LAMBDA { return T(X * Z); });
}
/// Integer division truncates; the interpreter's x / -1 special case is kept
/// so INT_MIN / -1 is no trap. Division by an integer zero is rejected before
/// code generation only for constants; at run time it yields 0.
template <class T>
MOTE_RT_KERNEL void div(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y, [](T X, T Z) MOTE_RT_LAMBDA {
    if constexpr (T(0.5) == T(0)) { // integer
      if (Z == 0)
        return T(0);
      if (T(-1) < T(0) && Z == T(-1))
        return T(T(0) - X);
    }
    return T(X / Z);
  });
}

namespace detail {
/// One element of pow: A^B as the interpreter computes it, pow(double(A),
/// double(B)) rounded to T, with the double power only where it is needed:
/// float ^ float (and float ^ any exponent that is exactly a float) uses
/// the float pow of math.h, which rounds a value accurate to ~2^-45.
/// Integer results that are not finite or beyond +-9.2e18 give 0, as in
/// the interpreter; a result beyond T's range wraps (the interpreter's
/// conversion is undefined there).
template <class T, class TB> MOTE_RT_INLINE T powElement(T A, TB B) {
  if constexpr (IsSameType<T, float> && IsSameType<TB, float>) {
    return mote_rt::pow(A, B);
  } else if constexpr (IsSameType<T, float>) {
    double Y = double(B);
    float YF = float(Y);
    if (double(YF) == Y)
      return mote_rt::pow(A, YF);
    return float(mote_rt::pow(double(A), Y));
  } else if constexpr (IsSameType<T, double>) {
    return mote_rt::pow(A, double(B));
  } else {
    double R = mote_rt::pow(double(A), double(B));
    if (!(R - R == 0.0) || R > 9.2e18 || R < -9.2e18)
      return T(0);
    return T(int64_t(R));
  }
}
} // namespace detail

/// A ^ B with broadcasting; the exponent may have another element type
/// (TB) than the base and the result (T). Floats follow C99 pow (negative
/// bases only with integer exponents); integers as powElement says.
template <class T, class TB>
MOTE_RT_KERNEL void pow(const BroadcastP &P, const T *A, const TB *B, T *Y) {
  forEachBroadcast(P.Rank, P.Dims, P.SA, P.SB,
                   [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
                     Y[I] = detail::powElement<T, TB>(A[OA], B[OB]);
                   });
}

} // namespace mote_rt

#endif // MOTE_RT_ELEMENTWISE_H
