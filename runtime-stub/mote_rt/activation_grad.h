//===- activation_grad.h - Backward kernels of the activations -*- C++ -*-===//
//
// The ops of compiler/ops/grad/ActivationGrad.cpp: dX[i] = dY[i] * f'(v[i]),
// where v is the forward input x, or the forward result y for sigmoid and
// tanh. Every kernel takes (params, dY, v, dX); dX may alias dY.
//
//   relu_grad          dY * [x > 0]
//   leaky_relu_grad    dY * (x >= 0 ? 1 : Alpha)
//   clip_grad          dY * [Min < x < Max]  (absent bounds: -inf / +inf)
//   mask_grad_q        dY * [Lo < q < Hi] on saved int8/uint8 codes q (a
//                      ReLU or Clip mask whose result the forward quantized)
//   mask_pack(_q)      the test of relu_grad / clip_grad (mask_grad_q on
//                      codes) packed one bit per element, in the forward
//   mask_grad(_sum)    dY * bit i of that mask (and the bias gradient as
//                      activation_grad_sum sums it)
//   sigmoid_grad       dY * y (1 - y)
//   tanh_grad          dY * (1 - y^2)
//   hard_sigmoid_grad  dY * Alpha * [0 < Alpha x + Beta < 1]
//   hard_swish_grad    dY * (x < -3 ? 0 : x > 3 ? 1 : x / 3 + 1/2)
//   gelu_grad          dY * (Phi(x) + x phi(x))
//   gelu_tanh_grad     dY * d/dx [x/2 (1 + tanh(u))], u = c (x + 0.044715 x^3)
//   erf_grad           dY * 2/sqrt(pi) e^(-x^2)
//
// activation_grad_sum (the fused ActivationGradSum) is relu_grad or
// clip_grad that also sums its result over every axis but 1 (a bias
// gradient) as it writes it: per channel, images then positions, in plain
// parts of up to 8 consecutive terms (on hosts with float vectors, 8
// terms VecLanes apart, one part per lane) that reduce_sum's compensated
// accumulator (reduce.h) then adds up. The error stays within about 9 ulp
// of the sum of |dX| (7 from a part, 2 from the compensated sum), with one
// compensated addition per 8 elements instead of one per element.
//
// The interpreter evaluates hard_sigmoid_grad and the gelu derivatives in
// double. For float, the lowering turns hard_sigmoid_grad's test into the
// exact float interval (Lo, Hi) the double test accepts, so the float kernel
// agrees bit for bit; the gelu derivatives are computed in float in forms
// that avoid cancellation (Phi(x) from erfc for x < -sqrt 2, 1 +- tanh and
// 1 - tanh^2 from expm1), so they stay within a few ulp of the double
// values rather than losing digits in the tails.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_ACTIVATION_GRAD_H
#define MOTE_RT_ACTIVATION_GRAD_H

#include "mote_rt/block.h"
#include "mote_rt/core.h"
#include "mote_rt/math.h"
#include "mote_rt/reduce.h"
#include "mote_rt/unary.h"

