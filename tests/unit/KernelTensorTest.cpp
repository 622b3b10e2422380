//===- KernelTensorTest.cpp - Tensor, softmax, loss, optimizer kernels ----===//
//
// Each op runs on the interpreter and through its lowering into the
// runtime-stub kernel (tensor.h, softmax.h, loss.h, optim.h); the results
// must agree. The optimizer kernels are also run in place (output buffer ==
// input buffer), as the generated code runs them.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "mote_rt/loss.h"
#include "mote_rt/optim.h"
#include "mote_rt/softmax.h"
#include "mote_rt/tensor.h"

#include <cmath>
#include <limits>
#include <memory>

using namespace mote;
using namespace mote::test;

namespace {

using Ints = std::vector<int64_t>;


/// A tensor of \p Dims holding 1, 2, 3, ... (wrapping for 8-bit types), so
/// every element differs from its neighbours.
template <class T> Tensor seq(Shape Dims) {
  TensorType Ty(DTypeOf<T>::value, Dims);
  std::vector<T> V(size_t(Ty.numElements()));
  for (size_t I = 0; I < V.size(); ++I) {
    if constexpr (std::is_same_v<T, bool>)
      V[I] = I % 2 != 0;
    else
      V[I] = T((I % 100) + 1);
  }
  return Tensor::fromVector<T>(std::move(V), std::move(Dims));
}

Tensor randomF64(Shape Dims, uint32_t Seed) {
  Tensor F = randomF32(Dims, Seed);
  Tensor R(TensorType(DType::F64, Dims));
  for (int64_t I = 0; I < F.numElements(); ++I)
    R.data<double>()[size_t(I)] = double(F.data<float>()[size_t(I)]) * 3.0;
  return R;
}

bool mentions(const std::optional<Diag> &D, std::string_view Text) {
  return D && D->Message.find(Text) != std::string::npos;
}

/// Lowers a one-input op that must become mote_rt::strided_copy, runs the
/// kernel and compares; returns the kernel's rank after simplification.
template <class T> int32_t checkStridedCopy(OpKind Op, Tensor X, AttrMap A) {
  LoweredOp L = lowerOp(Op, {X}, std::move(A));
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/tensor.h");
  CHECK(L.Call.Kernel == "strided_copy");
  auto P = paramsAs<mote_rt::StridedP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  mote_rt::strided_copy<T>(P, L.in<T>(0), Y.data());
  checkSame(L.Run.Results[0], Y);
  return P.Rank;
}

template <class T> void checkReshape(OpKind Op, Tensor X, AttrMap A) {
  LoweredOp L = lowerOp(Op, {X}, std::move(A));
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "reshape");
  auto P = paramsAs<mote_rt::ReshapeP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  mote_rt::reshape<T>(P, L.in<T>(0), Y.data());
  checkSame(L.Run.Results[0], Y);
}

template <class T> void checkPad(Tensor X, AttrMap A) {
  LoweredOp L = lowerOp(OpKind::Pad, {X}, std::move(A));
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "pad");
  auto P = paramsAs<mote_rt::PadP>(L.Call);
  std::vector<T> Y(L.outElems(0), T(99));
  mote_rt::pad<T>(P, L.in<T>(0), Y.data());
  checkSame(L.Run.Results[0], Y);
}

template <class T, class I>
void checkGather(Tensor X, Tensor Idx, int64_t Axis) {
  LoweredOp L = lowerOp(OpKind::Gather, {X, Idx}, attrs({{"axis", Axis}}));
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "gather");
  REQUIRE(L.Call.TypeArgs.size() == 2);
  CHECK(L.Call.TypeArgs[1] == DTypeOf<I>::value);
  auto P = paramsAs<mote_rt::GatherP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  mote_rt::gather<T, I>(P, L.in<T>(0), L.in<I>(1), Y.data());
  checkSame(L.Run.Results[0], Y);
}

template <class T> void checkSoftmax(OpKind Op, Tensor X, int64_t Axis) {
  LoweredOp L = lowerOp(Op, {X}, attrs({{"axis", Axis}}));
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/softmax.h");
  auto P = paramsAs<mote_rt::SoftmaxP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  if (Op == OpKind::Softmax) {
    CHECK(L.Call.Kernel == "softmax");
    mote_rt::softmax<T>(P, L.in<T>(0), Y.data());
  } else {
    CHECK(L.Call.Kernel == "log_softmax");
    mote_rt::log_softmax<T>(P, L.in<T>(0), Y.data());
  }
  checkSame(L.Run.Results[0], Y);
}

/// Runs the forward op for a realistic Y, then the gradient op from
/// (dY, Y).
template <class T> void checkSoftmaxGrad(OpKind Fwd, Tensor X, int64_t Axis) {
  AttrMap A = attrs({{"axis", Axis}});
  OpRun F = runOp(Fwd, {X}, A);
  REQUIRE_FALSE(F.Error);
  Tensor DY = X.dtype() == DType::F32 ? randomF32(X.shape(), 77)
                                      : randomF64(X.shape(), 77);
  OpKind GradOp =
      Fwd == OpKind::Softmax ? OpKind::SoftmaxGrad : OpKind::LogSoftmaxGrad;
  LoweredOp L = lowerOp(GradOp, {DY, F.Results[0]}, A);
  REQUIRE_FALSE(L.LowerError);
  auto P = paramsAs<mote_rt::SoftmaxP>(L.Call);
  std::vector<T> DX(L.outElems(0));
  if (GradOp == OpKind::SoftmaxGrad) {
    CHECK(L.Call.Kernel == "softmax_grad");
    mote_rt::softmax_grad<T>(P, L.in<T>(0), L.in<T>(1), DX.data());
  } else {
    CHECK(L.Call.Kernel == "log_softmax_grad");
    mote_rt::log_softmax_grad<T>(P, L.in<T>(0), L.in<T>(1), DX.data());
  }
  checkSame(L.Run.Results[0], DX);
}

