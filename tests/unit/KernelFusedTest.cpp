//===- KernelFusedTest.cpp - fused_elementwise vs the interpreter ---------===//
//
// A FusedElementwise node runs on the interpreter (each step's own reference
// kernel) and through its lowering and mote_rt::fused_elementwise. Chains of
// steps the kernels compute exactly as the interpreter does (arithmetic,
// Relu, Neg, Abs, Reciprocal and the Relu, Sigmoid and Tanh gradients) must
// agree bit for bit; chains with transcendental steps within 1e-5 (math.h
// is a few ulp from libm). The shapes cover every broadcast pattern of the
// operands (scalar, a trailing row, a column, a middle axis), rows shorter
// and longer than a block and not a multiple of it, merged dimensions, and
// the result written over its first input (in place). A guard element after
// the result must stay untouched.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "mote_rt/fused.h"

#include <cmath>

using namespace mote;
using namespace mote::test;

namespace {

struct Chain {
  std::vector<std::string> Ops;
  std::vector<int64_t> Args;
};

/// Runs \p C over \p Ins both ways and compares; returns the kernel's
/// parameters (for checks of the lowering).
template <class T>
mote_rt::FusedP checkChain(const Chain &C, const std::vector<Tensor> &Ins,
                           bool Exact, bool InPlace = false) {
  AttrMap A;
  A.set("ops", C.Ops);
  A.set("args", C.Args);
  LoweredOp L = lowerOp(OpKind::FusedElementwise,
                        std::vector<std::optional<Tensor>>(Ins.begin(),
                                                           Ins.end()),
                        A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/fused.h");
  CHECK(L.Call.Kernel == "fused_elementwise");
  REQUIRE(L.Call.TypeArgs == std::vector<DType>{DTypeOf<T>::value});
  auto P = paramsAs<mote_rt::FusedP>(L.Call);
  const size_t N = L.outElems(0);
  const T Guard = T(-12345.5);
  std::vector<T> Y(N + 1, T(777));
  Y[N] = Guard;
  const T *X[mote_rt::MaxFusedInputs] = {};
  for (size_t I = 0; I < Ins.size(); ++I)
    X[I] = L.in<T>(I);
  if (InPlace) {
    REQUIRE(size_t(Ins[0].numElements()) == N);
    for (size_t I = 0; I < N; ++I)
      Y[I] = X[0][I];
    X[0] = Y.data();
  }
  mote_rt::fused_elementwise<T>(P, X[0], X[1], X[2], X[3], X[4], X[5],
                                Y.data());
  CHECK(Y[N] == Guard);
  Y.pop_back();
  auto W = L.Run.Results[0].data<T>();
  for (size_t I = 0; I < N; ++I) {
    INFO("element " << I << ": want " << W[I] << ", got " << Y[I]);
    if (Exact)
      CHECK((Y[I] == W[I] || (std::isnan(Y[I]) && std::isnan(W[I]))));
    else
      CHECK(double(Y[I]) ==
            Approx(double(W[I])).epsilon(1e-5).margin(1e-6));
  }
  return P;
}

} // namespace

TEMPLATE_TEST_CASE("kernel fused_elementwise: exact steps over every "
                   "broadcast pattern",
                   "[kernel]", float, double) {
  using T = TestType;
  // (x0 + x1) * x2 - x3, / x4, relu, neg: the operands of the first four
  // steps broadcast in turn.
  const Chain Arith = {{"Add", "Mul", "Sub", "Div", "Relu", "Neg"},
                       {0, 1, 5, 2, 6, 3, 7, 4, 8, -1, 9, -1}};
  uint32_t Seed = 10;
  struct Shapes {
    Shape Out;
    std::vector<Shape> In; ///< the five operands
  };
  const Shapes Cases[] = {
      {{2, 3, 37}, {{2, 3, 37}, {37}, {2, 1, 37}, {2, 3, 1}, {}}},
      {{2, 3, 37}, {{2, 3, 37}, {3, 1}, {}, {1, 1, 37}, {2, 3, 37}}},
      {{5}, {{5}, {5}, {}, {1}, {5}}},
      {{4, 16}, {{4, 16}, {4, 1}, {16}, {4, 16}, {}}},
      {{1, 1, 1}, {{1, 1, 1}, {1}, {}, {1, 1}, {1, 1, 1}}},
      {{2, 2, 3, 2, 5}, {{2, 2, 3, 2, 5}, {2, 1, 3, 1, 5}, {5}, {2, 2, 1, 1, 1},
                         {3, 2, 1}}},
  };
  for (const Shapes &S : Cases) {
    INFO("result " << shapeStr(S.Out));
    std::vector<Tensor> Ins;
    for (size_t I = 0; I < S.In.size(); ++I)
      Ins.push_back(I == 4 ? randomOf<T>(S.In[I], ++Seed, 0.5, 2)
                           : randomOf<T>(S.In[I], ++Seed, -2, 2));
    checkChain<T>(Arith, Ins, /*Exact=*/true);
    checkChain<T>(Arith, Ins, /*Exact=*/true, /*InPlace=*/true);
  }
  // Gradient steps: dY * relu'(x), then * sigmoid'(y), * tanh'(y), plus an
  // accumulated gradient, abs and reciprocal.
  const Chain Grads = {{"ReluGrad", "SigmoidGrad", "TanhGrad", "Add", "Abs",
                        "Reciprocal"},
                       {0, 1, 5, 2, 6, 3, 7, 4, 8, -1, 9, -1}};
  for (const Shape &Out : {Shape{3, 20}, Shape{17}, Shape{2, 4, 33}}) {
    std::vector<Tensor> Ins = {
        randomOf<T>(Out, ++Seed, -2, 2), randomOf<T>(Out, ++Seed, -1, 1),
        randomOf<T>(Out, ++Seed, 0, 1), randomOf<T>(Out, ++Seed, -1, 1),
        randomOf<T>({Out.back()}, ++Seed, 0.5, 1)};
    checkChain<T>(Grads, Ins, /*Exact=*/true);
    checkChain<T>(Grads, Ins, /*Exact=*/true, /*InPlace=*/true);
  }
}

TEMPLATE_TEST_CASE("kernel fused_elementwise: transcendental steps", "[kernel]",
                   float, double) {
  using T = TestType;
  uint32_t Seed = 50;
  // GELU written out: x/s, erf, +1, times x, times 1/2.
  const Chain Gelu = {{"Div", "Erf", "Add", "Mul", "Mul"},
                      {0, 1, 4, -1, 5, 2, 0, 6, 7, 3}};
  for (const Shape &Out : {Shape{2, 8, 64}, Shape{3, 7}}) {
    std::vector<Tensor> Ins = {
        randomOf<T>(Out, ++Seed, -4, 4),
        Tensor::fromVector<T>({T(1.4142135623730951)}, {}),
        Tensor::fromVector<T>({T(1)}, {}), Tensor::fromVector<T>({T(0.5)}, {})};
    checkChain<T>(Gelu, Ins, false);
  }
  // The LayerNorm tail: (x - m) / s * gamma + beta, with m and s per row
  // and gamma, beta per column.
  const Chain Norm = {{"Sub", "Div", "Mul", "Add"}, {0, 1, 5, 2, 6, 3, 7, 4}};
  std::vector<Tensor> Ins = {randomOf<T>({4, 2, 24}, ++Seed, -3, 3),
                             randomOf<T>({4, 2, 1}, ++Seed, -1, 1),
                             randomOf<T>({4, 2, 1}, ++Seed, 0.1, 2),
                             randomOf<T>({24}, ++Seed, -1, 1),
                             randomOf<T>({24}, ++Seed, -1, 1)};
  mote_rt::FusedP P = checkChain<T>(Norm, Ins, /*Exact=*/true);
  // The two leading dims merge: every operand reads them alike.
  CHECK(P.Rank == 2);
  CHECK(P.Dims[0] == 8);
  CHECK(P.Dims[1] == 24);
  // The other unary ops, and Pow and the erf gradient.
  const Chain Unary = {{"Exp", "Log", "Tanh", "Sigmoid", "Pow", "ErfGrad"},
                       {0, -1, 2, -1, 3, -1, 4, -1, 5, 1, 0, 6}};
  for (const Shape &Out : {Shape{40}, Shape{2, 3, 5}}) {
    std::vector<Tensor> In2 = {randomOf<T>(Out, ++Seed, -2, 2),
                               randomOf<T>({Out.back()}, ++Seed, 0.5, 3)};
    checkChain<T>(Unary, In2, false);
    checkChain<T>(Unary, In2, false, /*InPlace=*/true);
  }
}

TEST_CASE("kernel fused_elementwise: the lowering merges dimensions and "
          "drops those of size 1",
          "[kernel]") {
  const Chain AddMul = {{"Add", "Mul"}, {0, 1, 3, 2}};
  // [2, 1, 3, 4] + [3, 4] * [2, 1, 1, 1]: the size-1 dim goes, then the 3
  // and 4 merge (all read them contiguously or not at all) but not 2 with
  // them (the second operand broadcasts along it, the third is per 2).
  std::vector<Tensor> Ins = {randomF32({2, 1, 3, 4}, 1), randomF32({3, 4}, 2),
                             randomF32({2, 1, 1, 1}, 3)};
  mote_rt::FusedP P = checkChain<float>(AddMul, Ins, true);
  CHECK(P.Rank == 2);
  CHECK(P.Dims[0] == 2);
  CHECK(P.Dims[1] == 12);
  CHECK(P.In1[0] == 0);
  CHECK(P.In1[1] == 1);
  CHECK(P.In2[0] == 1);
  CHECK(P.In2[1] == 0);
  CHECK(P.NumSteps == 2);
  CHECK(P.ArgB[1] == 2);
  // Step results are numbered after the kernel's input slots.
  CHECK(P.ArgA[1] == mote_rt::MaxFusedInputs);
}
