//===- MathHelpersTest.cpp - runtime-stub math.h against the host libm ----===//
//
// Sweeps each function of mote_rt/math.h densely over its range and compares
// it with the host's libm evaluated one precision higher (double for the
// float functions, long double for the double ones), so the reference is
// itself within a tiny fraction of an ulp. Errors are measured in ulps of
// the result type at the true value; the measured maxima are printed so
// they can be quoted, and checked against the bounds math.h states. Special
// values (zeros, infinities, NaN, negative arguments, pow's corner cases)
// must match the host libm exactly.
//
//===----------------------------------------------------------------------===//

#include "mote_rt/math.h"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <vector>

namespace {

/// |Got - Want| in ulps of float at Want (Want exact enough: a double).
double ulpsF(float Got, double Want) {
  if (std::isnan(Want))
    return std::isnan(Got) ? 0 : 1e30;
  float WantF = float(Want);
  if (std::isinf(WantF))
    return Got == WantF ? 0 : 1e30;
  int E;
  std::frexp(std::fabs(Want), &E);
  double Ulp = std::ldexp(1.0, std::max(E - 24, -149));
  return std::fabs(double(Got) - Want) / Ulp;
}

/// |Got - Want| in ulps of double at Want.
double ulpsD(double Got, long double Want) {
  if (std::isnan(Want))
    return std::isnan(Got) ? 0 : 1e30;
  double WantD = double(Want);
  if (std::isinf(WantD))
    return Got == WantD ? 0 : 1e30;
  int E;
  std::frexp(WantD, &E);
  long double Ulp = std::ldexp(1.0L, std::max(E - 53, -1074));
  return double(std::fabs((long double)Got - Want) / Ulp);
}

/// N + 1 points over [Lo, Hi], evenly or logarithmically spaced.
std::vector<double> points(double Lo, double Hi, int N, bool Log) {
  std::vector<double> P;
  P.reserve(size_t(N) + 1);
  for (int I = 0; I <= N; ++I) {
    double T = double(I) / N;
    P.push_back(Log ? std::exp(std::log(Lo) + T * (std::log(Hi) - std::log(Lo)))
                    : Lo + T * (Hi - Lo));
  }
  return P;
}

/// Max error in ulps of \p F against \p Ref over the points; prints it.
template <class F, class R>
double sweepF(const char *Name, double Lo, double Hi, bool Log, F Fn, R Ref,
              double Bound) {
  double Max = 0, At = 0;
  for (double P : points(Lo, Hi, 200000, Log)) {
    float X = float(P);
    double E = ulpsF(Fn(X), Ref(double(X)));
    if (E > Max) {
      Max = E;
      At = X;
    }
  }
  std::printf("math.h float  %-12s on [%g, %g]: max error %.3f ulp at %.9g "
              "(bound %g)\n",
              Name, Lo, Hi, Max, At, Bound);
  return Max;
}

template <class F, class R>
double sweepD(const char *Name, double Lo, double Hi, bool Log, F Fn, R Ref,
              double Bound) {
  double Max = 0, At = 0;
  for (double X : points(Lo, Hi, 200000, Log)) {
    double E = ulpsD(Fn(X), Ref((long double)X));
    if (E > Max) {
      Max = E;
      At = X;
    }
  }
  std::printf("math.h double %-12s on [%g, %g]: max error %.3f ulp at %.17g "
              "(bound %g)\n",
              Name, Lo, Hi, Max, At, Bound);
  return Max;
}

/// Same value, same sign of zero, or both NaN.
template <class T> bool identical(T A, T B) {
  if (std::isnan(A) || std::isnan(B))
    return std::isnan(A) && std::isnan(B);
  return A == B && std::signbit(A) == std::signbit(B);
}

template <class T> std::vector<T> specialValues() {
  using L = std::numeric_limits<T>;
  return {
      T(0),     -T(0),           T(1),          T(-1),          T(2),
      T(-2),    T(0.5),          T(-0.5),       T(3),           T(-3),
      T(1.5),   T(-1.5),         T(0.25),       T(7),           T(-7),
      T(64),    T(-64),          T(65),         T(-65),         T(1e20),
      T(-1e20), T(1e-20),        T(-1e-20),     L::max(),       -L::max(),
      L::min(), L::denorm_min(), L::infinity(), -L::infinity(), L::quiet_NaN()};
}

} // namespace