/// The operand list of a lowering that sets Operands: (is result, index).
std::vector<std::pair<bool, int>> operandsOf(const KernelCall &C) {
  std::vector<std::pair<bool, int>> R;
  for (const KernelOperand &K : C.Operands)
    R.push_back({K.IsResult, K.Index});
  return R;
}

} // namespace

//===----------------------------------------------------------------------===//
// Reshape family, Dropout
//===----------------------------------------------------------------------===//

TEST_CASE("kernel reshape copies Reshape, Flatten, Squeeze, Unsqueeze",
          "[kernel]") {
  checkReshape<float>(OpKind::Reshape, randomF32({2, 3, 4}, 1),
                      attrs({{"shape", Ints{4, 6}}}));
  checkReshape<int64_t>(OpKind::Reshape, seq<int64_t>({6}),
                        attrs({{"shape", Ints{3, 1, 2}}}));
  checkReshape<float>(OpKind::Flatten, randomF32({2, 3, 4}, 2),
                      attrs({{"axis", int64_t(2)}}));
  checkReshape<int8_t>(OpKind::Flatten, seq<int8_t>({2, 3, 4}),
                       attrs({{"axis", int64_t(0)}}));
  checkReshape<float>(OpKind::Squeeze, randomF32({1, 3, 1, 2}, 3), {});
  checkReshape<int32_t>(OpKind::Unsqueeze, seq<int32_t>({3, 2}),
                        attrs({{"axes", Ints{0, -1}}}));
}

TEST_CASE("kernel reshape copies eval-mode Dropout; dropout_eval adds the "
          "all-true mask",
          "[kernel]") {
  checkReshape<float>(OpKind::Dropout, randomF32({4, 5}, 4), {});
  LoweredOp L = lowerOp(OpKind::Dropout, {randomF32({4, 5}, 4)}, {}, 2);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "dropout_eval");
  auto P = paramsAs<mote_rt::ReshapeP>(L.Call);
  std::vector<float> Y(L.outElems(0));
  std::unique_ptr<bool[]> Mask(new bool[L.outElems(1)]());
  mote_rt::dropout_eval<float>(P, L.in<float>(0), Y.data(), Mask.get());
  checkSame(L.Run.Results[0], Y);
  auto Want = L.Run.Results[1].data<bool>();
  for (size_t I = 0; I < L.outElems(1); ++I)
    CHECK(Mask[I] == Want[I]);
}

//===----------------------------------------------------------------------===//
// Expand, Transpose, Slice (strided_copy)
//===----------------------------------------------------------------------===//

TEST_CASE("kernel strided_copy expands like the interpreter", "[kernel]") {
  checkStridedCopy<float>(OpKind::Expand, randomF32({3, 1}, 5),
                          attrs({{"shape", Ints{2, 3, 4}}}));
  checkStridedCopy<float>(OpKind::Expand, randomF32({1, 4}, 6),
                          attrs({{"shape", Ints{3, 1, 4}}}));
  checkStridedCopy<int32_t>(OpKind::Expand, seq<int32_t>({2, 1, 3}),
                            attrs({{"shape", Ints{2, 2, 4, 3}}}));
  // Broadcasting a whole block: the two leading dims merge into one.
  CHECK(checkStridedCopy<int64_t>(OpKind::Expand, seq<int64_t>({5}),
                                  attrs({{"shape", Ints{2, 3, 5}}})) == 2);
}

TEST_CASE("kernel strided_copy transposes like the interpreter", "[kernel]") {
  Tensor X = randomF32({2, 3, 4, 5}, 7);
  for (Ints Perm : {Ints{0, 2, 3, 1}, Ints{3, 1, 0, 2}, Ints{1, 0, 3, 2},
                    Ints{3, 2, 1, 0}, Ints{0, 1, 3, 2}})
    checkStridedCopy<float>(OpKind::Transpose, X, attrs({{"perm", Perm}}));
  // Default perm (reversed dims), integer data.
  checkStridedCopy<int32_t>(OpKind::Transpose, seq<int32_t>({3, 4, 2}), {});
  // Rank 6, and the identity permutation collapses to one contiguous row.
  checkStridedCopy<float>(OpKind::Transpose, randomF32({2, 1, 3, 2, 2, 3}, 8),
                          attrs({{"perm", Ints{5, 3, 1, 0, 4, 2}}}));
  CHECK(checkStridedCopy<float>(OpKind::Transpose, X,
                                attrs({{"perm", Ints{0, 1, 2, 3}}})) == 1);
  // Rank 7 fits once neighbouring dims that stay together merge.
  CHECK(checkStridedCopy<int8_t>(
            OpKind::Transpose, seq<int8_t>({2, 2, 2, 2, 3, 2, 2}),
            attrs({{"perm", Ints{4, 5, 6, 0, 1, 2, 3}}})) == 2);
}

