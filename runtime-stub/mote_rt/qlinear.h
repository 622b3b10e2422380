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
// Since every product and sum is exact, the order of the terms does not
// change the result: these loops may be blocked, vectorized or rewritten
// around SMLAD/SDOT freely and stay bit-exact with the interpreter. Padding
// reads the input zero point (its term is 0).
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
  int64_t Q = P >> S; // floor
  const uint64_t Rem = uint64_t(P) & ((uint64_t(1) << S) - 1);
  const uint64_t Half = uint64_t(1) << (S - 1);
  if (Rem > Half || (Rem == Half && (Q & 1)))
    ++Q;
  return Q;
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

/// Y [N, M, OD, OH, OW] = the integer convolution of X [N, C, D, H, W] with
/// W [M, C/Group, KD, KH, KW] plus B [M] (nullptr: none), requantized per
/// output channel.
template <class TX, class TW, class TY>
MOTE_RT_KERNEL void qconv(const QConvP &P, const TX *X, const TW *W,
                          const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const int32_t InPlane = G.In[0] * G.In[1] * G.In[2];
  const int32_t OutPlane = G.Out[0] * G.Out[1] * G.Out[2];
  const int32_t KPlane = G.Kernel[0] * G.Kernel[1] * G.Kernel[2];
  const int32_t Zx = Q.XZeroPoint;
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t M = 0; M < G.M; ++M) {
      const int32_t Grp = M / G.MPerGroup;
      const TX *XG = X + (N * G.C + Grp * G.CPerGroup) * InPlane;
      const TW *WM = W + M * G.CPerGroup * KPlane;
      const int32_t Zw = Q.WZeroPoint[M];
      TY *YM = Y + (N * G.M + M) * OutPlane;
      int32_t O = 0;
      for (int32_t OD = 0; OD < G.Out[0]; ++OD)
        for (int32_t OH = 0; OH < G.Out[1]; ++OH)
          for (int32_t OW = 0; OW < G.Out[2]; ++OW, ++O) {
            int32_t Acc = 0;
            const int32_t D0 = OD * G.Strides[0] - G.PadBegin[0];
            const int32_t H0 = OH * G.Strides[1] - G.PadBegin[1];
            const int32_t W0 = OW * G.Strides[2] - G.PadBegin[2];
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
                    if (ID < 0 || ID >= G.In[0] || IH < 0 || IH >= G.In[1] ||
                        IW < 0 || IW >= G.In[2])
                      continue;
                    const int32_t XV =
                        int32_t(XC[(ID * G.In[1] + IH) * G.In[2] + IW]) - Zx;
                    Acc += XV * (int32_t(WC[T]) - Zw);
                  }
                }
              }
            }
            YM[O] = qlinear_detail::finish<TY>(Q, M, Acc, B);
          }
    }
}

/// Y [batch, M, N] = the integer product of A [M, K] and B [K, N] per
/// broadcast batch index (MatMulP), plus Bias [N] (nullptr: none),
/// requantized per column.
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
          for (int32_t C = 0; C < G.N; ++C) {
            const TB *BC = B + OB + C;
            const int32_t Zb = Q.WZeroPoint[C];
            int32_t Acc = 0;
            for (int32_t K = 0; K < G.K; ++K)
              Acc += (int32_t(AR[K]) - Za) * (int32_t(BC[K * G.N]) - Zb);
            YB[R * G.N + C] = qlinear_detail::finish<TY>(Q, C, Acc, Bias);
          }
        }
      });
}

} // namespace mote_rt

#endif // MOTE_RT_QLINEAR_H
