//===- window.h - Sliding-window index helpers (conv, pooling) -*- C++ -*-===//
//
// Conv, the pooling ops and their backward ops slide a window over the
// spatial dims of an [N, C, D, H, W] tensor. Their lowerings pass the window
// geometry resolved at compile time (compiler/ops/nn/NnLower.h): 1-D and 2-D
// operands arrive as 3-D ones with leading spatial dims of size 1 (kernel 1,
// stride 1, no padding), so every kernel loops over exactly three spatial
// dims and the compiler folds the dims of size 1 away.
//
// Along one spatial dim with input size I, kernel k, stride s, dilation d
// and begin padding p, output position o reads the input positions
// o * s - p + t * d for the taps t in [0, k); a tap outside [0, I) reads
// nothing (zero padding for Conv, skipped for pooling). The helpers below
// give the range of taps inside the input for one output position, and the
// range of output positions whose tap t is inside the input.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_WINDOW_H
#define MOTE_RT_WINDOW_H

#include "mote_rt/core.h"

namespace mote_rt {

/// Number of spatial dims the windowed kernels loop over.
inline constexpr int WindowRank = 3;

namespace detail {

/// Ceiling of A / B for B > 0 and A >= 0.
MOTE_RT_INLINE int32_t ceilDiv(int32_t A, int32_t B) { return (A + B - 1) / B; }

/// Range [Lo, Hi) of the taps of the window at output position \p O of
/// spatial dim \p D of \p P that lie inside the input; \p Start receives the
/// input position of tap 0. Output positions in [InteriorBegin,
/// InteriorEnd) have all taps inside and take no division.
template <class P>
MOTE_RT_INLINE void tapRange(const P &Prm, int32_t D, int32_t O, int32_t &Lo,
                             int32_t &Hi, int32_t &Start) {
  Start = O * Prm.Strides[D] - Prm.PadBegin[D];
  if (O >= Prm.InteriorBegin[D] && O < Prm.InteriorEnd[D]) {
    Lo = 0;
    Hi = Prm.Kernel[D];
    return;
  }
  int32_t Dil = Prm.Dilations[D];
  Lo = Start >= 0 ? 0 : ceilDiv(-Start, Dil);
  int32_t Room = Prm.In[D] - Start;
  Hi = Room <= 0 ? 0 : ceilDiv(Room, Dil);
  if (Hi > Prm.Kernel[D])
    Hi = Prm.Kernel[D];
  if (Hi < Lo)
    Hi = Lo;
}

/// Range [Lo, Hi) of the output positions of spatial dim \p D of \p P whose
/// tap \p T lies inside the input; \p Start receives the input position that
/// tap reads for output position 0 (possibly negative).
template <class P>
MOTE_RT_INLINE void outRange(const P &Prm, int32_t D, int32_t T, int32_t &Lo,
                             int32_t &Hi, int32_t &Start) {
  int32_t S = Prm.Strides[D];
  Start = T * Prm.Dilations[D] - Prm.PadBegin[D];
  Lo = Start >= 0 ? 0 : ceilDiv(-Start, S);
  int32_t Room = Prm.In[D] - Start;
  Hi = Room <= 0 ? 0 : ceilDiv(Room, S);
  if (Hi > Prm.Out[D])
    Hi = Prm.Out[D];
  if (Hi < Lo)
    Hi = Lo;
}

} // namespace detail
} // namespace mote_rt

#endif // MOTE_RT_WINDOW_H