namespace mote_rt {

namespace act_grad_detail {

template <class T, class F>
MOTE_RT_INLINE void apply(int32_t N, const T *DY, const T *V, T *DX, F D) {
  for (int32_t I = 0; I < N; ++I)
    DX[I] = T(DY[I] * T(D(V[I])));
}

/// The derivatives the gradient kernels multiply dY by (also the steps of
/// fused_elementwise): relu's from x, sigmoid's and tanh's from the forward
/// result y, erf's from x.
template <class T> MOTE_RT_INLINE T reluDerivative(T X) {
  return X > T(0) ? T(1) : T(0);
}
template <class T> MOTE_RT_INLINE T sigmoidDerivative(T Y) {
  return Y * (T(1) - Y);
}
template <class T> MOTE_RT_INLINE T tanhDerivative(T Y) { return T(1) - Y * Y; }
template <class T> MOTE_RT_INLINE T erfDerivative(T X) {
  return T(T(1.1283791670955126) * mote_rt::exp(-X * X));
}

/// Phi(x) + x phi(x), Phi and phi the standard normal CDF and density.
template <class T> MOTE_RT_INLINE T geluDerivative(T X) {
  T Cdf;
  if constexpr (sizeof(T) == 4) {
    // 1 + erf(x / sqrt 2) cancels for x < -sqrt 2: use erfc there.
    if (X < -1.41421356f)
      Cdf = 0.5f * math_detail::erfcLarge(X * -0.707106781f);
    else
      Cdf = 0.5f * (1.0f + mote_rt::erf(X * 0.707106781f));
  } else {
    Cdf = T(0.5) * (T(1) + mote_rt::erf(X * T(0.7071067811865476)));
  }
  T Pdf = T(0.3989422804014327) * mote_rt::exp(T(-0.5) * X * X);
  return Cdf + X * Pdf;
}

/// d/dx [x/2 (1 + tanh(u))] = (1 + t)/2 + x/2 (1 - t^2) u',
/// u = c (x + 0.044715 x^3), t = tanh(u); 1 + t and 1 - t^2 from
/// E = expm1(2|u|): tanh|u| = E / (E + 2), 1 - t^2 = 4 (E + 1) / (E + 2)^2.
template <class T> MOTE_RT_INLINE T geluTanhDerivative(T X) {
  T C = T(0.7978845608028654);
  T U = C * (X + T(0.044715) * X * X * X);
  T DU = C * (T(1) + T(3 * 0.044715) * X * X);
  T A = math_detail::absOf(U);
  T OnePlusT, OneMinusT2;
  if (!(A <= T(20))) { // tanh is +-1 to working precision (or U is NaN)
    OnePlusT = U > T(0) ? T(2) : T(0);
    OneMinusT2 = T(0);
    if (!(U == U))
      OnePlusT = OneMinusT2 = U;
  } else {
    T E = math_detail::expm1Impl(A + A);
    T D = E + T(2);
    OnePlusT = U >= T(0) ? T(1) + E / D : T(2) / D;
    OneMinusT2 = T(4) * (E + T(1)) / (D * D);
  }
  return T(0.5) * OnePlusT + T(0.5) * X * OneMinusT2 * DU;
}

} // namespace act_grad_detail

template <class T>
MOTE_RT_KERNEL void relu_grad(const UnaryP &P, const T *DY, const T *X, T *DX) {
  act_grad_detail::apply(P.N, DY, X, DX, [](T V) MOTE_RT_LAMBDA {
    return act_grad_detail::reluDerivative(V);
  });
}

template <class T>
MOTE_RT_KERNEL void leaky_relu_grad(const LeakyReluP &P, const T *DY,
                                    const T *X, T *DX) {
  T Alpha = T(P.Alpha);
  act_grad_detail::apply(P.N, DY, X, DX, [Alpha](T V) MOTE_RT_LAMBDA {
    return V >= T(0) ? T(1) : Alpha;
  });
}

template <class T>
MOTE_RT_KERNEL void clip_grad(const ClipP &P, const T *DY, const T *X, T *DX) {
  T Lo = P.HasMin ? T(P.Min) : -infinity<T>();
  T Hi = P.HasMax ? T(P.Max) : infinity<T>();
  act_grad_detail::apply(P.N, DY, X, DX, [Lo, Hi](T V) MOTE_RT_LAMBDA {
    return V > Lo && V < Hi ? T(1) : T(0);
  });
}

namespace act_grad_detail {

/// A packed mask read as an array of tests: element I is bit I % 8 of byte
/// I / 8 (mask_pack's layout).
struct MaskBits {
  const uint8_t *Bytes;
  MOTE_RT_INLINE bool operator[](int32_t I) const {
    return (Bytes[I >> 3] >> (I & 7)) & 1u;
  }
};

/// The body of activation_grad_sum, Pass(V[i]) its test (PassVec(v) the
/// same on a vector of float values, giving a lane mask). V is a pointer to
/// the saved values or a MaskBits.
template <class T, class VA, class PassFn, class PassVecFn>
MOTE_RT_INLINE void activationGradSum(const ActGradSumP &P, const T *DY,
                                      VA V, T *DX, T *DB, PassFn Pass,
                                      PassVecFn PassVec) {
  (void)PassVec;
  // dX[I], added to the running part. dY * 1 is dY and dY * 0 keeps the
  // sign of a zero and any inf or NaN of dY, as the product with the
  // test's 0 or 1 does.
  auto Step = [&](int32_t I, T &Part) MOTE_RT_LAMBDA {
    T D = DY[I];
    if (!Pass(V[I]))
      D = D * T(0);
    DX[I] = D;
    Part += D;
  };
  constexpr int32_t Block = 8;
  if (P.Inner >= Block) {
    // A part per block of 8 along each row, the parts Neumaier-summed in
    // order; four blocks' parts are computed at once, so their additions
    // overlap instead of each waiting on the one before (the same sums,
    // bit for bit).
    for (int32_t C = 0; C < P.C; ++C) {
      reduce_detail::SumAcc<T> Acc;
      for (int32_t N = 0; N < P.Batch; ++N) {
        const int32_t Base = (N * P.C + C) * P.Inner, End = Base + P.Inner;
        int32_t I0 = Base;
#if MOTE_RT_SIMD
        // A host with float vectors: Block * VecLanes elements at a time,
        // lane l's part the Block elements l, l + VecLanes, ... of them
        // (parts of 8 terms still, strided instead of consecutive).
        if constexpr (IsSameType<T, float> && IsSameType<VA, const float *>)
          for (; I0 + Block * detail::VecLanes <= End;
               I0 += Block * detail::VecLanes) {
            detail::VecF Part{};
            MOTE_RT_UNROLL
            for (int32_t J = 0; J < Block; ++J) {
              const int32_t I = I0 + J * detail::VecLanes;
              const detail::VecF G = detail::loadVec(DY + I);
              const detail::VecF D =
                  PassVec(detail::loadVec(V + I)) ? G : G * detail::VecF{};
              detail::storeVec(DX + I, D);
              Part += D;
            }
            MOTE_RT_UNROLL
            for (int32_t L = 0; L < detail::VecLanes; ++L)
              Acc.add(Part[L]);
          }
#endif
        for (; I0 + 4 * Block <= End; I0 += 4 * Block) {
          T Part[4] = {T(0), T(0), T(0), T(0)};
          MOTE_RT_UNROLL
          for (int32_t J = 0; J < Block; ++J) {
            MOTE_RT_UNROLL
            for (int B = 0; B < 4; ++B)
              Step(I0 + B * Block + J, Part[B]);
          }
          MOTE_RT_UNROLL
          for (int B = 0; B < 4; ++B)
            Acc.add(Part[B]);
        }
        for (; I0 < End; I0 += Block) {
          T Part = T(0);
          const int32_t I1 = I0 + Block < End ? I0 + Block : End;
          for (int32_t I = I0; I < I1; ++I)
            Step(I, Part);
          Acc.add(Part);
        }
      }
      DB[C] = Acc.result();
    }
    return;
  }
  // Short rows (a [N, C] gradient has rows of one): whole rows per part
  // (an empty row, Inner = 0, sums to 0 one row at a time).
  const int32_t Rows = P.Inner > 0 ? Block / P.Inner : 1;
  for (int32_t C = 0; C < P.C; ++C) {
    reduce_detail::SumAcc<T> Acc;
    for (int32_t N0 = 0; N0 < P.Batch; N0 += Rows) {
      T Part = T(0);
      const int32_t N1 = N0 + Rows < P.Batch ? N0 + Rows : P.Batch;
      for (int32_t N = N0; N < N1; ++N) {
        const int32_t Base = (N * P.C + C) * P.Inner;
        for (int32_t I = Base; I < Base + P.Inner; ++I)
          Step(I, Part);
      }
      Acc.add(Part);
    }
    DB[C] = Acc.result();
  }
}

} // namespace act_grad_detail

template <class T>
MOTE_RT_KERNEL void activation_grad_sum(const ActGradSumP &P, const T *DY,
                                        const T *V, T *DX, T *DB) {
  const T Lo = P.Clip && P.HasMin ? T(P.Min) : P.Clip ? -infinity<T>() : T(0);
  const T Hi = P.Clip && P.HasMax ? T(P.Max) : infinity<T>();
  if constexpr (sizeof(T) == 4) {
    // Lo >= 0 (ReLU, ReLU6): Lo < v < Hi is one unsigned compare of the
    // bits, as floats >= +0 order as their bits do and every negative
    // float or NaN falls outside [LoB + 1, HiB) (a Cortex-M FPU compare
    // costs a flag transfer and a branch; this is three integer
    // instructions). ReLU has no upper test, so +inf passes and HiB is
    // the first NaN.
    if (Lo >= T(0) && Hi == Hi) {
      const uint32_t LoB = Lo == T(0) ? 0u : math_detail::bitsOf(Lo);
      const uint32_t HiB = !P.Clip ? 0x7f800001u
                           : Hi > T(0) ? math_detail::bitsOf(Hi)
                                       : 0u;
      const uint32_t First = LoB + 1;
      const uint32_t Span = HiB > First ? HiB - First : 0u;
      act_grad_detail::activationGradSum(
          P, DY, V, DX, DB,
          [First, Span](T X) MOTE_RT_LAMBDA {
            return math_detail::bitsOf(X) - First < Span;
          },
#if MOTE_RT_SIMD
          [First, Span](auto X) MOTE_RT_LAMBDA {
            return reinterpret_cast<detail::VecU>(X) - First < Span;
          });
#else
          [](auto X) MOTE_RT_LAMBDA { return X; }); // no vectors: unused
#endif
      return;
    }
  }
  act_grad_detail::activationGradSum(
      P, DY, V, DX, DB,
      [&](T X) MOTE_RT_LAMBDA { return P.Clip ? X > Lo && X < Hi : X > Lo; },
      [&](auto X) MOTE_RT_LAMBDA {
        // Lanes of -1 where the test passes (float vectors only).
        return P.Clip ? (X > Lo) & (X < Hi) : X > Lo;
      });
}

