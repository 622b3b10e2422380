//===- GradNnTest.cpp - Gradient rules and backward ops of the nn ops -----===//
//
// Every gradient rule of compiler/ops/nn is checked against central
// differences of the forward op (GradCheck.h) on small random f64 inputs
// covering the geometry edge cases (strides, asymmetric and automatic
// padding, dilation, groups, ceil_mode, broadcasting), which exercises every
// backward op of compiler/ops/grad these rules emit. Then: hand-checked
// values of the backward ops, their f32 kernels against their f64 kernels,
// ConvGradWeight's out_channels, and the diagnostics of the rules and type
// rules.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include <cmath>
#include <limits>

using namespace mote;
using namespace mote::test;

namespace {

using Ints = std::vector<int64_t>;


Tensor f64(Shape Dims, std::vector<double> V) {
  return Tensor::fromVector<double>(std::move(V), std::move(Dims));
}

/// \p T converted to f32.
Tensor toF32(const Tensor &T) {
  Tensor R(TensorType(DType::F32, T.shape()));
  for (int64_t I = 0; I < T.numElements(); ++I)
    R.setFromDouble(I, T.getAsDouble(I));
  return R;
}

/// Checks that \p T has shape \p Dims and values close to \p Want.
void checkValues(const Tensor &T, const Shape &Dims,
                 const std::vector<double> &Want, double Tol = 1e-9) {
  REQUIRE(T.shape() == Dims);
  REQUIRE(T.numElements() == int64_t(Want.size()));
  for (size_t I = 0; I < Want.size(); ++I) {
    INFO("element " << I);
    CHECK(T.getAsDouble(int64_t(I)) == Approx(Want[I]).margin(Tol));
  }
}

/// Runs \p Op and requires it to fail with exactly \p Message.
void checkError(OpKind Op, std::vector<std::optional<Tensor>> Inputs, AttrMap A,
                const std::string &Message, size_t NumResults = 1) {
  OpRun R = runOp(Op, std::move(Inputs), std::move(A), NumResults);
  REQUIRE(R.Error);
  CHECK(R.Error->Message == Message);
}

/// Runs \p Op on f64 inputs and on the same inputs in f32 and requires the
/// results to agree (every backward kernel supports both).
void checkF32MatchesF64(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
                        AttrMap A, size_t NumResults = 1) {
  INFO(getOpDef(Op).Name);
  OpRun R64 = runOp(Op, Inputs, A, NumResults);
  if (R64.Error)
    FAIL(R64.Error->str());
  for (auto &T : Inputs)
    if (T && T->dtype() == DType::F64)
      T = toF32(*T);
  OpRun R32 = runOp(Op, Inputs, A, NumResults);
  if (R32.Error)
    FAIL(R32.Error->str());
  for (size_t K = 0; K < NumResults; ++K) {
    const Tensor &T64 = R64.Results[K], &T32 = R32.Results[K];
    REQUIRE(T32.dtype() == DType::F32);
    REQUIRE(T32.shape() == T64.shape());
    for (int64_t I = 0; I < T64.numElements(); ++I) {
      INFO("result " << K << " element " << I);
      CHECK(T32.getAsDouble(I) ==
            Approx(T64.getAsDouble(I)).margin(1e-4).epsilon(1e-4));
    }
  }
}

/// Differentiates Sum(op(inputs) * 1) with respect to \p Wrt; returns the
/// diagnostic of a failing autodiff (empty if it succeeded).
std::string autodiffError(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
                          AttrMap A, size_t Wrt, size_t NumResults,
                          size_t LossFrom) {
  Graph G("g");
  std::vector<Value *> Ins;
  Value *W = nullptr;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (!Inputs[I]) {
      Ins.push_back(nullptr);
      continue;
    }
    std::string Name = "in" + std::to_string(I);
    Value *V =
        I == Wrt ? G.addParam(Name, *Inputs[I]) : G.addConst(Name, *Inputs[I]);
    if (I == Wrt) {
      V->setTrain({true, -1, ""});
      W = V;
    }
    Ins.push_back(V);
  }
  std::vector<ResultSpec> Rs;
  for (size_t I = 0; I < NumResults; ++I)
    Rs.push_back({"y" + std::to_string(I), TensorType()});
  Node *N = G.addNode(Op, "op", Ins, std::move(A), Rs);
  auto Types = inferNodeTypes(*N);
  REQUIRE(Types);
  for (size_t I = 0; I < NumResults; ++I)
    N->output(I)->setType((*Types)[I]);
  Value *Y = N->output(LossFrom);
  Node *S = G.addNode(OpKind::ReduceSum, "sum", {Y},
                      attrs({{"keepdims", int64_t(0)}}),
                      {{"loss", TensorType(Y->type().Elem, {})}});
  std::vector<Value *> Wrt1 = {W};
  auto Grads = buildGradients(G, S->output(0), Wrt1);
  return Grads ? std::string() : Grads.error().Message;
}

/// Number of nodes of kind \p Op in \p G.
size_t countNodes(const Graph &G, OpKind Op) {
  size_t C = 0;
  for (const auto &N : G.nodes())
    C += N->op() == Op;
  return C;
}

} // namespace

//===----------------------------------------------------------------------===//
// Finite-difference checks of the gradient rules
//===----------------------------------------------------------------------===//

