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
// On hosts with 128-bit or wider float vectors (x86-64 SSE2/AVX, AArch64
// NEON; not the Cortex-M cores, whose FPU has no SIMD) float rows with unit
// strides run VecLanes positions at a time in vector registers (GCC/clang
// vector extensions; no intrinsics, so the same source serves both and the
// LLVM backend). rowsAxpy computes every output exactly as the scalar loop
// does (the same terms in the same order per element). rowsDot keeps
// VecLanes partial sums per dot product, positions i = l mod VecLanes in
// lane l, and adds the lanes at the end as a pairwise tree (addLaneSums):
// another order of the same terms (the result moves in the last bits; the
// tests compare generated code with the interpreter to 1e-5). rowsDotKeep
// keeps those partial sums in a DotKeep across many rows and adds the lanes
// once (the conv weight gradients, whose rows can be short).
// MOTE_RT_NO_SIMD turns it off.
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

#if !defined(MOTE_RT_NO_SIMD) &&                                             \
    (defined(__SSE2__) || (defined(__ARM_NEON) && defined(__aarch64__)))
#define MOTE_RT_SIMD 1
#if defined(__AVX__)
#define MOTE_RT_SIMD_BYTES 32
#else
#define MOTE_RT_SIMD_BYTES 16
#endif
/// Vector registers the dot-product blocks may fill with accumulators.
#if defined(__AVX512F__) || defined(__aarch64__)
#define MOTE_RT_SIMD_REGS 32
#else
#define MOTE_RT_SIMD_REGS 16
#endif
#else
#define MOTE_RT_SIMD 0
#endif

