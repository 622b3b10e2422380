//===- conv.h - Convolution kernels, forward and backward ------*- C++ -*-===//
//
// Grouped N-D convolution (1-D, 2-D and 3-D; the lowering presents every
// operand as 3-D, see window.h) with strides, dilations, asymmetric zero
// padding and an optional bias. With X [N, C, D, H, W], W [M, C/G, KD, KH,
// KW] and g = m / (M/G):
//
//   Y[n, m, o] = B[m] + sum_{c < C/G} sum_t X[n, g C/G + c, o s - p + t d]
//                                            W[m, c, t]
//
// Kernels (the lowering in compiler/ops/nn/Conv.cpp picks one):
//   conv            the general case. Tap-major: each output plane starts
//                   as the bias and, for every (input channel, tap), adds
//                   the weight times the input read along the rows of the
//                   output positions whose tap lies inside the input, so the
//                   innermost loop walks an output row contiguously and
//                   never tests the padding.
//   conv_depthwise  one input channel per group (group = C; M = C times a
//                   channel multiplier): the same without the channel loop.
//   conv_pointwise  1x1 kernel, stride 1, no padding: per image and group a
//                   matrix product Y_g [M/G, S] = W_g [M/G, C/G] X_g [C/G, S]
//                   (S = spatial size), as gemm.h computes it.
//   conv_grad_input  dX: every dY scattered through the weights (the
//                   transposed convolution), tap-major like conv; a
//                   pointwise geometry as the matrix product W^T dY over
//                   whole planes; a depthwise 3x3 or 5x3 layer gathered per
//                   dX element (stride 1 and stride 2: each element written
//                   once, the taps that reach it in registers).
//   conv_grad_weight dW for the first Channels output channels only (the
//                   partial-channel update of sparse training); pointwise
//                   geometries take each plane as one row.
//   conv_grad_weight_sgd, conv_grad_weight_momentum, conv_grad_weight_adam
//                   W' (and the optimizer state) after one SGD, momentum or
//                   Adam step on those channels, in place (W' may be W):
//                   each weight's gradient is summed in a register and
//                   applied at once, so dW is never stored (TTE's in-place
//                   SGD).
// The multiply-accumulate loops are register-blocked (block.h): forward
// four output by four input channels, input gradient four input by four
// output channels, weight gradient four output by four input channels (16
// accumulators or weights in registers: Cortex-M4F and M7 have 32 single
// registers; two by four measured about 10% more instructions per step).
// The forward kernels apply a fused activation (ReLU, ReLU6, hard swish;
// activate in core.h) as each output gets its last terms, in registers:
// the whole-window loops at the end of the window, the pointwise and
// tap-blocked loops in their last pass (the last block of input channels,
// the last tap) where that pass writes every output, i.e. when no tap
// reads padding; otherwise over each finished output plane
// (clampActivation). None needs scratch memory.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_CONV_H
#define MOTE_RT_CONV_H

#include "mote_rt/block.h"
#include "mote_rt/gemm.h"
#include "mote_rt/optim.h"
#include "mote_rt/window.h"

