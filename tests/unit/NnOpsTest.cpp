//===- NnOpsTest.cpp - Neural-network op type rules, kernels and MACs -----===//
//
// Hand-checked cases for the ops under compiler/ops/nn: each kernel on small
// inputs whose expected values were worked out by hand or with numpy /
// torch.nn.functional (and the ONNX reference of SoftmaxCrossEntropyLoss),
// the shape rules (padding modes, ceil_mode, broadcasting, 1-D promotion),
// the MAC counts, and the exact error message of bad attributes and shapes.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <cmath>
#include <limits>

using namespace mote;
using namespace mote::test;

namespace {

Tensor f64(Shape Dims, std::vector<double> V) {
  return Tensor::fromVector<double>(std::move(V), std::move(Dims));
}

/// 0, 1, ..., n-1 (times Scale) as an f32 tensor of shape \p Dims.
Tensor iota(Shape Dims, float Start = 0, float Scale = 1) {
  int64_t N = 1;
  for (int64_t D : Dims)
    N *= D;
  std::vector<float> V(static_cast<size_t>(N));
  for (size_t I = 0; I < V.size(); ++I)
    V[I] = (Start + float(I)) * Scale;
  return f32(std::move(Dims), std::move(V));
}

Tensor ones(Shape Dims) {
  Tensor T = iota(Dims);
  for (float &V : T.data<float>())
    V = 1;
  return T;
}


using Ints = std::vector<int64_t>;

/// Builds a one-node graph on inputs of the given types and returns the
/// node's MAC count.
int64_t macsOf(OpKind Op, std::vector<TensorType> InTypes, AttrMap A = {}) {
  Graph G("macs");
  std::vector<Value *> Ins;
  for (size_t I = 0; I < InTypes.size(); ++I)
    Ins.push_back(G.addInput("in" + std::to_string(I), InTypes[I]));
  Node *N = G.addNode(Op, "n", Ins, std::move(A), {{"out", TensorType()}});
  REQUIRE(inferNodeTypes(*N));
  return nodeMacs(*N);
}

/// Runs \p Op and requires it to fail with exactly \p Message.
void checkError(OpKind Op, std::vector<std::optional<Tensor>> Inputs, AttrMap A,
                const std::string &Message, size_t NumResults = 1) {
  OpRun R = runOp(Op, std::move(Inputs), std::move(A), NumResults);
  REQUIRE(R.Error);
  CHECK(R.Error->Message == Message);
}

void checkI64(const Tensor &T, const Shape &Dims, const Ints &Want) {
  REQUIRE(T.dtype() == DType::I64);
  REQUIRE(T.shape() == Dims);
  auto Got = T.data<int64_t>();
  REQUIRE(Got.size() == Want.size());
  for (size_t I = 0; I < Want.size(); ++I) {
    INFO("element " << I);
    CHECK(Got[I] == Want[I]);
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Conv
//===----------------------------------------------------------------------===//

TEST_CASE("Conv 2-D with and without padding", "[ops][nn]") {
  // 3x3 box filter over 0..24 (the ONNX conv_with_padding case).
  Tensor X = iota({1, 1, 5, 5});
  Tensor W = ones({1, 1, 3, 3});
  OpRun P =
      runOp(OpKind::Conv, {X, W},
            attrs({{"pads", Ints{1, 1, 1, 1}}, {"kernel_shape", Ints{3, 3}}}));
  REQUIRE_FALSE(P.Error);
  checkF32(P.Results[0], {1, 1, 5, 5},
           {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
            117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
  OpRun V = runOp(OpKind::Conv, {X, W});
  REQUIRE_FALSE(V.Error);
  checkF32(V.Results[0], {1, 1, 3, 3},
           {54, 63, 72, 99, 108, 117, 144, 153, 162});
  // VALID is the same as no padding.
  OpRun Valid =
      runOp(OpKind::Conv, {X, W}, attrs({{"auto_pad", std::string("VALID")}}));
  REQUIRE_FALSE(Valid.Error);
  checkF32(Valid.Results[0], {1, 1, 3, 3},
           {54, 63, 72, 99, 108, 117, 144, 153, 162});
}

TEST_CASE("Conv 1-D with bias, stride, dilation and padding", "[ops][nn]") {
  Tensor X = f32({1, 2, 7}, {1, 2, 3, 4, 5, 6, 7, 0.5f, -1, 2, 0, 1, -2, 3});
  Tensor W = f32({2, 2, 3}, {1, 0, -1, 2, 1, 0, 0.5f, 0.5f, 0.5f, -1, 1, -1});
  Tensor B = f32({2}, {0.25f, -1});
  // out = floor((7 + 2 - 5) / 2) + 1 = 3
  OpRun R = runOp(OpKind::Conv, {X, W, B},
                  attrs({{"strides", Ints{2}},
                         {"dilations", Ints{2}},
                         {"pads", Ints{1, 1}}}));
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {1, 2, 3}, {-4.75f, -5.75f, 2.25f, 1, 8, 2});
}

TEST_CASE("Conv depthwise and grouped", "[ops][nn]") {
  // group = C = 2, two filters per channel.
  Tensor X = iota({1, 2, 3, 3}, 0, 0.25f);
  Tensor W =
      f32({4, 1, 2, 2}, {1, -1, 0, 2, 0, 1, 1, 0, 2, 0, 0, -1, 1, 1, 1, 1});
  OpRun D = runOp(OpKind::Conv, {X, W}, attrs({{"group", int64_t(2)}}));
  REQUIRE_FALSE(D.Error);
  checkF32(D.Results[0], {1, 4, 2, 2},
           {1.75f, 2.25f, 3.25f, 3.75f, 1, 1.5f, 2.5f, 3, 1.25f, 1.5f, 2, 2.25f,
            11, 12, 14, 15});
  // group = 2 with two input channels per group.
  Tensor X2 = iota({1, 4, 2, 2});
  Tensor W2 = f32({2, 2, 1, 1}, {1, 2, -1, 0.5f});
  OpRun G = runOp(OpKind::Conv, {X2, W2}, attrs({{"group", int64_t(2)}}));
  REQUIRE_FALSE(G.Error);
  checkF32(G.Results[0], {1, 2, 2, 2}, {8, 11, 14, 17, -2, -2.5f, -3, -3.5f});
}

TEST_CASE("Conv 3-D with a batch, per-dim strides and pads", "[ops][nn]") {
  Tensor X = iota({2, 1, 3, 3, 3}, 0, 0.1f);
  Tensor W = f32({1, 1, 2, 2, 2}, {1, 0, 0, 1, 0, -1, 1, 0});
  OpRun R = runOp(
      OpKind::Conv, {X, W},
      attrs({{"strides", Ints{1, 2, 1}}, {"pads", Ints{0, 1, 0, 0, 1, 0}}}));
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 1, 2, 2, 2},
           {1, 1.2f, 1.2f, 1.4f, 2.8f, 3, 3, 3.2f, 6.4f, 6.6f, 6.6f, 6.8f, 8.2f,
            8.4f, 8.4f, 8.6f});
}

TEST_CASE("Conv SAME_UPPER and SAME_LOWER put the odd pad apart", "[ops][nn]") {
  // 4x4, kernel 3, stride 2: out = 2, total pad 1 per dim.
  Tensor X = iota({1, 1, 4, 4});
  Tensor W = ones({1, 1, 3, 3});
  AttrMap Upper =
      attrs({{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2, 2}}});
  OpRun U = runOp(OpKind::Conv, {X, W}, Upper);
  REQUIRE_FALSE(U.Error);
  checkF32(U.Results[0], {1, 1, 2, 2}, {45, 39, 66, 50});
  AttrMap Lower =
      attrs({{"auto_pad", std::string("SAME_LOWER")}, {"strides", Ints{2, 2}}});
  OpRun L = runOp(OpKind::Conv, {X, W}, Lower);
  REQUIRE_FALSE(L.Error);
  checkF32(L.Results[0], {1, 1, 2, 2}, {10, 24, 51, 90});
}

TEST_CASE("Conv runs in f64", "[ops][nn]") {
  OpRun R = runOp(OpKind::Conv, {f64({1, 1, 3}, {1, 2, 3}),
                                 f64({1, 1, 2}, {0.5, -1}), f64({1}, {0.125})});
  REQUIRE_FALSE(R.Error);
  REQUIRE(R.Results[0].dtype() == DType::F64);
  REQUIRE(R.Results[0].shape() == Shape{1, 1, 2});
  auto Y = R.Results[0].data<double>();
  CHECK(Y[0] == Approx(-1.375));
  CHECK(Y[1] == Approx(-1.875));
}

TEST_CASE("Conv MACs", "[ops][nn]") {
  // N * Cout * prod(out) * (Cin / group) * prod(kernel)
  // = 2 * 8 * (16 * 16) * (4 / 2) * (3 * 3)
  CHECK(macsOf(OpKind::Conv,
               {TensorType(DType::F32, {2, 4, 32, 32}),
                TensorType(DType::F32, {8, 2, 3, 3})},
               attrs({{"group", int64_t(2)},
                      {"strides", Ints{2, 2}},
                      {"pads", Ints{1, 1, 1, 1}}})) == 2 * 8 * 16 * 16 * 2 * 9);
}

TEST_CASE("Conv rejects bad shapes and attributes", "[ops][nn]") {
  Tensor X = iota({1, 4, 5, 5});
  checkError(OpKind::Conv, {X, ones({2, 3, 3, 3})}, {},
             "weight W [2, 3, 3, 3] has 3 input channels per group but X "
             "[1, 4, 5, 5] with group 1 has 4");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"kernel_shape", Ints{5, 5}}}),
             "kernel_shape [5, 5] does not match the kernel dims [3, 3] of W "
             "[2, 4, 3, 3]");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"auto_pad", std::string("SAME")}}),
             "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got "
             "\"SAME\"");
  checkError(OpKind::Conv, {X, ones({2, 1, 3, 3})},
             attrs({{"group", int64_t(3)}}),
             "input channels 4 of X [1, 4, 5, 5] are not divisible by group 3");
  checkError(OpKind::Conv, {X, ones({3, 2, 3, 3})},
             attrs({{"group", int64_t(2)}}),
             "output channels 3 of W [3, 2, 3, 3] are not divisible by group "
             "2");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"group", int64_t(0)}}), "group must be positive, got 0");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"auto_pad", std::string("SAME_UPPER")},
                    {"pads", Ints{1, 1, 1, 1}}}),
             "pads [1, 1, 1, 1] cannot be combined with auto_pad SAME_UPPER; "
             "use auto_pad NOTSET");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"strides", Ints{1, 0}}}),
             "strides [1, 0] must be positive");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"dilations", Ints{1}}}),
             "dilations [1] must have 2 values, one per spatial dim");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"pads", Ints{1, 1}}}),
             "pads [1, 1] must have 4 values, the begin pads of each spatial "
             "dim, then the end pads");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3})},
             attrs({{"dilations", Ints{3, 1}}}),
             "the dilated kernel extent 7 is larger than the padded input size "
             "5 along spatial dim 0");
  checkError(OpKind::Conv, {X, ones({2, 4, 3, 3}), ones({3})}, {},
             "bias B [3] must have shape [2], one value per output channel");
  checkError(OpKind::Conv, {iota({4, 5}), ones({2, 5})}, {},
             "input X [4, 5] must have rank 3 or more ([N, C, D1, ...])");
  checkError(OpKind::Conv, {X, ones({2, 4, 3})}, {},
             "weight W [2, 4, 3] must have the rank of X [1, 4, 5, 5] "
             "([M, C / group, k1, ...])");
  checkError(OpKind::Conv, {X, f64({1, 4, 1, 1}, {1, 1, 1, 1})}, {},
             "input 1 has element type f64 but input 0 has f32; insert a Cast");
  checkError(OpKind::Conv, {i64({1, 1, 1}, {1}), i64({1, 1, 1}, {1})}, {},
             "element type i64 is not supported; expected f32 or f64");
}

