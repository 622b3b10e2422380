//===- fused.h - A chain of elementwise ops in one pass ---------*- C++ -*-===//
//
// fused_elementwise runs the body of a FusedElementwise node (the fuse
// pass's elementwise-chain pattern): up to MaxFusedSteps elementwise ops
// over up to MaxFusedInputs inputs, every step the shape of the result. The
// output is computed in blocks of FusedBlock elements along the innermost
// dimension: each step runs over the block into a small buffer on the
// stack, the last one into the output, so no intermediate tensor exists.
// Every step computes exactly what its own kernel (elementwise.h, unary.h,
// activation_grad.h) computes, with the same element functions.
//
// Generated C++ passes a constexpr FusedP to the always-inlined kernel, so
// the compiler resolves each step's op and operand strides at compile time
// and keeps only the loops the chain needs.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_FUSED_H
#define MOTE_RT_FUSED_H

#include "mote_rt/activation_grad.h"
#include "mote_rt/core.h"
#include "mote_rt/elementwise.h"
#include "mote_rt/math.h"
#include "mote_rt/unary.h"

namespace mote_rt {

inline constexpr int32_t MaxFusedInputs = 6;
/// Elements per block: the stack holds (MaxFusedSteps - 1) blocks.
inline constexpr int32_t FusedBlock = 16;

/// The op of a step (FusedP::Op). The numbering is part of the contract
/// with the lowering (compiler/ops/math/Fused.cpp).
enum FusedOp : int32_t {
  FusedAdd = 1,
  FusedSub,
  FusedMul,
  FusedDiv,
  FusedPow,
  FusedReluGrad,    ///< (dY, x)
  FusedSigmoidGrad, ///< (dY, y)
  FusedTanhGrad,    ///< (dY, y)
  FusedErfGrad,     ///< (dY, x)
  FusedRelu,        ///< first unary op
  FusedSigmoid,
  FusedTanh,
  FusedExp,
  FusedLog,
  FusedSqrt,
  FusedNeg,
  FusedAbs,
  FusedReciprocal,
  FusedErf,
};

namespace fused_detail {

/// One operand of a step over the current block: Data[j * Stride].
template <class T> struct Src {
  const T *Data;
  int32_t Stride;
};

template <class T, class F>
MOTE_RT_INLINE void unaryBlock(T *D, Src<T> A, int32_t N, F Fn) {
  if (A.Stride == 1) {
    for (int32_t J = 0; J < N; ++J)
      D[J] = Fn(A.Data[J]);
  } else {
    for (int32_t J = 0; J < N; ++J)
      D[J] = Fn(A.Data[J * A.Stride]);
  }
}

template <class T, class F>
MOTE_RT_INLINE void binaryBlock(T *D, Src<T> A, Src<T> B, int32_t N, F Fn) {
  if (A.Stride == 1 && B.Stride == 1) {
    for (int32_t J = 0; J < N; ++J)
      D[J] = Fn(A.Data[J], B.Data[J]);
  } else if (A.Stride == 1 && B.Stride == 0) {
    const T V = B.Data[0];
    for (int32_t J = 0; J < N; ++J)
      D[J] = Fn(A.Data[J], V);
  } else if (A.Stride == 0 && B.Stride == 1) {
    const T V = A.Data[0];
    for (int32_t J = 0; J < N; ++J)
      D[J] = Fn(V, B.Data[J]);
  } else {
    for (int32_t J = 0; J < N; ++J)
      D[J] = Fn(A.Data[J * A.Stride], B.Data[J * B.Stride]);
  }
}

/// Step \p Op over N elements into D.
template <class T>
MOTE_RT_INLINE void step(int32_t Op, T *D, Src<T> A, Src<T> B, int32_t N) {
  switch (Op) {
  case FusedAdd:
    binaryBlock(D, A, B, N, [](T X, T Y) MOTE_RT_LAMBDA { return T(X + Y); });
    return;
  case FusedSub:
    binaryBlock(D, A, B, N, [](T X, T Y) MOTE_RT_LAMBDA { return T(X - Y); });
    return;
  case FusedMul:
    binaryBlock(D, A, B, N, [](T X, T Y) MOTE_RT_LAMBDA { return T(X * Y); });
    return;
  case FusedDiv:
    binaryBlock(D, A, B, N, [](T X, T Y) MOTE_RT_LAMBDA { return T(X / Y); });
    return;
  case FusedPow:
    binaryBlock(D, A, B, N, [](T X, T Y) MOTE_RT_LAMBDA {
      return detail::powElement<T, T>(X, Y);
    });
    return;
  case FusedReluGrad:
    binaryBlock(D, A, B, N, [](T G, T V) MOTE_RT_LAMBDA {
      return T(G * T(act_grad_detail::reluDerivative(V)));
    });
    return;
  case FusedSigmoidGrad:
    binaryBlock(D, A, B, N, [](T G, T V) MOTE_RT_LAMBDA {
      return T(G * T(act_grad_detail::sigmoidDerivative(V)));
    });
    return;
  case FusedTanhGrad:
    binaryBlock(D, A, B, N, [](T G, T V) MOTE_RT_LAMBDA {
      return T(G * T(act_grad_detail::tanhDerivative(V)));
    });
    return;
  case FusedErfGrad:
    binaryBlock(D, A, B, N, [](T G, T V) MOTE_RT_LAMBDA {
      return T(G * T(act_grad_detail::erfDerivative(V)));
    });
    return;
  case FusedRelu:
    unaryBlock(D, A, N,
               [](T V) MOTE_RT_LAMBDA { return V > T(0) ? V : T(0); });
    return;
  case FusedSigmoid:
    unaryBlock(D, A, N,
               [](T V) MOTE_RT_LAMBDA { return unary_detail::sigmoidOf(V); });
    return;
  case FusedTanh:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return mote_rt::tanh(V); });
    return;
  case FusedExp:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return mote_rt::exp(V); });
    return;
  case FusedLog:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return mote_rt::log(V); });
    return;
  case FusedSqrt:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return mote_rt::sqrt(V); });
    return;
  case FusedNeg:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return T(-V); });
    return;
  case FusedAbs:
    unaryBlock(D, A, N,
               [](T V) MOTE_RT_LAMBDA { return unary_detail::absValue(V); });
    return;
  case FusedReciprocal:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return T(T(1) / V); });
    return;
  case FusedErf:
    unaryBlock(D, A, N, [](T V) MOTE_RT_LAMBDA { return mote_rt::erf(V); });
    return;
  default:
    return;
  }
}