TEST_CASE("kernel strided_copy lowering rejects a rank it cannot reduce",
          "[kernel]") {
  LoweredOp L = lowerOp(OpKind::Transpose, {seq<int8_t>({2, 3, 2, 3, 2, 3, 2})},
                        attrs({{"perm", Ints{6, 5, 4, 3, 2, 1, 0}}}));
  CHECK(mentions(L.LowerError, "kernel limit"));
}

TEST_CASE("kernel strided_copy slices like the interpreter", "[kernel]") {
  Tensor X = randomF32({5, 6, 7}, 9);
  auto Slice = [](Ints Starts, Ints Ends, Ints Axes, Ints Steps) {
    return attrs(
        {{"starts", Starts}, {"ends", Ends}, {"axes", Axes}, {"steps", Steps}});
  };
  const int64_t Big = std::numeric_limits<int64_t>::max();
  // Steps, negative starts and ends, negative axes.
  checkStridedCopy<float>(OpKind::Slice, X,
                          Slice({1, -5}, {5, Big}, {0, -1}, {2, 2}));
  // Reversal of an axis (negative step to the beginning) and a middle
  // axis with step 3.
  checkStridedCopy<float>(OpKind::Slice, X,
                          Slice({-1, 0}, {-Big, 6}, {2, 1}, {-1, 3}));
  checkStridedCopy<float>(
      OpKind::Slice, X, Slice({4, 5, 6}, {0, -7, 1}, {0, 1, 2}, {-2, -2, -3}));
  // Integer data, default axes and steps.
  checkStridedCopy<int64_t>(
      OpKind::Slice, seq<int64_t>({4, 5}),
      attrs({{"starts", Ints{1, 1}}, {"ends", Ints{3, -1}}}));
  // An empty result writes nothing.
  checkStridedCopy<float>(OpKind::Slice, X, Slice({3}, {3}, {1}, {1}));
}

//===----------------------------------------------------------------------===//
// Concat
//===----------------------------------------------------------------------===//

TEST_CASE("kernel concat joins inputs like the interpreter", "[kernel]") {
  SECTION("three inputs along a middle axis") {
    Tensor A = randomF32({2, 1, 4}, 10), B = randomF32({2, 3, 4}, 11),
           C = randomF32({2, 2, 4}, 12);
    LoweredOp L =
        lowerOp(OpKind::Concat, {A, B, C}, attrs({{"axis", int64_t(1)}}));
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Kernel == "concat");
    // The result comes first, then the inputs.
    CHECK(operandsOf(L.Call) ==
          std::vector<std::pair<bool, int>>{
              {true, 0}, {false, 0}, {false, 1}, {false, 2}});
    auto P = paramsAs<mote_rt::ConcatP>(L.Call);
    std::vector<float> Y(L.outElems(0));
    mote_rt::concat<float>(P, Y.data(), L.in<float>(0), L.in<float>(1),
                           L.in<float>(2));
    checkSame(L.Run.Results[0], Y);
  }
  SECTION("last and first axis, integer data") {
    Tensor A = seq<int64_t>({3, 2}), B = seq<int64_t>({3, 5});
    LoweredOp L =
        lowerOp(OpKind::Concat, {A, B}, attrs({{"axis", int64_t(-1)}}));
    REQUIRE_FALSE(L.LowerError);
    auto P = paramsAs<mote_rt::ConcatP>(L.Call);
    std::vector<int64_t> Y(L.outElems(0));
    mote_rt::concat<int64_t>(P, Y.data(), L.in<int64_t>(0), L.in<int64_t>(1));
    checkSame(L.Run.Results[0], Y);

    Tensor D = seq<int64_t>({1, 5});
    L = lowerOp(OpKind::Concat, {B, D, B}, attrs({{"axis", int64_t(0)}}));
    REQUIRE_FALSE(L.LowerError);
    P = paramsAs<mote_rt::ConcatP>(L.Call);
    Y.assign(L.outElems(0), 0);
    mote_rt::concat<int64_t>(P, Y.data(), L.in<int64_t>(0), L.in<int64_t>(1),
                             L.in<int64_t>(2));
    checkSame(L.Run.Results[0], Y);
  }
  SECTION("eight inputs use the second row-length array") {
    std::vector<std::optional<Tensor>> In;
    for (int I = 0; I < 8; ++I)
      In.push_back(randomF32({2, I % 3 + 1}, uint32_t(20 + I)));
    LoweredOp L = lowerOp(OpKind::Concat, In, attrs({{"axis", int64_t(1)}}));
    REQUIRE_FALSE(L.LowerError);
    auto P = paramsAs<mote_rt::ConcatP>(L.Call);
    std::vector<float> Y(L.outElems(0));
    auto X = [&](size_t I) { return L.in<float>(I); };
    mote_rt::concat<float>(P, Y.data(), X(0), X(1), X(2), X(3), X(4), X(5),
                           X(6), X(7));
    checkSame(L.Run.Results[0], Y);
  }
  SECTION("more inputs than the kernel takes are rejected") {
    std::vector<std::optional<Tensor>> In(25, randomF32({2}, 30));
    LoweredOp L = lowerOp(OpKind::Concat, In, attrs({{"axis", int64_t(0)}}));
    CHECK(mentions(L.LowerError, "at most 24"));
  }
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

