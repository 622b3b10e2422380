//===- qkernels.cpp - The integer kernels on the device, checked and timed ===//
//
// A freestanding program built for one target (tests/kernels/qkernels.py
// builds and runs it under qemu). Two modes:
//
//  - check (the default): hundreds of random convolutions and matrix
//    products (pointwise, depthwise, 3-wide, 1-D, grouped, strided,
//    dilated, padded; int8/uint8 inputs and weights, zero points or not,
//    int8/uint8/int32 results, biases at the int32 extremes, clamps, slow
//    and fast requantization) through the target's kernels (mote_rt::qconv
//    and mote_rt::qmatmul: SMLAD, MVE, NEON where the target has them),
//    each compared byte for byte with the portable loops
//    (qlinear_detail::qconvPortable / qmatmulPortable) on the same device.
//    The portable loops are checked against the interpreter on the host
//    (tests/unit/QLinearTest.cpp), so the device's kernels are too.
//    Prints "qkernels: N cases bit-exact" and exits 0, or names the first
//    case that differs and exits 1.
//
//    With -DQK_PORTABLE_PAIRS the convolutions take the SMLAD kernels'
//    blocking with their lanes in plain C++ (qconvPairs<PortablePairs>),
//    to debug them on any machine.
//
//  - bench (-DQK_BENCH=I -DQK_REPS=R): runs layer I of benchLayers() R
//    times and nothing else, so that the difference of the instruction
//    counts of R = 2 and R = 1 is one call of the kernel.
//
//===----------------------------------------------------------------------===//

#include MOTE_BOARD_IO

#include "mote_rt/qlinear.h"

#include <stddef.h>
#include <stdint.h>

