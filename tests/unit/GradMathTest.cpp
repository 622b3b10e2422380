//===- GradMathTest.cpp - Gradient rules of the elementwise ops -----------===//

#include "GradCheck.h"

using namespace mote;
using namespace mote::test;

TEST_CASE("gradients of broadcast binary ops", "[grad][math]") {
  for (OpKind Op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    INFO(getOpDef(Op).Name);
    // [2,3] with [3]: the second operand's gradient sums over rows.
    checkGradient(Op, {randomF64({2, 3}, 1), randomF64({3}, 2, 0.5, 2.0)}, {},
                  {0, 1});
    // [2,1,4] with [3,1]: both stretch.
    checkGradient(Op, {randomF64({2, 1, 4}, 3), randomF64({3, 1}, 4, 0.5, 2.0)},
                  {}, {0, 1});
  }
}

TEST_CASE("gradient of Pow for a float and a constant integer exponent",
          "[grad][math]") {
  checkGradient(OpKind::Pow, {randomF64({2, 3}, 5, 0.5, 2.0), randomF64({3}, 6)},
                {}, {0, 1});
  checkGradient(OpKind::Pow, {randomF64({4}, 7, 0.5, 2.0), i64({}, {3})}, {},
                {0});
}

TEST_CASE("gradients of the unary ops", "[grad][math]") {
  // Inputs kept away from kinks (0 for Relu, the clip bounds) where the
  // finite difference straddles two slopes.
  Tensor X = Tensor::fromVector<double>({-2.5, -1.3, -0.4, 0.3, 1.1, 2.7, 3.6, -3.4},
                                        {2, 4});
  Tensor Pos = randomF64({2, 4}, 8, 0.5, 3.0);
  struct Case {
    OpKind Op;
    const Tensor &In;
    AttrMap Attrs;
  };
  AttrMap Leaky, Relu6, HardSig, TanhGelu;
  Leaky.set("alpha", 0.1f);
  Relu6.set("min", 0.0f);
  Relu6.set("max", 2.0f);
  HardSig.set("alpha", 0.25f);
  HardSig.set("beta", 0.4f);
  TanhGelu.set("approximate", std::string("tanh"));
  std::vector<Case> Cases = {
      {OpKind::Relu, X, {}},          {OpKind::LeakyRelu, X, Leaky},
      {OpKind::Clip, X, Relu6},       {OpKind::Sigmoid, X, {}},
      {OpKind::Tanh, X, {}},          {OpKind::HardSigmoid, X, HardSig},
      {OpKind::HardSwish, X, {}},     {OpKind::Exp, X, {}},
      {OpKind::Log, Pos, {}},         {OpKind::Sqrt, Pos, {}},
      {OpKind::Neg, X, {}},           {OpKind::Reciprocal, Pos, {}},
      {OpKind::Erf, X, {}},           {OpKind::Gelu, X, {}},
      {OpKind::Gelu, X, TanhGelu},    {OpKind::Identity, X, {}},
  };
  for (const Case &C : Cases) {
    INFO(getOpDef(C.Op).Name);
    checkGradient(C.Op, {C.In}, C.Attrs, {0});
  }
}

TEST_CASE("fan-out gradients are summed", "[grad]") {
  // y = x * x: both operands are x, so dy/dx = 2x.
  Graph G;
  Value *X = G.addParam("x", Tensor::fromVector<double>({1.5, -2}, {2}));
  X->setTrain({true, -1, ""});
  Node *M = G.addNode(OpKind::Mul, "sq", {X, X}, {},
                      {{"y", TensorType(DType::F64, {2})}});
  AttrMap A;
  A.set("keepdims", int64_t(0));
  Node *S = G.addNode(OpKind::ReduceSum, "sum", {M->output(0)}, A,
                      {{"loss", TensorType(DType::F64, {})}});
  G.addOutput(S->output(0));
  std::vector<Value *> Wrt = {X};
  auto Grads = buildGradients(G, S->output(0), Wrt);
  REQUIRE(Grads);
  G.addOutput((*Grads)[X]);
  REQUIRE(verifyGraph(G));
  auto Out = interpret(G, {});
  REQUIRE(Out);
  CHECK((*Out)[1].getAsDouble(0) == Approx(3.0));
  CHECK((*Out)[1].getAsDouble(1) == Approx(-4.0));
}

TEST_CASE("an op without a gradient rule on the path is a diagnostic",
          "[grad]") {
  Graph G;
  G.SourceFile = "m.onnx";
  Value *X = G.addParam("w", Tensor::fromVector<double>({1.5, -2}, {2}));
  X->setTrain({true, -1, ""});
  Node *M = G.addNode(OpKind::Abs, "abs1", {X}, {},
                      {{"y", TensorType(DType::F64, {2})}});
  AttrMap A;
  A.set("keepdims", int64_t(0));
  Node *S = G.addNode(OpKind::ReduceSum, "sum", {M->output(0)}, A,
                      {{"loss", TensorType(DType::F64, {})}});
  std::vector<Value *> Wrt = {X};
  auto Grads = buildGradients(G, S->output(0), Wrt);
  REQUIRE_FALSE(Grads);
  CHECK(Grads.error().str() ==
        "m.onnx: node 'abs1' (Abs): Abs has no gradient rule, but it lies "
        "between the trainable parameter 'w' and the loss; freeze the layers "
        "before it or choose another --update spec");
}
