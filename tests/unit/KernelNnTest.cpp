//===- KernelNnTest.cpp - runtime-stub nn kernels vs interpreter ----------===//
//
// Conv (general, depthwise and pointwise kernels) and its backward ops,
// Gemm, MatMul, batch and layer normalization and their backward ops, and
// the pooling ops and their backward ops: each lowered and run through its
// runtime-stub kernel on several shapes and attribute combinations, and
// compared with the reference interpreter. The kernels accumulate in float
// where the interpreter accumulates in double, hence the looser tolerance of
// checkClose; max pooling computes no arithmetic and must match exactly.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "QuantTestUtil.h"

#include "mote_rt/conv.h"
#include "mote_rt/conv_grad.h"
#include "mote_rt/gemm.h"
#include "mote_rt/norm.h"
#include "mote_rt/pool.h"

#include <cmath>
#include <limits>

using namespace mote;
using namespace mote::test;

namespace {

using Ints = std::vector<int64_t>;


/// Float kernel output against the interpreter's double-accumulated result.
void checkClose(const Tensor &Want, const std::vector<float> &Got) {
  checkSame(Want, Got, 1e-4, 2e-5);
}

/// Bit-for-bit equal values (NaN equals NaN): for kernels without arithmetic.
void checkExact(const Tensor &Want, const std::vector<float> &Got) {
  auto W = Want.data<float>();
  REQUIRE(W.size() == Got.size());
  for (size_t I = 0; I < Got.size(); ++I) {
    INFO("element " << I << ": want " << W[I] << ", got " << Got[I]);
    CHECK((W[I] == Got[I] || (std::isnan(W[I]) && std::isnan(Got[I]))));
  }
}

/// f64 tensor of \p Dims with deterministic values uniform in [Lo, Hi).
Tensor randomF64(Shape Dims, uint32_t Seed, double Lo = -1, double Hi = 1) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<double> D(Lo, Hi);
  Tensor T(TensorType(DType::F64, Dims));
  for (double &V : T.data<double>())
    V = D(Gen);
  return T;
}

/// The result type of \p Op on \p Inputs (from the interpreter).
Shape resultShape(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
                  AttrMap A) {
  OpRun R = runOp(Op, std::move(Inputs), std::move(A));
  REQUIRE_FALSE(R.Error);
  return R.Types[0].Dims;
}

//===----------------------------------------------------------------------===//
// Conv
//===----------------------------------------------------------------------===//

struct ConvCase {
  const char *Name;
  Shape X, W;
  bool Bias;
  AttrMap Attrs;
  const char *Kernel; ///< the forward kernel the lowering must pick
};

std::vector<ConvCase> convCases() {
  return {
      {"1x1 pointwise", {2, 6, 5, 4}, {4, 6, 1, 1}, true, {}, "conv_pointwise"},
      // No padding: every tap reaches every output, so the forward applies
      // a fused activation in its last tap's pass (channel blocks of 4 and
      // 2, and one input channel).
      {"5x5 valid, 6 input channels", {2, 6, 9, 10}, {7, 6, 5, 5}, true, {},
       "conv"},
      {"one input channel 5x5 valid stride 2",
       {1, 1, 11, 12},
       {6, 1, 5, 5},
       true,
       attrs({{"strides", Ints{2, 2}}}),
       "conv_depthwise"},
      {"1x1 pointwise grouped",
       {1, 6, 3, 3},
       {4, 3, 1, 1},
       true,
       attrs({{"group", int64_t(2)}}),
       "conv_pointwise"},
      {"1x1 stride 2",
       {1, 3, 5, 5},
       {2, 3, 1, 1},
       true,
       attrs({{"strides", Ints{2, 2}}}),
       "conv"},
      {"3x3 pad 1 stride 2",
       {2, 3, 7, 6},
       {5, 3, 3, 3},
       true,
       attrs({{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}}),
       "conv"},
      {"depthwise 3x3 pad 1",
       {1, 4, 6, 6},
       {4, 1, 3, 3},
       true,
       attrs({{"group", int64_t(4)}, {"pads", Ints{1, 1, 1, 1}}}),
       "conv_depthwise"},
      // The whole-window depthwise loops (3x3, one channel per group):
      // no padding (rows of dX beyond dY's), stride 2 (forward only),
      // dilation with asymmetric pads, and a plane no row of which all
      // kernel rows reach.
      {"depthwise 3x3 valid batch 2",
       {2, 3, 6, 5},
       {3, 1, 3, 3},
       false,
       attrs({{"group", int64_t(3)}}),
       "conv_depthwise"},
      {"depthwise 3x3 stride 2 pad 1",
       {1, 2, 7, 6},
       {2, 1, 3, 3},
       true,
       attrs({{"group", int64_t(2)},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}}),
       "conv_depthwise"},
      // Stride 2 input gradient gathered per plane (convGradInputStrided):
      // no padding, asymmetric and wide pads, odd and even planes, a 5x3
      // kernel (three kernel rows per input row), and planes too small for
      // the blocked middle of a row.
      {"depthwise 3x3 stride 2 valid batch 2",
       {2, 3, 9, 8},
       {3, 1, 3, 3},
       false,
       attrs({{"group", int64_t(3)}, {"strides", Ints{2, 2}}}),
       "conv_depthwise"},
      {"depthwise 3x3 stride 2 asymmetric pads",
       {1, 2, 10, 11},
       {2, 1, 3, 3},
       true,
       attrs({{"group", int64_t(2)},
              {"strides", Ints{2, 2}},
              {"pads", Ints{2, 0, 1, 2}}}),
       "conv_depthwise"},
      {"depthwise 5x3 stride 2",
       {2, 2, 13, 9},
       {2, 1, 5, 3},
       true,
       attrs({{"group", int64_t(2)},
              {"strides", Ints{2, 2}},
              {"pads", Ints{2, 1, 2, 1}}}),
       "conv_depthwise"},
      {"depthwise 3x3 stride 2 tiny planes",
       {1, 3, 2, 3},
       {3, 1, 3, 3},
       false,
       attrs({{"group", int64_t(3)},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}}),
       "conv_depthwise"},
      {"depthwise 3x3 dilated asymmetric pads",
       {1, 2, 8, 7},
       {2, 1, 3, 3},
       true,
       attrs({{"group", int64_t(2)},
              {"dilations", Ints{2, 2}},
              {"pads", Ints{2, 0, 1, 2}}}),
       "conv_depthwise"},
      {"depthwise 3x3 short plane",
       {1, 2, 2, 3},
       {2, 1, 3, 3},
       true,
       attrs({{"group", int64_t(2)}, {"pads", Ints{1, 1, 1, 1}}}),
       "conv_depthwise"},
      // Stride 1 with rows as wide as the input's, on planes larger than
      // a few vectors: rows of 10 and of 5, asymmetric column pads,
      // dilation, 5x3.
      {"depthwise 3x3 pad 1 larger plane",
       {2, 3, 12, 10},
       {3, 1, 3, 3},
       true,
       attrs({{"group", int64_t(3)}, {"pads", Ints{1, 1, 1, 1}}}),
       "conv_depthwise"},
      {"depthwise 3x3 pad 1 rows of 5",
       {1, 4, 25, 5},
       {4, 1, 3, 3},
       true,
       attrs({{"group", int64_t(4)}, {"pads", Ints{1, 1, 1, 1}}}),
       "conv_depthwise"},
      {"depthwise 3x3 column pads 0 and 2",
       {1, 2, 9, 11},
       {2, 1, 3, 3},
       false,
       attrs({{"group", int64_t(2)}, {"pads", Ints{1, 0, 1, 2}}}),
       "conv_depthwise"},
      {"depthwise 3x3 dilated 2 pad 2",
       {1, 2, 10, 9},
       {2, 1, 3, 3},
       true,
       attrs({{"group", int64_t(2)},
              {"dilations", Ints{2, 2}},
              {"pads", Ints{2, 2, 2, 2}}}),
       "conv_depthwise"},
      {"one input channel 5x3 stride 1",
       {2, 1, 11, 8},
       {3, 1, 5, 3},
       true,
       attrs({{"pads", Ints{2, 1, 2, 1}}}),
       "conv_depthwise"},
      {"one input channel 5x3 stride 2x1",
       {2, 1, 9, 5},
       {4, 1, 5, 3},
       true,
       attrs({{"strides", Ints{2, 1}}, {"pads", Ints{2, 1, 2, 1}}}),
       "conv_depthwise"},
      {"depthwise multiplier 2 stride 2",
       {2, 3, 7, 5},
       {6, 1, 3, 3},
       false,
       attrs({{"group", int64_t(3)},
              {"strides", Ints{2, 2}},
              {"pads", Ints{0, 1, 1, 0}}}),
       "conv_depthwise"},
      {"grouped",
       {1, 6, 5, 5},
       {4, 3, 3, 3},
       true,
       attrs({{"group", int64_t(2)}, {"pads", Ints{1, 0, 1, 0}}}),
       "conv"},
      {"dilated asymmetric pads",
       {1, 2, 9, 8},
       {3, 2, 3, 3},
       true,
       attrs({{"dilations", Ints{2, 3}}, {"pads", Ints{2, 1, 0, 3}}}),
       "conv"},
      {"asymmetric pads no bias",
       {1, 3, 6, 5},
       {2, 3, 2, 3},
       false,
       attrs({{"pads", Ints{0, 2, 1, 1}}}),
       "conv"},
      {"1-D stride dilation pads",
       {2, 2, 11},
       {3, 2, 3},
       true,
       attrs({{"strides", Ints{2}},
              {"dilations", Ints{2}},
              {"pads", Ints{1, 2}}}),
       "conv"},
      {"3-D",
       {1, 2, 5, 4, 4},
       {3, 2, 3, 2, 3},
       true,
       attrs({{"pads", Ints{1, 0, 1, 1, 1, 0}}, {"strides", Ints{2, 1, 1}}}),
       "conv"},
      {"auto_pad SAME_UPPER stride 2",
       {1, 2, 7, 7},
       {2, 2, 3, 3},
       true,
       attrs(
           {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2, 2}}}),
       "conv"},
      {"pads larger than the kernel",
       {1, 2, 3, 3},
       {2, 2, 2, 2},
       true,
       attrs({{"pads", Ints{2, 2, 3, 2}}}),
       "conv"},
      {"depthwise 1-D dilated",
       {1, 3, 10},
       {3, 1, 3},
       false,
       attrs({{"group", int64_t(3)},
              {"dilations", Ints{3}},
              {"pads", Ints{3, 1}}}),
       "conv_depthwise"},
  };
}

