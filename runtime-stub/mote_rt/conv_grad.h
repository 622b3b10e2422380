//===- conv_grad.h - Convolution kernels, backward --------------*- C++ -*-===//
//
// The gradients of the convolution of conv.h (whose tap walks, register
// blocks and window loops they share), all taking ConvP
// (mote_rt/params.def); the lowerings are in compiler/ops/grad/ConvGrad.cpp.
//   conv_grad_input  dX: every dY scattered through the weights (the
//                   transposed convolution), tap-major like conv; a
//                   pointwise geometry as the matrix product W^T dY over
//                   whole planes; a depthwise 3x3 or 5x3 layer gathered per
//                   dX element (stride 1 and stride 2: each element written
//                   once, the taps that reach it in registers).
//   conv_grad_input_q dX from a quantized weight (int8 or uint8, a scale
//                   and zero point per output channel) by the same walks,
//                   each weight dequantized as it is read: the backward
//                   pass of a quantized model keeps no float copy of a
//                   frozen weight.
//   conv_grad_weight dW for the first Channels output channels only (the
//                   partial-channel update of sparse training); pointwise
//                   geometries take each plane as one row.
//   conv_grad_weight_sgd, conv_grad_weight_momentum, conv_grad_weight_adam
//                   W' (and the optimizer state) after one SGD, momentum or
//                   Adam step on those channels, in place (W' may be W):
//                   each weight's gradient is summed in a register and
//                   applied at once, so dW is never stored (TTE's in-place
//                   SGD). The step is ConvP::Update.
//   conv_grad_weight_qsgd, conv_grad_weight_qmomentum
//                   the same on a quantized weight (int8 or uint8), the
//                   step in whole integer steps as optim.h's qsgd_update
//                   and qmomentum_update take it.
// Register blocks: input gradient four input by four output channels,
// weight gradient four output by four input channels.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_CONV_GRAD_H
#define MOTE_RT_CONV_GRAD_H

#include "mote_rt/conv.h"
#include "mote_rt/optim.h"