//===----------------------------------------------------------------------===//
// Gemm and MatMul
//===----------------------------------------------------------------------===//

TEST_CASE("Gemm with alpha, beta, transposes and broadcast C", "[ops][nn]") {
  Tensor A = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor B = f32({3, 2}, {1, 0, 0, 1, 2, -1});
  Tensor C = f32({2}, {10, 20});
  // 0.5 * A B + 2 * C, A B = [[7, -1], [16, -1]]
  AttrMap AB = attrs({{"alpha", 0.5f}, {"beta", 2.0f}});
  OpRun R = runOp(OpKind::Gemm, {A, B, C}, AB);
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 2}, {23.5f, 39.5f, 28, 39.5f});
  // Same product from stored transposes.
  Tensor At = f32({3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor Bt = f32({2, 3}, {1, 0, 2, 0, 1, -1});
  AttrMap T = attrs({{"alpha", 0.5f},
                     {"beta", 2.0f},
                     {"transA", int64_t(1)},
                     {"transB", int64_t(1)}});
  OpRun RT = runOp(OpKind::Gemm, {At, Bt, C}, T);
  REQUIRE_FALSE(RT.Error);
  checkF32(RT.Results[0], {2, 2}, {23.5f, 39.5f, 28, 39.5f});
  // A column C [M, 1]; no C at all.
  OpRun Col = runOp(OpKind::Gemm, {A, B, f32({2, 1}, {1, 2})});
  REQUIRE_FALSE(Col.Error);
  checkF32(Col.Results[0], {2, 2}, {8, 0, 18, 1});
  OpRun NoC = runOp(OpKind::Gemm, {A, B});
  REQUIRE_FALSE(NoC.Error);
  checkF32(NoC.Results[0], {2, 2}, {7, -1, 16, -1});
  CHECK(macsOf(OpKind::Gemm,
               {TensorType(DType::F32, {2, 3}), TensorType(DType::F32, {4, 3})},
               attrs({{"transB", int64_t(1)}})) == 2 * 4 * 3);
}

TEST_CASE("Gemm rejects bad shapes and attributes", "[ops][nn]") {
  Tensor A = iota({2, 3});
  checkError(OpKind::Gemm, {A, iota({2, 4})}, {},
             "inner dims do not match: A [2, 3] (transA = 0) has K = 3 but B "
             "[2, 4] (transB = 0) has K = 2");
  checkError(OpKind::Gemm, {A, iota({3, 4}), iota({3})}, {},
             "C [3] cannot be broadcast to the result shape [M, N] = [2, 4]");
  checkError(OpKind::Gemm, {A, iota({3, 4})}, attrs({{"transA", int64_t(2)}}),
             "transA must be 0 or 1, got 2");
  checkError(OpKind::Gemm, {iota({2, 3, 1}), iota({3, 4})}, {},
             "A [2, 3, 1] must be a matrix (rank 2); insert a Flatten or use "
             "MatMul");
}

TEST_CASE("MatMul matrices, vectors and broadcast batches", "[ops][nn]") {
  Tensor A = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor B = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor V = f32({3}, {1, -1, 2});
  OpRun MM = runOp(OpKind::MatMul, {A, B});
  REQUIRE_FALSE(MM.Error);
  checkF32(MM.Results[0], {2, 2}, {22, 28, 49, 64});
  OpRun VB = runOp(OpKind::MatMul, {V, B});
  REQUIRE_FALSE(VB.Error);
  checkF32(VB.Results[0], {2}, {8, 10});
  OpRun AV = runOp(OpKind::MatMul, {A, V});
  REQUIRE_FALSE(AV.Error);
  checkF32(AV.Results[0], {2}, {5, 11});
  OpRun VV = runOp(OpKind::MatMul, {V, V});
  REQUIRE_FALSE(VV.Error);
  checkF32(VV.Results[0], {}, {6});
  // [2, 1, 2, 3] x [3, 3, 2] -> [2, 3, 2, 2]
  OpRun BB = runOp(OpKind::MatMul, {iota({2, 1, 2, 3}), iota({3, 3, 2}, -5)});
  REQUIRE_FALSE(BB.Error);
  checkF32(BB.Results[0], {2, 3, 2, 2},
           {-5,  -2,  -32, -20, 13, 16, 40, 52,  31,  34,  112, 124,
            -59, -38, -86, -56, 67, 88, 94, 124, 193, 214, 274, 304});
  CHECK(macsOf(OpKind::MatMul, {TensorType(DType::F32, {2, 1, 2, 3}),
                                TensorType(DType::F32, {3, 3, 2})}) ==
        2 * 3 * 2 * 2 * 3);
  CHECK(macsOf(OpKind::MatMul, {TensorType(DType::F32, {3}),
                                TensorType(DType::F32, {3})}) == 3);
}

TEST_CASE("MatMul rejects mismatched dims and integer operands", "[ops][nn]") {
  checkError(OpKind::MatMul, {iota({2, 3}), iota({4, 2})}, {},
             "inner dims do not match: A [2, 3] has K = 3 but B [4, 2] has "
             "K = 4");
  checkError(OpKind::MatMul, {iota({2, 2, 3}), iota({3, 3, 2})}, {},
             "batch dims [2] of A [2, 2, 3] and [3] of B [3, 3, 2] cannot be "
             "broadcast");
  checkError(OpKind::MatMul, {f32({}, {1}), iota({1})}, {},
             "operands must have rank 1 or more, got A [] and B [1]");
  checkError(OpKind::MatMul, {i64({1, 1}, {1}), i64({1, 1}, {1})}, {},
             "element type i64 is not supported; expected f32 or f64");
}

//===----------------------------------------------------------------------===//
// BatchNormalization and LayerNormalization
//===----------------------------------------------------------------------===//

TEST_CASE("BatchNormalization in inference mode", "[ops][nn]") {
  // N = 2, C = 2, D = 2: y = s (x - mean) / sqrt(var + 1e-5) + b
  Tensor X = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  OpRun R = runOp(OpKind::BatchNormalization,
                  {X, f32({2}, {1, 2}), f32({2}, {0, 1}), f32({2}, {2, 5}),
                   f32({2}, {4, 0.25f})},
                  attrs({{"momentum", 0.9f}}));
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 2, 2},
           {-0.49999938f, 0, -6.99984f, -2.99992f, 1.49999813f, 1.9999975f,
            8.99984f, 12.99976001f});
}

