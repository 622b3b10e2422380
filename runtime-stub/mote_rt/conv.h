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
//                   transposed convolution), tap-major like conv.
//   conv_grad_weight dW for the first Channels output channels only (the
//                   partial-channel update of sparse training).
//   conv_grad_weight_sgd  W' = W - Lr (dW + Decay W) on those channels, in
//                   place (W' may be W): each partial sum of dW is folded
//                   into the weight as soon as it is made, so dW is never
//                   stored (TTE's in-place SGD).
// The forward kernels clamp each finished output plane when the lowering
// fused an activation into them (ActHasMin/ActHasMax, clampActivation in
// core.h). None needs scratch memory.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_CONV_H
#define MOTE_RT_CONV_H

#include "mote_rt/gemm.h"
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
  // conv_pointwise, and the SGD step of conv_grad_weight_sgd.
  int32_t ActHasMin;
  int32_t ActHasMax;
  float ActMin;
  float ActMax;
  float Lr;
  float Decay; ///< SGD's norm_coefficient (L2 weight decay)
};

namespace detail {

/// Calls F(W, Tap, XRow, YRow, Lo, Hi, SW) for each tap of the kernel and
/// each output row (od, oh) where the tap reads inside the input: output
/// positions [Lo, Hi) of the row at offset YRow in an output plane read the
/// input plane at XRow + ow * SW. Tap is the row-major offset of the tap in
/// a kernel plane.
template <class Fn> MOTE_RT_INLINE void forEachTapRow(const ConvP &P, Fn F) {
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
        if (W0 >= W1)
          continue;
        const int32_t Tap = (KD * P.Kernel[1] + KH) * P.Kernel[2] + KW;
        for (int32_t OD = D0; OD < D1; ++OD) {
          const int32_t ID = ID0 + OD * SD;
          for (int32_t OHI = H0; OHI < H1; ++OHI) {
            const int32_t IHI = IH0 + OHI * SH;
            F(Tap, (ID * IH + IHI) * IW + IW0, (OD * OH + OHI) * OW, W0, W1,
              SW);
          }
        }
      }
    }
  }
}

/// YPlane += the convolution of one input plane with one kernel plane.
template <class T>
MOTE_RT_INLINE void convAccumulatePlane(const ConvP &P, const T *XPlane,
                                        const T *WPlane, T *YPlane) {
  forEachTapRow(P, [&](int32_t Tap, int32_t XRow, int32_t YRow, int32_t Lo,
                       int32_t Hi, int32_t SW) {
    const T WV = WPlane[Tap];
    const T *XR = XPlane + XRow;
    T *YR = YPlane + YRow;
    for (int32_t OW = Lo; OW < Hi; ++OW)
      YR[OW] += WV * XR[OW * SW];
  });
}

/// Fills each of the Rows rows of Size elements of Y with B[row] (0 if B is
/// nullptr).
template <class T>
MOTE_RT_INLINE void fillRows(T *Y, const T *B, int32_t Rows, int32_t Size) {
  for (int32_t R = 0; R < Rows; ++R)
    fill(Y + R * Size, B ? B[R] : T(0), Size);
}

} // namespace detail

template <class T>
MOTE_RT_KERNEL void conv(const ConvP &P, const T *X, const T *W, const T *B,
                         T *Y) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  for (int32_t N = 0; N < P.Batch; ++N) {
    T *YN = Y + N * P.M * OutSize;
    detail::fillRows(YN, B, P.M, OutSize);
    for (int32_t G = 0; G < P.Group; ++G) {
      const T *XG = X + (N * P.C + G * P.CPerGroup) * InSize;
      for (int32_t MI = 0; MI < P.MPerGroup; ++MI) {
        const int32_t M = G * P.MPerGroup + MI;
        for (int32_t C = 0; C < P.CPerGroup; ++C)
          detail::convAccumulatePlane(P, XG + C * InSize,
                                      W + (M * P.CPerGroup + C) * KSize,
                                      YN + M * OutSize);
        clampActivation(P, YN + M * OutSize, OutSize);
      }
    }
  }
}

/// conv for CPerGroup = 1: output channel m reads input channel g = m /
/// MPerGroup only.
template <class T>
MOTE_RT_KERNEL void conv_depthwise(const ConvP &P, const T *X, const T *W,
                                   const T *B, T *Y) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  for (int32_t N = 0; N < P.Batch; ++N) {
    T *YN = Y + N * P.M * OutSize;
    detail::fillRows(YN, B, P.M, OutSize);
    for (int32_t G = 0; G < P.Group; ++G) {
      const T *XG = X + (N * P.C + G) * InSize;
      for (int32_t MI = 0; MI < P.MPerGroup; ++MI) {
        const int32_t M = G * P.MPerGroup + MI;
        detail::convAccumulatePlane(P, XG, W + M * KSize, YN + M * OutSize);
        clampActivation(P, YN + M * OutSize, OutSize);
      }
    }
  }
}

/// conv for a 1x1 kernel with stride 1 and no padding (Out = In).
template <class T>
MOTE_RT_KERNEL void conv_pointwise(const ConvP &P, const T *X, const T *W,
                                   const T *B, T *Y) {
  const int32_t Size = P.In[0] * P.In[1] * P.In[2];
  for (int32_t N = 0; N < P.Batch; ++N) {
    T *YN = Y + N * P.M * Size;
    detail::fillRows(YN, B, P.M, Size);
    for (int32_t G = 0; G < P.Group; ++G)
      detail::gemmAccumulate(P.MPerGroup, Size, P.CPerGroup, T(1),
                             W + G * P.MPerGroup * P.CPerGroup, P.CPerGroup, 1,
                             X + (N * P.C + G * P.CPerGroup) * Size, Size,
                             YN + G * P.MPerGroup * Size, Size);
    clampActivation(P, YN, P.M * Size);
  }
}