TEST_CASE("gradient of Conv", "[grad][nn]") {
  struct Case {
    const char *Name;
    Shape X, W;
    bool Bias;
    AttrMap A;
  };
  std::vector<Case> Cases = {
      {"1-D, stride 2, asymmetric pads",
       {2, 3, 7},
       {4, 3, 3},
       true,
       attrs({{"strides", Ints{2}}, {"pads", Ints{1, 0}}})},
      {"2-D, stride 2, asymmetric pads",
       {1, 2, 5, 6},
       {3, 2, 3, 2},
       true,
       attrs({{"strides", Ints{2, 2}}, {"pads", Ints{0, 1, 1, 0}}})},
      {"2-D, dilation 2, no bias",
       {1, 2, 7, 6},
       {2, 2, 3, 2},
       false,
       attrs({{"dilations", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}})},
      {"group 2",
       {2, 4, 5, 5},
       {6, 2, 3, 3},
       true,
       attrs({{"group", int64_t(2)}, {"pads", Ints{1, 1, 1, 1}}})},
      {"depthwise, stride 2",
       {1, 3, 6, 5},
       {3, 1, 3, 3},
       true,
       attrs({{"group", int64_t(3)},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}})},
      {"depthwise with multiplier 2, no bias",
       {1, 2, 5, 5},
       {4, 1, 2, 2},
       false,
       attrs({{"group", int64_t(2)}})},
      {"auto_pad SAME_UPPER, even kernel, stride 2",
       {1, 2, 5, 5},
       {2, 2, 4, 4},
       true,
       attrs({{"auto_pad", std::string("SAME_UPPER")},
              {"strides", Ints{2, 2}},
              {"kernel_shape", Ints{4, 4}}})},
      {"auto_pad SAME_LOWER, no bias",
       {1, 1, 6},
       {2, 1, 4},
       false,
       attrs({{"auto_pad", std::string("SAME_LOWER")}})},
      {"auto_pad VALID, stride 2 leaving a remainder",
       {1, 2, 6, 6},
       {2, 2, 3, 3},
       true,
       attrs({{"auto_pad", std::string("VALID")}, {"strides", Ints{2, 2}}})},
      {"3-D",
       {1, 2, 3, 4, 3},
       {2, 2, 2, 2, 2},
       true,
       attrs({{"pads", Ints{1, 0, 0, 0, 1, 1}}})},
  };
  unsigned Seed = 1;
  for (const Case &C : Cases) {
    INFO(C.Name);
    std::vector<std::optional<Tensor>> In = {randomF64(C.X, Seed++),
                                             randomF64(C.W, Seed++)};
    std::vector<size_t> Wrt = {0, 1};
    if (C.Bias) {
      In.push_back(randomF64({C.W[0]}, Seed++));
      Wrt.push_back(2);
    }
    checkGradient(OpKind::Conv, In, C.A, Wrt);
  }
}

TEST_CASE("Conv differentiates only the inputs that need it", "[grad][nn]") {
  // Gradients for W only: no ConvGradInput, no bias reduction.
  Graph G("g");
  Value *X = G.addConst("x", randomF64({1, 2, 4, 4}, 1));
  Value *W = G.addParam("w", randomF64({3, 2, 3, 3}, 2));
  Value *B = G.addConst("b", randomF64({3}, 3));
  W->setTrain({true, -1, ""});
  Node *C = G.addNode(OpKind::Conv, "conv", {X, W, B}, {},
                      {{"y", TensorType(DType::F64, {1, 3, 2, 2})}});
  Node *S = G.addNode(OpKind::ReduceSum, "sum", {C->output(0)},
                      attrs({{"keepdims", int64_t(0)}}),
                      {{"loss", TensorType(DType::F64, {})}});
  std::vector<Value *> Wrt = {W};
  auto Grads = buildGradients(G, S->output(0), Wrt);
  REQUIRE(Grads);
  REQUIRE((*Grads)[W]);
  CHECK((*Grads)[W]->producer()->op() == OpKind::ConvGradWeight);
  CHECK(countNodes(G, OpKind::ConvGradInput) == 0);
  CHECK(countNodes(G, OpKind::ConvGradWeight) == 1);
}

TEST_CASE("gradient of Gemm", "[grad][nn]") {
  // M = 3, K = 4, N = 2.
  unsigned Seed = 20;
  for (int64_t TA : {0, 1}) {
    for (int64_t TB : {0, 1}) {
      Shape AS = TA ? Shape{4, 3} : Shape{3, 4};
      Shape BS = TB ? Shape{2, 4} : Shape{4, 2};
      for (Shape CS :
           {Shape{2}, Shape{1, 2}, Shape{3, 1}, Shape{3, 2}, Shape{}}) {
        INFO("transA " << TA << " transB " << TB << " C " << shapeStr(CS));
        AttrMap A = attrs(
            {{"transA", TA}, {"transB", TB}, {"alpha", 0.75f}, {"beta", 1.5f}});
        checkGradient(OpKind::Gemm,
                      {randomF64(AS, Seed), randomF64(BS, Seed + 1),
                       randomF64(CS, Seed + 2)},
                      A, {0, 1, 2});
        Seed += 3;
      }
      INFO("transA " << TA << " transB " << TB << " without C");
      checkGradient(OpKind::Gemm,
                    {randomF64(AS, Seed), randomF64(BS, Seed + 1)},
                    attrs({{"transA", TA}, {"transB", TB}}), {0, 1});
    }
  }
}