TEST_CASE("kernel pad pads and crops like the interpreter", "[kernel]") {
  auto Pad = [](Ints Pads, std::string Mode, float Value = 0) {
    return attrs({{"pads", Pads}, {"mode", Mode}, {"value", Value}});
  };
  Tensor X = randomF32({3, 4}, 40);
  for (std::string Mode : {"constant", "edge", "reflect"}) {
    INFO("mode " << Mode);
    checkPad<float>(X, Pad({1, 2, 2, 1}, Mode, 1.5f));
    // Wider than the axis (reflect keeps bouncing), and a crop.
    checkPad<float>(X, Pad({5, 0, 4, 7}, Mode, -2.0f));
    checkPad<float>(X, Pad({-1, 2, 1, -2}, Mode));
    // Rank 3 with a padded leading dim, an axis of one element.
    checkPad<float>(randomF32({2, 1, 3}, 41), Pad({1, 2, 0, 2, 1, 3}, Mode));
  }
  // Integer data: the value converts (and saturates) as in the interpreter.
  checkPad<int32_t>(seq<int32_t>({2, 3}), Pad({1, 1, 1, 1}, "constant", 7));
  checkPad<int8_t>(seq<int8_t>({2, 3}), Pad({0, 2, 1, 0}, "constant", 300));
  checkPad<int64_t>(seq<int64_t>({2, 3}), Pad({2, 3, 0, 1}, "reflect"));
  // Crop the whole axis in constant mode: rows of the value only.
  checkPad<float>(X, Pad({-3, 1, 2, 1}, "constant", 4));
}

TEST_CASE("kernel pad converts the value for bool data", "[kernel]") {
  Tensor X = seq<bool>({2, 2});
  LoweredOp L =
      lowerOp(OpKind::Pad, {X},
              attrs({{"pads", Ints{1, 0, 0, 1}}, {"value", 0.25f}}));
  REQUIRE_FALSE(L.LowerError);
  auto P = paramsAs<mote_rt::PadP>(L.Call);
  // [[F, T], [F, T]] padded to 3 x 3: a row of padding first, a column
  // of padding last.
  bool Y[9] = {};
  mote_rt::pad<bool>(P, L.in<bool>(0), Y);
  auto W = L.Run.Results[0].data<bool>();
  REQUIRE(W.size() == 9);
  for (size_t I = 0; I < 9; ++I)
    CHECK(Y[I] == W[I]);
  CHECK(Y[0]); // the padding value 0.25 is true
  CHECK_FALSE(Y[3]);
  CHECK(Y[4]);
}

//===----------------------------------------------------------------------===//
// Gather
//===----------------------------------------------------------------------===//

TEST_CASE("kernel gather picks slices like the interpreter", "[kernel]") {
  checkGather<float, int32_t>(randomF32({5, 3}, 50), i32({4}, {4, -1, 0, 2}),
                              0);
  checkGather<float, int64_t>(randomF32({2, 6, 3}, 51),
                              i64({2, 2}, {5, 0, -6, 3}), 1);
  checkGather<int64_t, int64_t>(seq<int64_t>({3, 4}), i64({3}, {3, -4, 1}), -1);
  checkGather<uint8_t, int32_t>(seq<uint8_t>({4, 2}), i32({}, {-2}), 0);
}

TEST_CASE("kernel gather: constant indices are checked at compile time, run "
          "time ones give zeros",
          "[kernel]") {
  Graph G("t");
  Value *D = G.addInput("d", TensorType(DType::F32, {3, 2}));
  Value *I = G.addConst("i", i64({2}, {1, 3}));
  Node *N = G.addNode(OpKind::Gather, "g", {D, I}, {},
                      {{"y", TensorType(DType::F32, {2, 2})}});
  KernelCall C;
  Status S = N->def().Lower(*N, C);
  REQUIRE_FALSE(bool(S));
  CHECK(S.takeError().Message.find("index 3 is out of range") !=
        std::string::npos);

  // The kernel itself: index 3 (and -4) is outside [-3, 3).
  const float X[6] = {1, 2, 3, 4, 5, 6};
  const int64_t Idx[3] = {3, -1, -4};
  float Y[6] = {9, 9, 9, 9, 9, 9};
  mote_rt::gather<float, int64_t>(mote_rt::GatherP{1, 3, 2, 3}, X, Idx, Y);
  const float Want[6] = {0, 0, 5, 6, 0, 0};
  for (int K = 0; K < 6; ++K)
    CHECK(Y[K] == Want[K]);
}

//===----------------------------------------------------------------------===//
// Softmax family
//===----------------------------------------------------------------------===//

TEST_CASE("kernel softmax and log_softmax match the interpreter", "[kernel]") {
  Tensor X = randomF32({3, 4, 5}, 60, -8, 8);
  for (OpKind Op : {OpKind::Softmax, OpKind::LogSoftmax}) {
    checkSoftmax<float>(Op, X, 0);
    checkSoftmax<float>(Op, X, 1);
    checkSoftmax<float>(Op, X, -1);
    checkSoftmax<float>(Op, randomF32({2, 10}, 61, -40, 40), 1);
    checkSoftmax<double>(Op, randomF64({4, 3}, 62), 0);
  }
  // Huge scores: the max subtraction keeps exp finite.
  checkSoftmax<float>(OpKind::Softmax,
                      f32({2, 3}, {1000, 999, -1000, 88, 89, 90}), 1);
  checkSoftmax<float>(OpKind::LogSoftmax,
                      f32({2, 3}, {1000, 999, -1000, 88, 89, 90}), 1);
}

