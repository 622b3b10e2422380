//===- QLinearTest.cpp - Requantization, QConv and QMatMul ----------------===//
//
// The fixed-point requantization compiler/Quant.h states (the multiplier's
// precision, rounding half to even, exactness against 128-bit arithmetic),
// the integer ops' values and type rules, their kernels in
// runtime-stub/mote_rt/qlinear.h bit for bit against the interpreter on
// edge cases (saturation, zero points, padding, odd channel counts,
// groups, per-channel weights, biases at the int32 limits), and the
// distance to ONNX's float definition: at most one step.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "QuantTestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Parser.h"
#include "compiler/Quant.h"
#include "compiler/Verifier.h"
#include "mote_rt/qlinear.h"
#include "passes/Pass.h"

#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <random>

using namespace mote;
using namespace mote::test;

namespace {

/// A tensor of quantized type \p T with random integers over its whole
/// range (the extremes included often: they saturate).
Tensor randomQuant(TensorType T, uint32_t Seed) {
  std::mt19937 Gen(Seed);
  Tensor R(T);
  int64_t Lo = quantMin(T.Elem), Hi = quantMax(T.Elem);
  std::uniform_int_distribution<int64_t> D(Lo, Hi);
  std::uniform_int_distribution<int> Pick(0, 9);
  for (int64_t I = 0; I < R.numElements(); ++I) {
    int P = Pick(Gen);
    R.setFromDouble(I, double(P == 0 ? Lo : P == 1 ? Hi : D(Gen)));
  }
  return R;
}

AttrMap outAttrs(const char *To, float Scale = 0, int64_t Zp = 0) {
  AttrMap A;
  A.set("to", std::string(To));
  if (std::string_view(To) != "i32") {
    A.set("scale", Floats{Scale});
    A.set("zero_point", Ints{Zp});
  }
  return A;
}

__extension__ typedef __int128 I128;

/// round_half_even(Acc * M / 2^S) in 128-bit arithmetic.
int64_t exactRequantize(int32_t Acc, int32_t M, int32_t S) {
  I128 P = I128(Acc) * M;
  if (S == 0)
    return int64_t(P);
  I128 D = I128(1) << S;
  I128 Q = P / D, R = P % D; // truncating
  if (R < 0) {
    Q -= 1;
    R += D;
  }
  if (2 * R > D || (2 * R == D && (Q & 1)))
    Q += 1;
  return int64_t(Q);
}

} // namespace

TEST_CASE("fixed-point multipliers keep 31 bits of the real multiplier",
          "[quant][requant]") {
  for (double M : {1.0, 0.5, 0.75, 1.0 / 3, 1e-3, 0.0039215689, 7.5, 1e5,
                   2147483000.0, 0x1p-32, 0x1p-31 * 1.5, 1 - 0x1p-33}) {
    INFO("M = " << M);
    Expected<FixedMultiplier> F = fixedMultiplier(M);
    REQUIRE(F);
    REQUIRE(F->Multiplier >= (int64_t(1) << 30));
    REQUIRE(F->Shift >= 0);
    REQUIRE(F->Shift <= 62);
    double Got = std::ldexp(double(F->Multiplier), -F->Shift);
    CHECK(std::fabs(Got - M) <= M * 0x1p-31);
  }
  // 1 - 2^-33 rounds up to 2^31 * 2^-31: the multiplier stays below 2^31.
  Expected<FixedMultiplier> One = fixedMultiplier(1 - 0x1p-33);
  REQUIRE(One);
  CHECK(One->Multiplier == (int32_t(1) << 30));
  CHECK(One->Shift == 30);
  // Below 2^-32 every int32 accumulator requantizes to 0.
  Expected<FixedMultiplier> Tiny = fixedMultiplier(1e-12);
  REQUIRE(Tiny);
  CHECK(Tiny->Multiplier == 0);
  CHECK(requantize(INT32_MAX, *Tiny) == 0);
  for (double Bad :
       {0.0, -1.0, std::nan(""), double(INFINITY), 0x1p31, 1e300}) {
    INFO("M = " << Bad);
    CHECK_FALSE(fixedMultiplier(Bad));
  }
}

namespace {

/// requantize(A, M, S) + Zy through the kernels' per-channel epilogue
/// (mote_rt/qlinear.h: its fast form when the channel allows it).
int64_t kernelRequantize(int32_t A, int32_t M, int32_t S, int32_t Zy) {
  mote_rt::RequantP Q{};
  Q.YZeroPoint = Zy;
  Q.YMin = INT32_MIN;
  Q.YMax = INT32_MAX;
  Q.Requant = 1;
  Q.Multiplier = &M;
  Q.Shift = &S;
  mote_rt::qlinear_detail::Channel E =
      mote_rt::qlinear_detail::channel(Q, 0, nullptr, 1);
  return mote_rt::qlinear_detail::finish<int32_t>(Q, E, uint32_t(A));
}

} // namespace