TEST_CASE("BatchNormalization rejects training mode and bad parameters",
          "[ops][nn]") {
  Tensor X = iota({1, 2, 2});
  Tensor P = ones({2});
  checkError(OpKind::BatchNormalization, {X, P, P, P, P},
             attrs({{"training_mode", int64_t(1)}}),
             "training-mode BatchNormalization is not supported; export the "
             "model in eval mode");
  checkError(OpKind::BatchNormalization, {X, P, P, ones({3}), P}, {},
             "input_mean [3] must have shape [2], one value per channel of X "
             "[1, 2, 2]");
  checkError(OpKind::BatchNormalization, {X, P, P, P, P},
             attrs({{"epsilon", -1.0f}}),
             "epsilon must be finite and non-negative, got -1");
  // Running-statistics results also mean training mode (opsets 9 to 13).
  checkError(OpKind::BatchNormalization, {X, P, P, P, P}, {},
             "training-mode BatchNormalization is not supported; export the "
             "model in eval mode",
             3);
}

TEST_CASE("LayerNormalization over the last axis with statistics",
          "[ops][nn]") {
  Tensor X = f32({2, 3}, {1, 2, 3, 2, 4, 9});
  OpRun R = runOp(OpKind::LayerNormalization,
                  {X, f32({3}, {1, 0.5f, 2}), f32({3}, {0, 1, -1})}, {}, 3);
  REQUIRE_FALSE(R.Error);
  checkF32(
      R.Results[0], {2, 3},
      {-1.22473569f, 1, 1.44947137f, -1.01904874f, 0.83015854f, 1.71746331f});
  checkF32(R.Results[1], {2, 1}, {2, 5});
  checkF32(R.Results[2], {2, 1}, {1.22473569f, 0.33968291f});
}