void runConvKernel(const std::string &Kernel, const mote_rt::ConvP &P,
                   const float *X, const float *W, const float *B, float *Y) {
  if (Kernel == "conv_pointwise")
    mote_rt::conv_pointwise<float>(P, X, W, B, Y);
  else if (Kernel == "conv_depthwise")
    mote_rt::conv_depthwise<float>(P, X, W, B, Y);
  else
    mote_rt::conv<float>(P, X, W, B, Y);
}

} // namespace

TEST_CASE("kernel conv matches the interpreter", "[kernel]") {
  for (const ConvCase &Case : convCases()) {
    INFO(Case.Name);
    std::vector<std::optional<Tensor>> In = {randomF32(Case.X, 1),
                                             randomF32(Case.W, 2)};
    if (Case.Bias)
      In.push_back(randomF32({Case.W[0]}, 3));
    LoweredOp L = lowerOp(OpKind::Conv, In, Case.Attrs);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Header == "mote_rt/conv.h");
    CHECK(L.Call.Kernel == Case.Kernel);
    auto P = paramsAs<mote_rt::ConvP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    runConvKernel(L.Call.Kernel, P, L.in<float>(0), L.in<float>(1),
                  Case.Bias ? L.in<float>(2) : nullptr, Y.data());
    checkClose(L.Run.Results[0], Y);
  }
}

TEST_CASE("kernel conv_grad_input matches the interpreter", "[kernel]") {
  for (const ConvCase &Case : convCases()) {
    INFO(Case.Name);
    Tensor X = randomF32(Case.X, 1), W = randomF32(Case.W, 2);
    Shape YS = resultShape(OpKind::Conv, {X, W}, Case.Attrs);
    AttrMap A = Case.Attrs;
    A.set("input_shape", Case.X);
    LoweredOp L = lowerOp(OpKind::ConvGradInput, {randomF32(YS, 4), W}, A);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "conv_grad_input");
    auto P = paramsAs<mote_rt::ConvP>(L.Call);
    std::vector<float> DX(L.outElems(0), 1e30f);
    mote_rt::conv_grad_input<float>(P, L.in<float>(0), L.in<float>(1),
                                    DX.data());
    checkClose(L.Run.Results[0], DX);
  }
}

TEST_CASE("kernel conv_grad_weight matches the interpreter, also for "
          "out_channels < M",
          "[kernel]") {
  for (const ConvCase &Case : convCases()) {
    Tensor X = randomF32(Case.X, 1), W = randomF32(Case.W, 2);
    Shape YS = resultShape(OpKind::Conv, {X, W}, Case.Attrs);
    Tensor DY = randomF32(YS, 5);
    // All output channels, then the first one, then all but the last.
    for (int64_t K : {int64_t(0), int64_t(1), Case.W[0] - 1}) {
      INFO(Case.Name << ", out_channels " << K);
      AttrMap A = Case.Attrs;
      A.set("weight_shape", Case.W);
      if (K > 0)
        A.set("out_channels", K);
      LoweredOp L = lowerOp(OpKind::ConvGradWeight, {X, DY}, A);
      REQUIRE_FALSE(L.LowerError);
      CHECK(L.Call.Kernel == "conv_grad_weight");
      auto P = paramsAs<mote_rt::ConvP>(L.Call);
      CHECK(P.Channels == (K > 0 ? K : Case.W[0]));
      // One guard element past the result: the kernel must not write it.
      std::vector<float> DW(L.outElems(0) + 1, 1e30f);
      mote_rt::conv_grad_weight<float>(P, L.in<float>(0), L.in<float>(1),
                                       DW.data());
      CHECK(DW.back() == 1e30f);
      DW.pop_back();
      checkClose(L.Run.Results[0], DW);
    }
  }
}

TEST_CASE("kernel conv with a fused activation matches the interpreter",
          "[kernel][fuse]") {
  // Relu, ReLU6, a one-sided Clip and HardSwish on every conv form
  // (general, depthwise, pointwise).
  std::vector<AttrMap> Acts = {
      attrs({{"activation", std::string("Relu")}}),
      attrs({{"activation", std::string("HardSwish")}}),
      attrs({{"activation", std::string("Clip")},
             {"activation_min", 0.0f},
             {"activation_max", 0.25f}}),
      attrs({{"activation", std::string("Clip")}, {"activation_max", -0.1f}}),
  };
  for (const ConvCase &Case : convCases()) {
    for (const AttrMap &Act : Acts) {
      INFO(Case.Name << ", " << Act.getString("activation", "") << " "
                     << Act.getFloat("activation_max", 99));
      AttrMap A = Case.Attrs;
      for (const char *K : {"activation", "activation_min", "activation_max"})
        if (Act.has(K))
          A.set(K, *Act.find(K));
      std::vector<std::optional<Tensor>> In = {randomF32(Case.X, 1),
                                               randomF32(Case.W, 2)};
      if (Case.Bias)
        In.push_back(randomF32({Case.W[0]}, 3));
      LoweredOp L = lowerOp(OpKind::Conv, In, A);
      REQUIRE_FALSE(L.LowerError);
      CHECK(L.Call.Kernel == Case.Kernel);
      auto P = paramsAs<mote_rt::ConvP>(L.Call);
      bool WantMin = Act.has("activation_min") ||
                     Act.getString("activation", "") == "Relu";
      CHECK(P.Act.HasMin == int32_t(WantMin));
      CHECK(P.Act.HardSwish ==
            int32_t(Act.getString("activation", "") == "HardSwish"));
      std::vector<float> Y(L.outElems(0), 1e30f);
      runConvKernel(L.Call.Kernel, P, L.in<float>(0), L.in<float>(1),
                    Case.Bias ? L.in<float>(2) : nullptr, Y.data());
      checkClose(L.Run.Results[0], Y);
    }
  }
}