/// dX [N, C, In] from dY [N, M, Out] and W [M, C/G, Kernel]: each dY[n, m, o]
/// times W[m, c, t] is added to the input position tap t of o reads.
template <class T>
MOTE_RT_KERNEL void conv_grad_input(const ConvP &P, const T *DY, const T *W,
                                    T *DX) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  fill(DX, T(0), P.Batch * P.C * InSize);
  for (int32_t N = 0; N < P.Batch; ++N) {
    for (int32_t G = 0; G < P.Group; ++G) {
      T *DXG = DX + (N * P.C + G * P.CPerGroup) * InSize;
      for (int32_t MI = 0; MI < P.MPerGroup; ++MI) {
        const int32_t M = G * P.MPerGroup + MI;
        const T *DYM = DY + (N * P.M + M) * OutSize;
        for (int32_t C = 0; C < P.CPerGroup; ++C) {
          const T *WPlane = W + (M * P.CPerGroup + C) * KSize;
          T *DXC = DXG + C * InSize;
          detail::forEachTapRow(P, [&](int32_t Tap, int32_t XRow, int32_t YRow,
                                       int32_t Lo, int32_t Hi, int32_t SW) {
            const T WV = WPlane[Tap];
            const T *DYR = DYM + YRow;
            T *DXR = DXC + XRow;
            for (int32_t OW = Lo; OW < Hi; ++OW)
              DXR[OW * SW] += WV * DYR[OW];
          });
        }
      }
    }
  }
}

/// dW [Channels, C/G, Kernel] from X [N, C, In] and dY [N, M, Out]: output
/// channels m >= Channels are neither computed nor stored.
template <class T>
MOTE_RT_KERNEL void conv_grad_weight(const ConvP &P, const T *X, const T *DY,
                                     T *DW) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  fill(DW, T(0), P.Channels * P.CPerGroup * KSize);
  for (int32_t M = 0; M < P.Channels; ++M) {
    const int32_t G = M / P.MPerGroup;
    for (int32_t C = 0; C < P.CPerGroup; ++C) {
      T *DWPlane = DW + (M * P.CPerGroup + C) * KSize;
      for (int32_t N = 0; N < P.Batch; ++N) {
        const T *XC = X + (N * P.C + G * P.CPerGroup + C) * InSize;
        const T *DYM = DY + (N * P.M + M) * OutSize;
        detail::forEachTapRow(P, [&](int32_t Tap, int32_t XRow, int32_t YRow,
                                     int32_t Lo, int32_t Hi, int32_t SW) {
          const T *XR = XC + XRow;
          const T *DYR = DYM + YRow;
          T Acc = T(0);
          for (int32_t OW = Lo; OW < Hi; ++OW)
            Acc += XR[OW * SW] * DYR[OW];
          DWPlane[Tap] += Acc;
        });
      }
    }
  }
}

/// W' [M, C/G, Kernel] from X, dY and W: the first Channels output channels
/// take one SGD step, W - Lr (dW + Decay W), the rest are copied (nothing
/// to do when W' is W). Each (channel, input channel) plane first becomes
/// W - Lr Decay W, then every row's partial dot product p of dW is
/// subtracted as Lr p when it is made.
template <class T>
MOTE_RT_KERNEL void conv_grad_weight_sgd(const ConvP &P, const T *X,
                                         const T *DY, const T *W, T *WOut) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  const int32_t KSize = P.Kernel[0] * P.Kernel[1] * P.Kernel[2];
  const int32_t PlaneSize = P.CPerGroup * KSize;
  const T Lr = T(P.Lr), Decay = T(P.Decay);
  if (WOut != W)
    copy(W + P.Channels * PlaneSize, WOut + P.Channels * PlaneSize,
         (P.M - P.Channels) * PlaneSize);
  for (int32_t M = 0; M < P.Channels; ++M) {
    const int32_t G = M / P.MPerGroup;
    for (int32_t C = 0; C < P.CPerGroup; ++C) {
      const int32_t Off = (M * P.CPerGroup + C) * KSize;
      T *WPlane = WOut + Off;
      for (int32_t K = 0; K < KSize; ++K)
        WPlane[K] = W[Off + K] - Lr * (Decay * W[Off + K]);
      for (int32_t N = 0; N < P.Batch; ++N) {
        const T *XC = X + (N * P.C + G * P.CPerGroup + C) * InSize;
        const T *DYM = DY + (N * P.M + M) * OutSize;
        detail::forEachTapRow(P, [&](int32_t Tap, int32_t XRow, int32_t YRow,
                                     int32_t Lo, int32_t Hi, int32_t SW) {
          const T *XR = XC + XRow;
          const T *DYR = DYM + YRow;
          T Acc = T(0);
          for (int32_t OW = Lo; OW < Hi; ++OW)
            Acc += XR[OW * SW] * DYR[OW];
          WPlane[Tap] -= Lr * Acc;
        });
      }
    }
  }
}

} // namespace mote_rt

#endif // MOTE_RT_CONV_H
