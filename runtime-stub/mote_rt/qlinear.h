//===- qlinear.h - Integer convolution and matrix product -------*- C++ -*-===//
//
// The kernels of QConv and QMatMul (compiler/ops/quant/QLinear.cpp), bit
// for bit the semantics compiler/Quant.h states:
//
//   acc = sum (x - zx) * (w - zw[c])          exact in int32 (the compiler
//                                             proves no sum can overflow)
//   acc = saturate_int32(acc + bias[c])       when there is a bias
//   y   = clamp(requantize(acc, m[c], n[c]) + zy, YMin, YMax)
//         with requantize(a, m, n) = round_half_even(a * m / 2^n), exact in
//         64-bit integers; or y = acc for an int32 result (no requantize).
//
// Since every product and sum is exact (and the true sum fits in int32;
// partial sums taken modulo 2^32 give it exactly), the order of the terms
// does not change the result: these loops may be blocked, vectorized or
// rewritten around SMLAD/SDOT freely and stay bit-exact with the interpreter.
// Padding reads the input zero point (its term is 0).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_QLINEAR_H
#define MOTE_RT_QLINEAR_H

#include "mote_rt/core.h"
#include "mote_rt/quant.h"

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

namespace mote_rt {

namespace qlinear_detail {

/// round_half_even(Acc * M / 2^S) for S in [0, 62], |Acc * M| < 2^62: the
/// statement of compiler/Quant.h, written once for any shift.
MOTE_RT_INLINE int64_t requantize(int32_t Acc, int32_t M, int32_t S) {
  return quant_detail::roundShift(int64_t(Acc) * M, S);
}

/// One output channel's epilogue, its constants computed once per channel.
///
/// The usual channel is Fast: its bias cannot saturate (so the sums start
/// at it, modulo 2^32, and end exact), and requantizing is a 32 x 32 -> 64
/// multiply, an add and a shift:
///
///   requantize(a, M, S) + zy == (hi + K) >> N,  hi = floor(a * M / 2^32),
///   N = S - 32, K = 2^(N-1) + zy * 2^N
///
/// when S >= 33 and no a can give a tie. With P = a * M, the remainder r of
/// P / 2^S is (hi mod 2^N) * 2^32 + (P mod 2^32), so r >= 2^(S-1) exactly
/// when hi mod 2^N >= 2^(N-1); rounding half up is rounding half to even
/// unless r can be 2^(S-1), i.e. P have exactly S - 1 trailing zero bits,
/// which needs a multiple of 2^(S-1-t) for M with t trailing zeros: none in
/// int32 but 0 when t < N. |hi| <= 2^30 and |K| <= 2^30 keep hi + K in
/// int32. Other channels take the statement itself (requantize()).
struct Channel {
  uint32_t Start = 0; ///< where the sums start: the bias when Fast, else 0
  int32_t Bias = 0;   ///< added by finish(), saturating, when not Fast
  int32_t M = 0, S = 0;
  int32_t K = 0, N = 0; ///< the Fast form of requantize(a, M, S) + zy
  bool Fast = false;
};

/// Channel C's epilogue for a sum of Taps products (each at most 255 * 255
/// in magnitude).
MOTE_RT_INLINE Channel channel(const RequantP &Q, int32_t C,
                               const int32_t *Bias, int32_t Taps) {
  Channel E;
  const int32_t B = Bias ? Bias[C] : 0;
  E.M = Q.Multiplier[C];
  E.S = Q.Shift[C];
  const int64_t Worst = int64_t(Taps) * 65025 + (B < 0 ? -int64_t(B) : B);
  bool Exact = !Q.Requant;
  if (Q.Requant && E.S >= 33 && E.M > 0 &&
      __builtin_ctz(uint32_t(E.M)) < E.S - 32) {
    E.N = E.S - 32;
    const int64_t K =
        (int64_t(1) << (E.N - 1)) + int64_t(Q.YZeroPoint) * (int64_t(1) << E.N);
    Exact = K >= -(int64_t(1) << 30) && K <= (int64_t(1) << 30);
    E.K = int32_t(K);
  }
  E.Fast = Exact && Worst <= INT32_MAX;
  E.Start = E.Fast ? uint32_t(B) : 0;
  E.Bias = E.Fast ? 0 : B;
  return E;
}

/// Saturating int32 addition.
MOTE_RT_INLINE int32_t addSat(int32_t A, int32_t B) {
  int32_t R;
  if (__builtin_add_overflow(A, B, &R))
    return A < 0 ? INT32_MIN : INT32_MAX;
  return R;
}

template <class T> inline constexpr bool IsSignedInt = T(-1) < T(0);

/// Y clamped to [YMin, YMax], as TY.
template <class TY, class T> MOTE_RT_INLINE TY clampTo(const RequantP &Q, T Y) {
  return TY(Y < Q.YMin ? Q.YMin : Y > Q.YMax ? Q.YMax : Y);
}

/// clampTo for an int32 Y; on Arm an 8-bit TY's range is one SSAT or USAT
/// (GCC makes branches of the compares), then the clamp's narrower bounds.
template <class TY> MOTE_RT_INLINE TY clamp32(const RequantP &Q, int32_t Y) {
#if defined(__ARM_FEATURE_SAT)
  if constexpr (sizeof(TY) == 1) {
    constexpr int32_t Lo = IsSignedInt<TY> ? -128 : 0;
    constexpr int32_t Hi = IsSignedInt<TY> ? 127 : 255;
    if constexpr (IsSignedInt<TY>)
      Y = __ssat(Y, 8);
    else
      Y = int32_t(__usat(Y, 8));
    if (Q.YMin > Lo)
      Y = Y < Q.YMin ? Q.YMin : Y;
    if (Q.YMax < Hi)
      Y = Y > Q.YMax ? Q.YMax : Y;
    return TY(Y);
  }
#endif
  return clampTo<TY>(Q, Y);
}

/// floor(A * M / 2^32) + K, for a sum that fits in int32: one SMMLA on the
/// DSP extension (GCC 12 makes a multiply and an add of the C form).
MOTE_RT_INLINE int32_t mulHiAdd(int32_t A, int32_t M, int32_t K) {
#if defined(__ARM_FEATURE_DSP) && !defined(__clang__)
  int32_t R;
  __asm__("smmla %0, %1, %2, %3" : "=r"(R) : "r"(A), "r"(M), "r"(K));
  return R;
#else
  return int32_t((int64_t(A) * M) >> 32) + K;
#endif
}

/// The output of a Fast channel E whose sum (started at E.Start) is Sum,
/// modulo 2^32 (see the file comment).
template <class TY>
MOTE_RT_INLINE TY finishFast(const RequantP &Q, const Channel &E,
                             uint32_t Sum) {
  if (!Q.Requant)
    return TY(int32_t(Sum));
  return clamp32<TY>(Q, mulHiAdd(int32_t(Sum), E.M, E.K) >> E.N);
}

/// The output of channel E whose sum (started at E.Start) is Sum.
template <class TY>
MOTE_RT_INLINE TY finish(const RequantP &Q, const Channel &E, uint32_t Sum) {
  if (E.Fast)
    return finishFast<TY>(Q, E, Sum);
  const int32_t A = addSat(int32_t(Sum), E.Bias);
  if (!Q.Requant)
    return TY(A);
  return clampTo<TY>(Q, requantize(A, E.M, E.S) + Q.YZeroPoint);
}

/// F(Fin) with Fin(Q, E, Sum) finishing an output of a block of channels:
/// finishFast when every one is Fast (one test per block), else finish.
template <class TY, class Fn>
MOTE_RT_INLINE void withFinish(bool AllFast, Fn F) {
  if (AllFast)
    F([](const RequantP &Q, const Channel &E, uint32_t Sum)
          MOTE_RT_LAMBDA { return finishFast<TY>(Q, E, Sum); });
  else
    F([](const RequantP &Q, const Channel &E, uint32_t Sum)
          MOTE_RT_LAMBDA { return finish<TY>(Q, E, Sum); });
}

/// The output positions [Lo, Hi) along one dim whose whole window (K taps
/// Dil apart from o * S - P) lies inside [0, In).
MOTE_RT_INLINE void interior(int32_t In, int32_t Out, int32_t K, int32_t S,
                             int32_t Dil, int32_t P, int32_t &Lo, int32_t &Hi) {
  Lo = (P + S - 1) / S;
  const int32_t Last = In - 1 + P - (K - 1) * Dil; // o * S <= Last
  Hi = Last < 0 ? 0 : Last / S + 1;
  Lo = Lo > Out ? Out : Lo;
  Hi = Hi > Out ? Out : Hi;
  Hi = Hi < Lo ? Lo : Hi;
}

/// The taps [K0, K1) of a K-tap window starting at input position Start
/// (Dil apart) that fall inside [0, In).
MOTE_RT_INLINE void taps(int32_t Start, int32_t In, int32_t K, int32_t Dil,
                         int32_t &K0, int32_t &K1) {
  K0 = Start >= 0 ? 0 : (-Start + Dil - 1) / Dil;
  const int32_t Last = In - 1 - Start; // k * Dil <= Last
  K1 = Last < 0 ? 0 : Last / Dil + 1;
  K1 = K1 > K ? K : K1;
  K0 = K0 > K1 ? K1 : K0;
}

/// The sizes of an input plane, an output plane and a kernel plane.
struct Planes {
  int32_t In, Out, K;
};
MOTE_RT_INLINE Planes planes(const ConvP &G) {
  return {G.In[0] * G.In[1] * G.In[2], G.Out[0] * G.Out[1] * G.Out[2],
          G.Kernel[0] * G.Kernel[1] * G.Kernel[2]};
}

/// The window of one output position: the offset of its first input
/// element in a plane (tap (0, 0, 0), negative or past the end at the
/// border) and the taps inside the input.
struct Window {
  int32_t Base;
  int32_t K0[3], K1[3];
};

/// The interior ranges [Lo, Hi) of the three output dims, then F(D0, H0,
/// Row) for each output row (od, oh) in order: its first input row along D
/// and H, whether its windows lie inside the input along both, and Wn's
/// taps along D and H set for it.
template <class Fn>
MOTE_RT_INLINE void forEachRow(const ConvP &G, int32_t *Lo, int32_t *Hi,
                               Window &Wn, Fn F) {
  for (int D = 0; D < 3; ++D)
    interior(G.In[D], G.Out[D], G.Kernel[D], G.Strides[D], G.Dilations[D],
             G.PadBegin[D], Lo[D], Hi[D]);
  for (int32_t OD = 0; OD < G.Out[0]; ++OD)
    for (int32_t OH = 0; OH < G.Out[1]; ++OH) {
      const int32_t D0 = OD * G.Strides[0] - G.PadBegin[0];
      const int32_t H0 = OH * G.Strides[1] - G.PadBegin[1];
      taps(D0, G.In[0], G.Kernel[0], G.Dilations[0], Wn.K0[0], Wn.K1[0]);
      taps(H0, G.In[1], G.Kernel[1], G.Dilations[1], Wn.K0[1], Wn.K1[1]);
      F(D0, H0, OD >= Lo[0] && OD < Hi[0] && OH >= Lo[1] && OH < Hi[1]);
    }
}

/// Sum over channel c < CPG and the window's taps of x * w[b] for NB
/// output channels (weights WM[b]), modulo 2^32, with x read as x - Zx
/// (Offset) or as x itself (the caller corrects by Zx times the weights'
/// sum), and the sum of the x read when WithXSum. Each x is read once
/// for all NB channels; no bound checks.
template <int NB, bool Offset, bool WithXSum, class TX, class TW>
MOTE_RT_INLINE void windowSums(const ConvP &G, int32_t InPlane, int32_t KPlane,
                               const TX *XG, const TW *const *WM, int32_t Zx,
                               const Window &Wn, uint32_t *Acc,
                               uint32_t &XSum) {
  static_assert(NB == 1 || NB == 4, "one or four output channels");
  const int32_t CPG = G.CPerGroup;
  const int32_t SD = G.Dilations[0] * G.In[1] * G.In[2],
                SH = G.Dilations[1] * G.In[2], SW = G.Dilations[2];
  const int32_t KHW = G.Kernel[1] * G.Kernel[2], KW_ = G.Kernel[2];
  // The sums live in locals (registers), the weight rows in local
  // pointers: one input read feeds NB multiply-accumulates.
  uint32_t A0 = 0, A1 = 0, A2 = 0, A3 = 0, S = 0;
  const TW *W0 = WM[0], *W1 = WM[NB > 1 ? 1 : 0], *W2 = WM[NB > 2 ? 2 : 0],
           *W3 = WM[NB > 3 ? 3 : 0];
  auto Tap = [&](int32_t XI, int32_t T) MOTE_RT_LAMBDA {
    const uint32_t XV = uint32_t(int32_t(XG[XI]) - (Offset ? Zx : 0));
    if constexpr (WithXSum)
      S += XV;
    A0 += XV * uint32_t(int32_t(W0[T]));
    if constexpr (NB == 4) {
      A1 += XV * uint32_t(int32_t(W1[T]));
      A2 += XV * uint32_t(int32_t(W2[T]));
      A3 += XV * uint32_t(int32_t(W3[T]));
    }
  };
  if (KPlane == 1) { // 1x1 kernel: one tap per input channel, if inside
    if (Wn.K1[0] > Wn.K0[0] && Wn.K1[1] > Wn.K0[1] && Wn.K1[2] > Wn.K0[2])
      for (int32_t C = 0, XI = Wn.Base; C < CPG; ++C, XI += InPlane)
        Tap(XI, C);
  } else {
    for (int32_t C = 0; C < CPG; ++C) {
      const int32_t XC = C * InPlane + Wn.Base;
      for (int32_t KD = Wn.K0[0]; KD < Wn.K1[0]; ++KD)
        for (int32_t KH = Wn.K0[1]; KH < Wn.K1[1]; ++KH) {
          const int32_t XR = XC + KD * SD + KH * SH;
          const int32_t T = C * KPlane + KD * KHW + KH * KW_;
          for (int32_t KW = Wn.K0[2]; KW < Wn.K1[2]; ++KW)
            Tap(XR + KW * SW, T + KW);
        }
    }
  }
  Acc[0] = A0;
  if constexpr (NB == 4) {
    Acc[1] = A1;
    Acc[2] = A2;
    Acc[3] = A3;
  }
  XSum = S;
}

/// Output channels M0 .. M0+NB-1 (one group) of image N.
///
/// sum (x - Zx)(w - Zw) = sum x w - Zx sum w - Zw sum (x - Zx): at a
/// position whose window lies inside the input, x is read as is and the
/// Zx part is the weights' whole sum, once per channel; at the border
/// (fewer taps) x is read as x - Zx. The Zw part needs the inputs' sum,
/// taken only when a weight zero point is not 0 (WithZw).
template <int NB, bool WithZw, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvChannels(const QConvP &P, const TX *X, const TW *W,
                                  const int32_t *B, TY *Y, int32_t N,
                                  int32_t M0) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const int32_t Zx = Q.XZeroPoint;
  const int32_t Grp = M0 / G.MPerGroup;
  const TX *XG = X + (N * G.C + Grp * G.CPerGroup) * InPlane;
  const TW *WM[NB];
  int32_t Zw[NB];
  uint32_t ZxWSum[NB]; // Zx times the channel's weight sum
  Channel E[NB];
  TY *YM[NB];
  const int32_t Taps = G.CPerGroup * KPlane;
  for (int Bk = 0; Bk < NB; ++Bk) {
    WM[Bk] = W + (M0 + Bk) * Taps;
    Zw[Bk] = Q.WZeroPoint[M0 + Bk];
    uint32_t WSum = 0;
    for (int32_t T = 0; T < Taps; ++T)
      WSum += uint32_t(int32_t(WM[Bk][T]));
    ZxWSum[Bk] = uint32_t(Zx) * WSum;
    E[Bk] = channel(Q, M0 + Bk, B, Taps);
    YM[Bk] = Y + (N * G.M + M0 + Bk) * OutPlane;
  }
  int32_t Lo[3], Hi[3];
  Window Wn;
  uint32_t Acc[NB];
  uint32_t XSum = 0;
  int32_t O = 0;
  forEachRow(
      G, Lo, Hi, Wn, [&](int32_t D0, int32_t H0, bool Row) MOTE_RT_LAMBDA {
        for (int32_t OW = 0; OW < G.Out[2]; ++OW, ++O) {
          const int32_t W0 = OW * G.Strides[2] - G.PadBegin[2];
          Wn.Base = (D0 * G.In[1] + H0) * G.In[2] + W0;
          if (Row && OW >= Lo[2] && OW < Hi[2]) {
            Wn.K0[2] = 0;
            Wn.K1[2] = G.Kernel[2];
            windowSums<NB, false, WithZw>(G, InPlane, KPlane, XG, WM, Zx, Wn,
                                          Acc, XSum);
            // XSum is sum x here: sum (x - Zx) = XSum - Taps * Zx.
            const uint32_t XOff = XSum - uint32_t(Taps) * uint32_t(Zx);
            for (int Bk = 0; Bk < NB; ++Bk) {
              uint32_t A = Acc[Bk] - ZxWSum[Bk];
              if constexpr (WithZw)
                A -= uint32_t(Zw[Bk]) * XOff;
              YM[Bk][O] = finish<TY>(Q, E[Bk], A + E[Bk].Start);
            }
            continue;
          }
          taps(W0, G.In[2], G.Kernel[2], G.Dilations[2], Wn.K0[2], Wn.K1[2]);
          windowSums<NB, true, WithZw>(G, InPlane, KPlane, XG, WM, Zx, Wn, Acc,
                                       XSum);
          for (int Bk = 0; Bk < NB; ++Bk) {
            uint32_t A = Acc[Bk];
            if constexpr (WithZw)
              A -= uint32_t(Zw[Bk]) * XSum;
            YM[Bk][O] = finish<TY>(Q, E[Bk], A + E[Bk].Start);
          }
        }
      });
}

/// Depthwise output channel M of image N (one input and one output channel
/// per group): the weights are the same for every position, so four
/// neighbouring interior positions share each weight read; the rest goes
/// through qconvChannels' per-position path. Same sums as there.
template <bool WithZw, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvDepthwise(const QConvP &P, const TX *X, const TW *W,
                                   const int32_t *B, TY *Y, int32_t N,
                                   int32_t M) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const int32_t Zx = Q.XZeroPoint, Zw = Q.WZeroPoint[M];
  const TX *XG = X + (N * G.C + M) * InPlane;
  const TW *WM = W + M * KPlane;
  TY *YM = Y + (N * G.M + M) * OutPlane;
  uint32_t WSum = 0;
  for (int32_t T = 0; T < KPlane; ++T)
    WSum += uint32_t(int32_t(WM[T]));
  const uint32_t ZxWSum = uint32_t(Zx) * WSum;
  const uint32_t TapsZx = uint32_t(KPlane) * uint32_t(Zx);
  const Channel E = channel(Q, M, B, KPlane);
  const int32_t SD = G.Dilations[0] * G.In[1] * G.In[2],
                SH = G.Dilations[1] * G.In[2], SW = G.Dilations[2],
                S2 = G.Strides[2];
  int32_t Lo[3], Hi[3];
  const TW *const WMs[1] = {WM};
  Window Wn;
  uint32_t Acc[1], XSum = 0;
  int32_t O = 0;
  forEachRow(
      G, Lo, Hi, Wn, [&](int32_t D0, int32_t H0, bool Row) MOTE_RT_LAMBDA {
        const int32_t RowBase = (D0 * G.In[1] + H0) * G.In[2] - G.PadBegin[2];
        int32_t OW = 0;
        while (OW < G.Out[2]) {
          if (Row && OW >= Lo[2] && OW + 4 <= Hi[2]) {
            // Four interior positions, x read as is (Zx corrected below).
            uint32_t A0 = 0, A1 = 0, A2 = 0, A3 = 0;
            uint32_t SX0 = 0, SX1 = 0, SX2 = 0, SX3 = 0; // sums of x (WithZw)
            const int32_t Base = RowBase + OW * S2;
            int32_t T = 0;
            for (int32_t KD = 0; KD < G.Kernel[0]; ++KD)
              for (int32_t KH = 0; KH < G.Kernel[1]; ++KH) {
                const TX *XR = XG + Base + KD * SD + KH * SH;
                for (int32_t KW = 0; KW < G.Kernel[2]; ++KW, ++T) {
                  const uint32_t WV = uint32_t(int32_t(WM[T]));
                  const TX *XP = XR + KW * SW;
                  const uint32_t X0 = uint32_t(int32_t(XP[0])),
                                 X1 = uint32_t(int32_t(XP[S2])),
                                 X2 = uint32_t(int32_t(XP[2 * S2])),
                                 X3 = uint32_t(int32_t(XP[3 * S2]));
                  A0 += X0 * WV;
                  A1 += X1 * WV;
                  A2 += X2 * WV;
                  A3 += X3 * WV;
                  if constexpr (WithZw) {
                    SX0 += X0;
                    SX1 += X1;
                    SX2 += X2;
                    SX3 += X3;
                  }
                }
              }
            const uint32_t Acc4[4] = {A0, A1, A2, A3};
            const uint32_t XSum4[4] = {SX0, SX1, SX2, SX3};
            for (int I = 0; I < 4; ++I) {
              uint32_t A = Acc4[I] - ZxWSum;
              if constexpr (WithZw) // sum (x - Zx) = sum x - taps * Zx
                A -= uint32_t(Zw) * (XSum4[I] - TapsZx);
              YM[O + I] = finish<TY>(Q, E, A + E.Start);
            }
            O += 4;
            OW += 4;
            continue;
          }
          const int32_t W0 = OW * S2 - G.PadBegin[2];
          Wn.Base = (D0 * G.In[1] + H0) * G.In[2] + W0;
          taps(W0, G.In[2], G.Kernel[2], G.Dilations[2], Wn.K0[2], Wn.K1[2]);
          windowSums<1, true, WithZw>(G, InPlane, KPlane, XG, WMs, Zx, Wn, Acc,
                                      XSum);
          uint32_t A = Acc[0];
          if constexpr (WithZw)
            A -= uint32_t(Zw) * XSum;
          YM[O] = finish<TY>(Q, E, A + E.Start);
          ++O;
          ++OW;
        }
      });
}

