//===- QPoolTest.cpp - Integer pooling and addition -----------------------===//
//
// MaxPool on quantized codes, QAveragePool and QAdd
// (compiler/ops/quant/QPool.cpp, compiler/ops/nn/Pool.cpp): their type rules,
// their values on hand-computed cases (ties to even, saturation, zero
// points, padded borders with count_include_pad 0 and 1), the kernels of
// runtime-stub/mote_rt/qpool.h and pool.h bit for bit against the
// interpreter, and a QDQ graph of them before and after fold-qdq (its
// rewrites: tests/ir/fold-qdq-pool.mote).
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "QuantTestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Parser.h"
#include "compiler/Quant.h"
#include "mote_rt/qpool.h"
#include "passes/Pass.h"

#include <cmath>
#include <map>
#include <random>

using namespace mote;
using namespace mote::test;

namespace {

/// The result attributes of an integer op: to, scale, zero point.
AttrMap resultAttrs(const char *To, float Scale, int64_t Zp, AttrMap A = {}) {
  A.set("to", std::string(To));
  A.set("scale", Floats{Scale});
  A.set("zero_point", Ints{Zp});
  return A;
}

/// Tensor of codes \p V of type \p E [Dims] quantized with \p Q.
Tensor codes(DType E, Shape Dims, QuantParams Q, std::vector<double> V) {
  return quantized(TensorType(E, std::move(Dims), std::move(Q)), std::move(V));
}

/// The result of \p Op as doubles.
std::vector<double> valuesOf(OpKind Op, std::vector<std::optional<Tensor>> In,
                             AttrMap A) {
  OpRun R = runOp(Op, std::move(In), std::move(A));
  REQUIRE_FALSE(R.Error);
  std::vector<double> V;
  for (int64_t I = 0; I < R.Results[0].numElements(); ++I)
    V.push_back(double(R.Results[0].getAsInt(I)));
  return V;
}

/// Random codes of type \p E [Dims] quantized with \p Q.
Tensor randomCodes(DType E, Shape Dims, QuantParams Q, uint32_t Seed) {
  Tensor T(TensorType(E, std::move(Dims), std::move(Q)));
  std::mt19937 Gen(Seed);
  std::uniform_int_distribution<int64_t> D(quantMin(E), quantMax(E));
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setFromDouble(I, double(D(Gen)));
  return T;
}

} // namespace

TEST_CASE("QAdd adds through one shared shift, rounding half to even",
          "[quant][ops]") {
  QuantParams Half = perTensor(0.5f, 0);
  // 0.5 + 0 = 0.5 -> 0 and 1.5 -> 2 at scale 1 (ties to even), -0.5 -> 0.
  Tensor A = codes(DType::I8, {5}, Half, {1, 3, 1, -1, -3});
  Tensor B = codes(DType::I8, {5}, Half, {0, 0, 2, 0, 0});
  CHECK(valuesOf(OpKind::QAdd, {A, B}, resultAttrs("i8", 1.0f, 0)) ==
        std::vector<double>{0, 2, 2, 0, -2});
  // Zero points: (12 - 10) * 0.5 + 4 * 0.25 = 2 -> 2 / 0.5 + 20 = 24;
  // 58.5 + 63.75 -> 244.5 (a tie: 244) + 20 saturates to 255, -69 + 0 ->
  // -138 + 20 to 0; a clamp narrows the codes.
  Tensor AZ = codes(DType::I8, {3}, perTensor(0.5f, 10), {12, 127, -128});
  Tensor BZ = codes(DType::U8, {3}, perTensor(0.25f, 0), {4, 255, 0});
  CHECK(valuesOf(OpKind::QAdd, {AZ, BZ}, resultAttrs("u8", 0.5f, 20)) ==
        std::vector<double>{24, 255, 0});
  AttrMap Cl = resultAttrs("u8", 0.5f, 20);
  Cl.set("clamp", Ints{25, 100});
  CHECK(valuesOf(OpKind::QAdd, {AZ, BZ}, Cl) ==
        std::vector<double>{25, 100, 25});
  // The smaller multiplier rounds at the larger one's shift.
  Expected<SumMultipliers> M = sumMultipliers(0.75, 0.1);
  REQUIRE(M);
  CHECK(M->A == 0x60000000);
  CHECK(M->Shift == 31);
  CHECK(M->B == int32_t(std::nearbyint(0.1 * 2147483648.0)));
}