TEST_CASE("gradient of MatMul", "[grad][nn]") {
  struct Case {
    Shape A, B;
  };
  std::vector<Case> Cases = {
      {{3, 4}, {4, 5}},          {{2, 3, 4}, {4, 5}},    {{4, 5}, {2, 5, 3}},
      {{2, 1, 3, 4}, {3, 4, 2}}, {{1, 2, 3}, {2, 3, 2}}, {{2, 2, 3}, {2, 3, 1}},
  };
  unsigned Seed = 40;
  for (const Case &C : Cases) {
    INFO(shapeStr(C.A) << " x " << shapeStr(C.B));
    checkGradient(OpKind::MatMul,
                  {randomF64(C.A, Seed), randomF64(C.B, Seed + 1)}, {}, {0, 1});
    Seed += 2;
  }
}

TEST_CASE("MatMul with a 1-D operand has no gradient rule", "[grad][nn]") {
  CHECK(autodiffError(OpKind::MatMul, {randomF64({4}, 1), randomF64({4, 3}, 2)},
                      {}, 1, 1, 0) ==
        "no gradient rule for MatMul with a 1-D operand; reshape it to 2-D");
  CHECK(autodiffError(OpKind::MatMul, {randomF64({2, 4}, 1), randomF64({4}, 2)},
                      {}, 0, 1, 0) ==
        "no gradient rule for MatMul with a 1-D operand; reshape it to 2-D");
}

TEST_CASE("gradient of MaxPool", "[grad][nn]") {
  // Random values are distinct, so no window has a tie the finite
  // difference would straddle.
  struct Case {
    const char *Name;
    Shape X;
    AttrMap A;
    size_t Results;
  };
  std::vector<Case> Cases = {
      {"overlapping 3x3 windows, stride 2, pads 1",
       {2, 2, 5, 5},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}}),
       1},
      {"ceil_mode, asymmetric pads",
       {1, 2, 6, 5},
       attrs({{"kernel_shape", Ints{2, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{0, 1, 1, 0}},
              {"ceil_mode", int64_t(1)}}),
       1},
      {"dilation 2 with Indices",
       {1, 1, 7, 7},
       attrs({{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}),
       2},
      {"1-D SAME_UPPER",
       {2, 3, 7},
       attrs({{"kernel_shape", Ints{2}},
              {"strides", Ints{2}},
              {"auto_pad", std::string("SAME_UPPER")}}),
       1},
  };
  unsigned Seed = 60;
  for (const Case &C : Cases) {
    INFO(C.Name);
    GradCheckOptions O;
    O.NumResults = C.Results;
    checkGradient(OpKind::MaxPool, {randomF64(C.X, Seed++)}, C.A, {0}, O);
  }
}

TEST_CASE("gradient of AveragePool", "[grad][nn]") {
  struct Case {
    const char *Name;
    Shape X;
    AttrMap A;
  };
  std::vector<Case> Cases = {
      {"stride 2, pads 1, padding not counted",
       {2, 2, 5, 5},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}}})},
      {"stride 2, pads 1, padding counted",
       {1, 2, 5, 5},
       attrs({{"kernel_shape", Ints{3, 3}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 1, 1, 1}},
              {"count_include_pad", int64_t(1)}})},
      {"ceil_mode with overhang, padding counted",
       {1, 1, 6, 5},
       attrs({{"kernel_shape", Ints{3, 2}},
              {"strides", Ints{2, 2}},
              {"pads", Ints{1, 0, 0, 0}},
              {"ceil_mode", int64_t(1)},
              {"count_include_pad", int64_t(1)}})},
      {"ceil_mode, padding not counted",
       {1, 2, 5, 6},
       attrs({{"kernel_shape", Ints{2, 2}},
              {"strides", Ints{2, 2}},
              {"ceil_mode", int64_t(1)}})},
      {"1-D SAME_LOWER",
       {2, 1, 6},
       attrs({{"kernel_shape", Ints{3}},
              {"auto_pad", std::string("SAME_LOWER")}})},
  };
  unsigned Seed = 80;
  for (const Case &C : Cases) {
    INFO(C.Name);
    checkGradient(OpKind::AveragePool, {randomF64(C.X, Seed++)}, C.A, {0});
  }
}

TEST_CASE("gradient of GlobalAveragePool", "[grad][nn]") {
  checkGradient(OpKind::GlobalAveragePool, {randomF64({2, 3, 4, 5}, 100)}, {},
                {0});
  checkGradient(OpKind::GlobalAveragePool, {randomF64({1, 2, 6}, 101)}, {},
                {0});
}

TEST_CASE("gradients of Softmax and LogSoftmax", "[grad][nn]") {
  unsigned Seed = 110;
  for (OpKind Op : {OpKind::Softmax, OpKind::LogSoftmax}) {
    for (int64_t Axis : {0, -1, 1}) {
      INFO(getOpDef(Op).Name << " axis " << Axis);
      checkGradient(Op, {randomF64({3, 4, 2}, Seed++, -2, 2)},
                    attrs({{"axis", Axis}}), {0});
    }
    INFO(getOpDef(Op).Name << " default axis, 2-D");
    checkGradient(Op, {randomF64({2, 5}, Seed++, -2, 2)}, {}, {0});
  }
}