template <bool WithZw, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvAll(const QConvP &P, const TX *X, const TW *W,
                             const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t Grp = 0; Grp < G.Group; ++Grp) {
      if (G.CPerGroup == 1 && G.MPerGroup == 1) {
        qconvDepthwise<WithZw>(P, X, W, B, Y, N, Grp);
        continue;
      }
      const int32_t End = (Grp + 1) * G.MPerGroup;
      int32_t M = Grp * G.MPerGroup;
      for (; M + 4 <= End; M += 4)
        qconvChannels<4, WithZw>(P, X, W, B, Y, N, M);
      // At most three are left (a bound the compiler can see).
      for (int32_t K = 0; K < 3 && M < End; ++K, ++M)
        qconvChannels<1, WithZw>(P, X, W, B, Y, N, M);
    }
}

/// Whether some weight zero point is not 0.
MOTE_RT_INLINE bool anyWeightZeroPoint(const RequantP &Q, int32_t Channels) {
  bool Zw = false;
  for (int32_t C = 0; C < Channels; ++C)
    Zw = Zw || Q.WZeroPoint[C] != 0;
  return Zw;
}

/// The portable kernels (the loops above).
template <class TX, class TW, class TY>
MOTE_RT_INLINE void qconvPortable(const QConvP &P, const TX *X, const TW *W,
                                  const int32_t *B, TY *Y) {
  if (anyWeightZeroPoint(P.Q, P.Conv.M))
    qconvAll<true>(P, X, W, B, Y);
  else
    qconvAll<false>(P, X, W, B, Y);
}

