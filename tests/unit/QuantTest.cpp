//===- QuantTest.cpp - Quantized types, QuantizeLinear, DequantizeLinear --===//
//
// The quantized tensor types of the IR (printing, parsing, validity), the
// semantics compiler/Quant.h states (rounding half to even, saturation,
// NaN and infinities), the two border ops' type rules and values, the
// refusal of quantized operands by ops that know nothing of quantization,
// and the kernels of runtime-stub/mote_rt/quant.h bit for bit against the
// interpreter.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "QuantTestUtil.h"

#include "compiler/Parser.h"
#include "compiler/Printer.h"
#include "compiler/Quant.h"
#include "mote_rt/activation_grad.h"
#include "mote_rt/conv_grad.h"
#include "mote_rt/quant.h"

#include <bit>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <random>

using namespace mote;
using namespace mote::test;

namespace {

AttrMap quantizeAttrs(const char *To, Floats Scale, Ints Zp) {
  return attrs({{"to", std::string(To)},
                {"scale", std::move(Scale)},
                {"zero_point", std::move(Zp)}});
}

constexpr float Inf = std::numeric_limits<float>::infinity();
constexpr float NaN = std::numeric_limits<float>::quiet_NaN();

} // namespace

TEST_CASE("quantized types print their parameters and check them",
          "[quant][ir]") {
  CHECK(TensorType(DType::I8, {2, 3}, perTensor(0.05f, -3)).str() ==
        "i8[2,3]<0.05:-3>");
  CHECK(TensorType(DType::U8, {2, 3}, {0, {0.1f, 0.25f}, {0, 128}}).str() ==
        "u8[2,3]<axis 0: 0.1:0, 0.25:128>");
  CHECK(TensorType(DType::I8, {2, 3}).str() == "i8[2,3]");

  TensorType Ok(DType::I8, {2, 3}, {1, {1, 2, 3}, {0, -128, 127}});
  CHECK(Ok.isValid());
  CHECK(Ok.isQuantized());
  CHECK(Ok.storage() == TensorType(DType::I8, {2, 3}));
  CHECK(Ok.sameStorage(TensorType(DType::I8, {2, 3})));
  CHECK_FALSE(Ok.sameStorage(TensorType(DType::U8, {2, 3})));
  CHECK(Ok != Ok.storage());

  struct Bad {
    TensorType T;
    std::string Why;
  };
  const Bad Cases[] = {
      {TensorType(DType::F32, {2}, perTensor(1, 0)),
       "f32 cannot be quantized (only i8, u8 and i32 can)"},
      {TensorType(DType::I8, {2}, {1, {1}, {0}}),
       "quantization axis 1 is out of range for rank 1"},
      {TensorType(DType::I8, {2, 3}, {1, {1, 2}, {0, 0}}),
       "2 scales and 2 zero points where 3 are needed"},
      {TensorType(DType::I8, {2, 0}, {1, {}, {}}),
       "quantization axis 1 has no indices"},
      {TensorType(DType::I8, {2}, {-1, {1}, {}}),
       "1 scales and 0 zero points where 1 is needed"},
      {TensorType(DType::I8, {2}, perTensor(0, 0)),
       "scale 0 is not a finite number > 0"},
      {TensorType(DType::I8, {2}, perTensor(-1, 0)),
       "scale -1 is not a finite number > 0"},
      {TensorType(DType::I8, {2}, perTensor(Inf, 0)),
       "scale inf is not a finite number > 0"},
      {TensorType(DType::I8, {2}, perTensor(NaN, 0)),
       "scale nan is not a finite number > 0"},
      {TensorType(DType::I8, {2}, perTensor(1, 128)),
       "zero point 128 is outside the range of i8"},
      {TensorType(DType::U8, {2}, perTensor(1, -1)),
       "zero point -1 is outside the range of u8"},
  };
  for (const Bad &B : Cases) {
    INFO(B.T.str());
    CHECK_FALSE(B.T.isValid());
    CHECK(B.T.invalidReason() == B.Why);
  }
  // i32 (biases, accumulators) takes any 32-bit zero point.
  CHECK(TensorType(DType::I32, {2}, perTensor(1e-6f, INT32_MIN)).isValid());
}