TEST_CASE("kernel softmax_grad and log_softmax_grad match the interpreter",
          "[kernel]") {
  Tensor X = randomF32({3, 4, 5}, 63, -3, 3);
  for (OpKind Op : {OpKind::Softmax, OpKind::LogSoftmax}) {
    checkSoftmaxGrad<float>(Op, X, 0);
    checkSoftmaxGrad<float>(Op, X, 2);
    checkSoftmaxGrad<float>(Op, X, -2);
    checkSoftmaxGrad<double>(Op, randomF64({2, 6}, 64), 1);
  }
}

//===----------------------------------------------------------------------===//
// Softmax cross-entropy loss and its gradient
//===----------------------------------------------------------------------===//

namespace {

struct LossCase {
  Tensor Scores;
  Tensor Labels;
  std::optional<Tensor> Weights;
  AttrMap Attrs;
};

/// Forward: loss (and log_prob when \p LogProb) through the kernel.
template <class L> void checkLoss(const LossCase &K, bool LogProb) {
  LoweredOp Lo =
      lowerOp(OpKind::SoftmaxCrossEntropyLoss, {K.Scores, K.Labels, K.Weights},
              K.Attrs, LogProb ? 2 : 1);
  REQUIRE_FALSE(Lo.LowerError);
  CHECK(Lo.Call.Header == "mote_rt/loss.h");
  CHECK(Lo.Call.Kernel == "softmax_cross_entropy");
  auto P = paramsAs<mote_rt::SoftmaxCrossEntropyP>(Lo.Call);
  std::vector<float> Loss(Lo.outElems(0));
  std::vector<float> LP(LogProb ? Lo.outElems(1) : 0);
  mote_rt::softmax_cross_entropy<float, L>(P, Lo.in<float>(0), Lo.in<L>(1),
                                           Lo.in<float>(2), Loss.data(),
                                           LogProb ? LP.data() : nullptr);
  checkSame(Lo.Run.Results[0], Loss);
  if (LogProb)
    checkSame(Lo.Run.Results[1], LP);
}

/// Gradient from a random dLoss of the loss's shape.
template <class L> void checkLossGrad(const LossCase &K) {
  OpRun F = runOp(OpKind::SoftmaxCrossEntropyLoss,
                  {K.Scores, K.Labels, K.Weights}, K.Attrs);
  REQUIRE_FALSE(F.Error);
  Tensor DLoss = randomF32(F.Results[0].shape(), 90, 0.5f, 2.0f);
  std::vector<std::optional<Tensor>> In = {DLoss, K.Scores, K.Labels};
  if (K.Weights)
    In.push_back(K.Weights);
  LoweredOp Lo = lowerOp(OpKind::SoftmaxCrossEntropyLossGrad, In, K.Attrs);
  REQUIRE_FALSE(Lo.LowerError);
  CHECK(Lo.Call.Kernel == "softmax_cross_entropy_grad");
  // Weights always have a slot (input 3), also when the node has 3 inputs.
  CHECK(operandsOf(Lo.Call) ==
        std::vector<std::pair<bool, int>>{
            {false, 0}, {false, 1}, {false, 2}, {false, 3}, {true, 0}});
  auto P = paramsAs<mote_rt::SoftmaxCrossEntropyP>(Lo.Call);
  std::vector<float> DX(Lo.outElems(0));
  const float *W = K.Weights ? Lo.in<float>(3) : nullptr;
  mote_rt::softmax_cross_entropy_grad<float, L>(
      P, Lo.in<float>(0), Lo.in<float>(1), Lo.in<L>(2), W, DX.data());
  checkSame(Lo.Run.Results[0], DX);
}

} // namespace

TEST_CASE("kernel softmax_cross_entropy matches the interpreter", "[kernel]") {
  Tensor S2 = randomF32({4, 5}, 70, -3, 3);
  Tensor S3 = randomF32({2, 4, 3}, 71, -3, 3);
  Tensor W = randomF32({5}, 72, 0.2f, 2.0f);
  Tensor W4 = randomF32({4}, 73, 0.2f, 2.0f);
  for (std::string Red : {"mean", "sum", "none"}) {
    INFO("reduction " << Red);
    AttrMap A = attrs({{"reduction", Red}});
    AttrMap AI = attrs({{"reduction", Red}, {"ignore_index", int64_t(2)}});
    checkLoss<int64_t>({S2, i64({4}, {0, 4, 2, 1}), std::nullopt, A}, false);
    checkLoss<int32_t>({S2, i32({4}, {3, 2, 2, 0}), W, AI}, false);
    checkLoss<int64_t>({S3, i64({2, 3}, {0, 2, 3, 2, 1, 1}), W4, AI}, true);
    checkLoss<int32_t>({S3, i32({2, 3}, {1, 0, 3, 3, 2, 0}), std::nullopt, A},
                       true);
    // A negative ignore_index.
    checkLoss<int32_t>(
        {S2, i32({4}, {-100, 1, -100, 4}), W,
         attrs({{"reduction", Red}, {"ignore_index", int64_t(-100)}})},
        false);
  }
}