namespace {

using namespace mote_rt;

/// xorshift32: the same cases on every target.
struct Rng {
  uint32_t S = 2463534242u;
  uint32_t next() {
    S ^= S << 13;
    S ^= S >> 17;
    S ^= S << 5;
    return S;
  }
  /// Uniform in [Lo, Hi].
  int32_t range(int32_t Lo, int32_t Hi) {
    return Lo + int32_t(next() % uint32_t(Hi - Lo + 1));
  }
  bool chance(int32_t Percent) { return range(0, 99) < Percent; }
};

// Operand storage (static: no heap on the boards).
constexpr int32_t MaxX = 40000, MaxW = 40000, MaxY = 40000, MaxCh = 256;
alignas(16) uint8_t XBuf[MaxX + 16];
alignas(16) uint8_t WBuf[MaxW + 16];
alignas(16) uint8_t YFast[4 * MaxY + 16];
alignas(16) uint8_t YRef[4 * MaxY + 16];
int32_t Bias[MaxCh], WZero[MaxCh], Mult[MaxCh], Shift[MaxCh];

enum class Ty { I8, U8, I32 };

const char *tyName(Ty T) {
  return T == Ty::I8 ? "i8" : T == Ty::U8 ? "u8" : "i32";
}
int32_t tyMin(Ty T) { return T == Ty::I8 ? -128 : 0; }
int32_t tyMax(Ty T) { return T == Ty::I8 ? 127 : 255; }

void fillBytes(Rng &R, uint8_t *P, int32_t N) {
  for (int32_t I = 0; I < N; ++I)
    P[I] = uint8_t(R.next() >> 24);
}

/// The epilogue: per-channel multipliers and shifts (mostly the fast form,
/// some slow: shifts under 33, multipliers with many trailing zeros),
/// zero points, a clamp, a bias or none.
RequantP randomRequant(Rng &R, int32_t Channels, Ty X, Ty W, Ty Y,
                       bool WZeroPoints, int32_t Taps, bool &WithBias) {
  RequantP Q{};
  Q.XZeroPoint = R.range(tyMin(X), tyMax(X));
  Q.Requant = Y != Ty::I32;
  Q.YZeroPoint = Q.Requant ? R.range(tyMin(Y), tyMax(Y)) : 0;
  Q.YMin = Q.Requant ? tyMin(Y) : INT32_MIN;
  Q.YMax = Q.Requant ? tyMax(Y) : INT32_MAX;
  if (Q.Requant && R.chance(30)) { // a fused ReLU-like clamp
    Q.YMin = R.range(tyMin(Y), Q.YZeroPoint);
    Q.YMax = R.range(Q.YMin, tyMax(Y));
  }
  // Shifts that put typical sums (sqrt(Taps) * 64 * 64) near the output
  // range, and some far from it (saturation).
  int32_t Bits = 12;
  for (int32_t T = Taps; T > 1; T >>= 2)
    ++Bits;
  for (int32_t C = 0; C < Channels; ++C) {
    WZero[C] = WZeroPoints ? R.range(tyMin(W), tyMax(W)) : 0;
    Mult[C] = int32_t((1u << 30) + (R.next() >> 2));
    if (R.chance(5))
      Mult[C] = int32_t(1u << 30) + int32_t((R.next() >> 20) << 20);
    Shift[C] = 31 + Bits - 7 + R.range(-3, 3);
    if (R.chance(8))
      Shift[C] = R.range(20, 32); // the slow path's requantize()
    Bias[C] = R.range(-(1 << 16), 1 << 16);
    if (R.chance(3))
      Bias[C] = R.chance(50) ? INT32_MAX : INT32_MIN;
  }
  WithBias = R.chance(75);
  Q.WZeroPoint = WZero;
  Q.Multiplier = Mult;
  Q.Shift = Shift;
  return Q;
}

int32_t bytesOf(Ty T) { return T == Ty::I32 ? 4 : 1; }

// The kernels for each type triple: Fast is the target's (mote_rt::qconv),
// Ref the portable loops.
template <class TX, class TW, class TY>
void runConv(const QConvP &P, const int32_t *B, bool Fast) {
  const TX *X = reinterpret_cast<const TX *>(XBuf);
  const TW *W = reinterpret_cast<const TW *>(WBuf);
  if (Fast)
#if defined(QK_PORTABLE_PAIRS)
    qlinear_detail::qconvPairs<qlinear_detail::PortablePairs>(
        P, X, W, B, reinterpret_cast<TY *>(YFast));
#else
    qconv<TX, TW, TY>(P, X, W, B, reinterpret_cast<TY *>(YFast));
#endif
  else
    qlinear_detail::qconvPortable<TX, TW, TY>(P, X, W, B,
                                              reinterpret_cast<TY *>(YRef));
}

template <class TA, class TB, class TY>
void runMatMul(const QMatMulP &P, const int32_t *B, bool Fast) {
  const TA *A = reinterpret_cast<const TA *>(XBuf);
  const TB *Bm = reinterpret_cast<const TB *>(WBuf);
  if (Fast)
    qmatmul<TA, TB, TY>(P, A, Bm, B, reinterpret_cast<TY *>(YFast));
  else
    qlinear_detail::qmatmulPortable<TA, TB, TY>(P, A, Bm, B,
                                                reinterpret_cast<TY *>(YRef));
}

/// The type triples checked (x, w, y): what --quantize int8 writes
/// (int8, symmetric int8 weights, int8 or an int32 accumulator), uint8
/// inputs and outputs of QDQ models, uint8 weights with zero points. Each
/// triple instantiates every kernel twice (the target's and the portable
/// one), so they are few: compile time.
struct Types {
  Ty X, W, Y;
};
constexpr Types TypeTriples[] = {
    {Ty::I8, Ty::I8, Ty::I8},  {Ty::U8, Ty::I8, Ty::I8},
    {Ty::I8, Ty::I8, Ty::U8},  {Ty::I8, Ty::I8, Ty::I32},
    {Ty::U8, Ty::U8, Ty::U8},  {Ty::I8, Ty::U8, Ty::I32},
};

/// F<TX, TW, TY>::run(A...) for triple I of TypeTriples.
template <template <class, class, class> class F, class... Args>
void dispatch(int32_t I, Args &&...A) {
  switch (I) {
  case 0:
    return F<int8_t, int8_t, int8_t>::run(A...);
  case 1:
    return F<uint8_t, int8_t, int8_t>::run(A...);
  case 2:
    return F<int8_t, int8_t, uint8_t>::run(A...);
  case 3:
    return F<int8_t, int8_t, int32_t>::run(A...);
  case 4:
    return F<uint8_t, uint8_t, uint8_t>::run(A...);
  default:
    return F<int8_t, uint8_t, int32_t>::run(A...);
  }
}

template <class TX, class TW, class TY> struct ConvRun {
  static void run(const QConvP &P, const int32_t *B, bool Fast) {
    runConv<TX, TW, TY>(P, B, Fast);
  }
};
template <class TA, class TB, class TY> struct MatMulRun {
  static void run(const QMatMulP &P, const int32_t *B, bool Fast) {
    runMatMul<TA, TB, TY>(P, B, Fast);
  }
};

/// The geometry of a convolution: spatial dims as (D, H, W).
struct ConvShape {
  int32_t Batch, C, M, Group;
  int32_t In[3], Kernel[3], Strides[3], Dilations[3], Pad[3], PadEnd[3];
};

/// ConvP for S; false if it has no output or is too large for the buffers.
constexpr bool convParams(const ConvShape &S, ConvP &G, int32_t &XN, int32_t &WN,
                int32_t &YN) {
  G = ConvP{};
  G.Batch = S.Batch;
  G.C = S.C;
  G.M = S.M;
  G.Group = S.Group;
  G.CPerGroup = S.C / S.Group;
  G.MPerGroup = S.M / S.Group;
  G.Channels = S.C;
  int32_t InN = 1, OutN = 1, KN = 1;
  for (int D = 0; D < 3; ++D) {
    G.In[D] = S.In[D];
    G.Kernel[D] = S.Kernel[D];
    G.Strides[D] = S.Strides[D];
    G.Dilations[D] = S.Dilations[D];
    G.PadBegin[D] = S.Pad[D];
    const int32_t Span = S.Dilations[D] * (S.Kernel[D] - 1) + 1;
    const int32_t Ext = S.In[D] + S.Pad[D] + S.PadEnd[D] - Span;
    if (Ext < 0)
      return false;
    G.Out[D] = Ext / S.Strides[D] + 1;
    InN *= G.In[D];
    OutN *= G.Out[D];
    KN *= G.Kernel[D];
  }
  XN = S.Batch * S.C * InN;
  WN = S.M * G.CPerGroup * KN;
  YN = S.Batch * S.M * OutN;
  return XN <= MaxX && WN <= MaxW && YN <= MaxY && S.M <= MaxCh;
}

void printShape(const ConvShape &S) {
  using mote_board::print;
  using mote_board::printInt;
  print("N");
  printInt(S.Batch);
  print(" C");
  printInt(S.C);
  print(" M");
  printInt(S.M);
  print(" group ");
  printInt(S.Group);
  const char *Names[] = {" in ", " kernel ", " strides ", " dilations ",
                         " pads ", " pads-end "};
  const int32_t *Arrays[] = {S.In,        S.Kernel, S.Strides,
                             S.Dilations, S.Pad,    S.PadEnd};
  for (int A = 0; A < 6; ++A) {
    print(Names[A]);
    for (int D = 0; D < 3; ++D) {
      if (D)
        print("x");
      printInt(Arrays[A][D]);
    }
  }
}

/// A random convolution of one of the shapes the kernels special-case.
ConvShape randomConv(Rng &R) {
  ConvShape S{};
  S.Batch = R.chance(20) ? 2 : 1;
  for (int D = 0; D < 3; ++D) {
    S.In[D] = 1;
    S.Kernel[D] = 1;
    S.Strides[D] = 1;
    S.Dilations[D] = 1;
  }
  S.In[1] = R.range(1, 14);
  S.In[2] = R.range(1, 14);
  const int32_t Kind = R.range(0, 6);
  switch (Kind) {
  case 0: // pointwise
    S.C = R.range(1, 40);
    S.M = R.range(1, 40);
    S.Group = 1;
    break;
  case 1: // depthwise 3x3
  case 2:
    S.C = S.M = S.Group = R.range(1, 20);
    S.Kernel[1] = S.Kernel[2] = 3;
    break;
  case 3: // dense 3 wide (3x3, 5x3, 1x3)
    S.C = R.range(1, 12);
    S.M = R.range(1, 20);
    S.Group = 1;
    S.Kernel[1] = R.chance(50) ? 3 : R.range(1, 5);
    S.Kernel[2] = 3;
    break;
  case 4: // grouped
    S.Group = R.range(2, 4);
    S.C = S.Group * R.range(1, 4);
    S.M = S.Group * R.range(1, 5);
    S.Kernel[1] = R.range(1, 3);
    S.Kernel[2] = R.range(1, 3);
    break;
  case 5: // 1-D
    S.In[1] = 1;
    S.In[2] = R.range(1, 40);
    S.C = R.range(1, 8);
    S.M = R.range(1, 8);
    S.Group = 1;
    S.Kernel[2] = R.range(1, 5);
    break;
  default: // any kernel, 3-D sometimes
    S.C = R.range(1, 6);
    S.M = R.range(1, 10);
    S.Group = 1;
    S.Kernel[1] = R.range(1, 5);
    S.Kernel[2] = R.range(1, 5);
    if (R.chance(25)) {
      S.In[0] = R.range(1, 4);
      S.Kernel[0] = R.range(1, 2);
    }
    break;
  }
  for (int D = 0; D < 3; ++D) {
    if (S.Kernel[D] == 1 && Kind == 0)
      continue;
    if (R.chance(40))
      S.Strides[D] = R.range(1, 3);
    if (R.chance(10))
      S.Dilations[D] = 2;
    if (S.Kernel[D] > 1 || R.chance(10)) {
      S.Pad[D] = R.range(0, S.Kernel[D]);
      S.PadEnd[D] = R.range(0, S.Kernel[D]);
    }
  }
  return S;
}

/// A triple of TypeTriples (the first, mote's own, most often) and whether
/// the weights have zero points (uint8 weights always; int8 sometimes, as
/// QDQ models may).
int32_t pickTypes(Rng &R, Ty &X, Ty &W, Ty &Y, bool &WZeroPoints) {
  const int32_t N = int32_t(sizeof TypeTriples / sizeof TypeTriples[0]);
  const int32_t I = R.chance(40) ? 0 : R.range(0, N - 1);
  X = TypeTriples[I].X;
  W = TypeTriples[I].W;
  Y = TypeTriples[I].Y;
  WZeroPoints = W == Ty::U8 || R.chance(20);
  return I;
}

/// Runs triple T of Run (ConvRun or MatMulRun) through the target's
/// kernels and the portable ones on the operands in XBuf and WBuf: whether
/// their results (Bytes bytes, the rest untouched) are the same.
template <template <class, class, class> class Run, class Params>
bool sameBothWays(int32_t T, const Params &P, const int32_t *B,
                  int32_t Bytes) {
  for (int32_t I = 0; I < Bytes; ++I)
    YFast[I] = YRef[I] = 0xA5;
  dispatch<Run>(T, P, B, true);
  dispatch<Run>(T, P, B, false);
  for (int32_t I = 0; I < Bytes; ++I)
    if (YFast[I] != YRef[I])
      return false;
  return true;
}

/// The end of a mismatch's message: the operand types, weight zero points,
/// bias.
void printTypes(Ty X, Ty W, Ty Y, bool WZ, bool WithBias) {
  using mote_board::print;
  print(" x ");
  print(tyName(X));
  print(" w ");
  print(tyName(W));
  print(" y ");
  print(tyName(Y));
  print(WZ ? " weight zero points" : "");
  print(WithBias ? " bias\n" : "\n");
}

[[maybe_unused]] bool checkConv(Rng &R, int32_t Case) {
  ConvShape S = randomConv(R);
  QConvP P{};
  int32_t XN, WN, YN;
  if (!convParams(S, P.Conv, XN, WN, YN))
    return true; // skipped: no output
  Ty X, W, Y;
  bool WZ, WithBias;
  const int32_t T = pickTypes(R, X, W, Y, WZ);
  P.Q = randomRequant(R, S.M, X, W, Y, WZ, P.Conv.CPerGroup * S.Kernel[0] *
                                               S.Kernel[1] * S.Kernel[2],
                      WithBias);
  fillBytes(R, XBuf, XN);
  fillBytes(R, WBuf, WN);
  if (sameBothWays<ConvRun>(T, P, WithBias ? Bias : nullptr,
                            YN * bytesOf(Y)))
    return true;
  mote_board::print("qkernels: conv case ");
  mote_board::printInt(Case);
  mote_board::print(" differs: ");
  printShape(S);
  printTypes(X, W, Y, WZ, WithBias);
  return false;
}

[[maybe_unused]] bool checkMatMul(Rng &R, int32_t Case) {
  QMatMulP P{};
  MatMulP &G = P.Mm;
  G.M = R.range(1, 24);
  G.K = R.range(1, 70);
  G.N = R.range(1, 24);
  const int32_t Batch = R.chance(25) ? R.range(2, 3) : 1;
  const bool BroadcastB = R.chance(50);
  G.Rank = 1;
  G.Dims[0] = Batch;
  G.SA[0] = G.M * G.K;
  G.SB[0] = BroadcastB ? 0 : G.K * G.N;
  const int32_t AN = Batch * G.M * G.K;
  const int32_t BN = (BroadcastB ? 1 : Batch) * G.K * G.N;
  const int32_t YN = Batch * G.M * G.N;
  if (AN > MaxX || BN > MaxW || YN > MaxY)
    return true;
  Ty X, W, Y;
  bool WZ, WithBias;
  const int32_t T = pickTypes(R, X, W, Y, WZ);
  P.Q = randomRequant(R, G.N, X, W, Y, WZ, G.K, WithBias);
  fillBytes(R, XBuf, AN);
  fillBytes(R, WBuf, BN);
  if (sameBothWays<MatMulRun>(T, P, WithBias ? Bias : nullptr,
                              YN * bytesOf(Y)))
    return true;
  using mote_board::print;
  using mote_board::printInt;
  print("qkernels: matmul case ");
  printInt(Case);
  print(" differs: batch ");
  printInt(Batch);
  print(BroadcastB ? " (b broadcast)" : "");
  print(" M ");
  printInt(G.M);
  print(" K ");
  printInt(G.K);
  print(" N ");
  printInt(G.N);
  printTypes(X, W, Y, WZ, WithBias);
  return false;
}

#if defined(QK_BENCH)
/// The layers timed in bench mode: those of examples/kws, examples/digits
/// and a mobilenet_v2 block, int8 activations, symmetric int8 weights,
/// int8 results (what --quantize int8 makes of them).
struct BenchLayer {
  bool Conv;
  ConvShape S;
  int32_t M, K, N; // matmul
};
constexpr BenchLayer benchLayers[] = {
    // kws stem: 1 -> 32, 5x3, strides 2x1, pads 2,1
    {true, {1, 1, 32, 1, {1, 49, 10}, {1, 5, 3}, {1, 2, 1}, {1, 1, 1},
            {0, 2, 1}, {0, 2, 1}}, 0, 0, 0},
    // kws depthwise 3x3 over 32 channels of 25x10
    {true, {1, 32, 32, 32, {1, 25, 10}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1},
            {0, 1, 1}, {0, 1, 1}}, 0, 0, 0},
    // kws pointwise 32 -> 32 of 25x10
    {true, {1, 32, 32, 1, {1, 25, 10}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},
            {0, 0, 0}, {0, 0, 0}}, 0, 0, 0},
    // kws classifier 32 -> 12
    {false, {}, 1, 32, 12},
    // digits conv1: 10 images, 1 -> 8, 3x3 of 8x8
    {true, {10, 1, 8, 1, {1, 8, 8}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1},
            {0, 1, 1}, {0, 1, 1}}, 0, 0, 0},
    // digits conv2: 8 -> 16, 3x3 stride 2
    {true, {10, 8, 16, 1, {1, 8, 8}, {1, 3, 3}, {1, 2, 2}, {1, 1, 1},
            {0, 1, 1}, {0, 1, 1}}, 0, 0, 0},
    // digits classifier: 10 x 256 -> 10
    {false, {}, 10, 256, 10},
    // mobilenet_v2 expand 16 -> 96 of 16x16
    {true, {1, 16, 96, 1, {1, 16, 16}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},
            {0, 0, 0}, {0, 0, 0}}, 0, 0, 0},
    // mobilenet_v2 depthwise 3x3 stride 2 over 96 channels of 16x16
    {true, {1, 96, 96, 96, {1, 16, 16}, {1, 3, 3}, {1, 2, 2}, {1, 1, 1},
            {0, 1, 1}, {0, 0, 0}}, 0, 0, 0},
};

