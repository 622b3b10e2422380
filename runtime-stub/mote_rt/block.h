//===- block.h - Register-blocked inner loops of conv and gemm --*- C++ -*-===//
//
// The multiply-accumulate loops of the conv and gemm kernels, blocked so
// each loaded value feeds several multiply-adds from registers:
//
//   rowsAxpy<NO, NI>  Out[o][i SO] += sum_k Wt[o][k] In[k][i SI] for i in
//                     [Lo, Hi): NI input rows are read once per position and
//                     each of the NO output rows is loaded and stored once
//                     for NI multiply-adds (conv forward and input gradient,
//                     gemm with B in rows).
//   rowsDot<NA, NB>   Acc[a][b] += sum_i A[a][i SA] B[b][i SB]: NA x NB dot
//                     products sharing their loads (conv weight gradient,
//                     gemm with B transposed).
//
// Without blocking an FPU without SIMD (Cortex-M4/M7) spends about six
// instructions per multiply-add (two loads, the FMA, a store, the loop
// test); a 2 x 4 block spends about two and a quarter. NO, NI, NA, NB are
// compile-time constants; the small loops over them unroll fully, so Wt, the
// loaded values and the accumulators live in registers. Within one output,
// the terms are added in the order k = 0, 1, ... of each block, blocks in
// the caller's order.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_BLOCK_H
#define MOTE_RT_BLOCK_H

#include "mote_rt/core.h"

#if defined(__clang__)
#define MOTE_RT_UNROLL _Pragma("unroll")
#else
#define MOTE_RT_UNROLL _Pragma("GCC unroll 16")
#endif

namespace mote_rt {
namespace detail {

template <int NO, int NI, class T>
MOTE_RT_INLINE void rowsAxpy(int32_t Lo, int32_t Hi, T *const (&Out)[NO],
                             int32_t SO, const T *const (&In)[NI], int32_t SI,
                             const T (&Wt)[NO][NI]) {
  for (int32_t I = Lo; I < Hi; ++I) {
    T V[NI];
    MOTE_RT_UNROLL
    for (int K = 0; K < NI; ++K)
      V[K] = In[K][I * SI];
    MOTE_RT_UNROLL
    for (int O = 0; O < NO; ++O) {
      T Acc = Out[O][I * SO];
      MOTE_RT_UNROLL
      for (int K = 0; K < NI; ++K)
        Acc += Wt[O][K] * V[K];
      Out[O][I * SO] = Acc;
    }
  }
}

template <int NA, int NB, class T>
MOTE_RT_INLINE void rowsDot(int32_t Lo, int32_t Hi, const T *const (&A)[NA],
                            int32_t SA, const T *const (&B)[NB], int32_t SB,
                            T (&Acc)[NA][NB]) {
  for (int32_t I = Lo; I < Hi; ++I) {
    T VA[NA], VB[NB];
    MOTE_RT_UNROLL
    for (int K = 0; K < NA; ++K)
      VA[K] = A[K][I * SA];
    MOTE_RT_UNROLL
    for (int K = 0; K < NB; ++K)
      VB[K] = B[K][I * SB];
    MOTE_RT_UNROLL
    for (int X = 0; X < NA; ++X) {
      MOTE_RT_UNROLL
      for (int Y = 0; Y < NB; ++Y)
        Acc[X][Y] += VA[X] * VB[Y];
    }
  }
}

/// A block size as a type, for generic lambdas: Const<4>() has value 4.
template <int N> struct Const { static constexpr int value = N; };

/// Calls F(Const<B>(), I) for I = Begin, Begin + B, ... while a whole block
/// fits in [Begin, End), then covers what is left with blocks of B / 2,
/// B / 4, ..., 1 (at most one of each). (Each loop's bound is explicit, so
/// a compiler that knows Begin and End sees which blocks exist.)
template <int B, class Fn>
MOTE_RT_INLINE void forBlocks(int32_t Begin, int32_t End, Fn F) {
  const int32_t Full = Begin + (End - Begin) / B * B;
  for (int32_t I = Begin; I < Full; I += B)
    F(Const<B>(), I);
  if constexpr (B > 1)
    forBlocks<B / 2>(Full, End, F);
}

} // namespace detail
} // namespace mote_rt

#endif // MOTE_RT_BLOCK_H