namespace mote_rt {
namespace detail {

/// Vector partial sums of an NA x NB rowsDot block kept across many short
/// rows (rowsDotKeep), added to the scalar sums once at the end (flush):
/// rows of 8 or 24 would otherwise pay NA NB lane additions each. Nothing
/// on targets without float vectors, or for other element types.
template <class T, int NA, int NB> struct DotKeep {
  MOTE_RT_INLINE int32_t run(int32_t Lo, int32_t, const T *const (&)[NA],
                             const T *const (&)[NB]) {
    return Lo;
  }
  MOTE_RT_INLINE void flush(T (&)[NA][NB]) {}
};

/// rowsAxpy's default Fin: each output stored as summed.
struct KeepOut {
  template <class V> MOTE_RT_INLINE V operator()(V X) const { return X; }
};

/// Acc[a][b] = 0 for every a < NA, b < NB.
template <int NA, int NB, class T>
MOTE_RT_INLINE void zeroBlock(T (&Acc)[NA][NB]) {
  MOTE_RT_UNROLL
  for (int X = 0; X < NA; ++X) {
    MOTE_RT_UNROLL
    for (int Y = 0; Y < NB; ++Y)
      Acc[X][Y] = T(0);
  }
}

#if MOTE_RT_SIMD
typedef float VecF __attribute__((vector_size(MOTE_RT_SIMD_BYTES)));
/// What comparing VecF gives: -1 (all bits) in a lane where true, else 0.
typedef int32_t VecI __attribute__((vector_size(MOTE_RT_SIMD_BYTES)));
typedef uint32_t VecU __attribute__((vector_size(MOTE_RT_SIMD_BYTES)));
inline constexpr int32_t VecLanes = MOTE_RT_SIMD_BYTES / 4;
/// Four floats: rowsAxpy's last step where VecF is wider.
typedef float VecF4 __attribute__((vector_size(16)));

MOTE_RT_INLINE VecF loadVec(const float *P) {
  VecF V;
  __builtin_memcpy(&V, P, sizeof V);
  return V;
}
MOTE_RT_INLINE void storeVec(float *P, VecF V) {
  __builtin_memcpy(P, &V, sizeof V);
}
/// Every lane X (X - 0 is X for every X, -0 included; 0 + X is not).
MOTE_RT_INLINE VecF splat(float X) { return X - VecF{}; }

/// Keeps V in a vector register from here on: an empty asm that claims to
/// change it. Without it GCC folds each use of a loaded value that feeds
/// several multiply-adds into its own FMA as a memory operand, loading it
/// again for every one: DotKeep's blocks then spent two loads per
/// multiply-add, and the CNN's training step took 51 us instead of 42 at
/// -O3 -march=native.
MOTE_RT_INLINE void inRegister(VecF &V) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__("" : "+v"(V));
#elif defined(__aarch64__)
  __asm__("" : "+w"(V));
#endif
}

/// Lane l of the result is the sum of V[l]'s lanes, by a pairwise tree.
/// Each level takes two vectors A and B, puts A's partial sums before B's in
/// two shuffles of them and adds the shuffles: every vector's partial sums
/// halve in number (first lane j with j + VecLanes / 2, then the pairs left
/// next to each other), and after log2 VecLanes levels one vector holds all
/// VecLanes sums, in order.
#define MOTE_RT_FOLD(A, B, ...) __builtin_shufflevector(A, B, __VA_ARGS__)
#if MOTE_RT_SIMD_BYTES == 32
MOTE_RT_INLINE VecF sumTree(const VecF (&V)[8]) {
  VecF S[4], T[2];
  MOTE_RT_UNROLL
  for (int K = 0; K < 4; ++K)
    S[K] = MOTE_RT_FOLD(V[2 * K], V[2 * K + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
           MOTE_RT_FOLD(V[2 * K], V[2 * K + 1], 4, 5, 6, 7, 12, 13, 14, 15);
  MOTE_RT_UNROLL
  for (int K = 0; K < 2; ++K)
    T[K] = MOTE_RT_FOLD(S[2 * K], S[2 * K + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
           MOTE_RT_FOLD(S[2 * K], S[2 * K + 1], 2, 3, 6, 7, 10, 11, 14, 15);
  return MOTE_RT_FOLD(T[0], T[1], 0, 2, 4, 6, 8, 10, 12, 14) +
         MOTE_RT_FOLD(T[0], T[1], 1, 3, 5, 7, 9, 11, 13, 15);
}
#else
MOTE_RT_INLINE VecF sumTree(const VecF (&V)[4]) {
  const VecF S0 = MOTE_RT_FOLD(V[0], V[1], 0, 1, 4, 5) +
                  MOTE_RT_FOLD(V[0], V[1], 2, 3, 6, 7);
  const VecF S1 = MOTE_RT_FOLD(V[2], V[3], 0, 1, 4, 5) +
                  MOTE_RT_FOLD(V[2], V[3], 2, 3, 6, 7);
  return MOTE_RT_FOLD(S0, S1, 0, 2, 4, 6) + MOTE_RT_FOLD(S0, S1, 1, 3, 5, 7);
}
#endif
#undef MOTE_RT_FOLD

/// Acc[i] += the sum of V[i]'s lanes, i < N: VecLanes vectors at a time
/// through sumTree (the last group padded with zero vectors). That is log2
/// VecLanes vector adds and twice as many shuffles per VecLanes sums, where
/// adding each vector's lanes one by one takes VecLanes - 1 dependent scalar
/// adds per sum.
template <int N> MOTE_RT_INLINE void addLaneSums(const VecF *V, float *Acc) {
  MOTE_RT_UNROLL
  for (int G = 0; G < N; G += VecLanes) {
    VecF In[VecLanes];
    MOTE_RT_UNROLL
    for (int K = 0; K < VecLanes; ++K)
      In[K] = G + K < N ? V[G + K] : VecF{};
    const VecF R = sumTree(In);
    MOTE_RT_UNROLL
    for (int K = 0; K < VecLanes; ++K)
      if (G + K < N)
        Acc[G + K] += R[K];
  }
}

} // namespace detail

/// activate (core.h) on every lane of a vector: the same comparisons and
/// arithmetic, lane by lane, without branches.
MOTE_RT_INLINE detail::VecF activate(const ActivationP &Act, detail::VecF V) {
  using detail::splat;
  using detail::VecF;
  if (Act.HardSwish) {
    const VecF Zero{}, One = splat(1.0f);
    VecF S = V / splat(6.0f) + splat(0.5f);
    S = S < Zero ? Zero : (One < S ? One : S);
    return V * S;
  }
  const VecF Lo = splat(Act.Min), Hi = splat(Act.Max);
  if (Act.HasMin && Act.HasMax)
    return V < Lo ? Lo : (V > Hi ? Hi : V);
  if (Act.HasMin)
    return V < Lo ? Lo : V;
  if (Act.HasMax)
    return V > Hi ? Hi : V;
  return V;
}

namespace detail {

/// One step of rowsAxpy's vector loop at position I, in vectors of type V
/// (Fin on VecF whole, on the narrower VecF4 lane by lane).
template <int NO, int NI, class V, class FinFn>
MOTE_RT_INLINE void axpyStep(int32_t I, float *const (&Out)[NO],
                             const float *const (&In)[NI],
                             const float (&Wt)[NO][NI], FinFn Fin) {
  V X[NI];
  MOTE_RT_UNROLL
  for (int K = 0; K < NI; ++K)
    __builtin_memcpy(&X[K], In[K] + I, sizeof(V));
  MOTE_RT_UNROLL
  for (int O = 0; O < NO; ++O) {
    V Acc;
    __builtin_memcpy(&Acc, Out[O] + I, sizeof(V));
    MOTE_RT_UNROLL
    for (int K = 0; K < NI; ++K)
      Acc += (Wt[O][K] - V{}) * X[K];
    if constexpr (IsSameType<V, VecF>) {
      Acc = Fin(Acc);
    } else {
      MOTE_RT_UNROLL
      for (int L = 0; L < int(sizeof(V) / 4); ++L)
        Acc[L] = Fin(float(Acc[L]));
    }
    __builtin_memcpy(Out[O] + I, &Acc, sizeof(V));
  }
}

/// rowsAxpy over [Lo, Hi) rounded down to whole vectors (unit strides);
/// returns where the scalar loop goes on.
template <int NO, int NI, class FinFn>
MOTE_RT_INLINE int32_t rowsAxpyVec(int32_t Lo, int32_t Hi,
                                   float *const (&Out)[NO],
                                   const float *const (&In)[NI],
                                   const float (&Wt)[NO][NI], FinFn Fin) {
  for (; Lo + VecLanes <= Hi; Lo += VecLanes)
    axpyStep<NO, NI, VecF>(Lo, Out, In, Wt, Fin);
#if MOTE_RT_SIMD_BYTES > 16
  // Four positions left (rows of 4 to 7, such as the 2 x 2 planes at the
  // end of a mobilenet): one 16-byte step.
  if (Lo + 4 <= Hi) {
    axpyStep<NO, NI, VecF4>(Lo, Out, In, Wt, Fin);
    Lo += 4;
  }
#endif
  return Lo;
}

/// DotKeep on a host with float vectors: rowsDot's vector loop, the
/// columns of the block in groups whose accumulators and loads fit in the
/// vector registers.
template <int NA, int NB> struct DotKeep<float, NA, NB> {
  VecF V[NA][NB];
  MOTE_RT_INLINE DotKeep() {
    MOTE_RT_UNROLL
    for (int X = 0; X < NA; ++X) {
      MOTE_RT_UNROLL
      for (int Y = 0; Y < NB; ++Y)
        V[X][Y] = VecF{};
    }
  }
  /// The columns B0 .. B0+NBC-1 over [Lo, End) (whole vectors).
  template <int NBC>
  MOTE_RT_INLINE void cols(int32_t Lo, int32_t End, const float *const (&A)[NA],
                           const float *const (&B)[NB], int B0) {
    VecF W[NA][NBC];
    MOTE_RT_UNROLL
    for (int X = 0; X < NA; ++X) {
      MOTE_RT_UNROLL
      for (int Y = 0; Y < NBC; ++Y)
        W[X][Y] = V[X][B0 + Y];
    }
    for (int32_t I = Lo; I < End; I += VecLanes) {
      VecF VA[NA], VB[NBC];
      MOTE_RT_UNROLL
      for (int K = 0; K < NA; ++K)
        VA[K] = loadVec(A[K] + I);
      MOTE_RT_UNROLL
      for (int K = 0; K < NBC; ++K)
        VB[K] = loadVec(B[B0 + K] + I);
      MOTE_RT_UNROLL
      for (int K = 0; K < NA; ++K)
        inRegister(VA[K]);
      MOTE_RT_UNROLL
      for (int K = 0; K < NBC; ++K)
        inRegister(VB[K]);
      MOTE_RT_UNROLL
      for (int X = 0; X < NA; ++X) {
        MOTE_RT_UNROLL
        for (int Y = 0; Y < NBC; ++Y)
          W[X][Y] += VA[X] * VB[Y];
      }
    }
    MOTE_RT_UNROLL
    for (int X = 0; X < NA; ++X) {
      MOTE_RT_UNROLL
      for (int Y = 0; Y < NBC; ++Y)
        V[X][B0 + Y] = W[X][Y];
    }
  }
  /// [Lo, Hi) rounded down to whole vectors into the kept sums; returns
  /// where the scalar loop goes on.
  MOTE_RT_INLINE int32_t run(int32_t Lo, int32_t Hi,
                             const float *const (&A)[NA],
                             const float *const (&B)[NB]) {
    const int32_t End = Lo + (Hi - Lo) / VecLanes * VecLanes;
    if (End == Lo)
      return Lo;
    constexpr int Fit = (MOTE_RT_SIMD_REGS - NA - 1) / (NA + 1);
    constexpr int NBC = Fit < 1 ? 1 : (Fit < NB ? Fit : NB);
    MOTE_RT_UNROLL
    for (int B0 = 0; B0 + NBC <= NB; B0 += NBC)
      cols<NBC>(Lo, End, A, B, B0);
    if constexpr (NB % NBC != 0)
      cols<NB % NBC>(Lo, End, A, B, NB - NB % NBC);
    return End;
  }
  MOTE_RT_INLINE void flush(float (&Acc)[NA][NB]) {
    addLaneSums<NA * NB>(&V[0][0], &Acc[0][0]);
  }
};

/// rowsDot over [Lo, Hi) rounded down to whole vectors (unit strides):
/// the vector sums of one call, added lane by lane at its end; returns
/// where the scalar loop goes on.
template <int NA, int NB>
MOTE_RT_INLINE int32_t rowsDotVec(int32_t Lo, int32_t Hi,
                                  const float *const (&A)[NA],
                                  const float *const (&B)[NB],
                                  float (&Acc)[NA][NB]) {
  DotKeep<float, NA, NB> Keep;
  Lo = Keep.run(Lo, Hi, A, B);
  Keep.flush(Acc);
  return Lo;
}
#endif

/// Fin(sum) is what each output stores: an activation applied as the last
/// terms are added (KeepOut: the sum itself). Fin takes T, and VecF on the
/// vector path.
template <int NO, int NI, class T, class FinFn = KeepOut>
MOTE_RT_INLINE void rowsAxpy(int32_t Lo, int32_t Hi, T *const (&Out)[NO],
                             int32_t SO, const T *const (&In)[NI], int32_t SI,
                             const T (&Wt)[NO][NI], FinFn Fin = {}) {
#if MOTE_RT_SIMD
  if constexpr (IsSameType<T, float>)
    if (SI == 1 && SO == 1)
      Lo = rowsAxpyVec<NO, NI>(Lo, Hi, Out, In, Wt, Fin);
#endif
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
      Out[O][I * SO] = Fin(Acc);
    }
  }
}

/// rowsDot's loop over [Lo, Hi), one position at a time.
template <int NA, int NB, class T>
MOTE_RT_INLINE void rowsDotScalar(int32_t Lo, int32_t Hi,
                                  const T *const (&A)[NA], int32_t SA,
                                  const T *const (&B)[NB], int32_t SB,
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

template <int NA, int NB, class T>
MOTE_RT_INLINE void rowsDot(int32_t Lo, int32_t Hi, const T *const (&A)[NA],
                            int32_t SA, const T *const (&B)[NB], int32_t SB,
                            T (&Acc)[NA][NB]) {
#if MOTE_RT_SIMD
  if constexpr (IsSameType<T, float>)
    if (SA == 1 && SB == 1)
      Lo = rowsDotVec<NA, NB>(Lo, Hi, A, B, Acc);
#endif
  rowsDotScalar<NA, NB>(Lo, Hi, A, SA, B, SB, Acc);
}

/// rowsDot with the vector partial sums kept in \p Keep (unit strides on a
/// host with float vectors) for Keep.flush(Acc) after the last row.
template <int NA, int NB, class T>
MOTE_RT_INLINE void rowsDotKeep(int32_t Lo, int32_t Hi,
                                const T *const (&A)[NA], int32_t SA,
                                const T *const (&B)[NB], int32_t SB,
                                T (&Acc)[NA][NB], DotKeep<T, NA, NB> &Keep) {
  if (SA == 1 && SB == 1)
    Lo = Keep.run(Lo, Hi, A, B);
  rowsDotScalar<NA, NB>(Lo, Hi, A, SA, B, SB, Acc);
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