/// The epilogue tables of the bench layers (constant data, as a model's):
/// multipliers in [2^30, 2^31), shifts for outputs in range, small biases.
struct BenchTables {
  int32_t Zero[MaxCh], Mult[MaxCh], Shift[MaxCh], Bias[MaxCh];
};
constexpr BenchTables benchTables(int32_t Taps) {
  BenchTables T{};
  int32_t Bits = 12;
  for (int32_t N = Taps; N > 1; N >>= 2)
    ++Bits;
  uint32_t S = 12345;
  for (int32_t C = 0; C < MaxCh; ++C) {
    S = S * 1664525u + 1013904223u;
    T.Zero[C] = 0;
    T.Mult[C] = int32_t((1u << 30) | (S >> 2) | 1u);
    T.Shift[C] = 31 + Bits - 7;
    T.Bias[C] = int32_t(S >> 20) - 2048;
  }
  return T;
}

/// Layer I's parameters as generated code has them: constants the
/// compiler folds into the inlined kernel.
constexpr int32_t benchTaps(const BenchLayer &L) {
  return L.Conv ? L.S.C / L.S.Group * L.S.Kernel[0] * L.S.Kernel[1] *
                      L.S.Kernel[2]
                : L.K;
}
constexpr BenchLayer Layer = benchLayers[QK_BENCH];
constexpr BenchTables Tables = benchTables(benchTaps(Layer));

