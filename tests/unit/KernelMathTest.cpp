//===- KernelMathTest.cpp - runtime-stub math kernels vs interpreter ------===//
//
// The math family: broadcast binary ops and Pow (elementwise.h), the unary
// activations and elementwise math and Cast (unary.h), ReduceSum / Mean /
// Max (reduce.h) and the activations' backward ops (activation_grad.h).
// Each op runs on the interpreter and through its lowering and kernel, on
// several shapes, element types and attribute combinations, and the
// results are compared: within checkSame's 1e-5 where the kernel computes
// transcendental functions (math.h is within a few ulp of libm) or sums in
// another order, exactly where the kernel does what the interpreter does
// (comparisons, integer arithmetic, conversions).
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "mote_rt/activation_grad.h"
#include "mote_rt/elementwise.h"
#include "mote_rt/reduce.h"
#include "mote_rt/unary.h"

#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

using namespace mote;
using namespace mote::test;

namespace {

using Ints = std::vector<int64_t>;

/// Equal values, NaN equal to NaN (and -0 to +0).
template <class T> bool sameValue(T A, T B) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(A) || std::isnan(B))
      return std::isnan(A) && std::isnan(B);
  return A == B;
}

/// Kernel output \p Got equals the interpreter's result exactly.
template <class T> void checkExact(const Tensor &Want, const T *Got) {
  auto W = Want.data<T>();
  for (size_t I = 0; I < W.size(); ++I) {
    INFO("element " << I << ": want " << +W[I] << ", got " << +Got[I]);
    CHECK(sameValue(W[I], Got[I]));
  }
}

/// checkSame, except that NaN must match NaN and infinities exactly.
template <class T>
void checkSameOrNonFinite(const Tensor &Want, const std::vector<T> &Got) {
  auto W = Want.data<T>();
  REQUIRE(W.size() == Got.size());
  for (size_t I = 0; I < Got.size(); ++I) {
    INFO("element " << I << ": want " << W[I] << ", got " << Got[I]);
    if (std::isfinite(W[I]))
      CHECK(double(Got[I]) == Approx(double(W[I])).epsilon(1e-5).margin(1e-6));
    else
      CHECK(sameValue(W[I], Got[I]));
  }
}

} // namespace

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

//===----------------------------------------------------------------------===//
// Pow (elementwise.h)
//===----------------------------------------------------------------------===//

namespace {

/// Runs Pow(A, B) through mote_rt::pow<T, TB> and compares.
template <class T, class TB>
void checkPow(const Tensor &A, const Tensor &B, bool Exact = false) {
  LoweredOp L = lowerOp(OpKind::Pow, {A, B});
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "pow");
  REQUIRE(L.Call.TypeArgs ==
          std::vector<DType>{DTypeOf<T>::value, DTypeOf<TB>::value});
  auto P = paramsAs<mote_rt::BroadcastP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  mote_rt::pow<T, TB>(P, L.in<T>(0), L.in<TB>(1), Y.data());
  if constexpr (std::is_floating_point_v<T>) {
    if (!Exact) {
      checkSameOrNonFinite(L.Run.Results[0], Y);
      return;
    }
  }
  checkExact(L.Run.Results[0], Y.data());
}

} // namespace

TEST_CASE("kernel pow broadcasts and follows the interpreter", "[kernel]") {
  // Positive bases, real exponents, broadcast both ways.
  checkPow<float, float>(randomOf<float>({2, 3, 4}, 3, 0.01, 10),
                         randomOf<float>({4}, 4, -3, 3));
  checkPow<float, float>(randomOf<float>({3, 1}, 5, 0.1, 4),
                         randomOf<float>({2, 1, 5}, 6, -2, 2));
  // Negative bases: integer exponents give signed results, others NaN;
  // zeros with negative exponents give infinities.
  checkPow<float, float>(
      Tensor::fromVector<float>({-2.5f, -1, -0.5f, 0, -0.0f, 3, -7}, {7, 1}),
      Tensor::fromVector<float>({2, 3, -1, -2, 0.5f, 5, -3, 0}, {1, 8}));
  // The exponent as an integer tensor or a double tensor.
  checkPow<float, int64_t>(randomOf<float>({2, 5}, 7, -3, 3),
                           Tensor::fromVector<int64_t>({0, 1, 2, 3, -2}, {5}));
  checkPow<float, int32_t>(randomOf<float>({4}, 8, -3, 3),
                           Tensor::fromVector<int32_t>({7, -7, 70, 2}, {4}));
  checkPow<float, double>(randomOf<float>({6}, 9, 0.5, 2),
                          Tensor::fromVector<double>({0.1, 2.0}, {2, 1}));
  checkPow<double, double>(randomOf<double>({3, 4}, 10, 0.1, 5),
                           randomOf<double>({4}, 11, -4, 4));
  checkPow<double, float>(randomOf<double>({2, 2}, 12, -2, 2),
                          Tensor::fromVector<float>({2, 3}, {2}));
  // Integer bases: exact powers, negative exponents truncate to 0 (or
  // +-1), results beyond +-9.2e18 are 0.
  checkPow<int32_t, int32_t>(
      Tensor::fromVector<int32_t>({2, -3, 5, 1, -1, 0, 7}, {7, 1}),
      Tensor::fromVector<int32_t>({0, 1, 2, 3, 10, -1}, {6}));
  checkPow<int64_t, int64_t>(
      Tensor::fromVector<int64_t>({2, -3, 10, 3}, {4}),
      Tensor::fromVector<int64_t>({62, 39, 18, 30}, {4}));
  checkPow<int64_t, int64_t>(Tensor::fromVector<int64_t>({2, 10, -10}, {3}),
                             Tensor::fromVector<int64_t>({70, 19, 19}, {3}));
  checkPow<uint8_t, uint8_t>(Tensor::fromVector<uint8_t>({2, 3, 15}, {3}),
                             Tensor::fromVector<uint8_t>({7, 5, 2}, {3}));
  checkPow<int8_t, float>(Tensor::fromVector<int8_t>({4, -8, 9, 100}, {4}),
                          Tensor::fromVector<float>({0.5f}, {1}));
}

//===----------------------------------------------------------------------===//
// Unary kernels (unary.h)
//===----------------------------------------------------------------------===//