//===----------------------------------------------------------------------===//
// Dual 16-bit multiply-accumulate (SMLAD)
//
// The kernels below take two products per instruction where the DSP
// extension has SMLAD (Cortex-M4, M7, M55): a word of four int8 or uint8
// values widens into two pairs of 16-bit lanes (SXTB16/UXTB16 take bytes 0
// and 2, and with a rotation by 8 bytes 1 and 3), and SMLAD adds both lane
// products of two pairs to a sum. Pairing bytes 0 and 2 of a weight row with
// bytes 0 and 2 of an input row needs no shuffle. Pairs is the set of these
// operations: DspPairs the instructions, PortablePairs the same arithmetic
// in plain C++ (the unit tests run the kernels with it on the host, the
// same blocks, orders and bounds as on the device).
//===----------------------------------------------------------------------===//

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the pair kernels read the byte at P[I] as bits 8 * I");

/// The 4 bytes at P, any alignment.
template <class T> MOTE_RT_INLINE uint32_t load4(const T *P) {
  uint32_t V;
  __builtin_memcpy(&V, P, 4);
  return V;
}

/// The 2 bytes at P, any alignment, zero-extended.
template <class T> MOTE_RT_INLINE uint32_t load2(const T *P) {
  uint16_t V;
  __builtin_memcpy(&V, P, 2);
  return V;
}

/// F(0), ..., F(N-1), unrolled: each index is a constant, so blocks of sums
/// indexed by it stay in registers (GCC -O2 keeps such loops otherwise).
template <int N, class Fn> MOTE_RT_INLINE void unrolled(Fn F) {
  if constexpr (N > 0) {
    unrolled<N - 1>(F);
    F(N - 1);
  }
}

/// F.template operator()<0>(), ..., <N-1>(): unrolled with each index a
/// template argument.
template <int N, class Fn> MOTE_RT_INLINE void unrolledT(Fn F) {
  if constexpr (N > 0) {
    unrolledT<N - 1>(F);
    F.template operator()<N - 1>();
  }
}

