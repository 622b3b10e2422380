//===- TensorOpsTest.cpp - Data movement, reduction and cast ops ----------===//
//
// Hand-checked type rules and kernel values of Reshape, Flatten, Squeeze,
// Unsqueeze, Expand, Transpose, Concat, Slice, Pad, Gather, Shape, the
// reductions and Cast, with the exact message of each rejected node. Hostile
// attribute values (INT64_MIN/INT64_MAX, huge dims, repeated axes) must give
// a diagnostic, never a crash or an overflow.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <cmath>
#include <limits>

using namespace mote;
using namespace mote::test;

namespace {

constexpr int64_t I64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t I64Max = std::numeric_limits<int64_t>::max();
const float Inf = std::numeric_limits<float>::infinity();
const float NaN = std::numeric_limits<float>::quiet_NaN();

/// Tensor of element type T holding \p V converted (bool: odd = true).
template <class T> Tensor make(Shape Dims, const std::vector<int> &V) {
  std::vector<T> Elems;
  for (int X : V) {
    if constexpr (std::is_same_v<T, bool>)
      Elems.push_back(X % 2 != 0);
    else
      Elems.push_back(T(X));
  }
  return Tensor::fromVector<T>(std::move(Elems), std::move(Dims));
}

/// The elements of \p T as a vector.
template <class T> std::vector<T> values(const Tensor &X) {
  auto D = X.data<T>();
  return std::vector<T>(D.begin(), D.end());
}


using Ints = std::vector<int64_t>;

/// Runs \p Op and checks that it fails with exactly \p Message.
void checkError(OpKind Op, std::vector<std::optional<Tensor>> Inputs, AttrMap A,
                const std::string &Message) {
  OpRun R = runOp(Op, std::move(Inputs), std::move(A));
  REQUIRE(R.Error);
  CHECK(R.Error->Message == Message);
}

/// Runs \p Op, which must succeed, and returns its one result.
Tensor runOk(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
             AttrMap A = {}) {
  OpRun R = runOp(Op, std::move(Inputs), std::move(A));
  if (R.Error)
    FAIL(R.Error->Message);
  REQUIRE(R.Results.size() == 1);
  return R.Results[0];
}

Tensor iota(Shape Dims) {
  Tensor T(TensorType(DType::F32, std::move(Dims)));
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.data<float>()[size_t(I)] = float(I);
  return T;
}

} // namespace

//===----------------------------------------------------------------------===//
// Reshape, Flatten, Squeeze, Unsqueeze
//===----------------------------------------------------------------------===//

TEST_CASE("Reshape keeps the data and takes the resolved shape",
          "[ops][tensor]") {
  Tensor Y =
      runOk(OpKind::Reshape, {iota({2, 3})}, attrs({{"shape", Ints{3, 1, 2}}}));
  checkF32(Y, {3, 1, 2}, {0, 1, 2, 3, 4, 5});
  Tensor S =
      runOk(OpKind::Reshape, {f32({1, 1}, {7})}, attrs({{"shape", Ints{}}}));
  checkF32(S, {}, {7});
  Tensor E = runOk(OpKind::Reshape, {f32({0, 3}, {})},
                   attrs({{"shape", Ints{3, 0, 5}}}));
  CHECK(E.shape() == Shape{3, 0, 5});
}

TEST_CASE("Reshape rejects placeholders and size changes", "[ops][tensor]") {
  checkError(OpKind::Reshape, {iota({2, 3})}, attrs({{"shape", Ints{4, 2}}}),
             "cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)");
  checkError(OpKind::Reshape, {iota({2, 3})}, attrs({{"shape", Ints{-1, 3}}}),
             "shape [-1, 3] has a negative dim; the IR needs the fully "
             "resolved shape");
  checkError(OpKind::Reshape, {iota({2, 3})},
             attrs({{"shape", Ints{int64_t(1) << 40, int64_t(1) << 40}}}),
             "shape [1099511627776, 1099511627776] is too large");
  checkError(OpKind::Reshape, {iota({2, 3})}, {},
             "required attribute 'shape' is missing");
}

TEST_CASE("Flatten splits the dims at axis", "[ops][tensor]") {
  Tensor X = iota({2, 3, 4});
  CHECK(runOk(OpKind::Flatten, {X}).shape() == Shape{2, 12});
  CHECK(runOk(OpKind::Flatten, {X}, attrs({{"axis", int64_t(0)}})).shape() ==
        Shape{1, 24});
  CHECK(runOk(OpKind::Flatten, {X}, attrs({{"axis", int64_t(3)}})).shape() ==
        Shape{24, 1});
  Tensor Y = runOk(OpKind::Flatten, {X}, attrs({{"axis", int64_t(-1)}}));
  REQUIRE(Y.shape() == Shape{6, 4});
  CHECK(Y.data<float>()[23] == 23);
  CHECK(runOk(OpKind::Flatten, {f32({}, {5})}, attrs({{"axis", int64_t(0)}}))
            .shape() == Shape{1, 1});
  checkError(OpKind::Flatten, {X}, attrs({{"axis", int64_t(4)}}),
             "axis 4 is out of range [-3, 3] for rank 3");
  checkError(OpKind::Flatten, {X}, attrs({{"axis", I64Min}}),
             "axis -9223372036854775808 is out of range [-3, 3] for rank 3");
}