TEST_CASE("kernel softmax_cross_entropy: every position ignored", "[kernel]") {
  Tensor S = randomF32({2, 3}, 74);
  AttrMap A = attrs({{"ignore_index", int64_t(1)}});
  LoweredOp Lo =
      lowerOp(OpKind::SoftmaxCrossEntropyLoss, {S, i32({2}, {1, 1})}, A);
  REQUIRE_FALSE(Lo.LowerError);
  auto P = paramsAs<mote_rt::SoftmaxCrossEntropyP>(Lo.Call);
  float Loss = 0;
  mote_rt::softmax_cross_entropy<float, int32_t>(
      P, Lo.in<float>(0), Lo.in<int32_t>(1), nullptr, &Loss);
  CHECK(std::isnan(Lo.Run.Results[0].data<float>()[0]));
  CHECK(std::isnan(Loss));
  // The gradient is 0 there.
  checkLossGrad<int32_t>({S, i32({2}, {1, 1}), std::nullopt, A});
}

TEST_CASE("kernel softmax_cross_entropy_grad matches the interpreter",
          "[kernel]") {
  Tensor S2 = randomF32({4, 5}, 80, -3, 3);
  Tensor S3 = randomF32({2, 4, 3}, 81, -3, 3);
  Tensor W = randomF32({5}, 82, 0.2f, 2.0f);
  Tensor W4 = randomF32({4}, 83, 0.2f, 2.0f);
  for (std::string Red : {"mean", "sum", "none"}) {
    INFO("reduction " << Red);
    AttrMap A = attrs({{"reduction", Red}});
    AttrMap AI = attrs({{"reduction", Red}, {"ignore_index", int64_t(2)}});
    checkLossGrad<int64_t>({S2, i64({4}, {0, 4, 2, 1}), std::nullopt, A});
    checkLossGrad<int32_t>({S2, i32({4}, {3, 2, 2, 0}), W, AI});
    checkLossGrad<int64_t>({S3, i64({2, 3}, {0, 2, 3, 2, 1, 1}), W4, AI});
    checkLossGrad<int32_t>(
        {S3, i32({2, 3}, {1, 0, 3, 3, 2, 0}), std::nullopt, A});
  }
}

TEST_CASE("kernel softmax_cross_entropy lowering rejects a 64-bit "
          "ignore_index",
          "[kernel]") {
  LoweredOp Lo = lowerOp(OpKind::SoftmaxCrossEntropyLoss,
                         {randomF32({2, 3}, 84), i64({2}, {0, 1})},
                         attrs({{"ignore_index", int64_t(1) << 40}}));
  CHECK(mentions(Lo.LowerError, "does not fit in 32 bits"));
}

//===----------------------------------------------------------------------===//
// Optimizers
//===----------------------------------------------------------------------===//

namespace {

/// The parameter, its gradient and state tensors of one optimizer test;
/// with Count, an accumulated update (Attrs has `every`) at that count.
struct UpdateCase {
  Tensor X, G;
  AttrMap Attrs;
  std::optional<int64_t> Count = std::nullopt;
};

/// The accumulation count's input, or nothing.
std::optional<Tensor> countInput(const UpdateCase &K) {
  if (!K.Count)
    return std::nullopt;
  return i64({}, {*K.Count});
}

/// \p K accumulated every \p Every steps, at count \p Count.
UpdateCase accumulated(UpdateCase K, int64_t Every, int64_t Count) {
  K.Attrs.set("every", Every);
  K.Count = Count;
  return K;
}

/// X [3, 4, 2] updated on the first 2 of 4 channels of axis 1, the gradient
/// either sliced to those channels or of full extent.
UpdateCase partialCase(bool SlicedGrad, AttrMap A) {
  A.set("axis", int64_t(1));
  A.set("channels", int64_t(2));
  return {randomF32({3, 4, 2}, 100), randomF32({3, SlicedGrad ? 2 : 4, 2}, 101),
          std::move(A)};
}

/// Runs SgdUpdate twice through the kernel: into fresh buffers, and in
/// place (output == parameter buffer).
void checkSgd(const UpdateCase &K) {
  std::vector<std::optional<Tensor>> In = {K.X, K.G};
  if (K.Count)
    In.push_back(countInput(K));
  LoweredOp L = lowerOp(OpKind::SgdUpdate, In, K.Attrs);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/optim.h");
  CHECK(L.Call.Kernel == "sgd_update");
  auto P = paramsAs<mote_rt::SgdP>(L.Call);
  const int64_t *C = K.Count ? L.in<int64_t>(2) : nullptr;
  std::vector<float> Y(L.outElems(0));
  mote_rt::sgd_update<float>(P, L.in<float>(0), L.in<float>(1), C, Y.data());
  checkSame(L.Run.Results[0], Y);
  auto X = K.X.data<float>();
  std::vector<float> InPlace(X.begin(), X.end());
  mote_rt::sgd_update<float>(P, InPlace.data(), L.in<float>(1), C,
                             InPlace.data());
  checkSame(L.Run.Results[0], InPlace);
}

void checkMomentum(const UpdateCase &K, std::optional<int64_t> Step) {
  Tensor V = randomF32(K.X.shape(), 102);
  std::vector<std::optional<Tensor>> In = {K.X, K.G, V};
  if (Step || K.Count)
    In.push_back(Step ? std::optional<Tensor>(i64({}, {*Step}))
                      : std::nullopt);
  if (K.Count)
    In.push_back(countInput(K));
  LoweredOp L = lowerOp(OpKind::MomentumUpdate, In, K.Attrs, 2);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "momentum_update");
  auto P = paramsAs<mote_rt::MomentumP>(L.Call);
  const int64_t *T = Step ? L.in<int64_t>(3) : nullptr;
  const int64_t *C = K.Count ? L.in<int64_t>(4) : nullptr;
  std::vector<float> Y(L.outElems(0)), VO(L.outElems(1));
  mote_rt::momentum_update<float>(P, L.in<float>(0), L.in<float>(1),
                                  L.in<float>(2), T, C, Y.data(), VO.data());
  checkSame(L.Run.Results[0], Y);
  checkSame(L.Run.Results[1], VO);
  auto XD = K.X.data<float>();
  auto VD = V.data<float>();
  std::vector<float> XB(XD.begin(), XD.end()), VB(VD.begin(), VD.end());
  mote_rt::momentum_update<float>(P, XB.data(), L.in<float>(1), VB.data(), T,
                                  C, XB.data(), VB.data());
  checkSame(L.Run.Results[0], XB);
  checkSame(L.Run.Results[1], VB);
}

