//===- qlinear_mve.h - Helium (MVE) qconv and qmatmul -----------*- C++ -*-===//
//
// The Helium (M-profile vector extension, Cortex-M55) kernels of qconv and
// qmatmul (mote_rt/qlinear.h includes this file and calls qconvVector /
// qmatmulVector first; false leaves the call to its SMLAD kernels):
//
//  - a panel product for every convolution but the depthwise 3x3 ones, and
//    for qmatmul: the operand that is not contiguous along the reduction
//    (the input's positions, im2col for a kernel larger than 1x1; b's
//    columns) is copied once into a stack panel, one row of bytes per
//    position (column), in the order of the other operand (the weights'
//    [C/group, KD, KH, KW]; a's k). Then VMLADAVA.S8 adds 16 products of
//    two rows to a sum, in blocks of two channels by two positions (four
//    sums in registers); a sums' buffer feeds a four-lane epilogue. For
//    im2col the input planes are first staged with their padding (Zx) so
//    that a tap of eight positions is one load and one scatter; with few
//    channels the packed weights and the blocks' epilogue constants are
//    found once per call.
//  - depthwise 3x3 convolutions (any strides and padding): the positions of
//    an output row in the lanes of a vector, int32 lanes, each tap one
//    VMLA by the weight (a scalar), from a copy of the plane with its
//    padding; two output rows per pass share their input rows.
//
// Stack: up to about 7.5 KB (three 2 KB buffers, the blocks' constants).
//
// Bit-exactness: every sum is taken modulo 2^32 (VMLADAVA and VMLA wrap
// like the portable loops' uint32 sums), so by the argument of qlinear.h's
// file comment the order of the terms does not matter; x is read as is
// and each sum starts at the bias minus Zx times the weights' sum (as in
// qconvRows3), taps outside the input read Zx. A uint8 operand multiplied
// by int8 weights is read as x - 128 (its byte XOR 0x80, an int8), its zero
// point as Zx - 128: sum (x - Zx) w is unchanged. The epilogue is channel()'s
// constants: a Fast channel's finishFast in four lanes (VMULH.S32 is hi =
// floor(a m / 2^32), then + K, an arithmetic shift right by N and the
// clamp), any other channel through finish() lane by lane.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_QLINEAR_MVE_H
#define MOTE_RT_QLINEAR_MVE_H

#include <arm_mve.h>

#define MOTE_RT_QLINEAR_VECTOR