/// Two 16-bit lanes held as two ints.
struct PortablePairs {
  struct Pair {
    int32_t Lo, Hi;
  };
  /// Bytes 0 and 2 of W as T, widened.
  template <class T> static MOTE_RT_INLINE Pair even(uint32_t W) {
    return {int32_t(T(W)), int32_t(T(W >> 16))};
  }
  /// Bytes 1 and 3 of W as T, widened.
  template <class T> static MOTE_RT_INLINE Pair odd(uint32_t W) {
    return {int32_t(T(W >> 8)), int32_t(T(W >> 24))};
  }
  static MOTE_RT_INLINE Pair pair(int32_t Lo, int32_t Hi) { return {Lo, Hi}; }
  /// A pair whose low lane is V (its high lane is never read).
  static MOTE_RT_INLINE Pair low(int32_t V) { return {V, 0}; }
  /// The pairs at Off and Off + 1 of P.
  template <int Off>
  static MOTE_RT_INLINE void pairsAt(const Pair *P, Pair &A, Pair &B) {
    A = P[Off];
    B = P[Off + 1];
  }
  /// Acc + A.Lo * B.Lo + A.Hi * B.Hi, modulo 2^32 (SMLAD).
  static MOTE_RT_INLINE uint32_t dot(uint32_t Acc, Pair A, Pair B) {
    return Acc + uint32_t(A.Lo * B.Lo) + uint32_t(A.Hi * B.Hi);
  }
  /// Acc + A.Lo * B.Lo (SMLABB).
  static MOTE_RT_INLINE uint32_t dotLo(uint32_t Acc, Pair A, Pair B) {
    return Acc + uint32_t(A.Lo * B.Lo);
  }
  /// Acc + A.Hi * B.Lo (SMLATB).
  static MOTE_RT_INLINE uint32_t dotHiLo(uint32_t Acc, Pair A, Pair B) {
    return Acc + uint32_t(A.Hi * B.Lo);
  }
};

#if defined(__ARM_FEATURE_DSP)
/// Two 16-bit lanes in one register, ACLE's intrinsics (arm_acle.h, in
/// arm-none-eabi-g++ and clang alike).
struct DspPairs {
  using Pair = int32_t;
  template <class T> static MOTE_RT_INLINE Pair even(uint32_t W) {
    if constexpr (IsSignedInt<T>)
      return __sxtb16(int32_t(W));
    else
      return int32_t(__uxtb16(W));
  }
  template <class T> static MOTE_RT_INLINE Pair odd(uint32_t W) {
#if defined(__clang__)
    return even<T>(__ror(W, 8));
#else
    // GCC 12 keeps a rotation apart from the extension; the instruction
    // takes it for free.
    Pair R;
    if constexpr (IsSignedInt<T>)
      __asm__("sxtb16 %0, %1, ror #8" : "=r"(R) : "r"(W));
    else
      __asm__("uxtb16 %0, %1, ror #8" : "=r"(R) : "r"(W));
    return R;
#endif
  }
  static MOTE_RT_INLINE Pair pair(int32_t Lo, int32_t Hi) {
    return int32_t((uint32_t(Lo) & 0xFFFF) | (uint32_t(Hi) << 16));
  }
  static MOTE_RT_INLINE Pair low(int32_t V) { return V; }
  /// One LDRD (GCC 12 loads two words with two LDRs).
  template <int Off>
  static MOTE_RT_INLINE void pairsAt(const Pair *P, Pair &A, Pair &B) {
#if defined(__clang__)
    A = P[Off];
    B = P[Off + 1];
#else
    static_assert(Off >= 0 && Off * 4 <= 1020, "LDRD's offset");
    __asm__("ldrd %0, %1, [%2, %3]"
            : "=r"(A), "=r"(B)
            : "r"(P), "I"(Off * 4), "m"(*(const Pair(*)[Off + 2])P));
#endif
  }
  static MOTE_RT_INLINE uint32_t dot(uint32_t Acc, Pair A, Pair B) {
    return uint32_t(__smlad(A, B, int32_t(Acc)));
  }
  static MOTE_RT_INLINE uint32_t dotLo(uint32_t Acc, Pair A, Pair B) {
    return uint32_t(__smlabb(A, B, int32_t(Acc)));
  }
  static MOTE_RT_INLINE uint32_t dotHiLo(uint32_t Acc, Pair A, Pair B) {
    return uint32_t(__smlatb(A, B, int32_t(Acc)));
  }
};
#endif

/// Acc[i][j] += sum_{k < K} A[i * LdA + k] * B[k * LdB + j] for i < R and
/// j < C (1 or 2), modulo 2^32: a block of a matrix product whose A rows
/// and B columns run along k. Four k at a time: one word of each A row
/// gives the pairs (k, k+2) and (k+1, k+3); B's rows k and k+2 (k+1 and
/// k+3) share a word, C bytes each, whose even and odd bytes are the pairs
/// of B's columns j = 0 and 1.
template <class Ops, int R, int C, class TA, class TB>
MOTE_RT_INLINE void dotBlock(const TA *A, int32_t LdA, const TB *B, int32_t LdB,
                             int32_t K, uint32_t (&Acc)[R][C]) {
  static_assert(C == 1 || C == 2, "one or two columns");
  using Pair = typename Ops::Pair;
  auto Cols = [](const TB *P) MOTE_RT_LAMBDA -> uint32_t {
    if constexpr (C == 2)
      return load2(P);
    else
      return uint8_t(*P);
  };
  const int32_t K4 = K & ~3;
  const TB *BK = B;
  for (int32_t Kk = 0; Kk < K4; Kk += 4, BK += 4 * LdB) {
    const uint32_t B02 = Cols(BK) | Cols(BK + 2 * LdB) << 16;
    const uint32_t B13 = Cols(BK + LdB) | Cols(BK + 3 * LdB) << 16;
    Pair P02[C], P13[C];
    P02[0] = Ops::template even<TB>(B02);
    P13[0] = Ops::template even<TB>(B13);
    if constexpr (C == 2) {
      P02[1] = Ops::template odd<TB>(B02);
      P13[1] = Ops::template odd<TB>(B13);
    }
    unrolled<R>([&](int I) MOTE_RT_LAMBDA {
      const uint32_t AW = load4(A + I * LdA + Kk);
      const Pair AE = Ops::template even<TA>(AW);
      const Pair AO = Ops::template odd<TA>(AW);
      unrolled<C>([&](int J) MOTE_RT_LAMBDA {
        Acc[I][J] = Ops::dot(Ops::dot(Acc[I][J], AE, P02[J]), AO, P13[J]);
      });
    });
  }
  for (int32_t Kk = K4; Kk < K; ++Kk, BK += LdB)
    unrolled<R>([&](int I) MOTE_RT_LAMBDA {
      unrolled<C>([&](int J) MOTE_RT_LAMBDA {
        Acc[I][J] +=
            uint32_t(int32_t(A[I * LdA + Kk])) * uint32_t(int32_t(BK[J]));
      });
    });
}

/// The widest input a pointwise panel holds: PanelPositions positions of
/// this many channels as 16-bit lanes (2 KB of stack); wider inputs take
/// dotBlock.
inline constexpr int32_t MaxPanelChannels = 256;

/// The positions of a panel.
inline constexpr int PanelPositions = 4;

/// Output channels this many at a time share one panel (their epilogue
/// constants on the stack).
inline constexpr int32_t PanelRows = 16;

/// The input channels of positions Pos .. Pos+C-1 (C <= PanelPositions) of the
/// planes XG [CPG, Plane] as pairs, four channels k .. k+3 at a time: for
/// the q-th four, Pan[q][j] holds (x_k, x_k+2) and (x_k+1, x_k+3) of
/// position Pos + j, the pairs a weight word's even and odd bytes meet.
/// CPG & ~3 channels.
template <class Ops, int C, class TX>
MOTE_RT_INLINE void buildPanel(const TX *XG, int32_t Plane, int32_t CPG,
                               int32_t Pos,
                               typename Ops::Pair (*Pan)[PanelPositions][2]) {
  const int32_t Q4 = CPG >> 2;
  for (int J = 0; J < C; ++J) {
    const TX *XP = XG + Pos + J;
    for (int32_t Q = 0; Q < Q4; ++Q, XP += 4 * Plane) {
      Pan[Q][J][0] = Ops::pair(XP[0], XP[2 * Plane]);
      Pan[Q][J][1] = Ops::pair(XP[Plane], XP[3 * Plane]);
    }
  }
}