TEST_CASE("math.h float functions stay within a few ulp of libm",
          "[kernel][math]") {
  auto Exp = [](float X) { return mote_rt::exp(X); };
  auto Log = [](float X) { return mote_rt::log(X); };
  auto Tanh = [](float X) { return mote_rt::tanh(X); };
  auto Erf = [](float X) { return mote_rt::erf(X); };
  auto Sqrt = [](float X) { return mote_rt::sqrt(X); };
  CHECK(sweepF(
            "exp", -87, 88, false, Exp, [](double X) { return std::exp(X); },
            1.5) <= 1.5);
  // Through the subnormal results down to 0.
  CHECK(sweepF(
            "exp", -104, -87, false, Exp, [](double X) { return std::exp(X); },
            1.5) <= 1.5);
  CHECK(sweepF(
            "log", 1e-30, 1e30, true, Log, [](double X) { return std::log(X); },
            1.5) <= 1.5);
  CHECK(sweepF(
            "log", 0.5, 2, false, Log, [](double X) { return std::log(X); },
            1.5) <= 1.5);
  CHECK(sweepF(
            "log", 1e-45, 1e-37, true, Log, // subnormal arguments
            [](double X) { return std::log(X); }, 1.5) <= 1.5);
  CHECK(sweepF(
            "tanh", -20, 20, false, Tanh, [](double X) { return std::tanh(X); },
            3) <= 3);
  CHECK(sweepF(
            "tanh", 1e-10, 1, true, Tanh, [](double X) { return std::tanh(X); },
            3) <= 3);
  CHECK(sweepF(
            "erf", -6, 6, false, Erf, [](double X) { return std::erf(X); },
            3) <= 3);
  CHECK(sweepF(
            "erf", 1e-10, 1, true, Erf, [](double X) { return std::erf(X); },
            3) <= 3);
  // Correctly rounded: half an ulp (plus the reference's own 2^-29 ulp).
  CHECK(sweepF(
            "sqrt", 0, 1e30, false, Sqrt, [](double X) { return std::sqrt(X); },
            0.501) <= 0.501);
  CHECK(sweepF(
            "sqrt", 1e-45, 1e30, true, Sqrt,
            [](double X) { return std::sqrt(X); }, 0.501) <= 0.501);
  CHECK(sweepF(
            "pow(x, 2.5)", 1e-10, 1e10, true,
            [](float X) { return mote_rt::pow(X, 2.5f); },
            [](double X) { return std::pow(X, 2.5); }, 1) <= 1);
  CHECK(sweepF(
            "pow(x, 3)", -1e10, 1e10, false,
            [](float X) { return mote_rt::pow(X, 3.0f); },
            [](double X) { return std::pow(X, 3.0); }, 1) <= 1);
  CHECK(sweepF(
            "pow(x, -7)", 1e-6, 1e6, true,
            [](float X) { return mote_rt::pow(X, -7.0f); },
            [](double X) { return std::pow(X, -7.0); }, 1) <= 1);
  CHECK(sweepF(
            "pow(1.7, y)", -150, 150, false,
            [](float Y) { return mote_rt::pow(1.7f, Y); },
            [](double Y) { return std::pow(double(1.7f), Y); }, 1) <= 1);
  CHECK(sweepF(
            "pow(-1.3, n)", -300, 300, false,
            [](float Y) { return mote_rt::pow(-1.3f, std::round(Y)); },
            [](double Y) { return std::pow(double(-1.3f), std::round(Y)); },
            1) <= 1);
}

TEST_CASE("math.h double functions stay within a few ulp of libm",
          "[kernel][math]") {
  auto Exp = [](double X) { return mote_rt::exp(X); };
  auto Log = [](double X) { return mote_rt::log(X); };
  auto Tanh = [](double X) { return mote_rt::tanh(X); };
  auto Erf = [](double X) { return mote_rt::erf(X); };
  CHECK(sweepD(
            "exp", -708, 709, false, Exp,
            [](long double X) { return std::exp(X); }, 2) <= 2);
  CHECK(sweepD(
            "log", 1e-300, 1e300, true, Log,
            [](long double X) { return std::log(X); }, 2) <= 2);
  CHECK(sweepD(
            "log", 0.5, 2, false, Log,
            [](long double X) { return std::log(X); }, 2) <= 2);
  CHECK(sweepD(
            "tanh", -20, 20, false, Tanh,
            [](long double X) { return std::tanh(X); }, 4) <= 4);
  CHECK(sweepD(
            "tanh", 1e-10, 1, true, Tanh,
            [](long double X) { return std::tanh(X); }, 4) <= 4);
  CHECK(sweepD(
            "erf", -6, 6, false, Erf, [](long double X) { return std::erf(X); },
            4) <= 4);
  CHECK(sweepD(
            "erf", 1e-10, 1, true, Erf,
            [](long double X) { return std::erf(X); }, 4) <= 4);
  CHECK(sweepD(
            "sqrt", 1e-300, 1e300, true,
            [](double X) { return mote_rt::sqrt(X); },
            [](long double X) { return std::sqrt(X); }, 0.501) <= 0.501);
  // pow in double is e^(y ln x) without extra precision: the error grows
  // with |y ln x| (here up to 530), about |y ln x| ulp.
  CHECK(sweepD(
            "pow(1.7, y)", -1000, 1000, false,
            [](double Y) { return mote_rt::pow(1.7, Y); },
            [](long double Y) { return std::pow((long double)1.7, Y); },
            1000) <= 1000);
  CHECK(sweepD(
            "pow(x, 3)", -1e10, 1e10, false,
            [](double X) { return mote_rt::pow(X, 3.0); },
            [](long double X) { return std::pow(X, 3.0L); }, 2) <= 2);
}

