//===- optim.h - Parameter update kernels ----------------------*- C++ -*-===//
//
// SgdUpdate, MomentumUpdate and AdamUpdate (ONNX preview-training semantics,
// see compiler/ops/train/Optimizer.cpp):
//
//   sgd_update       g' = g + norm X;  X' = X - lr g'
//   momentum_update  g' = g + norm X;  V' = alpha V + (T > 0 ? beta : 1) g'
//                    X' = X - lr V'                  (standard)
//                    X' = X - lr (g' + alpha V')     (nesterov)
//   adam_update      g' = g + norm X
//                    V' = alpha V + (1 - alpha) g'
//                    H' = beta H + (1 - beta) g'^2
//                    r  = T > 0 ? lr sqrt(1 - beta^T) / (1 - alpha^T) : lr
//                    X' = (1 - norm_post) (X - r V' / (sqrt(H') + epsilon))
//
// IN PLACE: the generated code passes the parameter's own buffer as the new
// parameter's output, and each state's buffer as the new state's output
// (X' == X, V' == V, H' == H). Every kernel is elementwise and reads all
// inputs of an element before it writes that element's outputs, so it is
// correct both in place and with distinct buffers.
//
// Partial-channel (sparse) update: X is viewed as [Outer, XRow] where a row
// holds the slices of X along the update axis (`axis`) and the dims after
// it; only the first Run elements of each row (the first `channels` slices)
// update, the rest pass through unchanged (copied when the output is
// another buffer). G is [Outer, GRow] and its first Run elements of each
// row are read (GRow = Run if the gradient was computed for the kept slices
// only). A full update is Outer = 1, Run = XRow = GRow = element count.
// Quantized parameters (int8 weights, int32 biases: qsgd_update and
// qmomentum_update) take their gradient G with respect to the real value
// and move the integer by whole steps, in float arithmetic the
// interpreter repeats operation for operation (Optimizer.cpp):
//
//   r  = float(q - z[c]) * s[c]          g' = G + norm r
//   gi = g' K[c]                         (K = 1 / s with QAS, s without)
//   sgd:       d = lr gi
//   momentum:  V' = alpha V + (T > 0 ? beta : 1) gi   (V: f32, in steps)
//              d = lr V'  or  lr (gi + alpha V')       (nesterov)
//   q' = clamp(q - round_half_even(clamp(d, -2^22, 2^22)), Lo, Hi)
//
// Accumulated gradients (--accumulate N): with RegionP::Every = N > 1 the
// update applies only when the count operand (the micro-batches summed so
// far, an int64 scalar) is N - 1, the last of the N; at every other count
// X and the state pass through unchanged (nothing is written in place).
// grad_accumulate keeps the sum: A' = (count == 0 ? 0 : A) + scale G, with
// scale = 1/N, so the update reads the mean of the N gradients, and
// accumulate_count advances the count modulo N.
//
// The float kernels compute in T (the interpreter in double), except Adam's
// step-dependent factor r, computed once per call in double (soft-float
// helper calls on an FPU without double, not per element); sqrt comes from
// math.h.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_OPTIM_H
#define MOTE_RT_OPTIM_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"

