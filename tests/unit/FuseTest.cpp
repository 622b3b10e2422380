//===- FuseTest.cpp - The fuse pass keeps every step's result ------------===//
//
// The interpreter is the oracle: the same training graph, built with and
// without the fuse pass, runs three steps from the same parameters and
// inputs; losses and every trained parameter must agree. Each case also
// checks that the pattern it is about did fire, so a pass that fuses
// nothing cannot pass.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Parser.h"
#include "compiler/Verifier.h"
#include "compiler/ops/math/Fused.h"
#include "passes/Pass.h"

#include <cmath>

using namespace mote;
using namespace mote::test;

namespace {

const char *CnnText = SmallCnnText;

// A global average pool: its backward is a Mul by 1/16 then an Expand.
const char *GapText = R"(graph @gap {
  input %x : f32[2,1,6,6]
  param %conv.weight : f32[4,1,3,3]
  param %conv.bias : f32[4]
  param %fc.weight : f32[3,4]
  param %fc.bias : f32[3]
  %c = Conv "conv"(%x, %conv.weight, %conv.bias) {kernel_shape = [3, 3]} : f32[2,4,4,4]
  %r = Relu "relu"(%c) : f32[2,4,4,4]
  %p = GlobalAveragePool "pool"(%r) : f32[2,4,1,1]
  %f = Reshape "flat"(%p) {shape = [2, 4]} : f32[2,4]
  %y = Gemm "fc"(%f, %fc.weight, %fc.bias) {transB = 1} : f32[2,3]
  output %y
})";

// HardSwish after conv1: it fuses only when conv1 is frozen.
const char *SwishText = R"(graph @swish {
  input %x : f32[2,1,6,6]
  param %conv1.weight : f32[4,1,3,3]
  param %conv1.bias : f32[4]
  param %conv2.weight : f32[2,4,1,1]
  param %fc.weight : f32[3,32]
  param %fc.bias : f32[3]
  %c = Conv "conv1"(%x, %conv1.weight, %conv1.bias) {kernel_shape = [3, 3]} : f32[2,4,4,4]
  %h = HardSwish "hswish"(%c) : f32[2,4,4,4]
  %c2 = Conv "conv2"(%h, %conv2.weight) {kernel_shape = [1, 1]} : f32[2,2,4,4]
  %f = Reshape "flat"(%c2) {shape = [2, 32]} : f32[2,32]
  %y = Gemm "fc"(%f, %fc.weight, %fc.bias) {transB = 1} : f32[2,3]
  output %y
})";

// LayerNorm and GELU written out (as exporters decompose them), then a
// tanh/sigmoid branch added back to its input: elementwise chains forward
// and backward.
const char *ChainText = R"(graph @chains {
  input %x : f32[2,8]
  param %fc1.weight : f32[8,8]
  param %fc1.bias : f32[8]
  param %ln.gamma : f32[8]
  param %ln.beta : f32[8]
  param %fc.weight : f32[3,8]
  param %fc.bias : f32[3]
  const %two : f32[] = [2.0]
  const %eps : f32[] = [0.00001]
  const %sqrt2 : f32[] = [1.4142135]
  const %one : f32[] = [1.0]
  const %half : f32[] = [0.5]
  %h = Gemm "fc1"(%x, %fc1.weight, %fc1.bias) {transB = 1} : f32[2,8]
  %mean = ReduceMean "mean"(%h) {axes = [-1]} : f32[2,1]
  %xm = Sub "sub"(%h, %mean) : f32[2,8]
  %sq = Pow "pow"(%xm, %two) : f32[2,8]
  %var = ReduceMean "var"(%sq) {axes = [-1]} : f32[2,1]
  %ve = Add "addeps"(%var, %eps) : f32[2,1]
  %std = Sqrt "sqrt"(%ve) : f32[2,1]
  %n = Div "norm"(%xm, %std) : f32[2,8]
  %s = Mul "scale"(%n, %ln.gamma) : f32[2,8]
  %l = Add "shift"(%s, %ln.beta) : f32[2,8]
  %a = Div "gdiv"(%l, %sqrt2) : f32[2,8]
  %b = Erf "erf"(%a) : f32[2,8]
  %c = Add "gadd"(%b, %one) : f32[2,8]
  %d = Mul "gmul"(%l, %c) : f32[2,8]
  %g = Mul "ghalf"(%d, %half) : f32[2,8]
  %t = Tanh "tanh"(%g) : f32[2,8]
  %u = Sigmoid "sig"(%t) : f32[2,8]
  %v = Add "res"(%u, %g) : f32[2,8]
  %y = Gemm "fc"(%v, %fc.weight, %fc.bias) {transB = 1} : f32[2,3]
  output %y
})";