TEST_CASE("gradient of Dropout", "[grad][nn]") {
  checkGradient(OpKind::Dropout, {randomF64({2, 3}, 120)}, {}, {0});
  GradCheckOptions O;
  O.NumResults = 2; // the bool mask carries no gradient
  checkGradient(OpKind::Dropout, {randomF64({2, 3}, 121)}, {}, {0}, O);
}

TEST_CASE("gradient of LayerNormalization", "[grad][nn]") {
  struct Case {
    const char *Name;
    int64_t Axis;
    Shape Scale;
    std::optional<Shape> Bias;
  };
  std::vector<Case> Cases = {
      {"axis -1", -1, {4}, Shape{4}},
      {"axis 1", 1, {3, 4}, Shape{3, 4}},
      {"axis 1, broadcast Scale and B", 1, {4}, Shape{1, 4}},
      {"axis 1, B of another shape than Scale", 1, {3, 4}, Shape{4}},
      {"axis 0, no B", 0, {2, 3, 4}, std::nullopt},
  };
  unsigned Seed = 130;
  for (const Case &C : Cases) {
    INFO(C.Name);
    std::vector<std::optional<Tensor>> In = {randomF64({2, 3, 4}, Seed),
                                             randomF64(C.Scale, Seed + 1)};
    std::vector<size_t> Wrt = {0, 1};
    if (C.Bias) {
      In.push_back(randomF64(*C.Bias, Seed + 2));
      Wrt.push_back(2);
    }
    Seed += 3;
    checkGradient(OpKind::LayerNormalization, In,
                  attrs({{"axis", C.Axis}, {"epsilon", 1e-3f}}), Wrt);
    // Each input alone.
    for (size_t W : Wrt)
      checkGradient(OpKind::LayerNormalization, In, attrs({{"axis", C.Axis}}),
                    {W});
  }
}

TEST_CASE("LayerNormalization statistics carry no gradient", "[grad][nn]") {
  CHECK(autodiffError(OpKind::LayerNormalization,
                      {randomF64({2, 3}, 1), randomF64({3}, 2)}, {}, 0, 3, 2) ==
        "no gradient rule for result 2 (InvStdDev) of LayerNormalization; "
        "only Y can be differentiated");
}

TEST_CASE("gradient of BatchNormalization", "[grad][nn]") {
  unsigned Seed = 150;
  for (Shape X : {Shape{2, 3, 4, 2}, Shape{4, 3}, Shape{2, 2, 5}}) {
    INFO(shapeStr(X));
    int64_t C = X[1];
    std::vector<std::optional<Tensor>> In = {
        randomF64(X, Seed), randomF64({C}, Seed + 1), randomF64({C}, Seed + 2),
        randomF64({C}, Seed + 3), randomF64({C}, Seed + 4, 0.5, 2.0)};
    Seed += 5;
    checkGradient(OpKind::BatchNormalization, In, attrs({{"epsilon", 1e-3f}}),
                  {0, 1, 2});
    checkGradient(OpKind::BatchNormalization, In, {}, {1});
    checkGradient(OpKind::BatchNormalization, In, {}, {2});
  }
}

TEST_CASE("gradient of SoftmaxCrossEntropyLoss", "[grad][nn]") {
  Tensor Labels = i64({4}, {2, 0, 3, 2});
  Tensor Weights = randomF64({4}, 170, 0.2, 2.0);
  Tensor SpatialLabels = i64({2, 4}, {0, 2, 1, 1, 2, 2, 0, 1});
  GradCheckOptions O;
  O.Results = {0};
  unsigned Seed = 171;
  for (std::string Reduction : {"mean", "sum", "none"}) {
    INFO("reduction " << Reduction);
    AttrMap R = attrs({{"reduction", Reduction}});
    AttrMap RI =
        attrs({{"reduction", Reduction}, {"ignore_index", int64_t(2)}});
    checkGradient(OpKind::SoftmaxCrossEntropyLoss,
                  {randomF64({4, 4}, Seed++, -2, 2), Labels}, R, {0});
    checkGradient(OpKind::SoftmaxCrossEntropyLoss,
                  {randomF64({4, 4}, Seed++, -2, 2), Labels, Weights}, R, {0});
    checkGradient(OpKind::SoftmaxCrossEntropyLoss,
                  {randomF64({4, 4}, Seed++, -2, 2), Labels}, RI, {0});
    checkGradient(OpKind::SoftmaxCrossEntropyLoss,
                  {randomF64({4, 4}, Seed++, -2, 2), Labels, Weights}, RI, {0});
    // [N, C, d] scores with [N, d] labels, and a log_prob result that does
    // not feed the loss.
    checkGradient(OpKind::SoftmaxCrossEntropyLoss,
                  {randomF64({2, 3, 4}, Seed++, -2, 2), SpatialLabels,
                   randomF64({3}, Seed++, 0.2, 2.0)},
                  RI, {0}, GradCheckOptions{.Results = {0}, .NumResults = 2});
    checkGradient(OpKind::SoftmaxCrossEntropyLoss,
                  {randomF64({2, 3, 4}, Seed++, -2, 2),
                   i32({2, 4}, {0, 2, 1, 1, 2, 2, 0, 1})},
                  R, {0}, O);
  }
}