namespace mote_rt {

namespace optim_detail {
/// Whether the update of region \p Par applies at accumulation count
/// \p Count (nullptr: not accumulated, always).
MOTE_RT_INLINE bool due(const RegionP &Par, const int64_t *Count) {
  return Par.Every <= 1 || !Count || *Count == int64_t(Par.Every) - 1;
}

/// Calls F(x index, g index) for every updated element of region \p Par,
/// and Pass(offset, count) for the part of each row that passes through
/// unchanged: all of it when the update is not due at \p Count.
template <class Fn, class PassFn>
MOTE_RT_INLINE void forEachUpdate(const RegionP &Par, const int64_t *Count,
                                  Fn F, PassFn Pass) {
  if (!due(Par, Count)) {
    Pass(0, Par.Outer * Par.XRow);
    return;
  }
  for (int32_t O = 0; O < Par.Outer; ++O) {
    const int32_t XBase = O * Par.XRow, GBase = O * Par.GRow;
    for (int32_t I = 0; I < Par.Run; ++I)
      F(XBase + I, GBase + I);
    if (Par.Run < Par.XRow)
      Pass(XBase + Par.Run, Par.XRow - Par.Run);
  }
}

/// X^N for N >= 0 by repeated squaring.
MOTE_RT_INLINE double powi(double X, int64_t N) {
  double R = 1;
  while (N > 0) {
    if (N & 1)
      R *= X;
    X *= X;
    N >>= 1;
  }
  return R;
}

/// Adam's step size lr sqrt(1 - beta^T) / (1 - alpha^T) (lr for T <= 0),
/// once per call. The powers and the differences are taken in double: in
/// float, 1 - beta^T loses most of its digits for small T (beta^2 = 0.998
/// ...). The square root is taken of the difference rounded to float
/// (relative error 2^-24, then halved): a double square root is a long
/// software routine on an FPU without double (Cortex-M4F), where it cost
/// more than the update of a few hundred elements.
MOTE_RT_INLINE double adamStepSize(float Lr, float Alpha, float Beta,
                                   int64_t Steps) {
  if (Steps <= 0)
    return double(Lr);
  const float Root = mote_rt::sqrt(float(1.0 - powi(double(Beta), Steps)));
  return double(Lr) * double(Root) / (1.0 - powi(double(Alpha), Steps));
}

/// Copies the \p N elements at \p Off unless \p Dst is \p Src (in place).
template <class T>
MOTE_RT_INLINE void passThrough(const T *Src, T *Dst, int32_t Off, int32_t N) {
  if (Src != Dst)
    copy(Src + Off, Dst + Off, N);
}
} // namespace optim_detail

// The arithmetic of one element of each update, shared by the update
// kernels here and the weight-gradient kernels that apply an update as each
// gradient element is finished (conv.h). Each reads all its inputs before it
// writes, so every output may be its input's storage.

/// SGD: X' = X - lr (g + norm X).
template <class T> struct SgdStep {
  T Lr, Norm;
  SgdStep(float Rate, float Decay) : Lr(T(Rate)), Norm(T(Decay)) {}
  MOTE_RT_INLINE void operator()(const T *X, T G, T *XOut, int32_t I) const {
    const T XV = X[I];
    XOut[I] = XV - Lr * (G + Norm * XV);
  }
};

/// Momentum (standard or Nesterov) with state V; \p Step is the step count
/// (nullptr: 1).
template <class T> struct MomentumStep {
  T Lr, Alpha, Beta, Norm;
  bool Nesterov;
  MomentumStep(float Rate, float Keep, float Scale, float Decay, int32_t Nest,
               const int64_t *Step)
      : Lr(T(Rate)), Alpha(T(Keep)), Beta((Step && *Step <= 0) ? T(1) : T(Scale)),
        Norm(T(Decay)), Nesterov(Nest != 0) {}
  MOTE_RT_INLINE void operator()(const T *X, T G, const T *V, T *XOut,
                                 T *VOut, int32_t I) const {
    const T XV = X[I];
    const T GV = G + Norm * XV;
    const T VV = Alpha * V[I] + Beta * GV;
    VOut[I] = VV;
    XOut[I] = Nesterov ? XV - Lr * (GV + Alpha * VV) : XV - Lr * VV;
  }
};

/// Adam with first and second moments V, H and step count \p Step.
template <class T> struct AdamStep {
  T Alpha, Beta, Eps, Norm, Keep, R;
  AdamStep(float Rate, float A, float B, float Epsilon, float Decay,
           float DecayPost, const int64_t *Step)
      : Alpha(T(A)), Beta(T(B)), Eps(T(Epsilon)), Norm(T(Decay)),
        Keep(T(1) - T(DecayPost)),
        R(T(optim_detail::adamStepSize(Rate, A, B, *Step))) {}
  MOTE_RT_INLINE void operator()(const T *X, T G, const T *V, const T *H,
                                 T *XOut, T *VOut, T *HOut, int32_t I) const {
    const T XV = X[I];
    const T GV = G + Norm * XV;
    const T VV = Alpha * V[I] + (T(1) - Alpha) * GV;
    const T HV = Beta * H[I] + (T(1) - Beta) * GV * GV;
    VOut[I] = VV;
    HOut[I] = HV;
    XOut[I] = Keep * (XV - R * VV / (mote_rt::sqrt(HV) + Eps));
  }
};

/// Operands: X, G, accumulation count (or nullptr), X' (X' may be X).
template <class T>
MOTE_RT_KERNEL void sgd_update(const SgdP &P, const T *X, const T *G,
                               const int64_t *Count, T *XOut) {
  const SgdStep<T> S(P.Lr, P.Norm);
  optim_detail::forEachUpdate(
      P.Region, Count, [&](int32_t XI, int32_t GI) MOTE_RT_LAMBDA { S(X, G[GI], XOut, XI); },
      [&](int32_t Off, int32_t N)
          MOTE_RT_LAMBDA { optim_detail::passThrough(X, XOut, Off, N); });
}

/// Operands: X, G, V, step count T (int64 scalar, or nullptr: treated as
/// 1), accumulation count (or nullptr), X', V' (X' may be X and V' may be
/// V).
template <class T>
MOTE_RT_KERNEL void momentum_update(const MomentumP &P, const T *X, const T *G,
                                    const T *V, const int64_t *Step,
                                    const int64_t *Count, T *XOut, T *VOut) {
  const MomentumStep<T> S(P.Lr, P.Alpha, P.Beta, P.Norm, P.Nesterov, Step);
  optim_detail::forEachUpdate(
      P.Region, Count,
      [&](int32_t XI, int32_t GI)
          MOTE_RT_LAMBDA { S(X, G[GI], V, XOut, VOut, XI); },
      [&](int32_t Off, int32_t N) MOTE_RT_LAMBDA {
        optim_detail::passThrough(X, XOut, Off, N);
        optim_detail::passThrough(V, VOut, Off, N);
      });
}

/// Operands: X, G, V, H, step count T (int64 scalar), accumulation count
/// (or nullptr), X', V', H' (each output may be its input's buffer).
template <class T>
MOTE_RT_KERNEL void adam_update(const AdamP &P, const T *X, const T *G,
                                const T *V, const T *H, const int64_t *Step,
                                const int64_t *Count, T *XOut, T *VOut,
                                T *HOut) {
  const AdamStep<T> S(P.Lr, P.Alpha, P.Beta, P.Epsilon, P.Norm, P.NormPost,
                      Step);
  optim_detail::forEachUpdate(
      P.Region, Count,
      [&](int32_t XI, int32_t GI)
          MOTE_RT_LAMBDA { S(X, G[GI], V, H, XOut, VOut, HOut, XI); },
      [&](int32_t Off, int32_t N) MOTE_RT_LAMBDA {
        optim_detail::passThrough(X, XOut, Off, N);
        optim_detail::passThrough(V, VOut, Off, N);
        optim_detail::passThrough(H, HOut, Off, N);
      });
}

namespace optim_detail {
/// One element of a quantized parameter: its channel's constants and the
/// arithmetic around the step (see the file comment).
template <class T> struct QStep {
  const QStepP &P;
  MOTE_RT_INLINE int32_t channel(int32_t I) const {
    return (I / P.Inner) % P.Channels;
  }
  /// gi = (G + norm r) K[c] for element value \p Q of channel \p C.
  MOTE_RT_INLINE float steps(T Q, float G, float Norm, int32_t C) const {
    // The code minus its zero point, converted from 32 bits where it fits
    // (always for an 8-bit code): the same rounding as from 64 bits, without
    // the 64-bit conversion's run-time call on 32-bit cores (with it, the
    // fused conv updates of LLVM's Cortex-M objects moved some codes by
    // other steps than the interpreter and the C++ build).
    float Diff;
    if constexpr (sizeof(T) < sizeof(int32_t)) {
      Diff = float(int32_t(Q) - P.ZeroPoint[C]);
    } else {
      const int64_t D = int64_t(Q) - P.ZeroPoint[C];
      Diff = D >= -2147483647 - 1 && D <= 2147483647 ? float(int32_t(D))
                                                      : float(D);
    }
    const float R = Diff * P.Scale[C];
    const float Decay = Norm * R;
    const float GD = G + Decay;
    return GD * P.K[C];
  }
  /// clamp(q - round_half_even(d), Lo, Hi).
  MOTE_RT_INLINE T apply(T Q, float D) const {
    constexpr float Bound = 4194304.0f; // 2^22
    constexpr float Magic = 12582912.0f; // 1.5 * 2^23: rounds, ties to even
    D = D != D ? 0.0f : D < -Bound ? -Bound : D > Bound ? Bound : D;
    const float Sum = D + Magic;
    const int32_t Step = int32_t(Sum - Magic); // |Step| <= 2^22
    const int64_t R = int64_t(Q) - Step;
    return T(R < P.Lo ? P.Lo : R > P.Hi ? P.Hi : R);
  }
};

/// SGD on element I of a quantized parameter with gradient G.
template <class T> struct QSgdStep {
  QStep<T> Q;
  float Lr, Norm;
  MOTE_RT_INLINE void operator()(const T *X, float G, T *XOut,
                                 int32_t I) const {
    const float GI8 = Q.steps(X[I], G, Norm, Q.channel(I));
    const float D = Lr * GI8;
    XOut[I] = Q.apply(X[I], D);
  }
};

/// Momentum (f32 state V, in integer steps) on element I of a quantized
/// parameter with gradient G.
template <class T> struct QMomentumStep {
  QStep<T> Q;
  float Lr, Alpha, Beta, Norm;
  bool Nesterov;
  QMomentumStep(const QStepP &P, float Rate, float Keep, float Scale,
                float Decay, int32_t Nest, const int64_t *Step)
      : Q{P}, Lr(Rate), Alpha(Keep),
        Beta((Step && *Step <= 0) ? 1.0f : Scale), Norm(Decay),
        Nesterov(Nest != 0) {}
  MOTE_RT_INLINE void operator()(const T *X, float G, const float *V, T *XOut,
                                 float *VOut, int32_t I) const {
    const float S = Q.steps(X[I], G, Norm, Q.channel(I));
    const float Keep = Alpha * V[I];
    const float Add = Beta * S;
    const float VV = Keep + Add;
    float D;
    if (Nesterov) {
      const float Ahead = Alpha * VV;
      const float Sum = S + Ahead;
      D = Lr * Sum;
    } else {
      D = Lr * VV;
    }
    VOut[I] = VV;
    XOut[I] = Q.apply(X[I], D);
  }
};
} // namespace optim_detail

/// SGD on a quantized parameter. Operands: X, G (f32), accumulation count
/// (or nullptr), X' (X' may be X).
template <class T>
MOTE_RT_KERNEL void qsgd_update(const QSgdP &P, const T *X, const float *G,
                                const int64_t *Count, T *XOut) {
  const optim_detail::QSgdStep<T> S{{P.Q}, P.Sgd.Lr, P.Sgd.Norm};
  optim_detail::forEachUpdate(
      P.Sgd.Region, Count,
      [&](int32_t XI, int32_t GI)
          MOTE_RT_LAMBDA { S(X, G[GI], XOut, XI); },
      [&](int32_t Off, int32_t N)
          MOTE_RT_LAMBDA { optim_detail::passThrough(X, XOut, Off, N); });
}

/// Momentum on a quantized parameter with f32 state V. Operands: X, G, V,
/// step count (or nullptr), accumulation count (or nullptr), X', V' (each
/// output may be its input).
template <class T>
MOTE_RT_KERNEL void qmomentum_update(const QMomentumP &P, const T *X,
                                     const float *G, const float *V,
                                     const int64_t *Step, const int64_t *Count,
                                     T *XOut, float *VOut) {
  const MomentumP &M = P.Momentum;
  const optim_detail::QMomentumStep<T> S(P.Q, M.Lr, M.Alpha, M.Beta, M.Norm,
                                         M.Nesterov, Step);
  optim_detail::forEachUpdate(
      M.Region, Count,
      [&](int32_t XI, int32_t GI)
          MOTE_RT_LAMBDA { S(X, G[GI], V, XOut, VOut, XI); },
      [&](int32_t Off, int32_t N) MOTE_RT_LAMBDA {
        optim_detail::passThrough(X, XOut, Off, N);
        optim_detail::passThrough(V, VOut, Off, N);
      });
}

/// Advances the accumulation count C modulo Every, and the step count T
/// (if given) by one when C reaches Every. Operands: C, T or nullptr, C',
/// T' or nullptr (each may be its input). I is int64_t.
template <class I>
MOTE_RT_KERNEL void accumulate_count(const AccumulateCountP &P, const I *C,
                                     const I *T, I *COut, I *TOut) {
  const I Next = *C + 1;
  const bool Due = Next >= I(P.Every);
  if (T)
    *TOut = *T + (Due ? 1 : 0);
  *COut = Due ? 0 : Next;
}

/// Sums gradient G into accumulator A: A' = (count == 0 ? 0 : A) + scale G,
/// A as [Outer, Run], G as [Outer, GRow] (the first Run elements of each
/// row). Operands: A, G, count (int64 scalar), A' (A' may be A).
template <class T>
MOTE_RT_KERNEL void grad_accumulate(const GradAccumulateP &P, const T *A,
                                    const T *G, const int64_t *Count,
                                    T *AOut) {
  const T Scale = T(P.Scale);
  const bool Fresh = *Count == 0;
  for (int32_t O = 0; O < P.Outer; ++O) {
    const T *GRow = G + O * P.GRow;
    const T *ARow = A + O * P.Run;
    T *Row = AOut + O * P.Run;
    if (Fresh)
      for (int32_t I = 0; I < P.Run; ++I)
        Row[I] = Scale * GRow[I];
    else
      for (int32_t I = 0; I < P.Run; ++I)
        Row[I] = ARow[I] + Scale * GRow[I];
  }
}

} // namespace mote_rt

#endif // MOTE_RT_OPTIM_H
