//===- qlinear_neon.h - NEON integer convolution and product ----*- C++ -*-===//
//
// QConv and QMatMul on AArch64 NEON (Armv8.0-A, e.g. the Cortex-A72: no
// dot-product instructions), included by mote_rt/qlinear.h only, which
// calls qconvVector / qmatmulVector first and its own loops when they
// return false.
//
// Every operand is widened to int16 with its zero point taken off on the
// way (SSUBL/USUBL: x - zx and w - zw lie in [-255, 255] when the zero
// points are values of their types, which is checked), and the products
// are SMLAL by element: int16 x int16 -> int32, exact, added to int32
// lanes modulo 2^32. So each lane holds sum (x - zx)(w - zw) modulo 2^32
// started at the channel's Start (qlinear.h's channel()): the very sum
// qlinear.h's loops take, in another order, which qlinear.h's file comment
// shows does not change it. Padding is a 0 in the widened input ((zx - zx)
// w = 0). No correction terms are needed.
//
// The epilogue is qlinear.h's finish() lane by lane (finishOther), except
// for a block of channels that are all Fast (channel()'s own test, taken
// four channels at a time by blockEpi), whose finishFast has a vector
// form that is the same function: with K = 2^(N-1) + zy 2^N (channel()),
// ((floor(a m / 2^32) + K) >> N) is floor(a m / 2^32) shifted right by N
// rounding half up, plus zy. SQDMULH gives h = floor(2 a m / 2^32) (it
// saturates only for a = m = INT32_MIN; Fast channels have m > 0), and
// SRSHL by -(N + 1) gives floor((h + 2^N) / 2^(N+1)), the same value
// (requant4). Adding zy and the clamp take saturating steps that are
// exact where vectorClamp allows them (putRequant).
//
// Blocking: convolutions vectorize along the output positions of a row (8
// or 4 lanes), a block of 8 or 4 output channels sharing each input
// vector (the weights packed as int16 per tap on the stack, one lane per
// output channel), or two output rows of one channel (depthwise); inputs
// other than pointwise ones are first copied, widened and zero-padded,
// into rows on the stack (buildRows). QMatMul vectorizes along the
// columns of B (contiguous), four (two, one) rows of A sharing each row of
// B. Blocks that do not divide a size overlap the one before (the same
// outputs are computed and stored twice), or, below the block size, read
// through a zero-padded copy and store only the outputs that exist.
//
// Fallbacks (false): zero points outside their types, 3-D convolutions
// but pointwise ones, strides other than 1 or 2 along W (but for one
// output column), and shapes whose stack buffers would exceed InCap or
// WCap (the input rows of one output row, more than 1024 taps per output
// channel, a depthwise kernel of more than 64 taps).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_QLINEAR_NEON_H
#define MOTE_RT_QLINEAR_NEON_H

#include <arm_neon.h>

#define MOTE_RT_QLINEAR_VECTOR 1