TEST_CASE("QAdd's type rule names what it refuses", "[quant][ops]") {
  Tensor A = codes(DType::I8, {2, 2}, perTensor(0.5f, 0), {1, 2, 3, 4});
  Tensor B = codes(DType::I8, {2, 1}, perTensor(0.5f, 0), {1, 2});
  CHECK(errorOf(OpKind::QAdd, {A, B}, resultAttrs("i8", 1.0f, 0)) ==
        "a [2, 2] and b [2, 1] must have one shape (QAdd does not broadcast)");
  Tensor P = codes(DType::I8, {2, 2}, {1, {0.5f, 0.25f}, {0, 0}}, {1, 2, 3, 4});
  CHECK_THAT(errorOf(OpKind::QAdd, {A, P}, resultAttrs("i8", 1.0f, 0)),
             Catch::Contains("must be quantized per tensor"));
  Tensor F = f32({2, 2}, {1, 2, 3, 4});
  CHECK_THAT(errorOf(OpKind::QAdd, {A, F}, resultAttrs("i8", 1.0f, 0)),
             Catch::Contains("operand b must be i8 or u8"));
  CHECK_THAT(errorOf(OpKind::QAdd, {A, A}, resultAttrs("i32", 1.0f, 0)),
             Catch::Contains("to must be \"i8\" or \"u8\""));
  CHECK_THAT(errorOf(OpKind::QAdd, {A, A}, resultAttrs("i8", 1e-10f, 0)),
             Catch::Contains("2^31 or more"));
}

TEST_CASE("QAveragePool requantizes each window's sum by its divisor",
          "[quant][ops]") {
  QuantParams One = perTensor(1.0f, 0);
  // Ties to even: 1.5 -> 2, 3, 1.5 -> 2, -1.5 -> -2.
  Tensor X = codes(DType::I8, {1, 1, 1, 5}, One, {1, 2, 4, -1, -2});
  CHECK(valuesOf(OpKind::QAveragePool, {X},
                 resultAttrs("i8", 1.0f, 0,
                             attrs({{"kernel_shape", Ints{1, 2}}}))) ==
        std::vector<double>{2, 3, 2, -2});
  // Padded borders: the taps inside (9 / 2 = 4.5 -> 4, 15 / 2 = 7.5 -> 8)
  // or the whole window (9 / 3, 15 / 3).
  Tensor XP = codes(DType::I8, {1, 1, 1, 3}, One, {3, 6, 9});
  AttrMap Pad =
      attrs({{"kernel_shape", Ints{1, 3}}, {"pads", Ints{0, 1, 0, 1}}});
  CHECK(valuesOf(OpKind::QAveragePool, {XP}, resultAttrs("i8", 1.0f, 0, Pad)) ==
        std::vector<double>{4, 6, 8});
  Pad.set("count_include_pad", int64_t(1));
  CHECK(valuesOf(OpKind::QAveragePool, {XP}, resultAttrs("i8", 1.0f, 0, Pad)) ==
        std::vector<double>{3, 6, 5});
  // Zero points and saturation: (110 + 130) / 2 * 0.5 = 60 is 240 steps of
  // 0.25: 127 in i8, 255 in u8 past its zero point 20.
  Tensor XZ = codes(DType::I8, {1, 1, 1, 2}, perTensor(0.5f, -10), {100, 120});
  AttrMap K = attrs({{"kernel_shape", Ints{1, 2}}});
  CHECK(valuesOf(OpKind::QAveragePool, {XZ}, resultAttrs("i8", 0.25f, 0, K)) ==
        std::vector<double>{127});
  CHECK(valuesOf(OpKind::QAveragePool, {XZ}, resultAttrs("u8", 0.25f, 20, K)) ==
        std::vector<double>{255});
  CHECK(valuesOf(OpKind::QAveragePool, {XZ}, resultAttrs("u8", 1.0f, 20, K)) ==
        std::vector<double>{80});
  // The global window: 11 / 4 = 2.75 -> 3.
  Tensor XG = codes(DType::U8, {1, 1, 2, 2}, perTensor(1.0f, 0), {1, 2, 3, 5});
  CHECK(valuesOf(OpKind::QAveragePool, {XG},
                 resultAttrs("u8", 1.0f, 0,
                             attrs({{"kernel_shape", Ints{2, 2}}}))) ==
        std::vector<double>{3});
  CHECK_THAT(errorOf(OpKind::QAveragePool, {f32({1, 1, 1, 2}, {1, 2})},
                     resultAttrs("i8", 1.0f, 0, K)),
             Catch::Contains("input X must be i8 or u8"));
}