TEST_CASE("requantize rounds half to even and is exact", "[quant][requant]") {
  FixedMultiplier Half = *fixedMultiplier(0.5);
  CHECK(requantize(1, Half) == 0);
  CHECK(requantize(3, Half) == 2);
  CHECK(requantize(5, Half) == 2);
  CHECK(requantize(-1, Half) == 0);
  CHECK(requantize(-3, Half) == -2);
  CHECK(requantize(-5, Half) == -2);
  CHECK(requantize(7, Half) == 4);
  FixedMultiplier One = *fixedMultiplier(1.0);
  CHECK(requantize(INT32_MIN, One) == INT32_MIN);
  CHECK(requantize(INT32_MAX, One) == INT32_MAX);
  // Random accumulators and multipliers against 128-bit arithmetic, for
  // the interpreter's function and the kernels'.
  std::mt19937 Gen(7);
  std::uniform_int_distribution<int32_t> Acc(INT32_MIN, INT32_MAX);
  std::uniform_real_distribution<double> Exp(-40, 20);
  for (int I = 0; I < 20000; ++I) {
    int32_t A = I < 100 ? int32_t(I - 50) : Acc(Gen);
    Expected<FixedMultiplier> F = fixedMultiplier(std::exp2(Exp(Gen)));
    REQUIRE(F);
    int64_t Want = exactRequantize(A, F->Multiplier, F->Shift);
    INFO("acc " << A << " m " << F->Multiplier << " n " << F->Shift);
    REQUIRE(requantize(A, *F) == Want);
    REQUIRE(mote_rt::qlinear_detail::requantize(A, F->Multiplier, F->Shift) ==
            Want);
    // The kernels' epilogue (its fast form for most shifts of 33 or more;
    // from 32 on, every result fits in int32).
    if (F->Shift >= 32)
      REQUIRE(kernelRequantize(A, F->Multiplier, F->Shift, 0) == Want);
  }
  // The fast form excludes the multipliers whose products can tie: sweep
  // the trailing zeros of the multiplier around that bound, with
  // accumulators that are powers of two (the ties) and their neighbours.
  std::uniform_int_distribution<int32_t> Mant(1 << 30, INT32_MAX);
  for (int32_t S = 33; S <= 62; ++S)
    for (int32_t T = 0; T <= S - 32 && T <= 30; ++T) {
      // M in [2^30, 2^31) with exactly T trailing zero bits.
      const int32_t M = ((Mant(Gen) >> T) | 1) << T;
      for (int32_t Zy : {0, 3, -128})
        for (int32_t J = 0; J <= 31; ++J)
          for (int64_t A : {int64_t(1) << J, 3 * (int64_t(1) << J) / 2,
                            (int64_t(1) << J) + 1, (int64_t(1) << J) - 1}) {
            for (int64_t V : {A, -A}) {
              if (V < INT32_MIN || V > INT32_MAX)
                continue;
              INFO("acc " << V << " m " << M << " n " << S << " zy " << Zy);
              REQUIRE(kernelRequantize(int32_t(V), M, S, Zy) ==
                      exactRequantize(int32_t(V), M, S) + Zy);
            }
          }
    }
}