/// Output channels M0 .. M1-1 (at most PanelRows) of a pointwise
/// convolution (1x1 kernel, unit strides, no padding) of image N: the
/// matrix product of the weights W [M, CPG] and the input planes XG [CPG,
/// Plane]. Two positions at a time, their input channels widened once into
/// a panel of pairs (buildPanel) that every output channel reads, two
/// channels by two positions per block: per four channels, a word of each
/// weight row (two extensions) and two pairs of each position feed eight
/// SMLADs. x is read as is: each sum starts at the bias minus Zx times the
/// channel's weight sum (no weight zero points here).
template <class Ops, class TX, class TW, class TY>
MOTE_RT_INLINE void pointwisePanel(const QConvP &P, const TX *XG, const TW *W,
                                   const int32_t *B, TY *Y, int32_t N,
                                   int32_t M0, int32_t M1) {
  using Pair = typename Ops::Pair;
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const int32_t Plane = G.Out[0] * G.Out[1] * G.Out[2], CPG = G.CPerGroup;
  const int32_t K4 = CPG & ~3;
  Channel E[PanelRows];
  uint32_t Start[PanelRows];
  bool AllFast = true;
  for (int32_t M = M0; M < M1; ++M) {
    const TW *WM = W + M * CPG;
    uint32_t WSum = 0;
    for (int32_t C = 0; C < CPG; ++C)
      WSum += uint32_t(int32_t(WM[C]));
    Channel &EM = E[M - M0];
    EM = channel(Q, M, B, CPG);
    AllFast = AllFast && EM.Fast;
    Start[M - M0] = EM.Start - uint32_t(Q.XZeroPoint) * WSum;
  }
  Pair Pan[MaxPanelChannels / 4][PanelPositions][2];
  withFinish<TY>(AllFast, [&](auto Fin) MOTE_RT_LAMBDA {
    // R rows by C positions from Pos: the panel's pairs, eight channels per
    // iteration, then the channels past the last four one by one.
    auto Block = [&]<int R, int C>(int32_t M, int32_t Pos) MOTE_RT_LAMBDA {
      uint32_t Acc[R][C];
      unrolled<R * C>([&](int K) MOTE_RT_LAMBDA {
        Acc[K / C][K % C] = Start[M - M0 + K / C];
      });
      const TW *WM = W + M * CPG;
      // Channels K .. K+3: the pairs of Pan[Q] from PQ (its row Off).
      auto Four = [&]<int Off>(const TW *WK, const Pair *PQ) MOTE_RT_LAMBDA {
        Pair PE[C], PO[C];
        unrolledT<C>([&]<int J>() MOTE_RT_LAMBDA {
          Ops::template pairsAt<Off + 2 * J>(PQ, PE[J], PO[J]);
        });
        unrolled<R>([&](int I) MOTE_RT_LAMBDA {
          const uint32_t AW = load4(WK + I * CPG);
          const Pair AE = Ops::template even<TW>(AW);
          const Pair AO = Ops::template odd<TW>(AW);
          unrolled<C>([&](int J) MOTE_RT_LAMBDA {
            Acc[I][J] = Ops::dot(Ops::dot(Acc[I][J], AE, PE[J]), AO, PO[J]);
          });
        });
      };
      const Pair *PQ = Pan[0][0];
      const TW *WK = WM;
      int32_t K = 0;
      for (; K < K4; K += 4, WK += 4, PQ += 2 * PanelPositions)
        Four.template operator()<0>(WK, PQ);
      for (; K < CPG; ++K)
        unrolled<R * C>([&](int T) MOTE_RT_LAMBDA {
          Acc[T / C][T % C] +=
              uint32_t(int32_t(WM[(T / C) * CPG + K])) *
              uint32_t(int32_t(XG[K * Plane + Pos + T % C]));
        });
      unrolled<R * C>([&](int T) MOTE_RT_LAMBDA {
        Y[(N * G.M + M + T / C) * Plane + Pos + T % C] =
            Fin(Q, E[M - M0 + T / C], Acc[T / C][T % C]);
      });
    };
    auto Positions = [&]<int C>(int32_t Pos) MOTE_RT_LAMBDA {
      buildPanel<Ops, C>(XG, Plane, CPG, Pos, Pan);
      for (int32_t M = M0; M < M1; ++M)
        Block.template operator()<1, C>(M, Pos);
    };
    int32_t Pos = 0;
    for (; Pos + 4 <= Plane; Pos += 4)
      Positions.template operator()<4>(Pos);
    if (Pos + 2 <= Plane) {
      Positions.template operator()<2>(Pos);
      Pos += 2;
    }
    if (Pos < Plane)
      Positions.template operator()<1>(Pos);
  });
}

/// Output channels M .. M+R-1 of a pointwise convolution as pointwisePanel
/// but reading the input planes directly (inputs wider than a panel): the
/// matrix product of the weights W [M, CPG] and the input planes XG [CPG,
/// Plane], two positions at a time.
/// x is read as is: each sum starts at the bias minus Zx times the
/// channel's weight sum (no weight zero points here).
template <class Ops, int R, class TX, class TW, class TY>
MOTE_RT_INLINE void pointwiseRows(const QConvP &P, const TX *XG, const TW *W,
                                  const int32_t *B, TY *Y, int32_t N,
                                  int32_t M) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const int32_t Plane = G.Out[0] * G.Out[1] * G.Out[2], CPG = G.CPerGroup;
  const TW *WM = W + M * CPG;
  Channel E[R];
  uint32_t Start[R];
  TY *YM[R];
  bool AllFast = true;
  for (int I = 0; I < R; ++I) {
    uint32_t WSum = 0;
    for (int32_t C = 0; C < CPG; ++C)
      WSum += uint32_t(int32_t(WM[I * CPG + C]));
    E[I] = channel(Q, M + I, B, CPG);
    AllFast = AllFast && E[I].Fast;
    Start[I] = E[I].Start - uint32_t(Q.XZeroPoint) * WSum;
    YM[I] = Y + (N * G.M + M + I) * Plane;
  }
  withFinish<TY>(AllFast, [&](auto Fin) MOTE_RT_LAMBDA {
    auto Block = [&]<int C>(int32_t Pos) MOTE_RT_LAMBDA {
      uint32_t Acc[R][C];
      unrolled<R * C>([&](int K)
                          MOTE_RT_LAMBDA { Acc[K / C][K % C] = Start[K / C]; });
      dotBlock<Ops, R, C>(WM, CPG, XG + Pos, Plane, CPG, Acc);
      unrolled<R * C>([&](int K) MOTE_RT_LAMBDA {
        YM[K / C][Pos + K % C] = Fin(Q, E[K / C], Acc[K / C][K % C]);
      });
    };
    int32_t Pos = 0;
    for (; Pos + 2 <= Plane; Pos += 2)
      Block.template operator()<2>(Pos);
    if (Pos < Plane)
      Block.template operator()<1>(Pos);
  });
}

/// How to read the word of the four input bytes at positions S .. S+3 of a
/// row In >= 4 long whose positions outside [0, In) read as Zx, for -4 < S
/// < In: the row's word at Off shifted right by RSh, then left by LSh (one
/// of them 0), ORed with Fill (Zx in the bytes shifted in).
struct BorderWord {
  int32_t Off;
  uint32_t RSh, LSh, Fill;
};

/// BorderWord for position S, ZxBytes holding Zx in each byte.
MOTE_RT_INLINE BorderWord borderWord(int32_t S, int32_t In, uint32_t ZxBytes) {
  if (S < 0) {
    const uint32_t L = uint32_t(-S) * 8;
    return {0, 0, L, ZxBytes >> (32 - L)};
  }
  const int32_t Over = S + 4 > In ? S + 4 - In : 0;
  const uint32_t R = uint32_t(Over) * 8;
  return {S - Over, R, 0, Over ? ZxBytes << (32 - R) : 0};
}

/// The word of row XR that BW describes.
template <class TX>
MOTE_RT_INLINE uint32_t loadBorder(const TX *XR, const BorderWord &BW) {
  return ((load4(XR + BW.Off) >> BW.RSh) << BW.LSh) | BW.Fill;
}

/// The two words of an input row that hold the windows of two neighbouring
/// positions of a kernel 3 taps wide: from the first tap of the first
/// position, and (stride 2 only) one byte on.
struct RowWords {
  uint32_t A, N;
};

/// A kernel row's weights as pairs: (w0, w2) and w1 (low lane).
template <class Ops> struct WeightPairs {
  typename Ops::Pair W02, W1;
};
template <class Ops, class TW>
MOTE_RT_INLINE WeightPairs<Ops> weightPairs(const TW *WT) {
  return {Ops::pair(WT[0], WT[2]), Ops::low(WT[1])};
}

/// Sums for NB output channels at two neighbouring output positions of one
/// row, for a kernel 3 taps wide (Stride 1 or 2 along W, no dilation along
/// W): over the channels and the kernel rows of Wn inside the input. XB is
/// the output row's first input row (channel 0, column 0); Words(XR) gives
/// the RowWords of input row XR, WP(Bk, R) the WeightPairs of channel Bk's
/// kernel row R (rows in order of channel, D and H).
///
/// A row's word x0 x1 x2 x3 widens to (x0, x2) and (x1, x3); with the
/// weights (w0, w2) and w1 the first position is (x0, x2).(w0, w2) + x1 w1.
/// The second is (x1, x3).(w0, w2) + x2 w1 at stride 1, and at stride 2
/// (x2, x4).(w0, w2) + x3 w1 from the word x1 .. x4.
template <class Ops, int NB, int Stride, class TX, class WordsFn,
          class PairsFn>