TEST_CASE("quantized types parse back to the same floats", "[quant][ir]") {
  std::mt19937 Gen(7);
  std::uniform_real_distribution<double> Exp(-30, 10);
  for (int K = 0; K < 200; ++K) {
    float S = float(std::pow(10.0, Exp(Gen)));
    TensorType T(DType::I8, {1, 2, 2},
                 {1, {S, std::nextafter(S, Inf)}, {-128, 127}});
    std::string Text = fmt::format("graph @g {{\n  input %x : {}\n  %y = "
                                   "DequantizeLinear \"dq\"(%x) : f32[1,2,2]"
                                   "\n  output %y\n}}\n",
                                   T.str());
    Expected<std::unique_ptr<Graph>> G = parseGraph(Text);
    REQUIRE(G);
    const TensorType &Back = (*G)->inputs()[0]->type();
    REQUIRE(Back.Quant);
    CHECK(std::bit_cast<uint32_t>(Back.Quant->Scale[0]) ==
          std::bit_cast<uint32_t>(S));
    CHECK(Back == T);
    CHECK(printGraph(**G) == Text);
  }

  struct BadText {
    const char *Type;
    const char *Error;
  };
  const BadText Cases[] = {
      {"i8[2]<0.5>", "expected ':' between a scale and its zero point"},
      {"i8[2]<0.5:1", "expected '>' after the quantization parameters"},
      {"i8[2]<0.5:1.5>", "a zero point must be a 32-bit integer"},
      {"i8[2]<axis -1: 0.5:1>", "the quantization axis must be a dim index"},
      {"i8[2]<axis 0 0.5:1>", "expected ':' after the quantization axis"},
      {"f32[2]<0.5:0>",
       "type f32[2]<0.5:0> is invalid: f32 cannot be quantized (only i8, u8 "
       "and i32 can)"},
      {"i8[2]<axis 0: 0.5:0>",
       "type i8[2]<axis 0: 0.5:0> is invalid: 1 scales and 1 zero points "
       "where 2 are needed"},
      {"u8[2]<0.5:256>",
       "type u8[2]<0.5:256> is invalid: zero point 256 is outside the range "
       "of u8"},
  };
  for (const BadText &C : Cases) {
    INFO(C.Type);
    Expected<std::unique_ptr<Graph>> G =
        parseGraph(fmt::format("graph @g {{\n  input %x : {}\n}}", C.Type));
    REQUIRE_FALSE(G);
    CHECK(G.error().Message == C.Error);
  }
}

TEST_CASE("quantizing rounds half to even, saturates and maps NaN to the "
          "zero point",
          "[quant]") {
  auto Q8 = [](float X, float S, int32_t Z) {
    return quantizeValue(X, S, Z, -128, 127);
  };
  CHECK(Q8(1, 2, 0) == 0);   // 0.5
  CHECK(Q8(3, 2, 0) == 2);   // 1.5
  CHECK(Q8(5, 2, 0) == 2);   // 2.5
  CHECK(Q8(-1, 2, 0) == 0);  // -0.5
  CHECK(Q8(-3, 2, 0) == -2); // -1.5
  CHECK(Q8(-5, 2, 0) == -2); // -2.5
  CHECK(Q8(std::nextafter(1.0f, 2.0f), 2, 0) == 1);
  CHECK(Q8(0.49999997f, 1, 0) == 0);
  CHECK(Q8(-0.0f, 1, 5) == 5);
  CHECK(Q8(1000, 2, 0) == 127);
  CHECK(Q8(-1000, 2, 0) == -128);
  CHECK(Q8(126.6f, 1, 1) == 127);
  CHECK(Q8(Inf, 1, 0) == 127);
  CHECK(Q8(-Inf, 1, 0) == -128);
  CHECK(Q8(NaN, 1, -7) == -7);
  CHECK(Q8(1e-45f, 1e-45f, 0) == 1); // subnormals divide exactly
  // The division is float32: 0.3f / 0.1f is 3.0000002f in float (rounds to
  // 3), 2.9999999999999996 in double; both give 3, but 0.25f / 0.1f is
  // 2.5f in float (ties to 2) and 2.4999999627... in double.
  CHECK(Q8(0.25f, 0.1f, 0) == 2);
  CHECK(quantizeValue(1000, 2, 128, 0, 255) == 255);
  CHECK(quantizeValue(-254, 2, 128, 0, 255) == 1);
  CHECK(quantizeValue(3e9f, 1, 0, INT32_MIN, INT32_MAX) == INT32_MAX);
  CHECK(quantizeValue(1e9f, 1, 0, INT32_MIN, INT32_MAX) == 1000000000);

  CHECK(dequantizeValue(0, 2, 128) == -256.0f);
  CHECK(dequantizeValue(255, 2, 128) == 254.0f);
  CHECK(dequantizeValue(INT32_MIN, 1, INT32_MAX) == -4294967295.0f);
  CHECK(dequantizeValue(-128, 0.1f, 127) == float(-255) * 0.1f);
}