TEST_CASE("QConv computes the integer convolution and requantizes",
          "[quant][ops]") {
  TensorType XT(DType::I8, {1, 1, 3, 3}, perTensor(1, 0));
  TensorType WT(DType::I8, {1, 1, 2, 2}, perTensor(1, 0));
  Tensor X = quantized(XT, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor W = quantized(WT, {1, 1, 1, 1});
  auto Values = [](const OpRun &R) {
    std::vector<int64_t> V;
    for (int64_t I = 0; I < R.Results[0].numElements(); ++I)
      V.push_back(R.Results[0].getAsInt(I));
    return V;
  };
  OpRun Acc = runOp(OpKind::QConv, {X, W}, outAttrs("i32"));
  REQUIRE_FALSE(Acc.Error);
  CHECK(Acc.Types[0].str() == "i32[1,1,2,2]");
  CHECK(Values(Acc) == Ints{12, 16, 24, 28});
  // Scale 8: 1.5, 2, 3, 3.5 round half to even.
  OpRun Q = runOp(OpKind::QConv, {X, W}, outAttrs("i8", 8, 0));
  REQUIRE_FALSE(Q.Error);
  CHECK(Q.Types[0].str() == "i8[1,1,2,2]<8:0>");
  CHECK(Values(Q) == Ints{2, 2, 3, 4});
  // Zero points: x - 3 and w - (-1); padding reads the zero point (adds 0).
  TensorType XZ(DType::U8, {1, 1, 3, 3}, perTensor(0.5f, 3));
  TensorType WZ(DType::I8, {2, 1, 2, 2}, {0, {1, 0.25f}, {-1, 2}});
  Tensor X2 = quantized(XZ, {4, 5, 6, 7, 8, 9, 10, 11, 12}); // 1..9
  Tensor W2 = quantized(WZ, {0, 0, 0, 0, 3, 3, 3, 3});       // 1 and 1
  AttrMap A = outAttrs("u8", 0.5f, 10);
  A.set("pads", Ints{1, 1, 0, 0});
  OpRun P = runOp(OpKind::QConv, {X2, W2, i32({2}, {4, -6})}, A);
  REQUIRE_FALSE(P.Error);
  // The 2x2 sums over the input padded above and to the left are 1 3 5 /
  // 5 12 16 / 11 24 28. Channel 0 (multiplier 0.5 * 1 / 0.5 = 1): plus the
  // bias 4 and the zero point 10. Channel 1 (multiplier 0.25): (sum - 6) /
  // 4 rounded half to even (1.5 -> 2, 2.5 -> 2, 4.5 -> 4, 5.5 -> 6) + 10.
  CHECK(Values(P) == Ints{15, 17, 19, 19, 26, 30, 25, 38, 42, //
                          9, 9, 10, 10, 12, 12, 11, 14, 16});
  // clamp narrows the output range (a fused ReLU at the zero point).
  A.set("clamp", Ints{12, 20});
  OpRun Cl = runOp(OpKind::QConv, {X2, W2, i32({2}, {4, -6})}, A);
  REQUIRE_FALSE(Cl.Error);
  CHECK(Values(Cl) == Ints{15, 17, 19, 19, 20, 20, 20, 20, 20, //
                           12, 12, 12, 12, 12, 12, 12, 14, 16});
}

TEST_CASE("QConv and QMatMul refuse what they cannot compute exactly",
          "[quant][ops]") {
  TensorType XT(DType::U8, {1, 2, 3, 3}, perTensor(0.1f, 0));
  TensorType WT(DType::I8, {2, 2, 1, 1}, perTensor(0.1f, 0));
  Tensor X = randomQuant(XT, 1), W = randomQuant(WT, 2);
  CHECK(errorOf(OpKind::QConv, {X, W}, outAttrs("i16", 1)) ==
        "to must be \"i8\", \"u8\" or \"i32\", got \"i16\"");
  CHECK(errorOf(OpKind::QConv, {X, W}, attrs({{"to", std::string("i8")}})) ==
        "an i8 result takes one scale and one zero point (got 0 and 0)");
  AttrMap A = outAttrs("i32");
  A.set("scale", Floats{1});
  CHECK(errorOf(OpKind::QConv, {X, W}, A) ==
        "an i32 result is the accumulator itself; `scale` applies only to an "
        "i8 or u8 result");
  A = outAttrs("i8", 1, 0);
  A.set("clamp", Ints{5, 1});
  CHECK(errorOf(OpKind::QConv, {X, W}, A) ==
        "clamp must be [lo, hi] with lo <= hi");
  A.set("clamp", Ints{200, 300});
  CHECK(errorOf(OpKind::QConv, {X, W}, A) ==
        "clamp [200, 300] leaves nothing of the range of i8");
  CHECK(
      errorOf(OpKind::QConv, {X, W, i32({3}, {1, 2, 3})}, outAttrs("i8", 1)) ==
      "bias must be i32 [2] (in units of the input scale times the weight "
      "scale), got i32[3]");
  // A quantized bias must count in units of s_x * s_w = 0.01.
  Tensor BQ(TensorType(DType::I32, {2}, perTensor(0.01f, 0)));
  CHECK_FALSE(runOp(OpKind::QConv, {X, W, BQ}, outAttrs("i8", 1)).Error);
  Tensor BWrong(TensorType(DType::I32, {2}, {0, {0.01f, 0.02f}, {0, 0}}));
  CHECK(errorOf(OpKind::QConv, {X, W, BWrong}, outAttrs("i8", 1)) ==
        "bias i32[2]<axis 0: 0.01:0, 0.02:0> does not count in units of the "
        "input scale times the weight scale: channel 1 needs scale 0.010000001 "
        "and zero point 0");
  Tensor Plain(TensorType(DType::U8, {1, 2, 3, 3}));
  CHECK(errorOf(OpKind::QConv, {Plain, W}, outAttrs("i8", 1)) ==
        "input x u8[1,2,3,3] has no quantization parameters (its zero point "
        "and scale)");
  Tensor WAxis1 = randomQuant(
      TensorType(DType::I8, {2, 2, 1, 1}, {1, {0.1f, 0.2f}, {0, 0}}), 3);
  CHECK(errorOf(OpKind::QConv, {X, WAxis1}, outAttrs("i8", 1)) ==
        "weight w i8[2,2,1,1]<axis 1: 0.1:0, 0.2:0> is quantized along axis "
        "1; per-channel parameters must be along axis 0");
  CHECK(errorOf(OpKind::QConv, {X, W}, outAttrs("i8", 1e-30f)) ==
        fmt::format("output channel 0: requantization multiplier {} is 2^31 "
                    "or more",
                    double(0.1f) * double(0.1f) / double(1e-30f)));
  // 33026 products of 255 * 255 could exceed 2^31 - 1; 33025 cannot.
  auto Wide = [](int64_t C) {
    return std::pair{
        Tensor(TensorType(DType::U8, {1, C, 1, 1}, perTensor(1, 0))),
        Tensor(TensorType(DType::U8, {1, C, 1, 1}, perTensor(1, 0)))};
  };
  auto [XBig, WBig] = Wide(33026);
  CHECK(errorOf(OpKind::QConv, {XBig, WBig}, outAttrs("i32")) ==
        "a sum of 33026 products of up to 65025 could overflow the int32 "
        "accumulator");
  auto [XOk, WOk] = Wide(33025);
  CHECK_FALSE(runOp(OpKind::QConv, {XOk, WOk}, outAttrs("i32")).Error);
  // QMatMul: per-column parameters run along b's last axis.
  Tensor MA = randomQuant(TensorType(DType::I8, {2, 3}, perTensor(1, 0)), 4);
  Tensor MB =
      randomQuant(TensorType(DType::I8, {3, 2}, {0, {1, 1, 1}, {0, 0, 0}}), 5);
  CHECK(errorOf(OpKind::QMatMul, {MA, MB}, outAttrs("i8", 1)) ==
        "weight w i8[3,2]<axis 0: 1:0, 1:0, 1:0> is quantized along axis 0; "
        "per-channel parameters must be along axis 1");
}

namespace {

template <class TX, class TW, class TY>
void checkQConvKernel(const Tensor &X, const Tensor &W, std::optional<Tensor> B,
                      const AttrMap &A) {
  LoweredOp L = lowerOp(OpKind::QConv, {X, W, B}, A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "qconv");
  auto P = paramsAs<mote_rt::QConvP>(L.Call);
  std::vector<TY> Y(L.outElems(0));
  mote_rt::qconv<TX, TW, TY>(P, L.in<TX>(0), L.in<TW>(1), L.in<int32_t>(2),
                             Y.data());
  checkSame(L.Run.Results[0], Y);
  // The SMLAD kernels of Cortex-M4/M7/M55, their lanes in plain C++.
  std::vector<TY> YP(L.outElems(0));
  mote_rt::qlinear_detail::qconvPairs<mote_rt::qlinear_detail::PortablePairs>(
      P, L.in<TX>(0), L.in<TW>(1), L.in<int32_t>(2), YP.data());
  checkSame(L.Run.Results[0], YP);
}

template <class TA, class TB, class TY>
void checkQMatMulKernel(const Tensor &A, const Tensor &B,
                        std::optional<Tensor> Bias, const AttrMap &At) {
  LoweredOp L = lowerOp(OpKind::QMatMul, {A, B, Bias}, At);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "qmatmul");
  auto P = paramsAs<mote_rt::QMatMulP>(L.Call);
  std::vector<TY> Y(L.outElems(0));
  mote_rt::qmatmul<TA, TB, TY>(P, L.in<TA>(0), L.in<TB>(1), L.in<int32_t>(2),
                               Y.data());
  checkSame(L.Run.Results[0], Y);
  // The SMLAD kernels (b without zero points), their lanes in plain C++.
  if (!mote_rt::qlinear_detail::anyWeightZeroPoint(P.Q, P.Mm.N)) {
    std::vector<TY> YP(L.outElems(0));
    mote_rt::qlinear_detail::qmatmulPairs<
        mote_rt::qlinear_detail::PortablePairs>(P, L.in<TA>(0), L.in<TB>(1),
                                                L.in<int32_t>(2), YP.data());
    checkSame(L.Run.Results[0], YP);
  }
}

/// A bias with the int32 extremes among random values.
Tensor edgeBias(int64_t N, uint32_t Seed) {
  std::mt19937 Gen(Seed);
  std::uniform_int_distribution<int32_t> D(-100000, 100000);
  std::vector<int32_t> V;
  for (int64_t I = 0; I < N; ++I)
    V.push_back(I == 0 ? INT32_MAX : I == 1 ? INT32_MIN : D(Gen));
  return i32({N}, V);
}

QuantParams perChannel(int64_t N, DType T, uint32_t Seed) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<float> S(0.001f, 0.05f);
  std::uniform_int_distribution<int32_t> Z(int32_t(quantMin(T)),
                                           int32_t(quantMax(T)));
  QuantParams Q{0, {}, {}};
  for (int64_t I = 0; I < N; ++I) {
    Q.Scale.push_back(S(Gen));
    Q.ZeroPoint.push_back(I == 0 ? int32_t(quantMin(T)) : Z(Gen));
  }
  return Q;
}

} // namespace