TEST_CASE("kernel conv_grad_weight_sgd matches the interpreter, in place and "
          "not, for out_channels < M",
          "[kernel][fuse]") {
  for (const ConvCase &Case : convCases()) {
    Tensor X = randomF32(Case.X, 1), W = randomF32(Case.W, 2);
    Shape YS = resultShape(OpKind::Conv, {X, W}, Case.Attrs);
    Tensor DY = randomF32(YS, 5);
    for (int64_t K : {int64_t(0), int64_t(1), Case.W[0] - 1}) {
      for (bool InPlace : {false, true}) {
        INFO(Case.Name << ", out_channels " << K << ", in place " << InPlace);
        AttrMap A = Case.Attrs;
        A.set("weight_shape", Case.W);
        A.set("lr", 0.125f);
        A.set("norm_coefficient", 0.5f);
        if (K > 0)
          A.set("out_channels", K);
        LoweredOp L = lowerOp(OpKind::ConvGradWeightSgd, {X, DY, W}, A);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Call.Kernel == "conv_grad_weight_sgd");
        auto P = paramsAs<mote_rt::ConvP>(L.Call);
        CHECK(P.Update.Lr == 0.125f);
        CHECK(P.Update.Decay == 0.5f);
        std::vector<float> WIn(L.in<float>(2), L.in<float>(2) + L.outElems(0));
        // One guard element past the result: the kernel must not write it.
        std::vector<float> WOut(L.outElems(0) + 1, 1e30f);
        if (InPlace)
          std::copy(WIn.begin(), WIn.end(), WOut.begin());
        mote_rt::conv_grad_weight_sgd<float>(
            P, L.in<float>(0), L.in<float>(1),
            InPlace ? WOut.data() : WIn.data(), WOut.data());
        CHECK(WOut.back() == 1e30f);
        WOut.pop_back();
        checkClose(L.Run.Results[0], WOut);
      }
    }
  }
}

TEST_CASE("kernel conv_grad_weight_momentum and _adam match the interpreter, "
          "in place and not, for out_channels < M",
          "[kernel][fuse]") {
  for (const ConvCase &Case : convCases()) {
    Tensor X = randomF32(Case.X, 1), W = randomF32(Case.W, 2);
    Tensor V = randomF32(Case.W, 6), H = randomF32(Case.W, 7, 0.0f, 0.5f);
    Shape YS = resultShape(OpKind::Conv, {X, W}, Case.Attrs);
    Tensor DY = randomF32(YS, 5);
    for (int64_t K : {int64_t(0), int64_t(1), Case.W[0] - 1}) {
      for (bool InPlace : {false, true}) {
        INFO(Case.Name << ", out_channels " << K << ", in place " << InPlace);
        AttrMap A = Case.Attrs;
        A.set("weight_shape", Case.W);
        A.set("lr", 0.125f);
        A.set("norm_coefficient", 0.25f);
        A.set("alpha", 0.75f);
        if (K > 0)
          A.set("out_channels", K);
        size_t NW = size_t(W.numElements());
        // The buffers a call writes, one guard element past each: the
        // kernel must not write it.
        auto outBuf = [&](const Tensor &From) {
          std::vector<float> B(NW + 1, 1e30f);
          if (InPlace)
            std::copy_n(From.data<float>().begin(), NW, B.begin());
          return B;
        };
        auto checkOut = [&](const Tensor &Want, std::vector<float> &Got) {
          CHECK(Got.back() == 1e30f);
          Got.pop_back();
          checkClose(Want, Got);
        };
        {
          // Nesterov, with a step count of 0 (beta acts as 1) and of 3.
          for (int64_t Step : {int64_t(0), int64_t(3)}) {
            AttrMap M = A;
            M.set("beta", 0.5f);
            M.set("mode", std::string("nesterov"));
            LoweredOp L = lowerOp(OpKind::ConvGradWeightMomentum,
                                  {X, DY, W, V, i64({}, {Step})}, M, 2);
            REQUIRE_FALSE(L.LowerError);
            CHECK(L.Call.Kernel == "conv_grad_weight_momentum");
            auto P = paramsAs<mote_rt::ConvP>(L.Call);
            CHECK(P.Update.Alpha == 0.75f);
            CHECK(P.Update.Nesterov == 1);
            std::vector<float> WO = outBuf(W), VO = outBuf(V);
            mote_rt::conv_grad_weight_momentum<float>(
                P, L.in<float>(0), L.in<float>(1),
                InPlace ? WO.data() : L.in<float>(2),
                InPlace ? VO.data() : L.in<float>(3), L.in<int64_t>(4),
                WO.data(), VO.data());
            checkOut(L.Run.Results[0], WO);
            checkOut(L.Run.Results[1], VO);
          }
          // Standard, no step count.
          LoweredOp L =
              lowerOp(OpKind::ConvGradWeightMomentum, {X, DY, W, V}, A, 2);
          REQUIRE_FALSE(L.LowerError);
          auto P = paramsAs<mote_rt::ConvP>(L.Call);
          CHECK(P.Update.Nesterov == 0);
          std::vector<float> WO = outBuf(W), VO = outBuf(V);
          mote_rt::conv_grad_weight_momentum<float>(
              P, L.in<float>(0), L.in<float>(1),
              InPlace ? WO.data() : L.in<float>(2),
              InPlace ? VO.data() : L.in<float>(3), nullptr, WO.data(),
              VO.data());
          checkOut(L.Run.Results[0], WO);
          checkOut(L.Run.Results[1], VO);
        }
        {
          AttrMap Ad = A;
          Ad.set("beta", 0.875f);
          Ad.set("epsilon", 1e-3f);
          Ad.set("norm_coefficient_post", 0.0625f);
          LoweredOp L = lowerOp(OpKind::ConvGradWeightAdam,
                                {X, DY, W, V, H, i64({}, {2})}, Ad, 3);
          REQUIRE_FALSE(L.LowerError);
          CHECK(L.Call.Kernel == "conv_grad_weight_adam");
          auto P = paramsAs<mote_rt::ConvP>(L.Call);
          CHECK(P.Update.Epsilon == 1e-3f);
          CHECK(P.Update.DecayPost == 0.0625f);
          std::vector<float> WO = outBuf(W), VO = outBuf(V), HO = outBuf(H);
          mote_rt::conv_grad_weight_adam<float>(
              P, L.in<float>(0), L.in<float>(1),
              InPlace ? WO.data() : L.in<float>(2),
              InPlace ? VO.data() : L.in<float>(3),
              InPlace ? HO.data() : L.in<float>(4), L.in<int64_t>(5),
              WO.data(), VO.data(), HO.data());
          checkOut(L.Run.Results[0], WO);
          checkOut(L.Run.Results[1], VO);
          checkOut(L.Run.Results[2], HO);
        }
      }
    }
  }
}