MOTE_RT_INLINE void rowSums3(const ConvP &G, int32_t InPlane, const TX *XB,
                             WordsFn Words, PairsFn WP, const Window &Wn,
                             uint32_t (&Acc)[NB][2]) {
  using Pair = typename Ops::Pair;
  const int32_t SD = G.Dilations[0] * G.In[1] * G.In[2],
                SH = G.Dilations[1] * G.In[2];
  const int32_t KD_ = G.Kernel[0], KH_ = G.Kernel[1];
  for (int32_t C = 0; C < G.CPerGroup; ++C)
    for (int32_t KD = Wn.K0[0]; KD < Wn.K1[0]; ++KD)
      for (int32_t KH = Wn.K0[1]; KH < Wn.K1[1]; ++KH) {
        const RowWords XW = Words(XB + C * InPlane + KD * SD + KH * SH);
        const Pair E0 = Ops::template even<TX>(XW.A);
        const Pair O0 = Ops::template odd<TX>(XW.A);
        Pair E1 = O0, O1 = E0; // the second position's (x1, x3), x2 at 1
        if constexpr (Stride == 2) {
          E1 = Ops::template odd<TX>(XW.N);  // (x2, x4)
          O1 = Ops::template even<TX>(XW.N); // x3 in the high lane
        }
        const int32_t R = (C * KD_ + KD) * KH_ + KH;
        unrolled<NB>([&](int Bk) MOTE_RT_LAMBDA {
          const WeightPairs<Ops> WK = WP(Bk, R);
          Acc[Bk][0] = Ops::dotLo(Ops::dot(Acc[Bk][0], E0, WK.W02), O0, WK.W1);
          Acc[Bk][1] =
              Ops::dotHiLo(Ops::dot(Acc[Bk][1], E1, WK.W02), O1, WK.W1);
        });
      }
}

/// The weight pairs of at most this many kernel rows (of all the channels
/// of a block) are built once per block, on the stack (8 bytes each).
inline constexpr int32_t MaxPairRows = 96;

/// Output channels M0 .. M0+NB-1 (one group) of image N for a kernel 3
/// taps wide, two positions at a time through rowSums3: x read as is,
/// the kernel rows outside the input skipped (each sum starts at the bias
/// minus Zx times the weights of the rows inside) and, where a window
/// crosses the border along W, the words of the row built with Zx in the
/// bytes outside (BorderWord; a padded tap adds (Zx - Zx) w = 0). Rows
/// shorter than 4 and windows wholly outside go through windowSums, x read
/// as x - Zx. No weight zero points here.
template <class Ops, int NB, int Stride, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvRows3(const QConvP &P, const TX *X, const TW *W,
                               const int32_t *B, TY *Y, int32_t N, int32_t M0) {
  using Pair = typename Ops::Pair;
  const ConvP &G = P.Conv;
  const RequantP Q = P.Q; // a copy the stores to Y cannot alias
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const uint32_t Zx = uint32_t(Q.XZeroPoint);
  const uint32_t ZxBytes = (Zx & 0xFF) * 0x01010101u;
  const int32_t Grp = M0 / G.MPerGroup;
  const TX *XG = X + (N * G.C + Grp * G.CPerGroup) * InPlane;
  const int32_t Taps = G.CPerGroup * KPlane, KHW = G.Kernel[1] * 3;
  const int32_t Rows = G.CPerGroup * G.Kernel[0] * G.Kernel[1];
  const int32_t In2 = G.In[2], Out2 = G.Out[2], Pad2 = G.PadBegin[2];
  const TW *WM[NB];
  Channel E[NB];
  uint32_t ZxWSum[NB]; // Zx times the channel's weight sum
  TY *YM[NB];
  for (int Bk = 0; Bk < NB; ++Bk) {
    WM[Bk] = W + (M0 + Bk) * Taps;
    uint32_t WSum = 0;
    for (int32_t T = 0; T < Taps; ++T)
      WSum += uint32_t(int32_t(WM[Bk][T]));
    ZxWSum[Bk] = Zx * WSum;
    E[Bk] = channel(Q, M0 + Bk, B, Taps);
    YM[Bk] = Y + (N * G.M + M0 + Bk) * OutPlane;
  }
  bool AllFast = true;
  for (int Bk = 0; Bk < NB; ++Bk)
    AllFast = AllFast && E[Bk].Fast;
  auto Run = [&](auto WP, auto Fin) MOTE_RT_LAMBDA {
    int32_t Lo[3], Hi[3];
    Window Wn;
    int32_t O = 0; // the output row's first position
    forEachRow(G, Lo, Hi, Wn,
               [&](int32_t D0, int32_t H0, bool Row) MOTE_RT_LAMBDA {
      uint32_t Start[NB];
      for (int Bk = 0; Bk < NB; ++Bk) {
        uint32_t Inside = ZxWSum[Bk];
        if (!Row) { // Zx times the weights of the kernel rows inside
          uint32_t WSum = 0;
          for (int32_t C = 0; C < G.CPerGroup; ++C)
            for (int32_t KD = Wn.K0[0]; KD < Wn.K1[0]; ++KD)
              for (int32_t KH = Wn.K0[1]; KH < Wn.K1[1]; ++KH) {
                const TW *WT = WM[Bk] + C * KPlane + KD * KHW + KH * 3;
                WSum += uint32_t(int32_t(WT[0]) + WT[1] + WT[2]);
              }
          Inside = Zx * WSum;
        }
        Start[Bk] = E[Bk].Start - Inside;
      }
      const int32_t RowBase = (D0 * G.In[1] + H0) * In2;
      const TX *XB = XG + RowBase;
      for (int32_t OW = 0; OW < Out2; OW += 2) {
        const int32_t S = OW * Stride - Pad2;
        uint32_t Acc[NB][2];
        unrolled<NB>([&](int Bk) MOTE_RT_LAMBDA {
          Acc[Bk][0] = Acc[Bk][1] = Start[Bk];
        });
        if (OW >= Lo[2] && OW + 2 <= Hi[2]) {
          rowSums3<Ops, NB, Stride>(
              G, InPlane, XB,
              [&](const TX *XR) MOTE_RT_LAMBDA -> RowWords {
                if constexpr (Stride == 2)
                  return {load4(XR + S), load4(XR + S + 1)};
                return {load4(XR + S), 0};
              },
              WP, Wn, Acc);
        } else if (In2 >= 4 && S > -4 && S + Stride - 1 < In2) {
          const BorderWord BA = borderWord(S, In2, ZxBytes);
          const BorderWord BN =
              Stride == 2 ? borderWord(S + 1, In2, ZxBytes) : BA;
          rowSums3<Ops, NB, Stride>(
              G, InPlane, XB,
              [&](const TX *XR) MOTE_RT_LAMBDA -> RowWords {
                if constexpr (Stride == 2)
                  return {loadBorder(XR, BA), loadBorder(XR, BN)};
                return {loadBorder(XR, BA), 0};
              },
              WP, Wn, Acc);
        } else {
          const TW *const *WMs = WM;
          for (int32_t I = 0; I < 2 && OW + I < Out2; ++I) {
            const int32_t W0 = (OW + I) * Stride - Pad2;
            Wn.Base = RowBase + W0;
            taps(W0, In2, 3, 1, Wn.K0[2], Wn.K1[2]);
            uint32_t Sums[NB], XSum;
            windowSums<NB, true, false>(G, InPlane, KPlane, XG, WMs,
                                        Q.XZeroPoint, Wn, Sums, XSum);
            for (int Bk = 0; Bk < NB; ++Bk)
              Acc[Bk][I] = Sums[Bk] + E[Bk].Start;
          }
        }
        for (int Bk = 0; Bk < NB; ++Bk) {
          YM[Bk][O + OW] = Fin(Q, E[Bk], Acc[Bk][0]);
          if (OW + 1 < Out2)
            YM[Bk][O + OW + 1] = Fin(Q, E[Bk], Acc[Bk][1]);
        }
      }
      O += Out2;
    });
  };
  withFinish<TY>(AllFast, [&](auto Fin) MOTE_RT_LAMBDA {
    if (NB * Rows <= MaxPairRows) {
      Pair Tab[MaxPairRows][2];
      for (int Bk = 0; Bk < NB; ++Bk)
        for (int32_t R = 0; R < Rows; ++R) {
          const WeightPairs<Ops> WK = weightPairs<Ops>(WM[Bk] + R * 3);
          Tab[Bk * Rows + R][0] = WK.W02;
          Tab[Bk * Rows + R][1] = WK.W1;
        }
      Run(
          [&](int Bk, int32_t R) MOTE_RT_LAMBDA -> WeightPairs<Ops> {
            return {Tab[Bk * Rows + R][0], Tab[Bk * Rows + R][1]};
          },
          Fin);
    } else {
      Run([&](int Bk, int32_t R)
              MOTE_RT_LAMBDA { return weightPairs<Ops>(WM[Bk] + R * 3); },
          Fin);
    }
  });
}

/// The longest padded input row the one-channel kernels buffer (twice
/// their kernel rows of it on the stack); longer rows take qconvRows3.
inline constexpr int32_t MaxLine = 260;