TEST_CASE("math.h soft sqrt is correctly rounded", "[kernel][math]") {
  // The path for targets without a square root instruction, run here on
  // purpose: every result must equal the host's (correctly rounded) sqrt.
  int BadF = 0, BadD = 0;
  for (double P : points(1e-45, 3e38, 300000, true)) {
    float X = float(P);
    BadF += !identical(mote_rt::math_detail::softSqrt(X), std::sqrt(X));
  }
  for (uint32_t B = 1; B < 1u << 23; B += 997) { // subnormals
    float X = std::bit_cast<float>(B);
    BadF += !identical(mote_rt::math_detail::softSqrt(X), std::sqrt(X));
  }
  for (double X : points(4.9e-324, 1.7e308, 300000, true))
    BadD += !identical(mote_rt::math_detail::softSqrt(X), std::sqrt(X));
  CHECK(BadF == 0);
  CHECK(BadD == 0);
  for (float X : specialValues<float>())
    CHECK(identical(mote_rt::math_detail::softSqrt(X), std::sqrt(X)));
  for (double X : specialValues<double>())
    CHECK(identical(mote_rt::math_detail::softSqrt(X), std::sqrt(X)));
}

/// Checks \p Got against the precise value \p Want: within \p Bound ulp if
/// the rounded value is finite and nonzero, else exactly (zeros with their
/// sign, infinities, NaN).
template <class T> void checkAgainst(T Got, long double Want, double Bound) {
  T WantT = T(Want);
  INFO("got " << Got << ", want " << WantT);
  if (std::isfinite(WantT) && WantT != 0) {
    if constexpr (sizeof(T) == 4)
      CHECK(ulpsF(Got, double(Want)) <= Bound);
    else
      CHECK(ulpsD(Got, Want) <= Bound);
  } else {
    CHECK(identical(Got, WantT));
  }
}

TEMPLATE_TEST_CASE("math.h special values match libm", "[kernel][math]", float,
                   double) {
  using T = TestType;
  using W = std::conditional_t<sizeof(T) == 4, double, long double>;
  for (T X : specialValues<T>()) {
    INFO("x = " << X);
    checkAgainst(mote_rt::sqrt(X), std::sqrt(W(X)), 0.501);
    checkAgainst(mote_rt::exp(X), std::exp(W(X)), 2);
    checkAgainst(mote_rt::log(X), std::log(W(X)), 2);
    checkAgainst(mote_rt::tanh(X), std::tanh(W(X)), 4);
    checkAgainst(mote_rt::erf(X), std::erf(W(X)), 4);
  }
  // exp at the edges of its range: largest finite result, overflow,
  // underflow through the subnormals to 0.
  for (T X : {T(-745.2), T(-745.1), T(-103.98), T(-103.9), T(-100), T(88.7228),
              T(88.7229), T(709.78), T(709.79)}) {
    INFO("x = " << X);
    checkAgainst(mote_rt::exp(X), std::exp(W(X)), 2);
  }
}

TEMPLATE_TEST_CASE("math.h pow follows C99 on special cases", "[kernel][math]",
                   float, double) {
  using T = TestType;
  using W = std::conditional_t<sizeof(T) == 4, double, long double>;
  // Every pair of special values: libm's result exactly where it is a
  // zero, an infinity or NaN (signs included), else within 1 ulp (float)
  // or 4 + 1.5 |y ln x| ulp (double, see math.h).
  for (T X : specialValues<T>())
    for (T Y : specialValues<T>()) {
      INFO("pow(" << X << ", " << Y << ")");
      double Tol = 1;
      if (sizeof(T) == 8)
        Tol = 4 + 1.5 * std::fabs(double(Y) * std::log(std::fabs(double(X))));
      if (std::isnan(Tol))
        Tol = 4;
      checkAgainst(mote_rt::pow(X, Y), std::pow(W(X), W(Y)), Tol);
    }
}
