//===- MathOpsTest.cpp - Elementwise op type rules and kernels ------------===//

#include "TestUtil.h"

using namespace mote;
using namespace mote::test;

TEST_CASE("Add broadcasts a row over a matrix", "[ops][math]") {
  OpRun R = runOp(OpKind::Add, {f32({2, 3}, {1, 2, 3, 4, 5, 6}),
                                f32({3}, {10, 20, 30})});
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 3}, {11, 22, 33, 14, 25, 36});
}

TEST_CASE("Sub and Mul broadcast a column", "[ops][math]") {
  OpRun S = runOp(OpKind::Sub, {f32({2, 2}, {5, 6, 7, 8}), f32({2, 1}, {1, 2})});
  REQUIRE_FALSE(S.Error);
  checkF32(S.Results[0], {2, 2}, {4, 5, 5, 6});
  OpRun M = runOp(OpKind::Mul, {f32({2, 1}, {2, 3}), f32({1, 2}, {4, 5})});
  REQUIRE_FALSE(M.Error);
  checkF32(M.Results[0], {2, 2}, {8, 10, 12, 15});
}

TEST_CASE("binary ops reject incompatible shapes and mixed types", "[ops][math]") {
  OpRun R = runOp(OpKind::Add, {f32({2, 3}, {1, 2, 3, 4, 5, 6}),
                                f32({2}, {1, 2})});
  REQUIRE(R.Error);
  CHECK(R.Error->Message == "shapes [2, 3] and [2] cannot be broadcast");
  OpRun T = runOp(OpKind::Mul, {f32({1}, {1}), i64({1}, {1})});
  REQUIRE(T.Error);
  CHECK_THAT(T.Error->Message, Catch::Contains("insert a Cast"));
}

TEST_CASE("integer Div truncates and refuses division by zero", "[ops][math]") {
  OpRun R = runOp(OpKind::Div, {i64({3}, {7, -7, 9}), i64({3}, {2, 2, -3})});
  REQUIRE_FALSE(R.Error);
  auto D = R.Results[0].data<int64_t>();
  CHECK(D[0] == 3);
  CHECK(D[1] == -3);
  CHECK(D[2] == -3);
  OpRun Z = runOp(OpKind::Div, {i64({1}, {1}), i64({1}, {0})});
  REQUIRE(Z.Error);
  CHECK(Z.Error->Message == "integer division by zero");
}

TEST_CASE("Pow takes an exponent of another type", "[ops][math]") {
  OpRun R = runOp(OpKind::Pow, {f32({3}, {2, 3, 4}), i64({1}, {2})});
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {3}, {4, 9, 16});
}

TEST_CASE("activations on hand-checked values", "[ops][math]") {
  Tensor X = f32({5}, {-4, -1, 0, 1, 4});
  checkF32(runOp(OpKind::Relu, {X}).Results[0], {5}, {0, 0, 0, 1, 4});
  AttrMap Leaky;
  Leaky.set("alpha", 0.5f);
  checkF32(runOp(OpKind::LeakyRelu, {X}, Leaky).Results[0], {5},
           {-2, -0.5f, 0, 1, 4});
  AttrMap Relu6;
  Relu6.set("min", 0.0f);
  Relu6.set("max", 2.0f);
  checkF32(runOp(OpKind::Clip, {X}, Relu6).Results[0], {5}, {0, 0, 0, 1, 2});
  // hard_sigmoid(x) = clamp(0.2 x + 0.5, 0, 1)
  checkF32(runOp(OpKind::HardSigmoid, {X}).Results[0], {5},
           {0, 0.3f, 0.5f, 0.7f, 1});
  // hard_swish(x) = x * clamp(x / 6 + 0.5, 0, 1)
  checkF32(runOp(OpKind::HardSwish, {X}).Results[0], {5},
           {0, -1.0f / 3, 0, 2.0f / 3, 4});
  checkF32(runOp(OpKind::Sigmoid, {X}).Results[0], {5},
           {0.01798621f, 0.26894142f, 0.5f, 0.73105858f, 0.98201379f});
  checkF32(runOp(OpKind::Gelu, {X}).Results[0], {5},
           {-1.2668e-4f, -0.15865525f, 0, 0.84134475f, 3.99987332f});
  AttrMap TanhGelu;
  TanhGelu.set("approximate", std::string("tanh"));
  checkF32(runOp(OpKind::Gelu, {X}, TanhGelu).Results[0], {5},
           {-7.0214e-5f, -0.15880801f, 0, 0.84119199f, 3.99992979f});
}

TEST_CASE("unary ops check attributes against the schema", "[ops][math]") {
  AttrMap Bad;
  Bad.set("alpha", int64_t(1));
  OpRun R = runOp(OpKind::LeakyRelu, {f32({1}, {1})}, Bad);
  REQUIRE(R.Error);
  CHECK(R.Error->Message == "attribute 'alpha' must be of type float, got int");
  AttrMap Unknown;
  Unknown.set("beta", 1.0f);
  OpRun U = runOp(OpKind::Relu, {f32({1}, {1})}, Unknown);
  REQUIRE(U.Error);
  CHECK(U.Error->Message == "unknown attribute 'beta'");
  OpRun F = runOp(OpKind::Sigmoid, {i64({1}, {1})});
  REQUIRE(F.Error);
  CHECK(F.Error->Message == "element type i64 is not supported");
}