TEST_CASE("LayerNormalization over two axes without bias", "[ops][nn]") {
  Tensor X = f32({2, 2, 2}, {0, 1, 3, 8, -2, 5, 4, 4});
  OpRun R = runOp(OpKind::LayerNormalization, {X, f32({2, 2}, {1, 2, 3, 4})},
                  attrs({{"axis", int64_t(1)}, {"epsilon", 1e-3f}}), 2);
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 2, 2},
           {-0.9732773f, -1.29770307f, 0, 6.48851535f, -1.71306089f,
            1.62289979f, 1.35241649f, 1.80322199f});
  checkF32(R.Results[1], {2, 1, 1}, {3, 2.75f});
}

TEST_CASE("LayerNormalization rejects bad axis, scale and stash_type",
          "[ops][nn]") {
  Tensor X = iota({2, 3});
  checkError(OpKind::LayerNormalization, {X, ones({3})},
             attrs({{"axis", int64_t(2)}}),
             "axis 2 is out of range for X [2, 3] of rank 2");
  checkError(OpKind::LayerNormalization, {X, ones({2})}, {},
             "Scale [2] cannot be broadcast to the normalized dims [3] of X "
             "[2, 3]");
  checkError(OpKind::LayerNormalization, {X, ones({3}), ones({2, 3})}, {},
             "B [2, 3] cannot be broadcast to the normalized dims [3] of X "
             "[2, 3]");
  checkError(OpKind::LayerNormalization, {X, ones({3})},
             attrs({{"stash_type", int64_t(11)}}),
             "stash_type 11 is not supported; only 1 (f32 statistics) is");
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

TEST_CASE("MaxPool ceil_mode, dilations and Indices", "[ops][nn]") {
  Tensor X = iota({1, 1, 4, 4}, 1);
  // ceil((4 - 3) / 2) + 1 = 2 (the ONNX maxpool_2d_ceil case).
  OpRun C = runOp(OpKind::MaxPool, {X},
                  attrs({{"kernel_shape", Ints{3, 3}},
                         {"strides", Ints{2, 2}},
                         {"ceil_mode", int64_t(1)}}),
                  2);
  REQUIRE_FALSE(C.Error);
  checkF32(C.Results[0], {1, 1, 2, 2}, {11, 12, 15, 16});
  checkI64(C.Results[1], {1, 1, 2, 2}, {10, 11, 14, 15});
  OpRun D =
      runOp(OpKind::MaxPool, {X},
            attrs({{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}));
  REQUIRE_FALSE(D.Error);
  checkF32(D.Results[0], {1, 1, 2, 2}, {11, 12, 15, 16});
}

TEST_CASE("MaxPool Indices in both storage orders", "[ops][nn]") {
  // The ONNX maxpool_with_argmax_2d_precomputed_strides case.
  Tensor X = iota({1, 1, 5, 5}, 1);
  AttrMap A = attrs({{"kernel_shape", Ints{2, 2}},
                     {"strides", Ints{2, 2}},
                     {"storage_order", int64_t(1)}});
  OpRun R = runOp(OpKind::MaxPool, {X}, A, 2);
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {1, 1, 2, 2}, {7, 9, 17, 19});
  checkI64(R.Results[1], {1, 1, 2, 2}, {6, 16, 8, 18});
  // N = 2, C = 2: indices count whole planes before the maximum's plane.
  Tensor Y = f32({2, 2, 2, 3}, {-4, 2, 3,  -1, 0, 2, -4, 6,  -9, 7, -8, 3,
                                -2, 4, -3, -4, 2, 1, 5,  -5, 0,  8, -9, 4});
  AttrMap K = attrs({{"kernel_shape", Ints{2, 2}}});
  OpRun Row = runOp(OpKind::MaxPool, {Y}, K, 2);
  REQUIRE_FALSE(Row.Error);
  checkF32(Row.Results[0], {2, 2, 1, 2}, {2, 3, 7, 6, 4, 4, 8, 4});
  checkI64(Row.Results[1], {2, 2, 1, 2}, {1, 2, 9, 7, 13, 13, 21, 23});
  K.set("storage_order", int64_t(1));
  OpRun Col = runOp(OpKind::MaxPool, {Y}, K, 2);
  REQUIRE_FALSE(Col.Error);
  checkI64(Col.Results[1], {2, 2, 1, 2}, {2, 4, 7, 8, 14, 14, 19, 23});
}

TEST_CASE("MaxPool SAME padding and 1-D and 3-D inputs", "[ops][nn]") {
  Tensor X = iota({1, 1, 4, 4}, 1);
  OpRun U = runOp(OpKind::MaxPool, {X},
                  attrs({{"kernel_shape", Ints{3, 3}},
                         {"strides", Ints{2, 2}},
                         {"auto_pad", std::string("SAME_UPPER")}}));
  REQUIRE_FALSE(U.Error);
  checkF32(U.Results[0], {1, 1, 2, 2}, {11, 12, 15, 16});
  OpRun L = runOp(OpKind::MaxPool, {X},
                  attrs({{"kernel_shape", Ints{3, 3}},
                         {"strides", Ints{2, 2}},
                         {"auto_pad", std::string("SAME_LOWER")}}));
  REQUIRE_FALSE(L.Error);
  checkF32(L.Results[0], {1, 1, 2, 2}, {6, 8, 14, 16});
  // 1-D, ceil_mode: ceil((3 + 2 - 2) / 2) + 1 = 3, but the third window
  // would start in the end padding and is dropped (as in PyTorch).
  OpRun One = runOp(OpKind::MaxPool, {f32({1, 1, 3}, {3, -1, 2})},
                    attrs({{"kernel_shape", Ints{2}},
                           {"strides", Ints{2}},
                           {"pads", Ints{1, 1}},
                           {"ceil_mode", int64_t(1)}}),
                    2);
  REQUIRE_FALSE(One.Error);
  checkF32(One.Results[0], {1, 1, 2}, {3, 2});
  checkI64(One.Results[1], {1, 1, 2}, {0, 2});
  Tensor X3 = f32({1, 2, 2, 3, 3},
                  {-20, -17, -17, 19, -11, -1, 1,  16, 3, -14, 4,   4,
                   -8,  -19, 18,  19, 3,   4,  -3, 17, 5, -7,  -12, -11,
                   0,   -4,  -15, -5, -20, -2, 15, 4,  9, -1,  -1,  -6});
  OpRun Three =
      runOp(OpKind::MaxPool, {X3}, attrs({{"kernel_shape", Ints{2, 2, 2}}}), 2);
  REQUIRE_FALSE(Three.Error);
  checkF32(Three.Results[0], {1, 2, 1, 2, 2}, {19, 18, 19, 18, 17, 17, 15, 9});
  checkI64(Three.Results[1], {1, 2, 1, 2, 2}, {3, 14, 3, 14, 19, 19, 30, 32});
}

TEST_CASE("MaxPool propagates NaN", "[ops][nn]") {
  float NaN = std::numeric_limits<float>::quiet_NaN();
  OpRun R = runOp(OpKind::MaxPool, {f32({1, 1, 4}, {1, NaN, 3, 2})},
                  attrs({{"kernel_shape", Ints{2}}}), 2);
  REQUIRE_FALSE(R.Error);
  auto Y = R.Results[0].data<float>();
  REQUIRE(Y.size() == 3);
  CHECK(std::isnan(Y[0]));
  CHECK(std::isnan(Y[1]));
  CHECK(Y[2] == 3);
  checkI64(R.Results[1], {1, 1, 3}, {1, 1, 2});
}

TEST_CASE("AveragePool padding with and without count_include_pad",
          "[ops][nn]") {
  Tensor X = iota({1, 1, 4, 4}, 1);
  AttrMap A = attrs({{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}});
  OpRun Excl = runOp(OpKind::AveragePool, {X}, A);
  REQUIRE_FALSE(Excl.Error);
  checkF32(Excl.Results[0], {1, 1, 4, 4},
           {3.5f, 4, 5, 5.5f, 5.5f, 6, 7, 7.5f, 9.5f, 10, 11, 11.5f, 11.5f, 12,
            13, 13.5f});
  A.set("count_include_pad", int64_t(1));
  OpRun Incl = runOp(OpKind::AveragePool, {X}, A);
  REQUIRE_FALSE(Incl.Error);
  checkF32(Incl.Results[0], {1, 1, 4, 4},
           {1.5555556f, 2.6666667f, 3.3333333f, 2.4444444f, 3.6666667f, 6, 7, 5,
            6.3333333f, 10, 11, 7.6666667f, 5.1111111f, 8, 8.6666667f, 6});
  // SAME_UPPER pads count as padding too.
  AttrMap S = attrs({{"kernel_shape", Ints{3, 3}},
                     {"strides", Ints{2, 2}},
                     {"auto_pad", std::string("SAME_UPPER")}});
  OpRun SameExcl = runOp(OpKind::AveragePool, {X}, S);
  REQUIRE_FALSE(SameExcl.Error);
  checkF32(SameExcl.Results[0], {1, 1, 2, 2}, {6, 7.5f, 12, 13.5f});
  S.set("count_include_pad", int64_t(1));
  OpRun SameIncl = runOp(OpKind::AveragePool, {X}, S);
  REQUIRE_FALSE(SameIncl.Error);
  checkF32(SameIncl.Results[0], {1, 1, 2, 2}, {6, 5, 8, 6});
}

TEST_CASE("AveragePool ceil_mode does not count the overhang", "[ops][nn]") {
  // The ONNX averagepool_2d_ceil case.
  OpRun R = runOp(OpKind::AveragePool, {iota({1, 1, 4, 4}, 1)},
                  attrs({{"kernel_shape", Ints{3, 3}},
                         {"strides", Ints{2, 2}},
                         {"ceil_mode", int64_t(1)}}));
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {1, 1, 2, 2}, {6, 7.5f, 12, 13.5f});
  // 1-D: the last window [5, 8) covers x[5], the end pad and one position
  // past it; count_include_pad counts x[5] and the pad only (as PyTorch).
  AttrMap A = attrs({{"kernel_shape", Ints{3}},
                     {"strides", Ints{2}},
                     {"pads", Ints{1, 1}},
                     {"ceil_mode", int64_t(1)}});
  Tensor X = f32({1, 1, 6}, {1, 2, 3, 4, 5, 6});
  OpRun Excl = runOp(OpKind::AveragePool, {X}, A);
  REQUIRE_FALSE(Excl.Error);
  checkF32(Excl.Results[0], {1, 1, 4}, {1.5f, 3, 5, 6});
  A.set("count_include_pad", int64_t(1));
  OpRun Incl = runOp(OpKind::AveragePool, {X}, A);
  REQUIRE_FALSE(Incl.Error);
  checkF32(Incl.Results[0], {1, 1, 4}, {1, 3, 5, 3});
}

