//===- reduce.h - Sum, mean and max over any set of axes --------*- C++ -*-===//
//
// ReduceSum, ReduceMean and ReduceMax (compiler/ops/math/Reduce.cpp). The
// lowering splits the input's dims into kept ("outer") and reduced
// ("inner") ones, each with the input's element strides, after dropping
// 1-dims and merging neighbours of the same kind; so axes need not be
// contiguous ({0, 2} of a rank-3 tensor is outer {d1} and inner {d0, d2})
// and nothing is transposed. Result element j (in the order of the kept
// dims, which is the result's layout with or without keepdims) combines the
// inner box at the j-th outer offset.
//
// Accumulation, as in the interpreter where it matters:
//   - double sums in double; float sums in float with Neumaier's
//     compensated summation (error about 2 ulp of the sum of |x|, close to
//     the interpreter's double accumulator, without soft-float doubles on
//     single-precision FPUs); an intermediate float sum that overflows
//     gives inf where a double accumulator might not;
//   - integers accumulate in uint64_t (wrapping) and the mean truncates
//     toward zero, in int64_t;
//   - max: a NaN anywhere makes the result NaN; an empty box gives -inf
//     (floats) or the lowest value, a sum 0 and a float mean NaN.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_REDUCE_H
#define MOTE_RT_REDUCE_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace reduce_detail {

/// Calls Fn(offset) for every index of the box \p D (rank \p Rank <=
/// MaxRank) read with strides \p S, innermost dim fastest: the dims are
/// right-aligned into a fixed nest of MaxRank loops (missing leading dims
/// have size 1), so no index array is needed.
template <class F>
MOTE_RT_INLINE void forEachOffset(int32_t Rank, const int32_t *D,
                                  const int32_t *S, F Fn) {
  static_assert(MaxRank == 6, "the loop nest below has MaxRank levels");
  int32_t N[MaxRank], St[MaxRank];
  for (int32_t K = 0; K < MaxRank; ++K) {
    int32_t I = K - (MaxRank - Rank);
    N[K] = I >= 0 ? D[I] : 1;
    St[K] = I >= 0 ? S[I] : 0;
  }
  for (int32_t I0 = 0, O0 = 0; I0 < N[0]; ++I0, O0 += St[0])
    for (int32_t I1 = 0, O1 = O0; I1 < N[1]; ++I1, O1 += St[1])
      for (int32_t I2 = 0, O2 = O1; I2 < N[2]; ++I2, O2 += St[2])
        for (int32_t I3 = 0, O3 = O2; I3 < N[3]; ++I3, O3 += St[3])
          for (int32_t I4 = 0, O4 = O3; I4 < N[4]; ++I4, O4 += St[4])
            for (int32_t I5 = 0, O5 = O4; I5 < N[5]; ++I5, O5 += St[5])
              Fn(O5);
}

/// Sum of float or double elements: plain for double, compensated for
/// float (see the file comment).
template <class T> struct SumAcc {
  T S = T(0);
  MOTE_RT_INLINE void add(T V) { S += V; }
  MOTE_RT_INLINE T result() const { return S; }
};
template <> struct SumAcc<float> {
  float S = 0.0f, C = 0.0f;
  MOTE_RT_INLINE void add(float V) {
    float T = S + V;
    // Neumaier: recover the low part lost by the larger operand.
    if (math_detail::absOf(S) >= math_detail::absOf(V))
      C += (S - T) + V;
    else
      C += (V - T) + S;
    S = T;
  }
  MOTE_RT_INLINE float result() const {
    // After an inf or NaN the correction is NaN; the plain sum is right.
    return S - S == 0.0f ? S + C : S;
  }
};

/// Reduces every inner box of \p X into \p Y: Init() starts an
/// accumulator, Add(acc, x) folds an element in, Done(acc) is the result.
template <class T, class InitF, class AddF, class DoneF>
MOTE_RT_INLINE void reduceBoxes(const ReduceP &P, const T *X, T *Y, InitF Init,
                                AddF Add, DoneF Done) {
  int32_t J = 0;
  forEachOffset(P.OuterRank, P.OuterDims, P.OuterStrides,
                [&](int32_t Base) MOTE_RT_LAMBDA {
                  auto Acc = Init();
                  const T *XB = X + Base;
                  forEachOffset(P.InnerRank, P.InnerDims, P.InnerStrides,
                                [&](int32_t Off)
                                    MOTE_RT_LAMBDA { Add(Acc, XB[Off]); });
                  Y[J++] = Done(Acc);
                });
}

} // namespace reduce_detail

template <class T>
MOTE_RT_KERNEL void reduce_sum(const ReduceP &P, const T *X, T *Y) {
  if constexpr (IsFloatType<T>) {
    reduce_detail::reduceBoxes(
        P, X, Y, [] { return reduce_detail::SumAcc<T>{}; },
        [](reduce_detail::SumAcc<T> &A, T V) MOTE_RT_LAMBDA { A.add(V); },
        [](const reduce_detail::SumAcc<T> &A)
            MOTE_RT_LAMBDA { return A.result(); });
  } else {
    reduce_detail::reduceBoxes(
        P, X, Y, [] { return uint64_t(0); },
        [](uint64_t &A, T V) MOTE_RT_LAMBDA { A += uint64_t(int64_t(V)); },
        [](uint64_t A) MOTE_RT_LAMBDA { return T(A); });
  }
}

template <class T>
MOTE_RT_KERNEL void reduce_mean(const ReduceP &P, const T *X, T *Y) {
  if constexpr (IsFloatType<T>) {
    T Count = T(P.Count);
    reduce_detail::reduceBoxes(
        P, X, Y, [] { return reduce_detail::SumAcc<T>{}; },
        [](reduce_detail::SumAcc<T> &A, T V) MOTE_RT_LAMBDA { A.add(V); },
        [Count](const reduce_detail::SumAcc<T> &A) MOTE_RT_LAMBDA {
          return T(A.result() / Count); // 0 / 0 = NaN for an empty box
        });
  } else {
    // The lowering rejects an integer mean over an empty box.
    int64_t Count = P.Count;
    reduce_detail::reduceBoxes(
        P, X, Y, [] { return uint64_t(0); },
        [](uint64_t &A, T V) MOTE_RT_LAMBDA { A += uint64_t(int64_t(V)); },
        [Count](uint64_t A) MOTE_RT_LAMBDA { return T(int64_t(A) / Count); });
  }
}

template <class T>
MOTE_RT_KERNEL void reduce_max(const ReduceP &P, const T *X, T *Y) {
  T Start;
  if constexpr (IsFloatType<T>)
    Start = -infinity<T>();
  else
    Start = IntLimits<T>::Lowest;
  reduce_detail::reduceBoxes(
      P, X, Y, [Start] { return Start; },
      [](T &A, T V) MOTE_RT_LAMBDA {
        // A NaN wins and, once in A, stays (nothing is > NaN).
        if constexpr (IsFloatType<T>) {
          if (V > A || !(V == V))
            A = V;
        } else if (V > A) {
          A = V;
        }
      },
      [](T A) MOTE_RT_LAMBDA { return A; });
}

} // namespace mote_rt

#endif // MOTE_RT_REDUCE_H