TEST_CASE("kernel conv_grad_weight_qsgd and _qmomentum step an int8 weight "
          "as the unfused update does",
          "[kernel][fuse][quant]") {
  for (const ConvCase &Case : convCases()) {
    Tensor X = randomF32(Case.X, 1);
    Shape YS = resultShape(OpKind::Conv, {X, randomF32(Case.W, 2)}, Case.Attrs);
    Tensor DY = randomF32(YS, 5);
    // Per output channel scales and zero points, codes spread over i8.
    QuantParams Q{0, {}, {}};
    for (int64_t M = 0; M < Case.W[0]; ++M) {
      Q.Scale.push_back(0.02f * float(M + 1));
      Q.ZeroPoint.push_back(int32_t(M % 3) - 1);
    }
    TensorType WT(DType::I8, Case.W, Q);
    std::vector<double> Codes;
    for (int64_t I = 0; I < WT.numElements(); ++I)
      Codes.push_back(double((I * 41) % 251 - 125));
    Tensor W = quantized(WT, Codes);
    Tensor V = randomF32(Case.W, 6);
    for (int64_t K : {int64_t(0), int64_t(1)}) {
      for (bool Momentum : {false, true}) {
        INFO(Case.Name << ", out_channels " << K << ", momentum " << Momentum);
        AttrMap A = Case.Attrs;
        A.set("weight_shape", Case.W);
        A.set("lr", 0.02f);
        A.set("norm_coefficient", 0.5f);
        if (Momentum) {
          A.set("alpha", 0.5f);
          A.set("mode", std::string("nesterov"));
        }
        if (K > 0)
          A.set("out_channels", K);
        OpKind Op = Momentum ? OpKind::ConvGradWeightMomentum
                             : OpKind::ConvGradWeightSgd;
        std::vector<std::optional<Tensor>> In = {X, DY, W};
        if (Momentum)
          In.push_back(V);
        LoweredOp L = lowerOp(Op, In, A, Momentum ? 2 : 1);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Run.Types[0] == WT);

        // The interpreter: exactly ConvGradWeight, then the update op.
        AttrMap GA = Case.Attrs;
        GA.set("weight_shape", Case.W);
        if (K > 0)
          GA.set("out_channels", K);
        OpRun GW = runOp(OpKind::ConvGradWeight, {X, DY}, GA);
        REQUIRE_FALSE(GW.Error);
        AttrMap UA;
        for (const char *Name : {"lr", "norm_coefficient", "alpha", "mode"})
          if (const AttrValue *Val = A.find(Name))
            UA.set(Name, *Val);
        if (K > 0) {
          UA.set("axis", int64_t(0));
          UA.set("channels", K);
        }
        std::vector<std::optional<Tensor>> UIn = {W, GW.Results[0]};
        if (Momentum)
          UIn.push_back(V);
        OpRun U = runOp(Momentum ? OpKind::MomentumUpdate : OpKind::SgdUpdate,
                        UIn, UA, Momentum ? 2 : 1);
        REQUIRE_FALSE(U.Error);
        CHECK(L.Run.Results[0].toInts() == U.Results[0].toInts());

        // The kernel, in place: its f32 sums may put a step on the other
        // side of a rounding tie than the interpreter's double ones, so a
        // code may differ by one; most must move and match.
        std::vector<int8_t> WO(L.in<int8_t>(2), L.in<int8_t>(2) + W.numElements());
        std::vector<float> VO(V.data<float>().begin(), V.data<float>().end());
        CHECK(L.Call.Kernel ==
              (Momentum ? "conv_grad_weight_qmomentum" : "conv_grad_weight_qsgd"));
        auto P = paramsAs<mote_rt::QConvGradWeightP>(L.Call);
        if (Momentum)
          mote_rt::conv_grad_weight_qmomentum<float, int8_t>(
              P, L.in<float>(0), L.in<float>(1), WO.data(), VO.data(),
              nullptr, WO.data(), VO.data());
        else
          mote_rt::conv_grad_weight_qsgd<float, int8_t>(
              P, L.in<float>(0), L.in<float>(1), WO.data(), WO.data());
        Ints Want = L.Run.Results[0].toInts();
        size_t Moved = 0, Off = 0;
        for (size_t I = 0; I < WO.size(); ++I) {
          INFO("element " << I);
          CHECK(std::abs(int64_t(WO[I]) - Want[I]) <= 1);
          Off += int64_t(WO[I]) != Want[I];
          Moved += Want[I] != int64_t(Codes[I]);
        }
        CHECK(Off * 50 <= WO.size());
        CHECK(Moved * 4 >= WO.size() / (K > 0 ? size_t(Case.W[0]) : 1));
        if (Momentum)
          checkClose(L.Run.Results[1], VO);
      }
    }
  }
}

TEST_CASE("kernel gemm_grad_weight_sgd / _momentum / _adam match the "
          "interpreter, in place and not, on a row slice",
          "[kernel][fuse]") {
  // G = scale A' B' is [M, 7]; W has R >= M rows. K = 1 (an outer product,
  // batch 1) and K = 3; every transpose combination; M and N not multiples
  // of the 4 x 4 block.
  struct Case {
    int64_t M, R, K;
    bool TA, TB;
  };
  const int64_t N = 7;
  for (Case C : {Case{5, 5, 1, true, false}, Case{5, 5, 3, true, false},
                 Case{3, 6, 2, true, true}, Case{6, 6, 3, false, false},
                 Case{2, 5, 3, false, true}}) {
    Tensor A = randomF32(C.TA ? Shape{C.K, C.M} : Shape{C.M, C.K}, 1);
    Tensor B = randomF32(C.TB ? Shape{N, C.K} : Shape{C.K, N}, 2);
    Tensor W = randomF32({C.R, N}, 3), V = randomF32({C.R, N}, 4);
    Tensor H = randomF32({C.R, N}, 5, 0.0f, 0.5f);
    for (bool InPlace : {false, true}) {
      INFO("M " << C.M << ", R " << C.R << ", K " << C.K << ", transA "
                << C.TA << ", transB " << C.TB << ", in place " << InPlace);
      AttrMap At = attrs({{"transA", int64_t(C.TA)},
                          {"transB", int64_t(C.TB)},
                          {"scale", -0.5f},
                          {"lr", 0.125f},
                          {"norm_coefficient", 0.25f}});
      size_t NW = size_t(W.numElements());
      auto outBuf = [&](const Tensor &From) {
        std::vector<float> Buf(NW + 1, 1e30f);
        if (InPlace)
          std::copy_n(From.data<float>().begin(), NW, Buf.begin());
        return Buf;
      };
      auto checkOut = [&](const Tensor &Want, std::vector<float> &Got) {
        CHECK(Got.back() == 1e30f);
        Got.pop_back();
        checkClose(Want, Got);
      };
      {
        LoweredOp L = lowerOp(OpKind::GemmGradWeightSgd, {A, B, W}, At);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Call.Kernel == "gemm_grad_weight_sgd");
        auto P = paramsAs<mote_rt::GemmUpdateP>(L.Call);
        CHECK(P.Rows == C.R);
        std::vector<float> WO = outBuf(W);
        mote_rt::gemm_grad_weight_sgd<float>(
            P, L.in<float>(0), L.in<float>(1),
            InPlace ? WO.data() : L.in<float>(2), WO.data());
        checkOut(L.Run.Results[0], WO);
      }
      {
        AttrMap M = At;
        M.set("alpha", 0.75f);
        M.set("beta", 0.5f);
        M.set("mode", std::string("nesterov"));
        LoweredOp L = lowerOp(OpKind::GemmGradWeightMomentum,
                              {A, B, W, V, i64({}, {4})}, M, 2);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Call.Kernel == "gemm_grad_weight_momentum");
        auto P = paramsAs<mote_rt::GemmUpdateP>(L.Call);
        CHECK(P.Update.Nesterov == 1);
        std::vector<float> WO = outBuf(W), VO = outBuf(V);
        mote_rt::gemm_grad_weight_momentum<float>(
            P, L.in<float>(0), L.in<float>(1),
            InPlace ? WO.data() : L.in<float>(2),
            InPlace ? VO.data() : L.in<float>(3), L.in<int64_t>(4), WO.data(),
            VO.data());
        checkOut(L.Run.Results[0], WO);
        checkOut(L.Run.Results[1], VO);
      }
      {
        AttrMap Ad = At;
        Ad.set("alpha", 0.75f);
        Ad.set("beta", 0.875f);
        Ad.set("epsilon", 1e-3f);
        Ad.set("norm_coefficient_post", 0.0625f);
        LoweredOp L = lowerOp(OpKind::GemmGradWeightAdam,
                              {A, B, W, V, H, i64({}, {3})}, Ad, 3);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Call.Kernel == "gemm_grad_weight_adam");
        auto P = paramsAs<mote_rt::GemmUpdateP>(L.Call);
        std::vector<float> WO = outBuf(W), VO = outBuf(V), HO = outBuf(H);
        mote_rt::gemm_grad_weight_adam<float>(
            P, L.in<float>(0), L.in<float>(1),
            InPlace ? WO.data() : L.in<float>(2),
            InPlace ? VO.data() : L.in<float>(3),
            InPlace ? HO.data() : L.in<float>(4), L.in<int64_t>(5), WO.data(),
            VO.data(), HO.data());
        checkOut(L.Run.Results[0], WO);
        checkOut(L.Run.Results[1], VO);
        checkOut(L.Run.Results[2], HO);
      }
    }
  }
}