/// activation_grad_sum on saved codes: the test Min < q < Max on whole
/// codes (compiler/ops/grad/ActivationGrad.cpp turns the mask's real
/// bounds into them).
template <class T, class TV>
MOTE_RT_KERNEL void activation_grad_sum_q(const ActGradSumP &P, const T *DY,
                                          const TV *V, T *DX, T *DB) {
  const int32_t Lo = int32_t(P.Min), Hi = int32_t(P.Max);
  act_grad_detail::activationGradSum(
      P, DY, V, DX, DB,
      [Lo, Hi](TV Q) MOTE_RT_LAMBDA {
        return int32_t(Q) > Lo && int32_t(Q) < Hi;
      },
      [](auto X) MOTE_RT_LAMBDA { return X; }); // float vectors only: unused
}

/// relu_grad or clip_grad on saved codes: dY where Lo < q < Hi, else dY * 0
/// (which keeps the sign of a zero and any inf or NaN of dY, as the float
/// kernels' product with 0 does).
template <class T, class TV>
MOTE_RT_KERNEL void mask_grad_q(const MaskQP &P, const T *DY, const TV *V,
                                T *DX) {
  for (int32_t I = 0; I < P.N; ++I) {
    const int32_t Q = int32_t(V[I]);
    DX[I] = Q > P.Lo && Q < P.Hi ? DY[I] : DY[I] * T(0);
  }
}