namespace mote_rt {
namespace qlinear_detail {
namespace neon {

/// The int16 elements of the stack buffers: the widened input rows of a
/// band of output rows, and the packed weights of a block of channels.
inline constexpr int32_t InCap = 8192, WCap = 8192;

/// Whether Z is a value of T, so that x - Z fits in int16 for any x of T.
template <class T> MOTE_RT_INLINE bool inRange(int32_t Z) {
  if constexpr (IsSignedInt<T>)
    return Z >= -128 && Z <= 127;
  else
    return Z >= 0 && Z <= 255;
}

/// Eight 8-bit lanes of T: loads, and the widening subtraction of a zero
/// point (exact in int16 for zero points of T).
template <class T> struct Bytes;
template <> struct Bytes<int8_t> {
  using V = int8x8_t;
  static MOTE_RT_INLINE V dup(int32_t Z) { return vdup_n_s8(int8_t(Z)); }
  static MOTE_RT_INLINE V load(const int8_t *P) { return vld1_s8(P); }
  static MOTE_RT_INLINE V fromWord(uint32_t W) {
    return vreinterpret_s8_u32(vdup_n_u32(W));
  }
  static MOTE_RT_INLINE int16x8_t sub(V X, V Z) { return vsubl_s8(X, Z); }
};
template <> struct Bytes<uint8_t> {
  using V = uint8x8_t;
  static MOTE_RT_INLINE V dup(int32_t Z) { return vdup_n_u8(uint8_t(Z)); }
  static MOTE_RT_INLINE V load(const uint8_t *P) { return vld1_u8(P); }
  static MOTE_RT_INLINE V fromWord(uint32_t W) {
    return vreinterpret_u8_u32(vdup_n_u32(W));
  }
  static MOTE_RT_INLINE int16x8_t sub(V X, V Z) {
    return vreinterpretq_s16_u16(vsubl_u8(X, Z));
  }
};

/// Lanes [0, L) of the L (8 or 4) values of T at P minus Z, as int16; Z
/// holds the zero point of each lane. Only the first N < L values are read
/// when Partial (the other lanes are then 0 - Z, never stored).
template <int L, bool Partial = false, class T>
MOTE_RT_INLINE int16x8_t widen(const T *P, typename Bytes<T>::V Z,
                               int32_t N = L) {
  using Bt = Bytes<T>;
  if constexpr (Partial) {
    T Tmp[8] = {};
    for (int32_t I = 0; I < N && I < L; ++I)
      Tmp[I] = P[I];
    return Bt::sub(Bt::load(Tmp), Z);
  } else if constexpr (L == 8) {
    return Bt::sub(Bt::load(P), Z);
  } else {
    uint32_t W;
    __builtin_memcpy(&W, P, 4);
    return Bt::sub(Bt::fromWord(W), Z);
  }
}

/// Unrolls the loop after it twice (clang; a loop-carried overhead of three
/// instructions against the 19 of a pointwise step).
#if defined(__clang__)
#define MOTE_RT_NEON_UNROLL2 _Pragma("clang loop unroll_count(2)")
#else
#define MOTE_RT_NEON_UNROLL2
#endif

/// I as a constant expression: forIdx's argument.
template <int I> struct Idx { static constexpr int V = I; };

/// F(Idx<0>()), ..., F(Idx<N-1>()): lane numbers the intrinsics need as
/// constants.
template <int N, class Fn> MOTE_RT_INLINE void forIdx(Fn F) {
  if constexpr (N > 0) {
    forIdx<N - 1>(F);
    F(Idx<N - 1>());
  }
}

/// L lanes of sums as int32x4 vectors.
template <int L> struct Acc { int32x4_t V[L / 4]; };

/// Acc += X * S[Lane]: the L (8 or 4) int16 lanes of X times lane Lane of
/// S (an int16x8 holding a value per output channel or per row).
template <int L, int Lane>
MOTE_RT_INLINE void macLane(Acc<L> &A, int16x8_t X, int16x8_t S) {
  A.V[0] = vmlal_laneq_s16(A.V[0], vget_low_s16(X), S, Lane);
  if constexpr (L == 8)
    A.V[1] = vmlal_high_laneq_s16(A.V[1], X, S, Lane);
}

/// Acc += X * S (a scalar).
template <int L>
MOTE_RT_INLINE void macScalar(Acc<L> &A, int16x8_t X, int16_t S) {
  A.V[0] = vmlal_n_s16(A.V[0], vget_low_s16(X), S);
  if constexpr (L == 8)
    A.V[1] = vmlal_high_n_s16(A.V[1], X, S);
}

/// Acc's lanes all Start.
template <int L> MOTE_RT_INLINE void init(Acc<L> &A, uint32_t Start) {
  for (int I = 0; I < L / 4; ++I)
    A.V[I] = vdupq_n_s32(int32_t(Start));
}

/// How the outputs of a block of channels (or of columns) are finished:
/// the vector form of finishFast, every channel being Fast; addSat of the
/// bias (int32 results, no requantization: finish() without its tests);
/// or finish().
enum class Mode { Requant, Raw, Scalar };

/// Whether Q's clamp and output zero point let the vector form of
/// finishFast finish TY outputs (see putRequant).
template <class TY> MOTE_RT_INLINE bool vectorClamp(const RequantP &Q) {
  if (!Q.Requant || Q.YMin > Q.YMax)
    return false;
  if constexpr (sizeof(TY) == 1) {
    constexpr int32_t Lo = IsSignedInt<TY> ? -128 : 0;
    constexpr int32_t Hi = IsSignedInt<TY> ? 127 : 255;
    return Q.YMin >= Lo && Q.YMax <= Hi && Q.YZeroPoint >= -256 &&
           Q.YZeroPoint <= 256;
  }
  return true;
}

/// The epilogue of a block of NL channels (a multiple of 4): the Mode and,
/// per channel, the sums' Start and, for Mode::Requant, the multiplier M
/// and the shift Sh = -(N + 1) (see putRequant); for the others the
/// Channel and (Mode::Raw) the bias added.
template <int NL> struct BlockEpi {
  Mode Md;
  int32_t M[NL], Sh[NL], Start[NL], Bias[NL];
  Channel E[NL];
};

/// Four consecutive entries of T from C0 (NC of them exist, the others
/// repeat entry C0), or 0s when T is null.
MOTE_RT_INLINE int32x4_t load4Entries(const int32_t *T, int32_t C0,
                                      int32_t NC) {
  if (!T)
    return vdupq_n_s32(0);
  if (NC >= 4)
    return vld1q_s32(T + C0);
  int32_t V[4];
  for (int J = 0; J < 4; ++J)
    V[J] = T[C0 + (J < NC ? J : 0)];
  return vld1q_s32(V);
}

/// BE for channels C0 .. C0+NL-1 of sums of Taps products (lanes from NC
/// on repeat channel C0, their outputs never stored).
///
/// Mode::Requant needs every channel Fast by channel()'s own test, taken
/// here four channels at a time: S >= 33 (N = S - 32 >= 1), M > 0, M not a
/// multiple of 2^N (ctz(M) < N), |K| = 2^(N-1) |1 + 2 zy| <= 2^30 (N <=
/// NMax, below) and Taps * 65025 + |bias| <= INT32_MAX. Otherwise each
/// channel's Channel comes from channel().
template <class TY, int NL>
MOTE_RT_INLINE void blockEpi(const RequantP &Q, const int32_t *Bias,
                             int32_t Taps, int32_t C0, int32_t NC,
                             BlockEpi<NL> &BE) {
  static_assert(NL % 4 == 0, "whole vectors of channels");
  bool Vec = vectorClamp<TY>(Q);
  const int64_t BMax = int64_t(INT32_MAX) - int64_t(Taps) * 65025;
  Vec = Vec && BMax >= 0;
  if (Vec) {
    const int64_t Odd = 1 + 2 * int64_t(Q.YZeroPoint);
    const int64_t AbsOdd = Odd < 0 ? -Odd : Odd;
    int32_t NMax = 0;
    for (int32_t N = 1; N <= 30; ++N)
      if ((int64_t(1) << (N - 1)) * AbsOdd <= (int64_t(1) << 30))
        NMax = N;
    const int32x4_t One = vdupq_n_s32(1);
    for (int I = 0; I < NL; I += 4) {
      const int32_t Have = NC - I > 0 ? NC - I : 0;
      const int32_t First = Have > 0 ? C0 + I : C0;
      const int32x4_t M = load4Entries(Q.Multiplier, First, Have ? Have : 1);
      const int32x4_t S = load4Entries(Q.Shift, First, Have ? Have : 1);
      const int32x4_t B = load4Entries(Bias, First, Have ? Have : 1);
      const int32x4_t N = vsubq_s32(S, vdupq_n_s32(32));
      uint32x4_t Ok = vcgeq_s32(N, One);
      Ok = vandq_u32(Ok, vcleq_s32(N, vdupq_n_s32(NMax)));
      Ok = vandq_u32(Ok, vcgtq_s32(M, vdupq_n_s32(0)));
      Ok = vandq_u32(Ok, vtstq_s32(M, vsubq_s32(vshlq_s32(One, N), One)));
      Ok = vandq_u32(Ok, vcleq_s32(vqabsq_s32(B), vdupq_n_s32(int32_t(BMax))));
      Vec = Vec && vminvq_u32(Ok) == 0xFFFFFFFFu;
      vst1q_s32(BE.M + I, M);
      vst1q_s32(BE.Sh + I, vsubq_s32(vdupq_n_s32(31), S));
      vst1q_s32(BE.Start + I, B);
    }
  }
  if (Vec) {
    BE.Md = Mode::Requant;
    return;
  }
  BE.Md = !Q.Requant && sizeof(TY) == 4 ? Mode::Raw : Mode::Scalar;
  for (int J = 0; J < NL; ++J) {
    BE.E[J] = channel(Q, C0 + (J < NC ? J : 0), Bias, Taps);
    BE.Start[J] = int32_t(BE.E[J].Start);
    BE.Bias[J] = BE.E[J].Bias;
    BE.M[J] = BE.Sh[J] = 0;
  }
}

/// finishFast before the output zero point and the clamp, for four lanes
/// of a Fast channel's sums A: ((floor(A M / 2^32) + K) >> N) - zy with K =
/// 2^(N-1) + zy 2^N is floor(A M / 2^32) shifted right by N rounding half
/// up, and that is SRSHL by -(N + 1) of SQDMULH's floor(2 A M / 2^32)
/// (floor((h + 2^N) / 2^(N+1)) with h = floor(2 A M / 2^32); SRSHL adds
/// and shifts without overflow).
MOTE_RT_INLINE int32x4_t requant4(int32x4_t A, int32x4_t M, int32x4_t Sh) {
  return vrshlq_s32(vqdmulhq_s32(A, M), Sh);
}

/// Stores lanes [0, N) (N <= L) of R (requant4's values) as TY: plus zy,
/// clamped to [YMin, YMax]. For 8-bit TY (vectorClamp: YMin <= YMax in
/// TY's range, |zy| <= 256) saturating to int16, adding zy saturating and
/// saturating to TY is the same as adding zy exactly and saturating (the
/// saturations are monotone; a value saturated to int16 stays outside TY's
/// range after adding zy), and clamping after is the clamp.
template <class TY, int L>
MOTE_RT_INLINE void putRequant(const RequantP &Q, const Acc<L> &R, TY *Y,
                               int32_t N) {
  TY Tmp[L];
  TY *D = N < L ? Tmp : Y;
  if constexpr (sizeof(TY) == 4) {
    for (int I = 0; I < L / 4; ++I) {
      int32x4_t V = vaddq_s32(R.V[I], vdupq_n_s32(Q.YZeroPoint));
      V = vminq_s32(vmaxq_s32(V, vdupq_n_s32(Q.YMin)), vdupq_n_s32(Q.YMax));
      vst1q_s32(reinterpret_cast<int32_t *>(D) + 4 * I, V);
    }
  } else {
    int16x8_t H = vcombine_s16(vqmovn_s32(R.V[0]),
                               L == 8 ? vqmovn_s32(R.V[L / 8]) : vdup_n_s16(0));
    H = vqaddq_s16(H, vdupq_n_s16(int16_t(Q.YZeroPoint)));
    uint8x8_t B;
    if constexpr (IsSignedInt<TY>) {
      int8x8_t S = vqmovn_s16(H);
      S = vmin_s8(vmax_s8(S, vdup_n_s8(int8_t(Q.YMin))),
                  vdup_n_s8(int8_t(Q.YMax)));
      B = vreinterpret_u8_s8(S);
    } else {
      B = vqmovun_s16(H);
      B = vmin_u8(vmax_u8(B, vdup_n_u8(uint8_t(Q.YMin))),
                  vdup_n_u8(uint8_t(Q.YMax)));
    }
    if constexpr (L == 8) {
      vst1_u8(reinterpret_cast<uint8_t *>(D), B);
    } else {
      const uint32_t W = vget_lane_u32(vreinterpret_u32_u8(B), 0);
      __builtin_memcpy(D, &W, 4);
    }
  }
  for (int32_t I = 0; I < N && N < L; ++I)
    Y[I] = Tmp[I];
}

/// The outputs of lanes [0, N) of sums T (started at their BE.Start) when
/// BE.Md is not Mode::Requant: lane I is channel J0 + I * JStep of BE. BE
/// is read through a pointer the compiler cannot follow: the usual block
/// takes Mode::Requant, and clang hoisted this path's loads of the
/// Channels in front of the vector loops (or, out of line, kept registers
/// free across the call).
template <class TY, int NL>
MOTE_RT_INLINE void finishOther(const RequantP &Q, const BlockEpi<NL> &BE,
                                int32_t J0, int32_t JStep, const int32_t *T,
                                TY *Y, int32_t N) {
  const BlockEpi<NL> *BP = &BE;
  __asm__("" : "+r"(BP));
  for (int32_t I = 0; I < N; ++I) {
    const int32_t J = J0 + I * JStep;
    if (sizeof(TY) == 4 && BP->Md == Mode::Raw)
      Y[I] = TY(addSat(T[I], BP->Bias[J]));
    else
      Y[I] = finish<TY>(Q, BP->E[J], uint32_t(T[I]));
  }
}

/// finishOther for the L lanes of A, N of them stored.
template <class TY, int L, int NL>
MOTE_RT_INLINE void finishOtherLanes(const RequantP &Q, const BlockEpi<NL> &BE,
                                     int32_t J0, int32_t JStep, const Acc<L> &A,
                                     TY *Y, int32_t N) {
  int32_t T[L];
  for (int I = 0; I < L / 4; ++I)
    vst1q_s32(T + 4 * I, A.V[I]);
  finishOther<TY, NL>(Q, BE, J0, JStep, T, Y, N < L ? N : L);
}

/// F(Start, Size) over blocks of 8 and then 4 covering [0, Total): the
/// last, if 8 or 4 do not divide Total, overlapping the one before it, or
/// (Total < 4) one block of 4 with Size = Total. One call of each size
/// (F is inlined at each).
template <class Fn> MOTE_RT_INLINE void blocks84(int32_t Total, Fn F) {
  int32_t I = 0;
  for (; I + 8 <= Total; I += 8)
    F.template operator()<8>(I, 8);
  while (I < Total) { // at most twice
    const int32_t S = I + 4 <= Total ? I : Total >= 4 ? Total - 4 : 0;
    F.template operator()<4>(S, Total - S < 4 ? Total - S : 4);
    I = S + 4;
  }
}

/// The weights of output channels M0 .. M0+NB-1 (NB <= MB) packed for
/// macLane: WP[t * MB + b] = w[M0 + b][t] - Zw[M0 + b] for tap t < Taps,
/// 0 for b >= NB.
template <int MB, class TW>
MOTE_RT_INLINE void packWeights(const RequantP &Q, const TW *W, int32_t Taps,
                                int32_t M0, int32_t NB, int16_t *WP) {
  for (int B = 0; B < MB; ++B) {
    if (B >= NB) {
      for (int32_t T = 0; T < Taps; ++T)
        WP[T * MB + B] = 0;
      continue;
    }
    const TW *WM = W + (M0 + B) * Taps;
    const int32_t Zw = Q.WZeroPoint[M0 + B];
    for (int32_t T = 0; T < Taps; ++T)
      WP[T * MB + B] = int16_t(int32_t(WM[T]) - Zw);
  }
}

/// The MB (8 or 4) packed weights of one tap at WT, a lane each.
template <int MB> MOTE_RT_INLINE int16x8_t packedLanes(const int16_t *WT) {
  if constexpr (MB == 8)
    return vld1q_s16(WT);
  else
    return vcombine_s16(vld1_s16(WT), vdup_n_s16(0));
}

/// Loads the tap vector of L lanes at P for input stride S (1 or 2) along
/// the row; Off the tap's column offset (even offsets and odd ones share
/// an LD2).
template <int L, int S>
MOTE_RT_INLINE int16x8_t rowLanes(const int16_t *P, int32_t Off) {
  if constexpr (S == 1) {
    if constexpr (L == 8)
      return vld1q_s16(P + Off);
    else
      return vcombine_s16(vld1_s16(P + Off), vdup_n_s16(0));
  } else {
    if constexpr (L == 8) {
      const int16x8x2_t T = vld2q_s16(P + (Off & ~1));
      return (Off & 1) ? T.val[1] : T.val[0];
    } else {
      const int16x4x2_t T = vld2_s16(P + (Off & ~1));
      return vcombine_s16((Off & 1) ? T.val[1] : T.val[0], vdup_n_s16(0));
    }
  }
}

/// Rows [R0, R0 + Rows) of the input plane XC (In1 x In2) widened (x - Zx)
/// into Dst, Wp int16 per row (a multiple of 8): column j is input column
/// j - P2, 0 outside the input, and so are rows outside it. Dst has 8
/// elements of room past its last row.
template <class TX>
MOTE_RT_INLINE void buildRows(const TX *XC, int32_t In1, int32_t In2,
                              int32_t P2, int32_t R0, int32_t Rows, int32_t Wp,
                              int32_t Zx, int16_t *Dst) {
  using Bt = Bytes<TX>;
  const typename Bt::V Z = Bt::dup(Zx);
  const int16x8_t Zero = vdupq_n_s16(0);
  const int32_t J0 = P2 < Wp ? P2 : Wp;
  const int32_t J1 = P2 + In2 < Wp ? P2 + In2 : Wp;
  for (int32_t R = 0; R < Rows; ++R) {
    int16_t *D = Dst + R * Wp;
    const int32_t IH = R0 + R;
    if (IH < 0 || IH >= In1 || J1 <= J0) {
      for (int32_t J = 0; J < Wp; J += 8)
        vst1q_s16(D + J, Zero);
      continue;
    }
    // Zeros left and right first (the stores may run into the columns of
    // input, written next, or past the row, written later).
    for (int32_t J = 0; J < J0; J += 8)
      vst1q_s16(D + J, Zero);
    for (int32_t J = J1; J < Wp; J += 8)
      vst1q_s16(D + J, Zero);
    const TX *XR = XC + IH * In2; // XR[j - P2]: column j (J0 = P2 here)
    int32_t J = J0;
    if (J1 - J0 >= 8) {
      for (; J + 8 <= J1; J += 8)
        vst1q_s16(D + J, Bt::sub(Bt::load(XR + (J - P2)), Z));
      if (J < J1) {
        J = J1 - 8;
        vst1q_s16(D + J, Bt::sub(Bt::load(XR + (J - P2)), Z));
      }
    } else {
      for (; J < J1; ++J)
        D[J] = int16_t(int32_t(XR[J - P2]) - Zx);
    }
  }
}

/// Output channels M0 .. M0+NB-1 (NB <= MB) of positions [P0, P0 + NP) of
/// an output row (NP <= L): Acc[b] summed by Sums, then finished into
/// YM + b * OutPlane + P0 (only the channels and positions that exist).
template <int MB, int L, class TY, int NL, class SumsFn>
MOTE_RT_INLINE void blockOut(const RequantP &Q, const BlockEpi<NL> &BE,
                             int32_t NB, TY *YM, int32_t OutPlane, int32_t P0,
                             int32_t NP, SumsFn Sums) {
  Acc<L> A[MB];
  for (int B = 0; B < MB; ++B)
    init(A[B], uint32_t(BE.Start[B]));
  Sums(A);
  if (BE.Md == Mode::Requant) {
    forIdx<MB>([&](auto BI) MOTE_RT_LAMBDA {
      constexpr int B = decltype(BI)::V;
      if (B < NB) {
        const int32x4_t M = vdupq_n_s32(BE.M[B]), Sh = vdupq_n_s32(BE.Sh[B]);
        Acc<L> R;
        for (int I = 0; I < L / 4; ++I)
          R.V[I] = requant4(A[B].V[I], M, Sh);
        putRequant<TY, L>(Q, R, YM + B * OutPlane + P0, NP);
      }
    });
    return;
  }
  forIdx<MB>([&](auto BI) MOTE_RT_LAMBDA {
    constexpr int B = decltype(BI)::V;
    if (B < NB)
      finishOtherLanes<TY, L>(Q, BE, B, 0, A[B], YM + B * OutPlane + P0, NP);
  });
}

/// A pointwise convolution (1x1 kernel, unit strides, no padding): per
/// group, the product of the weights [MPG, CPG] and the input planes [CPG,
/// Plane]. Blocks of 8 (then 4) channels by 8 (then 4) positions; each
/// input vector (8 positions of one input channel) feeds the block's
/// channels, one SMLAL pair each.
template <class TX, class TW, class TY>
MOTE_RT_INLINE bool pointwise(const QConvP &P, const TX *X, const TW *W,
                              const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const int32_t Plane = G.Out[0] * G.Out[1] * G.Out[2], CPG = G.CPerGroup;
  if (CPG * 8 > WCap)
    return false;
  using Bt = Bytes<TX>;
  const typename Bt::V Zx = Bt::dup(Q.XZeroPoint);
  alignas(16) int16_t WP[WCap];
  for (int32_t Grp = 0; Grp < G.Group; ++Grp)
    blocks84(G.MPerGroup, [&]<int MB>(int32_t MI, int32_t NB) MOTE_RT_LAMBDA {
      const int32_t M0 = Grp * G.MPerGroup + MI;
      packWeights<MB>(Q, W, CPG, M0, NB, WP);
      BlockEpi<MB> CB;
      blockEpi<TY, MB>(Q, B, CPG, M0, NB, CB);
      for (int32_t N = 0; N < G.Batch; ++N) {
        const TX *XG = X + (N * G.C + Grp * CPG) * Plane;
        TY *YM = Y + (N * G.M + M0) * Plane;
        blocks84(Plane, [&]<int L>(int32_t P0, int32_t NP) MOTE_RT_LAMBDA {
          blockOut<MB, L>(
              Q, CB, NB, YM, Plane, P0, NP, [&](Acc<L> *A) MOTE_RT_LAMBDA {
                const TX *XC = XG + P0;
                const int16_t *WC = WP;
                MOTE_RT_NEON_UNROLL2
                for (int32_t C = 0; C < CPG; ++C, XC += Plane, WC += MB) {
                  int16x8_t XV;
                  if (L == 4 && NP < L)
                    XV = widen<4, true>(XC, Zx, NP);
                  else
                    XV = widen<L>(XC, Zx);
                  const int16x8_t WV = packedLanes<MB>(WC);
                  forIdx<MB>([&](auto BI) MOTE_RT_LAMBDA {
                    macLane<L, decltype(BI)::V>(A[decltype(BI)::V], XV, WV);
                  });
                }
              });
        });
      }
    });
  return true;
}

/// The geometry of a 2-D convolution over rows copied by buildRows: Wp
/// columns per row; bands of BandOut output rows, each from BandIn input
/// rows of each input channel of a group.
struct RowPlan {
  int32_t Wp, BandOut, BandIn;
};

/// The RowPlan of G for Channels input channels per buffer, Extra input
/// rows of room left past each band, or false when not even one output row
/// fits in InCap.
MOTE_RT_INLINE bool rowPlan(const ConvP &G, int32_t Channels, int32_t Extra,
                            RowPlan &RP) {
  const int32_t Out2 = G.Out[2] < 4 ? 4 : G.Out[2];
  RP.Wp = (Out2 * G.Strides[2] + (G.Kernel[2] - 1) * G.Dilations[2] + 7) & ~7;
  const int32_t Span = (G.Kernel[1] - 1) * G.Dilations[1] + 1;
  const int32_t MaxIn = InCap / (Channels * RP.Wp) - Extra;
  if (MaxIn < Span)
    return false;
  RP.BandOut = (MaxIn - Span) / G.Strides[1] + 1;
  RP.BandOut = RP.BandOut > G.Out[1] ? G.Out[1] : RP.BandOut;
  RP.BandIn = (RP.BandOut - 1) * G.Strides[1] + Span + Extra;
  return true;
}

/// Acc[b] += the sums of a block of MB output channels (weights WB, packed)
/// at L positions of an output row whose first window's rows start at XR
/// (in the copied rows of buildRows, ChanRows apart per input channel):
/// per tap, one input vector for all the channels.
template <int MB, int L, int S2>
MOTE_RT_INLINE void denseSums(const ConvP &G, const int16_t *XR,
                              int32_t ChanRows, int32_t Wp, const int16_t *WB,
                              Acc<L> *A) {
  const int32_t KH = G.Kernel[1], KW = G.Kernel[2];
  const int32_t D1 = G.Dilations[1], D2 = G.Dilations[2];
  const int16_t *WT = WB;
  for (int32_t C = 0; C < G.CPerGroup; ++C)
    for (int32_t H = 0; H < KH; ++H) {
      const int16_t *XT = XR + C * ChanRows + H * D1 * Wp;
      for (int32_t K = 0; K < KW; ++K, WT += MB) {
        const int16x8_t XV = rowLanes<L, S2>(XT, K * D2);
        const int16x8_t WV = packedLanes<MB>(WT);
        forIdx<MB>([&](auto BI) MOTE_RT_LAMBDA {
          macLane<L, decltype(BI)::V>(A[decltype(BI)::V], XV, WV);
        });
      }
    }
}

/// A 2-D convolution, not depthwise: blocks of 8 (then 4) output channels
/// by 8 (then 4) positions of an output row; per image and band of output
/// rows, the group's input rows copied once (buildRows), then per tap one
/// input vector feeds the block's channels. The weights of all the blocks
/// of a group are packed once when they fit in WCap together, else each
/// block's for each band. Kernel rows over the padding read zero rows.
template <int S2, class TX, class TW, class TY>
MOTE_RT_INLINE bool dense(const QConvP &P, const TX *X, const TW *W,
                          const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const int32_t CPG = G.CPerGroup, Taps = CPG * KPlane;
  const int32_t KH = G.Kernel[1], S1 = G.Strides[1], D1 = G.Dilations[1];
  RowPlan RP;
  if (Taps * 8 > WCap || !rowPlan(G, CPG, 0, RP))
    return false;
  const int32_t Wp = RP.Wp, ChanRows = RP.BandIn * Wp;
  // The packed weights of the group's blocks (at most 8 channels each).
  const bool AllFit = (G.MPerGroup + 7) / 8 * 8 * Taps <= WCap;
  alignas(16) int16_t WP[WCap];
  alignas(16) int16_t XB[InCap + 8];
  for (int32_t Grp = 0; Grp < G.Group; ++Grp)
    for (int32_t N = 0; N < G.Batch; ++N) {
      const TX *XG = X + (N * G.C + Grp * CPG) * InPlane;
      for (int32_t OH0 = 0; OH0 < G.Out[1]; OH0 += RP.BandOut) {
        const int32_t R0 = OH0 * S1 - G.PadBegin[1];
        const int32_t OH1 =
            OH0 + RP.BandOut < G.Out[1] ? OH0 + RP.BandOut : G.Out[1];
        const int32_t Rows = (OH1 - 1 - OH0) * S1 + (KH - 1) * D1 + 1;
        for (int32_t C = 0; C < CPG; ++C)
          buildRows(XG + C * InPlane, G.In[1], G.In[2], G.PadBegin[2], R0, Rows,
                    Wp, Q.XZeroPoint, XB + C * ChanRows);
        const bool Pack = !AllFit || (N == 0 && OH0 == 0);
        int32_t WOff = 0;
        blocks84(
            G.MPerGroup, [&]<int MB>(int32_t MI, int32_t NB) MOTE_RT_LAMBDA {
              const int32_t M0 = Grp * G.MPerGroup + MI;
              int16_t *WB = WP + (AllFit ? WOff : 0);
              WOff += Taps * MB;
              if (Pack)
                packWeights<MB>(Q, W, Taps, M0, NB, WB);
              BlockEpi<MB> CB;
              blockEpi<TY, MB>(Q, B, Taps, M0, NB, CB);
              TY *YM = Y + (N * G.M + M0) * OutPlane;
              for (int32_t OH = OH0; OH < OH1; ++OH) {
                const int16_t *XR = XB + (OH - OH0) * S1 * Wp;
                blocks84(G.Out[2], [&]<int L>(int32_t P0,
                                              int32_t NP) MOTE_RT_LAMBDA {
                  blockOut<MB, L>(Q, CB, NB, YM + OH * G.Out[2], OutPlane, P0,
                                  NP, [&](Acc<L> *A) MOTE_RT_LAMBDA {
                                    denseSums<MB, L, S2>(G, XR + P0 * S2,
                                                         ChanRows, Wp, WB, A);
                                  });
                });
              }
            });
      }
    }
  return true;
}

/// The most taps of a depthwise kernel (its weights live in a local array).
inline constexpr int32_t MaxDepthwiseTaps = 64;

/// A 2-D depthwise convolution (one input and one output channel per
/// group): per channel and band of output rows, the channel's input rows
/// copied (buildRows), then NR output rows by 8 (then 4) positions at a
/// time, one SMLAL pair per tap and row. NR = 2 at stride 1 along H,
/// where the two rows share all but one kernel row of loads; a band of an
/// odd number of rows then computes one row past its end from the room
/// rowPlan leaves (zero rows or the input's next), not stored. K3: the
/// kernel is 3x3 (its taps unrolled, so that the loads are shared).
template <int S2, bool K3, int NR, class TX, class TW, class TY>
MOTE_RT_INLINE bool depthwise(const QConvP &P, const TX *X, const TW *W,
                              const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  const RequantP &Q = P.Q;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const int32_t KH = G.Kernel[1], KW = G.Kernel[2], Out2 = G.Out[2];
  const int32_t S1 = G.Strides[1], D1 = G.Dilations[1], D2 = G.Dilations[2];
  RowPlan RP;
  if (KPlane > MaxDepthwiseTaps || !rowPlan(G, 1, (NR - 1) * S1, RP))
    return false;
  const int32_t Wp = RP.Wp;
  alignas(16) int16_t XB[InCap + 8];
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t M = 0; M < G.M; ++M) {
      int16_t WT[MaxDepthwiseTaps];
      const int32_t Zw = Q.WZeroPoint[M];
      for (int32_t T = 0; T < KPlane; ++T)
        WT[T] = int16_t(int32_t(W[M * KPlane + T]) - Zw);
      BlockEpi<4> CB; // lane 1 (a second row) repeats lane 0
      blockEpi<TY, 4>(Q, B, KPlane, M, 1, CB);
      const TX *XC = X + (N * G.C + M) * InPlane;
      TY *YM = Y + (N * G.M + M) * OutPlane;
      for (int32_t OH0 = 0; OH0 < G.Out[1]; OH0 += RP.BandOut) {
        const int32_t R0 = OH0 * S1 - G.PadBegin[1];
        const int32_t OH1 =
            OH0 + RP.BandOut < G.Out[1] ? OH0 + RP.BandOut : G.Out[1];
        const int32_t Rows = (OH1 - OH0 - 2 + NR) * S1 + (KH - 1) * D1 + 1;
        buildRows(XC, G.In[1], G.In[2], G.PadBegin[2], R0, Rows, Wp,
                  Q.XZeroPoint, XB);
        for (int32_t OH = OH0; OH < OH1; OH += NR) {
          const int16_t *XR = XB + (OH - OH0) * S1 * Wp;
          const int32_t NB = OH + 1 < OH1 ? NR : 1;
          blocks84(Out2, [&]<int L>(int32_t P0, int32_t NP) MOTE_RT_LAMBDA {
            blockOut<NR, L>(
                Q, CB, NB, YM + OH * Out2, Out2, P0, NP,
                [&](Acc<L> *A) MOTE_RT_LAMBDA {
                  auto Tap = [&](int32_t H, int32_t K) MOTE_RT_LAMBDA {
                    const int16_t *XT = XR + H * D1 * Wp + P0 * S2;
                    const int16_t WK = WT[H * KW + K];
                    macScalar(A[0], rowLanes<L, S2>(XT, K * D2), WK);
                    if constexpr (NR == 2)
                      macScalar(A[1], rowLanes<L, S2>(XT + S1 * Wp, K * D2),
                                WK);
                  };
                  if constexpr (K3) {
                    forIdx<3>([&](auto HI) MOTE_RT_LAMBDA {
                      forIdx<3>([&](auto KI) MOTE_RT_LAMBDA {
                        Tap(decltype(HI)::V, decltype(KI)::V);
                      });
                    });
                  } else {
                    for (int32_t H = 0; H < KH; ++H)
                      for (int32_t K = 0; K < KW; ++K)
                        Tap(H, K);
                  }
                });
          });
        }
      }
    }
  return true;
}

/// depthwise for G's stride along H and kernel.
template <int S2, class TX, class TW, class TY>
MOTE_RT_INLINE bool depthwiseAny(const QConvP &P, const TX *X, const TW *W,
                                 const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  if (G.Kernel[1] == 3 && G.Kernel[2] == 3 && G.Strides[1] == 1)
    return depthwise<S2, true, 2>(P, X, W, B, Y);
  return depthwise<S2, false, 1>(P, X, W, B, Y);
}

/// One product of QMatMul: Y [M, N] from A [M, K] and B [K, N]. Blocks of
/// 8 (then 4) columns by 4 rows (then 2, then 1); eight k at a time,
/// each row of A widened once (a lane per k) and each row of B (a lane
/// per column) feeding the block's rows, one SMLAL (pair) each.
template <class TA, class TB, class TY>
MOTE_RT_INLINE void matmulOne(const QMatMulP &P, const TA *A, const TB *B,
                              const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  const RequantP &Q = P.Q;
  const int32_t K = G.K, NN = G.N;
  using BtA = Bytes<TA>;
  using BtB = Bytes<TB>;
  const typename BtA::V Za = BtA::dup(Q.XZeroPoint);
  blocks84(NN, [&]<int L>(int32_t N0, int32_t NC) MOTE_RT_LAMBDA {
    BlockEpi<L> BE;
    blockEpi<TY, L>(Q, Bias, K, N0, NC, BE);
    int32x4_t Start[L / 4], MV[L / 4], Sh[L / 4];
    for (int I = 0; I < L / 4; ++I) {
      Start[I] = vld1q_s32(BE.Start + 4 * I);
      MV[I] = vld1q_s32(BE.M + 4 * I);
      Sh[I] = vld1q_s32(BE.Sh + 4 * I);
    }
    TB ZB[8] = {};
    for (int J = 0; J < L; ++J)
      ZB[J] = TB(Q.WZeroPoint[N0 + (J < NC ? J : 0)]);
    const typename BtB::V Zb = BtB::load(ZB);
    auto Rows = [&]<int R>(int32_t R0) MOTE_RT_LAMBDA {
      Acc<L> S[R];
      for (int I = 0; I < R; ++I)
        for (int J = 0; J < L / 4; ++J)
          S[I].V[J] = Start[J];
      const TA *AR = A + R0 * K;
      const TB *BK = B + N0;
      auto Step = [&](const int16x8_t *AV, auto JI) MOTE_RT_LAMBDA {
        constexpr int J = decltype(JI)::V;
        const TB *BR = BK + J * NN;
        int16x8_t BV8;
        if (L == 4 && NC < L)
          BV8 = widen<4, true>(BR, Zb, NC);
        else
          BV8 = widen<L>(BR, Zb);
        forIdx<R>([&](auto RI) MOTE_RT_LAMBDA {
          constexpr int I = decltype(RI)::V;
          macLane<L, J>(S[I], BV8, AV[I]);
        });
      };
      int32_t K0 = 0;
      for (; K0 + 8 <= K; K0 += 8, BK += 8 * NN) {
        int16x8_t AV[R];
        for (int I = 0; I < R; ++I)
          AV[I] = widen<8>(AR + I * K + K0, Za);
        forIdx<8>([&](auto JI) MOTE_RT_LAMBDA { Step(AV, JI); });
      }
      if (K0 < K) {
        const int32_t Rem = K - K0;
        int16x8_t AV[R];
        for (int I = 0; I < R; ++I)
          AV[I] = widen<8, true>(AR + I * K + K0, Za, Rem);
        forIdx<8>([&](auto JI) MOTE_RT_LAMBDA {
          if (decltype(JI)::V < Rem)
            Step(AV, JI);
        });
      }
      for (int I = 0; I < R; ++I) {
        TY *YR = Y + (R0 + I) * NN + N0;
        if (BE.Md == Mode::Requant) {
          Acc<L> V;
          for (int J = 0; J < L / 4; ++J)
            V.V[J] = requant4(S[I].V[J], MV[J], Sh[J]);
          putRequant<TY, L>(Q, V, YR, NC);
        } else {
          finishOtherLanes<TY, L>(Q, BE, 0, 1, S[I], YR, NC);
        }
      }
    };
    int32_t R0 = 0;
    for (; R0 + 4 <= G.M; R0 += 4)
      Rows.template operator()<4>(R0);
    if (R0 + 2 <= G.M) {
      Rows.template operator()<2>(R0);
      R0 += 2;
    }
    if (R0 < G.M)
      Rows.template operator()<1>(R0);
  });
}

} // namespace neon

/// qconv on NEON where it applies (see the file comment): true when Y is
/// computed.
template <class TX, class TW, class TY>
MOTE_RT_INLINE bool qconvVector(const QConvP &P, const TX *X, const TW *W,
                                const int32_t *B, TY *Y) {
  const ConvP &G = P.Conv;
  if (!neon::inRange<TX>(P.Q.XZeroPoint))
    return false;
  for (int32_t M = 0; M < G.M; ++M)
    if (!neon::inRange<TW>(P.Q.WZeroPoint[M]))
      return false;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  if (KPlane == 1 && InPlane == OutPlane && G.Strides[0] == 1 &&
      G.Strides[1] == 1 && G.Strides[2] == 1)
    return neon::pointwise(P, X, W, B, Y);
  // 2-D (or 1-D): one input and one output plane along D.
  if (G.In[0] != 1 || G.Kernel[0] != 1 || G.Out[0] != 1 || G.PadBegin[0] != 0)
    return false;
  const bool Depthwise = G.CPerGroup == 1 && G.MPerGroup == 1;
  if (G.Strides[2] == 1 || G.Out[2] == 1) // one position: lane 0 only
    return Depthwise ? neon::depthwiseAny<1>(P, X, W, B, Y)
                     : neon::dense<1>(P, X, W, B, Y);
  if (G.Strides[2] == 2)
    return Depthwise ? neon::depthwiseAny<2>(P, X, W, B, Y)
                     : neon::dense<2>(P, X, W, B, Y);
  return false;
}

/// qmatmul on NEON (see the file comment): true when Y is computed.
template <class TA, class TB, class TY>
MOTE_RT_INLINE bool qmatmulVector(const QMatMulP &P, const TA *A, const TB *B,
                                  const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  if (!neon::inRange<TA>(P.Q.XZeroPoint))
    return false;
  for (int32_t N = 0; N < G.N; ++N)
    if (!neon::inRange<TB>(P.Q.WZeroPoint[N]))
      return false;
  const int32_t MN = G.M * G.N;
  forEachBroadcast(G.Rank, G.Dims, G.SA, G.SB,
                   [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
                     neon::matmulOne(P, A + OA, B + OB, Bias, Y + I * MN);
                   });
  return true;
}

} // namespace qlinear_detail
} // namespace mote_rt

#endif // MOTE_RT_QLINEAR_NEON_H
