//===- qpool.h - Integer average pooling and addition ----------*- C++ -*-===//
//
// The kernels of QAveragePool and QAdd (compiler/ops/quant/QPool.cpp), bit
// for bit the integers compiler/Quant.h states:
//
//   qavg_pool<TX, TY>   for the window of output o with divisor d (its
//                       taps inside the input, or with CountIncludePad its
//                       size clipped to the padded input; pool.h),
//                       y = clamp(roundShift(sum (x - zx) * m[d], n[d]) + zy)
//                       with sum exact in int32 (the type rule bounds it);
//                       a window with no tap gives clamp(zy)
//   qadd<TA, TB, TY>    y = clamp(roundShift((a - za) * ma + (b - zb) * mb,
//                       n) + zy), exact in 64-bit integers
//
// roundShift(p, n) = round_half_even(p / 2^n) (quant.h).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_QPOOL_H
#define MOTE_RT_QPOOL_H

#include "mote_rt/pool.h"
#include "mote_rt/quant.h"

namespace mote_rt {

namespace qpool_detail {

using quant_detail::roundShift;

/// Y clamped to [Lo, Hi], as TY.
template <class TY>
MOTE_RT_INLINE TY clampTo(int64_t Y, int32_t Lo, int32_t Hi) {
  return TY(Y < Lo ? Lo : Y > Hi ? Hi : Y);
}

} // namespace qpool_detail

template <class TX, class TY>
MOTE_RT_KERNEL void qavg_pool(const QAvgPoolP &Q, const TX *X, TY *Y) {
  const PoolP &P = Q.Pool;
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const TX *XP = X + Pl * InSize;
    TY *YP = Y + Pl * OutSize;
    detail::forEachPoolWindow(
        P, [&](int32_t O, const detail::PoolWindow &Wn) MOTE_RT_LAMBDA {
          const int32_t Taps = detail::tapCount(Wn);
          if (Taps == 0) {
            YP[O] = qpool_detail::clampTo<TY>(Q.YZeroPoint, Q.YMin, Q.YMax);
            return;
          }
          int32_t Sum = 0;
          detail::forEachTap(P, Wn,
                             [&](int32_t Off, int32_t, int32_t, int32_t)
                                 MOTE_RT_LAMBDA {
                                   Sum += int32_t(XP[Off]);
                                   return true;
                                 });
          Sum -= Taps * Q.XZeroPoint;
          const int32_t D =
              (P.CountIncludePad ? detail::paddedWindowSize(P, Wn) : Taps) -
              Q.MinDivisor;
          YP[O] = qpool_detail::clampTo<TY>(
              qpool_detail::roundShift(int64_t(Sum) * Q.Multiplier[D],
                                       Q.Shift[D]) +
                  Q.YZeroPoint,
              Q.YMin, Q.YMax);
        });
  }
}

template <class TA, class TB, class TY>
MOTE_RT_KERNEL void qadd(const QAddP &Q, const TA *A, const TB *B, TY *Y) {
  for (int32_t I = 0; I < Q.N; ++I) {
    const int64_t T = int64_t(int32_t(A[I]) - Q.AZeroPoint) * Q.AMultiplier +
                      int64_t(int32_t(B[I]) - Q.BZeroPoint) * Q.BMultiplier;
    Y[I] = qpool_detail::clampTo<TY>(
        qpool_detail::roundShift(T, Q.Shift) + Q.YZeroPoint, Q.YMin, Q.YMax);
  }
}

} // namespace mote_rt

#endif // MOTE_RT_QPOOL_H
