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

/// round_half_even(Acc * M / 2^S) for S in [0, 62], |Acc * M| < 2^62.
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

/// Output channel C's value of accumulator Sum (see the file comment).
template <class TY>
MOTE_RT_INLINE TY finish(const RequantP &Q, int32_t C, int32_t Sum,
                         const int32_t *Bias) {
  int64_t A = Sum;
  if (Bias) {
    A += Bias[C];
    A = A < INT32_MIN ? INT32_MIN : A > INT32_MAX ? INT32_MAX : A;
  }
  if (!Q.Requant)
    return TY(A);
  int64_t Y =
      requantize(int32_t(A), Q.Multiplier[C], Q.Shift[C]) + Q.YZeroPoint;
  return TY(Y < Q.YMin ? Q.YMin : Y > Q.YMax ? Q.YMax : Y);
}

} // namespace qlinear_detail

namespace qlinear_detail {

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

/// The sums of NB output channels at one output position whose window is
/// inside the input (XW: the window's first element in the group's first
/// input plane; WM[b]: channel b's weights): sum (x - Zx) * w per channel,
/// and, if WithZw, sum (x - Zx) over the window (the caller subtracts
/// Zw[b] times it). No bound checks; each x is read once for all NB. The
/// sums without the weight zero point may leave int32 where the true sum
/// does not (u8 weights): they are taken modulo 2^32 (unsigned), which
/// gives the true sum exactly once the zero point's part is subtracted.
template <int NB, bool WithZw, class TX, class TW>
MOTE_RT_INLINE void windowSums(const ConvP &G, int32_t InPlane, int32_t KPlane,
                               const TX *XW, const TW *const *WM, int32_t Zx,
                               uint32_t *Acc, int32_t &XSum) {
  static_assert(NB == 1 || NB == 4, "one or four output channels");
  const int32_t CPG = G.CPerGroup, KD_ = G.Kernel[0], KH_ = G.Kernel[1],
                KW_ = G.Kernel[2];
  const int32_t SD = G.Dilations[0] * G.In[1] * G.In[2],
                SH = G.Dilations[1] * G.In[2], SW = G.Dilations[2];
  // The sums live in locals (registers), the weight rows in local
  // pointers: one input read feeds NB multiply-accumulates.
  uint32_t A0 = 0, A1 = 0, A2 = 0, A3 = 0;
  const TW *W0 = WM[0], *W1 = WM[NB > 1 ? 1 : 0], *W2 = WM[NB > 2 ? 2 : 0],
           *W3 = WM[NB > 3 ? 3 : 0];
  int32_t S = 0;
  auto Tap = [&](int32_t XV, int32_t T) MOTE_RT_LAMBDA {
    if constexpr (WithZw)
      S += XV;
    A0 += uint32_t(XV) * uint32_t(int32_t(W0[T]));
    if constexpr (NB == 4) {
      A1 += uint32_t(XV) * uint32_t(int32_t(W1[T]));
      A2 += uint32_t(XV) * uint32_t(int32_t(W2[T]));
      A3 += uint32_t(XV) * uint32_t(int32_t(W3[T]));
    }
  };
  if (KPlane == 1) { // 1x1 kernel: one tap per input channel
    const TX *XC = XW;
    for (int32_t C = 0; C < CPG; ++C, XC += InPlane)
      Tap(int32_t(*XC) - Zx, C);
  } else {
    for (int32_t C = 0; C < CPG; ++C) {
      const TX *XC = XW + C * InPlane;
      int32_t T = C * KPlane;
      for (int32_t KD = 0; KD < KD_; ++KD)
        for (int32_t KH = 0; KH < KH_; ++KH) {
          const TX *XR = XC + KD * SD + KH * SH;
          for (int32_t KW = 0; KW < KW_; ++KW, ++T)
            Tap(int32_t(XR[KW * SW]) - Zx, T);
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

/// The checked sum of output channel M at a position whose window may
/// leave the input (padding reads the zero point: its term is 0).
template <class TX, class TW>
MOTE_RT_INLINE int32_t borderSum(const ConvP &G, int32_t InPlane,
                                 int32_t KPlane, const TX *XG, const TW *WM,
                                 int32_t Zx, int32_t Zw, int32_t D0, int32_t H0,
                                 int32_t W0) {
  int32_t Acc = 0;
  for (int32_t C = 0; C < G.CPerGroup; ++C) {
    const TX *XC = XG + C * InPlane;
    const TW *WC = WM + C * KPlane;
    int32_t T = 0;
    for (int32_t KD = 0; KD < G.Kernel[0]; ++KD) {
      const int32_t ID = D0 + KD * G.Dilations[0];
      for (int32_t KH = 0; KH < G.Kernel[1]; ++KH) {
        const int32_t IH = H0 + KH * G.Dilations[1];
        for (int32_t KW = 0; KW < G.Kernel[2]; ++KW, ++T) {
          const int32_t IW = W0 + KW * G.Dilations[2];
          if (ID < 0 || ID >= G.In[0] || IH < 0 || IH >= G.In[1] || IW < 0 ||
              IW >= G.In[2])
            continue;
          Acc += (int32_t(XC[(ID * G.In[1] + IH) * G.In[2] + IW]) - Zx) *
                 (int32_t(WC[T]) - Zw);
        }
      }
    }
  }
  return Acc;
}

/// Output channels M0 .. M0+NB-1 (one group) of image N.
template <int NB, bool WithZw, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvChannels(const QConvP &P, const TX *X, const TW *W,
                                  const int32_t *B, TY *Y, int32_t N,
                                  int32_t M0) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const int32_t InPlane = G.In[0] * G.In[1] * G.In[2];
  const int32_t OutPlane = G.Out[0] * G.Out[1] * G.Out[2];
  const int32_t KPlane = G.Kernel[0] * G.Kernel[1] * G.Kernel[2];
  const int32_t Zx = Q.XZeroPoint;
  const int32_t Grp = M0 / G.MPerGroup;
  const TX *XG = X + (N * G.C + Grp * G.CPerGroup) * InPlane;
  const TW *WM[NB];
  int32_t Zw[NB];
  TY *YM[NB];
  for (int Bk = 0; Bk < NB; ++Bk) {
    WM[Bk] = W + (M0 + Bk) * G.CPerGroup * KPlane;
    Zw[Bk] = Q.WZeroPoint[M0 + Bk];
    YM[Bk] = Y + (N * G.M + M0 + Bk) * OutPlane;
  }
  int32_t Lo[3], Hi[3];
  for (int D = 0; D < 3; ++D)
    interior(G.In[D], G.Out[D], G.Kernel[D], G.Strides[D], G.Dilations[D],
             G.PadBegin[D], Lo[D], Hi[D]);
  int32_t O = 0;
  for (int32_t OD = 0; OD < G.Out[0]; ++OD)
    for (int32_t OH = 0; OH < G.Out[1]; ++OH) {
      const int32_t D0 = OD * G.Strides[0] - G.PadBegin[0];
      const int32_t H0 = OH * G.Strides[1] - G.PadBegin[1];
      const bool Row = OD >= Lo[0] && OD < Hi[0] && OH >= Lo[1] && OH < Hi[1];
      for (int32_t OW = 0; OW < G.Out[2]; ++OW, ++O) {
        const int32_t W0 = OW * G.Strides[2] - G.PadBegin[2];
        if (Row && OW >= Lo[2] && OW < Hi[2]) {
          uint32_t Acc[NB] = {};
          int32_t XSum = 0;
          windowSums<NB, WithZw>(G, InPlane, KPlane,
                                 XG + (D0 * G.In[1] + H0) * G.In[2] + W0, WM,
                                 Zx, Acc, XSum);
          for (int Bk = 0; Bk < NB; ++Bk) {
            if constexpr (WithZw)
              Acc[Bk] -= uint32_t(Zw[Bk]) * uint32_t(XSum);
            YM[Bk][O] = finish<TY>(Q, M0 + Bk, int32_t(Acc[Bk]), B);
          }
          continue;
        }
        for (int Bk = 0; Bk < NB; ++Bk)
          YM[Bk][O] = finish<TY>(
              Q, M0 + Bk,
              borderSum(G, InPlane, KPlane, XG, WM[Bk], Zx, Zw[Bk], D0, H0, W0),
              B);
      }
    }
}

template <bool WithZw, class TX, class TW, class TY>
MOTE_RT_INLINE void qconvAll(const QConvP &P, const TX *X, const TW *W,
                             const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t Grp = 0; Grp < G.Group; ++Grp) {
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
/// output channel. Positions whose window lies inside the input take a
/// path without bound checks that reads each input once for four output
/// channels; the weight zero points come out of the sum as Zw times the
/// window's input sum (skipped when they are all 0, the symmetric case).
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
/// requantized per column; four columns share each read of A, and the
/// column zero points come out as Zb times the row's sum (modulo 2^32 as
/// in qconv).
template <class TA, class TB, class TY>
MOTE_RT_KERNEL void qmatmul(const QMatMulP &P, const TA *A, const TB *B,
                            const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  const RequantP &Q = P.Q;
  const int32_t MN = G.M * G.N;
  const int32_t Za = Q.XZeroPoint;
  forEachBroadcast(
      G.Rank, G.Dims, G.SA, G.SB,
      [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
        TY *YB = Y + I * MN;
        for (int32_t R = 0; R < G.M; ++R) {
          const TA *AR = A + OA + R * G.K;
          int32_t ASum = 0;
          for (int32_t K = 0; K < G.K; ++K)
            ASum += int32_t(AR[K]) - Za;
          int32_t C = 0;
          for (; C + 4 <= G.N; C += 4) {
            const TB *BC = B + OB + C;
            uint32_t Acc[4] = {};
            for (int32_t K = 0; K < G.K; ++K) {
              const uint32_t AV = uint32_t(int32_t(AR[K]) - Za);
              const TB *BK = BC + K * G.N;
              for (int Bk = 0; Bk < 4; ++Bk)
                Acc[Bk] += AV * uint32_t(int32_t(BK[Bk]));
            }
            for (int Bk = 0; Bk < 4; ++Bk)
              YB[R * G.N + C + Bk] = qlinear_detail::finish<TY>(
                  Q, C + Bk,
                  int32_t(Acc[Bk] -
                          uint32_t(Q.WZeroPoint[C + Bk]) * uint32_t(ASum)),
                  Bias);
          }
          // At most three columns are left (a bound the compiler sees).
          for (int32_t L = 0; L < 3 && C < G.N; ++L, ++C) {
            const TB *BC = B + OB + C;
            uint32_t Acc = 0;
            for (int32_t K = 0; K < G.K; ++K)
              Acc += uint32_t(int32_t(AR[K]) - Za) *
                     uint32_t(int32_t(BC[K * G.N]));
            YB[R * G.N + C] = qlinear_detail::finish<TY>(
                Q, C, int32_t(Acc - uint32_t(Q.WZeroPoint[C]) * uint32_t(ASum)),
                Bias);
          }
        }
      });
}

} // namespace mote_rt

#endif // MOTE_RT_QLINEAR_H