TEST_CASE("kernel gemm_grad_weight_qsgd and _qmomentum step an int8 weight "
          "as the unfused update does",
          "[kernel][fuse][quant]") {
  // G = scale A' B' [M, 7] for W [R, 7] int8, per row or per tensor.
  const int64_t N = 7, K = 3;
  for (int64_t M : {int64_t(5), int64_t(3)}) {
    const int64_t R = 5;
    for (bool PerRow : {true, false}) {
      QuantParams Q{PerRow ? 0 : -1, {}, {}};
      for (int64_t I = 0; I < (PerRow ? R : 1); ++I) {
        Q.Scale.push_back(0.01f * float(I + 1));
        Q.ZeroPoint.push_back(int32_t(I % 3) - 1);
      }
      TensorType WT(DType::I8, {R, N}, Q);
      std::vector<double> Codes;
      for (int64_t I = 0; I < WT.numElements(); ++I)
        Codes.push_back(double((I * 37) % 251 - 125));
      Tensor W = quantized(WT, Codes);
      Tensor A = randomF32({K, M}, 1), B = randomF32({N, K}, 2);
      Tensor V = randomF32({R, N}, 4);
      for (bool Momentum : {false, true}) {
        INFO("M " << M << ", per row " << PerRow << ", momentum "
                  << Momentum);
        AttrMap At = attrs({{"transA", int64_t(1)},
                            {"transB", int64_t(1)},
                            {"scale", 2.0f},
                            {"lr", 0.05f},
                            {"norm_coefficient", 0.25f}});
        if (Momentum) {
          At.set("alpha", 0.5f);
          At.set("mode", std::string("nesterov"));
        }
        OpKind Op = Momentum ? OpKind::GemmGradWeightMomentum
                             : OpKind::GemmGradWeightSgd;
        std::vector<std::optional<Tensor>> In = {A, B, W};
        if (Momentum)
          In.push_back(V);
        LoweredOp L = lowerOp(Op, In, At, Momentum ? 2 : 1);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Run.Types[0] == WT);

        // The interpreter: exactly the Gemm's gradient, then the update op.
        OpRun G = runOp(OpKind::Gemm, {A, B},
                        attrs({{"transA", int64_t(1)},
                               {"transB", int64_t(1)},
                               {"alpha", 2.0f}}));
        REQUIRE_FALSE(G.Error);
        AttrMap UA;
        for (const char *Name : {"lr", "norm_coefficient", "alpha", "mode"})
          if (const AttrValue *Val = At.find(Name))
            UA.set(Name, *Val);
        if (M < R) {
          UA.set("axis", int64_t(0));
          UA.set("channels", M);
        }
        std::vector<std::optional<Tensor>> UIn = {W, G.Results[0]};
        if (Momentum)
          UIn.push_back(V);
        OpRun U = runOp(Momentum ? OpKind::MomentumUpdate : OpKind::SgdUpdate,
                        UIn, UA, Momentum ? 2 : 1);
        REQUIRE_FALSE(U.Error);
        CHECK(L.Run.Results[0].toInts() == U.Results[0].toInts());

        // The kernel, in place: within one step of the interpreter (a
        // rounding tie), most codes of the trained rows moving.
        std::vector<int8_t> WO(L.in<int8_t>(2),
                               L.in<int8_t>(2) + W.numElements());
        std::vector<float> VO(V.data<float>().begin(), V.data<float>().end());
        CHECK(L.Call.Kernel == (Momentum ? "gemm_grad_weight_qmomentum"
                                         : "gemm_grad_weight_qsgd"));
        auto P = paramsAs<mote_rt::QGemmUpdateP>(L.Call);
        if (Momentum)
          mote_rt::gemm_grad_weight_qmomentum<float, int8_t>(
              P, L.in<float>(0), L.in<float>(1), WO.data(), VO.data(),
              nullptr, WO.data(), VO.data());
        else
          mote_rt::gemm_grad_weight_qsgd<float, int8_t>(
              P, L.in<float>(0), L.in<float>(1), WO.data(), WO.data());
        Ints Want = L.Run.Results[0].toInts();
        size_t Moved = 0, Off = 0;
        for (size_t I = 0; I < WO.size(); ++I) {
          INFO("element " << I);
          CHECK(std::abs(int64_t(WO[I]) - Want[I]) <= 1);
          Off += int64_t(WO[I]) != Want[I];
          Moved += Want[I] != int64_t(Codes[I]);
          if (int64_t(I) >= M * N)
            CHECK(Want[I] == int64_t(Codes[I])); // frozen rows
        }
        CHECK(Off * 20 <= WO.size());
        CHECK(Moved * 2 >= size_t(M * N));
        if (Momentum)
          checkClose(L.Run.Results[1], VO);
      }
    }
  }
  // Adam does not update a quantized weight.
  Tensor W8 = quantized(TensorType(DType::I8, {2, 3}, QuantParams{-1, {0.1f}, {0}}),
                        {1, 2, 3, 4, 5, 6});
  OpRun R = runOp(OpKind::GemmGradWeightAdam,
                  {randomF32({1, 2}, 1), randomF32({1, 3}, 2), W8,
                   randomF32({2, 3}, 3), randomF32({2, 3}, 4), i64({}, {1})},
                  attrs({{"transA", int64_t(1)}, {"lr", 0.1f}}), 3);
  REQUIRE(R.Error);
  CHECK(R.Error->str().find("Adam does not update the quantized weight") !=
        std::string::npos);
}

TEST_CASE("fused weight-gradient updates reject mismatched state",
          "[kernel][fuse]") {
  Tensor X = randomF32({1, 2, 5, 5}, 1), W = randomF32({3, 2, 3, 3}, 2);
  Tensor DY = randomF32({1, 3, 3, 3}, 5);
  AttrMap A = attrs({{"weight_shape", Ints{3, 2, 3, 3}}, {"lr", 0.1f}});
  OpRun R = runOp(OpKind::ConvGradWeightMomentum,
                  {X, DY, W, randomF32({3, 2, 3, 1}, 6)}, A, 2);
  REQUIRE(R.Error);
  CHECK_THAT(R.Error->Message,
             Catch::Contains("optimizer state (input 3) is f32[3,2,3,1] but "
                             "the weight is f32[3,2,3,3]"));
  R = runOp(OpKind::ConvGradWeightAdam,
            {X, DY, W, W, W, randomF32({1}, 7)}, A, 3);
  REQUIRE(R.Error);
  CHECK_THAT(R.Error->Message,
             Catch::Contains("the step count must be an i64 scalar"));
  AttrMap Bad = A;
  Bad.set("mode", std::string("heavy-ball"));
  R = runOp(OpKind::ConvGradWeightMomentum, {X, DY, W, W}, Bad, 2);
  REQUIRE(R.Error);
  CHECK_THAT(R.Error->Message, Catch::Contains("mode must be"));
  // A Gemm weight gradient wider than its weight.
  R = runOp(OpKind::GemmGradWeightSgd,
            {randomF32({1, 4}, 1), randomF32({1, 5}, 2), randomF32({3, 5}, 3)},
            attrs({{"transA", int64_t(1)}, {"lr", 0.1f}}));
  REQUIRE(R.Error);
  CHECK_THAT(R.Error->Message,
             Catch::Contains("must be a f32 matrix [R, 5] with R >= M = 4"));
}

TEST_CASE("kernel gemm with a fused activation, and writing over C",
          "[kernel][fuse]") {
  Tensor A = randomF32({4, 3}, 1), B = randomF32({4, 5}, 2);
  Tensor C = randomF32({3, 5}, 3);
  for (bool TransB : {false, true}) {
    INFO("transB " << TransB);
    Tensor BB = TransB ? randomF32({5, 4}, 2) : B;
    AttrMap At = attrs({{"transA", int64_t(1)},
                        {"alpha", -0.5f},
                        {"beta", 0.75f},
                        {"activation", std::string("Clip")},
                        {"activation_min", -0.2f},
                        {"activation_max", 0.3f}});
    if (TransB)
      At.set("transB", int64_t(1));
    LoweredOp L = lowerOp(OpKind::Gemm, {A, BB, C}, At);
    REQUIRE_FALSE(L.LowerError);
    auto P = paramsAs<mote_rt::GemmP>(L.Call);
    // Y is C's own buffer, as for a weight gradient fused with its update.
    std::vector<float> Y(L.in<float>(2), L.in<float>(2) + L.outElems(0));
    mote_rt::gemm<float>(P, L.in<float>(0), L.in<float>(1), Y.data(),
                         Y.data());
    checkClose(L.Run.Results[0], Y);
  }
  // HardSwish, with inputs scaled so the results cover both flat ends and
  // the curve (|y| up to ~6).
  Tensor AS = randomF32({4, 3}, 4, -3, 3), BS = randomF32({3, 4}, 5, -3, 3);
  LoweredOp L = lowerOp(OpKind::Gemm, {AS, BS},
                        attrs({{"activation", std::string("HardSwish")}}));
  REQUIRE_FALSE(L.LowerError);
  auto P = paramsAs<mote_rt::GemmP>(L.Call);
  CHECK(P.Act.HardSwish == 1);
  std::vector<float> Y(L.outElems(0), 1e30f);
  mote_rt::gemm<float>(P, L.in<float>(0), L.in<float>(1), nullptr, Y.data());
  checkClose(L.Run.Results[0], Y);
}