namespace {

template <class T>
using UnaryFn = void (*)(const mote_rt::UnaryP &, const T *, T *);

/// An op lowered to a kernel whose only parameter is N, and a range of
/// inputs inside its domain.
template <class T> struct PlainUnary {
  OpKind Op;
  const char *Kernel;
  UnaryFn<T> Fn;
  double Lo, Hi;
};

template <class T> std::vector<PlainUnary<T>> plainUnaryKernels() {
  return {
      {OpKind::Relu, "relu", mote_rt::relu<T>, -2, 2},
      {OpKind::Sigmoid, "sigmoid", mote_rt::sigmoid<T>, -20, 20},
      {OpKind::Tanh, "tanh", mote_rt::tanh<T>, -10, 10},
      {OpKind::HardSwish, "hard_swish", mote_rt::hard_swish<T>, -5, 5},
      {OpKind::Exp, "exp", mote_rt::exp<T>, -20, 20},
      {OpKind::Log, "log", mote_rt::log<T>, 1e-3, 50},
      {OpKind::Sqrt, "sqrt", mote_rt::sqrt<T>, 0, 100},
      {OpKind::Neg, "neg", mote_rt::neg<T>, -3, 3},
      {OpKind::Abs, "abs", mote_rt::abs<T>, -3, 3},
      {OpKind::Reciprocal, "reciprocal", mote_rt::reciprocal<T>, 0.1, 5},
      {OpKind::Erf, "erf", mote_rt::erf<T>, -5, 5},
      {OpKind::Identity, "identity", mote_rt::identity<T>, -1, 1},
  };
}

/// Lowers Op on X (with A), runs Fn and compares with the interpreter.
template <class T, class P, class Fn>
void checkUnary(OpKind Op, const Tensor &X, const AttrMap &A,
                const char *Kernel, Fn Run, bool Exact = false) {
  LoweredOp L = lowerOp(Op, {X}, A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/unary.h");
  CHECK(L.Call.Kernel == Kernel);
  REQUIRE(L.Call.TypeArgs == std::vector<DType>{DTypeOf<T>::value});
  auto Params = paramsAs<P>(L.Call);
  CHECK(Params.N == int32_t(X.numElements()));
  std::unique_ptr<T[]> Y(new T[L.outElems(0)]);
  Run(Params, L.in<T>(0), Y.get());
  if constexpr (std::is_floating_point_v<T>) {
    if (!Exact) {
      checkSameOrNonFinite(L.Run.Results[0],
                           std::vector<T>(Y.get(), Y.get() + L.outElems(0)));
      return;
    }
  }
  checkExact(L.Run.Results[0], Y.get());
}

} // namespace

TEMPLATE_TEST_CASE("kernel unary float ops match the interpreter", "[kernel]",
                   float, double) {
  using T = TestType;
  uint32_t Seed = 20;
  for (const PlainUnary<T> &K : plainUnaryKernels<T>()) {
    INFO(K.Kernel);
    for (const Shape &S : {Shape{2, 3, 4}, Shape{7}, Shape{}})
      checkUnary<T, mote_rt::UnaryP>(K.Op, randomOf<T>(S, ++Seed, K.Lo, K.Hi),
                                     {}, K.Kernel, K.Fn);
  }
  // Edge values: zeros, infinities, far tails.
  constexpr T Inf = std::numeric_limits<T>::infinity();
  Tensor E = Tensor::fromVector<T>(
      {T(0), -T(0), Inf, -Inf, T(-100), T(100), T(1e-30), T(-7.5)}, {8});
  for (const PlainUnary<T> &K : plainUnaryKernels<T>()) {
    INFO(K.Kernel);
    if (K.Op == OpKind::Log || K.Op == OpKind::Sqrt) // NaN below 0 (checked)
      continue;
    checkUnary<T, mote_rt::UnaryP>(K.Op, E, {}, K.Kernel, K.Fn);
  }
  checkUnary<T, mote_rt::UnaryP>(
      OpKind::Log,
      Tensor::fromVector<T>({T(0), T(-1), Inf, T(1), T(1e-300)}, {5}), {},
      "log", mote_rt::log<T>);
  checkUnary<T, mote_rt::UnaryP>(
      OpKind::Sqrt, Tensor::fromVector<T>({T(0), -T(0), T(-1), Inf, T(2)}, {5}),
      {}, "sqrt", mote_rt::sqrt<T>);
}

TEMPLATE_TEST_CASE("kernel relu, neg, abs on integers", "[kernel]", int8_t,
                   int32_t, int64_t) {
  using T = TestType;
  using L = std::numeric_limits<T>;
  std::vector<T> V = {
      T(L::lowest() + 1), T(-100), T(-1), T(0), T(1), T(77), L::max()};
  if (sizeof(T) == 1)
    V.push_back(L::lowest()); // -(-128) wraps to -128 in both
  Tensor X = Tensor::fromVector<T>(V, {int64_t(V.size())});
  checkUnary<T, mote_rt::UnaryP>(OpKind::Relu, X, {}, "relu", mote_rt::relu<T>);
  checkUnary<T, mote_rt::UnaryP>(OpKind::Neg, X, {}, "neg", mote_rt::neg<T>);
  checkUnary<T, mote_rt::UnaryP>(OpKind::Abs, X, {}, "abs", mote_rt::abs<T>);
  checkUnary<T, mote_rt::UnaryP>(OpKind::Identity, X, {}, "identity",
                                 mote_rt::identity<T>);
}

TEST_CASE("kernel relu, abs, identity on u8 and bool", "[kernel]") {
  Tensor X = Tensor::fromVector<uint8_t>({0, 1, 128, 255}, {2, 2});
  checkUnary<uint8_t, mote_rt::UnaryP>(OpKind::Relu, X, {}, "relu",
                                       mote_rt::relu<uint8_t>);
  checkUnary<uint8_t, mote_rt::UnaryP>(OpKind::Abs, X, {}, "abs",
                                       mote_rt::abs<uint8_t>);
  checkUnary<bool, mote_rt::UnaryP>(
      OpKind::Identity, Tensor::fromVector<bool>({true, false, true}, {3}), {},
      "identity", mote_rt::identity<bool>);
}

TEMPLATE_TEST_CASE("kernel leaky_relu, hard_sigmoid, gelu with attributes",
                   "[kernel]", float, double) {
  using T = TestType;
  Tensor X = randomOf<T>({3, 5, 2}, 40, -6, 6);
  Tensor X2 = randomOf<T>({9}, 41, -12, 12);
  for (const Tensor *In : {&X, &X2}) {
    checkUnary<T, mote_rt::LeakyReluP>(OpKind::LeakyRelu, *In, {}, "leaky_relu",
                                       mote_rt::leaky_relu<T>);
    checkUnary<T, mote_rt::LeakyReluP>(OpKind::LeakyRelu, *In,
                                       attrs({{"alpha", 0.3f}}), "leaky_relu",
                                       mote_rt::leaky_relu<T>);
    checkUnary<T, mote_rt::HardSigmoidP>(OpKind::HardSigmoid, *In, {},
                                         "hard_sigmoid",
                                         mote_rt::hard_sigmoid<T>, true);
    checkUnary<T, mote_rt::HardSigmoidP>(
        OpKind::HardSigmoid, *In, attrs({{"alpha", -0.7f}, {"beta", 0.25f}}),
        "hard_sigmoid", mote_rt::hard_sigmoid<T>, true);
    checkUnary<T, mote_rt::UnaryP>(OpKind::Gelu, *In, {}, "gelu",
                                   mote_rt::gelu<T>);
    checkUnary<T, mote_rt::UnaryP>(
        OpKind::Gelu, *In, attrs({{"approximate", std::string("none")}}),
        "gelu", mote_rt::gelu<T>);
    checkUnary<T, mote_rt::UnaryP>(
        OpKind::Gelu, *In, attrs({{"approximate", std::string("tanh")}}),
        "gelu_tanh", mote_rt::gelu_tanh<T>);
  }
  // The kink of hard_sigmoid and the clamp ends exactly.
  Tensor K = Tensor::fromVector<T>({T(-2.5), T(2.5), T(0), T(-3), T(3)}, {5});
  checkUnary<T, mote_rt::HardSigmoidP>(OpKind::HardSigmoid, K, {},
                                       "hard_sigmoid", mote_rt::hard_sigmoid<T>,
                                       true);
  checkUnary<T, mote_rt::UnaryP>(OpKind::HardSwish, K, {}, "hard_swish",
                                 mote_rt::hard_swish<T>, true);
}

TEMPLATE_TEST_CASE("kernel clip on floats, with and without bounds", "[kernel]",
                   float, double) {
  using T = TestType;
  Tensor X = randomOf<T>({4, 6}, 50, -10, 10);
  Tensor E = Tensor::fromVector<T>({-std::numeric_limits<T>::infinity(),
                                    std::numeric_limits<T>::infinity(), T(0),
                                    T(6), T(-1)},
                                   {5});
  for (const Tensor *In : {&X, &E})
    for (const AttrMap &A :
         {attrs({{"min", 0.0f}, {"max", 6.0f}}), attrs({{"min", -2.5f}}),
          attrs({{"max", 1.25f}}), AttrMap{},
          attrs({{"min", 3.0f}, {"max", -3.0f}})}) {
      checkUnary<T, mote_rt::ClipP>(OpKind::Clip, *In, A, "clip",
                                    mote_rt::clip<T>, true);
    }
}

TEST_CASE("kernel clip on integers turns the float bounds into integer tests",
          "[kernel]") {
  auto CheckInt = [](auto Tag, std::vector<int64_t> Values, AttrMap A) {
    using T = decltype(Tag);
    std::vector<T> V(Values.begin(), Values.end());
    Tensor X = Tensor::fromVector<T>(V, {int64_t(V.size())});
    checkUnary<T, mote_rt::ClipIntP>(OpKind::Clip, X, A, "clip_int",
                                     mote_rt::clip_int<T>);
  };
  CheckInt(int8_t{}, {-128, -4, -3, 0, 99, 100, 101, 127},
           attrs({{"min", -3.5f}, {"max", 100.2f}}));
  CheckInt(uint8_t{}, {0, 1, 2, 3, 7, 8, 255},
           attrs({{"min", 2.5f}, {"max", 7.0f}}));
  // max -0.5 on u8: every value is above it and becomes E(-0.5) = 0.
  CheckInt(uint8_t{}, {0, 1, 200, 255}, attrs({{"max", -0.5f}}));
  // min -1000 on i8 never clamps.
  CheckInt(int8_t{}, {-128, 5}, attrs({{"min", -1000.0f}}));
  CheckInt(int32_t{}, {-2147483647 - 1, -1001, -1000, 0, 5, 6, 2147483647},
           attrs({{"min", -1000.0f}, {"max", 5.5f}}));
  CheckInt(int64_t{}, {-(int64_t(1) << 40), -1, 0, 3, int64_t(1) << 40},
           attrs({{"min", -0.5f}, {"max", 3.0f}}));
  CheckInt(int64_t{}, {-7, 7}, AttrMap{});
  // Bounds the kernel cannot express are rejected by the lowering.
  for (auto [T, A] : {std::pair{DType::U8, attrs({{"min", 300.0f}})},
                      std::pair{DType::I8, attrs({{"max", -200.0f}})},
                      std::pair{DType::I64, attrs({{"max", 1e12f}})}}) {
    Tensor X(TensorType(T, {3}));
    LoweredOp L = lowerOp(OpKind::Clip, {X}, A);
    REQUIRE(L.LowerError);
    CHECK(L.LowerError->Message.find("clip") != std::string::npos);
  }
}

//===----------------------------------------------------------------------===//
// Cast
//===----------------------------------------------------------------------===//

namespace {

/// Values of type T that exercise truncation, negative numbers,
/// saturation, wrap-around and NaN in every conversion.
template <class T> std::vector<T> castSamples() {
  if constexpr (std::is_same_v<T, bool>) {
    return {true, false, true};
  } else if constexpr (std::is_floating_point_v<T>) {
    constexpr T Inf = std::numeric_limits<T>::infinity();
    return {T(-3.7),     T(-1.5),     T(-0.5),
            T(0),        -T(0),       T(0.5),
            T(1.99),     T(2.5),      T(127.9),
            T(128.5),    T(-129.7),   T(255.5),
            T(300),      T(-1e10),    T(1e10),
            T(3e9),      T(1e20),     T(-1e20),
            Inf,         -Inf,        std::numeric_limits<T>::quiet_NaN(),
            T(16777217), T(-65537.25)};
  } else {
    using L = std::numeric_limits<T>;
    std::vector<T> V = {L::lowest(), T(L::lowest() + 1), T(0),  T(1),
                        L::max(),    T(L::max() - 1),    T(100)};
    if constexpr (std::is_signed_v<T>)
      V.push_back(T(-1)), V.push_back(T(-100));
    if constexpr (sizeof(T) >= 4)
      V.push_back(T(65537)), V.push_back(T(16777217)), V.push_back(T(-129));
    if constexpr (sizeof(T) == 8)
      V.push_back(T(int64_t(1) << 40) + 3), V.push_back(-(T(1) << 53) - 1);
    return V;
  }
}

template <class From, class To> void checkCast() {
  std::vector<From> V = castSamples<From>();
  Tensor X = Tensor::fromVector<From>(V, {int64_t(V.size())});
  DType ToT = DTypeOf<To>::value;
  LoweredOp L =
      lowerOp(OpKind::Cast, {X}, attrs({{"to", std::string(dtypeName(ToT))}}));
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Kernel == "cast");
  REQUIRE(L.Call.TypeArgs == std::vector<DType>{DTypeOf<From>::value, ToT});
  auto P = paramsAs<mote_rt::UnaryP>(L.Call);
  std::unique_ptr<To[]> Y(new To[V.size()]);
  mote_rt::cast<From, To>(P, L.in<From>(0), Y.get());
  checkExact(L.Run.Results[0], Y.get());
}

template <class From> void checkCastsFrom() {
  INFO("from " << dtypeName(DTypeOf<From>::value));
  checkCast<From, float>();
  checkCast<From, double>();
  checkCast<From, int8_t>();
  checkCast<From, uint8_t>();
  checkCast<From, int32_t>();
  checkCast<From, int64_t>();
  checkCast<From, bool>();
}

} // namespace