/// Steps S, S+1, ... of the chain over one block, unrolled at compile time
/// so that with a constant FusedP each step's op and strides fold.
template <class T, int32_t S>
MOTE_RT_INLINE void steps(const FusedP &P, const T *const *In,
                          const int32_t *const *Strides, const int32_t *Base,
                          T (*Buf)[FusedBlock], T *Out, int32_t N) {
  if constexpr (S < MaxFusedSteps) {
    if (S >= P.NumSteps)
      return;
    auto Operand = [&](int32_t K) MOTE_RT_LAMBDA {
      if (K < 0)
        return Src<T>{nullptr, 0};
      if (K >= MaxFusedInputs)
        return Src<T>{Buf[K - MaxFusedInputs], 1};
      return Src<T>{In[K] + Base[K], Strides[K][P.Rank - 1]};
    };
    T *D = S + 1 == P.NumSteps ? Out : Buf[S];
    step<T>(P.Op[S], D, Operand(P.ArgA[S]), Operand(P.ArgB[S]), N);
    steps<T, S + 1>(P, In, Strides, Base, Buf, Out, N);
  }
}

} // namespace fused_detail

/// Y = the chain of P over inputs X0..X5 (nullptr for inputs the node does
/// not have). Y may be an input of its own shape (in place): each block of
/// Y is written after every step has read its elements of the inputs.
template <class T>
MOTE_RT_KERNEL void fused_elementwise(const FusedP &P, const T *X0,
                                      const T *X1, const T *X2, const T *X3,
                                      const T *X4, const T *X5, T *Y) {
  const T *const In[MaxFusedInputs] = {X0, X1, X2, X3, X4, X5};
  const int32_t *const Strides[MaxFusedInputs] = {P.In0, P.In1, P.In2,
                                                  P.In3, P.In4, P.In5};
  T Buf[MaxFusedSteps - 1][FusedBlock];
  const int32_t Inner = P.Dims[P.Rank - 1];
  const int32_t Outer = product(P.Dims, P.Rank - 1);
  int32_t Idx[MaxRank] = {0, 0, 0, 0, 0, 0};
  int32_t Base[MaxFusedInputs] = {0, 0, 0, 0, 0, 0};
  for (int32_t O = 0; O < Outer; ++O) {
    T *Row = Y + O * Inner;
    for (int32_t J = 0; J < Inner; J += FusedBlock) {
      const int32_t N = Inner - J < FusedBlock ? Inner - J : FusedBlock;
      fused_detail::steps<T, 0>(P, In, Strides, Base, Buf, Row + J, N);
      for (int32_t K = 0; K < MaxFusedInputs; ++K)
        Base[K] += FusedBlock * Strides[K][P.Rank - 1];
    }
    // Next row: every input's offset from the outer multi-index.
    for (int32_t D = P.Rank - 2; D >= 0; --D) {
      if (++Idx[D] < P.Dims[D])
        break;
      Idx[D] = 0;
    }
    for (int32_t K = 0; K < MaxFusedInputs; ++K) {
      int32_t Off = 0;
      for (int32_t D = 0; D + 1 < P.Rank; ++D)
        Off += Idx[D] * Strides[K][D];
      Base[K] = Off;
    }
  }
}

} // namespace mote_rt

#endif // MOTE_RT_FUSED_H