TEST_CASE("kernel conv in f64", "[kernel]") {
  Tensor X = randomF64({1, 4, 6, 5}, 1), W = randomF64({4, 2, 3, 3}, 2);
  Tensor B = randomF64({4}, 3);
  LoweredOp L =
      lowerOp(OpKind::Conv, {X, W, B},
              attrs({{"group", int64_t(2)}, {"pads", Ints{1, 1, 0, 2}}}));
  REQUIRE_FALSE(L.LowerError);
  REQUIRE(L.Call.TypeArgs == std::vector<DType>{DType::F64});
  auto P = paramsAs<mote_rt::ConvP>(L.Call);
  std::vector<double> Y(L.outElems(0));
  mote_rt::conv<double>(P, L.in<double>(0), L.in<double>(1), L.in<double>(2),
                        Y.data());
  checkSame(L.Run.Results[0], Y, 1e-12, 1e-12);
}

TEST_CASE("kernel conv lowering refuses 4 spatial dims", "[kernel]") {
  LoweredOp L = lowerOp(OpKind::Conv, {randomF32({1, 1, 3, 3, 3, 3}, 1),
                                       randomF32({1, 1, 2, 2, 2, 2}, 2)});
  REQUIRE(L.LowerError);
  CHECK(L.LowerError->Message ==
        "4 spatial dims are not supported by the kernels; at most 3 (1-D, "
        "2-D and 3-D windows) are");
}

//===----------------------------------------------------------------------===//
// Gemm and MatMul
//===----------------------------------------------------------------------===//

TEST_CASE("kernel gemm matches the interpreter", "[kernel]") {
  struct Case {
    Shape A, B;
    std::optional<Shape> C;
    AttrMap Attrs;
  };
  std::vector<Case> Cases = {
      {{3, 4}, {4, 5}, std::nullopt, {}},
      {{3, 4}, {5, 4}, Shape{5}, attrs({{"transB", int64_t(1)}})},
      {{4, 3},
       {5, 4},
       Shape{3, 1},
       attrs({{"transA", int64_t(1)},
              {"transB", int64_t(1)},
              {"alpha", 0.5f},
              {"beta", 2.0f}})},
      {{4, 3},
       {4, 5},
       Shape{3, 5},
       attrs({{"transA", int64_t(1)}, {"alpha", -1.5f}, {"beta", 0.25f}})},
      {{2, 6}, {6, 3}, Shape{}, attrs({{"beta", 3.0f}})},
      {{1, 7}, {2, 7}, Shape{1, 2}, attrs({{"transB", int64_t(1)}})},
      {{3, 4},
       {5, 4},
       std::nullopt,
       attrs({{"transB", int64_t(1)}, {"alpha", 2.0f}, {"beta", 5.0f}})},
  };
  uint32_t Seed = 10;
  for (const Case &K : Cases) {
    INFO("A " << shapeStr(K.A) << " B " << shapeStr(K.B));
    std::vector<std::optional<Tensor>> In = {randomF32(K.A, Seed++),
                                             randomF32(K.B, Seed++)};
    if (K.C)
      In.push_back(randomF32(*K.C, Seed++));
    LoweredOp L = lowerOp(OpKind::Gemm, In, K.Attrs);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Header == "mote_rt/gemm.h");
    CHECK(L.Call.Kernel == "gemm");
    auto P = paramsAs<mote_rt::GemmP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    mote_rt::gemm<float>(P, L.in<float>(0), L.in<float>(1),
                         K.C ? L.in<float>(2) : nullptr, Y.data());
    checkClose(L.Run.Results[0], Y);
  }
}

TEST_CASE("kernel matmul matches the interpreter", "[kernel]") {
  struct Case {
    Shape A, B;
    int32_t Rank; ///< batch rank the lowering passes after folding
  };
  std::vector<Case> Cases = {
      {{3, 4}, {4, 5}, 0},
      {{2, 3, 4}, {4, 5}, 0},          // A's batch folds into M
      {{2, 3, 4}, {1, 4, 5}, 0},       // B's batch of 1 too
      {{5, 3, 4}, {5, 4, 2}, 1},       // same batch
      {{2, 1, 3, 4}, {3, 4, 2}, 2},    // broadcast both ways
      {{4, 1, 2, 3, 4}, {2, 4, 2}, 2}, // A [4, 1, 2] B [2]: dims merge
      {{3, 4}, {2, 4, 5}, 1},          // only B batched
      {{4}, {2, 4, 3}, 1},             // 1-D A
      {{2, 3, 4}, {4}, 0},             // 1-D B
      {{4}, {4}, 0},                   // dot product
  };
  uint32_t Seed = 20;
  for (const Case &K : Cases) {
    INFO("A " << shapeStr(K.A) << " B " << shapeStr(K.B));
    LoweredOp L = lowerOp(OpKind::MatMul,
                          {randomF32(K.A, Seed++), randomF32(K.B, Seed++)});
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "matmul");
    auto P = paramsAs<mote_rt::MatMulP>(L.Call);
    CHECK(P.Rank == K.Rank);
    std::vector<float> Y(L.outElems(0), 1e30f);
    mote_rt::matmul<float>(P, L.in<float>(0), L.in<float>(1), Y.data());
    checkClose(L.Run.Results[0], Y);
  }
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

TEST_CASE("kernel batch_norm and batch_norm_grad match the interpreter",
          "[kernel]") {
  struct Case {
    Shape X;
    AttrMap Attrs;
  };
  std::vector<Case> Cases = {
      {{2, 3, 4, 5}, {}},
      {{4, 3}, attrs({{"epsilon", 1e-3f}})},
      {{1, 2, 7}, attrs({{"epsilon", 0.0f}})},
  };
  for (const Case &K : Cases) {
    INFO("X " << shapeStr(K.X));
    int64_t C = K.X[1];
    Tensor X = randomF32(K.X, 1), Scale = randomF32({C}, 2),
           B = randomF32({C}, 3), Mean = randomF32({C}, 4),
           Var = randomF32({C}, 5, 0.1f, 2.0f);
    LoweredOp L =
        lowerOp(OpKind::BatchNormalization, {X, Scale, B, Mean, Var}, K.Attrs);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Header == "mote_rt/norm.h");
    CHECK(L.Call.Kernel == "batch_norm");
    auto P = paramsAs<mote_rt::BatchNormP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    mote_rt::batch_norm<float>(P, L.in<float>(0), L.in<float>(1),
                               L.in<float>(2), L.in<float>(3), L.in<float>(4),
                               Y.data());
    checkClose(L.Run.Results[0], Y);

    Tensor DY = randomF32(K.X, 6);
    for (size_t Results = 1; Results <= 3; ++Results) {
      INFO(Results << " results");
      LoweredOp G = lowerOp(OpKind::BatchNormGrad, {DY, X, Scale, Mean, Var},
                            K.Attrs, Results);
      REQUIRE_FALSE(G.LowerError);
      CHECK(G.Call.Kernel == "batch_norm_grad");
      auto GP = paramsAs<mote_rt::BatchNormP>(G.Call);
      std::vector<float> DX(G.outElems(0)), DS(static_cast<size_t>(C)),
          DB(static_cast<size_t>(C));
      mote_rt::batch_norm_grad<float>(
          GP, G.in<float>(0), G.in<float>(1), G.in<float>(2), G.in<float>(3),
          G.in<float>(4), DX.data(), Results > 1 ? DS.data() : nullptr,
          Results > 2 ? DB.data() : nullptr);
      checkClose(G.Run.Results[0], DX);
      if (Results > 1)
        checkClose(G.Run.Results[1], DS);
      if (Results > 2)
        checkClose(G.Run.Results[2], DB);
    }
  }
}

TEST_CASE("kernel layer_norm matches the interpreter", "[kernel]") {
  struct Case {
    Shape X, Scale;
    std::optional<Shape> B;
    int64_t Axis;
    size_t Results;
  };
  std::vector<Case> Cases = {
      {{2, 3, 8}, {8}, Shape{8}, -1, 1},
      {{2, 3, 8}, {3, 8}, Shape{8}, 1, 3},     // B broadcast over the rows
      {{2, 3, 8}, {1, 8}, std::nullopt, 1, 2}, // Scale broadcast, no B
      {{4, 6}, {6}, Shape{1}, 0, 3},           // axis 0: one row
      {{2, 3, 4, 2}, {4, 1}, Shape{3, 1, 2}, -3, 3},
  };
  for (const Case &K : Cases) {
    INFO("X " << shapeStr(K.X) << " axis " << K.Axis);
    std::vector<std::optional<Tensor>> In = {randomF32(K.X, 1, -2, 3),
                                             randomF32(K.Scale, 2)};
    if (K.B)
      In.push_back(randomF32(*K.B, 3));
    LoweredOp L =
        lowerOp(OpKind::LayerNormalization, In,
                attrs({{"axis", K.Axis}, {"epsilon", 1e-4f}}), K.Results);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "layer_norm");
    auto P = paramsAs<mote_rt::LayerNormP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    std::vector<float> Mean(L.Run.Results.size() > 1 ? L.outElems(1) : 0);
    std::vector<float> Inv(L.Run.Results.size() > 2 ? L.outElems(2) : 0);
    mote_rt::layer_norm<float>(P, L.in<float>(0), L.in<float>(1),
                               K.B ? L.in<float>(2) : nullptr, Y.data(),
                               K.Results > 1 ? Mean.data() : nullptr,
                               K.Results > 2 ? Inv.data() : nullptr);
    checkClose(L.Run.Results[0], Y);
    if (K.Results > 1)
      checkClose(L.Run.Results[1], Mean);
    if (K.Results > 2)
      checkClose(L.Run.Results[2], Inv);
  }
}

