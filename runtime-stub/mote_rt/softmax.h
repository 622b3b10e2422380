//===- softmax.h - Softmax, LogSoftmax and their gradients -----*- C++ -*-===//
//
// Every kernel here normalises along one axis of a tensor viewed as
// [Outer, Dim, Inner] (the lowering folds the dims before and after the
// axis), each of the Outer * Inner vectors of Dim elements (stride Inner)
// independently:
//
//   softmax           y_i = e^(x_i - m) / sum_j e^(x_j - m),   m = max_j x_j
//   log_softmax       y_i = x_i - m - log(sum_j e^(x_j - m))
//   softmax_grad      dx = y (dy - sum_j dy_j y_j)      (from the result y)
//   log_softmax_grad  dx = dy - e^y sum_j dy_j          (from the result y)
//
// Subtracting the max keeps every exponent <= 0, so nothing overflows; exp
// and log come from math.h. The kernels compute in T (the interpreter
// accumulates in double; for f32 the results agree to a few ulp). Each reads an
// input element before it writes the result element at the same index, so Y may
// alias X.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_SOFTMAX_H
#define MOTE_RT_SOFTMAX_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace softmax_detail {
/// Calls F(pointer offset of element 0, stride) for every vector.
template <class Fn>
MOTE_RT_INLINE void forEachSoftmaxVector(const SoftmaxP &P, Fn F) {
  if (P.Dim == 0)
    return;
  for (int32_t O = 0; O < P.Outer; ++O)
    for (int32_t I = 0; I < P.Inner; ++I)
      F(O * P.Dim * P.Inner + I, P.Inner);
}

/// max_j X[j * S] (-infinity for no elements; NaNs are skipped, as in the
/// interpreter's std::max).
template <class T> MOTE_RT_INLINE T maxOf(const T *X, int32_t N, int32_t S) {
  T M = -T(__builtin_huge_val());
  for (int32_t J = 0; J < N; ++J)
    if (M < X[J * S])
      M = X[J * S];
  return M;
}
} // namespace softmax_detail

template <class T>
MOTE_RT_KERNEL void softmax(const SoftmaxP &P, const T *X, T *Y) {
  softmax_detail::forEachSoftmaxVector(
      P, [&](int32_t Off, int32_t S) MOTE_RT_LAMBDA {
        const T *XV = X + Off;
        T *YV = Y + Off;
        T Max = softmax_detail::maxOf(XV, P.Dim, S);
        T Sum = T(0);
        for (int32_t J = 0; J < P.Dim; ++J) {
          T E = mote_rt::exp(XV[J * S] - Max);
          YV[J * S] = E;
          Sum += E;
        }
        for (int32_t J = 0; J < P.Dim; ++J)
          YV[J * S] = YV[J * S] / Sum;
      });
}

template <class T>
MOTE_RT_KERNEL void log_softmax(const SoftmaxP &P, const T *X, T *Y) {
  softmax_detail::forEachSoftmaxVector(
      P, [&](int32_t Off, int32_t S) MOTE_RT_LAMBDA {
        const T *XV = X + Off;
        T *YV = Y + Off;
        T Max = softmax_detail::maxOf(XV, P.Dim, S);
        T Sum = T(0);
        for (int32_t J = 0; J < P.Dim; ++J)
          Sum += mote_rt::exp(XV[J * S] - Max);
        T LogSum = mote_rt::log(Sum);
        for (int32_t J = 0; J < P.Dim; ++J)
          YV[J * S] = (XV[J * S] - Max) - LogSum;
      });
}

/// dX = Y (dY - sum_j dY_j Y_j); DX may alias DY.
template <class T>
MOTE_RT_KERNEL void softmax_grad(const SoftmaxP &P, const T *DY, const T *Y,
                                 T *DX) {
  softmax_detail::forEachSoftmaxVector(
      P, [&](int32_t Off, int32_t S) MOTE_RT_LAMBDA {
        const T *G = DY + Off;
        const T *YV = Y + Off;
        T Sum = T(0);
        for (int32_t J = 0; J < P.Dim; ++J)
          Sum += G[J * S] * YV[J * S];
        T *Out = DX + Off;
        for (int32_t J = 0; J < P.Dim; ++J)
          Out[J * S] = YV[J * S] * (G[J * S] - Sum);
      });
}

/// dX = dY - e^Y sum_j dY_j; DX may alias DY.
template <class T>
MOTE_RT_KERNEL void log_softmax_grad(const SoftmaxP &P, const T *DY, const T *Y,
                                     T *DX) {
  softmax_detail::forEachSoftmaxVector(
      P, [&](int32_t Off, int32_t S) MOTE_RT_LAMBDA {
        const T *G = DY + Off;
        const T *YV = Y + Off;
        T Sum = T(0);
        for (int32_t J = 0; J < P.Dim; ++J)
          Sum += G[J * S];
        T *Out = DX + Off;
        for (int32_t J = 0; J < P.Dim; ++J)
          Out[J * S] = G[J * S] - mote_rt::exp(YV[J * S]) * Sum;
      });
}

} // namespace mote_rt

#endif // MOTE_RT_SOFTMAX_H
