//===- norm.h - Normalization kernels, forward and backward ----*- C++ -*-===//
//
// batch_norm:      eval-mode BatchNormalization, per channel c (dim 1 of
//                  [N, C, Inner]): Y = a X + (B - a mean), a = scale /
//                  sqrt(var + eps).
// batch_norm_grad: dX = dY scale r, dScale = sum dY (X - mean) r,
//                  dBias = sum dY (sums over n and Inner), r = 1 /
//                  sqrt(var + eps).
// layer_norm:      each of Rows rows of D elements: mean, var = mean of
//                  (x - mean)^2, InvStdDev = 1 / sqrt(var + eps),
//                  Y = (x - mean) InvStdDev Scale + B with Scale and B
//                  broadcast over the row through their strides; Mean and
//                  InvStdDev (float, one per row) are optional results.
// layer_norm_grad: with xhat = (x - mean) r and g = dY Scale,
//                  dX = r (g - mean(g) - xhat mean(g xhat)); dScale and dBias
//                  (optional, Scale's shape) sum dY xhat and dY over every
//                  element Scale broadcasts to.
//
// The optional results are trailing kernel arguments that default to
// nullptr. None of the kernels needs scratch memory: the layer-norm gradient
// recomputes xhat and g in a second pass over the row.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_NORM_H
#define MOTE_RT_NORM_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace detail {

/// The square root the norm kernels use: mote_rt/math.h's (a hardware
/// instruction where there is one, never a libm call).
template <class T> MOTE_RT_INLINE T normSqrt(T X) { return mote_rt::sqrt(X); }

} // namespace detail

template <class T>
MOTE_RT_KERNEL void batch_norm(const BatchNormP &P, const T *X, const T *Scale,
                               const T *B, const T *Mean, const T *Var, T *Y) {
  const T Eps = T(P.Epsilon);
  for (int32_t C = 0; C < P.C; ++C) {
    const T A = Scale[C] / detail::normSqrt(Var[C] + Eps);
    const T Shift = B[C] - A * Mean[C];
    for (int32_t N = 0; N < P.Batch; ++N) {
      const int32_t Base = (N * P.C + C) * P.Inner;
      for (int32_t I = 0; I < P.Inner; ++I)
        Y[Base + I] = A * X[Base + I] + Shift;
    }
  }
}

/// dScale and dBias ([C]) may be nullptr.
template <class T>
MOTE_RT_KERNEL void batch_norm_grad(const BatchNormP &P, const T *DY,
                                    const T *X, const T *Scale, const T *Mean,
                                    const T *Var, T *DX, T *DScale = nullptr,
                                    T *DBias = nullptr) {
  const T Eps = T(P.Epsilon);
  for (int32_t C = 0; C < P.C; ++C) {
    const T R = T(1) / detail::normSqrt(Var[C] + Eps);
    const T A = Scale[C] * R;
    const T M = Mean[C];
    T SumDyXc = T(0), SumDy = T(0);
    for (int32_t N = 0; N < P.Batch; ++N) {
      const int32_t Base = (N * P.C + C) * P.Inner;
      for (int32_t I = 0; I < P.Inner; ++I) {
        const T Dy = DY[Base + I];
        DX[Base + I] = Dy * A;
        SumDyXc += Dy * (X[Base + I] - M);
        SumDy += Dy;
      }
    }
    if (DScale)
      DScale[C] = SumDyXc * R;
    if (DBias)
      DBias[C] = SumDy;
  }
}

namespace detail {

/// Mean and 1 / sqrt(var + Eps) of the D elements at \p XR.
template <class T>
MOTE_RT_INLINE void rowStats(const T *XR, int32_t D, T Eps, T &Mean,
                             T &InvStd) {
  T Sum = T(0);
  for (int32_t J = 0; J < D; ++J)
    Sum += XR[J];
  Mean = D > 0 ? Sum / T(D) : T(0);
  T SqSum = T(0);
  for (int32_t J = 0; J < D; ++J) {
    const T Diff = XR[J] - Mean;
    SqSum += Diff * Diff;
  }
  const T Var = D > 0 ? SqSum / T(D) : T(0);
  InvStd = T(1) / normSqrt(Var + Eps);
}

} // namespace detail

/// B may be nullptr; Mean and InvStdDev ([Rows], float) may be nullptr.
template <class T>
MOTE_RT_KERNEL void layer_norm(const LayerNormP &P, const T *X, const T *Scale,
                               const T *B, T *Y, float *Mean = nullptr,
                               float *InvStdDev = nullptr) {
  const T Eps = T(P.Epsilon);
  for (int32_t R = 0; R < P.Rows; ++R) {
    const T *XR = X + R * P.D;
    T *YR = Y + R * P.D;
    T Mu, InvStd;
    detail::rowStats(XR, P.D, Eps, Mu, InvStd);
    forEachBroadcast(P.Rank, P.Dims, P.ScaleStrides, P.BiasStrides,
                     [&](int32_t J, int32_t OS, int32_t OB) MOTE_RT_LAMBDA {
                       T V = (XR[J] - Mu) * InvStd * Scale[OS];
                       YR[J] = B ? V + B[OB] : V;
                     });
    if (Mean)
      Mean[R] = float(Mu);
    if (InvStdDev)
      InvStdDev[R] = float(InvStd);
  }
}

/// dScale and dBias (Scale's shape) may be nullptr.
template <class T>
MOTE_RT_KERNEL void layer_norm_grad(const LayerNormGradP &P, const T *DY,
                                    const T *X, const T *Scale, T *DX,
                                    T *DScale = nullptr, T *DBias = nullptr) {
  if (DScale)
    fill(DScale, T(0), P.ScaleSize);
  if (DBias)
    fill(DBias, T(0), P.ScaleSize);
  if (P.D == 0)
    return;
  const T Eps = T(P.Epsilon);
  const T InvD = T(1) / T(P.D);
  for (int32_t R = 0; R < P.Rows; ++R) {
    const T *XR = X + R * P.D;
    const T *DYR = DY + R * P.D;
    T *DXR = DX + R * P.D;
    T Mu, InvStd;
    detail::rowStats(XR, P.D, Eps, Mu, InvStd);
    T SumG = T(0), SumGX = T(0);
    forEachBroadcast(P.Rank, P.Dims, P.ScaleStrides, P.ScaleStrides,
                     [&](int32_t J, int32_t OS, int32_t) MOTE_RT_LAMBDA {
                       const T Dy = DYR[J];
                       const T XHat = (XR[J] - Mu) * InvStd;
                       const T G = Dy * Scale[OS];
                       SumG += G;
                       SumGX += G * XHat;
                       if (DScale)
                         DScale[OS] += Dy * XHat;
                       if (DBias)
                         DBias[OS] += Dy;
                     });
    const T MeanG = SumG * InvD, MeanGX = SumGX * InvD;
    forEachBroadcast(P.Rank, P.Dims, P.ScaleStrides, P.ScaleStrides,
                     [&](int32_t J, int32_t OS, int32_t) MOTE_RT_LAMBDA {
                       const T XHat = (XR[J] - Mu) * InvStd;
                       const T G = DYR[J] * Scale[OS];
                       DXR[J] = InvStd * (G - MeanG - XHat * MeanGX);
                     });
  }
}

} // namespace mote_rt

#endif // MOTE_RT_NORM_H