TEST_CASE("AveragePool 3-D with per-dim strides", "[ops][nn]") {
  Tensor X3 = f32({1, 2, 2, 3, 3},
                  {-20, -17, -17, 19, -11, -1, 1,  16, 3, -14, 4,   4,
                   -8,  -19, 18,  19, 3,   4,  -3, 17, 5, -7,  -12, -11,
                   0,   -4,  -15, -5, -20, -2, 15, 4,  9, -1,  -1,  -6});
  OpRun R = runOp(
      OpKind::AveragePool, {X3},
      attrs({{"kernel_shape", Ints{1, 2, 2}}, {"strides", Ints{1, 1, 2}}}));
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {1, 2, 2, 2, 1},
           {-7.25f, 6.25f, -9.25f, -1.25f, -1.25f, -5.75f, -1.5f, 4.25f});
}

TEST_CASE("GlobalAveragePool averages each plane", "[ops][nn]") {
  Tensor Y = f32({2, 2, 2, 3}, {-4, 2, 3,  -1, 0, 2, -4, 6,  -9, 7, -8, 3,
                                -2, 4, -3, -4, 2, 1, 5,  -5, 0,  8, -9, 4});
  OpRun R = runOp(OpKind::GlobalAveragePool, {Y});
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 2, 1, 1}, {1.0f / 3, -5.0f / 6, -1.0f / 3, 0.5f});
  OpRun One = runOp(OpKind::GlobalAveragePool, {f32({1, 1, 4}, {1, 2, 3, 6})});
  REQUIRE_FALSE(One.Error);
  checkF32(One.Results[0], {1, 1, 1}, {3});
  checkError(OpKind::GlobalAveragePool, {iota({2, 3})}, {},
             "input X [2, 3] must have rank 3 or more ([N, C, D1, ...])");
}

