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

namespace mote_rt {

namespace qlinear_detail {

/// round_half_even(Acc * M / 2^S) for S in [0, 62], |Acc * M| < 2^62: the
/// statement of compiler/Quant.h, written once for any shift.
MOTE_RT_INLINE int64_t requantize(int32_t Acc, int32_t M, int32_t S) {
  const int64_t P = int64_t(Acc) * M;
  if (S == 0)
    return P;
  // floor((P + 2^(S-1) - 1 + q0 % 2) / 2^S) with q0 = floor(P / 2^S): a
  // remainder above half carries, below half does not, exactly half
  // carries when q0 is odd (ties to even). |P| < 2^62: no overflow.
  const int64_t Odd = (P >> S) & 1;
  return (P + ((int64_t(1) << (S - 1)) - 1) + Odd) >> S;
}

/// One output channel's epilogue, its constants computed once per channel
/// so that requantizing an output is a 32 x 32 -> 64 multiply, a 64-bit
/// add and a 32-bit shift when the shift is 32 or more (multipliers below
/// 1/2, the usual case), and requantize() otherwise.
struct Channel {
  int32_t Bias = 0;
  int32_t M = 0, S = 0;
  int32_t N = 0; ///< S - 32 when S >= 32
  int64_t C = 0; ///< 2^(S-1) - 1 when S >= 32
  bool Wide = false;
};

MOTE_RT_INLINE Channel channel(const RequantP &Q, int32_t C,
                               const int32_t *Bias) {
  Channel E;
  E.Bias = Bias ? Bias[C] : 0;
  E.M = Q.Multiplier[C];
  E.S = Q.Shift[C];
  E.Wide = E.S >= 32;
  if (E.Wide) {
    E.N = E.S - 32;
    E.C = (int64_t(1) << (E.S - 1)) - 1;
  }
  return E;
}

/// requantize(Acc, E.M, E.S), for E.S >= 32: |result| < 2^30.
MOTE_RT_INLINE int32_t requantizeWide(const Channel &E, int32_t Acc) {
  const int64_t P = int64_t(Acc) * E.M;
  const int32_t Hi = int32_t(P >> 32);
  const int64_t U = P + E.C + ((Hi >> E.N) & 1); // (P >> S) & 1 == that
  return int32_t(U >> 32) >> E.N;
}

/// Saturating int32 addition.
MOTE_RT_INLINE int32_t addSat(int32_t A, int32_t B) {
  int32_t R;
  if (__builtin_add_overflow(A, B, &R))
    return A < 0 ? INT32_MIN : INT32_MAX;
  return R;
}

/// The output of accumulator Sum in channel E (see the file comment).
template <class TY>
MOTE_RT_INLINE TY finish(const RequantP &Q, const Channel &E, int32_t Sum) {
  const int32_t A = addSat(Sum, E.Bias);
  if (!Q.Requant)
    return TY(A);
  int64_t Y = E.Wide ? int64_t(requantizeWide(E, A)) : requantize(A, E.M, E.S);
  Y += Q.YZeroPoint;
  return TY(Y < Q.YMin ? Q.YMin : Y > Q.YMax ? Q.YMax : Y);
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
    E[Bk] = channel(Q, M0 + Bk, B);
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
              YM[Bk][O] = finish<TY>(Q, E[Bk], int32_t(A));
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
            YM[Bk][O] = finish<TY>(Q, E[Bk], int32_t(A));
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
  const Channel E = channel(Q, M, B);
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
              YM[O + I] = finish<TY>(Q, E, int32_t(A));
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
          YM[O] = finish<TY>(Q, E, int32_t(A));
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

} // namespace qlinear_detail

/// Y [N, M, OD, OH, OW] = the integer convolution of X [N, C, D, H, W] with
/// W [M, C/Group, KD, KH, KW] plus B [M] (nullptr: none), requantized per
/// output channel. Each input is read once for four output channels; the
/// taps inside the input are found once per position (no bound checks per
/// tap); the zero points come out of the sums (qconvChannels).
template <class TX, class TW, class TY>
MOTE_RT_KERNEL void qconv(const QConvP &P, const TX *X, const TW *W,
                          const int32_t *B, TY *Y) {
  bool Zw = false;
  for (int32_t M = 0; M < P.Conv.M; ++M)
    Zw = Zw || P.Q.WZeroPoint[M] != 0;
  if (Zw)
    qlinear_detail::qconvAll<true>(P, X, W, B, Y);
  else
    qlinear_detail::qconvAll<false>(P, X, W, B, Y);
}

/// Y [batch, M, N] = the integer product of A [M, K] and B [K, N] per
/// broadcast batch index (MatMulP), plus Bias [N] (nullptr: none),
/// requantized per column: sum (a - Za)(b - Zb) = sum a b - Za sum_k b -
/// Zb sum (a - Za), modulo 2^32 as in qconv; four columns share each read
/// of A.
template <class TA, class TB, class TY>
MOTE_RT_KERNEL void qmatmul(const QMatMulP &P, const TA *A, const TB *B,
                            const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  const RequantP &Q = P.Q;
  const int32_t MN = G.M * G.N;
  const int32_t Za = Q.XZeroPoint;
  forEachBroadcast(G.Rank, G.Dims, G.SA, G.SB,
                   [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
                     TY *YB = Y + I * MN;
                     const TB *BM = B + OB;
                     for (int32_t C0 = 0; C0 < G.N; C0 += 4) {
                       const int32_t NC = G.N - C0 < 4 ? G.N - C0 : 4;
                       uint32_t ZaBSum[4] = {};
                       qlinear_detail::Channel E[4];
                       for (int32_t J = 0; J < NC; ++J) {
                         uint32_t BSum = 0;
                         for (int32_t K = 0; K < G.K; ++K)
                           BSum += uint32_t(int32_t(BM[K * G.N + C0 + J]));
                         ZaBSum[J] = uint32_t(Za) * BSum;
                         E[J] = qlinear_detail::channel(Q, C0 + J, Bias);
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
                               Acc[J] - ZaBSum[J] -
                               uint32_t(Q.WZeroPoint[C0 + J]) * ASum;
                           YB[R * G.N + C0 + J] =
                               qlinear_detail::finish<TY>(Q, E[J], int32_t(S));
                         }
                       }
                     }
                   });
}

} // namespace mote_rt

#endif // MOTE_RT_QLINEAR_H