TEST_CASE("QuantizeLinear quantizes per tensor and per axis", "[quant][ops]") {
  Tensor X = f32({6}, {0, 2, 3, 1000, -254, -1000});
  OpRun R = runOp(OpKind::QuantizeLinear, {X}, quantizeAttrs("u8", {2}, {128}));
  REQUIRE_FALSE(R.Error);
  CHECK(R.Types[0] == TensorType(DType::U8, {6}, perTensor(2, 128)));
  CHECK(R.Results[0].toInts() == Ints{128, 129, 130, 255, 1, 0});

  // ONNX's test_quantizelinear_axis: [1, 3, 3, 2] along axis 1.
  Tensor XA = f32({1, 3, 3, 2}, {-162, 10, -100, 232, -20, -50, -76, 0, 0, 252,
                                 32, -44, 245, -485, -960, -270, -375, -470});
  AttrMap A = quantizeAttrs("u8", {2, 4, 5}, {84, 24, 196});
  A.set("axis", int64_t(-3));
  R = runOp(OpKind::QuantizeLinear, {XA}, A);
  REQUIRE_FALSE(R.Error);
  CHECK(R.Types[0] ==
        TensorType(DType::U8, {1, 3, 3, 2}, {1, {2, 4, 5}, {84, 24, 196}}));
  CHECK(R.Results[0].toInts() == Ints{3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32,
                                      13, 245, 99, 4, 142, 121, 102});

  R = runOp(OpKind::QuantizeLinear, {f32({2}, {-1.5f, 1.5f})},
            quantizeAttrs("i8", {1}, {-128}));
  REQUIRE_FALSE(R.Error);
  CHECK(R.Results[0].toInts() == Ints{-128, -126});

  CHECK(errorOf(OpKind::QuantizeLinear, {X}, quantizeAttrs("i32", {2}, {0})) ==
        "to must be \"i8\" or \"u8\", got \"i32\"");
  CHECK(errorOf(OpKind::QuantizeLinear, {X}, quantizeAttrs("u8", {2}, {256})) ==
        "zero point 256 is outside the range of u8");
  CHECK(errorOf(OpKind::QuantizeLinear, {X}, quantizeAttrs("u8", {0}, {0})) ==
        "scale 0 is not a finite number > 0");
  CHECK(
      errorOf(OpKind::QuantizeLinear, {X}, quantizeAttrs("u8", {1, 2}, {0})) ==
      "2 scales but 1 zero points");
  CHECK(errorOf(OpKind::QuantizeLinear, {XA},
                quantizeAttrs("u8", {1, 2, 3}, {0, 0, 0})) ==
        "3 scales without an axis (one scale quantizes the whole tensor; "
        "several need `axis`)");
  A.set("axis", int64_t(3));
  CHECK(errorOf(OpKind::QuantizeLinear, {XA}, A) ==
        "3 scales for the 2 indices of axis 3");
  A.set("axis", int64_t(4));
  CHECK(errorOf(OpKind::QuantizeLinear, {XA}, A) ==
        "axis 4 is out of range for rank 4");
  CHECK(errorOf(OpKind::QuantizeLinear, {i32({2}, {1, 2})},
                quantizeAttrs("u8", {2}, {0})) ==
        "quantizes f32 tensors, not i32[2]");
}