namespace mote_rt {

/// Geometry of a convolution. Spatial arrays hold 3 dims [D, H, W] (leading
/// dims of size 1 for 1-D and 2-D convolutions). Channels is the number of
/// output channels conv_grad_weight computes (M for the other kernels).
struct ConvP {
  int32_t Batch;
  int32_t C; ///< input channels
  int32_t M; ///< output channels
  int32_t Group;
  int32_t CPerGroup;
  int32_t MPerGroup;
  int32_t Channels;
  int32_t In[MaxRank];  ///< input spatial dims
  int32_t Out[MaxRank]; ///< output spatial dims
  int32_t Kernel[MaxRank];
  int32_t Strides[MaxRank];
  int32_t Dilations[MaxRank];
  int32_t PadBegin[MaxRank];
  // Epilogue: the fused activation of conv, conv_depthwise and
  // conv_pointwise, and the optimizer step of conv_grad_weight_sgd,
  // conv_grad_weight_momentum and conv_grad_weight_adam (the attributes of
  // SgdUpdate, MomentumUpdate and AdamUpdate, optim.h).
  int32_t ActHasMin;
  int32_t ActHasMax;
  float ActMin;
  float ActMax;
  int32_t ActHardSwish;
  float Lr;
  float Decay; ///< norm_coefficient (L2 weight decay)
  float Alpha;
  float Beta;
  float Epsilon;
  float DecayPost; ///< Adam's norm_coefficient_post
  int32_t Nesterov;
};

namespace detail {

/// Calls F(Tap, Rows) once for each tap of the kernel, Tap being the
/// row-major offset of the tap in a kernel plane. Rows(G) calls G(XRow,
/// YRow, Lo, Hi, SW) for each output row (od, oh) where the tap reads
/// inside the input: output positions [Lo, Hi) of the row at offset YRow of
/// an output plane read the input plane at XRow + ow * SW (none for a tap
/// that only ever reads padding). Work that depends on the tap only (its
/// weights, a gradient sum) goes in F around Rows.
template <class Fn> MOTE_RT_INLINE void forEachTap(const ConvP &P, Fn F) {
  const int32_t OH = P.Out[1], OW = P.Out[2];
  const int32_t IH = P.In[1], IW = P.In[2];
  const int32_t SD = P.Strides[0], SH = P.Strides[1], SW = P.Strides[2];
  for (int32_t KD = 0; KD < P.Kernel[0]; ++KD) {
    int32_t D0, D1, ID0;
    outRange(P, 0, KD, D0, D1, ID0);
    for (int32_t KH = 0; KH < P.Kernel[1]; ++KH) {
      int32_t H0, H1, IH0;
      outRange(P, 1, KH, H0, H1, IH0);
      for (int32_t KW = 0; KW < P.Kernel[2]; ++KW) {
        int32_t W0, W1, IW0;
        outRange(P, 2, KW, W0, W1, IW0);
        const int32_t Tap = (KD * P.Kernel[1] + KH) * P.Kernel[2] + KW;
        F(Tap, [&](auto G) MOTE_RT_LAMBDA {
          if (W0 >= W1)
            return;
          for (int32_t OD = D0; OD < D1; ++OD) {
            const int32_t ID = ID0 + OD * SD;
            for (int32_t OHI = H0; OHI < H1; ++OHI) {
              const int32_t IHI = IH0 + OHI * SH;
              G((ID * IH + IHI) * IW + IW0, (OD * OH + OHI) * OW, W0, W1, SW);
            }
          }
        });
      }
    }
  }
}

/// Fills each of the Rows rows of Size elements of Y with B[row] (0 if B is
/// nullptr).
template <class T>
MOTE_RT_INLINE void fillRows(T *Y, const T *B, int32_t Rows, int32_t Size) {
  for (int32_t R = 0; R < Rows; ++R)
    fill(Y + R * Size, B ? B[R] : T(0), Size);
}

/// Offsets of the planes of one image's tensors.
struct ConvSizes {
  int32_t In, Out, Kernel;
  explicit ConvSizes(const ConvP &P)
      : In(P.In[0] * P.In[1] * P.In[2]), Out(P.Out[0] * P.Out[1] * P.Out[2]),
        Kernel(P.Kernel[0] * P.Kernel[1] * P.Kernel[2]) {}
};

/// True for a pointwise geometry (1x1 kernel, stride 1, no padding: output
/// position o reads input position o), whose gradients take each plane as
/// one row instead of rows of its width.
MOTE_RT_INLINE bool isPointwise(const ConvP &P, const ConvSizes &S) {
  return S.Kernel == 1 && S.In == S.Out && P.PadBegin[0] == 0 &&
         P.PadBegin[1] == 0 && P.PadBegin[2] == 0 && P.Strides[0] == 1 &&
         P.Strides[1] == 1 && P.Strides[2] == 1;
}

/// Whether every tap of P's kernel reaches every output position (no
/// padding is read): then the pass of the last tap over the outputs is the
/// last write of each, and the fused activation can go with it. (A tap's
/// first output only grows and its end only shrinks along a kernel dim,
/// so the first and the last tap decide.)
MOTE_RT_INLINE bool everyTapReachesAll(const ConvP &P) {
  for (int32_t D = 0; D < 3; ++D) {
    int32_t Lo, Hi, Start, LoLast, HiLast;
    outRange(P, D, 0, Lo, Hi, Start);
    outRange(P, D, P.Kernel[D] - 1, LoLast, HiLast, Start);
    if (Lo != 0 || HiLast != P.Out[D])
      return false;
  }
  return true;
}

/// Forward: output planes M0 .. M0+NM-1 of image YN += their convolution
/// with input planes C0 .. C0+NC-1 of their group (XG: the group's first
/// input plane of the image). With Last (everyTapReachesAll, and these are
/// the group's last input channels) the last tap's pass stores each output
/// through the fused activation.
template <int NM, int NC, class T>
MOTE_RT_INLINE void convBlock(const ConvP &P, const ConvSizes &S, const T *XG,
                              int32_t C0, const T *W, int32_t M0, T *YN,
                              bool Last) {
  forEachTap(P, [&](int32_t Tap, auto Rows) MOTE_RT_LAMBDA {
    T Wt[NM][NC];
    MOTE_RT_UNROLL
    for (int M = 0; M < NM; ++M) {
      MOTE_RT_UNROLL
      for (int C = 0; C < NC; ++C)
        Wt[M][C] = W[((M0 + M) * P.CPerGroup + C0 + C) * S.Kernel + Tap];
    }
    auto Pass = [&](auto Fin) MOTE_RT_LAMBDA {
      Rows([&](int32_t XRow, int32_t YRow, int32_t Lo, int32_t Hi,
               int32_t SW) MOTE_RT_LAMBDA {
        T *Out[NM];
        const T *In[NC];
        MOTE_RT_UNROLL
        for (int M = 0; M < NM; ++M)
          Out[M] = YN + (M0 + M) * S.Out + YRow;
        MOTE_RT_UNROLL
        for (int C = 0; C < NC; ++C)
          In[C] = XG + (C0 + C) * S.In + XRow;
        rowsAxpy<NM, NC>(Lo, Hi, Out, 1, In, SW, Wt, Fin);
      });
    };
    if (Last && Tap == S.Kernel - 1)
      Pass([&](auto V) MOTE_RT_LAMBDA { return activate(P, V); });
    else
      Pass(KeepOut{});
  });
}

/// Column geometry of KB consecutive taps KW0 .. KW0+KB-1 of one kernel
/// row: each tap's output positions [Lo, Hi) and input offset Start
/// (outRange), and [L, H), the positions all of them read (empty: L == H).
/// With InputSpace (stride 1 only), Lo and Hi are the input positions the
/// tap reads instead (shifted by Start), as the input gradient walks them.
/// Edges(k, G) calls G(a, b) for the parts of tap k's range outside [L, H),
/// so [L, H) once plus every tap's edges cover each tap's range once.
template <int KB> struct TapSpan {
  int32_t Lo[KB], Hi[KB], Start[KB], L, H;

  MOTE_RT_INLINE TapSpan(const ConvP &P, int32_t KW0, bool InputSpace = false) {
    L = 0;
    H = InputSpace ? P.In[2] : P.Out[2];
    MOTE_RT_UNROLL
    for (int K = 0; K < KB; ++K) {
      outRange(P, 2, KW0 + K, Lo[K], Hi[K], Start[K]);
      if (InputSpace) {
        Lo[K] += Start[K];
        Hi[K] += Start[K];
      }
      L = Lo[K] > L ? Lo[K] : L;
      H = Hi[K] < H ? Hi[K] : H;
    }
    if (H < L)
      H = L;
  }
  template <class Fn> MOTE_RT_INLINE void edges(int K, Fn G) const {
    G(Lo[K], Hi[K] < L ? Hi[K] : L);
    G(Lo[K] > H ? Lo[K] : H, Hi[K]);
  }
};

/// Calls F(Const<KB>(), Tap0, Sp, Rows) for each kernel row (kd, kh) and
/// each block of KB consecutive taps along it (at most MaxKB; Tap0 is the
/// first one's offset in a kernel plane, Sp their TapSpan, in input space
/// if InputSpace). Rows(G) calls G(XRow, YRow) for each output row the
/// kernel row reads inside the input: the offsets of the input row (at
/// position 0) and of the output row in their planes.
template <int MaxKB, class Fn>
MOTE_RT_INLINE void forEachTapBlock(const ConvP &P, bool InputSpace, Fn F) {
  const int32_t OH = P.Out[1], OW = P.Out[2], IH = P.In[1], IW = P.In[2];
  const int32_t SD = P.Strides[0], SH = P.Strides[1];
  for (int32_t KD = 0; KD < P.Kernel[0]; ++KD) {
    int32_t D0, D1, ID0;
    outRange(P, 0, KD, D0, D1, ID0);
    for (int32_t KH = 0; KH < P.Kernel[1]; ++KH) {
      int32_t H0, H1, IH0;
      outRange(P, 1, KH, H0, H1, IH0);
      const int32_t Row = (KD * P.Kernel[1] + KH) * P.Kernel[2];
      forBlocks<MaxKB>(
          0, P.Kernel[2], [&](auto KBTag, int32_t KW0) MOTE_RT_LAMBDA {
            const TapSpan<decltype(KBTag)::value> Sp(P, KW0, InputSpace);
            F(KBTag, Row + KW0, Sp, [&](auto G) MOTE_RT_LAMBDA {
              for (int32_t OD = D0; OD < D1; ++OD)
                for (int32_t OHI = H0; OHI < H1; ++OHI)
                  G(((ID0 + OD * SD) * IH + IH0 + OHI * SH) * IW,
                    (OD * OH + OHI) * OW);
            });
          });
    }
  }
}

/// Forward for one input channel C0 of the group (a depthwise or first
/// layer, or a channel left over from the blocks of four): the sum runs
/// over taps, so up to four taps of a kernel row are blocked instead, each
/// output element taking their terms at once where all of them read
/// inside the input, and each tap's edges alone.
template <int NM, class T>
MOTE_RT_INLINE void convTapBlock(const ConvP &P, const ConvSizes &S,
                                 const T *XG, int32_t C0, const T *W,
                                 int32_t M0, T *YN, bool Last) {
  const T *XC = XG + C0 * S.In;
  const int32_t SW = P.Strides[2];
  forEachTapBlock<4>(
      P, false,
      [&](auto KBTag, int32_t Tap0, const auto &Sp, auto Rows) MOTE_RT_LAMBDA {
        constexpr int KB = decltype(KBTag)::value;
        T Wt[NM][KB];
        MOTE_RT_UNROLL
        for (int M = 0; M < NM; ++M) {
          MOTE_RT_UNROLL
          for (int K = 0; K < KB; ++K)
            Wt[M][K] = W[((M0 + M) * P.CPerGroup + C0) * S.Kernel + Tap0 + K];
        }
        auto Pass = [&](auto Fin) MOTE_RT_LAMBDA {
          Rows([&](int32_t XRow, int32_t YRow) MOTE_RT_LAMBDA {
            T *Out[NM];
            const T *In[KB];
            MOTE_RT_UNROLL
            for (int M = 0; M < NM; ++M)
              Out[M] = YN + (M0 + M) * S.Out + YRow;
            MOTE_RT_UNROLL
            for (int K = 0; K < KB; ++K)
              In[K] = XC + XRow + Sp.Start[K];
            rowsAxpy<NM, KB>(Sp.L, Sp.H, Out, 1, In, SW, Wt, Fin);
            if constexpr (KB > 1) {
              // (No edges with Last: every tap reaches every output.)
              MOTE_RT_UNROLL
              for (int K = 0; K < KB; ++K) {
                const T *In1[1] = {In[K]};
                T W1[NM][1];
                MOTE_RT_UNROLL
                for (int M = 0; M < NM; ++M)
                  W1[M][0] = Wt[M][K];
                Sp.edges(K, [&](int32_t A, int32_t B) MOTE_RT_LAMBDA {
                  rowsAxpy<NM, 1>(A, B, Out, 1, In1, SW, W1);
                });
              }
            }
          });
        };
        if (Last && Tap0 + KB == S.Kernel)
          Pass([&](auto V) MOTE_RT_LAMBDA { return activate(P, V); });
        else
          Pass(KeepOut{});
      });
}

/// Calls F(Const<KH>(), Const<KW>()) and returns true if the kernel is one
/// the whole-window loops take: 2-D, 3 x 3 (the depthwise layers of
/// MobileNet-style networks) or 5 x 3 (first layers), whose KH x KW weights
/// stay in registers. (5 x 5 measured slower than the tap-blocked loops on
/// a Cortex-M4: the LeNet step took 1.9 times the instructions.)
/// Not on Hexagon: there the LLVM backend's code (--emit obj) for these
/// loops trained the keyword-spotting model wrongly under qemu-hexagon 7.2
/// (a different loss, or a crash, as unrelated code moved), while clang's
/// C++ path and every other target were right; not yet isolated to the
/// compiler or the emulator, so Hexagon keeps the tap-blocked loops.
template <class Fn> MOTE_RT_INLINE bool withWindow(const ConvP &P, Fn F) {
#if defined(__hexagon__)
  (void)P;
  (void)F;
  return false;
#endif
  if (P.Kernel[0] != 1 || P.Out[0] != 1 || P.In[0] != 1)
    return false;
  if (P.Kernel[1] == 3 && P.Kernel[2] == 3) {
    F(Const<3>(), Const<3>());
    return true;
  }
  if (P.Kernel[1] == 5 && P.Kernel[2] == 3) {
    F(Const<5>(), Const<3>());
    return true;
  }
  return false;
}

/// Entries KR * KW .. KR * KW + KW - 1 of \p All (kernel row KR of a
/// window's taps).
template <int KW, class T, int NK>
MOTE_RT_INLINE void kernelRow(const T (&All)[NK], int KR, T (&Row)[KW]) {
  MOTE_RT_UNROLL
  for (int K = 0; K < KW; ++K)
    Row[K] = All[KR * KW + K];
}

/// Walks the rows of a plane for the whole-window loops of a 2-D KH x KW
/// kernel, Sp the TapSpan of a kernel row. Output space (forward and
/// weight gradient): rows of the output, read from input rows; tap k reads
/// the input at Row + i SW + Off[k], Row = r SH IW. Input space (input
/// gradient, stride 1): rows of the input, read from dY rows; tap k reads
/// dY at Row + i + Off[k], Row = r OW. For each row r, Full(r, Row, Off)
/// runs where every kernel row reaches r; otherwise (top and bottom rows)
/// Begin(r), then Part(r, Row, kh, OffRow) for each kernel row kh that
/// reaches it (OffRow: its KW offsets), then Done(r).
template <int KH, int KW, class FullFn, class PartFn, class BeginFn,
          class DoneFn>
MOTE_RT_INLINE void forWindowRows(const ConvP &P, const TapSpan<KW> &Sp,
                                  bool InputSpace, FullFn Full, PartFn Part,
                                  BeginFn Begin, DoneFn Done) {
  const int32_t Rows = InputSpace ? P.In[1] : P.Out[1];
  const int32_t RowStep = InputSpace ? P.Out[2] : P.Strides[1] * P.In[2];
  int32_t R0[KH], R1[KH], Off[KH * KW], All0 = 0, All1 = Rows;
  MOTE_RT_UNROLL
  for (int K = 0; K < KH; ++K) {
    int32_t Start;
    outRange(P, 1, K, R0[K], R1[K], Start);
    if (InputSpace) {
      R0[K] += Start;
      R1[K] += Start;
    }
    MOTE_RT_UNROLL
    for (int J = 0; J < KW; ++J)
      Off[K * KW + J] = InputSpace ? -Start * P.Out[2] - Sp.Start[J]
                                   : Start * P.In[2] + Sp.Start[J];
    All0 = R0[K] > All0 ? R0[K] : All0;
    All1 = R1[K] < All1 ? R1[K] : All1;
  }
  for (int32_t R = 0; R < Rows; ++R) {
    if (R >= All0 && R < All1) {
      Full(R, R * RowStep, Off);
      continue;
    }
    Begin(R);
    MOTE_RT_UNROLL
    for (int K = 0; K < KH; ++K)
      if (R >= R0[K] && R < R1[K]) {
        int32_t OffRow[KW];
        kernelRow(Off, K, OffRow);
        Part(R, R * RowStep, K, OffRow);
      }
    Done(R);
  }
}

#if MOTE_RT_SIMD
/// windowAxpy's positions [Lo, Hi) with unit stride rounded down to whole
/// vectors, on a host with float vectors: VecLanes positions at a time,
/// each lane the scalar loop's sum (the same terms in the same order; Start
/// and End take vectors); returns where the scalar loop goes on.
template <int NK, class StartFn, class EndFn>
MOTE_RT_INLINE int32_t windowAxpyVec(int32_t Lo, int32_t Hi, float *Out,
                                     const float *In, const int32_t (&Off)[NK],
                                     const float (&Wt)[NK], StartFn Start,
                                     EndFn End) {
  for (; Lo + VecLanes <= Hi; Lo += VecLanes) {
    VecF Acc = Start(loadVec(Out + Lo));
    MOTE_RT_UNROLL
    for (int K = 0; K < NK; ++K)
      Acc += splat(Wt[K]) * loadVec(In + Lo + Off[K]);
    storeVec(Out + Lo, End(Acc));
  }
  return Lo;
}
#endif

/// Out[i] = End(Start(Out[i]) + sum_k Wt[k] In[k][i SI]) for i < Width
/// (Start and End generic: on hosts with float vectors they also take
/// vectors),
/// each tap k (tap k % KW of Sp's kernel row) over its own range: all NK
/// taps at once on [Sp.L, Sp.H), and the few positions outside one at a
/// time with the taps that reach them. Tap k reads In[k] = Base + Row +
/// Off[k]: the offsets are the same for every row and, the geometry being
/// constant, compile to immediate offsets from one pointer (nine pointers
/// of their own would not fit in the registers of a Cortex-M).
template <int NK, int KW, class T, class StartFn, class EndFn>
MOTE_RT_INLINE void windowAxpy(const TapSpan<KW> &Sp, int32_t Width, T *Out,
                               const T *Base, int32_t Row,
                               const int32_t (&Off)[NK], int32_t SI,
                               const T (&Wt)[NK], StartFn Start, EndFn End) {
  int32_t Pos = Sp.L;
#if MOTE_RT_SIMD
  if constexpr (IsSameType<T, float>)
    if (SI == 1)
      Pos = windowAxpyVec<NK>(Pos, Sp.H, Out, Base + Row, Off, Wt, Start, End);
#endif
  const T *In = Base + Row;
  for (; Pos < Sp.H; ++Pos) {
    T Acc = Start(Out[Pos]);
    MOTE_RT_UNROLL
    for (int K = 0; K < NK; ++K)
      Acc += Wt[K] * In[Pos * SI + Off[K]];
    Out[Pos] = End(Acc);
  }
  auto Edge = [&](int32_t I) MOTE_RT_LAMBDA {
    T Acc = Start(Out[I]);
    MOTE_RT_UNROLL
    for (int K = 0; K < NK; ++K)
      if (I >= Sp.Lo[K % KW] && I < Sp.Hi[K % KW])
        Acc += Wt[K] * Base[Row + I * SI + Off[K]];
    Out[I] = End(Acc);
  };
  for (int32_t I = 0; I < Sp.L; ++I)
    Edge(I);
  for (int32_t I = Sp.H; I < Width; ++I)
    Edge(I);
}

/// Forward of a layer with one input channel per group (depthwise, or a
/// first layer on one channel) and a whole 2-D KH x KW kernel at once, per
/// output plane (which reads one input plane only): an output row all
/// kernel rows reach takes all KH KW taps per element, starting from the
/// bias and ending with the fused activation, so each element is written
/// once (no bias fill, no activation pass); the top and bottom rows take
/// their kernel rows one at a time.
template <int KH, int KW, class T>
MOTE_RT_INLINE void convWindow(const ConvP &P, const T *XC, const T *WM,
                               T Bias, T *YM) {
  constexpr int NK = KH * KW;
  const int32_t OW = P.Out[2], SW = P.Strides[2];
  const TapSpan<KW> Sp(P, 0);
  T Wt[NK];
  MOTE_RT_UNROLL
  for (int K = 0; K < NK; ++K)
    Wt[K] = WM[K];
  auto Keep = [](auto V) MOTE_RT_LAMBDA { return V; };
  forWindowRows<KH, KW>(
      P, Sp, /*InputSpace=*/false,
      [&](int32_t OH, int32_t Row, const int32_t(&Off)[NK]) MOTE_RT_LAMBDA {
        windowAxpy<NK, KW>(
            Sp, OW, YM + OH * OW, XC, Row, Off, SW, Wt,
            // Bias, or a vector of it (Bias - 0 is Bias, -0 included).
            [Bias](auto V) MOTE_RT_LAMBDA { return Bias - decltype(V){}; },
            [&](auto V) MOTE_RT_LAMBDA { return activate(P, V); });
      },
      [&](int32_t OH, int32_t Row, int KR, const int32_t(&Off)[KW])
          MOTE_RT_LAMBDA {
            T Wr[KW];
            kernelRow(Wt, KR, Wr);
            windowAxpy<KW, KW>(Sp, OW, YM + OH * OW, XC, Row, Off, SW, Wr,
                               Keep, Keep);
          },
      [&](int32_t OH) MOTE_RT_LAMBDA { fill(YM + OH * OW, Bias, OW); },
      [&](int32_t OH) MOTE_RT_LAMBDA { clampActivation(P, YM + OH * OW, OW); });
}

/// The forward kernels' common body: per image, bias, then for each group
/// its output channels four at a time, each block over the group's input
/// channels four at a time (a single channel left: convTapBlock), then the
/// fused activation.
template <class T>
MOTE_RT_INLINE void convForward(const ConvP &P, const T *X, const T *W,
                                const T *B, T *Y) {
  const ConvSizes S(P);
  if (P.CPerGroup == 1 &&
      withWindow(P, [&](auto KH, auto KW) MOTE_RT_LAMBDA {
        for (int32_t N = 0; N < P.Batch; ++N)
          for (int32_t M = 0; M < P.M; ++M)
            convWindow<KH.value, KW.value>(
                P, X + (N * P.C + M / P.MPerGroup) * S.In, W + M * S.Kernel,
                B ? B[M] : T(0), Y + (N * P.M + M) * S.Out);
      }))
    return;
  // The activation goes with the last tap's pass where that pass writes
  // every output, else over the finished planes.
  const bool ActLast = (P.ActHasMin || P.ActHasMax || P.ActHardSwish) &&
                       everyTapReachesAll(P);
  for (int32_t N = 0; N < P.Batch; ++N) {
    T *YN = Y + N * P.M * S.Out;
    fillRows(YN, B, P.M, S.Out);
    for (int32_t G = 0; G < P.Group; ++G) {
      const T *XG = X + (N * P.C + G * P.CPerGroup) * S.In;
      forBlocks<4>(
          G * P.MPerGroup, (G + 1) * P.MPerGroup,
          [&](auto NMTag, int32_t M0) MOTE_RT_LAMBDA {
            constexpr int NM = decltype(NMTag)::value;
            forBlocks<4>(
                0, P.CPerGroup, [&](auto NCTag, int32_t C0) MOTE_RT_LAMBDA {
                  constexpr int NC = decltype(NCTag)::value;
                  const bool Last = ActLast && C0 + NC == P.CPerGroup;
                  if constexpr (NC == 1)
                    convTapBlock<NM>(P, S, XG, C0, W, M0, YN, Last);
                  else
                    convBlock<NM, NC>(P, S, XG, C0, W, M0, YN, Last);
                });
            if (!ActLast)
              clampActivation(P, YN + M0 * S.Out, NM * S.Out);
          });
    }
  }
}

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
template <class T>
MOTE_RT_INLINE void convGradInputTapBlock(const ConvP &P, const ConvSizes &S,
                                          const T *DYN, int32_t M0, const T *W,
                                          int32_t C0, T *DXG) {
  T *DXC = DXG + C0 * S.In;
  const T *DYM = DYN + M0 * S.Out;
  forEachTapBlock<4>(
      P, /*InputSpace=*/true,
      [&](auto KBTag, int32_t Tap0, const auto &Sp, auto Rows) MOTE_RT_LAMBDA {
        constexpr int KB = decltype(KBTag)::value;
        T Wt[1][KB];
        MOTE_RT_UNROLL
        for (int K = 0; K < KB; ++K)
          Wt[0][K] = W[(M0 * P.CPerGroup + C0) * S.Kernel + Tap0 + K];
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

template <int NC, int NM, class T>
MOTE_RT_INLINE void convGradInputBlock(const ConvP &P, const ConvSizes &S,
                                       const T *DYN, int32_t M0, const T *W,
                                       int32_t C0, T *DXG) {
  forEachTap(P, [&](int32_t Tap, auto Rows) MOTE_RT_LAMBDA {
    T Wt[NC][NM];
    MOTE_RT_UNROLL
    for (int C = 0; C < NC; ++C) {
      MOTE_RT_UNROLL
      for (int M = 0; M < NM; ++M)
        Wt[C][M] = W[((M0 + M) * P.CPerGroup + C0 + C) * S.Kernel + Tap];
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

template <class T>
MOTE_RT_KERNEL void conv(const ConvP &P, const T *X, const T *W, const T *B,
                         T *Y) {
  detail::convForward(P, X, W, B, Y);
}

/// conv for CPerGroup = 1: output channel m reads input channel g = m /
/// MPerGroup only (the same body; the input-channel loop folds away).
template <class T>
MOTE_RT_KERNEL void conv_depthwise(const ConvP &P, const T *X, const T *W,
                                   const T *B, T *Y) {
  detail::convForward(P, X, W, B, Y);
}

/// conv for a 1x1 kernel with stride 1 and no padding (Out = In).
template <class T>
MOTE_RT_KERNEL void conv_pointwise(const ConvP &P, const T *X, const T *W,
                                   const T *B, T *Y) {
  const int32_t Size = P.In[0] * P.In[1] * P.In[2];
  for (int32_t N = 0; N < P.Batch; ++N) {
    T *YN = Y + N * P.M * Size;
    detail::fillRows(YN, B, P.M, Size);
    detail::withActivation(P, [&](auto Fin) MOTE_RT_LAMBDA {
      for (int32_t G = 0; G < P.Group; ++G)
        detail::gemmAccumulate(P.MPerGroup, Size, P.CPerGroup, T(1),
                               W + G * P.MPerGroup * P.CPerGroup, P.CPerGroup,
                               1, X + (N * P.C + G * P.CPerGroup) * Size, Size,
                               YN + G * P.MPerGroup * Size, Size, Fin);
    });
  }
}

/// dX [N, C, In] from dY [N, M, Out] and W [M, C/G, Kernel]: each dY[n, m, o]
/// times W[m, c, t] is added to the input position tap t of o reads.
template <class T>
MOTE_RT_KERNEL void conv_grad_input(const ConvP &P, const T *DY, const T *W,
                                    T *DX) {
  const detail::ConvSizes S(P);
  if (P.CPerGroup == 1 && P.MPerGroup == 1 && P.Strides[1] == 1 &&
      P.Strides[2] == 1 &&
      detail::withWindow(P, [&](auto KH, auto KW) MOTE_RT_LAMBDA {
        for (int32_t N = 0; N < P.Batch; ++N)
          for (int32_t C = 0; C < P.C; ++C)
            detail::convGradInputWindow<KH.value, KW.value>(
                P, DY + (N * P.M + C) * S.Out, W + C * S.Kernel,
                DX + (N * P.C + C) * S.In);
      }))
    return;
  if (P.CPerGroup == 1 && P.MPerGroup == 1 && P.Strides[1] == 2 &&
      P.Strides[2] == 2 && P.Dilations[1] == 1 && P.Dilations[2] == 1 &&
      detail::withWindow(P, [&](auto KH, auto KW) MOTE_RT_LAMBDA {
        for (int32_t N = 0; N < P.Batch; ++N)
          for (int32_t C = 0; C < P.C; ++C)
            detail::convGradInputStrided<KH.value, KW.value, 2>(
                P, DY + (N * P.M + C) * S.Out, W + C * S.Kernel,
                DX + (N * P.C + C) * S.In);
      }))
    return;
  fill(DX, T(0), P.Batch * P.C * S.In);
  if (detail::isPointwise(P, S)) {
    // Pointwise (1x1, stride 1, no padding): per image and group dX_g
    // [C/G, S] = W_g^T dY_g over the whole plane as one row (the terms in
    // the same order as the tap loops below; a plane of 2 x 2 is one row of
    // 4, not two rows of 2).
    for (int32_t N = 0; N < P.Batch; ++N)
      for (int32_t G = 0; G < P.Group; ++G)
        detail::gemmAccumulate(
            P.CPerGroup, S.In, P.MPerGroup, T(1),
            W + G * P.MPerGroup * P.CPerGroup, 1, P.CPerGroup,
            DY + (N * P.M + G * P.MPerGroup) * S.Out, S.Out,
            DX + (N * P.C + G * P.CPerGroup) * S.In, S.In);
    return;
  }
  for (int32_t N = 0; N < P.Batch; ++N) {
    const T *DYN = DY + N * P.M * S.Out;
    for (int32_t G = 0; G < P.Group; ++G) {
      T *DXG = DX + (N * P.C + G * P.CPerGroup) * S.In;
      // Four input channels by four output channels of the group at a time.
      detail::forBlocks<4>(
          0, P.CPerGroup, [&](auto NCTag, int32_t C0) MOTE_RT_LAMBDA {
            detail::forBlocks<4>(
                G * P.MPerGroup, (G + 1) * P.MPerGroup,
                [&](auto NMTag, int32_t M0) MOTE_RT_LAMBDA {
                  constexpr int NC = decltype(NCTag)::value,
                                NM = decltype(NMTag)::value;
                  if constexpr (NC == 1 && NM == 1) {
                    if (P.Strides[2] == 1) {
                      detail::convGradInputTapBlock(P, S, DYN, M0, W, C0, DXG);
                      return;
                    }
                  }
                  detail::convGradInputBlock<NC, NM>(P, S, DYN, M0, W, C0, DXG);
                });
          });
    }
  }
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
/// Copies the untrained tail [Trained, Total) of each of the \p N (source,
/// destination) pairs whose buffers differ (nothing to do in place).
template <class T, int N>
MOTE_RT_INLINE void copyUntrained(const ConvP &P, const T *const (&Src)[N],
                                  T *const (&Dst)[N]) {
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  const int32_t Trained = P.Channels * P.CPerGroup * KSize;
  const int32_t Total = P.M * P.CPerGroup * KSize;
  MOTE_RT_UNROLL
  for (int I = 0; I < N; ++I)
    if (Dst[I] != Src[I])
      copy(Src[I] + Trained, Dst[I] + Trained, Total - Trained);
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
  const SgdStep<T> S(P.Lr, P.Decay);
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
  const MomentumStep<T> S(P.Lr, P.Alpha, P.Beta, P.Decay, P.Nesterov, Step);
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
  const AdamStep<T> S(P.Lr, P.Alpha, P.Beta, P.Epsilon, P.Decay, P.DecayPost,
                      Step);
  detail::convGradWeight(P, X, DY, [&](int32_t I, T Grad) MOTE_RT_LAMBDA {
    S(W, Grad, V, H, WOut, VOut, HOut, I);
  });
}

} // namespace mote_rt

#endif // MOTE_RT_CONV_H
