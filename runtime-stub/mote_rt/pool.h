//===- pool.h - Pooling kernels, forward and backward ----------*- C++ -*-===//
//
// AveragePool, MaxPool and GlobalAveragePool over the spatial dims of
// [N, C, D, H, W] (1-D and 2-D operands arrive as 3-D ones, see window.h),
// and the backward ops of the first two. For the window of output position
// o, with w(o) its taps inside the input (in row-major window order):
//
//   max_pool:  Y = max over w(o); the first maximum wins, a NaN is the
//              maximum (the first NaN ends the search); Indices (optional)
//              = plane * prod(In) + the position's index with the spatial
//              dims flattened through IndexStrides (row- or column-major).
//              An empty window gives -inf and index -1. On the codes
//              of an i8/u8 tensor quantized per tensor (a quantized
//              MaxPool, compiler/ops/nn/Pool.cpp) the same, with the
//              type's lowest code for -inf.
//   avg_pool:  Y = sum over w(o) / divisor, the divisor being |w(o)| or,
//              with CountIncludePad, the window size clipped to the padded
//              input; an empty window gives 0.
//   max_pool_grad: dX[argmax of w(o)] += dY[o].
//   avg_pool_grad: dX[t] += dY[o] / divisor for every t in w(o).
//   global_avg_pool: the mean of each plane.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_POOL_H
#define MOTE_RT_POOL_H

#include "mote_rt/block.h"
#include "mote_rt/math.h"
#include "mote_rt/window.h"