TEST_CASE("MaxPool takes quantized codes, padding below every code",
          "[quant][ops]") {
  AttrMap A = attrs({{"kernel_shape", Ints{2, 2}},
                     {"pads", Ints{1, 1, 1, 1}},
                     {"strides", Ints{2, 2}}});
  Tensor X = codes(DType::I8, {1, 1, 2, 3}, perTensor(0.1f, -5),
                   {-100, -90, -80, -70, -60, -50});
  OpRun R = runOp(OpKind::MaxPool, {X}, A);
  REQUIRE_FALSE(R.Error);
  CHECK(R.Types[0] == TensorType(DType::I8, {1, 1, 2, 2}, perTensor(0.1f, -5)));
  CHECK(valuesOf(OpKind::MaxPool, {X}, A) ==
        std::vector<double>{-100, -80, -70, -50});
  Tensor P = codes(DType::I8, {1, 2, 1, 1}, {1, {0.5f, 0.25f}, {0, 0}}, {1, 2});
  CHECK_THAT(
      errorOf(OpKind::MaxPool, {P}, attrs({{"kernel_shape", Ints{1, 1}}})),
      Catch::Contains("must be quantized per tensor"));
}

TEST_CASE("qavg_pool, qadd and max_pool on codes match the interpreter",
          "[quant][kernel]") {
  struct PoolCase {
    const char *Name;
    Shape Dims;
    AttrMap Attrs;
  };
  std::vector<PoolCase> Cases = {
      {"3x3 pad 1",
       {1, 3, 7, 6},
       attrs({{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}})},
      {"3x3 pad 1 include pad",
       {2, 2, 5, 6},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"pads", Ints{1, 1, 1, 1}},
              {"count_include_pad", int64_t(1)}})},
      {"2x2 stride 2 ceil",
       {1, 2, 7, 7},
       attrs({{"kernel_shape", Ints{2, 2}},
              {"strides", Ints{2, 2}},
              {"ceil_mode", int64_t(1)}})},
      {"global 4x4", {1, 5, 4, 4}, attrs({{"kernel_shape", Ints{4, 4}}})},
      {"1-D 5 asymmetric pads",
       {1, 2, 11},
       attrs({{"kernel_shape", Ints{5}}, {"pads", Ints{2, 1}}})},
  };
  uint32_t Seed = 1;
  for (const PoolCase &C : Cases) {
    INFO(C.Name);
    Tensor X8 = randomCodes(DType::I8, C.Dims, perTensor(0.037f, -11), Seed++);
    Tensor XU = randomCodes(DType::U8, C.Dims, perTensor(0.02f, 131), Seed++);
    {
      LoweredOp L = lowerOp(OpKind::QAveragePool, {X8},
                            resultAttrs("i8", 0.041f, 3, C.Attrs));
      REQUIRE_FALSE(L.LowerError);
      CHECK(L.Call.Kernel == "qavg_pool");
      std::vector<int8_t> Y(L.outElems(0));
      mote_rt::qavg_pool<int8_t, int8_t>(paramsAs<mote_rt::QAvgPoolP>(L.Call),
                                         L.in<int8_t>(0), Y.data());
      checkSame(L.Run.Results[0], Y);
    }
    {
      AttrMap A = resultAttrs("i8", 0.013f, -20, C.Attrs);
      A.set("clamp", Ints{-20, 100});
      LoweredOp L = lowerOp(OpKind::QAveragePool, {XU}, A);
      REQUIRE_FALSE(L.LowerError);
      std::vector<int8_t> Y(L.outElems(0));
      mote_rt::qavg_pool<uint8_t, int8_t>(paramsAs<mote_rt::QAvgPoolP>(L.Call),
                                          L.in<uint8_t>(0), Y.data());
      checkSame(L.Run.Results[0], Y);
    }
    if (!C.Attrs.has("count_include_pad")) {
      LoweredOp L = lowerOp(OpKind::MaxPool, {XU}, C.Attrs);
      REQUIRE_FALSE(L.LowerError);
      std::vector<uint8_t> Y(L.outElems(0));
      mote_rt::max_pool<uint8_t>(paramsAs<mote_rt::PoolP>(L.Call),
                                 L.in<uint8_t>(0), Y.data());
      checkSame(L.Run.Results[0], Y);
    }
  }
  // qadd over every pair of codes of two scales, and random pairs.
  std::vector<double> All8, AllU8;
  for (int I = -128; I < 128; ++I)
    for (int J = -128; J < 128; ++J) {
      All8.push_back(I);
      AllU8.push_back(J + 128);
    }
  int64_t N = int64_t(All8.size());
  Tensor A = codes(DType::I8, {N}, perTensor(0.05f, -3), All8);
  Tensor B = codes(DType::U8, {N}, perTensor(0.075f, 128), AllU8);
  for (auto [S, Z] : {std::pair{0.1f, 0}, {0.05f, -128}, {0.3f, 7}}) {
    INFO("output scale " << S << " zero point " << Z);
    LoweredOp L = lowerOp(OpKind::QAdd, {A, B}, resultAttrs("i8", S, Z));
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "qadd");
    std::vector<int8_t> Y(L.outElems(0));
    mote_rt::qadd<int8_t, uint8_t, int8_t>(paramsAs<mote_rt::QAddP>(L.Call),
                                           L.in<int8_t>(0), L.in<uint8_t>(1),
                                           Y.data());
    checkSame(L.Run.Results[0], Y);
  }
  Tensor RA = randomCodes(DType::U8, {1, 4, 9, 9}, perTensor(0.011f, 5), 90);
  Tensor RB = randomCodes(DType::U8, {1, 4, 9, 9}, perTensor(0.9f, 250), 91);
  AttrMap Cl = resultAttrs("u8", 0.6f, 17);
  Cl.set("clamp", Ints{17, 200});
  LoweredOp L = lowerOp(OpKind::QAdd, {RA, RB}, Cl);
  REQUIRE_FALSE(L.LowerError);
  std::vector<uint8_t> Y(L.outElems(0));
  mote_rt::qadd<uint8_t, uint8_t, uint8_t>(paramsAs<mote_rt::QAddP>(L.Call),
                                           L.in<uint8_t>(0), L.in<uint8_t>(1),
                                           Y.data());
  checkSame(L.Run.Results[0], Y);
}