namespace act_grad_detail {

/// Packs Pass(X[I]) for I < N into bits, eight to a byte, low bit first.
template <class T, class PassFn>
MOTE_RT_INLINE void packBits(int32_t N, const T *X, uint8_t *M, PassFn Pass) {
  int32_t I = 0;
  for (; I + 8 <= N; I += 8) {
    uint32_t Byte = 0;
    MOTE_RT_UNROLL
    for (int32_t J = 0; J < 8; ++J)
      Byte |= uint32_t(Pass(X[I + J])) << J;
    M[I >> 3] = uint8_t(Byte);
  }
  if (I < N) {
    uint32_t Byte = 0;
    for (int32_t J = 0; I + J < N; ++J)
      Byte |= uint32_t(Pass(X[I + J])) << J;
    M[I >> 3] = uint8_t(Byte);
  }
}

/// Calls Step(I, bit I of M) for I in [Begin, End), walking the mask's
/// bytes once.
template <class StepFn>
MOTE_RT_INLINE void forBits(const uint8_t *M, int32_t Begin, int32_t End,
                            StepFn Step) {
  int32_t I = Begin;
  // Up to the first whole byte, then eight at a time.
  for (; I < End && (I & 7); ++I)
    Step(I, (M[I >> 3] >> (I & 7)) & 1u);
  for (; I + 8 <= End; I += 8) {
    const uint32_t Byte = M[I >> 3];
    MOTE_RT_UNROLL
    for (int32_t J = 0; J < 8; ++J)
      Step(I + J, (Byte >> J) & 1u);
  }
  for (; I < End; ++I)
    Step(I, (M[I >> 3] >> (I & 7)) & 1u);
}

} // namespace act_grad_detail