TEST_CASE("DequantizeLinear reads the parameters of its operand's type",
          "[quant][ops]") {
  TensorType T(DType::U8, {4}, perTensor(2, 128));
  OpRun R =
      runOp(OpKind::DequantizeLinear, {quantized(T, {0, 3, 128, 255})}, {});
  REQUIRE_FALSE(R.Error);
  CHECK(R.Types[0] == TensorType(DType::F32, {4}));
  checkF32(R.Results[0], {4}, {-256, -250, 0, 254}, 0);

  TensorType PerAxis(DType::I8, {2, 2}, {1, {0.5f, 0.25f}, {-1, 3}});
  R = runOp(OpKind::DequantizeLinear, {quantized(PerAxis, {-128, 127, 0, 3})},
            {});
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 2}, {-63.5f, 31, 0.5f, 0}, 0);

  TensorType Bias(DType::I32, {2}, perTensor(1e-3f, 0));
  R = runOp(OpKind::DequantizeLinear,
            {quantized(Bias, {double(INT32_MAX), -1500})}, {});
  REQUIRE_FALSE(R.Error);
  CHECK(R.Results[0].data<float>()[0] == float(INT32_MAX) * 1e-3f);
  CHECK(R.Results[0].data<float>()[1] == -1500.0f * 1e-3f);

  CHECK(errorOf(OpKind::DequantizeLinear, {i32({2}, {1, 2})}, {}) ==
        "operand i32[2] has no quantization parameters; DequantizeLinear "
        "reads its scale and zero point from the operand's type");
}

TEST_CASE("ops that know nothing of quantization refuse quantized operands",
          "[quant][ops]") {
  TensorType T(DType::I8, {2}, perTensor(0.5f, 0));
  Tensor Q = quantized(T, {1, 2});
  CHECK(errorOf(OpKind::Add, {Q, Q}, {}) ==
        "operand 0 ('in0') is quantized (i8[2]<0.5:0>), which Add does not "
        "take; dequantize it first");
  CHECK(errorOf(OpKind::Cast, {Q}, attrs({{"to", std::string("f32")}})) ==
        "operand 0 ('in0') is quantized (i8[2]<0.5:0>), which Cast does not "
        "take; dequantize it first");
  // The same integers without parameters are plain integers.
  CHECK_FALSE(
      runOp(OpKind::Add, {Q.retyped(T.storage()), Q.retyped(T.storage())}, {})
          .Error);
}

namespace {

/// Floats that probe every branch of quantize: ties, values next to ties,
/// signed zeros, subnormals, saturation, infinities and NaN.
std::vector<float> edgeValues() {
  std::vector<float> V = {
      0.0f, -0.0f, 1e-45f, -1e-45f,    1e-38f,      Inf,        -Inf, NaN,
      -NaN, 3e38f, -3e38f, 4194304.0f, -4194304.0f, 8388608.5f, 1e7f, -1e7f};
  for (int K = -700; K <= 700; ++K) {
    float X = float(K) * 0.125f; // every tie of scale 0.25 and 0.5
    V.push_back(X);
    V.push_back(std::nextafter(X, Inf));
    V.push_back(std::nextafter(X, -Inf));
  }
  return V;
}

template <class T> void checkQuantizeKernel(const Tensor &X, const AttrMap &A) {
  LoweredOp L = lowerOp(OpKind::QuantizeLinear, {X}, A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "quantize_linear");
  auto P = paramsAs<mote_rt::QuantP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  mote_rt::quantize_linear<T>(P, L.in<float>(0), Y.data());
  checkSame(L.Run.Results[0], Y);
}

template <class T> void checkDequantizeKernel(const Tensor &Q) {
  LoweredOp L = lowerOp(OpKind::DequantizeLinear, {Q});
  REQUIRE_FALSE(L.LowerError);
  auto P = paramsAs<mote_rt::QuantP>(L.Call);
  std::vector<float> Y(L.outElems(0));
  mote_rt::dequantize_linear<T>(P, L.in<T>(0), Y.data());
  auto W = L.Run.Results[0].data<float>();
  for (size_t I = 0; I < Y.size(); ++I) {
    INFO("element " << I);
    CHECK(std::bit_cast<uint32_t>(Y[I]) == std::bit_cast<uint32_t>(W[I]));
  }
}

} // namespace

