//===- TestUtil.h - Helpers shared by the unit tests ------------*- C++ -*-===//
//
// runOp builds a one-node graph, runs the op's type rule and its reference
// kernel, and returns the results, so an op test reads as inputs, attributes
// and hand-checked expected values.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TESTS_UNIT_TESTUTIL_H
#define MOTE_TESTS_UNIT_TESTUTIL_H

#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <vector>

namespace mote::test {

/// f32 tensor of shape \p Dims holding \p V.
inline Tensor f32(Shape Dims, std::vector<float> V) {
  return Tensor::fromVector<float>(std::move(V), std::move(Dims));
}
inline Tensor i64(Shape Dims, std::vector<int64_t> V) {
  return Tensor::fromVector<int64_t>(std::move(V), std::move(Dims));
}
inline Tensor i32(Shape Dims, std::vector<int32_t> V) {
  return Tensor::fromVector<int32_t>(std::move(V), std::move(Dims));
}

/// An attribute map from {name, value} pairs.
inline AttrMap
attrs(std::initializer_list<std::pair<std::string, AttrValue>> L) {
  AttrMap A;
  for (const auto &[K, V] : L)
    A.set(K, V);
  return A;
}

/// Result of inferring and running one op.
struct OpRun {
  std::optional<Diag> Error;     ///< set if type inference or the kernel failed
  std::vector<TensorType> Types; ///< inferred result types
  std::vector<Tensor> Results;   ///< kernel results
};

/// Runs \p Op on \p Inputs (std::nullopt = absent optional input) with
/// \p Attrs, producing \p NumResults results.
/// \p Visit, if given, sees the typed node before the graph goes away.
inline OpRun runOp(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
                   AttrMap Attrs = {}, size_t NumResults = 1,
                   const std::function<void(const Node &)> &Visit = {}) {
  Graph G("test");
  std::vector<Value *> Ins;
  for (size_t I = 0; I < Inputs.size(); ++I)
    Ins.push_back(Inputs[I] ? G.addInput("in" + std::to_string(I),
                                         Inputs[I]->type())
                            : nullptr);
  std::vector<ResultSpec> Results;
  for (size_t I = 0; I < NumResults; ++I)
    Results.push_back({"out" + std::to_string(I), TensorType()});
  Node *N = G.addNode(Op, "n", Ins, std::move(Attrs), std::move(Results));
  OpRun R;
  Expected<std::vector<TensorType>> Types = inferNodeTypes(*N);
  if (!Types) {
    R.Error = Types.takeError();
    return R;
  }
  R.Types = *Types;
  REQUIRE(R.Types.size() >= NumResults);
  std::vector<const Tensor *> InPtrs;
  for (auto &T : Inputs)
    InPtrs.push_back(T ? &*T : nullptr);
  for (size_t I = 0; I < NumResults; ++I) {
    N->output(I)->setType(R.Types[I]);
    R.Results.emplace_back(R.Types[I]);
  }
  Status S = N->def().Kernel(*N, InPtrs, R.Results);
  if (!S)
    R.Error = S.takeError();
  else if (Visit)
    Visit(*N);
  return R;
}

/// Checks that \p T has shape \p Dims and float values close to \p Want.
inline void checkF32(const Tensor &T, const Shape &Dims,
                     const std::vector<float> &Want, float Tol = 1e-5f) {
  REQUIRE(T.dtype() == DType::F32);
  REQUIRE(T.shape() == Dims);
  auto Got = T.data<float>();
  REQUIRE(Got.size() == Want.size());
  for (size_t I = 0; I < Want.size(); ++I) {
    INFO("element " << I);
    CHECK(Got[I] == Approx(Want[I]).margin(Tol));
  }
}

/// A small CNN in the IR's text form (two Conv layers with ReLU / Clip, a
/// Gemm, batch 2): the fixture of the fuse tests and of --update auto's.
inline constexpr const char *SmallCnnText = R"(graph @cnn {
  input %x : f32[2,1,8,8]
  param %conv1.weight : f32[4,1,3,3]
  param %conv1.bias : f32[4]
  param %conv2.weight : f32[6,4,3,3]
  param %conv2.bias : f32[6]
  param %fc.weight : f32[3,96]
  param %fc.bias : f32[3]
  %c1 = Conv "conv1"(%x, %conv1.weight, %conv1.bias) {kernel_shape = [3, 3]} : f32[2,4,6,6]
  %r1 = Relu "relu1"(%c1) : f32[2,4,6,6]
  %c2 = Conv "conv2"(%r1, %conv2.weight, %conv2.bias) {kernel_shape = [3, 3]} : f32[2,6,4,4]
  %r2 = Clip "relu6"(%c2) {max = 0.5, min = 0.0} : f32[2,6,4,4]
  %f = Reshape "flat"(%r2) {shape = [2, 96]} : f32[2,96]
  %h = Gemm "fc"(%f, %fc.weight, %fc.bias) {transB = 1} : f32[2,3]
  %y = Relu "relu_out"(%h) : f32[2,3]
  output %y
})";

} // namespace mote::test

#endif // MOTE_TESTS_UNIT_TESTUTIL_H