namespace mote_rt {

namespace detail {

/// The taps of one window inside the input: [Lo[d], Hi[d]) along dim d,
/// tap t reading input position Start[d] + t * Dilations[d].
struct PoolWindow {
  int32_t Lo[WindowRank];
  int32_t Hi[WindowRank];
  int32_t Start[WindowRank];
};

/// Calls F(O, Window) for each output position O (row-major) of a plane.
template <class Fn>
MOTE_RT_INLINE void forEachPoolWindow(const PoolP &P, Fn F) {
  PoolWindow Wn;
  int32_t O = 0;
  for (int32_t OD = 0; OD < P.Out[0]; ++OD) {
    tapRange(P, 0, OD, Wn.Lo[0], Wn.Hi[0], Wn.Start[0]);
    for (int32_t OH = 0; OH < P.Out[1]; ++OH) {
      tapRange(P, 1, OH, Wn.Lo[1], Wn.Hi[1], Wn.Start[1]);
      for (int32_t OW = 0; OW < P.Out[2]; ++OW) {
        tapRange(P, 2, OW, Wn.Lo[2], Wn.Hi[2], Wn.Start[2]);
        F(O++, Wn);
      }
    }
  }
}

/// Number of taps of \p Wn inside the input.
MOTE_RT_INLINE int32_t tapCount(const PoolWindow &Wn) {
  return (Wn.Hi[0] - Wn.Lo[0]) * (Wn.Hi[1] - Wn.Lo[1]) * (Wn.Hi[2] - Wn.Lo[2]);
}

/// The count_include_pad divisor: the window clipped to the padded input.
MOTE_RT_INLINE int32_t paddedWindowSize(const PoolP &P, const PoolWindow &Wn) {
  int32_t Count = 1;
  for (int32_t D = 0; D < WindowRank; ++D) {
    int32_t End = Wn.Start[D] + (P.Kernel[D] - 1) * P.Dilations[D] + 1;
    int32_t Limit = P.In[D] + P.PadEnd[D];
    Count *= (End < Limit ? End : Limit) - Wn.Start[D];
  }
  return Count;
}

/// Calls F(offset in the plane, D, H, W positions) for each tap of \p Wn in
/// row-major window order while F returns true.
template <class Fn>
MOTE_RT_INLINE void forEachTap(const PoolP &P, const PoolWindow &Wn, Fn F) {
  for (int32_t KD = Wn.Lo[0]; KD < Wn.Hi[0]; ++KD) {
    const int32_t ID = Wn.Start[0] + KD * P.Dilations[0];
    for (int32_t KH = Wn.Lo[1]; KH < Wn.Hi[1]; ++KH) {
      const int32_t IH = Wn.Start[1] + KH * P.Dilations[1];
      const int32_t Row = (ID * P.In[1] + IH) * P.In[2];
      for (int32_t KW = Wn.Lo[2]; KW < Wn.Hi[2]; ++KW) {
        const int32_t IW = Wn.Start[2] + KW * P.Dilations[2];
        if (!F(Row + IW, ID, IH, IW))
          return;
      }
    }
  }
}

/// What max_pool takes for -inf: -inf, or an integer type's lowest value.
template <class T> MOTE_RT_INLINE constexpr T lowestOf() {
  if constexpr (IsFloatType<T>)
    return -infinity<T>();
  else
    return IntLimits<T>::Lowest;
}

/// The maximum of window \p Wn of plane \p XP (see max_pool); \p Off
/// receives its offset in the plane (-1 for an empty window) and \p Index
/// its index through IndexStrides.
template <class T>
MOTE_RT_INLINE T windowMax(const PoolP &P, const T *XP, const PoolWindow &Wn,
                           int32_t &Off, int32_t &Index) {
  if (Wn.Lo[0] == 0 && Wn.Hi[0] == P.Kernel[0] && Wn.Lo[1] == 0 &&
      Wn.Hi[1] == P.Kernel[1] && Wn.Lo[2] == 0 && Wn.Hi[2] == P.Kernel[2]) {
    // A whole window (every tap inside the input): the taps' offsets from
    // the first are the same for every such window (constants once the
    // geometry is), and the first tap starts the search.
    const int32_t Base =
        (Wn.Start[0] * P.In[1] + Wn.Start[1]) * P.In[2] + Wn.Start[2];
    const int32_t K12 = P.Kernel[1] * P.Kernel[2];
    int32_t BestTap = 0;
    T Best = XP[Base];
    for (int32_t KD = 0; KD < P.Kernel[0]; ++KD)
      for (int32_t KH = 0; KH < P.Kernel[1]; ++KH)
        for (int32_t KW = 0; KW < P.Kernel[2]; ++KW) {
          const T V =
              XP[Base +
                 (KD * P.Dilations[0] * P.In[1] + KH * P.Dilations[1]) *
                     P.In[2] +
                 KW * P.Dilations[2]];
          // Past the first NaN nothing replaces the maximum (Best != Best).
          if (V > Best || (V != V && Best == Best)) {
            Best = V;
            BestTap = (KD * P.Kernel[1] + KH) * P.Kernel[2] + KW;
          }
        }
    const int32_t ID = Wn.Start[0] + BestTap / K12 * P.Dilations[0];
    const int32_t IH =
        Wn.Start[1] + BestTap / P.Kernel[2] % P.Kernel[1] * P.Dilations[1];
    const int32_t IW = Wn.Start[2] + BestTap % P.Kernel[2] * P.Dilations[2];
    Off = (ID * P.In[1] + IH) * P.In[2] + IW;
    Index = ID * P.IndexStrides[0] + IH * P.IndexStrides[1] +
            IW * P.IndexStrides[2];
    return Best;
  }
  T Best = lowestOf<T>();
  Off = -1;
  Index = -1;
  forEachTap(P, Wn,
             [&](int32_t O, int32_t ID, int32_t IH, int32_t IW) MOTE_RT_LAMBDA {
               const T V = XP[O];
               const bool IsNaN = V != V;
               if (V > Best || Off < 0 || IsNaN) {
                 Best = V;
                 Off = O;
                 Index = ID * P.IndexStrides[0] + IH * P.IndexStrides[1] +
                         IW * P.IndexStrides[2];
               }
               return !IsNaN;
             });
  return Best;
}

/// Whether every window of \p P is a whole 2-D tile of its plane: one
/// depth, stride = kernel, no dilation, every window inside the input (no
/// padding reached). The windows then cover disjoint taps, in rows of
/// Kernel[1] input rows; the input rows and columns past the last window
/// are read by none.
MOTE_RT_INLINE bool isTiledPool(const PoolP &P) {
  bool Tiled = P.In[0] == 1 && P.Kernel[0] == 1;
  for (int32_t D = 0; D < WindowRank; ++D)
    Tiled = Tiled && P.Strides[D] == P.Kernel[D] && P.Dilations[D] == 1 &&
            P.InteriorBegin[D] == 0 && P.InteriorEnd[D] == P.Out[D];
  return Tiled;
}

/// Calls F(O, Best, Off) for each output O of a tiled plane (isTiledPool)
/// in row-major order: the window's maximum as windowMax takes it (the
/// first maximum in row-major window order, the first NaN ends the search)
/// and its offset in the plane. A KH x KW kernel known at compile time
/// unrolls; 0 takes it from \p P.
template <int KH, int KW, class T, class Fn>
MOTE_RT_INLINE void forEachTile(const PoolP &P, const T *XP, Fn F) {
  const int32_t Kh = KH ? KH : P.Kernel[1], Kw = KW ? KW : P.Kernel[2];
  const int32_t IW = P.In[2];
  int32_t O = 0;
  for (int32_t OH = 0; OH < P.Out[1]; ++OH) {
    const int32_t Row = OH * Kh * IW;
    for (int32_t OW = 0; OW < P.Out[2]; ++OW, ++O) {
      const int32_t Base = Row + OW * Kw;
      T Best = XP[Base];
      int32_t BestOff = Base;
      for (int32_t H = 0; H < Kh; ++H) {
        for (int32_t W = 0; W < Kw; ++W) {
          const T V = XP[Base + H * IW + W];
          // windowMax's test (V > Best, or V the first NaN) written as
          // selects rather than a branch around two stores: a maximum is
          // not predictable (measured faster at -O2; the compiler may
          // still branch on the float compare).
          const bool Take = Best == Best && !(V <= Best);
          Best = Take ? V : Best;
          BestOff = Take ? Base + H * IW + W : BestOff;
        }
      }
      F(O, Best, BestOff);
    }
  }
}

/// forEachTile over each plane, the 2x2 kernel unrolled; returns false (and
/// does nothing) unless \p P is tiled.
template <class T, class Fn>
MOTE_RT_INLINE bool forEachTiledPlane(const PoolP &P, const T *X, Fn F) {
  if (!isTiledPool(P))
    return false;
  const int32_t InSize = P.In[1] * P.In[2];
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const T *XP = X + Pl * InSize;
    if (P.Kernel[1] == 2 && P.Kernel[2] == 2)
      forEachTile<2, 2>(P, XP, [&](int32_t O, T Best, int32_t Off)
                                   MOTE_RT_LAMBDA { F(Pl, O, Best, Off); });
    else
      forEachTile<0, 0>(P, XP, [&](int32_t O, T Best, int32_t Off)
                                   MOTE_RT_LAMBDA { F(Pl, O, Best, Off); });
  }
  return true;
}

} // namespace detail