TEST_CASE("kernel layer_norm_grad matches the interpreter", "[kernel]") {
  struct Case {
    Shape X, Scale;
    int64_t Axis;
  };
  std::vector<Case> Cases = {
      {{2, 3, 8}, {8}, -1},
      {{2, 3, 8}, {8}, 1},    // Scale broadcast over 3 rows of the row
      {{2, 3, 8}, {3, 1}, 1}, // Scale broadcast along the last dim
      {{4, 6}, {1}, 0},       // one row, scalar-like Scale
      {{2, 3, 4, 2}, {4, 1}, 2},
  };
  for (const Case &K : Cases) {
    Tensor X = randomF32(K.X, 1, -2, 3), DY = randomF32(K.X, 2),
           Scale = randomF32(K.Scale, 3);
    for (size_t Results = 1; Results <= 3; ++Results) {
      INFO("X " << shapeStr(K.X) << " Scale " << shapeStr(K.Scale) << " axis "
                << K.Axis << ", " << Results << " results");
      LoweredOp L =
          lowerOp(OpKind::LayerNormGrad, {DY, X, Scale},
                  attrs({{"axis", K.Axis}, {"epsilon", 1e-4f}}), Results);
      REQUIRE_FALSE(L.LowerError);
      CHECK(L.Call.Kernel == "layer_norm_grad");
      auto P = paramsAs<mote_rt::LayerNormGradP>(L.Call);
      std::vector<float> DX(L.outElems(0), 1e30f);
      std::vector<float> DS(size_t(Scale.numElements()), 1e30f);
      std::vector<float> DB(DS.size(), 1e30f);
      mote_rt::layer_norm_grad<float>(
          P, L.in<float>(0), L.in<float>(1), L.in<float>(2), DX.data(),
          Results > 1 ? DS.data() : nullptr, Results > 2 ? DB.data() : nullptr);
      checkClose(L.Run.Results[0], DX);
      if (Results > 1)
        checkClose(L.Run.Results[1], DS);
      if (Results > 2)
        checkClose(L.Run.Results[2], DB);
    }
  }
}

TEST_CASE("kernel layer_norm in f64", "[kernel]") {
  Tensor X = randomF64({3, 5}, 1), Scale = randomF64({5}, 2),
         B = randomF64({5}, 3);
  LoweredOp L = lowerOp(OpKind::LayerNormalization, {X, Scale, B}, {}, 3);
  REQUIRE_FALSE(L.LowerError);
  auto P = paramsAs<mote_rt::LayerNormP>(L.Call);
  std::vector<double> Y(L.outElems(0));
  std::vector<float> Mean(3), Inv(3);
  mote_rt::layer_norm<double>(P, L.in<double>(0), L.in<double>(1),
                              L.in<double>(2), Y.data(), Mean.data(),
                              Inv.data());
  checkSame(L.Run.Results[0], Y, 1e-12, 1e-12);
  checkSame(L.Run.Results[1], Mean);
  checkSame(L.Run.Results[2], Inv);
}

TEST_CASE("kernel sqrt helper of norm.h is close to std::sqrt", "[kernel]") {
  for (float V : {0.0f, 1e-45f, 1e-39f, 1.17549435e-38f, 1e-20f, 1e-5f, 0.25f,
                  1.0f, 2.0f, 3.0f, 1e10f, 3.4e38f}) {
    INFO(V);
    CHECK(mote_rt::detail::normSqrt(V) ==
          Approx(std::sqrt(V)).epsilon(2e-7).margin(0));
  }
  for (double V : {4.9e-324, 1e-310, 1e-5, 2.0, 1e300}) {
    INFO(V);
    CHECK(mote_rt::detail::normSqrt(V) ==
          Approx(std::sqrt(V)).epsilon(1e-15).margin(0));
  }
  CHECK(std::isnan(mote_rt::detail::normSqrt(-1.0f)));
  CHECK(std::isnan(mote_rt::detail::normSqrt(std::nanf(""))));
  CHECK(std::isinf(
      mote_rt::detail::normSqrt(std::numeric_limits<float>::infinity())));
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

namespace {

struct PoolCase {
  const char *Name;
  Shape X;
  AttrMap Attrs;
};

std::vector<PoolCase> averagePoolCases() {
  return {
      {"3x3 stride 2 pads 1",
       {1, 2, 5, 5},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}})},
      {"count_include_pad",
       {2, 2, 5, 6},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 0, 2, 1}},
              {"count_include_pad", int64_t(1)}})},
      {"ceil_mode with count_include_pad",
       {1, 1, 6, 7},
       attrs({{"kernel_shape", Ints{3, 2}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 0, 0, 0}},
              {"ceil_mode", int64_t(1)},
              {"count_include_pad", int64_t(1)}})},
      {"ceil_mode",
       {1, 2, 6, 6},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"ceil_mode", int64_t(1)}})},
      {"1-D",
       {2, 3, 9},
       attrs({{"kernel_shape", Ints{3}},
              {"strides", Ints{2}},
              {"pads", Ints{1, 0}}})},
      {"3-D",
       {1, 2, 4, 5, 4},
       attrs({{"kernel_shape", Ints{2, 3, 2}},
              {"pads", Ints{0, 1, 1, 1, 1, 0}},
              {"count_include_pad", int64_t(1)}})},
      {"SAME_LOWER",
       {1, 1, 5, 5},
       attrs({{"kernel_shape", Ints{2, 2}},
              {"auto_pad", std::string("SAME_LOWER")}})},
      {"pads as large as the kernel",
       {1, 1, 2, 3},
       attrs({{"kernel_shape", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}})},
  };
}

std::vector<PoolCase> maxPoolCases() {
  return {
      {"3x3 stride 2 pads 1",
       {1, 2, 6, 6},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}})},
      {"dilated ceil_mode",
       {2, 2, 7, 8},
       attrs({{"kernel_shape", Ints{2, 3}},
              {"strides", Ints{2, 2}},
              {"dilations", Ints{2, 2}},
              {"pads", Ints{0, 1, 1, 0}},
              {"ceil_mode", int64_t(1)}})},
      {"storage_order 1",
       {1, 2, 5, 4},
       attrs({{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t(1)}})},
      {"1-D",
       {2, 3, 10},
       attrs({{"kernel_shape", Ints{3}},
              {"strides", Ints{3}},
              {"pads", Ints{2, 1}}})},
      {"3-D storage_order 1",
       {1, 1, 4, 3, 5},
       attrs({{"kernel_shape", Ints{2, 2, 3}},
              {"pads", Ints{1, 0, 1, 0, 1, 1}},
              {"storage_order", int64_t(1)}})},
      {"pads as large as the kernel",
       {1, 1, 2, 2},
       attrs({{"kernel_shape", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}})},
      // Windows tiling the plane (stride = kernel, no padding): the kernels'
      // tiled path.
      {"2x2 tiles",
       {2, 3, 8, 8},
       attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}})},
      {"2x2 tiles, last row and column read by none",
       {1, 2, 7, 9},
       attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}})},
      {"3x2 tiles",
       {1, 2, 9, 8},
       attrs({{"kernel_shape", Ints{3, 2}}, {"strides", Ints{3, 2}}})},
      {"1-D tiles",
       {2, 3, 11},
       attrs({{"kernel_shape", Ints{2}}, {"strides", Ints{2}}})},
      {"2x2 tiles storage_order 1",
       {1, 2, 6, 4},
       attrs({{"kernel_shape", Ints{2, 2}},
              {"strides", Ints{2, 2}},
              {"storage_order", int64_t(1)}})},
      {"2x2 tiles, ceil_mode adds partial windows",
       {1, 2, 5, 5},
       attrs({{"kernel_shape", Ints{2, 2}},
              {"strides", Ints{2, 2}},
              {"ceil_mode", int64_t(1)}})},
  };
}

} // namespace