TEST_CASE("Squeeze removes 1-dims", "[ops][tensor]") {
  Tensor X = iota({1, 3, 1, 2});
  Tensor All = runOk(OpKind::Squeeze, {X});
  checkF32(All, {3, 2}, {0, 1, 2, 3, 4, 5});
  CHECK(runOk(OpKind::Squeeze, {X}, attrs({{"axes", Ints{-2}}})).shape() ==
        Shape{1, 3, 2});
  CHECK(runOk(OpKind::Squeeze, {X}, attrs({{"axes", Ints{2, 0}}})).shape() ==
        Shape{3, 2});
  CHECK(runOk(OpKind::Squeeze, {X}, attrs({{"axes", Ints{}}})).shape() ==
        Shape{3, 2});
  checkError(OpKind::Squeeze, {X}, attrs({{"axes", Ints{1}}}),
             "cannot squeeze axis 1 of [1, 3, 1, 2]: its size is 3, not 1");
  checkError(OpKind::Squeeze, {X}, attrs({{"axes", Ints{0, -4}}}),
             "axes [0, -4] names axis 0 more than once");
  checkError(OpKind::Squeeze, {X}, attrs({{"axes", Ints{I64Min}}}),
             "axes [-9223372036854775808] contains axis "
             "-9223372036854775808, which is out of range for rank 4");
}