TEST_CASE("quantize_linear matches the interpreter bit for bit",
          "[quant][kernel]") {
  std::vector<float> V = edgeValues();
  Tensor X = f32({int64_t(V.size())}, V);
  for (float S : {0.25f, 0.5f, 0.1f, 1.0f, 3.7e-5f, 1e-45f, 3e38f}) {
    INFO("scale " << S);
    checkQuantizeKernel<int8_t>(X, quantizeAttrs("i8", {S}, {0}));
    checkQuantizeKernel<int8_t>(X, quantizeAttrs("i8", {S}, {-128}));
    checkQuantizeKernel<int8_t>(X, quantizeAttrs("i8", {S}, {127}));
    checkQuantizeKernel<uint8_t>(X, quantizeAttrs("u8", {S}, {0}));
    checkQuantizeKernel<uint8_t>(X, quantizeAttrs("u8", {S}, {131}));
  }
  // Per axis, odd extents on every side of the axis.
  Tensor XA = randomF32({3, 5, 7}, 11, -40, 40);
  AttrMap A = quantizeAttrs("i8", {0.1f, 0.25f, 0.3f, 0.5f, 1.0f},
                            {-3, 0, 5, 127, -128});
  A.set("axis", int64_t(1));
  checkQuantizeKernel<int8_t>(XA, A);
  A = quantizeAttrs("u8", {0.1f, 0.2f, 0.3f}, {0, 128, 255});
  A.set("axis", int64_t(0));
  checkQuantizeKernel<uint8_t>(XA, A);
  A = quantizeAttrs("u8", Floats(7, 0.15f), Ints{1, 2, 3, 4, 5, 6, 7});
  A.set("axis", int64_t(-1));
  checkQuantizeKernel<uint8_t>(XA, A);
}

TEST_CASE("dequantize_linear matches the interpreter bit for bit",
          "[quant][kernel]") {
  std::vector<double> All8, AllU8;
  for (int K = -128; K <= 127; ++K)
    All8.push_back(K);
  for (int K = 0; K <= 255; ++K)
    AllU8.push_back(K);
  for (float S : {0.1f, 0.0039215689f, 1e-45f, 3e38f}) {
    INFO("scale " << S);
    for (int32_t Z : {-128, 0, 127})
      checkDequantizeKernel<int8_t>(
          quantized(TensorType(DType::I8, {256}, perTensor(S, Z)), All8));
    for (int32_t Z : {0, 128, 255})
      checkDequantizeKernel<uint8_t>(
          quantized(TensorType(DType::U8, {256}, perTensor(S, Z)), AllU8));
  }
  std::vector<double> I32s = {double(INT32_MIN), -16777217,        -1, 0, 1,
                              16777217,          double(INT32_MAX)};
  for (int32_t Z : {INT32_MIN, 0, 7, INT32_MAX})
    checkDequantizeKernel<int32_t>(quantized(
        TensorType(DType::I32, {int64_t(I32s.size())}, perTensor(1e-4f, Z)),
        I32s));
  checkDequantizeKernel<int8_t>(quantized(
      TensorType(DType::I8, {2, 3, 1}, {1, {0.5f, 0.1f, 2}, {1, 0, -1}}),
      {-128, -1, 0, 1, 2, 127}));
}

TEST_CASE("SgdUpdate moves a quantized parameter by whole steps",
          "[quant][ops][train]") {
  // Real value 0.5 q; d = lr * g * K rounded half to even, saturated.
  TensorType T(DType::I8, {4}, perTensor(0.5f, 0));
  Tensor X = quantized(T, {10, -10, 127, -128});
  Tensor G = f32({4}, {0.25f, -0.3f, -10, 10});
  AttrMap A;
  A.set("lr", 1.0f);
  // QAS: K = 1 / 0.5, d = {0.5, -0.6, -20, 20}.
  OpRun R = runOp(OpKind::SgdUpdate, {X, G}, A);
  REQUIRE_FALSE(R.Error);
  CHECK(R.Types[0] == T);
  CHECK(R.Results[0].toInts() == Ints{10, -9, 127, -128});
  // Without scaling, K = 0.5: the steps are a quarter as long.
  A.set("scaling", std::string("none"));
  A.set("lr", 4.0f);
  R = runOp(OpKind::SgdUpdate, {X, G}, A);
  REQUIRE_FALSE(R.Error);
  CHECK(R.Results[0].toInts() == Ints{10, -9, 127, -128});
  A.set("lr", 1.0f);
  R = runOp(OpKind::SgdUpdate, {X, G}, A);
  REQUIRE_FALSE(R.Error);
  CHECK(R.Results[0].toInts() == Ints{10, -10, 127, -128});

  // Per channel with a zero point, the first channel only, momentum state
  // in steps (f32).
  TensorType C(DType::I32, {2, 2}, QuantParams{0, {0.1f, 0.01f}, {5, 0}});
  Tensor XC = quantized(C, {5, 15, 100, -100});
  AttrMap M;
  M.set("lr", 0.5f);
  M.set("alpha", 0.5f);
  M.set("beta", 1.0f);
  M.set("norm_coefficient", 1.0f);
  M.set("axis", int64_t(0));
  M.set("channels", int64_t(1));
  // Channel 0: r = {0, 1}; g' = g + r = {1, 3}; steps g' / 0.1 = {10, 30};
  // V' = 0.5 {2, 4} + {10, 30} = {11, 32}; d = {5.5, 16} -> {6, 16}.
  R = runOp(OpKind::MomentumUpdate,
            {XC, f32({1, 2}, {1, 2}), f32({2, 2}, {2, 4, 8, 8})}, M, 2);
  REQUIRE_FALSE(R.Error);
  CHECK(R.Results[0].toInts() == Ints{-1, -1, 100, -100});
  auto V = R.Results[1].data<float>();
  CHECK(std::vector<float>(V.begin(), V.end()) == Floats{11, 32, 8, 8});

  CHECK(errorOf(OpKind::SgdUpdate, {X, X}, A) ==
        "gradient is i8[4]<0.5:0> but the parameter is i8[4]<0.5:0>");
  AttrMap Lr;
  Lr.set("lr", 1.0f);
  AttrMap F = Lr;
  F.set("scaling", std::string("qas"));
  CHECK(errorOf(OpKind::SgdUpdate, {G, G}, F) ==
        "scaling applies to quantized parameters only");
  A.set("scaling", std::string("half"));
  CHECK(errorOf(OpKind::SgdUpdate, {X, G}, A) ==
        "scaling must be \"qas\" or \"none\", got \"half\"");
  CHECK(errorOf(OpKind::AdamUpdate,
                {X, G, f32({4}, {0, 0, 0, 0}), f32({4}, {0, 0, 0, 0}),
                 Tensor::fromVector<int64_t>({1}, {})},
                Lr, 3) == "Adam does not update the quantized parameter "
                      "i8[4]<0.5:0>; use SGD or momentum");
}

