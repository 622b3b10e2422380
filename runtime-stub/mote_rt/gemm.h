//===- gemm.h - Matrix product kernels (Gemm, MatMul) ----------*- C++ -*-===//
//
// gemm:   Y = alpha * A' B' + beta * C (ONNX Gemm), A' = A or A^T, B' = B or
//         B^T, C broadcast to [M, N] through its strides (0 along a
//         broadcast dim), then the fused activation if any. Y may be C
//         (a weight gradient fused with its SGD step writes over the
//         weight): each element of C is read once, before that element
//         of Y is written.
// matmul: numpy matmul, batched over broadcast batch dims; 1-D operands
//         arrive as [1, K] / [K, 1] matrices (same storage).
//
// gemm_grad_weight_sgd / _momentum / _adam: a weight gradient G = Scale A'
//         B' ([M, N], the first M rows of the weight W [Rows, N]) applied by
//         one SGD, momentum or Adam step (optim.h) as each element is
//         finished: four by four elements at a time, each the dot product
//         of its row of A' and column of B' (the batch is K, so the sums are
//         short), then committed to W and the optimizer state. G is never
//         stored; rows M .. Rows-1 pass through (copied unless in place).
//         gemm_grad_weight_qsgd / _qmomentum: the same for an int8 or uint8
//         weight, moved by whole integer steps (optim.h's QStep).
//
// gemm and matmul run one of two loop forms, chosen so the innermost loop is
// contiguous: with B' = B ([K, N] row-major) a row of Y accumulates
// A'(i, k) * (row k of B); with B' = B^T ([N, K] row-major) each element of Y
// is the dot product of a row of A' and a row of B. Conv's pointwise fast
// path (conv.h) uses the first form too.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_GEMM_H
#define MOTE_RT_GEMM_H

#include "mote_rt/block.h"
#include "mote_rt/optim.h"