TEST_CASE("Unsqueeze inserts 1-dims at result indices", "[ops][tensor]") {
  Tensor X = make<int8_t>({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor Y = runOk(OpKind::Unsqueeze, {X}, attrs({{"axes", Ints{0, 3}}}));
  CHECK(Y.shape() == Shape{1, 3, 4, 1});
  CHECK(values<int8_t>(Y) == values<int8_t>(X));
  CHECK(runOk(OpKind::Unsqueeze, {X}, attrs({{"axes", Ints{-1}}})).shape() ==
        Shape{3, 4, 1});
  CHECK(runOk(OpKind::Unsqueeze, {X}, attrs({{"axes", Ints{2, 0}}})).shape() ==
        Shape{1, 3, 1, 4});
  CHECK(runOk(OpKind::Unsqueeze, {f32({}, {1})}, attrs({{"axes", Ints{0}}}))
            .shape() == Shape{1});
  checkError(OpKind::Unsqueeze, {X}, attrs({{"axes", Ints{3}}}),
             "axes [3] contains axis 3, which is out of range for rank 3");
  checkError(OpKind::Unsqueeze, {X}, attrs({{"axes", Ints{0, -4}}}),
             "axes [0, -4] names axis 0 more than once");
  checkError(OpKind::Unsqueeze, {X}, {},
             "required attribute 'axes' is missing");
}

//===----------------------------------------------------------------------===//
// Expand, Transpose, Concat
//===----------------------------------------------------------------------===//

TEST_CASE("Expand broadcasts against the shape", "[ops][tensor]") {
  Tensor Col = f32({2, 1}, {1, 2});
  checkF32(runOk(OpKind::Expand, {Col}, attrs({{"shape", Ints{2, 3}}})), {2, 3},
           {1, 1, 1, 2, 2, 2});
  // The result can be larger than `shape` in rank and in dims.
  checkF32(runOk(OpKind::Expand, {Col}, attrs({{"shape", Ints{1}}})), {2, 1},
           {1, 2});
  checkF32(runOk(OpKind::Expand, {f32({1, 2}, {5, 6})},
                 attrs({{"shape", Ints{3, 1, 1}}})),
           {3, 1, 2}, {5, 6, 5, 6, 5, 6});
  CHECK(
      runOk(OpKind::Expand, {Col}, attrs({{"shape", Ints{0, 2, 1}}})).shape() ==
      Shape{0, 2, 1});
  checkError(OpKind::Expand, {iota({2, 3})}, attrs({{"shape", Ints{4}}}),
             "cannot expand [2, 3] to shape [4]: dims must be equal or 1");
  checkError(OpKind::Expand, {Col}, attrs({{"shape", Ints{-1}}}),
             "shape [-1] has a negative dim");
  checkError(OpKind::Expand, {Col},
             attrs({{"shape", Ints{int64_t(1) << 40, 1, 1}}}),
             "result type f32[1099511627776,2,1] is invalid: a negative dim "
             "or a size over 1 TiB");
}

TEST_CASE("Transpose permutes the dims", "[ops][tensor]") {
  checkF32(runOk(OpKind::Transpose, {iota({2, 3})}), {3, 2},
           {0, 3, 1, 4, 2, 5});
  // y[j, 0, i] = x[0, i, j] = 3i + j.
  checkF32(runOk(OpKind::Transpose, {iota({1, 2, 3})},
                 attrs({{"perm", Ints{2, 0, 1}}})),
           {3, 1, 2}, {0, 3, 1, 4, 2, 5});
  // Default perm on rank 3 reverses: y[k, j, i] = x[i, j, k] = 6i + 3j + k.
  checkF32(runOk(OpKind::Transpose, {iota({2, 2, 3})}), {3, 2, 2},
           {0, 6, 3, 9, 1, 7, 4, 10, 2, 8, 5, 11});
  checkF32(runOk(OpKind::Transpose, {f32({}, {4})}), {}, {4});
  checkError(OpKind::Transpose, {iota({2, 3})}, attrs({{"perm", Ints{0, 0}}}),
             "perm [0, 0] is not a permutation of 0..1");
  checkError(OpKind::Transpose, {iota({2, 3})}, attrs({{"perm", Ints{1}}}),
             "perm [1] is not a permutation of 0..1");
  checkError(OpKind::Transpose, {iota({2, 3})}, attrs({{"perm", Ints{-1, 0}}}),
             "perm [-1, 0] is not a permutation of 0..1");
  checkError(OpKind::Transpose, {f32({}, {4})}, attrs({{"perm", Ints{0}}}),
             "perm [0] is not a permutation of the dims of a scalar; use []");
}

TEST_CASE("Concat joins along the axis", "[ops][tensor]") {
  Tensor A = f32({2, 1}, {1, 2});
  Tensor B = f32({2, 2}, {3, 4, 5, 6});
  checkF32(runOk(OpKind::Concat, {A, B}, attrs({{"axis", int64_t(-1)}})),
           {2, 3}, {1, 3, 4, 2, 5, 6});
  checkF32(runOk(OpKind::Concat, {B, f32({1, 2}, {7, 8}), B},
                 attrs({{"axis", int64_t(0)}})),
           {5, 2}, {3, 4, 5, 6, 7, 8, 3, 4, 5, 6});
  checkF32(runOk(OpKind::Concat, {f32({2, 0}, {}), B},
                 attrs({{"axis", int64_t(1)}})),
           {2, 2}, {3, 4, 5, 6});
  checkF32(runOk(OpKind::Concat, {A}, attrs({{"axis", int64_t(0)}})), {2, 1},
           {1, 2});
}

TEST_CASE("Concat rejects mismatched inputs", "[ops][tensor]") {
  Tensor A = f32({2, 2}, {1, 2, 3, 4});
  AttrMap Axis1 = attrs({{"axis", int64_t(1)}});
  checkError(OpKind::Concat, {A, iota({3, 2})}, Axis1,
             "input 1 has shape [3, 2], which does not match input 0 shape "
             "[2, 2] except along axis 1");
  checkError(OpKind::Concat, {A, iota({2, 2, 1})}, Axis1,
             "input 1 has shape [2, 2, 1], which does not match input 0 shape "
             "[2, 2] except along axis 1");
  checkError(OpKind::Concat, {A, i64({2, 1}, {1, 2})}, Axis1,
             "input 1 has element type i64 but input 0 has f32; insert a Cast");
  checkError(OpKind::Concat, {A, A}, attrs({{"axis", int64_t(2)}}),
             "axis 2 is out of range for rank 2");
  checkError(OpKind::Concat, {f32({}, {1}), f32({}, {2})},
             attrs({{"axis", int64_t(0)}}),
             "cannot concatenate scalars; Unsqueeze them to rank 1");
  checkError(OpKind::Concat, {A, std::nullopt}, Axis1,
             "input 1 is missing; every input of Concat is required");
  checkError(OpKind::Concat, {A}, {}, "required attribute 'axis' is missing");
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

namespace {
AttrMap sliceAttrs(Ints Starts, Ints Ends, std::optional<Ints> Axes = {},
                   std::optional<Ints> Steps = {}) {
  AttrMap M = attrs({{"starts", Starts}, {"ends", Ends}});
  if (Axes)
    M.set("axes", *Axes);
  if (Steps)
    M.set("steps", *Steps);
  return M;
}
} // namespace

TEST_CASE("Slice follows the ONNX examples", "[ops][tensor]") {
  Tensor X = f32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  checkF32(runOk(OpKind::Slice, {X},
                 sliceAttrs({1, 0}, {2, 3}, Ints{0, 1}, Ints{1, 2})),
           {1, 2}, {5, 7});
  checkF32(runOk(OpKind::Slice, {X}, sliceAttrs({0, 1}, {-1, 1000})), {1, 3},
           {2, 3, 4});
  checkF32(runOk(OpKind::Slice, {X}, sliceAttrs({1}, {3}, Ints{-1})), {2, 2},
           {2, 3, 6, 7});
  // Steps and axes both given, axes out of order.
  checkF32(runOk(OpKind::Slice, {X},
                 sliceAttrs({3, 1}, {0, 2}, Ints{1, 0}, Ints{-2, 1})),
           {1, 2}, {8, 6});
}

TEST_CASE("Slice clamps starts and ends like ONNX", "[ops][tensor]") {
  Tensor X = f32({5}, {0, 1, 2, 3, 4});
  auto SliceOf = [&](Ints Starts, Ints Ends, Ints Steps) {
    return runOk(OpKind::Slice, {X},
                 sliceAttrs(std::move(Starts), std::move(Ends), std::nullopt,
                            std::move(Steps)));
  };
  checkF32(SliceOf({4}, {0}, {-2}), {2}, {4, 2});
  checkF32(SliceOf({-1}, {I64Min}, {-1}), {5}, {4, 3, 2, 1, 0});
  checkF32(SliceOf({100}, {-100}, {-1}), {5}, {4, 3, 2, 1, 0});
  checkF32(SliceOf({1}, {I64Max}, {1}), {4}, {1, 2, 3, 4});
  checkF32(SliceOf({I64Min}, {2}, {1}), {2}, {0, 1});
  // The spec clamps a start before the axis to 0 for negative steps (numpy
  // would give an empty slice); onnx shape inference agrees.
  checkF32(SliceOf({-100}, {-100}, {-1}), {1}, {0});
  checkF32(SliceOf({1000}, {1000}, {1}), {0}, {});
  checkF32(SliceOf({3}, {1}, {1}), {0}, {});
  checkF32(SliceOf({1}, {3}, {-1}), {0}, {});
  // Huge steps take one element and never overflow.
  checkF32(SliceOf({4}, {I64Min}, {I64Min}), {1}, {4});
  checkF32(SliceOf({0}, {I64Max}, {I64Max}), {1}, {0});
  checkF32(SliceOf({I64Max}, {I64Min}, {I64Min}), {1}, {4});
  // Negative steps over an empty dim.
  CHECK(runOk(OpKind::Slice, {f32({0}, {})},
              sliceAttrs({-1}, {I64Min}, std::nullopt, Ints{-1}))
            .shape() == Shape{0});
}

TEST_CASE("Slice rejects malformed attributes", "[ops][tensor]") {
  Tensor X = iota({2, 4});
  checkError(OpKind::Slice, {X}, sliceAttrs({0}, {1}, std::nullopt, Ints{0}),
             "steps [0] has a 0 step for axis 0");
  checkError(OpKind::Slice, {X}, sliceAttrs({0, 0}, {1}),
             "starts has 2 entries but ends has 1");
  checkError(OpKind::Slice, {X}, sliceAttrs({0}, {1}, Ints{0, 1}),
             "axes has 2 entries but starts has 1");
  checkError(OpKind::Slice, {X}, sliceAttrs({0}, {1}, std::nullopt, Ints{1, 1}),
             "steps has 2 entries but starts has 1");
  checkError(OpKind::Slice, {X}, sliceAttrs({0, 0}, {1, 1}, Ints{0, -2}),
             "axes [0, -2] names axis 0 more than once");
  checkError(OpKind::Slice, {X}, sliceAttrs({0}, {1}, Ints{2}),
             "axes [2] contains axis 2, which is out of range for rank 2");
  checkError(OpKind::Slice, {X}, sliceAttrs({0, 0, 0}, {1, 1, 1}),
             "starts has 3 entries but the input [2, 4] has only 2 dims");
  checkError(OpKind::Slice, {X}, attrs({{"starts", Ints{0}}}),
             "required attribute 'ends' is missing");
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

namespace {
AttrMap padAttrs(Ints Pads, std::string Mode = "constant", float Value = 0) {
  return attrs({{"pads", Pads}, {"mode", Mode}, {"value", Value}});
}
} // namespace

TEST_CASE("Pad in constant mode", "[ops][tensor]") {
  Tensor X = f32({2, 2}, {1, 2, 3, 4});
  // Begins [0, 1], ends [1, 0].
  checkF32(runOk(OpKind::Pad, {X}, attrs({{"pads", Ints{0, 1, 1, 0}}})), {3, 3},
           {0, 1, 2, 0, 3, 4, 0, 0, 0});
  checkF32(runOk(OpKind::Pad, {X}, padAttrs({1, 0, 0, 1}, "constant", 9.5f)),
           {3, 3}, {9.5f, 9.5f, 9.5f, 1, 2, 9.5f, 3, 4, 9.5f});
  // Negative pads crop.
  checkF32(runOk(OpKind::Pad, {X}, padAttrs({-1, 1, 0, -1})), {1, 2}, {0, 3});
  checkF32(runOk(OpKind::Pad, {f32({3}, {1, 2, 3})}, padAttrs({-3, 1})), {1},
           {0});
  // The value is converted to the element type.
  Tensor I =
      runOk(OpKind::Pad, {i32({1}, {5})}, padAttrs({1, 1}, "constant", -2.5f));
  CHECK(values<int32_t>(I) == std::vector<int32_t>{-2, 5, -2});
  Tensor U = runOk(OpKind::Pad, {make<uint8_t>({1}, {5})},
                   padAttrs({1, 1}, "constant", -3.0f));
  CHECK(values<uint8_t>(U) == std::vector<uint8_t>{0, 5, 0});
  Tensor B = runOk(OpKind::Pad, {make<bool>({1}, {0})},
                   padAttrs({1, 0}, "constant", 2.0f));
  CHECK(values<bool>(B) == std::vector<bool>{true, false});
}

TEST_CASE("Pad in edge and reflect modes", "[ops][tensor]") {
  Tensor X = f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  checkF32(
      runOk(OpKind::Pad, {X}, padAttrs({0, 2, 0, 0}, "reflect")), {3, 4},
      {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f});
  checkF32(
      runOk(OpKind::Pad, {X}, padAttrs({0, 2, 0, 0}, "edge")), {3, 4},
      {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f});
  Tensor V = f32({3}, {1, 2, 3});
  // Pads wider than the axis keep reflecting (numpy.pad).
  checkF32(runOk(OpKind::Pad, {V}, padAttrs({5, 5}, "reflect")), {13},
           {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2});
  checkF32(runOk(OpKind::Pad, {f32({1}, {7})}, padAttrs({2, 1}, "reflect")),
           {4}, {7, 7, 7, 7});
  // Crops apply first: [1 2 3 4] cropped to [2 3 4], then padded.
  Tensor W = f32({4}, {1, 2, 3, 4});
  checkF32(runOk(OpKind::Pad, {W}, padAttrs({-1, 2}, "edge")), {5},
           {2, 3, 4, 4, 4});
  checkF32(runOk(OpKind::Pad, {W}, padAttrs({-1, 2}, "reflect")), {5},
           {2, 3, 4, 3, 2});
  // 2-D edge padding fills the corners from the corner element.
  checkF32(
      runOk(OpKind::Pad, {f32({1, 2}, {1, 2})}, padAttrs({1, 1, 0, 0}, "edge")),
      {2, 3}, {1, 1, 2, 1, 1, 2});
}

TEST_CASE("Pad rejects malformed pads and modes", "[ops][tensor]") {
  Tensor X = f32({3}, {1, 2, 3});
  checkError(OpKind::Pad, {iota({2, 2})}, padAttrs({1, 1}),
             "pads [1, 1] has 2 entries; a rank-2 input needs 4 (all begins, "
             "then all ends)");
  checkError(
      OpKind::Pad, {X}, padAttrs({1, 1}, "wrap"),
      "mode must be \"constant\", \"reflect\" or \"edge\", got \"wrap\"");
  checkError(OpKind::Pad, {X}, padAttrs({-2, -2}),
             "pads [-2, -2] crop 4 elements from axis 0, which has only 3");
  checkError(OpKind::Pad, {f32({0}, {})}, padAttrs({1, 0}, "edge"),
             "cannot pad axis 0 in edge mode: it has no elements to copy");
  checkError(OpKind::Pad, {X}, padAttrs({-3, 1}, "reflect"),
             "cannot pad axis 0 in reflect mode: it has no elements to copy");
  checkError(OpKind::Pad, {X}, padAttrs({I64Max, 0}),
             "pads [9223372036854775807, 0] has an entry of absurd size "
             "9223372036854775807");
  checkError(OpKind::Pad, {X}, padAttrs({0, I64Min}),
             "pads [0, -9223372036854775808] has an entry of absurd size "
             "-9223372036854775808");
  checkError(OpKind::Pad, {X}, padAttrs({int64_t(1) << 40, int64_t(1) << 40}),
             "result type f32[2199023255555] is invalid: a negative dim or a "
             "size over 1 TiB");
}

//===----------------------------------------------------------------------===//
// Gather, Shape
//===----------------------------------------------------------------------===//

TEST_CASE("Gather follows the ONNX examples", "[ops][tensor]") {
  Tensor Data = f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  checkF32(runOk(OpKind::Gather, {Data, i64({2, 2}, {0, 1, 1, 2})}), {2, 2, 2},
           {1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f});
  Tensor Data3 =
      f32({3, 3}, {1.0f, 1.2f, 1.9f, 2.3f, 3.4f, 3.9f, 4.5f, 5.7f, 5.9f});
  checkF32(runOk(OpKind::Gather, {Data3, i32({1, 2}, {0, 2})},
                 attrs({{"axis", int64_t(1)}})),
           {3, 1, 2}, {1.0f, 1.9f, 2.3f, 3.9f, 4.5f, 5.9f});
  // Negative indices count from the end; a scalar index drops the axis.
  checkF32(runOk(OpKind::Gather, {Data, i64({2}, {-1, -3})}), {2, 2},
           {4.5f, 5.7f, 1.0f, 1.2f});
  checkF32(runOk(OpKind::Gather, {Data, i32({}, {1})},
                 attrs({{"axis", int64_t(-2)}})),
           {2}, {2.3f, 3.4f});
  checkF32(runOk(OpKind::Gather, {Data, i64({0}, {})}), {0, 2}, {});
}

TEST_CASE("Gather reports bad indices", "[ops][tensor]") {
  Tensor Data = iota({3, 2});
  checkError(OpKind::Gather, {Data, i64({2}, {0, 3})}, {},
             "index 3 is out of range for axis 0 of size 3");
  checkError(OpKind::Gather, {Data, i32({1}, {-4})}, {},
             "index -4 is out of range for axis 0 of size 3");
  checkError(OpKind::Gather, {Data, i64({1}, {I64Min})},
             attrs({{"axis", int64_t(1)}}),
             "index -9223372036854775808 is out of range for axis 1 of size 2");
  // Checked even when the result is empty.
  checkError(OpKind::Gather, {f32({0, 2}, {}), i64({1}, {5})},
             attrs({{"axis", int64_t(1)}}),
             "index 5 is out of range for axis 1 of size 2");
  checkError(OpKind::Gather, {Data, f32({1}, {0})}, {},
             "indices must be i32 or i64, got f32");
  checkError(OpKind::Gather, {f32({}, {1}), i64({1}, {0})}, {},
             "data must have rank 1 or more, got a scalar");
  checkError(OpKind::Gather, {Data, i64({1}, {0})},
             attrs({{"axis", int64_t(2)}}),
             "axis 2 is out of range for rank 2");
}

TEST_CASE("Shape returns a clamped range of dims", "[ops][tensor]") {
  Tensor X = iota({2, 3, 4});
  auto ShapeOf = [&](AttrMap A) {
    Tensor T = runOk(OpKind::Shape, {X}, std::move(A));
    REQUIRE(T.dtype() == DType::I64);
    REQUIRE(T.shape().size() == 1);
    return values<int64_t>(T);
  };
  CHECK(ShapeOf({}) == Ints{2, 3, 4});
  CHECK(ShapeOf(attrs({{"start", int64_t(-1)}})) == Ints{4});
  CHECK(ShapeOf(attrs({{"end", int64_t(-1)}})) == Ints{2, 3});
  CHECK(ShapeOf(attrs({{"start", int64_t(1)}, {"end", int64_t(2)}})) ==
        Ints{3});
  CHECK(ShapeOf(attrs({{"start", int64_t(-10)}})) == Ints{2, 3, 4});
  CHECK(ShapeOf(attrs({{"end", int64_t(10)}})) == Ints{2, 3, 4});
  CHECK(ShapeOf(attrs({{"start", int64_t(2)}, {"end", int64_t(1)}})) == Ints{});
  CHECK(ShapeOf(attrs({{"start", I64Min}, {"end", I64Max}})) == Ints{2, 3, 4});
  CHECK(ShapeOf(attrs({{"start", I64Max}, {"end", I64Min}})) == Ints{});
  Tensor S = runOk(OpKind::Shape, {make<bool>({}, {1})});
  CHECK(S.shape() == Shape{0});
  checkError(OpKind::Shape, {X}, attrs({{"start", 1.0f}}),
             "attribute 'start' must be of type int, got float");
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

TEST_CASE("reductions over axes with and without keepdims", "[ops][tensor]") {
  Tensor X = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  checkF32(runOk(OpKind::ReduceSum, {X}, attrs({{"axes", Ints{1}}})), {2, 1},
           {6, 15});
  checkF32(runOk(OpKind::ReduceSum, {X},
                 attrs({{"axes", Ints{1}}, {"keepdims", int64_t(0)}})),
           {2}, {6, 15});
  checkF32(runOk(OpKind::ReduceSum, {X}, attrs({{"axes", Ints{0}}})), {1, 3},
           {5, 7, 9});
  checkF32(runOk(OpKind::ReduceSum, {X}), {1, 1}, {21});
  checkF32(runOk(OpKind::ReduceSum, {X}, attrs({{"keepdims", int64_t(0)}})), {},
           {21});
  checkF32(
      runOk(OpKind::ReduceSum, {X},
            attrs({{"axes", Ints{}}, {"noop_with_empty_axes", int64_t(1)}})),
      {2, 3}, {1, 2, 3, 4, 5, 6});
  checkF32(runOk(OpKind::ReduceMean, {X}, attrs({{"axes", Ints{-1}}})), {2, 1},
           {2, 5});
  checkF32(runOk(OpKind::ReduceMean, {X}, attrs({{"keepdims", int64_t(0)}})),
           {}, {3.5f});
  checkF32(runOk(OpKind::ReduceMax, {X}, attrs({{"axes", Ints{0}}})), {1, 3},
           {4, 5, 6});
  checkF32(runOk(OpKind::ReduceMax, {f32({2, 2}, {-5, -7, -9, -1})},
                 attrs({{"axes", Ints{1, 0}}, {"keepdims", int64_t(0)}})),
           {}, {-1});
  // Reducing a scalar over all (no) dims is the identity.
  checkF32(runOk(OpKind::ReduceMean, {f32({}, {4})}), {}, {4});
}

TEST_CASE("ReduceMax propagates NaN", "[ops][tensor]") {
  Tensor Y = runOk(OpKind::ReduceMax, {f32({2, 2}, {NaN, 1, 2, 3})},
                   attrs({{"axes", Ints{1}}}));
  auto D = Y.data<float>();
  CHECK(std::isnan(D[0]));
  CHECK(D[1] == 3);
}

TEST_CASE("reductions over empty axes", "[ops][tensor]") {
  Tensor X = f32({2, 0}, {});
  AttrMap Axis1 = attrs({{"axes", Ints{1}}, {"keepdims", int64_t(0)}});
  checkF32(runOk(OpKind::ReduceSum, {X}, Axis1), {2}, {0, 0});
  checkF32(runOk(OpKind::ReduceMax, {X}, Axis1), {2}, {-Inf, -Inf});
  Tensor M = runOk(OpKind::ReduceMean, {X}, Axis1);
  CHECK(std::isnan(M.data<float>()[0]));
  Tensor I = runOk(OpKind::ReduceMax, {i32({2, 0}, {})}, Axis1);
  CHECK(values<int32_t>(I) ==
        std::vector<int32_t>(2, std::numeric_limits<int32_t>::lowest()));
  checkError(OpKind::ReduceMean, {i32({2, 0}, {})}, Axis1,
             "the mean over axes of size 0 of [2, 0] is undefined for integer "
             "type i32");
  // Reducing the non-empty axis of an empty tensor gives an empty result.
  CHECK(runOk(OpKind::ReduceMean, {i32({2, 0}, {})}, attrs({{"axes", Ints{0}}}))
            .shape() == Shape{1, 0});
}

TEST_CASE("integer reductions wrap and truncate", "[ops][tensor]") {
  Tensor S = runOk(OpKind::ReduceSum, {make<int8_t>({2}, {100, 100})});
  CHECK(values<int8_t>(S) == std::vector<int8_t>{-56});
  Tensor W = runOk(OpKind::ReduceSum, {i64({2}, {I64Max, 1})});
  CHECK(values<int64_t>(W) == Ints{I64Min});
  Tensor M = runOk(OpKind::ReduceMean, {i32({2, 2}, {-7, 0, 7, 2})},
                   attrs({{"axes", Ints{1}}}));
  CHECK(values<int32_t>(M) == std::vector<int32_t>{-3, 4});
  Tensor U = runOk(OpKind::ReduceMax, {make<uint8_t>({3}, {7, 255, 0})});
  CHECK(values<uint8_t>(U) == std::vector<uint8_t>{255});
  Tensor D =
      runOk(OpKind::ReduceSum, {Tensor::fromVector<double>({0.25, 0.5}, {2})});
  CHECK(values<double>(D) == std::vector<double>{0.75});
}

TEST_CASE("reductions reject bad attributes and bool", "[ops][tensor]") {
  Tensor X = iota({2, 3});
  checkError(OpKind::ReduceSum, {make<bool>({1}, {1})}, {},
             "element type bool is not supported; insert a Cast");
  checkError(OpKind::ReduceMax, {X}, attrs({{"keepdims", int64_t(2)}}),
             "keepdims must be 0 or 1, got 2");
  checkError(OpKind::ReduceMean, {X},
             attrs({{"noop_with_empty_axes", int64_t(-1)}}),
             "noop_with_empty_axes must be 0 or 1, got -1");
  checkError(OpKind::ReduceSum, {X}, attrs({{"axes", Ints{1, -1}}}),
             "axes [1, -1] names axis 1 more than once");
  checkError(OpKind::ReduceMean, {X}, attrs({{"axes", Ints{I64Max}}}),
             "axes [9223372036854775807] contains axis 9223372036854775807, "
             "which is out of range for rank 2");
}

//===----------------------------------------------------------------------===//
// Cast
//===----------------------------------------------------------------------===//

namespace {
Tensor castTo(Tensor X, std::string To) {
  return runOk(OpKind::Cast, {std::move(X)}, attrs({{"to", To}}));
}
} // namespace

TEST_CASE("Cast from float saturates and maps NaN to 0", "[ops][tensor]") {
  Tensor X = f32({7}, {1.9f, -1.9f, NaN, Inf, -Inf, 3e9f, -3e9f});
  constexpr int32_t Lo = std::numeric_limits<int32_t>::min();
  constexpr int32_t Hi = std::numeric_limits<int32_t>::max();
  CHECK(values<int32_t>(castTo(X, "i32")) ==
        std::vector<int32_t>{1, -1, 0, Hi, Lo, Hi, Lo});
  CHECK(values<uint8_t>(castTo(f32({4}, {-1, 300, 2.5f, 255.9f}), "u8")) ==
        std::vector<uint8_t>{0, 255, 2, 255});
  CHECK(values<int8_t>(castTo(f32({2}, {-128.5f, 127.5f}), "i8")) ==
        std::vector<int8_t>{-128, 127});
  // 2^63 is one past INT64_MAX; -2^63 is INT64_MIN exactly.
  Tensor D = Tensor::fromVector<double>({1e19, -1e19, 9223372036854775808.0,
                                         -9223372036854775808.0,
                                         -9223372036854774784.0},
                                        {5});
  CHECK(values<int64_t>(castTo(D, "i64")) ==
        Ints{I64Max, I64Min, I64Max, I64Min, -9223372036854774784});
}

TEST_CASE("Cast to and from bool", "[ops][tensor]") {
  CHECK(values<bool>(castTo(f32({4}, {0, -0.0f, 0.5f, NaN}), "bool")) ==
        std::vector<bool>{false, false, true, true});
  CHECK(values<bool>(castTo(i64({3}, {0, -3, 256}), "bool")) ==
        std::vector<bool>{false, true, true});
  checkF32(castTo(make<bool>({2}, {1, 0}), "f32"), {2}, {1, 0});
  CHECK(values<int64_t>(castTo(make<bool>({2}, {0, 1}), "i64")) == Ints{0, 1});
}

TEST_CASE("Cast between integer and float types", "[ops][tensor]") {
  CHECK(values<int8_t>(castTo(i32({3}, {300, -129, -1}), "i8")) ==
        std::vector<int8_t>{44, 127, -1});
  CHECK(values<uint8_t>(castTo(make<int8_t>({1}, {-1}), "u8")) ==
        std::vector<uint8_t>{255});
  CHECK(values<double>(castTo(i64({2}, {-3, int64_t(1) << 53}), "f64")) ==
        std::vector<double>{-3, 9007199254740992.0});
  Tensor F = castTo(Tensor::fromVector<double>({1e300, 0.5}, {2}), "f32");
  CHECK(values<float>(F) == std::vector<float>{Inf, 0.5f});
  Tensor Same = castTo(f32({2, 1}, {1, 2}), "f32");
  checkF32(Same, {2, 1}, {1, 2});
}

TEST_CASE("Cast rejects unknown type names", "[ops][tensor]") {
  checkError(
      OpKind::Cast, {f32({1}, {1})}, attrs({{"to", std::string("float")}}),
      "to must be one of f32, f64, i8, u8, i32, i64, bool, got \"float\"");
  checkError(OpKind::Cast, {f32({1}, {1})}, {},
             "required attribute 'to' is missing");
  checkError(OpKind::Cast, {f32({1}, {1})}, attrs({{"to", int64_t(1)}}),
             "attribute 'to' must be of type string, got int");
}

//===----------------------------------------------------------------------===//
// Every element type
//===----------------------------------------------------------------------===//

TEMPLATE_TEST_CASE("data movement ops work for every element type",
                   "[ops][tensor]", float, double, int8_t, uint8_t, int32_t,
                   int64_t, bool) {
  using T = TestType;
  auto Check = [](const Tensor &Got, Shape Dims, std::vector<int> Want) {
    REQUIRE(Got.dtype() == DTypeOf<T>::value);
    CHECK(Got.shape() == Dims);
    CHECK(values<T>(Got) == values<T>(make<T>(Dims, Want)));
  };
  Tensor X = make<T>({2, 3}, {1, 2, 3, 4, 5, 6});
  Check(runOk(OpKind::Reshape, {X}, attrs({{"shape", Ints{3, 2}}})), {3, 2},
        {1, 2, 3, 4, 5, 6});
  Check(runOk(OpKind::Flatten, {X}, attrs({{"axis", int64_t(0)}})), {1, 6},
        {1, 2, 3, 4, 5, 6});
  Check(runOk(OpKind::Unsqueeze, {X}, attrs({{"axes", Ints{1}}})), {2, 1, 3},
        {1, 2, 3, 4, 5, 6});
  Check(runOk(OpKind::Squeeze, {make<T>({1, 2}, {1, 2})}), {2}, {1, 2});
  Check(runOk(OpKind::Transpose, {X}), {3, 2}, {1, 4, 2, 5, 3, 6});
  Check(runOk(OpKind::Expand, {make<T>({2, 1}, {1, 2})},
              attrs({{"shape", Ints{2, 2}}})),
        {2, 2}, {1, 1, 2, 2});
  Check(runOk(OpKind::Concat, {X, make<T>({2, 1}, {7, 8})},
              attrs({{"axis", int64_t(1)}})),
        {2, 4}, {1, 2, 3, 7, 4, 5, 6, 8});
  Check(runOk(OpKind::Slice, {X},
              sliceAttrs({-1, 2}, {I64Min, I64Min}, Ints{0, 1}, Ints{-1, -2})),
        {2, 2}, {6, 4, 3, 1});
  Check(runOk(OpKind::Pad, {X}, padAttrs({0, 1, 0, 1}, "constant", 1.0f)),
        {2, 5}, {1, 1, 2, 3, 1, 1, 4, 5, 6, 1});
  Check(runOk(OpKind::Pad, {X}, padAttrs({1, 0, 0, 0}, "reflect")), {3, 3},
        {4, 5, 6, 1, 2, 3, 4, 5, 6});
  Check(runOk(OpKind::Pad, {X}, padAttrs({0, 0, 0, 2}, "edge")), {2, 5},
        {1, 2, 3, 3, 3, 4, 5, 6, 6, 6});
  Check(runOk(OpKind::Gather, {X, i64({2}, {2, 0})},
              attrs({{"axis", int64_t(1)}})),
        {2, 2}, {3, 1, 6, 4});
  Tensor S = runOk(OpKind::Shape, {X});
  CHECK(values<int64_t>(S) == Ints{2, 3});
  // Cast to every type and back to f32 keeps small non-negative integers.
  std::string Name(dtypeName(DTypeOf<T>::value));
  Tensor Small = f32({3}, {0, 1, 1});
  checkF32(castTo(castTo(Small, Name), "f32"), {3}, {0, 1, 1});
}