TEST_CASE("pooling rejects bad attributes", "[ops][nn]") {
  Tensor X = iota({1, 1, 4, 4});
  checkError(OpKind::MaxPool, {X}, {},
             "required attribute 'kernel_shape' is missing");
  checkError(OpKind::MaxPool, {X}, attrs({{"kernel_shape", Ints{2}}}),
             "kernel_shape [2] must have 2 values, one per spatial dim");
  checkError(OpKind::AveragePool, {X}, attrs({{"kernel_shape", Ints{2, 0}}}),
             "kernel_shape [2, 0] must be positive");
  checkError(OpKind::AveragePool, {X},
             attrs({{"kernel_shape", Ints{2, 2}}, {"pads", Ints{0, -1, 0, 0}}}),
             "pads [0, -1, 0, 0] must be non-negative");
  checkError(OpKind::MaxPool, {X},
             attrs({{"kernel_shape", Ints{2, 2}}, {"ceil_mode", int64_t(2)}}),
             "ceil_mode must be 0 or 1, got 2");
  checkError(
      OpKind::MaxPool, {X},
      attrs({{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t(3)}}),
      "storage_order must be 0 or 1, got 3");
  checkError(
      OpKind::AveragePool, {X},
      attrs({{"kernel_shape", Ints{2, 2}}, {"count_include_pad", int64_t(-1)}}),
      "count_include_pad must be 0 or 1, got -1");
  checkError(OpKind::AveragePool, {X},
             attrs({{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}),
             "unknown attribute 'dilations'");
  checkError(OpKind::MaxPool, {X}, attrs({{"kernel_shape", Ints{5, 5}}}),
             "the dilated kernel extent 5 is larger than the padded input size "
             "4 along spatial dim 0");
  checkError(OpKind::AveragePool, {X}, attrs({{"kernel_shape", Ints{2, 2}}}),
             "expects 1 result, got 2", 2);
}

//===----------------------------------------------------------------------===//
// Softmax and LogSoftmax
//===----------------------------------------------------------------------===//

TEST_CASE("Softmax and LogSoftmax along an axis", "[ops][nn]") {
  Tensor X = f32({2, 3}, {1, 2, 3, -1, 0, 4});
  OpRun S = runOp(OpKind::Softmax, {X});
  REQUIRE_FALSE(S.Error);
  checkF32(S.Results[0], {2, 3},
           {0.09003057f, 0.24472847f, 0.66524096f, 0.00657326f, 0.01786798f,
            0.97555875f});
  OpRun S0 = runOp(OpKind::Softmax, {X}, attrs({{"axis", int64_t(0)}}));
  REQUIRE_FALSE(S0.Error);
  checkF32(S0.Results[0], {2, 3},
           {0.88079708f, 0.88079708f, 0.26894142f, 0.11920292f, 0.11920292f,
            0.73105858f});
  OpRun L = runOp(OpKind::LogSoftmax, {X});
  REQUIRE_FALSE(L.Error);
  checkF32(L.Results[0], {2, 3},
           {-2.40760596f, -1.40760596f, -0.40760596f, -5.02474489f,
            -4.02474489f, -0.02474489f});
  // A middle axis of a 3-D tensor.
  Tensor X3 = iota({2, 3, 2}, 0, 0.25f);
  OpRun S3 = runOp(OpKind::Softmax, {X3}, attrs({{"axis", int64_t(1)}}));
  REQUIRE_FALSE(S3.Error);
  checkF32(S3.Results[0], {2, 3, 2},
           {0.18632372f, 0.18632372f, 0.30719589f, 0.30719589f, 0.50648039f,
            0.50648039f, 0.18632372f, 0.18632372f, 0.30719589f, 0.30719589f,
            0.50648039f, 0.50648039f});
  OpRun L3 = runOp(OpKind::LogSoftmax, {X3}, attrs({{"axis", int64_t(-2)}}));
  REQUIRE_FALSE(L3.Error);
  checkF32(L3.Results[0], {2, 3, 2},
           {-1.68026967f, -1.68026967f, -1.18026967f, -1.18026967f,
            -0.68026967f, -0.68026967f, -1.68026967f, -1.68026967f,
            -1.18026967f, -1.18026967f, -0.68026967f, -0.68026967f});
}

TEST_CASE("Softmax is stable for large inputs and runs in f64", "[ops][nn]") {
  Tensor Big = f32({3}, {1000, 1001, 1002});
  checkF32(runOp(OpKind::Softmax, {Big}).Results[0], {3},
           {0.09003057f, 0.24472847f, 0.66524096f});
  checkF32(runOp(OpKind::LogSoftmax, {Big}).Results[0], {3},
           {-2.40760596f, -1.40760596f, -0.40760596f});
  OpRun D = runOp(OpKind::LogSoftmax, {f64({2}, {0, std::log(3.0)})});
  REQUIRE_FALSE(D.Error);
  auto Y = D.Results[0].data<double>();
  CHECK(Y[0] == Approx(-std::log(4.0)));
  CHECK(Y[1] == Approx(std::log(0.75)));
}

TEST_CASE("Softmax rejects a bad axis and integer inputs", "[ops][nn]") {
  checkError(OpKind::Softmax, {iota({2, 3})}, attrs({{"axis", int64_t(2)}}),
             "axis 2 is out of range for input [2, 3] of rank 2");
  checkError(OpKind::LogSoftmax, {iota({2, 3})}, attrs({{"axis", int64_t(-3)}}),
             "axis -3 is out of range for input [2, 3] of rank 2");
  checkError(OpKind::Softmax, {i32({2}, {1, 2})}, {},
             "element type i32 is not supported; expected f32 or f64");
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

TEST_CASE("Dropout in eval mode is the identity with an all-true mask",
          "[ops][nn]") {
  Tensor X = f32({2, 2}, {1, -2, 3.5f, 0});
  OpRun R = runOp(OpKind::Dropout, {X}, attrs({{"seed", int64_t(7)}}), 2);
  REQUIRE_FALSE(R.Error);
  checkF32(R.Results[0], {2, 2}, {1, -2, 3.5f, 0});
  REQUIRE(R.Results[1].dtype() == DType::Bool);
  REQUIRE(R.Results[1].shape() == Shape{2, 2});
  for (bool M : R.Results[1].data<bool>())
    CHECK(M);
  checkError(OpKind::Dropout, {i64({1}, {1})}, {},
             "element type i64 is not supported; expected f32 or f64");
  checkError(OpKind::Dropout, {X, f32({}, {0.5f})}, {},
             "expects 1 input, got 2");
}

//===----------------------------------------------------------------------===//
// SoftmaxCrossEntropyLoss
//===----------------------------------------------------------------------===//

TEST_CASE("SoftmaxCrossEntropyLoss reductions and log_prob", "[ops][nn]") {
  Tensor X = f32({3, 4}, {1, 2, 3, 0.5f, 0, -1, 2, 1, 3, 3, 0, -2});
  Tensor L = i64({3}, {2, 0, 1});
  OpRun None = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L},
                     attrs({{"reduction", std::string("none")}}));
  REQUIRE_FALSE(None.Error);
  checkF32(None.Results[0], {3}, {0.4607735f, 2.4401896f, 0.72101766f});
  OpRun Sum = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L},
                    attrs({{"reduction", std::string("sum")}}));
  REQUIRE_FALSE(Sum.Error);
  checkF32(Sum.Results[0], {}, {3.62198067f});
  OpRun Mean = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L}, {}, 2);
  REQUIRE_FALSE(Mean.Error);
  checkF32(Mean.Results[0], {}, {1.20732689f});
  checkF32(Mean.Results[1], {3, 4},
           {-2.46077349f, -1.46077349f, -0.46077349f, -2.96077349f, -2.4401897f,
            -3.4401897f, -0.4401897f, -1.4401897f, -0.72101767f, -0.72101767f,
            -3.72101767f, -5.72101767f});
}