void checkAdam(const UpdateCase &K, int64_t Step) {
  Tensor V = randomF32(K.X.shape(), 103);
  Tensor H = randomF32(K.X.shape(), 104, 0.0f, 0.5f);
  std::vector<std::optional<Tensor>> In = {K.X, K.G, V, H, i64({}, {Step})};
  if (K.Count)
    In.push_back(countInput(K));
  LoweredOp L = lowerOp(OpKind::AdamUpdate, In, K.Attrs, 3);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "adam_update");
  auto P = paramsAs<mote_rt::AdamP>(L.Call);
  const int64_t *C = K.Count ? L.in<int64_t>(5) : nullptr;
  std::vector<float> Y(L.outElems(0)), VO(L.outElems(1)), HO(L.outElems(2));
  mote_rt::adam_update<float>(P, L.in<float>(0), L.in<float>(1), L.in<float>(2),
                              L.in<float>(3), L.in<int64_t>(4), C, Y.data(),
                              VO.data(), HO.data());
  checkSame(L.Run.Results[0], Y);
  checkSame(L.Run.Results[1], VO);
  checkSame(L.Run.Results[2], HO);
  auto XD = K.X.data<float>();
  auto VD = V.data<float>();
  auto HD = H.data<float>();
  std::vector<float> XB(XD.begin(), XD.end()), VB(VD.begin(), VD.end()),
      HB(HD.begin(), HD.end());
  mote_rt::adam_update<float>(P, XB.data(), L.in<float>(1), VB.data(),
                              HB.data(), L.in<int64_t>(4), C, XB.data(),
                              VB.data(), HB.data());
  checkSame(L.Run.Results[0], XB);
  checkSame(L.Run.Results[1], VB);
  checkSame(L.Run.Results[2], HB);
}

} // namespace

TEST_CASE("kernel sgd_update matches the interpreter, also in place",
          "[kernel]") {
  AttrMap A = attrs({{"lr", 0.1f}});
  checkSgd({randomF32({4, 3}, 105), randomF32({4, 3}, 106), A});
  checkSgd({randomF32({7}, 107), randomF32({7}, 108),
            attrs({{"lr", 0.05f}, {"norm_coefficient", 0.01f}})});
  checkSgd(partialCase(true, A));
  checkSgd(
      partialCase(false, attrs({{"lr", 0.2f}, {"norm_coefficient", 0.1f}})));
  // Channels on axis 0: a single row whose tail passes through.
  checkSgd(
      {randomF32({5, 3}, 109), randomF32({2, 3}, 110),
       attrs(
           {{"lr", 0.3f}, {"axis", int64_t(0)}, {"channels", int64_t(2)}})});
}

TEST_CASE("kernel momentum_update matches the interpreter, also in place",
          "[kernel]") {
  AttrMap Std = attrs({{"lr", 0.1f}, {"alpha", 0.8f}, {"beta", 0.5f}});
  AttrMap Nes = attrs({{"lr", 0.1f},
                         {"mode", std::string("nesterov")},
                         {"norm_coefficient", 0.02f}});
  UpdateCase Full = {randomF32({4, 3}, 111), randomF32({4, 3}, 112), Std};
  checkMomentum(Full, std::nullopt);
  checkMomentum(Full, int64_t(3));
  checkMomentum(Full, int64_t(0)); // step 0: beta acts as 1
  checkMomentum({Full.X, Full.G, Nes}, int64_t(5));
  checkMomentum(partialCase(true, Std), int64_t(2));
  checkMomentum(partialCase(false, Nes), std::nullopt);
}

TEST_CASE("kernel adam_update matches the interpreter, also in place",
          "[kernel]") {
  AttrMap Def = attrs({{"lr", 0.01f}});
  AttrMap All = attrs({{"lr", 0.02f},
                         {"alpha", 0.85f},
                         {"beta", 0.99f},
                         {"epsilon", 1e-6f},
                         {"norm_coefficient", 0.01f},
                         {"norm_coefficient_post", 0.001f}});
  UpdateCase Full = {randomF32({4, 3}, 113), randomF32({4, 3}, 114), Def};
  checkAdam(Full, 1);
  checkAdam(Full, 1000);
  checkAdam(Full, 0); // step 0: no bias correction
  checkAdam({Full.X, Full.G, All}, 7);
  checkAdam(partialCase(true, Def), 3);
  checkAdam(partialCase(false, All), 12);
}