/// The kernel rows KH (3 or 5) of a convolution oneChannelRows computes,
/// or 0: one input channel per group (depthwise layers, and first layers
/// of one input channel), a KH x 3 kernel over 2-D planes, strides 1 or 2
/// along W, no dilation, rows that fit the line buffers.
MOTE_RT_INLINE int32_t oneChannelRowsKH(const ConvP &G) {
  if (G.CPerGroup != 1 || G.In[0] != 1 || G.Out[0] != 1 ||
      G.PadBegin[0] != 0 || G.Kernel[0] != 1 ||
      (G.Kernel[1] != 3 && G.Kernel[1] != 5) || G.Kernel[2] != 3 ||
      G.Dilations[1] != 1 || G.Dilations[2] != 1 || G.Strides[2] > 2)
    return 0;
  const int32_t Pairs = (G.Out[2] + 1) / 2;
  const int32_t Line = (Pairs - 1) * 2 * G.Strides[2] + 4 + G.Strides[2];
  return G.PadBegin[2] <= 4 && Line <= MaxLine ? G.Kernel[1] : 0;
}

/// A convolution of one input channel per group and a KH x 3 kernel
/// (oneChannelRowsKH), output channel by output channel: the channel's
/// weights as pairs (in registers where the compiler keeps them), each
/// input row read once per output channel into a line buffer with the
/// padding filled with Zx (a row above or below the input is a line of
/// Zx), then four (two) output positions per step, each kernel row a word
/// per two positions (rowSums3's pairing). Every tap reads a real input or
/// Zx, so each sum starts at the bias minus Zx times all the weights and a
/// padded tap adds (Zx - Zx) w = 0.
///
/// Input row h is held in lines h mod KH and h mod KH + KH, so the KH rows
/// of any window are KH consecutive lines from one pointer.
template <class Ops, int KH, int S2, class TX, class TW, class TY>
MOTE_RT_INLINE void oneChannelRows(const QConvP &P, const TX *X, const TW *W,
                                   const int32_t *B, TY *Y) {
  using Pair = typename Ops::Pair;
  constexpr int32_t Stride = MaxLine + 4; // bytes from a line to the next
  constexpr int32_t Taps = KH * 3;
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const int32_t In1 = G.In[1], In2 = G.In[2], Out1 = G.Out[1],
                Out2 = G.Out[2], S1 = G.Strides[1];
  const int32_t PadT = G.PadBegin[1], PadL = G.PadBegin[2];
  const int32_t InPlane = In1 * In2, OutPlane = Out1 * Out2;
  const int32_t Pairs = (Out2 + 1) / 2;
  // The bytes of a padded row the pairs read, rounded up to words.
  const int32_t Line = ((Pairs - 1) * 2 * S2 + 4 + S2 + 3) & ~3;
  const int32_t Copy =
      In2 < Line - PadL ? In2 : Line - PadL; // input bytes a line holds
  const uint8_t Zx = uint8_t(Q.XZeroPoint);
  alignas(4) uint8_t Lines[2 * KH * Stride];
  for (int32_t I = 0; I < 2 * KH * Stride; ++I)
    Lines[I] = Zx;
  auto SlotOf = [](int32_t IH) MOTE_RT_LAMBDA {
    return (IH % KH + KH) % KH;
  };
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t M = 0; M < G.M; ++M) {
      const TX *XM = X + (N * G.C + M / G.MPerGroup) * InPlane;
      const TW *WM = W + M * Taps;
      TY *YM = Y + (N * G.M + M) * OutPlane;
      Pair W02[KH], W1[KH];
      unrolledT<KH>([&]<int R>() MOTE_RT_LAMBDA {
        W02[R] = Ops::pair(WM[3 * R], WM[3 * R + 2]);
        W1[R] = Ops::low(WM[3 * R + 1]);
      });
      uint32_t WSum = 0;
      for (int32_t T = 0; T < Taps; ++T)
        WSum += uint32_t(int32_t(WM[T]));
      const Channel E = channel(Q, M, B, Taps);
      const uint32_t Start = E.Start - uint32_t(Q.XZeroPoint) * WSum;
      // Input row IH (or Zx outside the input) into its two lines.
      auto Load = [&](int32_t IH) MOTE_RT_LAMBDA {
        const int32_t Slot = SlotOf(IH);
        uint8_t *D0 = Lines + Slot * Stride + PadL,
                *D1 = Lines + (Slot + KH) * Stride + PadL;
        if (IH < 0 || IH >= In1) {
          for (int32_t I = 0; I < Copy; ++I)
            D0[I] = D1[I] = Zx;
          return;
        }
        const TX *XR = XM + IH * In2;
        int32_t I = 0;
        for (; I + 4 <= Copy; I += 4) {
          const uint32_t V = load4(XR + I);
          __builtin_memcpy(D0 + I, &V, 4);
          __builtin_memcpy(D1 + I, &V, 4);
        }
        for (; I < Copy; ++I)
          D0[I] = D1[I] = uint8_t(XR[I]);
      };
      withFinish<TY>(E.Fast, [&](auto Fin) MOTE_RT_LAMBDA {
        int32_t Next = -PadT; // the first input row not yet loaded
        for (int32_t OH = 0; OH < Out1; ++OH) {
          const int32_t IH0 = OH * S1 - PadT;
          if (Next < IH0)
            Next = IH0;
          for (; Next < IH0 + KH; ++Next)
            Load(Next);
          const uint8_t *Rows = Lines + SlotOf(IH0) * Stride;
          TY *YR = YM + OH * Out2;
          // Outputs OW .. OW+NO-1 (NO = 2 or 4), two from a word of each
          // row (and the word one byte on at stride 2).
          auto Step = [&]<int NO>(int32_t OW) MOTE_RT_LAMBDA {
            uint32_t Acc[NO];
            unrolled<NO>([&](int I) MOTE_RT_LAMBDA { Acc[I] = Start; });
            const uint8_t *XP = Rows + OW * S2;
            unrolledT<KH>([&]<int R>() MOTE_RT_LAMBDA {
              const uint8_t *XR = XP + R * Stride;
              unrolled<NO / 2>([&](int H) MOTE_RT_LAMBDA {
                const uint32_t XW = load4(XR + 2 * H * S2);
                const Pair E0 = Ops::template even<TX>(XW);
                const Pair O0 = Ops::template odd<TX>(XW);
                Pair E1 = O0, O1 = E0; // (x1, x3), x2 high
                if constexpr (S2 == 2) {
                  const uint32_t XN = load4(XR + 2 * H * S2 + 1);
                  E1 = Ops::template odd<TX>(XN);  // (x2, x4)
                  O1 = Ops::template even<TX>(XN); // x3 high
                }
                Acc[2 * H] =
                    Ops::dotLo(Ops::dot(Acc[2 * H], E0, W02[R]), O0, W1[R]);
                Acc[2 * H + 1] = Ops::dotHiLo(
                    Ops::dot(Acc[2 * H + 1], E1, W02[R]), O1, W1[R]);
              });
            });
            unrolled<NO>([&](int I) MOTE_RT_LAMBDA {
              if (OW + I < Out2)
                YR[OW + I] = Fin(Q, E, Acc[I]);
            });
          };
          int32_t OW = 0;
          for (; OW + 4 <= Out2; OW += 4)
            Step.template operator()<4>(OW);
          for (; OW < Out2; OW += 2)
            Step.template operator()<2>(OW);
        }
      });
    }
}

/// qconv with the pair kernels of Ops where they apply (no weight zero
/// point; pointwise, or a kernel 3 taps wide with stride 1 or 2 and no
/// dilation along W), the portable loops elsewhere.
template <class Ops, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvPairs(const QConvP &P, const TX *X, const TW *W,
                               const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const bool Pointwise = KPlane == 1 && InPlane == OutPlane &&
                         G.Strides[0] == 1 && G.Strides[1] == 1 &&
                         G.Strides[2] == 1;
  const bool Rows3 = G.Kernel[2] == 3 && G.Dilations[2] == 1 &&
                     (G.Strides[2] == 1 || G.Strides[2] == 2);
  if ((!Pointwise && !Rows3) || anyWeightZeroPoint(P.Q, G.M)) {
    qconvPortable(P, X, W, B, Y);
    return;
  }
  if (const int32_t KH = oneChannelRowsKH(G)) {
    if (KH == 3 && G.Strides[2] == 1)
      oneChannelRows<Ops, 3, 1>(P, X, W, B, Y);
    else if (KH == 3)
      oneChannelRows<Ops, 3, 2>(P, X, W, B, Y);
    else if (G.Strides[2] == 1)
      oneChannelRows<Ops, 5, 1>(P, X, W, B, Y);
    else
      oneChannelRows<Ops, 5, 2>(P, X, W, B, Y);
    return;
  }
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t Grp = 0; Grp < G.Group; ++Grp) {
      const int32_t End = (Grp + 1) * G.MPerGroup;
      int32_t M = Grp * G.MPerGroup;
      if (Pointwise) {
        const TX *XG = X + (N * G.C + Grp * G.CPerGroup) * InPlane;
        if (G.CPerGroup <= MaxPanelChannels) {
          for (; M < End; M += PanelRows)
            pointwisePanel<Ops>(P, XG, W, B, Y, N, M,
                                M + PanelRows < End ? M + PanelRows : End);
          continue;
        }
        for (; M + 2 <= End; M += 2)
          pointwiseRows<Ops, 2>(P, XG, W, B, Y, N, M);
        if (M < End)
          pointwiseRows<Ops, 1>(P, XG, W, B, Y, N, M);
        continue;
      }
      auto Channels = [&]<int S>() MOTE_RT_LAMBDA {
        for (; M + 4 <= End; M += 4)
          qconvRows3<Ops, 4, S>(P, X, W, B, Y, N, M);
        for (int32_t K = 0; K < 3 && M < End; ++K, ++M)
          qconvRows3<Ops, 1, S>(P, X, W, B, Y, N, M);
      };
      if (G.Strides[2] == 1)
        Channels.template operator()<1>();
      else
        Channels.template operator()<2>();
    }
}