/// Deterministic values in [-1, 1).
Tensor pseudoRandom(const TensorType &T, uint32_t Seed) {
  Tensor R(T);
  uint32_t S = Seed * 2654435761u + 1;
  for (int64_t I = 0; I < R.numElements(); ++I) {
    S = S * 1664525u + 1013904223u;
    R.setFromDouble(I, double(S >> 8) / double(1u << 23) - 1.0);
  }
  return R;
}

struct Setup {
  TrainOptions Train;
  std::vector<std::string> Update;
};

std::unique_ptr<Graph> build(const Setup &S, bool Fuse,
                             const char *Text = CnnText) {
  auto G = parseGraph(Text);
  REQUIRE(G);
  uint32_t Seed = 1;
  for (Value *P : (*G)->params())
    if (P->isParam()) // constants keep their values
      *P->mutableData() = pseudoRandom(P->type(), Seed++);
  PassContext Ctx;
  Ctx.Train = S.Train;
  for (const std::string &U : S.Update) {
    auto R = parseUpdateRule(U);
    REQUIRE(R);
    Ctx.Train.Update.push_back(*R);
  }
  auto St = runPipeline(defaultPipeline(true, true, Fuse, /*Quantize=*/false, /*PackMasks=*/false), **G, Ctx);
  if (!St)
    FAIL(St.error().str());
  return std::move(*G);
}

size_t count(const Graph &G, OpKind K) {
  size_t N = 0;
  for (const auto &Nd : G.nodes())
    N += Nd->op() == K;
  return N;
}

void requireClose(const Tensor &A, const Tensor &B, double Tol) {
  REQUIRE(A.type() == B.type());
  for (int64_t I = 0; I < A.numElements(); ++I) {
    double X = A.getAsDouble(I), Y = B.getAsDouble(I);
    INFO("element " << I << ": " << X << " vs " << Y);
    REQUIRE(std::abs(X - Y) <= Tol * std::max(1.0, std::abs(Y)));
  }
}

/// Three steps of both graphs; losses and parameters must agree.
void requireSameTraining(const Graph &Plain, const Graph &Fused) {
  Interpreter IP(Plain), IF(Fused);
  for (uint32_t Step = 0; Step < 3; ++Step) {
    std::map<std::string, Tensor> Feeds = {
        {"x", pseudoRandom(Plain.lookup("x")->type(), 100 + Step)},
        {"label", Tensor::fromVector<int32_t>({int32_t(Step % 3), 2}, {2})}};
    REQUIRE(IP.run(Feeds));
    REQUIRE(IF.run(Feeds));
    requireClose(*IF.get(Fused.outputs()[0]), *IP.get(Plain.outputs()[0]),
                 1e-6);
  }
  for (const Value *P : Plain.params()) {
    if (!P->isTrainable() && !P->isOptimizerState())
      continue;
    INFO("parameter " << P->name());
    const Value *Q = Fused.lookup(P->name());
    REQUIRE(Q);
    requireClose(*IF.state(Q), *IP.state(P), 1e-6);
  }
}

} // namespace