TEST_CASE("kernel updates accumulated every N steps apply at count N - 1 "
          "only, as the interpreter",
          "[kernel]") {
  AttrMap A = attrs({{"lr", 0.1f}, {"norm_coefficient", 0.01f}});
  UpdateCase Full = {randomF32({4, 3}, 115), randomF32({4, 3}, 116), A};
  for (int64_t Count : {0, 1, 2}) {
    checkSgd(accumulated(Full, 3, Count));
    checkSgd(accumulated(partialCase(true, A), 3, Count));
    checkMomentum(accumulated(Full, 3, Count), std::nullopt);
    checkMomentum(accumulated(partialCase(false, A), 3, Count), int64_t(2));
    checkAdam(accumulated(Full, 3, Count), 4);
  }
  // Not due: the interpreter passes X through; due: it moves.
  auto Moved = [&](int64_t Count) {
    UpdateCase K = accumulated(Full, 3, Count);
    OpRun R = runOp(OpKind::SgdUpdate, {K.X, K.G, countInput(K)}, K.Attrs);
    REQUIRE_FALSE(R.Error);
    return !(R.Results[0].data<float>()[0] == K.X.data<float>()[0]);
  };
  CHECK_FALSE(Moved(0));
  CHECK_FALSE(Moved(1));
  CHECK(Moved(2));
}

TEST_CASE("GradAccumulate's type rule and the updates' every", "[kernel]") {
  Tensor X = randomF32({4, 3}, 117), G = randomF32({4, 3}, 118);
  Tensor C = i64({}, {0});
  CHECK(mentions(runOp(OpKind::GradAccumulate, {X, randomF32({3, 4}, 119), C})
                     .Error,
                 "gradient is"));
  CHECK(mentions(runOp(OpKind::GradAccumulate, {X, G, randomF32({1}, 120)})
                     .Error,
                 "accumulation count must be an i64 scalar"));
  // A sliced accumulator needs channels naming its extent.
  Tensor A2 = randomF32({2, 3}, 121);
  CHECK(mentions(runOp(OpKind::GradAccumulate, {A2, G, C}).Error,
                 "gradient is"));
  CHECK_FALSE(runOp(OpKind::GradAccumulate, {A2, G, C},
                    attrs({{"axis", int64_t(0)}, {"channels", int64_t(2)}}))
                  .Error);
  CHECK(mentions(runOp(OpKind::GradAccumulate, {A2, G, C},
                       attrs({{"axis", int64_t(0)}, {"channels", int64_t(3)}}))
                     .Error,
                 "must hold 3 channels"));
  AttrMap Every = attrs({{"lr", 0.1f}, {"every", int64_t(4)}});
  CHECK(mentions(runOp(OpKind::SgdUpdate, {X, G}, Every).Error,
                 "needs the accumulation count as input 2"));
  CHECK(mentions(runOp(OpKind::SgdUpdate, {X, G, C}, attrs({{"lr", 0.1f}}))
                     .Error,
                 "needs every > 1"));
  CHECK(mentions(runOp(OpKind::SgdUpdate, {X, G, C},
                       attrs({{"lr", 0.1f}, {"every", int64_t(0)}}))
                     .Error,
                 "every must be at least 1"));
}

namespace {

/// Runs GradAccumulate through the interpreter and the kernel, into a
/// fresh buffer and in place, at \p Count.
void checkAccumulate(const Tensor &A, const Tensor &G, int64_t Count,
                     AttrMap Attrs) {
  LoweredOp L =
      lowerOp(OpKind::GradAccumulate, {A, G, i64({}, {Count})}, Attrs);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "grad_accumulate");
  auto P = paramsAs<mote_rt::GradAccumulateP>(L.Call);
  std::vector<float> Y(L.outElems(0));
  mote_rt::grad_accumulate<float>(P, L.in<float>(0), L.in<float>(1),
                                  L.in<int64_t>(2), Y.data());
  checkSame(L.Run.Results[0], Y);
  auto AD = A.data<float>();
  std::vector<float> InPlace(AD.begin(), AD.end());
  mote_rt::grad_accumulate<float>(P, InPlace.data(), L.in<float>(1),
                                  L.in<int64_t>(2), InPlace.data());
  checkSame(L.Run.Results[0], InPlace);
  // Count 0 starts a new sum: the old accumulator is not read.
  auto R = L.Run.Results[0].data<float>();
  auto GD = G.data<float>();
  int64_t Channels = Attrs.getInt("channels", -1);
  if (Count == 0 && Channels == -1)
    CHECK(R[1] == Attrs.getFloat("scale", 1.0f) * GD[1]);
  if (Count != 0 && Channels == -1)
    CHECK(R[1] != Attrs.getFloat("scale", 1.0f) * GD[1]);
}

} // namespace

TEST_CASE("kernel grad_accumulate matches the interpreter, also in place and "
          "on a channel slice",
          "[kernel]") {
  Tensor A = randomF32({4, 3}, 122), G = randomF32({4, 3}, 123);
  for (int64_t Count : {0, 1, 5}) {
    checkAccumulate(A, G, Count, attrs({{"scale", 0.25f}}));
    checkAccumulate(A, G, Count, {});
    // Channels 2 of 4 on axis 1 of [3, 4, 2]: the gradient sliced or full.
    AttrMap S = attrs(
        {{"scale", 0.5f}, {"axis", int64_t(1)}, {"channels", int64_t(2)}});
    checkAccumulate(randomF32({3, 2, 2}, 124), randomF32({3, 4, 2}, 125),
                    Count, S);
    checkAccumulate(randomF32({3, 2, 2}, 124), randomF32({3, 2, 2}, 126),
                    Count, S);
  }
}