TEST_CASE("SoftmaxCrossEntropyLoss weights and ignore_index", "[ops][nn]") {
  Tensor X = f32({3, 4}, {1, 2, 3, 0.5f, 0, -1, 2, 1, 3, 3, 0, -2});
  Tensor L = i32({3}, {2, 0, 1});
  Tensor W = f32({4}, {0.5f, 1, 2, 1.5f});
  // Weighted mean divides by sum of the weights of the labels: 2 + 0.5 + 1.
  OpRun Mean = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L, W});
  REQUIRE_FALSE(Mean.Error);
  checkF32(Mean.Results[0], {}, {0.8179027f});
  OpRun None = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L, W},
                     attrs({{"reduction", std::string("none")}}));
  REQUIRE_FALSE(None.Error);
  checkF32(None.Results[0], {3}, {0.921547f, 1.2200948f, 0.72101766f});
  // Ignoring label 0: unweighted mean over the other two positions.
  AttrMap Ignore0 = attrs({{"ignore_index", int64_t(0)}});
  OpRun Ign = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L}, Ignore0);
  REQUIRE_FALSE(Ign.Error);
  checkF32(Ign.Results[0], {}, {0.59089559f});
  OpRun IgnW = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L, W}, Ignore0);
  REQUIRE_FALSE(IgnW.Error);
  checkF32(IgnW.Results[0], {}, {0.54752153f});
}

