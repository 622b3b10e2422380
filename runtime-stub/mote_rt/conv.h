//===- conv.h - Convolution kernels, forward --------------------*- C++ -*-===//
//
// Grouped N-D convolution (1-D, 2-D and 3-D; the lowering presents every
// operand as 3-D, see window.h) with strides, dilations, asymmetric zero
// padding and an optional bias. With X [N, C, D, H, W], W [M, C/G, KD, KH,
// KW] and g = m / (M/G):
//
//   Y[n, m, o] = B[m] + sum_{c < C/G} sum_t X[n, g C/G + c, o s - p + t d]
//                                            W[m, c, t]
//
// Kernels (the lowering in compiler/ops/nn/Conv.cpp picks one), all taking
// ConvP (mote_rt/params.def):
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
// The gradients are in conv_grad.h, which shares the tap walks, blocks and
// window loops defined here.
// The multiply-accumulate loops are register-blocked (block.h): four output
// by four input channels (16 accumulators or weights in registers:
// Cortex-M4F and M7 have 32 single registers; two by four measured about
// 10% more instructions per step). The kernels apply a fused activation
// (ReLU, ReLU6, hard swish; activate in core.h) as each output gets its
// last terms, in registers: the whole-window loops at the end of the
// window, the pointwise and tap-blocked loops in their last pass (the last
// block of input channels, the last tap) where that pass writes every
// output, i.e. when no tap reads padding; otherwise over each finished
// output plane (clampActivation). None needs scratch memory.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_CONV_H
#define MOTE_RT_CONV_H

#include "mote_rt/block.h"
#include "mote_rt/gemm.h"
#include "mote_rt/window.h"

namespace mote_rt {

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
      Pass([&](auto V) MOTE_RT_LAMBDA { return activate(P.Act, V); });
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
          Pass([&](auto V) MOTE_RT_LAMBDA { return activate(P.Act, V); });
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
            [&](auto V) MOTE_RT_LAMBDA { return activate(P.Act, V); });
      },
      [&](int32_t OH, int32_t Row, int KR, const int32_t(&Off)[KW])
          MOTE_RT_LAMBDA {
            T Wr[KW];
            kernelRow(Wt, KR, Wr);
            windowAxpy<KW, KW>(Sp, OW, YM + OH * OW, XC, Row, Off, SW, Wr,
                               Keep, Keep);
          },
      [&](int32_t OH) MOTE_RT_LAMBDA { fill(YM + OH * OW, Bias, OW); },
      [&](int32_t OH) MOTE_RT_LAMBDA { clampActivation(P.Act, YM + OH * OW, OW); });
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
  const bool ActLast = (P.Act.HasMin || P.Act.HasMax || P.Act.HardSwish) &&
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
              clampActivation(P.Act, YN + M0 * S.Out, NM * S.Out);
          });
    }
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
    detail::withActivation(P.Act, [&](auto Fin) MOTE_RT_LAMBDA {
      for (int32_t G = 0; G < P.Group; ++G)
        detail::gemmAccumulate(P.MPerGroup, Size, P.CPerGroup, T(1),
                               W + G * P.MPerGroup * P.CPerGroup, P.CPerGroup,
                               1, X + (N * P.C + G * P.CPerGroup) * Size, Size,
                               YN + G * P.MPerGroup * Size, Size, Fin);
    });
  }
}

} // namespace mote_rt

#endif // MOTE_RT_CONV_H