TEST_CASE("mask gradients read saved codes as their real values",
          "[quant][ops][train][kernel]") {
  // u8 codes, scale 0.5, zero point 10: real value (q - 10) / 2.
  TensorType T(DType::U8, {2, 3, 2, 2}, perTensor(0.5f, 10));
  std::vector<double> Codes;
  for (int K = 0; K < 24; ++K)
    Codes.push_back(K % 2 ? 9 + K / 2 : 255 - 20 * (K / 2)); // both sides
  Tensor Q = quantized(T, Codes);
  Tensor DY = randomF32({2, 3, 2, 2}, 3);
  Tensor Real = dequantizeTensor(Q);

  // The interpreter takes the mask of the real values.
  auto Same = [](const Tensor &A, const Tensor &B) {
    auto X = A.data<float>(), Y = B.data<float>();
    return std::vector<float>(X.begin(), X.end()) ==
           std::vector<float>(Y.begin(), Y.end());
  };
  OpRun RQ = runOp(OpKind::ReluGrad, {DY, Q});
  OpRun RF = runOp(OpKind::ReluGrad, {DY, Real});
  REQUIRE_FALSE(RQ.Error);
  CHECK(Same(RQ.Results[0], RF.Results[0]));
  AttrMap C;
  C.set("min", 0.5f);
  C.set("max", 3.0f);
  RQ = runOp(OpKind::ClipGrad, {DY, Q}, C);
  RF = runOp(OpKind::ClipGrad, {DY, Real}, C);
  REQUIRE_FALSE(RQ.Error);
  CHECK(Same(RQ.Results[0], RF.Results[0]));
  AttrMap S;
  S.set("activation", std::string("Clip"));
  S.set("activation_min", 0.5f);
  S.set("activation_max", 3.0f);
  RQ = runOp(OpKind::ActivationGradSum, {DY, Q}, S, 2);
  RF = runOp(OpKind::ActivationGradSum, {DY, Real}, S, 2);
  REQUIRE_FALSE(RQ.Error);
  CHECK(Same(RQ.Results[0], RF.Results[0]));
  CHECK(Same(RQ.Results[1], RF.Results[1]));

  // The kernels test the codes: (0.5, 3) is (11, 16) here.
  CHECK(codeInterval(T, 0.5, 3.0) == std::pair<int64_t, int64_t>{11, 16});
  CHECK(codeInterval(T, 0.0, std::nullopt) ==
        std::pair<int64_t, int64_t>{10, 256});
  CHECK(codeInterval(T, -100.0, 1000.0) ==
        std::pair<int64_t, int64_t>{-1, 256});
  LoweredOp L = lowerOp(OpKind::ClipGrad, {DY, Q}, C);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "mask_grad_q");
  std::vector<float> DX(L.outElems(0));
  mote_rt::mask_grad_q<float, uint8_t>(paramsAs<mote_rt::MaskQP>(L.Call),
                                        L.in<float>(0), L.in<uint8_t>(1),
                                        DX.data());
  checkSame(L.Run.Results[0], DX, 0, 0);
  L = lowerOp(OpKind::ActivationGradSum, {DY, Q}, S, 2);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "activation_grad_sum_q");
  std::vector<float> DB(L.outElems(1));
  mote_rt::activation_grad_sum_q<float, uint8_t>(
      paramsAs<mote_rt::ActGradSumP>(L.Call), L.in<float>(0),
      L.in<uint8_t>(1), DX.data(), DB.data());
  checkSame(L.Run.Results[0], DX, 0, 0);
  checkSame(L.Run.Results[1], DB);

  // The 1-bit mask of the codes (pack-masks): the same tests, on the codes
  // in the kernel, and MaskGrad on it gives the same dX.
  LoweredOp M = lowerOp(OpKind::ActivationMask, {Q}, S);
  REQUIRE_FALSE(M.LowerError);
  CHECK(M.Call.Kernel == "mask_pack_q");
  std::vector<uint8_t> Mask(M.outElems(0));
  CHECK(Mask.size() == 3);
  mote_rt::mask_pack_q<uint8_t>(paramsAs<mote_rt::MaskQP>(M.Call),
                                M.in<uint8_t>(0), Mask.data());
  CHECK(std::vector<uint8_t>(M.Run.Results[0].data<uint8_t>().begin(),
                             M.Run.Results[0].data<uint8_t>().end()) == Mask);
  OpRun RM = runOp(OpKind::MaskGrad, {DY, M.Run.Results[0]});
  REQUIRE_FALSE(RM.Error);
  CHECK(Same(RM.Results[0], RF.Results[0]));

  // Other activation gradients, and per-channel or i32 codes, refuse them.
  CHECK(errorOf(OpKind::SigmoidGrad, {DY, Q}, {}) ==
        "the saved value u8[2,3,2,2]<0.5:10> is quantized; only the masks of "
        "ReLU and Clip read codes");
  TensorType A(DType::I8, {2, 3, 2, 2}, QuantParams{1, {1, 2, 3}, {0, 0, 0}});
  CHECK(errorOf(OpKind::ReluGrad, {DY, Tensor(A)}, {}).find(
            "a quantized one must be i8 or u8 of the f32 gradient's shape, "
            "one scale") != std::string::npos);
}

