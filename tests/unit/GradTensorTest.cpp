//===- GradTensorTest.cpp - Gradient rules of data-movement and reduce ops ===//

#include "GradCheck.h"

using namespace mote;
using namespace mote::test;

namespace {
AttrMap ints(const char *Name, std::vector<int64_t> V) {
  AttrMap A;
  A.set(Name, std::move(V));
  return A;
}
} // namespace

TEST_CASE("gradients of reshape-like ops", "[grad][tensor]") {
  checkGradient(OpKind::Reshape, {randomF64({2, 3, 4}, 1)},
                ints("shape", {6, 4}), {0});
  AttrMap Flat;
  Flat.set("axis", int64_t(2));
  checkGradient(OpKind::Flatten, {randomF64({2, 3, 4}, 2)}, Flat, {0});
  checkGradient(OpKind::Squeeze, {randomF64({2, 1, 3}, 3)}, ints("axes", {1}),
                {0});
  checkGradient(OpKind::Unsqueeze, {randomF64({2, 3}, 4)},
                ints("axes", {0, 3}), {0});
}

TEST_CASE("gradient of Transpose is the inverse permutation", "[grad][tensor]") {
  checkGradient(OpKind::Transpose, {randomF64({2, 3, 4}, 5)},
                ints("perm", {1, 2, 0}), {0});
  checkGradient(OpKind::Transpose, {randomF64({2, 3}, 6)}, {}, {0});
}

TEST_CASE("gradient of Expand sums over the broadcast dims", "[grad][tensor]") {
  checkGradient(OpKind::Expand, {randomF64({3, 1}, 7)}, ints("shape", {2, 3, 4}),
                {0});
}

TEST_CASE("gradient of Concat slices the result gradient", "[grad][tensor]") {
  AttrMap A;
  A.set("axis", int64_t(-1));
  checkGradient(OpKind::Concat,
                {randomF64({2, 3}, 8), randomF64({2, 1}, 9), randomF64({2, 2}, 10)},
                A, {0, 1, 2});
}

TEST_CASE("gradients of unit-step Slice and constant Pad", "[grad][tensor]") {
  AttrMap S;
  S.set("starts", std::vector<int64_t>{1, -3});
  S.set("ends", std::vector<int64_t>{3, 100});
  S.set("axes", std::vector<int64_t>{0, 1});
  checkGradient(OpKind::Slice, {randomF64({4, 5}, 11)}, S, {0});
  checkGradient(OpKind::Pad, {randomF64({2, 3}, 12)},
                ints("pads", {1, 0, 2, 3}), {0});
}

TEST_CASE("strided Slice and reflect Pad have no gradient rule", "[grad][tensor]") {
  Graph G;
  Value *X = G.addParam("x", randomF64({6}, 13));
  X->setTrain({true, -1, ""});
  AttrMap S;
  S.set("starts", std::vector<int64_t>{0});
  S.set("ends", std::vector<int64_t>{6});
  S.set("steps", std::vector<int64_t>{2});
  Node *N = G.addNode(OpKind::Slice, "strided", {X}, S,
                      {{"y", TensorType(DType::F64, {3})}});
  AttrMap R;
  R.set("keepdims", int64_t(0));
  Node *L = G.addNode(OpKind::ReduceSum, "sum", {N->output(0)}, R,
                      {{"loss", TensorType(DType::F64, {})}});
  std::vector<Value *> Wrt = {X};
  auto Grads = buildGradients(G, L->output(0), Wrt);
  REQUIRE_FALSE(Grads);
  CHECK(Grads.error().str() == "node 'strided' (Slice): no gradient rule for "
                               "a Slice with steps other than 1");
}

TEST_CASE("gradients of ReduceSum and ReduceMean", "[grad][tensor]") {
  for (OpKind Op : {OpKind::ReduceSum, OpKind::ReduceMean}) {
    INFO(getOpDef(Op).Name);
    checkGradient(Op, {randomF64({2, 3, 4}, 14)}, ints("axes", {1}), {0});
    AttrMap Flat = ints("axes", {0, 2});
    Flat.set("keepdims", int64_t(0));
    checkGradient(Op, {randomF64({2, 3, 4}, 15)}, Flat, {0});
    AttrMap All;
    All.set("keepdims", int64_t(0));
    checkGradient(Op, {randomF64({2, 3}, 16)}, All, {0});
  }
}

TEST_CASE("gradient of a float Cast", "[grad][tensor]") {
  AttrMap A;
  A.set("to", std::string("f64"));
  checkGradient(OpKind::Cast, {randomF64({2, 2}, 17)}, A, {0});
}