constexpr RequantP benchRequant() {
  RequantP Q{};
  Q.XZeroPoint = -5;
  Q.YZeroPoint = -128;
  Q.YMin = -128;
  Q.YMax = 127;
  Q.Requant = 1;
  Q.WZeroPoint = Tables.Zero;
  Q.Multiplier = Tables.Mult;
  Q.Shift = Tables.Shift;
  return Q;
}

constexpr QConvP benchConv() {
  QConvP P{};
  if (!Layer.Conv)
    return P;
  int32_t XN = 0, WN = 0, YN = 0; // the bench layers fit the buffers
  convParams(Layer.S, P.Conv, XN, WN, YN);
  P.Q = benchRequant();
  return P;
}

constexpr QMatMulP benchMatMul() {
  QMatMulP P{};
  P.Mm.Rank = 0;
  P.Mm.M = Layer.M;
  P.Mm.K = Layer.K;
  P.Mm.N = Layer.N;
  P.Q = benchRequant();
  return P;
}

int benchMain() {
  Rng R;
  fillBytes(R, XBuf, MaxX);
  fillBytes(R, WBuf, MaxW);
  const int8_t *X = reinterpret_cast<const int8_t *>(XBuf);
  const int8_t *W = reinterpret_cast<const int8_t *>(WBuf);
  int8_t *Y = reinterpret_cast<int8_t *>(YFast);
  for (int I = 0; I < QK_REPS; ++I) {
    if constexpr (Layer.Conv) {
      static constexpr QConvP P = benchConv();
      qconv<int8_t, int8_t, int8_t>(P, X, W, Tables.Bias, Y);
    } else {
      static constexpr QMatMulP P = benchMatMul();
      qmatmul<int8_t, int8_t, int8_t>(P, X, W, Tables.Bias, Y);
    }
    // The operands escape (clang would otherwise see that the inline asm
    // cannot reach these globals) and may have changed: each call runs.
    __asm__ volatile("" : : "r"(X), "r"(W), "r"(Y) : "memory");
  }
  return 0;
}
#endif

} // namespace

int main() {
#if defined(QK_BENCH)
  return benchMain();
#else
  Rng R;
  int32_t Cases = 0;
  for (int32_t I = 0; I < 1500; ++I, ++Cases)
    if (!checkConv(R, I))
      return 1;
  for (int32_t I = 0; I < 500; ++I, ++Cases)
    if (!checkMatMul(R, I))
      return 1;
  mote_board::print("qkernels: ");
  mote_board::printInt(Cases);
  mote_board::print(" cases bit-exact\n");
  return 0;
#endif
}