TEST_CASE("ConvGradInput reads a quantized weight in every geometry",
          "[quant][ops][train][kernel]") {
  // dY [2, 6, 3, 5], W [6, 4, 1, 1] per output channel with zero points.
  Tensor DY = randomF32({2, 6, 3, 5}, 8);
  std::vector<double> Codes;
  for (int K = 0; K < 24; ++K)
    Codes.push_back((K * 37) % 255 - 127);
  TensorType T(DType::I8, {6, 4, 1, 1},
               QuantParams{0, {0.1f, 0.2f, 0.05f, 0.3f, 0.01f, 1.5f},
                           {0, 3, -2, 0, 127, -128}});
  Tensor W = quantized(T, Codes);
  AttrMap A;
  A.set("input_shape", Shape{2, 4, 3, 5});
  OpRun RQ = runOp(OpKind::ConvGradInput, {DY, W}, A);
  OpRun RF = runOp(OpKind::ConvGradInput, {DY, dequantizeTensor(W)}, A);
  REQUIRE_FALSE(RQ.Error);
  auto X = RQ.Results[0].data<float>(), Y = RF.Results[0].data<float>();
  CHECK(std::vector<float>(X.begin(), X.end()) ==
        std::vector<float>(Y.begin(), Y.end()));
  LoweredOp L = lowerOp(OpKind::ConvGradInput, {DY, W}, A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "conv_grad_input_q");
  std::vector<float> DX(L.outElems(0));
  mote_rt::conv_grad_input_q<float, int8_t>(
      paramsAs<mote_rt::QConvGradInputP>(L.Call), L.in<float>(0),
      L.in<int8_t>(1), DX.data());
  checkSame(L.Run.Results[0], DX);

  // Grouped too (two groups of 2 input and 3 output channels).
  A.set("group", int64_t(2));
  Tensor WG = quantized(TensorType(DType::U8, {6, 2, 1, 1}, perTensor(0.25f, 128)),
                        std::vector<double>(Codes.begin(), Codes.begin() + 12));
  for (size_t I = 0; I < 12; ++I)
    WG.setFromDouble(int64_t(I), Codes[I] + 128);
  L = lowerOp(OpKind::ConvGradInput, {DY, WG}, A);
  REQUIRE_FALSE(L.LowerError);
  mote_rt::conv_grad_input_q<float, uint8_t>(
      paramsAs<mote_rt::QConvGradInputP>(L.Call), L.in<float>(0),
      L.in<uint8_t>(1), DX.data());
  checkSame(L.Run.Results[0], DX);

  // Any other geometry too: the kernel's walks read each weight
  // dequantized (3x3 padded, the register blocks; depthwise at stride 1
  // and 2, the window loops; strided and dilated, the tap loops).
  struct Case {
    const char *What;
    Shape W, X;
    int64_t Group, Stride, Dilation, Pad;
  };
  const Case Cases[] = {
      {"3x3 padded", {6, 4, 3, 3}, {2, 4, 3, 5}, 1, 1, 1, 1},
      {"depthwise", {6, 1, 3, 3}, {2, 6, 3, 5}, 6, 1, 1, 1},
      {"depthwise stride 2", {6, 1, 3, 3}, {2, 6, 5, 9}, 6, 2, 1, 1},
      {"grouped 3x1 stride 2 dilated", {6, 2, 3, 1}, {2, 6, 9, 5}, 3, 2, 2, 0},
  };
  for (const Case &K : Cases) {
    INFO(K.What);
    AttrMap A3;
    A3.set("input_shape", K.X);
    A3.set("group", K.Group);
    A3.set("strides", std::vector<int64_t>{K.Stride, K.Stride});
    A3.set("dilations", std::vector<int64_t>{K.Dilation, K.Dilation});
    A3.set("pads", std::vector<int64_t>(4, K.Pad));
    int64_t OH = (K.X[2] + 2 * K.Pad - K.Dilation * (K.W[2] - 1) - 1) /
                     K.Stride + 1,
            OW = (K.X[3] + 2 * K.Pad - K.Dilation * (K.W[3] - 1) - 1) /
                     K.Stride + 1;
    Tensor DY3 = randomF32({2, 6, OH, OW}, 9);
    TensorType T3(DType::I8, K.W, *T.Quant);
    std::vector<double> C3;
    for (int64_t I = 0; I < T3.numElements(); ++I)
      C3.push_back(double((I * 53) % 255 - 127));
    Tensor W3 = quantized(T3, C3);
    OpRun R3 = runOp(OpKind::ConvGradInput, {DY3, W3}, A3);
    OpRun F3 = runOp(OpKind::ConvGradInput, {DY3, dequantizeTensor(W3)}, A3);
    REQUIRE_FALSE(R3.Error);
    REQUIRE_FALSE(F3.Error);
    auto RX = R3.Results[0].data<float>(), FX = F3.Results[0].data<float>();
    CHECK(std::vector<float>(RX.begin(), RX.end()) ==
          std::vector<float>(FX.begin(), FX.end()));
    LoweredOp L3 = lowerOp(OpKind::ConvGradInput, {DY3, W3}, A3);
    REQUIRE_FALSE(L3.LowerError);
    CHECK(L3.Call.Kernel == "conv_grad_input_q");
    std::vector<float> DX3(L3.outElems(0));
    mote_rt::conv_grad_input_q<float, int8_t>(
        paramsAs<mote_rt::QConvGradInputP>(L3.Call), L3.in<float>(0),
        L3.in<int8_t>(1), DX3.data());
    // Float sums of weights up to 1.5 * 255 against the interpreter's
    // double ones.
    checkSame(L3.Run.Results[0], DX3, 1e-5, 2e-3);
    // And the float kernel on the dequantized weight gives the same sums.
    LoweredOp LF = lowerOp(OpKind::ConvGradInput, {DY3, dequantizeTensor(W3)},
                           A3);
    REQUIRE_FALSE(LF.LowerError);
    std::vector<float> DXF(LF.outElems(0));
    mote_rt::conv_grad_input<float>(paramsAs<mote_rt::ConvP>(LF.Call),
                                    LF.in<float>(0), LF.in<float>(1),
                                    DXF.data());
    CHECK(DXF == DX3);
  }
}