/// mask_pack: bit I % 8 of M[I / 8] is the test of X[I] (relu_grad's
/// X > 0 for HasMin = 1, Min = 0, HasMax = 0; clip_grad's Min < X < Max,
/// an absent bound not tested), the unused high bits of the last byte 0.
/// One bit per element instead of the element: the backward of a ReLU or
/// Clip needs nothing else of it. For f32 with a lower bound >= 0 (ReLU,
/// ReLU6) the test is one unsigned compare of the bits, as in
/// activation_grad_sum.
template <class T>
MOTE_RT_KERNEL void mask_pack(const ClipP &P, const T *X, uint8_t *M) {
  const T Lo = T(P.Min), Hi = T(P.Max);
  const bool TestLo = P.HasMin != 0, TestHi = P.HasMax != 0;
  if constexpr (sizeof(T) == 4) {
    if (TestLo && Lo >= T(0) && (!TestHi || Hi == Hi)) {
      const uint32_t LoB = Lo == T(0) ? 0u : math_detail::bitsOf(Lo);
      const uint32_t HiB = !TestHi ? 0x7f800001u
                           : Hi > T(0) ? math_detail::bitsOf(Hi)
                                       : 0u;
      const uint32_t First = LoB + 1;
      const uint32_t Span = HiB > First ? HiB - First : 0u;
      act_grad_detail::packBits(P.N, X, M, [First, Span](T V) MOTE_RT_LAMBDA {
        return math_detail::bitsOf(V) - First < Span;
      });
      return;
    }
  }
  act_grad_detail::packBits(P.N, X, M, [=](T V) MOTE_RT_LAMBDA {
    return (!TestLo || V > Lo) && (!TestHi || V < Hi);
  });
}

/// mask_pack on codes: the test Lo < q < Hi on whole codes (the lowering
/// turns the real bounds into them, as for mask_grad_q).
template <class TV>
MOTE_RT_KERNEL void mask_pack_q(const MaskQP &P, const TV *X, uint8_t *M) {
  const int32_t Lo = P.Lo, Hi = P.Hi;
  act_grad_detail::packBits(P.N, X, M, [Lo, Hi](TV Q) MOTE_RT_LAMBDA {
    return int32_t(Q) > Lo && int32_t(Q) < Hi;
  });
}

/// mask_grad: dY where the mask's bit is set, else dY * 0 (as mask_grad_q).
template <class T>
MOTE_RT_KERNEL void mask_grad(const UnaryP &P, const T *DY, const uint8_t *M,
                              T *DX) {
  act_grad_detail::forBits(M, 0, P.N, [&](int32_t I, uint32_t Bit)
                                          MOTE_RT_LAMBDA {
                                            DX[I] = Bit ? DY[I] : DY[I] * T(0);
                                          });
}