TEST_CASE("qconv matches the interpreter bit for bit", "[quant][kernel]") {
  struct Geometry {
    Shape X, W;
    Ints Pads, Strides, Dilations;
    int64_t Group;
  };
  const Geometry Geometries[] = {
      {{2, 3, 7, 5}, {5, 3, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1},
      {{1, 3, 9, 8}, {4, 3, 3, 2}, {2, 0, 1, 1}, {2, 3}, {2, 1}, 1},
      {{1, 5, 6, 6}, {5, 1, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 5}, // dw
      {{1, 6, 5, 5}, {9, 2, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 3},
      {{1, 7, 4, 4}, {3, 7, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1}, // pw
      {{2, 3, 11}, {4, 3, 4}, {2, 1}, {2}, {1}, 1},                  // 1-D
      {{1, 5, 4, 4}, {6, 5, 1, 1}, {1, 1, 2, 0}, {1, 1}, {1, 1}, 1}, // 1x1, pad
      {{1, 2, 6, 7}, {4, 2, 3, 3}, {2, 3, 2, 1}, {1, 2}, {2, 2}, 1}, // dilated
      {{1, 4, 5, 5}, {6, 2, 3, 3}, {1, 0, 1, 0}, {2, 1}, {1, 1}, 2},
      {{1, 5, 3, 3}, {5, 5, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1}, // odd
      {{1, 3, 9, 9}, {5, 3, 3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 1},
      {{1, 6, 7, 9}, {6, 1, 3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 6}, // dw
      {{1, 1, 9, 6}, {6, 1, 5, 3}, {2, 1, 2, 1}, {2, 1}, {1, 1}, 1},
      {{1, 4, 7, 7}, {8, 2, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 2},
      {{1, 3, 5, 7}, {3, 1, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 3}, // dw, odd
      {{1, 2, 5, 3}, {4, 2, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1}, // rows < 4
      {{1, 3, 6, 9}, {5, 3, 3, 3}, {1, 4, 1, 4}, {1, 2}, {1, 1}, 1}, // pad 4
      {{1, 3, 5, 8}, {4, 3, 3, 3}, {0, 3, 2, 2}, {1, 1}, {1, 1}, 1}, // pad 3
      // Depthwise with uneven padding (the line buffers' edges).
      {{1, 10, 14, 8}, {10, 1, 3, 3}, {1, 3, 2, 0}, {1, 1}, {1, 1}, 10},
      {{1, 4, 9, 11}, {4, 1, 3, 3}, {0, 2, 1, 1}, {2, 2}, {1, 1}, 4},
      // One input channel per group: a 5x3 first layer (the kws stem's
      // shape), two output channels per group at stride 2 along W.
      {{1, 1, 11, 7}, {4, 1, 5, 3}, {2, 1, 2, 1}, {2, 1}, {1, 1}, 1},
      {{2, 3, 6, 9}, {6, 1, 3, 3}, {1, 1, 0, 1}, {1, 2}, {1, 1}, 3},
      // A 3x3 depthwise over one depth slice padded to two.
      {{1, 3, 1, 5, 6},
       {3, 1, 1, 3, 3},
       {0, 1, 1, 1, 1, 1},
       {1, 1, 1},
       {1, 1, 1},
       3},
      // More kernel rows than MaxPairRows: weight pairs built per row.
      {{1, 12, 4, 6}, {5, 12, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1},
  };
  uint32_t Seed = 1;
  for (const Geometry &Ge : Geometries) {
    INFO("x " << shapeStr(Ge.X) << " w " << shapeStr(Ge.W));
    AttrMap Base;
    Base.set("pads", Ge.Pads);
    Base.set("strides", Ge.Strides);
    Base.set("dilations", Ge.Dilations);
    Base.set("group", Ge.Group);
    int64_t M = Ge.W[0];
    TensorType XI8(DType::I8, Ge.X, perTensor(0.02f, -7));
    TensorType XU8(DType::U8, Ge.X, perTensor(0.03f, 131));
    TensorType WI8(DType::I8, Ge.W, perChannel(M, DType::I8, Seed));
    TensorType WU8(DType::U8, Ge.W, perTensor(0.01f, 120));
    Tensor Xi = randomQuant(XI8, Seed + 1), Xu = randomQuant(XU8, Seed + 2);
    Tensor Wi = randomQuant(WI8, Seed + 3), Wu = randomQuant(WU8, Seed + 4);
    Tensor B = edgeBias(M, Seed + 5);
    Seed += 10;
    auto With = [&](AttrMap Out) {
      for (const auto &[K, V] : Base.all())
        Out.set(K, V);
      return Out;
    };
    checkQConvKernel<int8_t, int8_t, int8_t>(Xi, Wi, B,
                                             With(outAttrs("i8", 0.05f, 3)));
    checkQConvKernel<int8_t, int8_t, uint8_t>(
        Xi, Wi, std::nullopt, With(outAttrs("u8", 0.004f, 128)));
    checkQConvKernel<uint8_t, int8_t, int8_t>(Xu, Wi, B,
                                              With(outAttrs("i8", 0.5f, -128)));
    checkQConvKernel<uint8_t, uint8_t, uint8_t>(Xu, Wu, B,
                                                With(outAttrs("u8", 1e-4f, 0)));
    checkQConvKernel<int8_t, uint8_t, int32_t>(Xi, Wu, std::nullopt,
                                               With(outAttrs("i32")));
    checkQConvKernel<uint8_t, int8_t, int32_t>(Xu, Wi, B,
                                               With(outAttrs("i32")));
    // Symmetric weights (every zero point 0) take the kernel's path
    // without the zero-point correction.
    QuantParams Sym = perChannel(M, DType::I8, Seed + 6);
    std::fill(Sym.ZeroPoint.begin(), Sym.ZeroPoint.end(), 0);
    Tensor Ws = randomQuant(TensorType(DType::I8, Ge.W, Sym), Seed + 7);
    checkQConvKernel<uint8_t, int8_t, int8_t>(Xu, Ws, B,
                                              With(outAttrs("i8", 0.05f, 1)));
    checkQConvKernel<int8_t, int8_t, int32_t>(Xi, Ws, std::nullopt,
                                              With(outAttrs("i32")));
    AttrMap Relu = With(outAttrs("i8", 0.05f, -20));
    Relu.set("clamp", Ints{-20, 127});
    checkQConvKernel<int8_t, int8_t, int8_t>(Xi, Wi, B, Relu);
  }
}

TEST_CASE("qmatmul matches the interpreter bit for bit", "[quant][kernel]") {
  struct Case {
    Shape A, B;
  };
  const Case Cases[] = {{{2, 4}, {4, 3}},          {{5, 7}, {7, 1}},
                        {{2, 2, 4}, {2, 4, 3}},    {{3, 2, 5}, {5, 4}},
                        {{2, 1, 3, 4}, {3, 4, 2}}, {{7}, {7, 3}},
                        {{9, 13}, {13, 5}}};
  uint32_t Seed = 100;
  for (const Case &C : Cases) {
    INFO("a " << shapeStr(C.A) << " b " << shapeStr(C.B));
    int64_t N = C.B.back();
    QuantParams PerCol = perChannel(N, DType::I8, Seed);
    PerCol.Axis = int32_t(C.B.size() - 1);
    Tensor Ai =
        randomQuant(TensorType(DType::I8, C.A, perTensor(0.1f, 5)), Seed + 1);
    Tensor Au =
        randomQuant(TensorType(DType::U8, C.A, perTensor(0.1f, 200)), Seed + 2);
    Tensor Bi = randomQuant(TensorType(DType::I8, C.B, PerCol), Seed + 3);
    Tensor Bu =
        randomQuant(TensorType(DType::U8, C.B, perTensor(0.2f, 3)), Seed + 4);
    Tensor Bias = edgeBias(N, Seed + 5);
    Seed += 10;
    checkQMatMulKernel<int8_t, int8_t, int8_t>(Ai, Bi, Bias,
                                               outAttrs("i8", 0.7f, 1));
    checkQMatMulKernel<uint8_t, uint8_t, uint8_t>(Au, Bu, std::nullopt,
                                                  outAttrs("u8", 2.0f, 100));
    checkQMatMulKernel<uint8_t, int8_t, int32_t>(Au, Bi, Bias, outAttrs("i32"));
    checkQMatMulKernel<int8_t, uint8_t, uint8_t>(Ai, Bu, Bias,
                                                 outAttrs("u8", 0.05f, 0));
    // Symmetric b (every zero point 0) takes the SMLAD kernels.
    QuantParams Sym = PerCol;
    std::fill(Sym.ZeroPoint.begin(), Sym.ZeroPoint.end(), 0);
    Tensor Bs = randomQuant(TensorType(DType::I8, C.B, Sym), Seed + 6);
    checkQMatMulKernel<int8_t, int8_t, int8_t>(Ai, Bs, Bias,
                                               outAttrs("i8", 0.7f, -3));
    checkQMatMulKernel<uint8_t, int8_t, int32_t>(Au, Bs, std::nullopt,
                                                 outAttrs("i32"));
  }
}

TEST_CASE("QConv is within one step of ONNX's float definition",
          "[quant][ops]") {
  // ONNX QLinearConv: dequantize, convolve in real arithmetic, quantize
  // rounding half to even. The fixed-point multiplier differs from the
  // real one by < 2^-31 relative, so only near-ties may round the other
  // way.
  TensorType XT(DType::U8, {1, 4, 9, 9}, perTensor(0.0235f, 117));
  TensorType WT(DType::I8, {6, 4, 3, 3}, perChannel(6, DType::I8, 9));
  Tensor X = randomQuant(XT, 21), W = randomQuant(WT, 22);
  Tensor B = i32({6}, {100, -2000, 0, 77, 31000, -5});
  AttrMap A = outAttrs("u8", 0.0731f, 120);
  A.set("pads", Ints{1, 1, 1, 1});
  OpRun R = runOp(OpKind::QConv, {X, W, B}, A);
  REQUIRE_FALSE(R.Error);
  const Tensor &Y = R.Results[0];
  int Differ = 0;
  for (int64_t M = 0; M < 6; ++M)
    for (int64_t OH = 0; OH < 9; ++OH)
      for (int64_t OW = 0; OW < 9; ++OW) {
        double Sum = double(B.data<int32_t>()[size_t(M)]) * 0.0235f *
                     WT.Quant->Scale[size_t(M)];
        for (int64_t C = 0; C < 4; ++C)
          for (int64_t KH = 0; KH < 3; ++KH)
            for (int64_t KW = 0; KW < 3; ++KW) {
              int64_t IH = OH - 1 + KH, IW = OW - 1 + KW;
              if (IH < 0 || IH >= 9 || IW < 0 || IW >= 9)
                continue;
              double XV =
                  (X.getAsInt(((C * 9) + IH) * 9 + IW) - 117) * double(0.0235f);
              double WV = (W.getAsInt(((M * 4 + C) * 3 + KH) * 3 + KW) -
                           WT.Quant->ZeroPoint[size_t(M)]) *
                          double(WT.Quant->Scale[size_t(M)]);
              Sum += XV * WV;
            }
        double Q = std::nearbyint(Sum / double(0.0731f)) + 120;
        Q = std::clamp(Q, 0.0, 255.0);
        int64_t Got = Y.getAsInt((M * 9 + OH) * 9 + OW);
        INFO("channel " << M << " at " << OH << "," << OW);
        CHECK(std::fabs(double(Got) - Q) <= 1);
        Differ += double(Got) != Q;
      }
  CHECK(Differ <= 2);
}

namespace {

/// "[v0, v1, ...]" of \p N random integers in [Lo, Hi].
std::string randomInts(int64_t N, int64_t Lo, int64_t Hi, uint32_t Seed) {
  std::mt19937 Gen(Seed);
  std::uniform_int_distribution<int64_t> D(Lo, Hi);
  std::vector<int64_t> V;
  for (int64_t I = 0; I < N; ++I)
    V.push_back(D(Gen));
  return fmt::format("[{}]", fmt::join(V, ", "));
}

} // namespace

TEST_CASE("fold-qdq computes the QDQ model to within one output step",
          "[quant][passes]") {
  // conv (per-channel weights, bias in s_x * s_w units) + ReLU, depthwise
  // conv + ReLU6, a Reshape between Q/DQ pairs (on the codes once folded),
  // and a Linear (Gemm with transB) whose bias is quantized with its own
  // scale.
  std::string Text =
      fmt::format(R"(graph @qdq {{
  input %x : f32[1,4,9,9]
  param %c1.w : i8[6,4,3,3]<axis 0: 0.011:0, 0.02:0, 0.005:0, 0.04:0, 0.013:0, 0.031:0> = {}
  param %c1.b : i32[6]<axis 0: 0.00055:0, 0.001:0, 0.00025:0, 0.002:0, 0.00065:0, 0.00155:0> = [100, -2000, 0, 7, 30000, -5]
  param %c2.w : i8[6,1,3,3]<0.02:3> = {}
  param %fc.w : i8[5,54]<axis 0: 0.01:0, 0.02:0, 0.015:0, 0.03:0, 0.025:0> = {}
  param %fc.b : i32[5]<0.0003:0> = [1000, -7, 250, 0, -31000]
  %xq = QuantizeLinear "qx"(%x) {{to = "u8", scale = [0.05], zero_point = [120]}} : u8[1,4,9,9]<0.05:120>
  %xd = DequantizeLinear "dqx"(%xq) : f32[1,4,9,9]
  %w1 = DequantizeLinear "dqw1"(%c1.w) : f32[6,4,3,3]
  %b1 = DequantizeLinear "dqb1"(%c1.b) : f32[6]
  %c1 = Conv "c1"(%xd, %w1, %b1) {{pads = [1, 1, 1, 1]}} : f32[1,6,9,9]
  %r1 = Relu "r1"(%c1) : f32[1,6,9,9]
  %h1 = QuantizeLinear "q1"(%r1) {{to = "i8", scale = [0.07], zero_point = [-100]}} : i8[1,6,9,9]<0.07:-100>
  %h1d = DequantizeLinear "dq1"(%h1) : f32[1,6,9,9]
  %w2 = DequantizeLinear "dqw2"(%c2.w) : f32[6,1,3,3]
  %c2 = Conv "c2"(%h1d, %w2) {{group = 6, pads = [1, 1, 1, 1], strides = [3, 3]}} : f32[1,6,3,3]
  %r2 = Clip "r2"(%c2) {{min = 0.0, max = 6.0}} : f32[1,6,3,3]
  %h2 = QuantizeLinear "q2"(%r2) {{to = "u8", scale = [0.03], zero_point = [0]}} : u8[1,6,3,3]<0.03:0>
  %h2d = DequantizeLinear "dq2"(%h2) : f32[1,6,3,3]
  %f = Reshape "flat"(%h2d) {{shape = [1, 54]}} : f32[1,54]
  %fq = QuantizeLinear "qf"(%f) {{to = "u8", scale = [0.03], zero_point = [0]}} : u8[1,54]<0.03:0>
  %fd = DequantizeLinear "dqf"(%fq) : f32[1,54]
  %wf = DequantizeLinear "dqwf"(%fc.w) : f32[5,54]
  %bf = DequantizeLinear "dqbf"(%fc.b) : f32[5]
  %g = Gemm "fc"(%fd, %wf, %bf) {{transB = 1}} : f32[1,5]
  %yq = QuantizeLinear "qy"(%g) {{to = "i8", scale = [0.05], zero_point = [2]}} : i8[1,5]<0.05:2>
  %y = DequantizeLinear "dqy"(%yq) : f32[1,5]
  %h1o = DequantizeLinear "dqh1o"(%h1) : f32[1,6,9,9]
  output %y
  output %h1o
}})",
                  randomInts(216, -128, 127, 1), randomInts(54, -128, 127, 2),
                  randomInts(270, -128, 127, 3));
  Expected<std::unique_ptr<Graph>> G = parseGraph(Text);
  Expected<std::unique_ptr<Graph>> FoldedG = parseGraph(Text);
  REQUIRE(G);
  REQUIRE(FoldedG);
  Graph *Folded = FoldedG->get();
  PassContext Ctx;
  Expected<bool> Changed = runPass(*lookupPass("fold-qdq"), *Folded, Ctx);
  REQUIRE(Changed);
  CHECK(*Changed);
  int QConvs = 0, QMatMuls = 0, Floats = 0;
  for (const auto &N : Folded->nodes()) {
    QConvs += N->op() == OpKind::QConv;
    QMatMuls += N->op() == OpKind::QMatMul;
    Floats += N->op() == OpKind::Conv || N->op() == OpKind::Gemm;
  }
  CHECK(QConvs == 2);
  CHECK(QMatMuls == 1);
  CHECK(Floats == 0);
  for (uint32_t Seed : {1u, 2u, 3u}) {
    INFO("input seed " << Seed);
    std::map<std::string, Tensor> Feeds = {
        {"x", randomF32({1, 4, 9, 9}, Seed, -4, 4)}};
    Expected<std::vector<Tensor>> Want = interpret(**G, Feeds);
    Expected<std::vector<Tensor>> Got = interpret(*Folded, Feeds);
    REQUIRE(Want);
    REQUIRE(Got);
    const float Steps[] = {0.05f, 0.07f};
    for (size_t O = 0; O < 2; ++O) {
      auto W = (*Want)[O].data<float>(), Gt = (*Got)[O].data<float>();
      int Differ = 0;
      for (size_t I = 0; I < W.size(); ++I) {
        INFO("output " << O << " element " << I);
        CHECK(std::fabs(W[I] - Gt[I]) <= Steps[O] * 1.0001f);
        Differ += W[I] != Gt[I];
      }
      // Only sums next to a rounding boundary may land on the other side.
      CHECK(Differ * 50 <= int(W.size()));
    }
  }
}

namespace {

/// "[v0, v1, ...]" of \p N random floats in [Lo, Hi).
std::string randomFloats(int64_t N, float Lo, float Hi, uint32_t Seed) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<float> D(Lo, Hi);
  std::vector<std::string> V;
  for (int64_t I = 0; I < N; ++I)
    V.push_back(fmt::format("{}", D(Gen)));
  return fmt::format("[{}]", fmt::join(V, ", "));
}

/// A float MobileNet-like block: conv + ReLU, depthwise + ReLU6, pointwise,
/// a residual Add, global average pooling and a Linear.
std::string floatNetText() {
  return fmt::format(
      R"(graph @net {{
  input %x : f32[1,3,12,12]
  param %c1.weight : f32[8,3,3,3] = {}
  param %c1.bias : f32[8] = {}
  param %dw.weight : f32[8,1,3,3] = {}
  param %dw.bias : f32[8] = {}
  param %pw.weight : f32[8,8,1,1] = {}
  param %fc.weight : f32[4,8] = {}
  param %fc.bias : f32[4] = {}
  %c1 = Conv "c1"(%x, %c1.weight, %c1.bias) {{pads = [1, 1, 1, 1], strides = [2, 2]}} : f32[1,8,6,6]
  %r1 = Relu "r1"(%c1) : f32[1,8,6,6]
  %dw = Conv "dw"(%r1, %dw.weight, %dw.bias) {{group = 8, pads = [1, 1, 1, 1]}} : f32[1,8,6,6]
  %r2 = Clip "r2"(%dw) {{min = 0.0, max = 6.0}} : f32[1,8,6,6]
  %pw = Conv "pw"(%r2, %pw.weight) : f32[1,8,6,6]
  %s = Add "res"(%pw, %r1) : f32[1,8,6,6]
  %p = GlobalAveragePool "gap"(%s) : f32[1,8,1,1]
  %f = Reshape "flat"(%p) {{shape = [1, 8]}} : f32[1,8]
  %y = Gemm "fc"(%f, %fc.weight, %fc.bias) {{transB = 1}} : f32[1,4]
  output %y
}})",
      randomFloats(216, -0.4f, 0.4f, 11), randomFloats(8, -0.2f, 0.2f, 12),
      randomFloats(72, -0.5f, 0.5f, 13), randomFloats(8, -0.1f, 0.3f, 14),
      randomFloats(64, -0.4f, 0.4f, 15), randomFloats(32, -0.6f, 0.6f, 16),
      randomFloats(4, -0.1f, 0.1f, 17));
}

} // namespace

TEST_CASE("quantize makes a float model int8 with calibrated ranges",
          "[quant][passes]") {
  std::string Text = floatNetText();
  Expected<std::unique_ptr<Graph>> F = parseGraph(Text);
  Expected<std::unique_ptr<Graph>> QG = parseGraph(Text);
  REQUIRE(F);
  REQUIRE(QG);
  Graph &Q = **QG;
  PassContext Ctx;
  Ctx.Quantize.Int8 = true;
  for (uint32_t S = 0; S < 24; ++S)
    Ctx.Quantize.Calibration.push_back(
        {{"x", randomF32({1, 3, 12, 12}, 100 + S, -1, 1)}});
  for (const char *Pass : {"quantize", "fold-qdq"}) {
    Expected<bool> Changed = runPass(*lookupPass(Pass), Q, Ctx);
    REQUIRE(Changed);
    CHECK(*Changed);
  }
  // Every layer is an integer op; the Add, pool and Reshape stay float
  // between DequantizeLinear and QuantizeLinear.
  std::map<OpKind, int> Ops;
  for (const auto &N : Q.nodes())
    ++Ops[N->op()];
  CHECK(Ops[OpKind::QConv] == 3);
  CHECK(Ops[OpKind::QMatMul] == 1);
  CHECK(Ops[OpKind::Conv] == 0);
  CHECK(Ops[OpKind::Gemm] == 0);
  CHECK(Ops[OpKind::Relu] == 0);
  CHECK(Ops[OpKind::Clip] == 0);
  CHECK(Ops[OpKind::Add] == 1);
  // The parameters keep their names: int8 weights per output channel
  // (symmetric: zero point 0, the largest |w| at 127), int32 biases at
  // s_x * s_w[c]; the Linear's weight is transposed for QMatMul.
  const Value *W = Q.lookup("c1.weight");
  REQUIRE(W);
  CHECK(W->isParam());
  CHECK(W->type().Elem == DType::I8);
  REQUIRE(W->type().Quant);
  CHECK(W->type().Quant->Axis == 0);
  CHECK(W->type().Quant->ZeroPoint == std::vector<int32_t>(8, 0));
  int64_t Largest = 0;
  for (int64_t I = 0; I < 27; ++I) // channel 0
    Largest = std::max(Largest, std::abs(W->data()->getAsInt(I)));
  CHECK(Largest == 127);
  const Value *B = Q.lookup("c1.bias");
  REQUIRE(B);
  CHECK(B->type().Elem == DType::I32);
  const Value *FcW = Q.lookup("fc.weight");
  REQUIRE(FcW);
  CHECK(FcW->type().str().starts_with("i8[8,4]<axis 1:"));
  // The int8 model computes the float one closely: within 3% of the
  // largest logit on inputs it was not calibrated on.
  for (uint32_t S = 0; S < 8; ++S) {
    INFO("input seed " << S);
    std::map<std::string, Tensor> Feeds = {
        {"x", randomF32({1, 3, 12, 12}, 500 + S, -1, 1)}};
    Expected<std::vector<Tensor>> Want = interpret(**F, Feeds);
    Expected<std::vector<Tensor>> Got = interpret(Q, Feeds);
    REQUIRE(Want);
    REQUIRE(Got);
    auto Wv = (*Want)[0].data<float>(), Gv = (*Got)[0].data<float>();
    float Scale = 0;
    for (float V : Wv)
      Scale = std::max(Scale, std::fabs(V));
    for (size_t I = 0; I < Wv.size(); ++I) {
      INFO("logit " << I << ": float " << Wv[I] << " int8 " << Gv[I]);
      CHECK(std::fabs(Wv[I] - Gv[I]) <= 0.03f * Scale);
    }
  }
}

TEST_CASE("quantize needs calibration samples", "[quant][passes]") {
  Expected<std::unique_ptr<Graph>> G = parseGraph(floatNetText());
  REQUIRE(G);
  PassContext Ctx;
  CHECK_FALSE(*runPass(*lookupPass("quantize"), **G, Ctx)); // not asked
  Ctx.Quantize.Int8 = true;
  Expected<bool> R = runPass(*lookupPass("quantize"), **G, Ctx);
  REQUIRE_FALSE(R);
  CHECK(R.error().Message ==
        "--quantize int8 needs calibration samples (--calibration)");
}

TEST_CASE("before training, the layers a gradient passes through keep "
          "their QDQ form (or stay float with --quantized-update float)",
          "[quant][passes]") {
  auto Run = [](std::vector<std::string> Rules, QuantizedUpdate Mode) {
    Expected<std::unique_ptr<Graph>> G = parseGraph(floatNetText());
    REQUIRE(G);
    PassContext Ctx;
    Ctx.Quantize.Int8 = true;
    Ctx.Training = true;
    Ctx.Train.Quantized = Mode;
    for (const std::string &R : Rules)
      Ctx.Train.Update.push_back(*parseUpdateRule(R));
    for (uint32_t S = 0; S < 4; ++S)
      Ctx.Quantize.Calibration.push_back(
          {{"x", randomF32({1, 3, 12, 12}, 100 + S, -1, 1)}});
    Expected<bool> Q = runPass(*lookupPass("quantize"), **G, Ctx);
    std::map<OpKind, int> Ops;
    if (!Q)
      return std::pair{std::move(Ops), Q.error().Message};
    Expected<bool> F = runPass(*lookupPass("fold-qdq"), **G, Ctx);
    REQUIRE(F);
    for (const auto &N : (*G)->nodes())
      ++Ops[N->op()];
    // Quantized or not, the weights keep their names.
    for (const char *W : {"fc.weight", "dw.weight"})
      CHECK((*G)->lookup(W) != nullptr);
    return std::pair{std::move(Ops), std::string()};
  };
  for (QuantizedUpdate Mode : {QuantizedUpdate::Qas, QuantizedUpdate::Float}) {
    // In QDQ form the classifier reads its input, weight and bias through
    // DequantizeLinear; with --quantized-update float only its input and
    // the first float island's (the pooling's) input are.
    int Qdq = Mode == QuantizedUpdate::Float ? 0 : 3;
    // The classifier trains: the three convs before it are integer ops.
    auto [Fc, E1] = Run({"fc.*"}, Mode);
    CHECK(E1.empty());
    CHECK(Fc[OpKind::QConv] == 3);
    CHECK(Fc[OpKind::Gemm] == 1);
    CHECK(Fc[OpKind::DequantizeLinear] == 2 + Qdq);
    // The depthwise conv's weight trains: the pointwise conv and the
    // classifier pass its gradient back and stay float (or QDQ); the first
    // conv, before it, is int8.
    auto [Dw, E2] = Run({"dw.weight"}, Mode);
    CHECK(E2.empty());
    CHECK(Dw[OpKind::QConv] == 1);
    CHECK(Dw[OpKind::Conv] == 2);
    CHECK(Dw[OpKind::Gemm] == 1);
    // A full update: every layer in QDQ form, or nothing left to quantize.
    auto [All, E3] = Run({}, Mode);
    if (Mode == QuantizedUpdate::Float) {
      CHECK(E3 == "--quantize int8 --train --quantized-update float: every "
                  "layer trains or passes a gradient back, so none is left "
                  "to quantize; train fewer (--update selects them)");
    } else {
      CHECK(E3.empty());
      CHECK(All[OpKind::QConv] == 0);
      CHECK(All[OpKind::Conv] == 3);
    }
  }
}

TEST_CASE("quantize quantizes a parameter several layers share once",
          "[quant][passes]") {
  // Two 1x1 convs with one weight and one (all-zero) bias, as exporters
  // merge equal initializers.
  std::string Text = fmt::format(R"(graph @shared {{
  input %x : f32[1,4,5,5]
  param %w : f32[4,4,1,1] = {}
  param %b : f32[4] = [0.0, 0.0, 0.0, 0.0]
  %c1 = Conv "c1"(%x, %w, %b) : f32[1,4,5,5]
  %r1 = Relu "r1"(%c1) : f32[1,4,5,5]
  %c2 = Conv "c2"(%r1, %w, %b) : f32[1,4,5,5]
  %y = Relu "r2"(%c2) : f32[1,4,5,5]
  output %y
}})",
                                 randomFloats(16, -0.5f, 0.5f, 31));
  Expected<std::unique_ptr<Graph>> F = parseGraph(Text);
  Expected<std::unique_ptr<Graph>> QG = parseGraph(Text);
  REQUIRE(F);
  REQUIRE(QG);
  PassContext Ctx;
  Ctx.Quantize.Int8 = true;
  for (uint32_t S = 0; S < 8; ++S)
    Ctx.Quantize.Calibration.push_back(
        {{"x", randomF32({1, 4, 5, 5}, 200 + S, -1, 1)}});
  for (const char *Pass : {"quantize", "fold-qdq"}) {
    Expected<bool> Changed = runPass(*lookupPass(Pass), **QG, Ctx);
    REQUIRE(Changed);
  }
  REQUIRE(verifyGraph(**QG));
  int QConvs = 0;
  for (const auto &N : (*QG)->nodes())
    QConvs += N->op() == OpKind::QConv;
  CHECK(QConvs == 2);
  const Value *W = (*QG)->lookup("w");
  REQUIRE(W);
  CHECK(W->type().Elem == DType::I8);
  CHECK((*QG)->users(W).size() == 2);
  std::map<std::string, Tensor> Feeds = {
      {"x", randomF32({1, 4, 5, 5}, 300, -1, 1)}};
  Expected<std::vector<Tensor>> Want = interpret(**F, Feeds);
  Expected<std::vector<Tensor>> Got = interpret(**QG, Feeds);
  REQUIRE(Want);
  REQUIRE(Got);
  auto Wv = (*Want)[0].data<float>(), Gv = (*Got)[0].data<float>();
  float Scale = 0;
  for (float V : Wv)
    Scale = std::max(Scale, std::fabs(V));
  for (size_t I = 0; I < Wv.size(); ++I)
    CHECK(std::fabs(Wv[I] - Gv[I]) <= 0.05f * Scale);
}