TEST_CASE("SoftmaxCrossEntropyLoss refuses a gradient through log_prob",
          "[grad][nn]") {
  CHECK(autodiffError(OpKind::SoftmaxCrossEntropyLoss,
                      {randomF64({2, 3}, 1), i64({2}, {0, 2})}, {}, 0, 2, 1) ==
        "no gradient rule for the log_prob result of SoftmaxCrossEntropyLoss; "
        "compute the loss from its first result, or use LogSoftmax for "
        "log_prob");
}

//===----------------------------------------------------------------------===//
// Backward ops: hand-checked values, f32 kernels, out_channels, type rules
//===----------------------------------------------------------------------===//

TEST_CASE("MaxPoolGrad routes to the first maximum and accumulates",
          "[grad][nn]") {
  // Windows of 2 with stride 1 over [1, 3, 3, 2]: the maxima are elements
  // 1 (window 0), 1 (window 1: a tie, the first wins) and 2 (window 2).
  OpRun R = runOp(OpKind::MaxPoolGrad,
                  {f64({1, 1, 3}, {1, 2, 4}), f64({1, 1, 4}, {1, 3, 3, 2})},
                  attrs({{"kernel_shape", Ints{2}}}));
  REQUIRE_FALSE(R.Error);
  checkValues(R.Results[0], {1, 1, 4}, {0, 1 + 2, 4, 0});
  // 2x2 windows, stride 2, over a 4x4 plane; one window per quadrant.
  Tensor X = f64({1, 1, 4, 4}, {1, 5, 2, 0,   //
                                3, 4, 8, 6,   //
                                9, 1, 2, 2,   //
                                0, 7, 3, 1}); //
  OpRun Q =
      runOp(OpKind::MaxPoolGrad, {f64({1, 1, 2, 2}, {10, 20, 30, 40}), X},
            attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  REQUIRE_FALSE(Q.Error);
  checkValues(Q.Results[0], {1, 1, 4, 4},
              {0, 10, 0, 0, 0, 0, 20, 0, 30, 0, 0, 0, 0, 0, 40, 0});
}

TEST_CASE("AveragePoolGrad uses the forward divisors", "[grad][nn]") {
  // [x0 x1 x2] padded by 1 on each side, windows of 2: (p, x0), (x0, x1),
  // (x1, x2), (x2, p).
  AttrMap A = attrs({{"kernel_shape", Ints{2}},
                     {"pads", Ints{1, 1}},
                     {"input_shape", Ints{1, 1, 3}}});
  Tensor DY = f64({1, 1, 4}, {1, 2, 4, 8});
  OpRun Excl = runOp(OpKind::AveragePoolGrad, {DY}, A);
  REQUIRE_FALSE(Excl.Error);
  checkValues(Excl.Results[0], {1, 1, 3}, {1 + 1, 1 + 2, 2 + 8});
  A.set("count_include_pad", int64_t(1));
  OpRun Incl = runOp(OpKind::AveragePoolGrad, {DY}, A);
  REQUIRE_FALSE(Incl.Error);
  checkValues(Incl.Results[0], {1, 1, 3}, {0.5 + 1, 1 + 2, 2 + 4});
}

TEST_CASE("ConvGradInput of a 1x1 convolution is W^T dY", "[grad][nn]") {
  // W [2, 3, 1, 1]; dX[c, p] = sum_m W[m, c] dY[m, p].
  Tensor W = f64({2, 3, 1, 1}, {1, 2, 3, 4, 5, 6});
  Tensor DY = f64({1, 2, 1, 2}, {1, 10, -1, 2});
  OpRun R = runOp(OpKind::ConvGradInput, {DY, W},
                  attrs({{"input_shape", Ints{1, 3, 1, 2}}}));
  REQUIRE_FALSE(R.Error);
  checkValues(R.Results[0], {1, 3, 1, 2},
              {1 - 4, 10 + 8, 2 - 5, 20 + 10, 3 - 6, 30 + 12});
  // With stride 2 on a 1x3 input only positions 0 and 2 are read, so
  // position 1 gets nothing.
  OpRun S = runOp(
      OpKind::ConvGradInput, {DY, W},
      attrs({{"input_shape", Ints{1, 3, 1, 3}}, {"strides", Ints{1, 2}}}));
  REQUIRE_FALSE(S.Error);
  checkValues(S.Results[0], {1, 3, 1, 3}, {-3, 0, 18, -3, 0, 30, -3, 0, 42});
}

TEST_CASE("ConvGradWeight of a 1x1 convolution is dY X^T", "[grad][nn]") {
  // X [1, 2, 1, 2], dY [1, 1, 1, 2]: dW[0, c] = sum_p X[c, p] dY[p].
  OpRun R = runOp(OpKind::ConvGradWeight,
                  {f64({1, 2, 1, 2}, {1, 2, 3, 4}), f64({1, 1, 1, 2}, {5, 6})},
                  attrs({{"weight_shape", Ints{1, 2, 1, 1}}}));
  REQUIRE_FALSE(R.Error);
  checkValues(R.Results[0], {1, 2, 1, 1}, {1 * 5 + 2 * 6, 3 * 5 + 4 * 6});
}

TEST_CASE("ConvGradWeight with out_channels computes the first channels",
          "[grad][nn]") {
  struct Case {
    Shape X, W;
    AttrMap A;
  };
  std::vector<Case> Cases = {
      {{2, 3, 6, 5},
       {5, 3, 3, 3},
       attrs({{"strides", Ints{2, 1}}, {"pads", Ints{1, 0, 1, 2}}})},
      {{1, 4, 5, 5}, {6, 2, 3, 3}, attrs({{"group", int64_t(2)}})},
      {{1, 3, 7},
       {3, 1, 3},
       attrs({{"group", int64_t(3)}, {"dilations", Ints{2}}})},
  };
  unsigned Seed = 200;
  for (const Case &C : Cases) {
    Shape Y = {C.X[0], C.W[0]};
    {
      // Forward result shape from Conv's own type rule.
      OpRun F =
          runOp(OpKind::Conv, {randomF64(C.X, 1), randomF64(C.W, 2)}, C.A);
      REQUIRE_FALSE(F.Error);
      Y = F.Types[0].Dims;
    }
    Tensor X = randomF64(C.X, Seed++), DY = randomF64(Y, Seed++);
    AttrMap Full = C.A;
    Full.set("weight_shape", C.W);
    OpRun All = runOp(OpKind::ConvGradWeight, {X, DY}, Full);
    REQUIRE_FALSE(All.Error);
    REQUIRE(All.Results[0].shape() == C.W);
    int64_t PerChannel = All.Results[0].numElements() / C.W[0];
    for (int64_t K = 1; K <= C.W[0]; ++K) {
      INFO(shapeStr(C.W) << " out_channels " << K);
      AttrMap A = Full;
      A.set("out_channels", K);
      OpRun Part = runOp(OpKind::ConvGradWeight, {X, DY}, A);
      REQUIRE_FALSE(Part.Error);
      Shape Want = C.W;
      Want[0] = K;
      REQUIRE(Part.Results[0].shape() == Want);
      for (int64_t I = 0; I < K * PerChannel; ++I)
        CHECK(Part.Results[0].getAsDouble(I) == All.Results[0].getAsDouble(I));
    }
  }
}

TEST_CASE("MACs of the conv backward ops", "[grad][nn]") {
  auto Macs = [](OpKind Op, std::vector<TensorType> In, AttrMap A) {
    Graph G("macs");
    std::vector<Value *> Ins;
    for (size_t I = 0; I < In.size(); ++I)
      Ins.push_back(G.addInput("in" + std::to_string(I), In[I]));
    Node *N = G.addNode(Op, "n", Ins, std::move(A), {{"out", TensorType()}});
    REQUIRE(inferNodeTypes(*N));
    return nodeMacs(*N);
  };
  // Forward: N 2, M 8, out 16x16, C/group 2, kernel 3x3.
  AttrMap Conv = attrs({{"group", int64_t(2)},
                        {"strides", Ints{2, 2}},
                        {"pads", Ints{1, 1, 1, 1}}});
  TensorType DY(DType::F32, {2, 8, 16, 16});
  AttrMap In = Conv;
  In.set("input_shape", Ints{2, 4, 32, 32});
  CHECK(Macs(OpKind::ConvGradInput, {DY, TensorType(DType::F32, {8, 2, 3, 3})},
             In) == 2 * 8 * 16 * 16 * 2 * 9);
  AttrMap W = Conv;
  W.set("weight_shape", Ints{8, 2, 3, 3});
  TensorType X(DType::F32, {2, 4, 32, 32});
  CHECK(Macs(OpKind::ConvGradWeight, {X, DY}, W) == 2 * 8 * 16 * 16 * 2 * 9);
  W.set("out_channels", int64_t(3));
  CHECK(Macs(OpKind::ConvGradWeight, {X, DY}, W) == 2 * 3 * 16 * 16 * 2 * 9);
}

TEST_CASE("SoftmaxGrad, LogSoftmaxGrad and the loss gradient by hand",
          "[grad][nn]") {
  // Y = [0.5, 0.5], dY = [1, 0]: sum(dY Y) = 0.5, dX = Y (dY - 0.5).
  OpRun S = runOp(OpKind::SoftmaxGrad,
                  {f64({1, 2}, {1, 0}), f64({1, 2}, {0.5, 0.5})});
  REQUIRE_FALSE(S.Error);
  checkValues(S.Results[0], {1, 2}, {0.25, -0.25});
  // Y = log [0.5, 0.5], dY = [1, 0]: dX = dY - 0.5 * 1.
  OpRun L =
      runOp(OpKind::LogSoftmaxGrad,
            {f64({1, 2}, {1, 0}), f64({1, 2}, {std::log(0.5), std::log(0.5)})});
  REQUIRE_FALSE(L.Error);
  checkValues(L.Results[0], {1, 2}, {0.5, -0.5});
  // Equal scores, label 0: dScores = (p - onehot) * dLoss / N.
  OpRun G = runOp(OpKind::SoftmaxCrossEntropyLossGrad,
                  {f64({}, {2}), f64({2, 2}, {0, 0, 1, 1}), i64({2}, {0, 1})});
  REQUIRE_FALSE(G.Error);
  checkValues(G.Results[0], {2, 2}, {-0.5, 0.5, 0.5, -0.5});
  // Every label ignored: the mean loss is NaN, its gradient 0.
  OpRun Ign = runOp(OpKind::SoftmaxCrossEntropyLossGrad,
                    {f64({}, {1}), f64({2, 2}, {0, 1, 2, 3}), i64({2}, {1, 1})},
                    attrs({{"ignore_index", int64_t(1)}}));
  REQUIRE_FALSE(Ign.Error);
  checkValues(Ign.Results[0], {2, 2}, {0, 0, 0, 0});
}

TEST_CASE("BatchNormGrad and LayerNormGrad by hand", "[grad][nn]") {
  // One channel, scale 2, mean 1, var 3, eps 1: r = 1/2.
  OpRun B = runOp(OpKind::BatchNormGrad,
                  {f64({2, 1}, {1, 3}), f64({2, 1}, {3, 5}), f64({1}, {2}),
                   f64({1}, {1}), f64({1}, {3})},
                  attrs({{"epsilon", 1.0f}}), 3);
  REQUIRE_FALSE(B.Error);
  checkValues(B.Results[0], {2, 1}, {1, 3});                   // dY * 2 * 1/2
  checkValues(B.Results[1], {1}, {1 * 2 * 0.5 + 3 * 4 * 0.5}); // dY xhat
  checkValues(B.Results[2], {1}, {4});
  // Row [1, 3]: mean 2, var 1, eps 0: xhat = [-1, 1]. Scale 1, dY = [1, 0]:
  // g = [1, 0], mean(g) = 1/2, mean(g xhat) = -1/2, dX = g - 1/2 + xhat / 2.
  OpRun L = runOp(OpKind::LayerNormGrad,
                  {f64({1, 2}, {1, 0}), f64({1, 2}, {1, 3}), f64({2}, {1, 1})},
                  attrs({{"epsilon", 0.0f}}), 3);
  REQUIRE_FALSE(L.Error);
  checkValues(L.Results[0], {1, 2}, {0, 0});
  checkValues(L.Results[1], {2}, {-1, 0});
  checkValues(L.Results[2], {2}, {1, 0});
}

TEST_CASE("backward kernels compute in f32 as in f64", "[grad][nn]") {
  AttrMap Conv = attrs({{"group", int64_t(2)},
                        {"strides", Ints{2, 1}},
                        {"pads", Ints{1, 0, 0, 1}}});
  AttrMap CI = Conv, CW = Conv;
  CI.set("input_shape", Ints{2, 4, 5, 4});
  CW.set("weight_shape", Ints{6, 2, 3, 2});
  CW.set("out_channels", int64_t(4));
  // Conv of [2, 4, 5, 4] with [6, 2, 3, 2]: [2, 6, 2, 4].
  checkF32MatchesF64(OpKind::ConvGradInput,
                     {randomF64({2, 6, 2, 4}, 1), randomF64({6, 2, 3, 2}, 2)},
                     CI);
  checkF32MatchesF64(OpKind::ConvGradWeight,
                     {randomF64({2, 4, 5, 4}, 3), randomF64({2, 6, 2, 4}, 4)},
                     CW);
  AttrMap Pool = attrs({{"kernel_shape", Ints{3, 3}},
                        {"strides", Ints{2, 2}},
                        {"pads", Ints{1, 1, 1, 1}}});
  checkF32MatchesF64(OpKind::MaxPoolGrad,
                     {randomF64({1, 2, 3, 3}, 5), randomF64({1, 2, 5, 5}, 6)},
                     Pool);
  AttrMap Avg = Pool;
  Avg.set("input_shape", Ints{1, 2, 5, 5});
  checkF32MatchesF64(OpKind::AveragePoolGrad, {randomF64({1, 2, 3, 3}, 7)},
                     Avg);
  checkF32MatchesF64(OpKind::SoftmaxGrad,
                     {randomF64({2, 3}, 8), randomF64({2, 3}, 9, 0, 1)},
                     attrs({{"axis", int64_t(0)}}));
  checkF32MatchesF64(OpKind::LogSoftmaxGrad,
                     {randomF64({2, 3}, 10), randomF64({2, 3}, 11, -2, 0)}, {});
  checkF32MatchesF64(OpKind::LayerNormGrad,
                     {randomF64({2, 3, 4}, 12), randomF64({2, 3, 4}, 13),
                      randomF64({3, 4}, 14)},
                     attrs({{"axis", int64_t(1)}}), 3);
  checkF32MatchesF64(OpKind::BatchNormGrad,
                     {randomF64({2, 3, 2}, 15), randomF64({2, 3, 2}, 16),
                      randomF64({3}, 17), randomF64({3}, 18),
                      randomF64({3}, 19, 0.5, 2)},
                     {}, 3);
  checkF32MatchesF64(OpKind::SoftmaxCrossEntropyLossGrad,
                     {randomF64({2, 2}, 20), randomF64({2, 3, 2}, 21),
                      i64({2, 2}, {0, 2, 1, 1}), randomF64({3}, 22, 0.5, 1)},
                     attrs({{"reduction", std::string("none")},
                            {"ignore_index", int64_t(2)}}));
}

TEST_CASE("backward ops reject bad shapes and attributes", "[grad][nn]") {
  Tensor W = randomF64({4, 3, 3, 3}, 1);
  // Conv of [1, 3, 5, 5] with W: [1, 4, 3, 3].
  Tensor DY = randomF64({1, 4, 3, 3}, 2);
  Tensor X = randomF64({1, 3, 5, 5}, 3);
  checkError(OpKind::ConvGradInput, {DY, W}, {},
             "required attribute 'input_shape' is missing");
  checkError(OpKind::ConvGradInput, {randomF64({1, 4, 4, 3}, 4), W},
             attrs({{"input_shape", Ints{1, 3, 5, 5}}}),
             "the output gradient dY [1, 4, 4, 3] must have the shape "
             "[1, 4, 3, 3] of the convolution's result");
  checkError(OpKind::ConvGradInput, {DY, W},
             attrs({{"input_shape", Ints{1, 4, 5, 5}}}),
             "weight W [4, 3, 3, 3] has 3 input channels per group but "
             "input_shape [1, 4, 5, 5] with group 1 has 4");
  checkError(OpKind::ConvGradInput, {DY, W},
             attrs({{"input_shape", Ints{1, -3, 5, 5}}}),
             "input_shape [1, -3, 5, 5] must have non-negative dims and at "
             "most 1099511627776 bytes");
  checkError(OpKind::ConvGradInput, {DY, W}, attrs({{"input_shape", Ints{5}}}),
             "input_shape [5] must have rank 3 or more ([N, C, D1, ...])");
  AttrMap WA = attrs({{"weight_shape", Ints{4, 3, 3, 3}}});
  WA.set("out_channels", int64_t(0));
  checkError(OpKind::ConvGradWeight, {X, DY}, WA,
             "out_channels 0 must be in [1, 4], the output channels of "
             "weight_shape [4, 3, 3, 3]");
  WA.set("out_channels", int64_t(5));
  checkError(OpKind::ConvGradWeight, {X, DY}, WA,
             "out_channels 5 must be in [1, 4], the output channels of "
             "weight_shape [4, 3, 3, 3]");
  checkError(OpKind::ConvGradWeight, {X, DY},
             attrs({{"weight_shape", Ints{4, 3, 3}}}),
             "weight_shape [4, 3, 3] must have the rank of X [1, 3, 5, 5] "
             "([M, C / group, k1, ...])");
  checkError(OpKind::ConvGradWeight, {X, DY},
             attrs({{"weight_shape", Ints{4, 3, 3, 3}}, {"group", int64_t(0)}}),
             "group must be positive, got 0");
  checkError(OpKind::MaxPoolGrad, {randomF64({1, 3, 2, 2}, 5), X},
             attrs({{"kernel_shape", Ints{3, 3}}}),
             "the output gradient dY [1, 3, 2, 2] must have the shape "
             "[1, 3, 3, 3] of the pooling result");
  checkError(OpKind::AveragePoolGrad, {randomF64({1, 3, 3, 3}, 6)},
             attrs({{"kernel_shape", Ints{3, 3}},
                    {"input_shape", Ints{1, 3, 5, 5}},
                    {"count_include_pad", int64_t(2)}}),
             "count_include_pad must be 0 or 1, got 2");
  checkError(OpKind::SoftmaxGrad, {randomF64({2, 3}, 7), randomF64({3, 2}, 8)},
             {}, "the gradient is f64[2,3] but the saved result is f64[3,2]");
  checkError(OpKind::LogSoftmaxGrad,
             {randomF64({2, 3}, 7), randomF64({2, 3}, 8)},
             attrs({{"axis", int64_t(2)}}),
             "axis 2 is out of range for input [2, 3] of rank 2");
  checkError(OpKind::LayerNormGrad,
             {randomF64({2, 3}, 9), randomF64({2, 3}, 10), randomF64({2}, 11)},
             {},
             "Scale [2] cannot be broadcast to the normalized dims [3] of X "
             "[2, 3]");
  checkError(OpKind::BatchNormGrad,
             {randomF64({2, 3}, 12), randomF64({2, 3}, 13), randomF64({3}, 14),
              randomF64({2}, 15), randomF64({3}, 16)},
             {},
             "input_mean [2] must have shape [3], one value per channel of X "
             "[2, 3]");
  checkError(OpKind::BatchNormGrad,
             {randomF64({2, 4}, 12), randomF64({2, 3}, 13), randomF64({3}, 14),
              randomF64({3}, 15), randomF64({3}, 16)},
             {},
             "the output gradient dY f64[2,4] must have the type f64[2,3] of "
             "X");
  checkError(OpKind::SoftmaxCrossEntropyLossGrad,
             {randomF64({2}, 17), randomF64({2, 3}, 18), i64({2}, {0, 1})}, {},
             "the loss gradient dLoss [2] must have the shape [] of the loss");
  checkError(OpKind::SoftmaxCrossEntropyLossGrad,
             {randomF64({}, 17), randomF64({2, 3}, 18), i64({2}, {0, 1})},
             attrs({{"reduction", std::string("none")}}),
             "the loss gradient dLoss [] must have the shape [2] of the loss");
  OpRun Bad =
      runOp(OpKind::SoftmaxCrossEntropyLossGrad,
            {randomF64({}, 17), randomF64({2, 3}, 18), i64({2}, {0, 3})});
  REQUIRE(Bad.Error);
  CHECK(Bad.Error->Message ==
        "label 3 at flat index 1 is out of range [0, 3) and is not "
        "ignore_index");
}