TEST_CASE("fold-qdq computes pooling and residual Adds to within one step",
          "[quant][passes]") {
  // MaxPool, AveragePool with padding (count_include_pad 0 and 1),
  // GlobalAveragePool + Flatten, a residual Add + ReLU, between Q/DQ pairs.
  const char *Text = R"(graph @qdq {
  input %x : f32[1,3,9,10]
  input %y : f32[1,3,9,10]
  %xq = QuantizeLinear "qx"(%x) {to = "i8", scale = [0.05], zero_point = [-3]} : i8[1,3,9,10]<0.05:-3>
  %xd = DequantizeLinear "dqx"(%xq) : f32[1,3,9,10]
  %yq = QuantizeLinear "qy"(%y) {to = "u8", scale = [0.031], zero_point = [7]} : u8[1,3,9,10]<0.031:7>
  %yd = DequantizeLinear "dqy"(%yq) : f32[1,3,9,10]
  %m = MaxPool "max"(%xd) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]} : f32[1,3,5,5]
  %mq = QuantizeLinear "qm"(%m) {to = "i8", scale = [0.05], zero_point = [-3]} : i8[1,3,5,5]<0.05:-3>
  %mo = DequantizeLinear "dqm"(%mq) : f32[1,3,5,5]
  %a = AveragePool "avg"(%xd) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f32[1,3,9,10]
  %aq = QuantizeLinear "qa"(%a) {to = "i8", scale = [0.043], zero_point = [2]} : i8[1,3,9,10]<0.043:2>
  %ao = DequantizeLinear "dqa"(%aq) : f32[1,3,9,10]
  %b = AveragePool "avgpad"(%xd) {kernel_shape = [2, 3], pads = [1, 0, 1, 2], strides = [2, 2], count_include_pad = 1} : f32[1,3,5,5]
  %bq = QuantizeLinear "qb"(%b) {to = "u8", scale = [0.02], zero_point = [0]} : u8[1,3,5,5]<0.02:0>
  %bo = DequantizeLinear "dqb"(%bq) : f32[1,3,5,5]
  %g = GlobalAveragePool "gap"(%xd) : f32[1,3,1,1]
  %gf = Flatten "flat"(%g) : f32[1,3]
  %gq = QuantizeLinear "qg"(%gf) {to = "i8", scale = [0.001], zero_point = [1]} : i8[1,3]<0.001:1>
  %go = DequantizeLinear "dqg"(%gq) : f32[1,3]
  %s = Add "add"(%xd, %yd) : f32[1,3,9,10]
  %r = Relu "relu"(%s) : f32[1,3,9,10]
  %sq = QuantizeLinear "qs"(%r) {to = "i8", scale = [0.06], zero_point = [-128]} : i8[1,3,9,10]<0.06:-128>
  %so = DequantizeLinear "dqs"(%sq) : f32[1,3,9,10]
  output %mo
  output %ao
  output %bo
  output %go
  output %so
})";
  Expected<std::unique_ptr<Graph>> G = parseGraph(Text);
  Expected<std::unique_ptr<Graph>> Folded = parseGraph(Text);
  REQUIRE(G);
  REQUIRE(Folded);
  PassContext Ctx;
  Expected<bool> Changed = runPass(*lookupPass("fold-qdq"), **Folded, Ctx);
  REQUIRE(Changed);
  CHECK(*Changed);
  for (const auto &N : (*Folded)->nodes()) {
    INFO(N->name());
    CHECK(N->op() != OpKind::AveragePool);
    CHECK(N->op() != OpKind::GlobalAveragePool);
    CHECK(N->op() != OpKind::Add);
    CHECK((N->op() != OpKind::MaxPool || N->inType(0).isQuantized()));
  }
  const float Steps[] = {0.05f, 0.043f, 0.02f, 0.001f, 0.06f};
  for (uint32_t Seed : {1u, 2u, 3u}) {
    INFO("input seed " << Seed);
    std::map<std::string, Tensor> Feeds = {
        {"x", randomF32({1, 3, 9, 10}, Seed, -7, 7)},
        {"y", randomF32({1, 3, 9, 10}, Seed + 10, -4, 6)}};
    Expected<std::vector<Tensor>> Want = interpret(**G, Feeds);
    Expected<std::vector<Tensor>> Got = interpret(**Folded, Feeds);
    REQUIRE(Want);
    REQUIRE(Got);
    for (size_t O = 0; O < 5; ++O) {
      auto W = (*Want)[O].data<float>(), Gt = (*Got)[O].data<float>();
      int Differ = 0;
      for (size_t I = 0; I < W.size(); ++I) {
        INFO("output " << O << " element " << I);
        CHECK(std::fabs(W[I] - Gt[I]) <= Steps[O] * 1.0001f);
        Differ += W[I] != Gt[I];
      }
      // Only values next to a rounding boundary may land on the other side.
      CHECK(Differ * 20 <= int(W.size()));
    }
  }
}