template <class T>
MOTE_RT_KERNEL void avg_pool(const PoolP &P, const T *X, T *Y) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const T *XP = X + Pl * InSize;
    T *YP = Y + Pl * OutSize;
    detail::forEachPoolWindow(
        P, [&](int32_t O, const detail::PoolWindow &Wn) MOTE_RT_LAMBDA {
          const int32_t Taps = detail::tapCount(Wn);
          if (Taps == 0) {
            YP[O] = T(0);
            return;
          }
          T Sum = T(0);
          detail::forEachTap(P, Wn,
                             [&](int32_t Off, int32_t, int32_t, int32_t)
                                 MOTE_RT_LAMBDA {
                                   Sum += XP[Off];
                                   return true;
                                 });
          const int32_t Div =
              P.CountIncludePad ? detail::paddedWindowSize(P, Wn) : Taps;
          YP[O] = Sum / T(Div);
        });
  }
}

/// Indices may be nullptr (MaxPool without its second result).
template <class T>
MOTE_RT_KERNEL void max_pool(const PoolP &P, const T *X, T *Y,
                             int64_t *Indices = nullptr) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  if (detail::forEachTiledPlane(
          P, X,
          [&](int32_t Pl, int32_t O, T Best, int32_t Off) MOTE_RT_LAMBDA {
            Y[Pl * OutSize + O] = Best;
            if (Indices)
              Indices[Pl * OutSize + O] =
                  int64_t(Pl) * InSize + Off / P.In[2] * P.IndexStrides[1] +
                  Off % P.In[2] * P.IndexStrides[2];
          }))
    return;
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const T *XP = X + Pl * InSize;
    const int32_t YBase = Pl * OutSize;
    detail::forEachPoolWindow(
        P, [&](int32_t O, const detail::PoolWindow &Wn) MOTE_RT_LAMBDA {
          int32_t Off, Index;
          Y[YBase + O] = detail::windowMax(P, XP, Wn, Off, Index);
          if (Indices)
            Indices[YBase + O] =
                Off < 0 ? int64_t(-1) : int64_t(Pl) * InSize + Index;
        });
  }
}

