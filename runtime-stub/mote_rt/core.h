//===- core.h - Conventions shared by every runtime-stub kernel -*- C++ -*-===//
//
// runtime-stub is the one source of kernel truth: header-only, freestanding
// C++20 (no libc, no heap, no exceptions, no RTTI, no static constructors).
// The C++ emitter includes these headers; the LLVM backend compiles them.
//
// Calling convention (see compiler/KernelCall.h, which lowerings fill):
//   kernel<T...>(const P &params, inputs..., outputs...)
// where P is one of the parameter structs of mote_rt/params.def.
// Generated code passes a `static constexpr` P, and kernels are always
// inlined by default, so every call is specialised on its constant shapes.
// Define MOTE_RT_NO_FORCE_INLINE to trade that speed for code size.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_CORE_H
#define MOTE_RT_CORE_H

#include "mote_rt/params.h"

#include <stddef.h>
#include <stdint.h>

#if defined(MOTE_RT_NO_FORCE_INLINE)
#define MOTE_RT_KERNEL inline
#else
#define MOTE_RT_KERNEL inline __attribute__((always_inline))
#endif

/// The function of one node of a generated step (codegen/cpp: the step is
/// a list of calls of these). Never inlined, so each keeps its kernel
/// specialised on the node's constants and compile time stays linear in
/// the model. On GCC also opaque to interprocedural analysis: GCC 12.2 at
/// -O1 and -O2 deleted the call of such a function whose body is a loop
/// storing through its pointer argument (a Transpose node's; with either of
/// -fno-ipa-modref or -fno-ipa-pure-const alone it still did, with both it
/// did not), so a generated inference returned zeros.
#if defined(__clang__)
#define MOTE_RT_NODE __attribute__((noinline))
#else
#define MOTE_RT_NODE __attribute__((noipa))
#endif

/// The read-only arrays of a generated model (NAME.weights, placed by the
/// assembler): symbols of the model's own, not exported from a shared
/// object, so code reaches them without a GOT on hosted targets.
#define MOTE_RT_DATA __attribute__((visibility("hidden")))

/// Small helpers that must be inlined everywhere (index math, scalar ops).
#define MOTE_RT_INLINE inline __attribute__((always_inline))
/// The same for the lambdas kernels pass to their loop helpers (written
/// after the parameter list): without it a compiler may keep a lambda out
/// of line in a large step function, where the kernel's constant shapes no
/// longer reach its loops (seen with arm-none-eabi-g++ -O2: a quarter more
/// instructions per training step).
#define MOTE_RT_LAMBDA __attribute__((always_inline))

namespace mote_rt {

/// True for float and double.
template <class T> inline constexpr bool IsFloatType = false;
template <> inline constexpr bool IsFloatType<float> = true;
template <> inline constexpr bool IsFloatType<double> = true;

/// True when A and B are one type (freestanding: no <type_traits>).
template <class A, class B> inline constexpr bool IsSameType = false;
template <class A> inline constexpr bool IsSameType<A, A> = true;

/// Element count of the first \p Rank entries of \p D.
MOTE_RT_INLINE int32_t product(const int32_t *D, int32_t Rank) {
  int32_t N = 1;
  for (int32_t I = 0; I < Rank; ++I)
    N *= D[I];
  return N;
}

template <class T> MOTE_RT_INLINE void copy(const T *Src, T *Dst, int32_t N) {
  for (int32_t I = 0; I < N; ++I)
    Dst[I] = Src[I];
}

template <class T> MOTE_RT_INLINE void fill(T *Dst, T V, int32_t N) {
  for (int32_t I = 0; I < N; ++I)
    Dst[I] = V;
}

/// The activation fused into a conv or gemm kernel (ActivationP, the Act
/// field of ConvP and GemmP): ReLU is a clamp below at 0, Clip (ReLU6) a
/// clamp on both sides, taken as clip does (below Min gives Min, else above
/// Max gives Max); hard swish is y clamp(y / 6 + 1/2, 0, 1) as hard_swish
/// computes it. Nothing without an activation.
template <class T>
MOTE_RT_INLINE T activate(const ActivationP &Act, T V) {
  if (Act.HardSwish) {
    const T S = T(V / T(6) + T(0.5));
    return T(V * (S < T(0) ? T(0) : (T(1) < S ? T(1) : S)));
  }
  if (Act.HasMin && V < T(Act.Min))
    return T(Act.Min);
  if (Act.HasMax && V > T(Act.Max))
    return T(Act.Max);
  return V;
}

/// activate on Y[0, N) in place (Y[i] = activate(Act, Y[i])).
template <class T>
MOTE_RT_INLINE void clampActivation(const ActivationP &Act, T *Y, int32_t N) {
  if (Act.HardSwish) {
    for (int32_t I = 0; I < N; ++I) {
      const T V = Y[I], S = T(V / T(6) + T(0.5));
      Y[I] = T(V * (S < T(0) ? T(0) : (T(1) < S ? T(1) : S)));
    }
  } else if (Act.HasMin && Act.HasMax) {
    const T Lo = T(Act.Min), Hi = T(Act.Max);
    for (int32_t I = 0; I < N; ++I)
      Y[I] = Y[I] < Lo ? Lo : Y[I] > Hi ? Hi : Y[I];
  } else if (Act.HasMin) {
    const T Lo = T(Act.Min);
    for (int32_t I = 0; I < N; ++I)
      Y[I] = Y[I] < Lo ? Lo : Y[I];
  } else if (Act.HasMax) {
    const T Hi = T(Act.Max);
    for (int32_t I = 0; I < N; ++I)
      Y[I] = Y[I] > Hi ? Hi : Y[I];
  }
}

/// Visits every index of a row-major tensor of rank \p Rank and dims \p D,
/// calling F(linear output index, offset into A, offset into B) where the
/// offsets use strides SA and SB (0 along broadcast dimensions).
template <class F>
MOTE_RT_INLINE void forEachBroadcast(int32_t Rank, const int32_t *D,
                                     const int32_t *SA, const int32_t *SB,
                                     F Fn) {
  int32_t Idx[MaxRank] = {0, 0, 0, 0, 0, 0};
  int32_t N = product(D, Rank);
  int32_t OA = 0, OB = 0;
  for (int32_t I = 0; I < N; ++I) {
    Fn(I, OA, OB);
    // Advance the multi-index (innermost dimension fastest).
    for (int32_t K = Rank - 1; K >= 0; --K) {
      ++Idx[K];
      OA += SA[K];
      OB += SB[K];
      if (Idx[K] < D[K])
        break;
      OA -= SA[K] * D[K];
      OB -= SB[K] * D[K];
      Idx[K] = 0;
    }
  }
}

} // namespace mote_rt

#endif // MOTE_RT_CORE_H