TEST_CASE("fuse: SGD training steps are unchanged", "[fuse]") {
  Setup S;
  S.Train.LearningRate = 0.1f;
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  CHECK(count(*Plain, OpKind::ConvGradWeight) == 2);
  CHECK(count(*Fused, OpKind::ConvGradWeight) == 0);
  CHECK(count(*Fused, OpKind::ConvGradWeightSgd) == 2);
  CHECK(count(*Fused, OpKind::Relu) == 0);
  CHECK(count(*Fused, OpKind::Clip) == 0);
  // Every bias gradient is the channel sum of an activation gradient (relu1,
  // relu6 and relu_out after the Gemm): no ReduceSum, ReluGrad or ClipGrad
  // is left.
  CHECK(count(*Plain, OpKind::ReduceSum) == 3);
  CHECK(count(*Fused, OpKind::ActivationGradSum) == 3);
  CHECK(count(*Fused, OpKind::ReduceSum) == 0);
  CHECK(count(*Fused, OpKind::ReluGrad) == 0);
  CHECK(count(*Fused, OpKind::ClipGrad) == 0);
  // Only the three bias updates stay SgdUpdate nodes.
  CHECK(count(*Fused, OpKind::SgdUpdate) == 3);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: weight decay and a partial-channel update", "[fuse]") {
  Setup S;
  S.Train.LearningRate = 0.05f;
  S.Train.WeightDecay = 0.3f;
  S.Update = {"conv2.*:0.5", "fc.*"};
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  CHECK(count(*Fused, OpKind::ConvGradWeightSgd) == 1);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: SGD on a row slice of a Gemm weight", "[fuse]") {
  Setup S;
  S.Train.LearningRate = 0.1f;
  S.Train.WeightDecay = 0.05f;
  S.Update = {"fc.weight:0.5"};
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  // Not one Gemm over the weight (only 2 of its 3 rows train).
  CHECK(count(*Fused, OpKind::GemmGradWeightSgd) == 1);
  CHECK(count(*Fused, OpKind::SgdUpdate) == 0);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: bias-only training sums each bias gradient in its "
          "activation gradient",
          "[fuse]") {
  Setup S;
  S.Train.LearningRate = 0.2f;
  S.Update = {"*.bias"};
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  CHECK(count(*Fused, OpKind::ActivationGradSum) == 3);
  CHECK(count(*Fused, OpKind::ReduceSum) == 0);
  CHECK(count(*Fused, OpKind::ConvGradWeightSgd) == 0);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: a pool's expanded gradient carries its activation's "
          "bias sum",
          "[fuse]") {
  Setup S;
  S.Train.LearningRate = 0.3f;
  auto Plain = build(S, false, GapText);
  auto Fused = build(S, true, GapText);
  CHECK(count(*Fused, OpKind::ActivationGradSum) == 1);
  CHECK(count(*Fused, OpKind::ReluGrad) == 0);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: HardSwish folds into a frozen conv only", "[fuse]") {
  Setup S;
  S.Train.LearningRate = 0.1f;
  S.Update = {"conv2.*", "fc.*"};
  auto Plain = build(S, false, SwishText);
  auto Fused = build(S, true, SwishText);
  CHECK(count(*Plain, OpKind::HardSwish) == 1);
  CHECK(count(*Fused, OpKind::HardSwish) == 0);
  requireSameTraining(*Plain, *Fused);
  // Trained, conv1's gradient needs the pre-activation value: no fusion.
  S.Update = {};
  auto Full = build(S, true, SwishText);
  CHECK(count(*Full, OpKind::HardSwish) == 1);
  CHECK(count(*Full, OpKind::HardSwishGrad) == 1);
}

TEST_CASE("fuse: momentum folds every weight gradient into its update",
          "[fuse]") {
  Setup S;
  S.Train.Optimizer = OptimizerKind::Momentum;
  S.Train.LearningRate = 0.1f;
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  CHECK(count(*Fused, OpKind::ConvGradWeight) == 0);
  CHECK(count(*Fused, OpKind::ConvGradWeightMomentum) == 2);
  CHECK(count(*Fused, OpKind::GemmGradWeightMomentum) == 1);
  // The three biases keep their MomentumUpdate.
  CHECK(count(*Fused, OpKind::MomentumUpdate) == 3);
  CHECK(count(*Fused, OpKind::Relu) == 0);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: Nesterov momentum with weight decay on a channel slice",
          "[fuse]") {
  Setup S;
  S.Train.Optimizer = OptimizerKind::Momentum;
  S.Train.Nesterov = true;
  S.Train.LearningRate = 0.05f;
  S.Train.WeightDecay = 0.2f;
  S.Update = {"conv2.*:0.5", "fc.*", "conv1.weight"};
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  CHECK(count(*Fused, OpKind::ConvGradWeightMomentum) == 2);
  CHECK(count(*Fused, OpKind::GemmGradWeightMomentum) == 1);
  CHECK(count(*Fused, OpKind::MomentumUpdate) == 2);
  requireSameTraining(*Plain, *Fused);
}