namespace mote_rt {
namespace qlinear_detail {

/// The bytes of a panel on the stack (qconvPanel, qmatmulPanel; four
/// packed weight rows or b columns must fit: at most a quarter of this
/// many taps or k, rounded up to 16). Also qconvDepthwise3's padded plane.
inline constexpr int32_t MvePanelBytes = 2048;

/// qconvVector's scratch: qconvPanel's panel, packed weights and staged
/// planes (the last read 16 bytes at a time), qconvDepthwise3's padded
/// plane.
inline constexpr int32_t MveScratchBytes = 3 * MvePanelBytes + 16;

/// A bool as a type, for lambdas specialized on it.
template <bool B> struct BoolConstant { static constexpr bool value = B; };

/// transposePanel and im2colPanel (the unstaged im2col): called once per
/// panel, kept out of line so that they share one body across layers (the
/// bench layers measured no slower; stagePlanes and im2colStaged inline
/// measured faster).
#define MOTE_RT_MVE_OUTLINE inline __attribute__((noinline))

/// Whether T is uint8_t (read as x - 128 by the panel kernels).
template <class T>
inline constexpr bool IsU8 = sizeof(T) == 1 && !IsSignedInt<T>;

//===----------------------------------------------------------------------===//
// Epilogue
//===----------------------------------------------------------------------===//

/// The clamp of finishFast<TY> as [Lo, Hi] (for 8-bit TY clamp32's
/// saturation folded in); false when the bounds are empty (the kernels then
/// leave the call to qlinear.h).
template <class TY>
MOTE_RT_INLINE bool clampBounds(const RequantP &Q, int32_t &Lo, int32_t &Hi) {
  Lo = Q.YMin;
  Hi = Q.YMax;
  if (!Q.Requant)
    return true;
  if constexpr (sizeof(TY) == 1) {
    constexpr int32_t TLo = IsSignedInt<TY> ? -128 : 0;
    constexpr int32_t THi = IsSignedInt<TY> ? 127 : 255;
    Lo = Lo < TLo ? TLo : Lo;
    Hi = Hi > THi ? THi : Hi;
  }
  return Lo <= Hi;
}

/// Four lanes of finishFast's constants: M, K and -N.
struct Lanes {
  int32x4_t M, K, NegN;
};

/// finishFast's requantization of four sums: (floor(a M / 2^32) + K) >> N,
/// clamped to [Lo, Hi].
MOTE_RT_INLINE int32x4_t requant4(int32x4_t A, const Lanes &L, int32x4_t Lo,
                                  int32x4_t Hi) {
  A = vshlq_s32(vaddq_s32(vmulhq_s32(A, L.M), L.K), L.NegN);
  return vminq_s32(vmaxq_s32(A, Lo), Hi);
}

/// Stores the lanes of V selected by Pr (all with Full) at Y (contiguous)
/// as TY (the low byte of each lane for an 8-bit TY).
template <class TY, bool Full = false>
MOTE_RT_INLINE void store4(TY *Y, int32x4_t V, mve_pred16_t Pr) {
  if constexpr (sizeof(TY) == 1 && Full)
    vstrbq_s32(reinterpret_cast<int8_t *>(Y), V);
  else if constexpr (sizeof(TY) == 1)
    vstrbq_p_s32(reinterpret_cast<int8_t *>(Y), V, Pr);
  else if constexpr (Full)
    vstrwq_s32(reinterpret_cast<int32_t *>(Y), V);
  else
    vstrwq_p_s32(reinterpret_cast<int32_t *>(Y), V, Pr);
}

/// Stores the lanes of V selected by Pr (all with Full) at Y[Off[i]] as
/// TY.
template <class TY, bool Full = false>
MOTE_RT_INLINE void scatter4(TY *Y, uint32x4_t Off, int32x4_t V,
                             mve_pred16_t Pr) {
  int8_t *Y8 = reinterpret_cast<int8_t *>(Y);
  int32_t *Y32 = reinterpret_cast<int32_t *>(Y);
  if constexpr (sizeof(TY) == 1 && Full)
    vstrbq_scatter_offset_s32(Y8, Off, V);
  else if constexpr (sizeof(TY) == 1)
    vstrbq_scatter_offset_p_s32(Y8, Off, V, Pr);
  else if constexpr (Full)
    vstrwq_scatter_shifted_offset_s32(Y32, Off, V);
  else
    vstrwq_scatter_shifted_offset_p_s32(Y32, Off, V, Pr);
}

//===----------------------------------------------------------------------===//
// Panel products (VMLADAVA.S8)
//
// A panel holds rows of Tp bytes (the taps of a position, the k of a
// column; Tp a multiple of 16) interleaved G at a time by 16 bytes: byte t
// of row r is at (r / G) * G * Tp + (t / 16) * 16 * G + (r % G) * 16 +
// t % 16, so the G rows of a block are read through one pointer. Positions
// are interleaved by two, channels (packed weight rows, b's columns) by
// four.
//===----------------------------------------------------------------------===//

/// The offsets in a panel of rows interleaved G at a time (Tp bytes each)
/// of the eight rows First + i, from the start of First's group.
template <int G>
MOTE_RT_INLINE uint16x8_t laneOffsets(int32_t First, int32_t Tp) {
  static_assert(G == 2 || G == 4, "two or four rows per group");
  const uint16x8_t J =
      vaddq_n_u16(vidupq_n_u16(0, 1), uint16_t(First & (G - 1)));
  const uint16x8_t Group = vshrq_n_u16(J, G == 2 ? 1 : 2);
  const uint16x8_t Lane = vandq_u16(J, vdupq_n_u16(G - 1));
  return vaddq_u16(vmulq_n_u16(Group, uint16_t(G * Tp)), vshlq_n_u16(Lane, 4));
}

/// The offset of byte T of the rows of a group.
template <int G> MOTE_RT_INLINE int32_t tapOffset(int32_t T) {
  return (T >> 4) * 16 * G + (T & 15);
}

/// Eight 8-bit values at P (lanes of Pr, the others 0; all with Full) in
/// 16-bit lanes, uint8 as x - 128 in the low byte.
template <bool Full = false, class T>
MOTE_RT_INLINE int16x8_t load8(const T *P, mve_pred16_t Pr) {
  if constexpr (IsU8<T>) {
    const uint16x8_t V = Full ? vldrbq_u16(P) : vldrbq_z_u16(P, Pr);
    return vreinterpretq_s16_u16(veorq_u16(V, vdupq_n_u16(0x80)));
  } else {
    return Full ? vldrbq_s16(P) : vldrbq_z_s16(P, Pr);
  }
}

/// Stores the low bytes of the lanes of V selected by Pr (all with Full)
/// at P[Off[i]].
template <bool Full>
MOTE_RT_INLINE void scatter8(int8_t *P, uint16x8_t Off, int16x8_t V,
                             mve_pred16_t Pr) {
  if constexpr (Full)
    vstrbq_scatter_offset_s16(P, Off, V);
  else
    vstrbq_scatter_offset_p_s16(P, Off, V, Pr);
}

/// The 8-bit values at P[Off[i]] for the lanes of Pr (the others 0) in
/// 16-bit lanes, uint8 as x - 128 in the low byte.
template <class T>
MOTE_RT_INLINE int16x8_t gather8(const T *P, uint16x8_t Off, mve_pred16_t Pr) {
  if constexpr (IsU8<T>)
    return vreinterpretq_s16_u16(
        veorq_u16(vldrbq_gather_offset_z_u16(P, Off, Pr), vdupq_n_u16(0x80)));
  else
    return vldrbq_gather_offset_z_s16(P, Off, Pr);
}

/// Rows [0, NP) of a panel interleaved G at a time: row p's byte r is
/// X0[r * Ld + p] for r < Rows, as int8 (uint8 as x - 128), 0 for r in
/// [Rows, Tp): the transpose of a block of rows (a pointwise convolution's
/// input planes, b's rows), eight bytes per scatter.
template <int G, class T>
MOTE_RT_MVE_OUTLINE void transposePanel(const T *X0, int32_t Ld, int32_t Rows,
                                        int32_t NP, int8_t *XT, int32_t Tp) {
  const uint16x8_t Off = laneOffsets<G>(0, Tp);
  for (int32_t P = 0; P < NP; P += 8) {
    // Eight positions (no predicate) or the last few.
    auto Block = [&](auto Full) MOTE_RT_LAMBDA {
      constexpr bool F = decltype(Full)::value;
      const mve_pred16_t Pr = vctp16q(uint32_t(NP - P));
      const T *XC = X0 + P;
      int8_t *TB = XT + P * Tp; // P is a multiple of G
      for (int32_t R16 = 0; R16 < Tp; R16 += 16, TB += 16 * G) {
        const int32_t N16 = Rows - R16 < 16 ? Rows - R16 : 16;
        int32_t J = 0;
        for (; J < N16; ++J, XC += Ld)
          scatter8<F>(TB + J, Off, load8<F>(XC, Pr), Pr);
        for (; J < 16; ++J)
          scatter8<F>(TB + J, Off, vdupq_n_s16(0), Pr);
      }
    };
    if (NP - P >= 8)
      Block(BoolConstant<true>());
    else
      Block(BoolConstant<false>());
  }
}

/// Rows [0, NP) of a panel of positions (interleaved two at a time): row
/// p's byte t is x(t, P0 + p) as int8, for the output positions from P0 (in
/// order of D, H, W) and the taps t of their windows (in order of channel,
/// D, H, W: the weights' order); a tap outside the input reads Zx (as
/// int8); bytes [Taps, Tp) are left as they are. The im2col of a panel,
/// eight positions of an output row per scatter. XG is the group's first
/// input channel.
template <class TX>
MOTE_RT_MVE_OUTLINE void im2colPanel(const ConvP &G, const TX *XG,
                                     int32_t InPlane, int32_t P0, int32_t NP,
                                     int8_t *XT, int32_t Tp, int32_t Zx) {
  const int32_t In2 = G.In[2], Out1 = G.Out[1], Out2 = G.Out[2];
  const int32_t S2 = G.Strides[2], Dil2 = G.Dilations[2], Pad2 = G.PadBegin[2];
  const int32_t Span2 = (G.Kernel[2] - 1) * Dil2;
  const uint16x8_t Cols0 = vmulq_n_u16(vidupq_n_u16(0, 1), uint16_t(S2));
  const uint16x8_t InV = vdupq_n_u16(uint16_t(In2));
  const int16x8_t ZxV = vdupq_n_s16(int16_t(Zx));
  for (int32_t P = 0; P < NP;) {
    const int32_t Pos = P0 + P, Row = Pos / Out2, OW0 = Pos - Row * Out2;
    const int32_t Seg = Out2 - OW0 < NP - P ? Out2 - OW0 : NP - P;
    const int32_t D0 = Row / Out1 * G.Strides[0] - G.PadBegin[0];
    const int32_t H0 = Row % Out1 * G.Strides[1] - G.PadBegin[1];
    for (int32_t I = 0; I < Seg; I += 8) {
      const int32_t Lanes = Seg - I < 8 ? Seg - I : 8;
      const mve_pred16_t Pr = vctp16q(uint32_t(Lanes));
      const uint16x8_t Off = laneOffsets<2>(P + I, Tp);
      int8_t *TB = XT + ((P + I) >> 1) * 2 * Tp;
      const int32_t C0 = (OW0 + I) * S2 - Pad2; // lane 0's first column
      // Every lane's window inside the row along W.
      const bool InW = C0 >= 0 && C0 + (Lanes - 1) * S2 + Span2 < In2;
      int32_t T = 0;
      for (int32_t C = 0; C < G.CPerGroup; ++C)
        for (int32_t KD = 0; KD < G.Kernel[0]; ++KD) {
          const int32_t ID = D0 + KD * G.Dilations[0];
          for (int32_t KH = 0; KH < G.Kernel[1]; ++KH) {
            const int32_t IH = H0 + KH * G.Dilations[1];
            const bool Inside =
                ID >= 0 && ID < G.In[0] && IH >= 0 && IH < G.In[1];
            const TX *XR =
                Inside ? XG + C * InPlane + (ID * G.In[1] + IH) * In2 : XG;
            for (int32_t KW = 0; KW < G.Kernel[2]; ++KW, ++T) {
              int16x8_t V = ZxV;
              if (Inside && InW) {
                const TX *XP = XR + C0 + KW * Dil2;
                V = S2 == 1 ? load8(XP, Pr) : gather8(XP, Cols0, Pr);
              } else if (Inside) {
                // Column c of lane i; c < In2 unsigned (negative c wraps).
                const uint16x8_t Cols =
                    vaddq_n_u16(Cols0, uint16_t(C0 + KW * Dil2));
                const mve_pred16_t In = vcmphiq_m_u16(InV, Cols, Pr);
                V = vpselq_s16(gather8(XR, Cols, In), ZxV, In);
              }
              vstrbq_scatter_offset_p_s16(TB + tapOffset<2>(T), Off, V, Pr);
            }
          }
        }
    }
    P += Seg;
  }
}

/// The geometry of a group's input planes staged for im2colStaged (2-D and
/// 1-D convolutions: one output plane along D, no padding along D): per
/// channel Hq rows of Wq bytes from input row -PadBegin[1] and column
/// -PadBegin[2], Zx outside the input, as int8 (uint8 as x - 128), wide
/// enough for every tap of every window and the eight positions a vector
/// reads from any output position; Fits when they fit in MvePanelBytes.
struct Staging {
  int32_t Wq, Hq;
  bool Fits;
};
MOTE_RT_INLINE Staging staging(const ConvP &G) {
  Staging St;
  St.Wq =
      (G.Out[2] + 6) * G.Strides[2] + (G.Kernel[2] - 1) * G.Dilations[2] + 1;
  St.Hq =
      (G.Out[1] - 1) * G.Strides[1] + (G.Kernel[1] - 1) * G.Dilations[1] + 1;
  St.Fits = G.Out[0] == 1 && G.Kernel[0] == 1 && G.PadBegin[0] == 0 &&
            G.CPerGroup * St.Hq * St.Wq <= MvePanelBytes;
  return St;
}

/// Stages the group's input planes XG into SB (see Staging); with Fill,
/// first every byte of SB is Zx (later calls rewrite only the bytes
/// inside the input).
template <class TX>
MOTE_RT_INLINE void stagePlanes(const ConvP &G, const Staging &St, const TX *XG,
                                int32_t InPlane, int8_t *SB, int32_t Zx,
                                bool Fill) {
  const int32_t Plane = St.Hq * St.Wq;
  if (Fill)
    for (int32_t I = 0; I < G.CPerGroup * Plane; I += 16)
      vstrbq_s8(SB + I, vdupq_n_s8(int8_t(Zx)));
  const int32_t Pad1 = G.PadBegin[1], Pad2 = G.PadBegin[2];
  const int32_t NCopy = G.In[2] < St.Wq - Pad2 ? G.In[2] : St.Wq - Pad2;
  const int32_t Rows = G.In[1] < St.Hq - Pad1 ? G.In[1] : St.Hq - Pad1;
  for (int32_t C = 0; C < G.CPerGroup; ++C)
    for (int32_t R = 0; R < Rows; ++R) {
      const int8_t *Src =
          reinterpret_cast<const int8_t *>(XG + C * InPlane + R * G.In[2]);
      int8_t *Dst = SB + C * Plane + (R + Pad1) * St.Wq + Pad2;
      for (int32_t I = 0; I < NCopy; I += 16) {
        const mve_pred16_t Pr = vctp8q(uint32_t(NCopy - I));
        int8x16_t V = vldrbq_z_s8(Src + I, Pr);
        if constexpr (IsU8<TX>)
          V = veorq_s8(V, vdupq_n_s8(-128));
        vstrbq_p_s8(Dst + I, V, Pr);
      }
    }
}

/// im2colPanel from staged planes SB: no tap outside, one load (a gather
/// for strides past 1) and one scatter per eight positions and tap.
MOTE_RT_INLINE void im2colStaged(const ConvP &G, const Staging &St,
                                 const int8_t *SB, int32_t P0, int32_t NP,
                                 int8_t *XT, int32_t Tp) {
  const int32_t Out2 = G.Out[2], S2 = G.Strides[2], Wq = St.Wq;
  const int32_t Plane = St.Hq * Wq, RowStep = G.Dilations[1] * Wq,
                Dil2 = G.Dilations[2];
  const uint16x8_t Cols0 = vmulq_n_u16(vidupq_n_u16(0, 1), uint16_t(S2));
  for (int32_t P = 0; P < NP;) {
    const int32_t Pos = P0 + P, OH = Pos / Out2, OW0 = Pos - OH * Out2;
    const int32_t Seg = Out2 - OW0 < NP - P ? Out2 - OW0 : NP - P;
    for (int32_t I = 0; I < Seg; I += 8) {
      const mve_pred16_t Pr = vctp16q(uint32_t(Seg - I));
      const uint16x8_t Off = laneOffsets<2>(P + I, Tp);
      const int8_t *XB = SB + OH * G.Strides[1] * Wq + (OW0 + I) * S2;
      // Eight positions (no predicate on the stores) or the last few.
      auto Block = [&](auto Full) MOTE_RT_LAMBDA {
        constexpr bool F = decltype(Full)::value;
        int8_t *TD = XT + ((P + I) >> 1) * 2 * Tp; // tap T's byte
        int32_t Lane = 0;                          // T % 16
        for (int32_t C = 0; C < G.CPerGroup; ++C)
          for (int32_t KH = 0; KH < G.Kernel[1]; ++KH) {
            const int8_t *XR = XB + C * Plane + KH * RowStep;
            for (int32_t KW = 0; KW < G.Kernel[2]; ++KW) {
              const int8_t *XP = XR + KW * Dil2;
              const int16x8_t V = S2 == 1 ? vldrbq_s16(XP)
                                          : vldrbq_gather_offset_s16(XP, Cols0);
              scatter8<F>(TD, Off, V, Pr);
              ++TD;
              if (++Lane == 16) {
                Lane = 0;
                TD += 16;
              }
            }
          }
      };
      if (Seg - I >= 8)
        Block(BoolConstant<true>());
      else
        Block(BoolConstant<false>());
    }
    P += Seg;
  }
}

/// The epilogue of a block of four channels (lanes past the block's end
/// repeat its first channel).
struct Block4 {
  Channel E[4];
  uint32_t Start[4]; ///< where the sums start (the bias minus Zx sum w)
  int32x4_t StartV;
  Lanes L;
  bool Vector; ///< every channel Fast: the epilogue in four lanes
};

/// Block4 of channels C0 .. C0+NC-1 whose weights sum to WSum, for sums
/// of K products; Zx the other operand's zero point.
MOTE_RT_INLINE Block4 block4(const RequantP &Q, const int32_t *Bias, int32_t C0,
                             int32_t NC, int32x4_t WSum, int32_t K,
                             int32_t Zx) {
  Block4 Bk;
  int32_t M[4], Kc[4], NegN[4];
  Bk.Vector = true;
  for (int R = 0; R < 4; ++R) {
    Bk.E[R] = channel(Q, C0 + (R < NC ? R : 0), Bias, K);
    Bk.Vector = Bk.Vector && Bk.E[R].Fast;
    M[R] = Bk.E[R].M;
    Kc[R] = Bk.E[R].K;
    NegN[R] = -Bk.E[R].N;
    Bk.Start[R] = Bk.E[R].Start;
  }
  Bk.StartV = vsubq_s32(vldrwq_s32(reinterpret_cast<int32_t *>(Bk.Start)),
                        vmulq_n_s32(WSum, Zx));
  vstrwq_s32(reinterpret_cast<int32_t *>(Bk.Start), Bk.StartV);
  Bk.L = {vldrwq_s32(M), vldrwq_s32(Kc), vldrwq_s32(NegN)};
  return Bk;
}

/// The sums of the four rows of a group of a panel (interleaved by four,
/// Tp bytes each).
MOTE_RT_INLINE int32x4_t groupSums(const int8_t *Cp, int32_t Tp) {
  int32_t S[4] = {0, 0, 0, 0};
  for (int32_t I = 0; I < Tp; I += 16, Cp += 64)
    for (int R = 0; R < 4; ++R)
      S[R] = vaddvaq_s8(S[R], vldrbq_s8(Cp + 16 * R));
  return vldrwq_s32(S);
}

/// Rows[0..3] (K int8 each) as a group of a panel interleaved by four (Tp
/// bytes a row, 0 past K).
MOTE_RT_INLINE void packRows4(const int8_t *const (&Rows)[4], int32_t K,
                              int32_t Tp, int8_t *Cp) {
  for (int32_t I = 0; I < Tp; I += 16, Cp += 64) {
    const mve_pred16_t Pr = vctp8q(uint32_t(K - I));
    for (int R = 0; R < 4; ++R)
      vstrbq_s8(Cp + 16 * R, vldrbq_z_s8(Rows[R] + I, Pr));
  }
}

/// Out[p][r] = sum_{k < K} c_r[k] p_p[k] modulo 2^32 for rows r = 0, 1
/// at Cp (of a panel interleaved by four: chunks 64 bytes apart) and two
/// rows P0, P1 whose 16-byte chunks are PStep apart (interleaved
/// positions: P1 = P0 + 16, PStep 32; rows of a: PStep 16), 16 products
/// per VMLADAVA. With XorP, P's bytes are uint8, read as x - 128. With
/// Tail, the last K % 16 bytes of P are loaded predicated (nothing past K
/// is read; Cp's bytes there must be 0 when XorP); else K is a multiple of
/// 16. Four sums: GCC 12 keeps them in the even registers VMLADAVA needs
/// (eight it moves through odd ones and the stack).
template <bool XorP, bool Tail>
MOTE_RT_INLINE void dot2x2(const int8_t *Cp, const int8_t *P0, const int8_t *P1,
                           int32_t PStep, int32_t K, int32_t *Out0,
                           int32_t *Out1) {
  const int8x16_t Flip = vdupq_n_s8(-128);
  int32_t S00, S01, S10, S11;
  auto Flipped = [&](int8x16_t X)
                     MOTE_RT_LAMBDA { return XorP ? veorq_s8(X, Flip) : X; };
  auto First = [&](int8x16_t X0, int8x16_t X1) MOTE_RT_LAMBDA {
    X0 = Flipped(X0);
    X1 = Flipped(X1);
    const int8x16_t W0 = vldrbq_s8(Cp), W1 = vldrbq_s8(Cp + 16);
    Cp += 64;
    S00 = vmladavq_s8(W0, X0);
    S01 = vmladavq_s8(W0, X1);
    S10 = vmladavq_s8(W1, X0);
    S11 = vmladavq_s8(W1, X1);
  };
  auto Next = [&](int8x16_t X0, int8x16_t X1) MOTE_RT_LAMBDA {
    X0 = Flipped(X0);
    X1 = Flipped(X1);
    const int8x16_t W0 = vldrbq_s8(Cp), W1 = vldrbq_s8(Cp + 16);
    Cp += 64;
    S00 = vmladavaq_s8(S00, W0, X0);
    S01 = vmladavaq_s8(S01, W0, X1);
    S10 = vmladavaq_s8(S10, W1, X0);
    S11 = vmladavaq_s8(S11, W1, X1);
  };
  if (Tail && K < 16) {
    const mve_pred16_t Pr = vctp8q(uint32_t(K));
    First(vldrbq_z_s8(P0, Pr), vldrbq_z_s8(P1, Pr));
  } else {
    First(vldrbq_s8(P0), vldrbq_s8(P1));
    int32_t I = 16;
    P0 += PStep;
    P1 += PStep;
    for (; I + 16 <= K; I += 16, P0 += PStep, P1 += PStep)
      Next(vldrbq_s8(P0), vldrbq_s8(P1));
    if constexpr (Tail)
      if (I < K) {
        const mve_pred16_t Pr = vctp8q(uint32_t(K - I));
        Next(vldrbq_z_s8(P0, Pr), vldrbq_z_s8(P1, Pr));
      }
  }
  Out0[0] = S00;
  Out0[1] = S10;
  Out1[0] = S01;
  Out1[1] = S11;
}

/// Out[p][r] for the four rows of a group of a panel interleaved by four:
/// two dot2x2 (see there).
template <bool XorP, bool Tail>
MOTE_RT_INLINE void dot4x2(const int8_t *Cp, const int8_t *P0, const int8_t *P1,
                           int32_t PStep, int32_t K, int32_t (*Out)[4]) {
  dot2x2<XorP, Tail>(Cp, P0, P1, PStep, K, Out[0], Out[1]);
  dot2x2<XorP, Tail>(Cp + 32, P0, P1, PStep, K, Out[0] + 2, Out[1] + 2);
}

/// The four-lane epilogue of a block of channels (Block4's vector part).
struct BlockVec {
  int32x4_t Start;
  Lanes L;
  bool Vector;
};
MOTE_RT_INLINE BlockVec blockVec(const Block4 &Bk) {
  return {Bk.StartV, Bk.L, Bk.Vector};
}

/// The outputs of a block: channel r at position p (its sum Start[r] +
/// Acc[p][r]) to Y[p * PosStride + r * ChanStride] for r < NC and p < NP;
/// Off holds r * ChanStride (unused when Contig, ChanStride 1). In four
/// lanes when BV.Vector, else through finish() with the Block4 that
/// Slow() returns.
template <class TY, bool Contig, class SlowFn>
MOTE_RT_INLINE void
emitBlock(const RequantP &Q, const BlockVec &BV, SlowFn Slow, int32x4_t Lo,
          int32x4_t Hi, const int32_t (*Acc)[4], int32_t NC, int32_t NP, TY *Y,
          int32_t ChanStride, int32_t PosStride, uint32x4_t Off) {
  if (BV.Vector) {
    const mve_pred16_t Pr = vctp32q(uint32_t(NC));
    const int32x4_t Start = BV.Start;
    const Lanes L = BV.L;
    auto Run = [&](auto Full) MOTE_RT_LAMBDA {
      for (int32_t P = 0; P < NP; ++P, Y += PosStride) {
        int32x4_t V = vaddq_s32(vldrwq_s32(Acc[P]), Start);
        if (Q.Requant)
          V = requant4(V, L, Lo, Hi);
        if constexpr (Contig)
          store4<TY, decltype(Full)::value>(Y, V, Pr);
        else
          scatter4<TY, decltype(Full)::value>(Y, Off, V, Pr);
      }
    };
    if (NC == 4) // no predicate (VPST) per store
      Run(BoolConstant<true>());
    else
      Run(BoolConstant<false>());
    return;
  }
  const Block4 Bk = Slow();
  for (int32_t P = 0; P < NP; ++P)
    for (int32_t R = 0; R < NC; ++R)
      Y[P * PosStride + R * ChanStride] =
          finish<TY>(Q, Bk.E[R], Bk.Start[R] + uint32_t(Acc[P][R]));
}

/// The most blocks of four channels whose epilogue qconvPanel keeps for
/// the whole call.
inline constexpr int32_t MveMaxBlocks = 16;

/// Positions per epilogue run of the panel kernels (their sums' buffer).
inline constexpr int32_t MveRun = 16;

/// qconv through panels (see the file comment): int8 weights without zero
/// points, any geometry whose window has at most MvePanelBytes / 4 taps
/// (rounded up to 16).
template <class TX, class TW, class TY>
MOTE_RT_INLINE bool qconvPanel(const QConvP &P, const TX *X, const TW *W,
                               const int32_t *B, TY *Y, int8_t *Scratch) {
  const ConvP &G = P.Conv;
  const RequantP Q = P.Q; // a copy the stores to Y cannot alias
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  const int32_t Taps = G.CPerGroup * KPlane, Tp = (Taps + 15) & ~15;
  int32_t Lo, Hi;
  if (4 * Tp > MvePanelBytes || !clampBounds<TY>(Q, Lo, Hi))
    return false;
  const bool Pointwise = KPlane == 1 && InPlane == OutPlane &&
                         G.Strides[0] == 1 && G.Strides[1] == 1 &&
                         G.Strides[2] == 1;
  // Positions per panel: all, or a multiple of MveRun (of 2 if fewer);
  // the panel holds an even number of positions.
  const int32_t Cap = (MvePanelBytes / Tp) & ~1;
  const int32_t PP = Cap >= OutPlane ? OutPlane
                     : Cap < MveRun  ? Cap
                                     : Cap / MveRun * MveRun;
  const int32_t Zx = Q.XZeroPoint - (IsU8<TX> ? 128 : 0);
  const int32x4_t LoV = vdupq_n_s32(Lo), HiV = vdupq_n_s32(Hi);
  const uint32x4_t Off = vmulq_n_u32(vidupq_n_u32(0, 1), uint32_t(OutPlane));
  const int8_t *W8 = reinterpret_cast<const int8_t *>(W);
  int8_t *XT = Scratch, *Wp = Scratch + MvePanelBytes;
  const Staging St = staging(G);
  int8_t *SB = Scratch + 2 * MvePanelBytes; // staged planes (im2colStaged)
  alignas(16) int32_t Acc[MveRun][4];
  // Channels M0 .. M0+NC-1's weight rows packed at Dst (see packRows4).
  auto packRows = [&](int32_t M0, int32_t NC, int8_t *Dst) MOTE_RT_LAMBDA {
    const int8_t *const Rows[4] = {W8 + M0 * Taps, W8 + (M0 + (NC > 1)) * Taps,
                                   W8 + (M0 + (NC > 2) * 2) * Taps,
                                   W8 + (M0 + (NC > 3) * 3) * Taps};
    packRows4(Rows, Taps, Tp, Dst);
  };
  // With one group whose packed weights fit in Wp (and few blocks), the
  // weights are packed and the blocks' epilogues found once per call.
  const int32_t NBlk = (G.MPerGroup + 3) / 4;
  const bool Cached =
      G.Group == 1 && NBlk <= MveMaxBlocks && NBlk * 4 * Tp <= MvePanelBytes;
  BlockVec Cache[MveMaxBlocks];
  if (Cached)
    for (int32_t Blk = 0; Blk < NBlk; ++Blk) {
      const int32_t M0 = 4 * Blk, NC = G.M - M0 < 4 ? G.M - M0 : 4;
      int8_t *Cp = Wp + Blk * 4 * Tp;
      packRows(M0, NC, Cp);
      Cache[Blk] = blockVec(block4(Q, B, M0, NC, groupSums(Cp, Tp), Taps, Zx));
    }
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t Grp = 0; Grp < G.Group; ++Grp) {
      const TX *XG = X + (N * G.C + Grp * G.CPerGroup) * InPlane;
      const int32_t End = (Grp + 1) * G.MPerGroup;
      const bool Staged = !Pointwise && St.Fits;
      if (Staged)
        stagePlanes(G, St, XG, InPlane, SB, Zx, N == 0 && Grp == 0);
      for (int32_t P0 = 0; P0 < OutPlane; P0 += PP) {
        const int32_t NP = OutPlane - P0 < PP ? OutPlane - P0 : PP;
        if (Pointwise)
          transposePanel<2>(XG + P0, InPlane, G.CPerGroup, NP, XT, Tp);
        else if (Staged)
          im2colStaged(G, St, SB, P0, NP, XT, Tp);
        else
          im2colPanel(G, XG, InPlane, P0, NP, XT, Tp, Zx);
        for (int32_t M0 = Grp * G.MPerGroup; M0 < End; M0 += 4) {
          const int32_t NC = End - M0 < 4 ? End - M0 : 4;
          const int32_t Blk = (M0 - Grp * G.MPerGroup) >> 2;
          const int8_t *Cp = Cached ? Wp + Blk * 4 * Tp : Wp;
          BlockVec BV;
          if (Cached) {
            BV = Cache[Blk];
          } else {
            packRows(M0, NC, Wp);
            BV = blockVec(block4(Q, B, M0, NC, groupSums(Wp, Tp), Taps, Zx));
          }
          auto Slow = [&]() MOTE_RT_LAMBDA {
            return block4(Q, B, M0, NC, groupSums(Cp, Tp), Taps, Zx);
          };
          TY *YB = Y + (N * G.M + M0) * OutPlane + P0;
          for (int32_t R0 = 0; R0 < NP; R0 += MveRun) {
            const int32_t NR = NP - R0 < MveRun ? NP - R0 : MveRun;
            for (int32_t Pos = 0; Pos < NR; Pos += 2) {
              const int8_t *X0 = XT + (R0 + Pos) * Tp;
              dot4x2<false, false>(Cp, X0, X0 + 16, 32, Tp, Acc + Pos);
            }
            emitBlock<TY, false>(Q, BV, Slow, LoV, HiV, Acc, NC, NR, YB + R0,
                                 OutPlane, 1, Off);
          }
        }
      }
    }
  return true;
}

/// qmatmul through panels: b (int8, no zero points) transposed into a
/// panel of columns interleaved by four, blocks of four columns by two
/// rows of a.
template <class TA, class TB, class TY>
MOTE_RT_INLINE bool qmatmulPanel(const QMatMulP &P, const TA *A, const TB *B,
                                 const int32_t *Bias, TY *Y) {
  const MatMulP &G = P.Mm;
  const RequantP Q = P.Q;
  const int32_t Kp = (G.K + 15) & ~15;
  int32_t Lo, Hi;
  if (4 * Kp > MvePanelBytes || !clampBounds<TY>(Q, Lo, Hi) ||
      anyWeightZeroPoint(Q, G.N))
    return false;
  // Columns per panel: all, or a multiple of 4 (the panel holds a
  // multiple of 4).
  const int32_t Cap = (MvePanelBytes / Kp) & ~3;
  const int32_t NJ = Cap >= G.N ? G.N : Cap;
  const int32_t Za = Q.XZeroPoint - (IsU8<TA> ? 128 : 0);
  const int32_t MN = G.M * G.N;
  const int32x4_t LoV = vdupq_n_s32(Lo), HiV = vdupq_n_s32(Hi);
  const uint32x4_t Off = vidupq_n_u32(0, 1);
  const int8_t *A8 = reinterpret_cast<const int8_t *>(A);
  alignas(16) int8_t BT[MvePanelBytes];
  alignas(16) int32_t Acc[MveRun][4];
  int32_t Built = -1; // the offset of the b in BT when it holds all of it
  forEachBroadcast(
      G.Rank, G.Dims, G.SA, G.SB,
      [&](int32_t I, int32_t OA, int32_t OB) MOTE_RT_LAMBDA {
        for (int32_t J0 = 0; J0 < G.N; J0 += NJ) {
          const int32_t NJc = G.N - J0 < NJ ? G.N - J0 : NJ;
          if (NJ < G.N || Built != OB)
            transposePanel<4>(B + OB + J0, G.N, G.K, NJc, BT, Kp);
          Built = NJ < G.N ? -1 : OB;
          for (int32_t J = 0; J < NJc; J += 4) {
            const int32_t NC = NJc - J < 4 ? NJc - J : 4;
            const int8_t *Cp = BT + J * Kp;
            const Block4 Bk =
                block4(Q, Bias, J0 + J, NC, groupSums(Cp, Kp), G.K, Za);
            TY *YB = Y + I * MN + J0 + J;
            for (int32_t R0 = 0; R0 < G.M; R0 += MveRun) {
              const int32_t NR = G.M - R0 < MveRun ? G.M - R0 : MveRun;
              for (int32_t R = 0; R < NR; R += 2) {
                const int8_t *A0 = A8 + OA + (R0 + R) * G.K;
                dot4x2<IsU8<TA>, true>(Cp, A0, R + 1 < NR ? A0 + G.K : A0, 16,
                                       G.K, Acc + R);
              }
              emitBlock<TY, true>(
                  Q, blockVec(Bk), [&]() MOTE_RT_LAMBDA { return Bk; }, LoV,
                  HiV, Acc, NC, NR, YB + R0 * G.N, 1, G.N, Off);
            }
          }
        }
      });
  return true;
}

//===----------------------------------------------------------------------===//
// Depthwise 3x3 (VMLA by a scalar)
//===----------------------------------------------------------------------===//

/// The four 8-bit values at P widened to int32 lanes.
template <class T> MOTE_RT_INLINE int32x4_t load4x(const T *P) {
  if constexpr (IsSignedInt<T>)
    return vldrbq_s32(P);
  else
    return vreinterpretq_s32_u32(vldrbq_u32(P));
}

/// The 8-bit values at P[Off[i]] widened to int32 lanes.
template <class T>
MOTE_RT_INLINE int32x4_t gather4x(const T *P, uint32x4_t Off) {
  if constexpr (IsSignedInt<T>)
    return vldrbq_gather_offset_s32(P, Off);
  else
    return vreinterpretq_s32_u32(vldrbq_gather_offset_u32(P, Off));
}

/// A depthwise convolution with a 3x3 kernel (KD 1, no dilation; any
/// strides and padding; no weight zero points), four neighbouring output
/// positions of a row per vector, two output rows per pass. Each channel's
/// plane is first copied into a stack buffer whose padding (and the
/// columns the last vector reads past the row) holds Zx, so every window
/// has its nine taps inside the buffer: each sum starts at the bias minus
/// Zx times the channel's weight sum and each tap is one load (a gather
/// for strides past 1) and one VMLA by the weight.
template <class TX, class TW, class TY>
MOTE_RT_INLINE bool qconvDepthwise3(const QConvP &P, const TX *X, const TW *W,
                                    const int32_t *B, TY *Y, int8_t *Scratch) {
  const ConvP &G = P.Conv;
  const RequantP Q = P.Q;
  int32_t Lo, Hi;
  if (G.CPerGroup != 1 || G.MPerGroup != 1 || G.Kernel[0] != 1 ||
      G.Kernel[1] != 3 || G.Kernel[2] != 3 || G.Dilations[1] != 1 ||
      G.Dilations[2] != 1 || !clampBounds<TY>(Q, Lo, Hi))
    return false;
  const int32_t In1 = G.In[1], In2 = G.In[2];
  const int32_t Out1 = G.Out[1], Out2 = G.Out[2];
  const int32_t S1 = G.Strides[1], S2 = G.Strides[2];
  const int32_t Pad1 = G.PadBegin[1], Pad2 = G.PadBegin[2];
  // The buffer: Rp rows of Lp bytes, from input row -Pad1 and column
  // -Pad2, the columns of every vector of four positions.
  const int32_t Lp = ((Out2 + 3) / 4 * 4 - 1) * S2 + 3;
  const int32_t Rp = (Out1 + (Out1 & 1) - 1) * S1 + 3; // rows in pairs
  if (Lp * Rp > MvePanelBytes)
    return false;
  const auto [InPlane, OutPlane, KPlane] = planes(G);
  (void)KPlane;
  const int32_t Zx = Q.XZeroPoint;
  // The input columns [0, NCopy) go to the buffer.
  const int32_t NCopy = In2 < Lp - Pad2 ? In2 : Lp - Pad2;
  const uint32x4_t Cols0 = vmulq_n_u32(vidupq_n_u32(0, 1), uint32_t(S2));
  const int32x4_t LoV = vdupq_n_s32(Lo), HiV = vdupq_n_s32(Hi);
  const int8x16_t ZxBytes = vdupq_n_s8(int8_t(Zx));
  int8_t *Buf8 = Scratch; // filled 16 bytes at a time
  const TX *Buf = reinterpret_cast<const TX *>(Scratch);
  bool Filled = false;
  for (int32_t N = 0; N < G.Batch; ++N)
    for (int32_t M = 0; M < G.M; ++M) {
      const TX *XG = X + (N * G.C + M) * InPlane;
      const TW *WM = W + M * 9;
      TY *YM = Y + (N * G.M + M) * OutPlane;
      const Channel E = channel(Q, M, B, 9);
      uint32_t WSum = 0;
      for (int32_t T = 0; T < 9; ++T)
        WSum += uint32_t(int32_t(WM[T]));
      const int32x4_t StartV =
          vdupq_n_s32(int32_t(E.Start - uint32_t(Zx) * WSum));
      const Lanes L = {vdupq_n_s32(E.M), vdupq_n_s32(E.K), vdupq_n_s32(-E.N)};
      for (int32_t OD = 0; OD < G.Out[0]; ++OD) {
        const int32_t ID = OD * G.Strides[0] - G.PadBegin[0];
        TY *YO = YM + OD * Out1 * Out2; // (rows go by pairs)
        // The copy rewrites the same bytes for every plane: the padding
        // is filled once, but after a plane outside the input (all Zx).
        const bool Inside = ID >= 0 && ID < G.In[0];
        if (!Filled || !Inside) {
          for (int32_t I = 0; I < Lp * Rp; I += 16)
            vstrbq_s8(Buf8 + I, ZxBytes);
          Filled = Inside;
        }
        if (Inside && NCopy > 0)
          for (int32_t R = 0; R < Rp; ++R) {
            const int32_t IH = R - Pad1;
            if (IH < 0 || IH >= In1)
              continue;
            const int8_t *Src =
                reinterpret_cast<const int8_t *>(XG + (ID * In1 + IH) * In2);
            int8_t *Dst = Buf8 + R * Lp + Pad2;
            for (int32_t C = 0; C < NCopy; C += 16) {
              const mve_pred16_t Pr = vctp8q(uint32_t(NCopy - C));
              vstrbq_p_s8(Dst + C, vldrbq_z_s8(Src + C, Pr), Pr);
            }
          }
        // Two output rows at a time (their windows share input rows), Fast
        // (the epilogue in four lanes) or not: two loops, so that the hot
        // one keeps more in registers.
        auto Rows = [&](auto Fast) MOTE_RT_LAMBDA {
          for (int32_t OH = 0; OH < Out1; OH += 2, YO += 2 * Out2) {
            const bool Two = OH + 1 < Out1; // else the buffer's extra row
            const TX *XP = Buf + OH * S1 * Lp;
            // The weights, read per pair of rows: GCC 12 keeps them on the
            // stack either way, and they serve two VMLAs per read.
            const int32_t W0 = WM[0], W1 = WM[1], W2 = WM[2], W3 = WM[3],
                          W4 = WM[4], W5 = WM[5], W6 = WM[6], W7 = WM[7],
                          W8 = WM[8];
            for (int32_t OW = 0; OW < Out2; OW += 4, XP += 4 * S2) {
              int32x4_t A0 = StartV, A1 = StartV;
              auto Row = [&](int32x4_t &A, int32_t R, int32_t Wa, int32_t Wb,
                             int32_t Wc) MOTE_RT_LAMBDA {
                const TX *XR = XP + R * Lp;
                if (S2 == 1) {
                  A = vmlaq_n_s32(A, load4x(XR), Wa);
                  A = vmlaq_n_s32(A, load4x(XR + 1), Wb);
                  A = vmlaq_n_s32(A, load4x(XR + 2), Wc);
                } else {
                  A = vmlaq_n_s32(A, gather4x(XR, Cols0), Wa);
                  A = vmlaq_n_s32(A, gather4x(XR + 1, Cols0), Wb);
                  A = vmlaq_n_s32(A, gather4x(XR + 2, Cols0), Wc);
                }
              };
              Row(A0, 0, W0, W1, W2);
              Row(A0, 1, W3, W4, W5);
              Row(A0, 2, W6, W7, W8);
              Row(A1, S1, W0, W1, W2);
              Row(A1, S1 + 1, W3, W4, W5);
              Row(A1, S1 + 2, W6, W7, W8);
              const int32_t Left = Out2 - OW;
              auto Out = [&](int32x4_t Acc, TY *YR) MOTE_RT_LAMBDA {
                if constexpr (decltype(Fast)::value) {
                  store4(YR + OW, Q.Requant ? requant4(Acc, L, LoV, HiV) : Acc,
                         vctp32q(uint32_t(Left)));
                } else {
                  int32_t S[4];
                  vst1q_s32(S, Acc);
                  for (int32_t I = 0; I < 4 && I < Left; ++I)
                    YR[OW + I] = finish<TY>(Q, E, uint32_t(S[I]));
                }
              };
              Out(A0, YO);
              if (Two)
                Out(A1, YO + Out2);
            }
          }
        };
        if (E.Fast)
          Rows(BoolConstant<true>());
        else
          Rows(BoolConstant<false>());
      }
    }
  return true;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

/// qconv on Helium: depthwise 3x3 layers through qconvDepthwise3, the rest
/// with int8 weights through qconvPanel; false (the SMLAD kernels) with
/// weight zero points, uint8 weights (but depthwise 3x3), windows of more
/// than MvePanelBytes / 4 taps (rounded up to 16), depthwise planes whose
/// padded copy exceeds MvePanelBytes, or empty clamps.
template <class TX, class TW, class TY>
MOTE_RT_INLINE bool qconvVector(const QConvP &P, const TX *X, const TW *W,
                                const int32_t *B, TY *Y) {
  if (anyWeightZeroPoint(P.Q, P.Conv.M))
    return false;
  // The buffers of both kernels (qconvDepthwise3 uses the first 2 KB;
  // qconvPanel takes int8 weights only).
  alignas(16)
      int8_t Scratch[IsSignedInt<TW> ? MveScratchBytes : MvePanelBytes + 16];
  if (qconvDepthwise3(P, X, W, B, Y, Scratch))
    return true;
  if constexpr (IsSignedInt<TW>)
    return qconvPanel(P, X, W, B, Y, Scratch);
  else
    return false;
}

/// qmatmul on Helium: qmatmulPanel for int8 b without zero points and K
/// at most MvePanelBytes / 4 (rounded up to 16); false (the SMLAD kernels)
/// otherwise.
template <class TA, class TB, class TY>
MOTE_RT_INLINE bool qmatmulVector(const QMatMulP &P, const TA *A, const TB *B,
                                  const int32_t *Bias, TY *Y) {
  if constexpr (IsSignedInt<TB>)
    return qmatmulPanel(P, A, B, Bias, Y);
  else
    return false;
}

} // namespace qlinear_detail
} // namespace mote_rt

#undef MOTE_RT_MVE_OUTLINE

#endif // MOTE_RT_QLINEAR_MVE_H