/// mask_grad_sum: mask_grad and the bias gradient: per channel, images
/// then positions, parts of up to 8 consecutive terms added up by
/// reduce_sum's compensated accumulator (as activation_grad_sum's plain
/// path does: the same error bound).
template <class T>
MOTE_RT_KERNEL void mask_grad_sum(const ActGradSumP &P, const T *DY,
                                  const uint8_t *M, T *DX, T *DB) {
  for (int32_t C = 0; C < P.C; ++C) {
    reduce_detail::SumAcc<T> Acc;
    T Part = T(0);
    int32_t InPart = 0;
    for (int32_t N = 0; N < P.Batch; ++N) {
      const int32_t Base = (N * P.C + C) * P.Inner;
      act_grad_detail::forBits(
          M, Base, Base + P.Inner,
          [&](int32_t I, uint32_t Bit) MOTE_RT_LAMBDA {
            T D = DY[I];
            if (!Bit)
              D = D * T(0);
            DX[I] = D;
            Part += D;
            if (++InPart == 8) {
              Acc.add(Part);
              Part = T(0);
              InPart = 0;
            }
          });
    }
    if (InPart)
      Acc.add(Part);
    DB[C] = Acc.result();
  }
}

/// From the forward result y.
template <class T>
MOTE_RT_KERNEL void sigmoid_grad(const UnaryP &P, const T *DY, const T *Y,
                                 T *DX) {
  act_grad_detail::apply(P.N, DY, Y, DX,
                         [](T V) MOTE_RT_LAMBDA {
                           return act_grad_detail::sigmoidDerivative(V);
                         });
}

/// From the forward result y.
template <class T>
MOTE_RT_KERNEL void tanh_grad(const UnaryP &P, const T *DY, const T *Y, T *DX) {
  act_grad_detail::apply(P.N, DY, Y, DX,
                         [](T V) MOTE_RT_LAMBDA {
                           return act_grad_detail::tanhDerivative(V);
                         });
}

template <class T>
MOTE_RT_KERNEL void hard_sigmoid_grad(const HardSigmoidGradP &P, const T *DY,
                                      const T *X, T *DX) {
  T Alpha = T(P.Alpha);
  if constexpr (sizeof(T) == 4) {
    T Lo = P.Lo, Hi = P.Hi;
    act_grad_detail::apply(P.N, DY, X, DX, [Alpha, Lo, Hi](T V) MOTE_RT_LAMBDA {
      return V > Lo && V < Hi ? Alpha : T(0);
    });
  } else {
    T Beta = T(P.Beta);
    act_grad_detail::apply(P.N, DY, X, DX, [Alpha, Beta](T V) MOTE_RT_LAMBDA {
      T Y = Alpha * V + Beta;
      return Y > T(0) && Y < T(1) ? Alpha : T(0);
    });
  }
}

template <class T>
MOTE_RT_KERNEL void hard_swish_grad(const UnaryP &P, const T *DY, const T *X,
                                    T *DX) {
  act_grad_detail::apply(P.N, DY, X, DX, [](T V) MOTE_RT_LAMBDA {
    return V < T(-3) ? T(0) : (V > T(3) ? T(1) : T(V / T(3) + T(0.5)));
  });
}

template <class T>
MOTE_RT_KERNEL void gelu_grad(const UnaryP &P, const T *DY, const T *X, T *DX) {
  act_grad_detail::apply(P.N, DY, X, DX, [](T V) MOTE_RT_LAMBDA {
    return act_grad_detail::geluDerivative(V);
  });
}

template <class T>
MOTE_RT_KERNEL void gelu_tanh_grad(const UnaryP &P, const T *DY, const T *X,
                                   T *DX) {
  act_grad_detail::apply(P.N, DY, X, DX, [](T V) MOTE_RT_LAMBDA {
    return act_grad_detail::geluTanhDerivative(V);
  });
}

template <class T>
MOTE_RT_KERNEL void erf_grad(const UnaryP &P, const T *DY, const T *X, T *DX) {
  act_grad_detail::apply(P.N, DY, X, DX, [](T V) MOTE_RT_LAMBDA {
    return act_grad_detail::erfDerivative(V);
  });
}

} // namespace mote_rt

#endif // MOTE_RT_ACTIVATION_GRAD_H
