//===- StreamTest.cpp - The stream pass against the interpreter ----------===//
//
// The interpreter is the oracle: a chain of convolutions computed in bands
// of rows (passes/Stream.cpp) must give the whole chain's result bit for
// bit (each output element sums the same terms in the same order; the
// padding of a band is the layer's own at the edges and none inside), in
// f32 and int8, and the memory plan must shrink.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Parser.h"
#include "memory/Buffers.h"
#include "passes/Pass.h"

#include <catch2/catch.hpp>

using namespace mote;
using namespace mote::test;

namespace {

// An inverted bottleneck at 32x32: expand 1x1 (4 -> 24, ReLU6), depthwise
// 3x3 stride 2 (ReLU6), project 1x1 (24 -> 8), then a dilated head; the
// project result is also a graph output, so the chain ends there. The
// expand result (98,304 bytes) is the peak.
constexpr const char *BottleneckText = R"(
graph @block {
  input %x : f32[1,4,32,32]
  param %e.weight : f32[24,4,1,1]
  param %e.bias : f32[24]
  param %d.weight : f32[24,1,3,3]
  param %d.bias : f32[24]
  param %p.weight : f32[8,24,1,1]
  param %h.weight : f32[3,8,3,3]
  %e = Conv "expand"(%x, %e.weight, %e.bias) {kernel_shape = [1, 1]} : f32[1,24,32,32]
  %er = Clip "expand.relu6"(%e) {max = 6.0, min = 0.0} : f32[1,24,32,32]
  %d = Conv "dw"(%er, %d.weight, %d.bias) {group = 24, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]} : f32[1,24,16,16]
  %dr = Clip "dw.relu6"(%d) {max = 6.0, min = 0.0} : f32[1,24,16,16]
  %p = Conv "project"(%dr, %p.weight) {kernel_shape = [1, 1]} : f32[1,8,16,16]
  %y = Conv "head"(%p, %h.weight) {dilations = [2, 2], kernel_shape = [3, 3], pads = [2, 1, 0, 1]} : f32[1,3,14,14]
  output %y
  output %p
})";

struct Built {
  std::unique_ptr<Graph> G;
  PassContext Ctx;
};

Built build(bool Stream) {
  auto G = parseGraph(BottleneckText);
  REQUIRE(G);
  uint32_t Seed = 1;
  for (Value *P : (*G)->params())
    *P->mutableData() = randomF32(P->type().Dims, Seed++);
  Built B;
  auto St = runPipeline(defaultPipeline(false, true, true, false, true, Stream),
                        **G, B.Ctx);
  if (!St)
    FAIL(St.error().str());
  B.G = std::move(*G);
  return B;
}

size_t count(const Graph &G, OpKind K) {
  size_t N = 0;
  for (const auto &Nd : G.nodes())
    N += Nd->op() == K;
  return N;
}

int64_t peakBytes(const Graph &G) {
  Expected<ScheduleBuffers> S = scheduleBuffers(G);
  REQUIRE(S);
  std::vector<int64_t> Live = liveBytesPerStep(*S);
  return *std::max_element(Live.begin(), Live.end());
}

} // namespace

TEST_CASE("stream: a bottleneck in bands of rows gives the interpreter's "
          "result bit for bit in less memory",
          "[stream]") {
  Built Whole = build(false), Banded = build(true);
  // The chain expand -> dw -> project (head reads its result, and its
  // input is the graph input) runs in bands; the head is no chain link.
  CHECK(Banded.Ctx.Stream.Chains == 1);
  CHECK(Banded.Ctx.Stream.Bands == int64_t(count(*Banded.G, OpKind::InsertRows)));
  CHECK(Banded.Ctx.Stream.Bands > 1);
  CHECK(count(*Banded.G, OpKind::Conv) ==
        size_t(3 * Banded.Ctx.Stream.Bands + 1));
  CHECK(Banded.Ctx.Stream.IntermediateBytes == 98304 + 24576);
  // The halo: the 3x3 window over the stride-2 rows reads one expand row
  // twice per band boundary.
  CHECK(Banded.Ctx.Stream.ExtraMacs ==
        (Banded.Ctx.Stream.Bands - 1) * 24 * 4 * 32);
  CHECK(peakBytes(*Banded.G) * 2 < peakBytes(*Whole.G));
  CHECK(Whole.Ctx.Stream.Chains == 0);

  for (uint32_t Seed : {7u, 8u}) {
    std::map<std::string, Tensor> Feeds = {
        {"x", randomF32(Whole.G->lookup("x")->type().Dims, Seed)}};
    Expected<std::vector<Tensor>> A = interpret(*Whole.G, Feeds);
    Expected<std::vector<Tensor>> B = interpret(*Banded.G, Feeds);
    REQUIRE(A);
    REQUIRE(B);
    for (size_t O = 0; O < A->size(); ++O) {
      REQUIRE((*A)[O].type() == (*B)[O].type());
      for (int64_t I = 0; I < (*A)[O].numElements(); ++I) {
        INFO("output " << O << " element " << I);
        REQUIRE((*A)[O].getAsDouble(I) == (*B)[O].getAsDouble(I));
      }
    }
  }
}

TEST_CASE("InsertRows: bands written into a tensor, errors named",
          "[stream][ops]") {
  Tensor Dst = Tensor::fromVector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4, 1});
  Tensor Band = Tensor::fromVector<float>({-1, -2}, {2, 1, 1});
  AttrMap A;
  A.set("axis", int64_t(1));
  A.set("start", int64_t(2));
  OpRun R = runOp(OpKind::InsertRows, {Band, Dst}, A);
  REQUIRE_FALSE(R.Error);
  auto Y = R.Results[0].data<float>();
  CHECK(std::vector<float>(Y.begin(), Y.end()) ==
        std::vector<float>{1, 2, -1, 4, 5, 6, -2, 8});
  // Without a tensor to insert into: `size` rows, the others zero.
  AttrMap S = A;
  S.set("size", int64_t(3));
  R = runOp(OpKind::InsertRows, {Band, std::nullopt}, S);
  INFO((R.Error ? R.Error->Message : std::string()));
  REQUIRE_FALSE(R.Error);
  Y = R.Results[0].data<float>();
  CHECK(std::vector<float>(Y.begin(), Y.end()) ==
        std::vector<float>{0, 0, -1, 0, 0, -2});
  A.set("start", int64_t(4));
  R = runOp(OpKind::InsertRows, {Band, Dst}, A);
  REQUIRE(R.Error);
  CHECK(R.Error->Message == "rows 4 .. 4 are outside the 4 along axis 1");
  R = runOp(OpKind::InsertRows, {Band, std::nullopt}, A);
  REQUIRE(R.Error);
  CHECK(R.Error->Message == "size (the result's extent along the axis) is "
                            "required without a tensor to insert into");
}