TEST_CASE("fuse: Adam folds conv weight gradients into their update",
          "[fuse]") {
  Setup S;
  S.Train.Optimizer = OptimizerKind::Adam;
  S.Train.LearningRate = 0.01f;
  S.Train.WeightDecay = 0.1f;
  auto Plain = build(S, false);
  auto Fused = build(S, true);
  CHECK(count(*Fused, OpKind::ConvGradWeight) == 0);
  CHECK(count(*Fused, OpKind::ConvGradWeightAdam) == 2);
  CHECK(count(*Fused, OpKind::GemmGradWeightAdam) == 1);
  // The biases keep their AdamUpdate.
  CHECK(count(*Fused, OpKind::AdamUpdate) == 3);
  requireSameTraining(*Plain, *Fused);
  // Channel slices: 3 of conv2's 6 output channels, 2 of fc's 3 rows.
  S.Update = {"conv2.weight:0.5", "fc.weight:0.5"};
  auto PlainSlice = build(S, false);
  auto FusedSlice = build(S, true);
  CHECK(count(*FusedSlice, OpKind::ConvGradWeightAdam) == 1);
  CHECK(count(*FusedSlice, OpKind::GemmGradWeightAdam) == 1);
  CHECK(count(*FusedSlice, OpKind::AdamUpdate) == 0);
  requireSameTraining(*PlainSlice, *FusedSlice);
}

TEST_CASE("fuse: a fused Conv or Gemm has no gradient rule", "[fuse]") {
  auto G = parseGraph(R"(graph @g {
  input %x : f32[1,1,4,4]
  param %w : f32[2,1,3,3]
  %y = Conv "conv"(%x, %w) {activation = "Relu", kernel_shape = [3, 3]} : f32[1,2,2,2]
  output %y
})");
  REQUIRE(G);
  PassContext Ctx;
  Ctx.Train.Loss = LossKind::Mse;
  auto St = runPipeline({lookupPass("add-loss"), lookupPass("select-trainable"),
                         lookupPass("autodiff")},
                        **G, Ctx);
  REQUIRE(!St);
  CHECK_THAT(St.error().str(),
             Catch::Contains("fused activation has no gradient rule"));
}

TEST_CASE("fuse: elementwise chains, forward and backward, keep every step's "
          "result",
          "[fuse]") {
  for (OptimizerKind Opt : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
    Setup S;
    S.Train.LearningRate = 0.05f;
    S.Train.Optimizer = Opt;
    auto Plain = build(S, false, ChainText);
    auto Fused = build(S, true, ChainText);
    CHECK(count(*Plain, OpKind::FusedElementwise) == 0);
    size_t Forward = 0, Backward = 0, Steps = 0;
    for (const auto &N : Fused->nodes()) {
      if (N->op() != OpKind::FusedElementwise)
        continue;
      Forward += N->phase() == NodePhase::Forward;
      Backward += N->phase() == NodePhase::Backward;
      Steps += N->attrs().getInts("args").size() / 2;
    }
    // Forward: the LayerNorm tail, var + eps and its root, and the GELU.
    CHECK(Forward >= 3);
    CHECK(Backward >= 2);
    CHECK(count(*Fused, OpKind::Erf) == 0);
    CHECK(count(*Plain, OpKind::ErfGrad) == 1);
    CHECK(count(*Fused, OpKind::ErfGrad) == 0);
    // The step ops a chain took are gone from the graph, none twice.
    auto StepOps = [](const Graph &G) {
      size_t K = 0;
      for (const auto &N : G.nodes())
        K += isFusedElementwiseStep(N->op());
      return K;
    };
    CHECK(Steps > 10);
    CHECK(StepOps(*Fused) + Steps == StepOps(*Plain));
    requireSameTraining(*Plain, *Fused);
  }
}