TEST_CASE("kernel cast converts every pair of types like the interpreter",
          "[kernel]") {
  checkCastsFrom<float>();
  checkCastsFrom<double>();
  checkCastsFrom<int8_t>();
  checkCastsFrom<uint8_t>();
  checkCastsFrom<int32_t>();
  checkCastsFrom<int64_t>();
  checkCastsFrom<bool>();
}

//===----------------------------------------------------------------------===//
// Reductions (reduce.h)
//===----------------------------------------------------------------------===//

namespace {

/// Runs reduction \p Op on X with \p A through its kernel and compares.
template <class T>
void checkReduce(OpKind Op, const Tensor &X, const AttrMap &A) {
  LoweredOp L = lowerOp(Op, {X}, A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/reduce.h");
  auto P = paramsAs<mote_rt::ReduceP>(L.Call);
  std::vector<T> Y(L.outElems(0));
  if (Op == OpKind::ReduceSum) {
    CHECK(L.Call.Kernel == "reduce_sum");
    mote_rt::reduce_sum<T>(P, L.in<T>(0), Y.data());
  } else if (Op == OpKind::ReduceMean) {
    CHECK(L.Call.Kernel == "reduce_mean");
    mote_rt::reduce_mean<T>(P, L.in<T>(0), Y.data());
  } else {
    CHECK(L.Call.Kernel == "reduce_max");
    mote_rt::reduce_max<T>(P, L.in<T>(0), Y.data());
  }
  if constexpr (std::is_floating_point_v<T>)
    checkSameOrNonFinite(L.Run.Results[0], Y);
  else
    checkExact(L.Run.Results[0], Y.data());
}

/// The axes / keepdims combinations every reduction is checked with.
std::vector<std::pair<Shape, AttrMap>> reduceCases() {
  return {
      {{2, 3, 4}, attrs({{"axes", Ints{1}}})},
      {{2, 3, 4}, attrs({{"axes", Ints{0, 2}}, {"keepdims", int64_t(0)}})},
      {{2, 3, 4}, attrs({{"axes", Ints{0, 2}}})},
      {{2, 3, 4}, attrs({{"axes", Ints{-1}}, {"keepdims", int64_t(0)}})},
      {{2, 3, 4}, attrs({{"axes", Ints{0}}})},
      {{2, 3, 4}, AttrMap{}}, // every axis
      {{2, 3, 4}, attrs({{"noop_with_empty_axes", int64_t(1)}})},
      {{2, 1, 3, 5}, attrs({{"axes", Ints{0, 3}}, {"keepdims", int64_t(0)}})},
      {{3, 2, 2, 4}, attrs({{"axes", Ints{1, 2}}})},
      {{2, 3, 2, 3, 2}, attrs({{"axes", Ints{0, 2, 4}}})},
      {{5}, attrs({{"axes", Ints{0}}, {"keepdims", int64_t(0)}})},
      {{4, 1}, attrs({{"axes", Ints{1}}})},
  };
}

} // namespace

TEMPLATE_TEST_CASE("kernel reductions over any axes match the interpreter",
                   "[kernel]", float, double) {
  using T = TestType;
  uint32_t Seed = 60;
  for (const auto &[S, A] : reduceCases()) {
    Tensor X = randomOf<T>(S, ++Seed, -2, 3);
    INFO("shape " << shapeStr(S));
    for (OpKind Op : {OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax})
      checkReduce<T>(Op, X, A);
  }
  // A long sum with cancellation: compensated float summation keeps it
  // close to the interpreter's double sum.
  checkReduce<T>(OpKind::ReduceSum, randomOf<T>({4, 3000}, 70, -1, 1),
                 attrs({{"axes", Ints{1}}}));
  checkReduce<T>(OpKind::ReduceMean, randomOf<T>({3000, 3}, 71, -1, 1),
                 attrs({{"axes", Ints{0}}}));
  // NaN wins in max; infinities.
  constexpr T Inf = std::numeric_limits<T>::infinity();
  Tensor N = Tensor::fromVector<T>({T(1), std::numeric_limits<T>::quiet_NaN(),
                                    T(2), -Inf, T(5), T(0), Inf, T(1)},
                                   {4, 2});
  for (OpKind Op : {OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax})
    checkReduce<T>(Op, N, attrs({{"axes", Ints{1}}}));
  // A reduced dim of size 0: sum 0, max -inf, mean NaN.
  Tensor Empty(TensorType(DTypeOf<T>::value, {2, 0, 3}));
  for (OpKind Op : {OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax})
    checkReduce<T>(Op, Empty, attrs({{"axes", Ints{1}}}));
}

TEMPLATE_TEST_CASE("kernel reductions on integers wrap and truncate",
                   "[kernel]", int8_t, uint8_t, int32_t, int64_t) {
  using T = TestType;
  using L = std::numeric_limits<T>;
  std::mt19937 Gen(80);
  for (const auto &[S, A] : reduceCases()) {
    Tensor X(TensorType(DTypeOf<T>::value, S));
    std::uniform_int_distribution<int64_t> D(int64_t(L::lowest()),
                                             int64_t(L::max()));
    for (T &V : X.data<T>())
      V = T(D(Gen));
    INFO("shape " << shapeStr(S));
    for (OpKind Op : {OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax})
      checkReduce<T>(Op, X, A);
  }
}

//===----------------------------------------------------------------------===//
// Activation gradients (activation_grad.h)
//===----------------------------------------------------------------------===//

namespace {

/// Lowers GradOp(dY, V) with A, runs Run(params, dY, V, dX) and compares.
template <class T, class P, class Fn>
void checkGrad(OpKind Op, const Tensor &DY, const Tensor &V, const AttrMap &A,
               const char *Kernel, Fn Run, bool Exact = false) {
  LoweredOp L = lowerOp(Op, {DY, V}, A);
  REQUIRE_FALSE(L.LowerError);
  CHECK(L.Call.Header == "mote_rt/activation_grad.h");
  CHECK(L.Call.Kernel == Kernel);
  REQUIRE(L.Call.TypeArgs == std::vector<DType>{DTypeOf<T>::value});
  auto Params = paramsAs<P>(L.Call);
  std::vector<T> DX(L.outElems(0));
  Run(Params, L.in<T>(0), L.in<T>(1), DX.data());
  if (Exact)
    checkExact(L.Run.Results[0], DX.data());
  else
    checkSameOrNonFinite(L.Run.Results[0], DX);
}

template <class T>
using ActGradFn = void (*)(const mote_rt::UnaryP &, const T *, const T *, T *);

} // namespace

TEMPLATE_TEST_CASE("kernel activation gradients match the interpreter",
                   "[kernel]", float, double) {
  using T = TestType;
  struct Case {
    OpKind Op;
    const char *Kernel;
    ActGradFn<T> Fn;
    double Lo, Hi; ///< range of the saved value (x, or y for sigmoid/tanh)
    bool Exact;
  };
  const Case Cases[] = {
      {OpKind::ReluGrad, "relu_grad", mote_rt::relu_grad<T>, -2, 2, true},
      {OpKind::SigmoidGrad, "sigmoid_grad", mote_rt::sigmoid_grad<T>, 0, 1,
       true},
      {OpKind::TanhGrad, "tanh_grad", mote_rt::tanh_grad<T>, -1, 1, true},
      {OpKind::HardSwishGrad, "hard_swish_grad", mote_rt::hard_swish_grad<T>,
       -5, 5, true},
      {OpKind::ErfGrad, "erf_grad", mote_rt::erf_grad<T>, -4, 4, false},
      {OpKind::GeluGrad, "gelu_grad", mote_rt::gelu_grad<T>, -12, 12, false},
  };
  uint32_t Seed = 90;
  for (const Case &C : Cases) {
    INFO(C.Kernel);
    for (const Shape &S : {Shape{3, 4, 5}, Shape{6}}) {
      Tensor DY = randomOf<T>(S, ++Seed, -2, 2);
      Tensor V = randomOf<T>(S, ++Seed, C.Lo, C.Hi);
      checkGrad<T, mote_rt::UnaryP>(C.Op, DY, V, {}, C.Kernel, C.Fn, C.Exact);
    }
  }
  // Kinks: the derivative taken at x = 0, -3, 3.
  Tensor DY = Tensor::fromVector<T>({T(1.5), T(-2), T(0.25), T(3)}, {4});
  Tensor K = Tensor::fromVector<T>({T(0), -T(0), T(-3), T(3)}, {4});
  checkGrad<T, mote_rt::UnaryP>(OpKind::ReluGrad, DY, K, {}, "relu_grad",
                                mote_rt::relu_grad<T>, true);
  checkGrad<T, mote_rt::UnaryP>(OpKind::HardSwishGrad, DY, K, {},
                                "hard_swish_grad", mote_rt::hard_swish_grad<T>,
                                true);
  checkGrad<T, mote_rt::LeakyReluP>(OpKind::LeakyReluGrad, DY, K, {},
                                    "leaky_relu_grad",
                                    mote_rt::leaky_relu_grad<T>, true);
  // The tanh form of the gelu derivative, over its tails too.
  for (const Shape &S : {Shape{2, 3, 5}, Shape{40}}) {
    Tensor G = randomOf<T>(S, ++Seed, -2, 2);
    Tensor X = randomOf<T>(S, ++Seed, -9, 9);
    checkGrad<T, mote_rt::UnaryP>(OpKind::GeluGrad, G, X,
                                  attrs({{"approximate", std::string("tanh")}}),
                                  "gelu_tanh_grad", mote_rt::gelu_tanh_grad<T>);
    checkGrad<T, mote_rt::UnaryP>(OpKind::GeluGrad, G, X,
                                  attrs({{"approximate", std::string("none")}}),
                                  "gelu_grad", mote_rt::gelu_grad<T>);
  }
}

TEMPLATE_TEST_CASE("kernel activation gradients with attributes", "[kernel]",
                   float, double) {
  using T = TestType;
  Tensor DY = randomOf<T>({4, 7}, 110, -2, 2);
  Tensor X = randomOf<T>({4, 7}, 111, -8, 8);
  checkGrad<T, mote_rt::LeakyReluP>(OpKind::LeakyReluGrad, DY, X,
                                    attrs({{"alpha", 0.2f}}), "leaky_relu_grad",
                                    mote_rt::leaky_relu_grad<T>, true);
  for (const AttrMap &A :
       {attrs({{"min", 0.0f}, {"max", 6.0f}}), attrs({{"min", -1.5f}}),
        attrs({{"max", 2.0f}}), AttrMap{}})
    checkGrad<T, mote_rt::ClipP>(OpKind::ClipGrad, DY, X, A, "clip_grad",
                                 mote_rt::clip_grad<T>, true);
  // The clip bounds themselves pass no gradient.
  Tensor B = Tensor::fromVector<T>({T(0), T(6), T(3), T(-1)}, {4});
  Tensor G = Tensor::fromVector<T>({T(1), T(1), T(1), T(1)}, {4});
  checkGrad<T, mote_rt::ClipP>(OpKind::ClipGrad, G, B,
                               attrs({{"min", 0.0f}, {"max", 6.0f}}),
                               "clip_grad", mote_rt::clip_grad<T>, true);
  for (const AttrMap &A : {AttrMap{}, attrs({{"alpha", 0.3f}, {"beta", 0.1f}}),
                           attrs({{"alpha", -0.7f}, {"beta", 0.25f}}),
                           attrs({{"alpha", 0.0f}, {"beta", 0.5f}})})
    checkGrad<T, mote_rt::HardSigmoidGradP>(
        OpKind::HardSigmoidGrad, DY, X, A, "hard_sigmoid_grad",
        mote_rt::hard_sigmoid_grad<T>, true);
}

namespace {

/// The activations whose gradient is a mask, as ActivationGradSum and
/// ActivationMask name them: ReLU, ReLU6, and Clip with one, the other or
/// no bound.
std::vector<AttrMap> maskActivations() {
  return {attrs({{"activation", std::string("Relu")}}),
          attrs({{"activation", std::string("Clip")},
                 {"activation_min", 0.0f},
                 {"activation_max", 6.0f}}),
          attrs({{"activation", std::string("Clip")},
                 {"activation_min", -1.5f}}),
          attrs({{"activation", std::string("Clip")},
                 {"activation_max", 2.0f}}),
          attrs({{"activation", std::string("Clip")}})};
}

} // namespace

TEMPLATE_TEST_CASE("kernel activation_grad_sum: the gradient of relu_grad / "
                   "clip_grad and its channel sums",
                   "[kernel]", float, double) {
  using T = TestType;
  uint32_t Seed = 140;
  for (const Shape &S : {Shape{2, 5, 3, 7}, Shape{3, 4}, Shape{1, 3, 2, 2, 2},
                         Shape{2, 1, 1, 1}}) {
    Tensor DY = randomOf<T>(S, ++Seed, -2, 2);
    Tensor V = randomOf<T>(S, ++Seed, -8, 8);
    // Some values exactly at the bounds: no gradient passes there.
    V.template data<T>()[0] = T(0);
    for (const AttrMap &A : maskActivations()) {
      for (int64_t Keep : {0, 1}) {
        AttrMap AK = A;
        AK.set("keepdims", Keep);
        INFO("shape " << shapeStr(S) << " keepdims " << Keep << " clip "
                      << AK.getString("activation", ""));
        LoweredOp L = lowerOp(OpKind::ActivationGradSum, {DY, V}, AK, 2);
        REQUIRE_FALSE(L.LowerError);
        CHECK(L.Call.Kernel == "activation_grad_sum");
        auto P = paramsAs<mote_rt::ActGradSumP>(L.Call);
        std::vector<T> DX(L.outElems(0)), DB(L.outElems(1));
        CHECK(DB.size() == size_t(S[1]));
        mote_rt::activation_grad_sum<T>(P, L.in<T>(0), L.in<T>(1), DX.data(),
                                        DB.data());
        checkExact(L.Run.Results[0], DX.data());
        // The interpreter sums in double; the float kernel compensates.
        checkSame(L.Run.Results[1], DB, 1e-6, 1e-6);
      }
    }
  }
  // HardSwish's gradient is no mask: refused, not taken for Relu.
  {
    Tensor G = randomOf<T>({2, 3}, 160, -1, 1);
    OpRun R = runOp(OpKind::ActivationGradSum, {G, G},
                    attrs({{"activation", std::string("HardSwish")}}), 2);
    REQUIRE(R.Error);
    CHECK(R.Error->Message ==
          "activation must be \"Relu\" or \"Clip\", got \"HardSwish\"");
  }
  // The bounds on special values: signed zeros, subnormals, the values
  // next to the bounds, infinities and NaNs of both signs, against every
  // kind of bound the float kernel tests on the bits (Lo >= 0: ReLU,
  // ReLU6, one-sided, empty and infinite ranges) and the ones it tests as
  // floats; dY holds infinities, NaN and -0, whose products with the
  // test's 0 the kernel must keep. dX must match bit for bit (the sign of
  // a zero included).
  {
    const T Inf = std::numeric_limits<T>::infinity();
    const T NaN = std::numeric_limits<T>::quiet_NaN();
    const T Den = std::numeric_limits<T>::denorm_min();
    const std::vector<T> Vs = {T(-0.0), T(0), Den, -Den,
                               T(1e-30), std::nextafter(T(6), T(0)),
                               T(6), std::nextafter(T(6), Inf),
                               Inf, -Inf, NaN, -NaN,
                               T(3), T(-3), T(2), T(1),
                               std::numeric_limits<T>::max(),
                               std::numeric_limits<T>::min()};
    const std::vector<T> Ds = {T(1), T(-2), Inf, NaN, T(-0.0), -Inf,
                               T(0.5), T(-1), T(3)};
    for (const Shape &S : {Shape{2, 2, 9}, Shape{18, 2}, Shape{1, 1, 36}}) {
      Tensor DY(TensorType(DTypeOf<T>::value, S)),
          V(TensorType(DTypeOf<T>::value, S));
      for (int64_t I = 0; I < DY.numElements(); ++I) {
        V.template data<T>()[size_t(I)] = Vs[size_t(I) % Vs.size()];
        DY.template data<T>()[size_t(I)] = Ds[size_t(I) % Ds.size()];
      }
      auto Clip = [](std::optional<float> Lo, std::optional<float> Hi) {
        AttrMap A = attrs({{"activation", std::string("Clip")}});
        if (Lo)
          A.set("activation_min", *Lo);
        if (Hi)
          A.set("activation_max", *Hi);
        return A;
      };
      const float FInf = std::numeric_limits<float>::infinity();
      for (const AttrMap &A :
           {attrs({{"activation", std::string("Relu")}}), Clip(0.0f, 6.0f),
            Clip(-0.0f, 6.0f), Clip(0.0f, std::nullopt), Clip(2.0f, 1.0f),
            Clip(0.0f, -1.0f), Clip(0.0f, FInf), Clip(FInf, std::nullopt),
            Clip(1e-30f, 2.0f), Clip(-1.0f, 6.0f), Clip(std::nullopt, 6.0f),
            Clip(-FInf, 0.0f)}) {
        INFO("shape " << shapeStr(S) << " min "
                      << A.getFloat("activation_min", -999.0f) << " max "
                      << A.getFloat("activation_max", -999.0f));
        LoweredOp L = lowerOp(OpKind::ActivationGradSum, {DY, V}, A, 2);
        REQUIRE_FALSE(L.LowerError);
        std::vector<T> DX(L.outElems(0)), DB(L.outElems(1));
        mote_rt::activation_grad_sum<T>(
            paramsAs<mote_rt::ActGradSumP>(L.Call), L.in<T>(0), L.in<T>(1),
            DX.data(), DB.data());
        auto W = L.Run.Results[0].template data<T>();
        for (size_t I = 0; I < DX.size(); ++I) {
          INFO("element " << I << ": v " << +V.template data<T>()[I]
                          << ", want " << +W[I] << ", got " << +DX[I]);
          if (std::isnan(W[I]))
            CHECK(std::isnan(DX[I]));
          else
            CHECK(std::bit_cast<std::conditional_t<sizeof(T) == 4, uint32_t,
                                                   uint64_t>>(W[I]) ==
                  std::bit_cast<std::conditional_t<sizeof(T) == 4, uint32_t,
                                                   uint64_t>>(DX[I]));
        }
        checkSameOrNonFinite(L.Run.Results[1], DB);
      }
    }
  }
  // Empty planes: every channel sums to 0.
  {
    Tensor DY(TensorType(DTypeOf<T>::value, {2, 3, 0}));
    LoweredOp L = lowerOp(OpKind::ActivationGradSum, {DY, DY},
                          attrs({{"activation", std::string("Relu")}}), 2);
    REQUIRE_FALSE(L.LowerError);
    // dX has room for a few blocks: sized 1, GCC 12 -O2 sees the buffer
    // and flags the unrolled blocks of the long-row path (-Warray-bounds),
    // which an empty plane never takes.
    std::vector<T> DX(64), DB(3, T(7));
    mote_rt::activation_grad_sum<T>(paramsAs<mote_rt::ActGradSumP>(L.Call),
                                    L.in<T>(0), L.in<T>(1), DX.data(),
                                    DB.data());
    checkSame(L.Run.Results[1], DB);
    CHECK(DB == std::vector<T>(3, T(0)));
  }
  // The same values as ReluGrad then ReduceSum give: dX bit for bit, the
  // sums within a few ulp of reduce_sum's (long rows: parts of 8 inside a
  // row; short rows: several rows per part).
  for (const Shape &S : {Shape{2, 6, 5, 7}, Shape{9, 40}, Shape{3, 4, 3}}) {
    INFO("shape " << shapeStr(S));
    Tensor DY = randomOf<T>(S, 150, -1, 1);
    Tensor V = randomOf<T>(S, 151, -1, 1);
    LoweredOp F = lowerOp(OpKind::ActivationGradSum, {DY, V},
                          attrs({{"activation", std::string("Relu")},
                                 {"keepdims", int64_t(0)}}),
                          2);
    LoweredOp R = lowerOp(OpKind::ReluGrad, {DY, V});
    std::vector<T> DX(F.outElems(0)), DB(F.outElems(1)), Plain(R.outElems(0));
    mote_rt::activation_grad_sum<T>(paramsAs<mote_rt::ActGradSumP>(F.Call),
                                    F.in<T>(0), F.in<T>(1), DX.data(),
                                    DB.data());
    mote_rt::relu_grad<T>(paramsAs<mote_rt::UnaryP>(R.Call), R.in<T>(0),
                          R.in<T>(1), Plain.data());
    CHECK(DX == Plain);
    Tensor PlainT(TensorType(DTypeOf<T>::value, S));
    std::copy(Plain.begin(), Plain.end(), PlainT.template data<T>().begin());
    std::vector<int64_t> Axes = {0};
    for (size_t D = 2; D < S.size(); ++D)
      Axes.push_back(int64_t(D));
    LoweredOp Sum = lowerOp(OpKind::ReduceSum, {PlainT},
                            attrs({{"axes", Axes}, {"keepdims", int64_t(0)}}));
    std::vector<T> Want(Sum.outElems(0));
    mote_rt::reduce_sum<T>(paramsAs<mote_rt::ReduceP>(Sum.Call), Sum.in<T>(0),
                           Want.data());
    // Bound: 9 ulp of the sum of |dX| per channel.
    for (size_t C = 0; C < Want.size(); ++C) {
      double Abs = 0;
      for (int64_t N = 0; N < S[0]; ++N)
        for (int64_t I = 0, In = PlainT.numElements() / (S[0] * S[1]); I < In;
             ++I)
          Abs += std::abs(double(Plain[size_t((N * S[1] + int64_t(C)) * In + I)]));
      INFO("channel " << C);
      CHECK(std::abs(double(DB[C]) - double(Want[C])) <=
            9 * double(std::numeric_limits<T>::epsilon()) * Abs);
    }
  }
}

TEMPLATE_TEST_CASE("kernel mask_pack, mask_grad, mask_grad_sum: one bit per "
                   "element gives ReluGrad's, ClipGrad's and "
                   "ActivationGradSum's results",
                   "[kernel]", float, double) {
  using T = TestType;
  uint32_t Seed = 170;
  // Element counts that are and are not multiples of 8.
  for (const Shape &S : {Shape{2, 5, 3, 7}, Shape{3, 4}, Shape{1, 8, 2, 2},
                         Shape{2, 1, 1, 1}, Shape{1, 3, 1, 3}}) {
    Tensor DY = randomOf<T>(S, ++Seed, -2, 2);
    Tensor V = randomOf<T>(S, ++Seed, -8, 8);
    V.template data<T>()[0] = T(0); // a bound: no gradient passes there
    for (const AttrMap &A : maskActivations()) {
      INFO("shape " << shapeStr(S) << " "
                    << A.getString("activation", "") << " min "
                    << A.getFloat("activation_min", -1) << " max "
                    << A.getFloat("activation_max", -1));
      LoweredOp M = lowerOp(OpKind::ActivationMask, {V}, A);
      REQUIRE_FALSE(M.LowerError);
      CHECK(M.Call.Kernel == "mask_pack");
      const int64_t Bytes = (V.numElements() + 7) / 8;
      REQUIRE(M.Run.Results[0].shape() == Shape{Bytes});
      std::vector<uint8_t> Mask(size_t(Bytes), 0xAB);
      mote_rt::mask_pack<T>(paramsAs<mote_rt::ClipP>(M.Call), M.in<T>(0),
                            Mask.data());
      checkExact(M.Run.Results[0], Mask.data());

      // MaskGrad on the mask is exactly the activation's gradient on the
      // values: dX bit for bit, dB as the interpreter sums it.
      AttrMap K;
      K.set("keepdims", int64_t(1));
      LoweredOp G = lowerOp(OpKind::MaskGrad, {DY, M.Run.Results[0]}, K);
      REQUIRE_FALSE(G.LowerError);
      CHECK(G.Call.Kernel == "mask_grad");
      std::vector<T> DX(G.outElems(0));
      mote_rt::mask_grad<T>(paramsAs<mote_rt::UnaryP>(G.Call), G.in<T>(0),
                            G.in<uint8_t>(1), DX.data());
      AttrMap AK = A;
      AK.set("keepdims", int64_t(1));
      OpRun Want = runOp(OpKind::ActivationGradSum, {DY, V}, AK, 2);
      REQUIRE_FALSE(Want.Error);
      checkExact(Want.Results[0], DX.data());
      checkExact(G.Run.Results[0], DX.data());

      LoweredOp GS = lowerOp(OpKind::MaskGrad, {DY, M.Run.Results[0]}, K, 2);
      REQUIRE_FALSE(GS.LowerError);
      CHECK(GS.Call.Kernel == "mask_grad_sum");
      std::vector<T> DX2(GS.outElems(0)), DB(GS.outElems(1));
      mote_rt::mask_grad_sum<T>(paramsAs<mote_rt::ActGradSumP>(GS.Call),
                                GS.in<T>(0), GS.in<uint8_t>(1), DX2.data(),
                                DB.data());
      checkExact(Want.Results[0], DX2.data());
      checkExact(GS.Run.Results[1], Want.Results[1].template data<T>().data());
      checkSame(Want.Results[1], DB, 1e-6, 1e-6);
    }
  }
  // A mask of the wrong size, a gradient without a channel axis for the
  // sum, and an activation whose gradient is no mask are refused.
  Tensor DY = randomOf<T>({2, 9}, 190, -1, 1);
  OpRun R = runOp(OpKind::MaskGrad,
                  {DY, Tensor::fromVector<uint8_t>({0, 0}, {2})});
  REQUIRE(R.Error);
  CHECK(R.Error->Message ==
        "the mask must be u8[3] (one bit per element of the gradient " +
            DY.type().str() + "), got u8[2]");
  Tensor D1 = randomOf<T>({9}, 191, -1, 1);
  R = runOp(OpKind::MaskGrad, {D1, Tensor::fromVector<uint8_t>({0, 0}, {2})},
            {}, 2);
  REQUIRE(R.Error);
  CHECK(R.Error->Message.find("needs a channel axis") != std::string::npos);
  R = runOp(OpKind::ActivationMask, {DY},
            attrs({{"activation", std::string("Sigmoid")}}));
  REQUIRE(R.Error);
  CHECK(R.Error->Message ==
        "activation must be \"Relu\" or \"Clip\", got \"Sigmoid\"");
}

TEST_CASE("kernel hard_sigmoid_grad agrees at the float edges of its interval",
          "[kernel]") {
  // The interpreter tests 0 < alpha x + beta < 1 in double; the float
  // kernel tests lo < x < hi with the interval the lowering computed. Every
  // float next to the ends must fall on the same side.
  for (auto [Alpha, Beta] :
       {std::pair{0.2f, 0.5f}, std::pair{0.3f, 0.1f}, std::pair{-0.7f, 0.25f},
        std::pair{1e-3f, 0.9f}, std::pair{3.0f, -2.0f}}) {
    std::vector<float> V;
    for (double End : {-double(Beta) / Alpha, (1 - double(Beta)) / Alpha}) {
      float F = float(End);
      for (int I = 0; I < 4; ++I) {
        V.push_back(F);
        V.push_back(std::nextafter(F, std::numeric_limits<float>::infinity()));
        V.push_back(std::nextafter(F, -std::numeric_limits<float>::infinity()));
        F = std::nextafter(F, std::numeric_limits<float>::infinity());
      }
    }
    V.push_back(std::numeric_limits<float>::infinity());
    V.push_back(-std::numeric_limits<float>::infinity());
    V.push_back(std::numeric_limits<float>::quiet_NaN());
    Tensor X = Tensor::fromVector<float>(V, {int64_t(V.size())});
    Tensor DY(TensorType(DType::F32, {int64_t(V.size())}));
    for (float &G : DY.data<float>())
      G = 1;
    INFO("alpha " << Alpha << ", beta " << Beta);
    checkGrad<float, mote_rt::HardSigmoidGradP>(
        OpKind::HardSigmoidGrad, DY, X,
        attrs({{"alpha", Alpha}, {"beta", Beta}}), "hard_sigmoid_grad",
        mote_rt::hard_sigmoid_grad<float>, true);
  }
}