TEST_CASE("SoftmaxCrossEntropyLoss over extra dims with an ignored label",
          "[ops][nn]") {
  // scores [N = 2, C = 3, d = 2], labels [2, 2]; -5 is ignore_index.
  Tensor X = f32({2, 3, 2}, {1, 0, 2, 1, 0, 3, 0.5f, -1, 0.5f, 2, 1, 0});
  Tensor L = i64({2, 2}, {0, 2, 1, -5});
  AttrMap A = attrs(
      {{"ignore_index", int64_t(-5)}, {"reduction", std::string("none")}});
  OpRun None = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L}, A);
  REQUIRE_FALSE(None.Error);
  checkF32(None.Results[0], {2, 2}, {1.40760601f, 0.16984601f, 1.29437673f, 0});
  A.set("reduction", std::string("mean"));
  OpRun Mean = runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L}, A);
  REQUIRE_FALSE(Mean.Error);
  checkF32(Mean.Results[0], {}, {0.95727628f});
  OpRun MeanW =
      runOp(OpKind::SoftmaxCrossEntropyLoss, {X, L, f32({3}, {1, 2, 3})}, A);
  REQUIRE_FALSE(MeanW.Error);
  checkF32(MeanW.Results[0], {}, {0.75098294f});
}

TEST_CASE("SoftmaxCrossEntropyLoss rejects bad labels and attributes",
          "[ops][nn]") {
  Tensor X = iota({2, 3});
  checkError(OpKind::SoftmaxCrossEntropyLoss, {X, i64({2}, {0, 3})}, {},
             "label 3 at flat index 1 is out of range [0, 3) and is not "
             "ignore_index");
  checkError(OpKind::SoftmaxCrossEntropyLoss, {X, i64({2}, {-1, 0})},
             attrs({{"ignore_index", int64_t(-100)}}),
             "label -1 at flat index 0 is out of range [0, 3) and is not "
             "ignore_index");
  checkError(OpKind::SoftmaxCrossEntropyLoss, {X, i64({3}, {0, 1, 2})}, {},
             "labels [3] must have shape [2] ([N, d1, ...] of scores [2, 3])");
  checkError(OpKind::SoftmaxCrossEntropyLoss, {X, f32({2}, {0, 1})}, {},
             "labels must be i32 or i64, got f32");
  checkError(OpKind::SoftmaxCrossEntropyLoss, {X, i64({2}, {0, 1}), ones({2})},
             {}, "weights [2] must have shape [3], one value per class");
  checkError(OpKind::SoftmaxCrossEntropyLoss, {X, i64({2}, {0, 1})},
             attrs({{"reduction", std::string("avg")}}),
             "reduction must be \"mean\", \"none\" or \"sum\", got \"avg\"");
  checkError(OpKind::SoftmaxCrossEntropyLoss, {iota({3}), i64({}, {0})}, {},
             "scores [3] must have rank 2 or more ([N, C] or [N, C, d1, ...])");
}