template <class T>
MOTE_RT_KERNEL void global_avg_pool(const GlobalPoolP &P, const T *X, T *Y) {
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const T *XP = X + Pl * P.Size;
    T Sum = T(0);
    int32_t I = 0;
#if MOTE_RT_SIMD
    // A host with float vectors: one partial sum per lane, the lanes added
    // at the end (as rowsDot does: another order of the same terms). One
    // sum in order waits on each add before the next: a keyword-spotting
    // step spent 8% of its time here.
    if constexpr (IsSameType<T, float>) {
      detail::VecF Part{};
      for (; I + detail::VecLanes <= P.Size; I += detail::VecLanes)
        Part += detail::loadVec(XP + I);
      detail::addLaneSums<1>(&Part, &Sum);
    }
#endif
    for (; I < P.Size; ++I)
      Sum += XP[I];
    Y[Pl] = Sum / T(P.Size);
  }
}

/// dX (the shape of X) from dY and X: each dY goes to the maximum max_pool
/// selects in its window.
template <class T>
MOTE_RT_KERNEL void max_pool_grad(const PoolP &P, const T *DY, const T *X,
                                  T *DX) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  fill(DX, T(0), P.Planes * InSize);
  if (detail::forEachTiledPlane(
          P, X, [&](int32_t Pl, int32_t O, T, int32_t Off) MOTE_RT_LAMBDA {
            DX[Pl * InSize + Off] += DY[Pl * OutSize + O];
          }))
    return;
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const T *XP = X + Pl * InSize;
    const T *DYP = DY + Pl * OutSize;
    T *DXP = DX + Pl * InSize;
    detail::forEachPoolWindow(P, [&](int32_t O, const detail::PoolWindow &Wn)
                                     MOTE_RT_LAMBDA {
                                       int32_t Off, Index;
                                       detail::windowMax(P, XP, Wn, Off, Index);
                                       if (Off >= 0)
                                         DXP[Off] += DYP[O];
                                     });
  }
}

/// dX (the input shape) from dY: dY / divisor spread over each window.
template <class T>
MOTE_RT_KERNEL void avg_pool_grad(const PoolP &P, const T *DY, T *DX) {
  const int32_t InSize = P.In[0] * P.In[1] * P.In[2];
  const int32_t OutSize = P.Out[0] * P.Out[1] * P.Out[2];
  fill(DX, T(0), P.Planes * InSize);
  for (int32_t Pl = 0; Pl < P.Planes; ++Pl) {
    const T *DYP = DY + Pl * OutSize;
    T *DXP = DX + Pl * InSize;
    detail::forEachPoolWindow(
        P, [&](int32_t O, const detail::PoolWindow &Wn) MOTE_RT_LAMBDA {
          const int32_t Taps = detail::tapCount(Wn);
          if (Taps == 0)
            return;
          const int32_t Div =
              P.CountIncludePad ? detail::paddedWindowSize(P, Wn) : Taps;
          const T D = DYP[O] / T(Div);
          detail::forEachTap(P, Wn,
                             [&](int32_t Off, int32_t, int32_t, int32_t)
                                 MOTE_RT_LAMBDA {
                                   DXP[Off] += D;
                                   return true;
                                 });
        });
  }
}

} // namespace mote_rt

#endif // MOTE_RT_POOL_H