TEST_CASE("kernel avg_pool and avg_pool_grad match the interpreter",
          "[kernel]") {
  for (const PoolCase &Case : averagePoolCases()) {
    INFO(Case.Name);
    LoweredOp L =
        lowerOp(OpKind::AveragePool, {randomF32(Case.X, 1)}, Case.Attrs);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Header == "mote_rt/pool.h");
    CHECK(L.Call.Kernel == "avg_pool");
    auto P = paramsAs<mote_rt::PoolP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    mote_rt::avg_pool<float>(P, L.in<float>(0), Y.data());
    checkClose(L.Run.Results[0], Y);

    AttrMap A = Case.Attrs;
    A.set("input_shape", Case.X);
    LoweredOp G = lowerOp(OpKind::AveragePoolGrad,
                          {randomF32(L.Run.Types[0].Dims, 2)}, A);
    REQUIRE_FALSE(G.LowerError);
    CHECK(G.Call.Kernel == "avg_pool_grad");
    auto GP = paramsAs<mote_rt::PoolP>(G.Call);
    std::vector<float> DX(G.outElems(0), 1e30f);
    mote_rt::avg_pool_grad<float>(GP, G.in<float>(0), DX.data());
    checkClose(G.Run.Results[0], DX);
  }
}

TEST_CASE("kernel max_pool and max_pool_grad match the interpreter",
          "[kernel]") {
  for (const PoolCase &Case : maxPoolCases()) {
    INFO(Case.Name);
    Tensor X = randomF32(Case.X, 1);
    // Ties: the first maximum in window order must win.
    X.data<float>()[1] = X.data<float>()[0];
    X.data<float>()[3] = X.data<float>()[2];
    LoweredOp L = lowerOp(OpKind::MaxPool, {X}, Case.Attrs, 2);
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "max_pool");
    auto P = paramsAs<mote_rt::PoolP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    std::vector<int64_t> Indices(L.outElems(1), 12345);
    mote_rt::max_pool<float>(P, L.in<float>(0), Y.data(), Indices.data());
    checkExact(L.Run.Results[0], Y);
    checkSame(L.Run.Results[1], Indices);
    // Without the Indices result.
    std::vector<float> Y1(L.outElems(0), 1e30f);
    mote_rt::max_pool<float>(P, L.in<float>(0), Y1.data());
    checkExact(L.Run.Results[0], Y1);

    LoweredOp G = lowerOp(OpKind::MaxPoolGrad,
                          {randomF32(L.Run.Types[0].Dims, 2), X}, Case.Attrs);
    REQUIRE_FALSE(G.LowerError);
    CHECK(G.Call.Kernel == "max_pool_grad");
    auto GP = paramsAs<mote_rt::PoolP>(G.Call);
    std::vector<float> DX(G.outElems(0), 1e30f);
    mote_rt::max_pool_grad<float>(GP, G.in<float>(0), G.in<float>(1),
                                  DX.data());
    // Overlapping windows add several dY into one dX in the kernel's order.
    checkClose(G.Run.Results[0], DX);
  }
}

TEST_CASE("kernel max_pool propagates NaN like the interpreter", "[kernel]") {
  const float NaN = std::numeric_limits<float>::quiet_NaN();
  Tensor X = f32({1, 1, 3, 4}, {1, NaN, 5, 2, //
                                7, 3, 9, NaN, //
                                0, 8, 4, 6});
  AttrMap A = attrs({{"kernel_shape", Ints{2, 2}}});
  LoweredOp L = lowerOp(OpKind::MaxPool, {X}, A, 2);
  REQUIRE_FALSE(L.LowerError);
  auto P = paramsAs<mote_rt::PoolP>(L.Call);
  std::vector<float> Y(L.outElems(0));
  std::vector<int64_t> Indices(L.outElems(1));
  mote_rt::max_pool<float>(P, L.in<float>(0), Y.data(), Indices.data());
  checkExact(L.Run.Results[0], Y);
  checkSame(L.Run.Results[1], Indices);
  CHECK(std::isnan(Y[0]));

  LoweredOp G =
      lowerOp(OpKind::MaxPoolGrad, {randomF32(L.Run.Types[0].Dims, 2), X}, A);
  REQUIRE_FALSE(G.LowerError);
  auto GP = paramsAs<mote_rt::PoolP>(G.Call);
  std::vector<float> DX(G.outElems(0));
  mote_rt::max_pool_grad<float>(GP, G.in<float>(0), G.in<float>(1), DX.data());
  checkClose(G.Run.Results[0], DX);

  // Several NaNs in one window, one of them first, overlapping windows:
  // the first NaN in window order is the maximum and its index.
  Tensor X2 = f32({1, 1, 3, 3}, {NaN, 2, NaN, //
                                 NaN, 1, 5,   //
                                 3, NaN, NaN});
  LoweredOp L2 =
      lowerOp(OpKind::MaxPool, {X2}, attrs({{"kernel_shape", Ints{2, 2}}}), 2);
  REQUIRE_FALSE(L2.LowerError);
  auto P2 = paramsAs<mote_rt::PoolP>(L2.Call);
  std::vector<float> Y2(L2.outElems(0));
  std::vector<int64_t> I2(L2.outElems(1));
  mote_rt::max_pool<float>(P2, L2.in<float>(0), Y2.data(), I2.data());
  checkExact(L2.Run.Results[0], Y2);
  checkSame(L2.Run.Results[1], I2);
  CHECK(I2 == std::vector<int64_t>{0, 2, 3, 7});

  // Tiled windows (stride = kernel): a NaN first, a NaN after a larger
  // value, two NaNs, signed zeros tied (the first wins), ties of equal
  // values, and -inf everywhere.
  const float Inf = std::numeric_limits<float>::infinity();
  Tensor X3 = f32({1, 1, 4, 6}, {NaN, 9,  1,    NaN,  -0.0f, 0.0f, //
                                 2,   3,  7,    NaN,  0.0f,  -0.0f, //
                                 5,   5,  -Inf, -Inf, 4,     NaN,   //
                                 1,   5,  -Inf, -Inf, 4,     4});
  AttrMap T = attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}});
  LoweredOp L3 = lowerOp(OpKind::MaxPool, {X3}, T, 2);
  REQUIRE_FALSE(L3.LowerError);
  auto P3 = paramsAs<mote_rt::PoolP>(L3.Call);
  std::vector<float> Y3(L3.outElems(0));
  std::vector<int64_t> I3(L3.outElems(1));
  mote_rt::max_pool<float>(P3, L3.in<float>(0), Y3.data(), I3.data());
  checkExact(L3.Run.Results[0], Y3);
  checkSame(L3.Run.Results[1], I3);
  CHECK(I3 == std::vector<int64_t>{0, 3, 4, 12, 14, 17});
  LoweredOp G3 =
      lowerOp(OpKind::MaxPoolGrad, {randomF32(L3.Run.Types[0].Dims, 3), X3}, T);
  REQUIRE_FALSE(G3.LowerError);
  auto GP3 = paramsAs<mote_rt::PoolP>(G3.Call);
  std::vector<float> DX3(G3.outElems(0), 1e30f);
  mote_rt::max_pool_grad<float>(GP3, G3.in<float>(0), G3.in<float>(1),
                                DX3.data());
  checkExact(G3.Run.Results[0], DX3); // one dY per dX: no sums to reorder
}

TEST_CASE("kernel global_avg_pool matches the interpreter", "[kernel]") {
  // Planes shorter than a vector, a few vectors with a tail, many vectors.
  for (Shape X : {Shape{2, 3, 4, 5}, Shape{1, 2, 7}, Shape{1, 1, 2, 3, 4},
                  Shape{2, 2, 9, 9}, Shape{1, 3, 25, 10}}) {
    INFO(shapeStr(X));
    LoweredOp L = lowerOp(OpKind::GlobalAveragePool, {randomF32(X, 1)});
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "global_avg_pool");
    auto P = paramsAs<mote_rt::GlobalPoolP>(L.Call);
    std::vector<float> Y(L.outElems(0), 1e30f);
    mote_rt::global_avg_pool<float>(P, L.in<float>(0), Y.data());
    checkClose(L.Run.Results[0], Y);
  }
}