namespace mote_rt {

namespace detail {

/// Acc[k] += sum_i D[i] In[k][i SI] for i < Width, each tap k (tap k % KW
/// of Sp's kernel row) over its own range, In[k] = Base + Row + Off[k]: the
/// dot-product form of windowAxpy (weight gradient).
/// (Positions [Sp.L, From) are left out of the loop over [Sp.L, Sp.H): the
/// caller took them, as the host's vector loop does.)
template <int NK, int KW, class T>
MOTE_RT_INLINE void windowDot(const TapSpan<KW> &Sp, int32_t Width,
                              const T *D, const T *Base, int32_t Row,
                              const int32_t (&Off)[NK], int32_t SI,
                              T (&Acc)[NK], int32_t From) {
  const T *In = Base + Row;
  for (int32_t I = From; I < Sp.H; ++I) {
    const T V = D[I];
    MOTE_RT_UNROLL
    for (int K = 0; K < NK; ++K)
      Acc[K] += V * In[I * SI + Off[K]];
  }
  auto Edge = [&](int32_t I) MOTE_RT_LAMBDA {
    const T V = D[I];
    MOTE_RT_UNROLL
    for (int K = 0; K < NK; ++K)
      if (I >= Sp.Lo[K % KW] && I < Sp.Hi[K % KW])
        Acc[K] += V * Base[Row + I * SI + Off[K]];
  };
  for (int32_t I = 0; I < Sp.L; ++I)
    Edge(I);
  for (int32_t I = Sp.H; I < Width; ++I)
    Edge(I);
}

/// Weight gradient of one plane pair of a layer with one input channel per
/// group, a whole 2-D KH x KW kernel at once: Acc[k] += the dot
/// product of dY plane DYM with input plane XC shifted by tap k. A dY row
/// all kernel rows reach is read once for all KH KW taps.
template <int KH, int KW, class T>
MOTE_RT_INLINE void convGradWeightWindow(const ConvP &P, const T *XC,
                                         const T *DYM, T (&Acc)[KH * KW]) {
  constexpr int NK = KH * KW;
  const int32_t OW = P.Out[2], SW = P.Strides[2];
  const TapSpan<KW> Sp(P, 0);
  auto Part = [&](int32_t OH, int32_t Row, int KR, const int32_t(&Off)[KW])
                  MOTE_RT_LAMBDA {
                    T A[KW];
                    kernelRow(Acc, KR, A);
                    windowDot<KW, KW>(Sp, OW, DYM + OH * OW, XC, Row, Off, SW,
                                      A, Sp.L);
                    MOTE_RT_UNROLL
                    for (int K = 0; K < KW; ++K)
                      Acc[KR * KW + K] = A[K];
                  };
  auto None = [](int32_t) MOTE_RT_LAMBDA {};
#if MOTE_RT_SIMD
  // Unit stride on a host with float vectors: the full rows' middles
  // VecLanes positions at a time into one vector of partial sums per tap,
  // kept across the plane (lane l takes the positions i = Sp.L + l mod
  // VecLanes of each row) and its lanes added at the end, as rowsDot does:
  // another order of the same terms.
  if constexpr (IsSameType<T, float>)
    if (SW == 1 && Sp.H - Sp.L >= VecLanes) {
      VecF VAcc[NK];
      MOTE_RT_UNROLL
      for (int K = 0; K < NK; ++K)
        VAcc[K] = VecF{};
      forWindowRows<KH, KW>(
          P, Sp, /*InputSpace=*/false,
          [&](int32_t OH, int32_t Row, const int32_t(&Off)[NK])
              MOTE_RT_LAMBDA {
                const float *D = DYM + OH * OW, *In = XC + Row;
                int32_t I = Sp.L;
                for (; I + VecLanes <= Sp.H; I += VecLanes) {
                  const VecF V = loadVec(D + I);
                  MOTE_RT_UNROLL
                  for (int K = 0; K < NK; ++K)
                    VAcc[K] += V * loadVec(In + I + Off[K]);
                }
                windowDot<NK, KW>(Sp, OW, D, XC, Row, Off, SW, Acc, I);
              },
          Part, None, None);
      addLaneSums<NK>(VAcc, Acc);
      return;
    }
#endif
  forWindowRows<KH, KW>(
      P, Sp, /*InputSpace=*/false,
      [&](int32_t OH, int32_t Row, const int32_t(&Off)[NK]) MOTE_RT_LAMBDA {
        windowDot<NK, KW>(Sp, OW, DYM + OH * OW, XC, Row, Off, SW, Acc, Sp.L);
      },
      Part, None, None);
}

/// Input gradient of a depthwise layer with one output channel per group,
/// stride 1, a whole 2-D KH x KW kernel at once, per plane: dX[ih, iw] =
/// sum_{kh, kw} W[kh, kw] dY[ih - Start_kh, iw - Start_kw] over the taps that
/// reach it. A row all kernel rows reach is written once; the top and
/// bottom rows start from 0 and take their kernel rows one at a time.
template <int KH, int KW, class T>
MOTE_RT_INLINE void convGradInputWindow(const ConvP &P, const T *DYM,
                                        const T *WM, T *DXC) {
  constexpr int NK = KH * KW;
  const int32_t IW = P.In[2];
  const TapSpan<KW> Sp(P, 0, /*InputSpace=*/true);
  T Wt[NK];
  MOTE_RT_UNROLL
  for (int K = 0; K < NK; ++K)
    Wt[K] = WM[K];
  auto Keep = [](auto V) MOTE_RT_LAMBDA { return V; };
  forWindowRows<KH, KW>(
      P, Sp, /*InputSpace=*/true,
      [&](int32_t IH, int32_t Row, const int32_t(&Off)[NK]) MOTE_RT_LAMBDA {
        windowAxpy<NK, KW>(
            Sp, IW, DXC + IH * IW, DYM, Row, Off, 1, Wt,
            [](auto V) MOTE_RT_LAMBDA { return decltype(V){}; }, Keep);
      },
      [&](int32_t IH, int32_t Row, int KR, const int32_t(&Off)[KW])
          MOTE_RT_LAMBDA {
            T Wr[KW];
            kernelRow(Wt, KR, Wr);
            windowAxpy<KW, KW>(Sp, IW, DXC + IH * IW, DYM, Row, Off, 1, Wr,
                               Keep, Keep);
          },
      [&](int32_t IH) MOTE_RT_LAMBDA { fill(DXC + IH * IW, T(0), IW); },
      [](int32_t) MOTE_RT_LAMBDA {});
}

/// One row of a strided depthwise input gradient (convGradInputStrided):
/// the input row that kernel rows Wr[0..NR) read from dY rows Yr[0..NR)
/// (their taps' weights, KW each). Input position S o - Pad + t (t < S)
/// takes the taps kw = t + S m of output position o - m. Where every such
/// position and every dY element lies inside the row (positions
/// [S OL - Pad, S OH - Pad)), each o writes S positions from ceil(KW / S)
/// dY elements per kernel row, all in registers; the few positions
/// outside take their taps one at a time with the bounds tested.
template <int NR, int KW, int S, class T>
MOTE_RT_INLINE void convGradInputStridedRow(const ConvP &P,
                                            const T *const (&Yr)[NR],
                                            const T *const (&Wr)[NR], T *DXR) {
  constexpr int MW = (KW + S - 1) / S;
  static_assert(KW >= S, "every position of a stride takes a tap");
  const int32_t IW = P.In[2], OW = P.Out[2], Pad = P.PadBegin[2];
  T Wt[NR][KW];
  MOTE_RT_UNROLL
  for (int R = 0; R < NR; ++R) {
    MOTE_RT_UNROLL
    for (int K = 0; K < KW; ++K)
      Wt[R][K] = Wr[R][K];
  }
  int32_t OL = (Pad + S - 1) / S, OHi = (IW + Pad) / S;
  OL = OL > MW - 1 ? OL : MW - 1;
  OHi = OHi < OW ? OHi : OW;
  int32_t Lo = 0, Hi = 0; // positions the blocked loop writes
  if (OL < OHi) {
    Lo = S * OL - Pad;
    Hi = S * OHi - Pad;
    for (int32_t O = OL; O < OHi; ++O) {
      T V[NR][MW];
      MOTE_RT_UNROLL
      for (int R = 0; R < NR; ++R) {
        MOTE_RT_UNROLL
        for (int M = 0; M < MW; ++M)
          V[R][M] = Yr[R][O - M];
      }
      T *Out = DXR + S * O - Pad;
      // Each sum starts from its first product (no zero to add to: a
      // Cortex-M4 FPU would spend a move on it).
      MOTE_RT_UNROLL
      for (int Tt = 0; Tt < S; ++Tt) {
        T Acc = Wt[0][Tt] * V[0][0];
        MOTE_RT_UNROLL
        for (int R = 0; R < NR; ++R) {
          MOTE_RT_UNROLL
          for (int M = R == 0 ? 1 : 0; M < MW; ++M)
            if (Tt + S * M < KW)
              Acc += Wt[R][Tt + S * M] * V[R][M];
        }
        Out[Tt] = Acc;
      }
    }
  }
  auto Edge = [&](int32_t I) MOTE_RT_LAMBDA {
    T Acc = T(0);
    MOTE_RT_UNROLL
    for (int R = 0; R < NR; ++R) {
      MOTE_RT_UNROLL
      for (int K = 0; K < KW; ++K) {
        const int32_t D = I + Pad - K;
        if (D >= 0 && D % S == 0 && D / S < OW)
          Acc += Wt[R][K] * Yr[R][D / S];
      }
    }
    DXR[I] = Acc;
  };
  for (int32_t I = 0; I < Lo; ++I)
    Edge(I);
  for (int32_t I = Hi > Lo ? Hi : 0; I < IW; ++I)
    Edge(I);
}

/// Input gradient of a depthwise layer with one output channel per group,
/// stride S x S (S > 1), no dilation, a whole 2-D KH x KW kernel, per
/// plane, gathered: each dX element is written once, the sum of the taps
/// whose window reads it. Input row S oh - Pad + t takes kernel rows
/// kh = t + S m from dY row oh - m (those inside dY), then
/// convGradInputStridedRow does the same along the row. (The per-tap
/// scatter this replaces loads and stores each dX element once per tap:
/// about 10 Cortex-M4 instructions per multiply-add at stride 2.)
template <int KH, int KW, int S, class T>
MOTE_RT_INLINE void convGradInputStrided(const ConvP &P, const T *DYM,
                                         const T *WM, T *DXC) {
  constexpr int MH = (KH + S - 1) / S;
  const int32_t IH = P.In[1], IW = P.In[2], OH = P.Out[1], OW = P.Out[2];
  const int32_t Pad = P.PadBegin[1];
  for (int32_t I = 0; I < IH; ++I) {
    const int32_t Tt = (I + Pad) % S, OI = (I + Pad) / S;
    const T *Yr[MH];
    const T *Wr[MH];
    int N = 0;
    MOTE_RT_UNROLL
    for (int M = 0; M < MH; ++M) {
      const int32_t Row = OI - M;
      if (Tt + S * M < KH && Row >= 0 && Row < OH) {
        Yr[N] = DYM + Row * OW;
        Wr[N] = WM + (Tt + S * M) * KW;
        ++N;
      }
    }
    T *DXR = DXC + I * IW;
    // N kernel rows as a compile-time count.
    auto Run = [&](auto NTag) MOTE_RT_LAMBDA {
      constexpr int NR = decltype(NTag)::value;
      const T *Y[NR], *W[NR];
      MOTE_RT_UNROLL
      for (int R = 0; R < NR; ++R) {
        Y[R] = Yr[R];
        W[R] = Wr[R];
      }
      convGradInputStridedRow<NR, KW, S>(P, Y, W, DXR);
    };
    if (N == 0)
      fill(DXR, T(0), IW);
    if constexpr (MH >= 1)
      if (N == 1)
        Run(Const<1>());
    if constexpr (MH >= 2)
      if (N == 2)
        Run(Const<2>());
    if constexpr (MH >= 3)
      if (N == 3)
        Run(Const<3>());
    static_assert(MH <= 3, "convGradInputStrided takes at most 3 kernel rows "
                           "per input row");
  }
}

/// Input gradient: planes C0 .. C0+NC-1 of image DXG's group += dY planes
/// M0 .. M0+NM-1 scattered through their kernel taps.
/// Input gradient of one dX plane C0 from one dY plane M0 (a depthwise
/// layer, or channels left over from the blocks), stride 1 along the row:
/// dX[x] += sum_k w_k dY[x - Start_k], up to four taps of a kernel row at
/// once where all of them reach x, each tap's edges alone.
template <class T, class WeightFn>
MOTE_RT_INLINE void convGradInputTapBlock(const ConvP &P, const ConvSizes &S,
                                          const T *DYN, int32_t M0,
                                          WeightFn Weight, int32_t C0, T *DXG) {
  T *DXC = DXG + C0 * S.In;
  const T *DYM = DYN + M0 * S.Out;
  forEachTapBlock<4>(
      P, /*InputSpace=*/true,
      [&](auto KBTag, int32_t Tap0, const auto &Sp, auto Rows) MOTE_RT_LAMBDA {
        constexpr int KB = decltype(KBTag)::value;
        T Wt[1][KB];
        MOTE_RT_UNROLL
        for (int K = 0; K < KB; ++K)
          Wt[0][K] = Weight((M0 * P.CPerGroup + C0) * S.Kernel + Tap0 + K);
        Rows([&](int32_t XRow, int32_t YRow) MOTE_RT_LAMBDA {
          T *const Out[1] = {DXC + XRow};
          const T *In[KB];
          MOTE_RT_UNROLL
          for (int K = 0; K < KB; ++K)
            In[K] = DYM + YRow - Sp.Start[K];
          rowsAxpy<1, KB>(Sp.L, Sp.H, Out, 1, In, 1, Wt);
          if constexpr (KB > 1) {
            MOTE_RT_UNROLL
            for (int K = 0; K < KB; ++K) {
              const T *In1[1] = {In[K]};
              const T W1[1][1] = {{Wt[0][K]}};
              Sp.edges(K, [&](int32_t A, int32_t B) MOTE_RT_LAMBDA {
                rowsAxpy<1, 1>(A, B, Out, 1, In1, 1, W1);
              });
            }
          }
        });
      });
}

template <int NC, int NM, class T, class WeightFn>
MOTE_RT_INLINE void convGradInputBlock(const ConvP &P, const ConvSizes &S,
                                       const T *DYN, int32_t M0,
                                       WeightFn Weight, int32_t C0, T *DXG) {
  forEachTap(P, [&](int32_t Tap, auto Rows) MOTE_RT_LAMBDA {
    T Wt[NC][NM];
    MOTE_RT_UNROLL
    for (int C = 0; C < NC; ++C) {
      MOTE_RT_UNROLL
      for (int M = 0; M < NM; ++M)
        Wt[C][M] = Weight(((M0 + M) * P.CPerGroup + C0 + C) * S.Kernel + Tap);
    }
    Rows([&](int32_t XRow, int32_t YRow, int32_t Lo, int32_t Hi, int32_t SW)
             MOTE_RT_LAMBDA {
               T *Out[NC];
               const T *In[NM];
               MOTE_RT_UNROLL
               for (int C = 0; C < NC; ++C)
                 Out[C] = DXG + (C0 + C) * S.In + XRow;
               MOTE_RT_UNROLL
               for (int M = 0; M < NM; ++M)
                 In[M] = DYN + (M0 + M) * S.Out + YRow;
               rowsAxpy<NC, NM>(Lo, Hi, Out, SW, In, 1, Wt);
             });
  });
}

/// Weight gradient of output channels M0 .. M0+NM-1 and input channels
/// C0 .. C0+NC-1 of group G: per tap, the NM x NC dot products of their dY
/// and X rows over every image and output row; Commit(weight index, sum)
/// takes each once.
template <int NM, int NC, class T, class Fn>
MOTE_RT_INLINE void convGradWeightBlock(const ConvP &P, const ConvSizes &S,
                                        const T *X, const T *DY, int32_t G,
                                        int32_t M0, int32_t C0, Fn Commit) {
  forEachTap(P, [&](int32_t Tap, auto Rows) MOTE_RT_LAMBDA {
    T Acc[NM][NC];
    zeroBlock(Acc);
    DotKeep<T, NM, NC> Keep; // the host's vector sums, across the rows
    for (int32_t N = 0; N < P.Batch; ++N) {
      const T *XN = X + (N * P.C + G * P.CPerGroup + C0) * S.In;
      const T *DYN = DY + (N * P.M + M0) * S.Out;
      Rows([&](int32_t XRow, int32_t YRow, int32_t Lo, int32_t Hi, int32_t SW)
               MOTE_RT_LAMBDA {
                 const T *DYR[NM];
                 const T *XR[NC];
                 MOTE_RT_UNROLL
                 for (int M = 0; M < NM; ++M)
                   DYR[M] = DYN + M * S.Out + YRow;
                 MOTE_RT_UNROLL
                 for (int C = 0; C < NC; ++C)
                   XR[C] = XN + C * S.In + XRow;
                 rowsDotKeep<NM, NC>(Lo, Hi, DYR, 1, XR, SW, Acc, Keep);
               });
    }
    Keep.flush(Acc);
    MOTE_RT_UNROLL
    for (int M = 0; M < NM; ++M) {
      MOTE_RT_UNROLL
      for (int C = 0; C < NC; ++C)
        Commit(((M0 + M) * P.CPerGroup + C0 + C) * S.Kernel + Tap, Acc[M][C]);
    }
  });
}

/// convGradWeightBlock for a pointwise geometry: the dot products over each
/// image's whole planes, one row each (the same terms in the same order as
/// rows of the plane's width).
template <int NM, int NC, class T, class Fn>
MOTE_RT_INLINE void convGradWeightPointwise(const ConvP &P, const ConvSizes &S,
                                            const T *X, const T *DY, int32_t G,
                                            int32_t M0, int32_t C0, Fn Commit) {
  T Acc[NM][NC];
  zeroBlock(Acc);
  for (int32_t N = 0; N < P.Batch; ++N) {
    const T *DYR[NM];
    const T *XR[NC];
    MOTE_RT_UNROLL
    for (int M = 0; M < NM; ++M)
      DYR[M] = DY + (N * P.M + M0 + M) * S.Out;
    MOTE_RT_UNROLL
    for (int C = 0; C < NC; ++C)
      XR[C] = X + (N * P.C + G * P.CPerGroup + C0 + C) * S.In;
    rowsDot<NM, NC>(0, S.Out, DYR, 1, XR, 1, Acc);
  }
  MOTE_RT_UNROLL
  for (int M = 0; M < NM; ++M) {
    MOTE_RT_UNROLL
    for (int C = 0; C < NC; ++C)
      Commit((M0 + M) * P.CPerGroup + C0 + C, Acc[M][C]);
  }
}

/// Weight gradient for one input channel C0 of group G: as convTapBlock,
/// two taps of a kernel row at a time, so each loaded dY feeds two dot
/// products per output channel.
template <int NM, class T, class Fn>
MOTE_RT_INLINE void convGradWeightTapBlock(const ConvP &P, const ConvSizes &S,
                                           const T *X, const T *DY, int32_t G,
                                           int32_t M0, int32_t C0, Fn Commit) {
  const int32_t SW = P.Strides[2];
  forEachTapBlock<2>(
      P, false,
      [&](auto KBTag, int32_t Tap0, const auto &Sp, auto Rows) MOTE_RT_LAMBDA {
        constexpr int KB = decltype(KBTag)::value;
        T Acc[NM][KB];
        zeroBlock(Acc);
        DotKeep<T, NM, KB> Keep; // the host's vector sums, across the rows
        for (int32_t N = 0; N < P.Batch; ++N) {
          const T *XC = X + (N * P.C + G * P.CPerGroup + C0) * S.In;
          const T *DYN = DY + (N * P.M + M0) * S.Out;
          Rows([&](int32_t XRow, int32_t YRow) MOTE_RT_LAMBDA {
            const T *DYR[NM];
            const T *XR[KB];
            MOTE_RT_UNROLL
            for (int M = 0; M < NM; ++M)
              DYR[M] = DYN + M * S.Out + YRow;
            MOTE_RT_UNROLL
            for (int K = 0; K < KB; ++K)
              XR[K] = XC + XRow + Sp.Start[K];
            rowsDotKeep<NM, KB>(Sp.L, Sp.H, DYR, 1, XR, SW, Acc, Keep);
            if constexpr (KB > 1) {
              MOTE_RT_UNROLL
              for (int K = 0; K < KB; ++K) {
                const T *XR1[1] = {XR[K]};
                T A1[NM][1];
                MOTE_RT_UNROLL
                for (int M = 0; M < NM; ++M)
                  A1[M][0] = Acc[M][K];
                Sp.edges(K, [&](int32_t A, int32_t B) MOTE_RT_LAMBDA {
                  rowsDot<NM, 1>(A, B, DYR, 1, XR1, SW, A1);
                });
                MOTE_RT_UNROLL
                for (int M = 0; M < NM; ++M)
                  Acc[M][K] = A1[M][0];
              }
            }
          });
        }
        Keep.flush(Acc);
        MOTE_RT_UNROLL
        for (int M = 0; M < NM; ++M) {
          MOTE_RT_UNROLL
          for (int K = 0; K < KB; ++K)
            Commit(((M0 + M) * P.CPerGroup + C0) * S.Kernel + Tap0 + K,
                   Acc[M][K]);
        }
      });
}

/// The weight-gradient kernels' common body over the first Channels output
/// channels: within a group, four output channels by four input channels at
/// a time (a single channel left: convGradWeightTapBlock).
template <class T, class Fn>
MOTE_RT_INLINE void convGradWeight(const ConvP &P, const T *X, const T *DY,
                                   Fn Commit) {
  const ConvSizes S(P);
  if (P.CPerGroup == 1 &&
      withWindow(P, [&](auto KH, auto KW) MOTE_RT_LAMBDA {
        constexpr int NK = KH.value * KW.value;
        for (int32_t M = 0; M < P.Channels; ++M) {
          T Acc[NK] = {};
          for (int32_t N = 0; N < P.Batch; ++N)
            convGradWeightWindow<KH.value, KW.value>(
                P, X + (N * P.C + M / P.MPerGroup) * S.In,
                DY + (N * P.M + M) * S.Out, Acc);
          MOTE_RT_UNROLL
          for (int K = 0; K < NK; ++K)
            Commit(M * S.Kernel + K, Acc[K]);
        }
      }))
    return;
  const bool Pointwise = isPointwise(P, S);
  for (int32_t G = 0; G * P.MPerGroup < P.Channels; ++G) {
    int32_t MEnd = (G + 1) * P.MPerGroup;
    if (MEnd > P.Channels)
      MEnd = P.Channels;
    forBlocks<4>(
        G * P.MPerGroup, MEnd, [&](auto NMTag, int32_t M0) MOTE_RT_LAMBDA {
          forBlocks<4>(
              0, P.CPerGroup, [&](auto NCTag, int32_t C0) MOTE_RT_LAMBDA {
                constexpr int NM = decltype(NMTag)::value,
                              NC = decltype(NCTag)::value;
                if (Pointwise)
                  convGradWeightPointwise<NM, NC>(P, S, X, DY, G, M0, C0,
                                                  Commit);
                else if constexpr (NC == 1)
                  convGradWeightTapBlock<NM>(P, S, X, DY, G, M0, C0, Commit);
                else
                  convGradWeightBlock<NM, NC>(P, S, X, DY, G, M0, C0, Commit);
              });
        });
  }
}

} // namespace detail

namespace detail {
/// dX [N, C, In] from dY [N, M, Out] and the weights Weight(i) (W [M, C/G,
/// Kernel] flat): each dY[n, m, o] times W[m, c, t] is added to the input
/// position tap t of o reads. A pointwise geometry is Pointwise(image,
/// group, dX of that group) on the zeroed dX.
template <class T, class WeightFn, class PointwiseFn>
MOTE_RT_INLINE void convGradInput(const ConvP &P, const T *DY, WeightFn Weight,
                                  PointwiseFn Pointwise, T *DX) {
  const ConvSizes S(P);
  // A depthwise channel's kernel, read once into registers.
  auto Kernel = [&](int32_t C, auto &WC) MOTE_RT_LAMBDA {
    constexpr int NK = int(sizeof(WC) / sizeof(WC[0]));
    MOTE_RT_UNROLL
    for (int K = 0; K < NK; ++K)
      WC[K] = Weight(C * S.Kernel + K);
  };
  if (P.CPerGroup == 1 && P.MPerGroup == 1 && P.Strides[1] == 1 &&
      P.Strides[2] == 1 &&
      withWindow(P, [&](auto KH, auto KW) MOTE_RT_LAMBDA {
        for (int32_t C = 0; C < P.C; ++C) {
          T WC[KH.value * KW.value];
          Kernel(C, WC);
          for (int32_t N = 0; N < P.Batch; ++N)
            convGradInputWindow<KH.value, KW.value>(
                P, DY + (N * P.M + C) * S.Out, WC, DX + (N * P.C + C) * S.In);
        }
      }))
    return;
  if (P.CPerGroup == 1 && P.MPerGroup == 1 && P.Strides[1] == 2 &&
      P.Strides[2] == 2 && P.Dilations[1] == 1 && P.Dilations[2] == 1 &&
      withWindow(P, [&](auto KH, auto KW) MOTE_RT_LAMBDA {
        for (int32_t C = 0; C < P.C; ++C) {
          T WC[KH.value * KW.value];
          Kernel(C, WC);
          for (int32_t N = 0; N < P.Batch; ++N)
            convGradInputStrided<KH.value, KW.value, 2>(
                P, DY + (N * P.M + C) * S.Out, WC, DX + (N * P.C + C) * S.In);
        }
      }))
    return;
  fill(DX, T(0), P.Batch * P.C * S.In);
  if (isPointwise(P, S)) {
    for (int32_t N = 0; N < P.Batch; ++N)
      for (int32_t G = 0; G < P.Group; ++G)
        Pointwise(N, G, DX + (N * P.C + G * P.CPerGroup) * S.In);
    return;
  }
  for (int32_t N = 0; N < P.Batch; ++N) {
    const T *DYN = DY + N * P.M * S.Out;
    for (int32_t G = 0; G < P.Group; ++G) {
      T *DXG = DX + (N * P.C + G * P.CPerGroup) * S.In;
      // Four input channels by four output channels of the group at a time.
      forBlocks<4>(
          0, P.CPerGroup, [&](auto NCTag, int32_t C0) MOTE_RT_LAMBDA {
            forBlocks<4>(
                G * P.MPerGroup, (G + 1) * P.MPerGroup,
                [&](auto NMTag, int32_t M0) MOTE_RT_LAMBDA {
                  constexpr int NC = decltype(NCTag)::value,
                                NM = decltype(NMTag)::value;
                  if constexpr (NC == 1 && NM == 1) {
                    if (P.Strides[2] == 1) {
                      convGradInputTapBlock(P, S, DYN, M0, Weight, C0, DXG);
                      return;
                    }
                  }
                  convGradInputBlock<NC, NM>(P, S, DYN, M0, Weight, C0, DXG);
                });
          });
    }
  }
}
} // namespace detail

/// dX [N, C, In] from dY [N, M, Out] and W [M, C/G, Kernel]: each dY[n, m, o]
/// times W[m, c, t] is added to the input position tap t of o reads.
template <class T>
MOTE_RT_KERNEL void conv_grad_input(const ConvP &P, const T *DY, const T *W,
                                    T *DX) {
  const detail::ConvSizes S(P);
  detail::convGradInput(
      P, DY, [&](int32_t I) MOTE_RT_LAMBDA { return W[I]; },
      // Pointwise (1x1, stride 1, no padding): per image and group dX_g
      // [C/G, S] = W_g^T dY_g over the whole plane as one row (the terms in
      // the same order as the tap loops; a plane of 2 x 2 is one row of 4,
      // not two rows of 2).
      [&](int32_t N, int32_t G, T *DXG) MOTE_RT_LAMBDA {
        detail::gemmAccumulate(P.CPerGroup, S.In, P.MPerGroup, T(1),
                               W + G * P.MPerGroup * P.CPerGroup, 1,
                               P.CPerGroup,
                               DY + (N * P.M + G * P.MPerGroup) * S.Out,
                               S.Out, DXG, S.In);
      },
      DX);
}

/// dX [N, C, In] from dY [N, M, Out] and a quantized W [M, C/G, Kernel],
/// w(m, c, t) = Scale[m] (W[m, c, t] - ZeroPoint[m]), each weight
/// dequantized as the float kernel would read it (a tap's register block,
/// a depthwise channel's kernel). A pointwise dX plane is summed in place
/// over its group's output channels, four at a time.
template <class T, class TW>
MOTE_RT_KERNEL void conv_grad_input_q(const QConvGradInputP &Q, const T *DY,
                                      const TW *W, T *DX) {
  const ConvP &P = Q.Conv;
  const detail::ConvSizes S(P);
  const int32_t PerM = P.CPerGroup * S.Kernel;
  auto Weight = [&](int32_t I) MOTE_RT_LAMBDA {
    const int32_t M = I / PerM;
    return T(Q.Scale[M]) * T(int32_t(W[I]) - Q.ZeroPoint[M]);
  };
  detail::convGradInput(
      P, DY, Weight,
      [&](int32_t N, int32_t G, T *DXG) MOTE_RT_LAMBDA {
        const T *DYG = DY + (N * P.M + G * P.MPerGroup) * S.Out;
        for (int32_t C = 0; C < P.CPerGroup; ++C) {
          T *Row = DXG + C * S.In;
          detail::forBlocks<4>(
              0, P.MPerGroup, [&](auto NMTag, int32_t M0) MOTE_RT_LAMBDA {
                constexpr int NM = decltype(NMTag)::value;
                T Wt[NM];
                const T *Y[NM];
                MOTE_RT_UNROLL
                for (int K = 0; K < NM; ++K) {
                  Wt[K] = Weight((G * P.MPerGroup + M0 + K) * PerM + C);
                  Y[K] = DYG + (M0 + K) * S.Out;
                }
                for (int32_t I = 0; I < S.In; ++I) {
                  T Sum = Row[I];
                  MOTE_RT_UNROLL
                  for (int K = 0; K < NM; ++K)
                    Sum += Wt[K] * Y[K][I];
                  Row[I] = Sum;
                }
              });
        }
      },
      DX);
}

/// dW [Channels, C/G, Kernel] from X [N, C, In] and dY [N, M, Out]: output
/// channels m >= Channels are neither computed nor stored.
template <class T>
MOTE_RT_KERNEL void conv_grad_weight(const ConvP &P, const T *X, const T *DY,
                                     T *DW) {
  detail::convGradWeight(
      P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA { DW[I] = Grad; });
}

namespace detail {
/// Copies the untrained tail [Trained, Total) of \p Src to \p Dst unless
/// they are the same buffer (nothing to do in place).
template <class T>
MOTE_RT_INLINE void copyUntrainedOne(const ConvP &P, const T *Src, T *Dst) {
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  const int32_t Trained = P.Channels * P.CPerGroup * KSize;
  const int32_t Total = P.M * P.CPerGroup * KSize;
  if (Dst != Src)
    copy(Src + Trained, Dst + Trained, Total - Trained);
}

/// copyUntrainedOne for each of the \p N (source, destination) pairs.
template <class T, int N>
MOTE_RT_INLINE void copyUntrained(const ConvP &P, const T *const (&Src)[N],
                                  T *const (&Dst)[N]) {
  MOTE_RT_UNROLL
  for (int I = 0; I < N; ++I)
    copyUntrainedOne(P, Src[I], Dst[I]);
}
} // namespace detail

// The weight gradient fused with its update: W' [M, C/G, Kernel] (and the
// optimizer state) from X, dY, W (and the state). The first Channels output
// channels take one optimizer step, the rest are copied (nothing to do in
// place). Each weight's gradient is summed in a register and applied at
// once, so dW is never stored (TTE's in-place SGD). Every output may be its
// input's buffer.

/// SGD: W - Lr (dW + Decay W).
template <class T>
MOTE_RT_KERNEL void conv_grad_weight_sgd(const ConvP &P, const T *X,
                                         const T *DY, const T *W, T *WOut) {
  detail::copyUntrained<T, 1>(P, {W}, {WOut});
  const SgdStep<T> S(P.Update.Lr, P.Update.Decay);
  detail::convGradWeight(P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA {
    S(W, Grad, WOut, I);
  });
}

/// Momentum with state V; \p Step is the step count (nullptr: 1).
template <class T>
MOTE_RT_KERNEL void conv_grad_weight_momentum(const ConvP &P, const T *X,
                                              const T *DY, const T *W,
                                              const T *V, const int64_t *Step,
                                              T *WOut, T *VOut) {
  detail::copyUntrained<T, 2>(P, {W, V}, {WOut, VOut});
  const UpdateStepP &U = P.Update;
  const MomentumStep<T> S(U.Lr, U.Alpha, U.Beta, U.Decay, U.Nesterov, Step);
  detail::convGradWeight(P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA {
    S(W, Grad, V, WOut, VOut, I);
  });
}

/// Adam with moments V and H and step count \p Step.
template <class T>
MOTE_RT_KERNEL void conv_grad_weight_adam(const ConvP &P, const T *X,
                                          const T *DY, const T *W, const T *V,
                                          const T *H, const int64_t *Step,
                                          T *WOut, T *VOut, T *HOut) {
  detail::copyUntrained<T, 3>(P, {W, V, H}, {WOut, VOut, HOut});
  const UpdateStepP &U = P.Update;
  const AdamStep<T> S(U.Lr, U.Alpha, U.Beta, U.Epsilon, U.Decay, U.DecayPost,
                      Step);
  detail::convGradWeight(P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA {
    S(W, Grad, V, H, WOut, VOut, HOut, I);
  });
}

/// SGD on a quantized weight W (TW: int8 or uint8): each weight's f32
/// gradient summed in a register and applied at once in integer steps, as
/// qsgd_update does (optim.h), so neither dW nor a float copy of W is
/// stored. The step's constants are ConvP::Update (Lr, Decay).
template <class T, class TW>
MOTE_RT_KERNEL void conv_grad_weight_qsgd(const QConvGradWeightP &Q,
                                          const T *X, const T *DY,
                                          const TW *W, TW *WOut) {
  const ConvP &P = Q.Conv;
  detail::copyUntrainedOne(P, W, WOut);
  const optim_detail::QSgdStep<TW> S{{Q.Q}, P.Update.Lr, P.Update.Decay};
  detail::convGradWeight(P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA {
    S(W, float(Grad), WOut, I);
  });
}

/// Momentum on a quantized weight with f32 state V (as qmomentum_update);
/// \p Step is the step count (nullptr: 1).
template <class T, class TW>
MOTE_RT_KERNEL void conv_grad_weight_qmomentum(const QConvGradWeightP &Q,
                                               const T *X, const T *DY,
                                               const TW *W, const float *V,
                                               const int64_t *Step, TW *WOut,
                                               float *VOut) {
  const ConvP &P = Q.Conv;
  detail::copyUntrainedOne(P, W, WOut);
  detail::copyUntrainedOne(P, V, VOut);
  const UpdateStepP &U = P.Update;
  const optim_detail::QMomentumStep<TW> S(Q.Q, U.Lr, U.Alpha, U.Beta,
                                          U.Decay, U.Nesterov, Step);
  detail::convGradWeight(P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA {
    S(W, float(Grad), V, WOut, VOut, I);
  });
}

} // namespace mote_rt

#endif // MOTE_RT_CONV_GRAD_H
