//===- elementwise.h - Elementwise kernels ---------------------*- C++ -*-===//
//
// Binary ops with numpy broadcasting (Add, Sub, Mul, Div, Pow).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_ELEMENTWISE_H
#define MOTE_RT_ELEMENTWISE_H

#include "mote_rt/core.h"

namespace mote_rt {

/// Result of rank Rank and dims Dims; A and B read with strides SA / SB
/// (0 along broadcast dimensions).
struct BroadcastP {
  int32_t Rank;
  int32_t Dims[MaxRank];
  int32_t SA[MaxRank];
  int32_t SB[MaxRank];
};

namespace detail {
template <class T, class F>
MOTE_RT_INLINE void broadcastApply(const BroadcastP &P, const T *A, const T *B,
                                   T *Y, F Fn) {
  forEachBroadcast(P.Rank, P.Dims, P.SA, P.SB,
                   [&](int32_t I, int32_t OA, int32_t OB) {
                     Y[I] = Fn(A[OA], B[OB]);
                   });
}
} // namespace detail

template <class T>
MOTE_RT_KERNEL void add(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y, [](T X, T Z) { return T(X + Z); });
}
template <class T>
MOTE_RT_KERNEL void sub(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y, [](T X, T Z) { return T(X - Z); });
}
template <class T>
MOTE_RT_KERNEL void mul(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y, [](T X, T Z) { return T(X * Z); });
}
/// Integer division truncates; the interpreter's x / -1 special case is kept
/// so INT_MIN / -1 is no trap. Division by an integer zero is rejected before
/// code generation only for constants; at run time it yields 0.
template <class T>
MOTE_RT_KERNEL void div(const BroadcastP &P, const T *A, const T *B, T *Y) {
  detail::broadcastApply(P, A, B, Y, [](T X, T Z) {
    if constexpr (T(0.5) == T(0)) { // integer
      if (Z == 0)
        return T(0);
      if (T(-1) < T(0) && Z == T(-1))
        return T(T(0) - X);
    }
    return T(X / Z);
  });
}

} // namespace mote_rt

#endif // MOTE_RT_ELEMENTWISE_H