namespace mote_rt {

namespace detail {

/// Rows I0 .. I0+NR-1 of gemmAccumulate, four k at a time.
template <int NR, class T, class FinFn>
MOTE_RT_INLINE void gemmRows(int32_t I0, int32_t N, int32_t K, T Alpha,
                             const T *A, int32_t SAi, int32_t SAk, const T *B,
                             int32_t LdB, T *Y, int32_t LdY, FinFn Fin) {
  T *Out[NR];
  MOTE_RT_UNROLL
  for (int R = 0; R < NR; ++R)
    Out[R] = Y + (I0 + R) * LdY;
  auto Block = [&](auto NKTag, int32_t K0) MOTE_RT_LAMBDA {
    constexpr int NK = decltype(NKTag)::value;
    T Wt[NR][NK];
    const T *In[NK];
    MOTE_RT_UNROLL
    for (int KK = 0; KK < NK; ++KK) {
      In[KK] = B + (K0 + KK) * LdB;
      MOTE_RT_UNROLL
      for (int R = 0; R < NR; ++R)
        Wt[R][KK] = Alpha * A[(I0 + R) * SAi + (K0 + KK) * SAk];
    }
    if constexpr (IsSameType<FinFn, KeepOut>)
      rowsAxpy<NR, NK>(0, N, Out, 1, In, 1, Wt);
    else if (K0 + NK == K)
      rowsAxpy<NR, NK>(0, N, Out, 1, In, 1, Wt, Fin);
    else
      rowsAxpy<NR, NK>(0, N, Out, 1, In, 1, Wt);
  };
  forBlocks<4>(0, K, Block);
  if constexpr (!IsSameType<FinFn, KeepOut>)
    if (K == 0)
      for (int R = 0; R < NR; ++R)
        for (int32_t J = 0; J < N; ++J)
          Out[R][J] = Fin(Out[R][J]);
}

/// Y[i, j] += Alpha * sum_k A[i * SAi + k * SAk] * B[k * LdB + j] for i < M,
/// j < N (Y row-major with row stride LdY), four rows and four k at a time;
/// each Y[i, j] stored as Fin(its sum) by the last block of k (the fused
/// activation of gemm and conv_pointwise), or as summed (KeepOut).
template <class T, class FinFn = KeepOut>
MOTE_RT_INLINE void gemmAccumulate(int32_t M, int32_t N, int32_t K, T Alpha,
                                   const T *A, int32_t SAi, int32_t SAk,
                                   const T *B, int32_t LdB, T *Y, int32_t LdY,
                                   FinFn Fin = {}) {
  forBlocks<4>(0, M, [&](auto NRTag, int32_t I) MOTE_RT_LAMBDA {
    gemmRows<decltype(NRTag)::value>(I, N, K, Alpha, A, SAi, SAk, B, LdB, Y,
                                     LdY, Fin);
  });
}

/// Calls F(Fin) with the activation P fuses (activate on a value or a host
/// vector) if it has one, else F(KeepOut{}): each kernel body compiled once
/// per case.
template <class Fn>
MOTE_RT_INLINE void withActivation(const ActivationP &Act, Fn F) {
  if (Act.HasMin || Act.HasMax || Act.HardSwish)
    F([&Act](auto V) MOTE_RT_LAMBDA { return activate(Act, V); });
  else
    F(KeepOut{});
}

/// Calls Commit(i, j, sum_k A'(i, k) B'(k, j)) once for every i < M, j < N,
/// with A'(i, k) = A[i * SAm + k * SAk] and B'(k, j) = B[j * SBn + k * SBk]:
/// four rows by four columns at a time, the 16 dot products sharing their
/// loads; then Rows(i0, n) after each block of n rows from i0 is done.
template <class T, class CommitFn, class RowsFn>
MOTE_RT_INLINE void dotTiles(int32_t M, int32_t N, int32_t K, const T *A,
                             int32_t SAm, int32_t SAk, const T *B, int32_t SBn,
                             int32_t SBk, CommitFn Commit, RowsFn Rows) {
  forBlocks<4>(0, M, [&](auto NITag, int32_t I0) MOTE_RT_LAMBDA {
    constexpr int NI = decltype(NITag)::value;
    forBlocks<4>(0, N, [&](auto NJTag, int32_t J0) MOTE_RT_LAMBDA {
      constexpr int NJ = decltype(NJTag)::value;
      const T *ARows[NI];
      const T *BCols[NJ];
      T Acc[NI][NJ];
      MOTE_RT_UNROLL
      for (int I = 0; I < NI; ++I) {
        ARows[I] = A + (I0 + I) * SAm;
        MOTE_RT_UNROLL
        for (int J = 0; J < NJ; ++J)
          Acc[I][J] = T(0);
      }
      MOTE_RT_UNROLL
      for (int J = 0; J < NJ; ++J)
        BCols[J] = B + (J0 + J) * SBn;
      rowsDot<NI, NJ>(0, K, ARows, SAk, BCols, SBk, Acc);
      MOTE_RT_UNROLL
      for (int I = 0; I < NI; ++I) {
        MOTE_RT_UNROLL
        for (int J = 0; J < NJ; ++J)
          Commit(I0 + I, J0 + J, Acc[I][J]);
      }
    });
    Rows(I0, NI);
  });
}

} // namespace detail

template <class T>
MOTE_RT_KERNEL void gemm(const GemmP &P, const T *A, const T *B, const T *C,
                         T *Y) {
  const T Alpha = T(P.Alpha), Beta = T(P.Beta);
  if (P.TransB) {
    // Y[i, j] = alpha * dot(row i of A', row j of B) + beta * C[i, j], four
    // rows of A' and four of B at a time.
    auto Block = [&](auto NITag, auto NJTag, int32_t I0,
                     int32_t J0) MOTE_RT_LAMBDA {
      constexpr int NI = decltype(NITag)::value, NJ = decltype(NJTag)::value;
      const T *ARows[NI];
      const T *BRows[NJ];
      T Acc[NI][NJ];
      MOTE_RT_UNROLL
      for (int I = 0; I < NI; ++I) {
        ARows[I] = A + (I0 + I) * P.AStrideM;
        MOTE_RT_UNROLL
        for (int J = 0; J < NJ; ++J)
          Acc[I][J] = T(0);
      }
      MOTE_RT_UNROLL
      for (int J = 0; J < NJ; ++J)
        BRows[J] = B + (J0 + J) * P.K;
      detail::rowsDot<NI, NJ>(0, P.K, ARows, P.AStrideK, BRows, 1, Acc);
      MOTE_RT_UNROLL
      for (int I = 0; I < NI; ++I) {
        MOTE_RT_UNROLL
        for (int J = 0; J < NJ; ++J) {
          T V = Alpha * Acc[I][J];
          if (C)
            V += Beta * C[(I0 + I) * P.CStrideM + (J0 + J) * P.CStrideN];
          Y[(I0 + I) * P.N + J0 + J] = activate(P.Act, V);
        }
      }
    };
    detail::forBlocks<4>(0, P.M, [&](auto NITag, int32_t I0) MOTE_RT_LAMBDA {
      detail::forBlocks<4>(0, P.N, [&](auto NJTag, int32_t J0) MOTE_RT_LAMBDA {
        Block(NITag, NJTag, I0, J0);
      });
    });
    return;
  }
  // Row i of Y starts as beta * C (or 0) and accumulates alpha * A'(i, k) *
  // (row k of B).
  for (int32_t I = 0; I < P.M; ++I) {
    T *YRow = Y + I * P.N;
    if (C) {
      const T *CRow = C + I * P.CStrideM;
      for (int32_t J = 0; J < P.N; ++J)
        YRow[J] = Beta * CRow[J * P.CStrideN];
    } else {
      fill(YRow, T(0), P.N);
    }
  }
  detail::withActivation(P.Act, [&](auto Fin) MOTE_RT_LAMBDA {
    detail::gemmAccumulate(P.M, P.N, P.K, Alpha, A, P.AStrideM, P.AStrideK, B,
                           P.N, Y, P.N, Fin);
  });
}

namespace detail {
/// Calls Commit(i * N + j, G(i, j)) once for every element of the weight
/// gradient G = Scale A' B'.
template <class T, class Fn>
MOTE_RT_INLINE void gemmGradWeight(const GemmUpdateP &P, const T *A,
                                   const T *B, Fn Commit) {
  const T Scale = T(P.Scale);
  dotTiles(
      P.M, P.N, P.K, A, P.AStrideM, P.AStrideK, B, P.BStrideN, P.BStrideK,
      [&](int32_t I, int32_t J, T Acc)
          MOTE_RT_LAMBDA { Commit(I * P.N + J, Scale * Acc); },
      [](int32_t, int32_t) MOTE_RT_LAMBDA {});
}

/// Copies rows M .. Rows-1 of each (source, destination) pair that differ.
template <class T, int NB>
MOTE_RT_INLINE void copyFrozenRows(const GemmUpdateP &P,
                                   const T *const (&Src)[NB],
                                   T *const (&Dst)[NB]) {
  MOTE_RT_UNROLL
  for (int I = 0; I < NB; ++I)
    if (Dst[I] != Src[I])
      copy(Src[I] + P.M * P.N, Dst[I] + P.M * P.N, (P.Rows - P.M) * P.N);
}
} // namespace detail

/// Operands: A, B, W, W' (W' may be W).
template <class T>
MOTE_RT_KERNEL void gemm_grad_weight_sgd(const GemmUpdateP &P, const T *A,
                                         const T *B, const T *W, T *WOut) {
  detail::copyFrozenRows<T, 1>(P, {W}, {WOut});
  const SgdStep<T> S(P.Update.Lr, P.Update.Decay);
  detail::gemmGradWeight(P, A, B, [&](int32_t I, T G) MOTE_RT_LAMBDA {
    S(W, G, WOut, I);
  });
}

/// Operands: A, B, W, V, step count (nullptr: 1), W', V'.
template <class T>
MOTE_RT_KERNEL void gemm_grad_weight_momentum(const GemmUpdateP &P,
                                              const T *A, const T *B,
                                              const T *W, const T *V,
                                              const int64_t *Step, T *WOut,
                                              T *VOut) {
  detail::copyFrozenRows<T, 2>(P, {W, V}, {WOut, VOut});
  const UpdateStepP &U = P.Update;
  const MomentumStep<T> S(U.Lr, U.Alpha, U.Beta, U.Decay, U.Nesterov, Step);
  detail::gemmGradWeight(P, A, B, [&](int32_t I, T G) MOTE_RT_LAMBDA {
    S(W, G, V, WOut, VOut, I);
  });
}

/// Operands: A, B, W, V, H, step count, W', V', H'.
template <class T>
MOTE_RT_KERNEL void gemm_grad_weight_adam(const GemmUpdateP &P, const T *A,
                                          const T *B, const T *W, const T *V,
                                          const T *H, const int64_t *Step,
                                          T *WOut, T *VOut, T *HOut) {
  detail::copyFrozenRows<T, 3>(P, {W, V, H}, {WOut, VOut, HOut});
  const UpdateStepP &U = P.Update;
  const AdamStep<T> S(U.Lr, U.Alpha, U.Beta, U.Epsilon, U.Decay, U.DecayPost,
                      Step);
  detail::gemmGradWeight(P, A, B, [&](int32_t I, T G) MOTE_RT_LAMBDA {
    S(W, G, V, H, WOut, VOut, HOut, I);
  });
}

/// SGD on a quantized weight W [Rows, N] (TW: int8 or uint8): each
/// element's f32 gradient applied in integer steps as it is finished, as
/// qsgd_update does (optim.h), so neither G nor a float copy of W is
/// stored. Operands: A, B, W, W' (W' may be W).
template <class T, class TW>
MOTE_RT_KERNEL void gemm_grad_weight_qsgd(const QGemmUpdateP &Q, const T *A,
                                          const T *B, const TW *W, TW *WOut) {
  const GemmUpdateP &P = Q.Gemm;
  detail::copyFrozenRows<TW, 1>(P, {W}, {WOut});
  const optim_detail::QSgdStep<TW> S{{Q.Q}, P.Update.Lr, P.Update.Decay};
  detail::gemmGradWeight(P, A, B, [&](int32_t I, T G) MOTE_RT_LAMBDA {
    S(W, float(G), WOut, I);
  });
}

/// Momentum on a quantized weight with f32 state V (as qmomentum_update).
/// Operands: A, B, W, V, step count (nullptr: 1), W', V'.
template <class T, class TW>
MOTE_RT_KERNEL void gemm_grad_weight_qmomentum(const QGemmUpdateP &Q,
                                               const T *A, const T *B,
                                               const TW *W, const float *V,
                                               const int64_t *Step, TW *WOut,
                                               float *VOut) {
  const GemmUpdateP &P = Q.Gemm;
  detail::copyFrozenRows<TW, 1>(P, {W}, {WOut});
  detail::copyFrozenRows<float, 1>(P, {V}, {VOut});
  const UpdateStepP &U = P.Update;
  const optim_detail::QMomentumStep<TW> S(Q.Q, U.Lr, U.Alpha, U.Beta, U.Decay,
                                          U.Nesterov, Step);
  detail::gemmGradWeight(P, A, B, [&](int32_t I, T G) MOTE_RT_LAMBDA {
    S(W, float(G), V, WOut, VOut, I);
  });
}

template <class T>
MOTE_RT_KERNEL void matmul(const MatMulP &P, const T *A, const T *B, T *Y) {
  const int32_t MN = P.M * P.N;
  forEachBroadcast(P.Rank, P.Dims, P.SA, P.SB,
                   [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
                     T *YB = Y + I * MN;
                     fill(YB, T(0), MN);
                     detail::gemmAccumulate(P.M, P.N, P.K, T(1), A + OA, P.K, 1,
                                            B + OB, P.N, YB, P.N);
                   });
}

} // namespace mote_rt

#endif // MOTE_RT_GEMM_H