/// qmatmul with the pair kernels of Ops (see qmatmul): columns C0, C0+1
/// against four rows of A at a time; b's zero points must all be 0.
template <class Ops, class TA, class TB, class TY>
MOTE_RT_INLINE void qmatmulPairs(const QMatMulP &P, const TA *A, const TB *B,
                                 const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  const RequantP &Q = P.Q;
  const int32_t MN = G.M * G.N;
  forEachBroadcast(G.Rank, G.Dims, G.SA, G.SB,
                   [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
                     TY *YB = Y + I * MN;
                     const TB *BM = B + OB;
                     auto Columns = [&]<int C>(int32_t C0) MOTE_RT_LAMBDA {
                       Channel E[C];
                       uint32_t Start[C];
                       for (int J = 0; J < C; ++J) {
                         uint32_t BSum = 0;
                         for (int32_t K = 0; K < G.K; ++K)
                           BSum += uint32_t(int32_t(BM[K * G.N + C0 + J]));
                         E[J] = channel(Q, C0 + J, Bias, G.K);
                         Start[J] = E[J].Start - uint32_t(Q.XZeroPoint) * BSum;
                       }
                       auto Rows = [&]<int R>(int32_t R0) MOTE_RT_LAMBDA {
                         uint32_t Acc[R][C];
                         unrolled<R * C>([&](int K) MOTE_RT_LAMBDA {
                           Acc[K / C][K % C] = Start[K % C];
                         });
                         dotBlock<Ops, R, C>(A + OA + R0 * G.K, G.K, BM + C0,
                                             G.N, G.K, Acc);
                         unrolled<R * C>([&](int K) MOTE_RT_LAMBDA {
                           YB[(R0 + K / C) * G.N + C0 + K % C] =
                               finish<TY>(Q, E[K % C], Acc[K / C][K % C]);
                         });
                       };
                       int32_t R0 = 0;
                       for (; R0 + 4 <= G.M; R0 += 4)
                         Rows.template operator()<4>(R0);
                       for (int32_t K = 0; K < 3 && R0 < G.M; ++K, ++R0)
                         Rows.template operator()<1>(R0);
                     };
                     int32_t C0 = 0;
                     for (; C0 + 2 <= G.N; C0 += 2)
                       Columns.template operator()<2>(C0);
                     if (C0 < G.N)
                       Columns.template operator()<1>(C0);
                   });
}

/// The portable qmatmul: four columns share each read of A.
template <class TA, class TB, class TY>
MOTE_RT_INLINE void qmatmulPortable(const QMatMulP &P, const TA *A, const TB *B,
                                    const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  const RequantP &Q = P.Q;
  const int32_t MN = G.M * G.N;
  const int32_t Za = Q.XZeroPoint;
  forEachBroadcast(
      G.Rank, G.Dims, G.SA, G.SB,
      [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
        TY *YB = Y + I * MN;
        const TB *BM = B + OB;
        for (int32_t C0 = 0; C0 < G.N; C0 += 4) {
          const int32_t NC = G.N - C0 < 4 ? G.N - C0 : 4;
          uint32_t ZaBSum[4] = {};
          Channel E[4];
          for (int32_t J = 0; J < NC; ++J) {
            uint32_t BSum = 0;
            for (int32_t K = 0; K < G.K; ++K)
              BSum += uint32_t(int32_t(BM[K * G.N + C0 + J]));
            ZaBSum[J] = uint32_t(Za) * BSum;
            E[J] = channel(Q, C0 + J, Bias, G.K);
          }
          for (int32_t R = 0; R < G.M; ++R) {
            const TA *AR = A + OA + R * G.K;
            uint32_t ASum = 0; // sum (a - Za)
            uint32_t A0 = 0, A1 = 0, A2 = 0, A3 = 0;
            const TB *BK = BM + C0;
            if (NC == 4) {
              for (int32_t K = 0; K < G.K; ++K, BK += G.N) {
                const uint32_t AV = uint32_t(int32_t(AR[K]));
                ASum += AV;
                A0 += AV * uint32_t(int32_t(BK[0]));
                A1 += AV * uint32_t(int32_t(BK[1]));
                A2 += AV * uint32_t(int32_t(BK[2]));
                A3 += AV * uint32_t(int32_t(BK[3]));
              }
            } else {
              for (int32_t K = 0; K < G.K; ++K, BK += G.N) {
                const uint32_t AV = uint32_t(int32_t(AR[K]));
                ASum += AV;
                A0 += AV * uint32_t(int32_t(BK[0]));
                if (NC > 1)
                  A1 += AV * uint32_t(int32_t(BK[1]));
                if (NC > 2)
                  A2 += AV * uint32_t(int32_t(BK[2]));
              }
            }
            ASum -= uint32_t(G.K) * uint32_t(Za);
            const uint32_t Acc[4] = {A0, A1, A2, A3};
            for (int32_t J = 0; J < NC; ++J) {
              const uint32_t S =
                  Acc[J] - ZaBSum[J] - uint32_t(Q.WZeroPoint[C0 + J]) * ASum;
              YB[R * G.N + C0 + J] = finish<TY>(Q, E[J], S + E[J].Start);
            }
          }
        }
      });
}

} // namespace qlinear_detail

} // namespace mote_rt

// Vector kernels, each defining MOTE_RT_QLINEAR_VECTOR and
// qlinear_detail::qconvVector / qmatmulVector (true when they computed Y,
// false to leave the call to the kernels above): Helium (MVE) on the
// Cortex-M55, NEON on AArch64. They use this file's epilogue (channel,
// finish) and are included here only.
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include "mote_rt/qlinear_mve.h"
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include "mote_rt/qlinear_neon.h"
#endif

namespace mote_rt {

/// Y [N, M, OD, OH, OW] = the integer convolution of X [N, C, D, H, W] with
/// W [M, C/Group, KD, KH, KW] plus B [M] (nullptr: none), requantized per
/// output channel. With the DSP extension (qconvPairs): pointwise layers as
/// a matrix product, two products per instruction, four channels by two
/// positions per block; kernels 3 taps wide (3x3, depthwise or not) two
/// positions by four channels (one, depthwise) per block. Elsewhere, and
/// with weight zero points, each input is read once for four output
/// channels; the taps inside the input are found once per position (no
/// bound checks per tap); the zero points come out of the sums
/// (qconvChannels).
template <class TX, class TW, class TY>
MOTE_RT_KERNEL void qconv(const QConvP &P, const TX *X, const TW *W,
                          const int32_t *B, TY *Y) {
#if defined(MOTE_RT_QLINEAR_VECTOR)
  if (qlinear_detail::qconvVector(P, X, W, B, Y))
    return;
#endif
#if defined(__ARM_FEATURE_DSP)
  qlinear_detail::qconvPairs<qlinear_detail::DspPairs>(P, X, W, B, Y);
#else
  qlinear_detail::qconvPortable(P, X, W, B, Y);
#endif
}

/// Y [batch, M, N] = the integer product of A [M, K] and B [K, N] per
/// broadcast batch index (MatMulP), plus Bias [N] (nullptr: none),
/// requantized per column: sum (a - Za)(b - Zb) = sum a b - Za sum_k b -
/// Zb sum (a - Za), modulo 2^32 as in qconv. With the DSP extension and no
/// zero point of b, blocks of four rows by two columns (qmatmulPairs);
/// otherwise four columns share each read of A.
template <class TA, class TB, class TY>
MOTE_RT_KERNEL void qmatmul(const QMatMulP &P, const TA *A, const TB *B,
                            const int32_t *Bias, TY *Y) {
#if defined(MOTE_RT_QLINEAR_VECTOR)
  if (qlinear_detail::qmatmulVector(P, A, B, Bias, Y))
    return;
#endif
#if defined(__ARM_FEATURE_DSP)
  if (!qlinear_detail::anyWeightZeroPoint(P.Q, P.Mm.N)) {
    qlinear_detail::qmatmulPairs<qlinear_detail::DspPairs>(P, A, B, Bias, Y);
    return;
  }
#endif
  qlinear_detail::qmatmulPortable(P, A, B, Bias, Y);
}

} // namespace mote_rt

#endif // MOTE_RT_QLINEAR_H
