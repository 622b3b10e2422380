//===- KernelMathTest.cpp - runtime-stub math kernels vs interpreter -------===//

#include "KernelTestUtil.h"

#include "mote_rt/elementwise.h"

using namespace mote;
using namespace mote::test;

TEST_CASE("kernel add/sub/mul/div broadcast like the interpreter", "[kernel]") {
  Tensor A = randomF32({2, 3, 4}, 1);
  Tensor B = randomF32({3, 1}, 2, 0.5f, 2.0f);
  for (OpKind K : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    LoweredOp L = lowerOp(K, {A, B});
    REQUIRE_FALSE(L.LowerError);
    CHECK(L.Call.Header == "mote_rt/elementwise.h");
    auto P = paramsAs<mote_rt::BroadcastP>(L.Call);
    std::vector<float> Y(L.outElems(0));
    const float *X0 = L.in<float>(0), *X1 = L.in<float>(1);
    if (K == OpKind::Add)
      mote_rt::add<float>(P, X0, X1, Y.data());
    else if (K == OpKind::Sub)
      mote_rt::sub<float>(P, X0, X1, Y.data());
    else if (K == OpKind::Mul)
      mote_rt::mul<float>(P, X0, X1, Y.data());
    else
      mote_rt::div<float>(P, X0, X1, Y.data());
    checkSame(L.Run.Results[0], Y);
  }
}
