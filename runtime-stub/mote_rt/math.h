//===- math.h - Freestanding elementary functions ---------------*- C++ -*-===//
//
// sqrt, exp, log, tanh, erf and pow for float and double, without libm, for
// the kernels of runtime-stub (no libc, no tables, no errno). Each follows
// libm's treatment of special values: log(0) = -inf, log(x < 0) = NaN,
// e^x overflows to inf and underflows through the subnormals to 0, NaN in
// gives NaN out, pow follows C99 Annex F (pow(x, +-0) = 1, pow(1, y) = 1,
// negative bases only with integer exponents, signed zeros and infinities).
//
// Accuracy, the largest error seen against the host libm over dense sweeps
// (tests/unit/MathHelpersTest.cpp measures and prints it; ulp of the result
// type at the exact value):
//   float : sqrt 0.5 ulp (correctly rounded); exp 0.92 (on [-87, 88] and
//           down through the subnormals); log 0.83 (on [1e-45, 1e30]); tanh
//           2.2 (on [-20, 20]); erf 2.4 (on [-6, 6]); pow 0.5 (it rounds a
//           double result, see below).
//   double: sqrt 0.5 ulp; exp 0.92; log 0.87; tanh 2.4; erf 1.6; pow about
//           |y ln x| ulp (e^(y ln x) without extra precision: up to ~700 ulp,
//           1.6e-13, for results near the ends of the double range), not
//           correctly rounded.
//
// Methods (coefficients are Chebyshev fits made for this file):
//   exp   x = k ln2 + r, |r| <= ln2/2 (ln2 split in two so k ln2 is exact),
//         e^r = 1 + r + r^2 P(r), scaled by 2^k in two steps so that
//         subnormal results are rounded once.
//   log   x = 2^e m, m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f),
//         log(1 + f) = f - f^2/2 + s (f^2/2 + s^2 G(s^2)), G from
//         2 atanh(s) = log(1 + f); e ln2 added in two parts.
//   tanh  tanh(a) = expm1(2a) / (expm1(2a) + 2), with expm1 from the exp
//         reduction (2^k expm1(r) + (2^k - 1)), so small arguments keep
//         their relative accuracy; 1 where tanh rounds to 1.
//   erf   |x| < 1: x P(x^2); 1 <= |x|: 1 - e^Q(|x|) with Q a fit of
//         log(erfc) on a few intervals; 1 where erf rounds to 1.
//   sqrt  the hardware instruction where there is one (SSE, AArch64, ARM
//         VFP single precision and, for double, VFP double precision);
//         elsewhere (Cortex-M4 double, Hexagon, ...) an exact integer square
//         root of the significand, correctly rounded.
//   pow   special cases first; y = 2, 1, -1, 1/2 exactly; float pow with an
//         integer |y| <= 64 by repeated squaring in double, any other y as
//         e^(y ln|x|) in double, so the float result is the rounding of a
//         value accurate to about 2^-45. On targets without a double FPU
//         those cases call the compiler's soft-float helpers (libgcc /
//         compiler-rt, never libm); y = 2 (x * x), the common case, does not.
//
// These functions must not be compiled with -ffast-math or
// -ffinite-math-only (they test for NaN and infinity).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_MATH_H
#define MOTE_RT_MATH_H

#include "mote_rt/core.h"

namespace mote_rt {

/// Lowest and highest value of an integer element type.
template <class T> struct IntLimits;
template <> struct IntLimits<int8_t> {
  static constexpr int8_t Lowest = -128, Max = 127;
};
template <> struct IntLimits<uint8_t> {
  static constexpr uint8_t Lowest = 0, Max = 255;
};
template <> struct IntLimits<int32_t> {
  static constexpr int32_t Lowest = -2147483647 - 1, Max = 2147483647;
};
template <> struct IntLimits<int64_t> {
  static constexpr int64_t Lowest = -9223372036854775807LL - 1,
                           Max = 9223372036854775807LL;
};

template <class T> MOTE_RT_INLINE constexpr T infinity() {
  return T(__builtin_huge_val());
}
template <class T> MOTE_RT_INLINE constexpr T quietNaN() {
  return T(__builtin_nan(""));
}

namespace math_detail {

/// Layout and constants of an IEEE 754 binary format.
template <class T> struct Fp;

template <> struct Fp<float> {
  using Bits = uint32_t;
  static constexpr int32_t MantBits = 23, Bias = 127, MinExp = -126,
                           MaxExp = 127;
  static constexpr Bits SignMask = 0x80000000u, AbsMask = 0x7FFFFFFFu,
                        InfBits = 0x7F800000u, MantMask = 0x007FFFFFu;
  /// Scale of the two-step 2^k (see scale2).
  static constexpr int32_t HalfScale = 64;
  /// ln 2 = Ln2Hi + Ln2Lo; Ln2Hi has 15 significant bits, so k Ln2Hi is
  /// exact for |k| < 512.
  static constexpr float Ln2Hi = 0.693145752f, Ln2Lo = 1.42860677e-06f;
  static constexpr float Log2e = 1.44269502f, HalfLn2 = 0.346573591f;
  /// Largest x with e^x < inf; below ExpZero e^x rounds to 0.
  static constexpr float ExpMax = 88.72283172607421875f, ExpZero = -104.0f;
  /// (e^r - 1 - r) / r^2 on |r| <= ln2/2; fit error 1.4e-9.
  static constexpr float ExpP[] = {0.5f,           0.166666672f,
                                   0.0416664667f,  0.00833331048f,
                                   0.00139336416f, 0.000198909809f};
  /// (2 atanh(s) / s - 2) / s^2 as a polynomial in z = s^2,
  /// z <= (3 - 2 sqrt 2)^2; fit error 1.2e-9.
  static constexpr float LogG[] = {0.666666687f, 0.400001228f, 0.285508215f,
                                   0.233304679f};
  /// Bits of the float just below sqrt 2.
  static constexpr Bits Sqrt2Bits = 0x3FB504F3u;
  /// tanh(a) rounds to 1 above TanhOne and equals a below TanhTiny.
  static constexpr float TanhOne = 9.1f, TanhTiny = 0x1p-12f;
  /// erf(x) / x as a polynomial in x^2 on |x| < 1; fit error 1.3e-9.
  static constexpr float ErfSmall[] = {
      1.12837911f,    -0.37612626f,    0.112835944f,   -0.0268542115f,
      0.00518908724f, -0.00080168643f, 7.87587487e-05f};
  /// erf rounds to 1 from ErfOne on.
  static constexpr float ErfOne = 4.0f;
};

template <> struct Fp<double> {
  using Bits = uint64_t;
  static constexpr int32_t MantBits = 52, Bias = 1023, MinExp = -1022,
                           MaxExp = 1023;
  static constexpr Bits SignMask = 0x8000000000000000ull,
                        AbsMask = 0x7FFFFFFFFFFFFFFFull,
                        InfBits = 0x7FF0000000000000ull,
                        MantMask = 0x000FFFFFFFFFFFFFull;
  static constexpr int32_t HalfScale = 512;
  /// Ln2Hi has 42 significant bits: k Ln2Hi is exact for |k| < 2048.
  static constexpr double Ln2Hi = 0.6931471805598903,
                          Ln2Lo = 5.497923018708371e-14;
  static constexpr double Log2e = 1.4426950408889634,
                          HalfLn2 = 0.34657359027997264;
  static constexpr double ExpMax = 709.782712893384, ExpZero = -745.2;
  /// Fit error 1.4e-18.
  static constexpr double ExpP[] = {0.5,
                                    0.1666666666666667,
                                    0.04166666666666667,
                                    0.008333333333326141,
                                    0.0013888888888883752,
                                    0.00019841269874800493,
                                    2.4801587325533363e-05,
                                    2.7557255425746435e-06,
                                    2.7557273661348637e-07,
                                    2.510520637395701e-08,
                                    2.0914679376583935e-09};
  /// Fit error 3.1e-16 (it is multiplied by s^3 <= 0.005).
  static constexpr double LogG[] = {0.666666666666667,   0.39999999999899505,
                                    0.28571428625975487, 0.2222221113479508,
                                    0.18182889125261723, 0.15331721600556042,
                                    0.14616449685043406};
  static constexpr Bits Sqrt2Bits = 0x3FF6A09E667F3BCCull;
  static constexpr double TanhOne = 19.1, TanhTiny = 0x1p-27;
  /// Fit error 1.3e-19.
  static constexpr double ErfSmall[] = {
      1.1283791670955126,      -0.3761263890318375,     0.11283791670954879,
      -0.026866170645076792,   0.0052239776248180145,   -0.000854832698083379,
      0.0001205533111164271,   -1.4925595266831182e-05, 1.6461000484121368e-06,
      -1.6350312701054695e-07, 1.4659775274047436e-08,  -1.1372848856791674e-09,
      5.957176147748911e-11};
  static constexpr double ErfOne = 6.0;
};

template <class T> MOTE_RT_INLINE typename Fp<T>::Bits bitsOf(T X) {
  return __builtin_bit_cast(typename Fp<T>::Bits, X);
}
template <class T> MOTE_RT_INLINE T fromBits(typename Fp<T>::Bits B) {
  return __builtin_bit_cast(T, B);
}

/// |X|. The builtins are expanded inline on every target (one vabs / fabs
/// instruction with an FPU, the sign bit cleared without one), never a
/// libm call; clearing the bit by hand costs a round trip through the
/// integer registers on Cortex-M.
template <class T> MOTE_RT_INLINE T absOf(T X) {
  if constexpr (sizeof(T) == 4)
    return __builtin_fabsf(X);
  else
    return __builtin_fabs(X);
}

/// C[0] + X (C[1] + X (C[2] + ...)).
template <class T, int N> MOTE_RT_INLINE T horner(const T (&C)[N], T X) {
  T R = C[N - 1];
  for (int I = N - 2; I >= 0; --I)
    R = R * X + C[I];
  return R;
}

/// 2^K for K in [MinExp, MaxExp].
template <class T> MOTE_RT_INLINE T pow2(int32_t K) {
  using B = typename Fp<T>::Bits;
  return fromBits<T>(B(B(K + Fp<T>::Bias) << Fp<T>::MantBits));
}

/// Y 2^K for |K| < MaxExp + HalfScale: two exact steps when 2^K itself is
/// out of range, so a subnormal result is rounded only once (by the last
/// multiplication) provided Y 2^(K + HalfScale) is normal.
template <class T> MOTE_RT_INLINE T scale2(T Y, int32_t K) {
  using F = Fp<T>;
  if (K > F::MaxExp)
    return Y * pow2<T>(K - F::HalfScale) * pow2<T>(F::HalfScale);
  if (K < F::MinExp)
    return Y * pow2<T>(K + F::HalfScale) * pow2<T>(-F::HalfScale);
  return Y * pow2<T>(K);
}

/// X = K ln2 + R with |R| <= ln2/2 (about); returns R.
template <class T> MOTE_RT_INLINE T reduceLn2(T X, int32_t &K) {
  using F = Fp<T>;
  T Kf = X * F::Log2e;
  K = int32_t(Kf < T(0) ? Kf - T(0.5) : Kf + T(0.5));
  // K Ln2Hi is exact and close to X, so X - K Ln2Hi is exact too.
  return (X - T(K) * F::Ln2Hi) - T(K) * F::Ln2Lo;
}

/// e^R - 1 for |R| <= ln2/2.
template <class T> MOTE_RT_INLINE T expm1Small(T R) {
  return R + R * R * horner(Fp<T>::ExpP, R);
}

template <class T> MOTE_RT_INLINE T expImpl(T X) {
  using F = Fp<T>;
  if (!(X == X))
    return X + X;
  if (X > F::ExpMax)
    return infinity<T>();
  if (X < F::ExpZero)
    return T(0);
  int32_t K;
  T R = reduceLn2(X, K);
  return scale2(T(1) + expm1Small(R), K);
}

/// e^X - 1 for X in [-87, 88] (not NaN), accurate relative to the result.
template <class T> MOTE_RT_INLINE T expm1Impl(T X) {
  if (absOf(X) < Fp<T>::HalfLn2)
    return expm1Small(X);
  int32_t K;
  T R = reduceLn2(X, K);
  T Two = pow2<T>(K);
  return Two * expm1Small(R) + (Two - T(1));
}

template <class T> MOTE_RT_INLINE T logImpl(T X) {
  using F = Fp<T>;
  using B = typename F::Bits;
  if (!(X == X))
    return X + X;
  if (X < T(0))
    return quietNaN<T>();
  if (X == T(0))
    return -infinity<T>();
  if (X == infinity<T>())
    return X;
  B Bits = bitsOf(X);
  int32_t E = 0;
  if (Bits < (B(1) << F::MantBits)) { // subnormal: scale into the normals
    Bits = bitsOf(X * pow2<T>(F::MantBits + 2));
    E = -(F::MantBits + 2);
  }
  E += int32_t(Bits >> F::MantBits) - F::Bias;
  B M = (Bits & F::MantMask) | (B(F::Bias) << F::MantBits); // [1, 2)
  if (M > F::Sqrt2Bits) { // m / 2 in [sqrt(1/2), 1)
    M -= B(1) << F::MantBits;
    ++E;
  }
  T Fm = fromBits<T>(M) - T(1); // exact
  T S = Fm / (T(2) + Fm);
  T Z = S * S;
  T R = Z * horner(F::LogG, Z);
  T Hfsq = T(0.5) * Fm * Fm;
  T Ek = T(E);
  return Ek * F::Ln2Hi - ((Hfsq - (S * (Hfsq + R) + Ek * F::Ln2Lo)) - Fm);
}

template <class T> MOTE_RT_INLINE T tanhImpl(T X) {
  using F = Fp<T>;
  if (!(X == X))
    return X + X;
  T A = absOf(X);
  if (A < F::TanhTiny)
    return X;
  T R = T(1);
  if (A <= F::TanhOne) {
    T Em = expm1Impl(A + A);
    R = Em / (Em + T(2));
  }
  return X < T(0) ? -R : R;
}

/// float: 1 <= a < 4, centre 2.5, fit error 8.3e-9 (enough for erf, where
/// erfc(a) <= 0.16 scales it); 4 <= a < 10.5, centre 7.25, fit error 4.8e-8
/// (the tail, for erfc only).
struct ErfFitF {
  static constexpr float Q1[] = {
      -7.80681515f,    -5.35268068f,    -0.943893671f,   -0.0108581129f,
      0.00216516992f,  -0.00042079165f, 7.73876018e-05f, -1.2925696e-05f,
      1.61558114e-06f, -7.58268186e-08f};
  static constexpr float Q2[] = {
      -55.125164f,     -14.6354237f,     -0.990991354f,   -0.000785356446f,
      7.58407332e-05f, -7.66933226e-06f, 7.63487776e-07f, -8.00176636e-08f,
      1.17389334e-08f, -1.22111765e-09f};
};

/// double: four pieces on [1, 6), fit errors 2.4e-17, 2.8e-17, 3.6e-16,
/// 3.5e-12 (the last two are scaled by erfc(a) <= 2.2e-5).
struct ErfFitD {
  static constexpr double Q1[] = { // [1, 2), centre 1.5
      -3.3844920895515527,    -3.5088008017795276,     -0.8926403306150443,
      -0.025824140633640053,  0.006006746386931637,    -0.001257216687068208,
      0.00021596329330798538, -2.2473682714239383e-05, -2.6467022312291183e-06,
      2.370782685840741e-06,  -8.195344671585508e-07,  1.9291231620771014e-07,
      -2.565359514899401e-08, -1.9587891928865947e-09};
  static constexpr double Q2[] = { // [2, 3), centre 2.5
      -7.806815272727264,      -5.352680750986392,      -0.9438937335241399,
      -0.010858072738456404,   0.0021654768989770525,   -0.0004209325638726634,
      7.703080579685223e-05,   -1.2755806400551193e-05, 1.768975149592741e-06,
      -1.5618693102422957e-07, -1.2566012076331478e-08, 1.1625474783149347e-08,
      -3.645750293514321e-09};
  static constexpr double Q3[] = { // [3, 4), centre 3.5
      -14.112437402148174,    -7.266099588365199,     -0.9667530547422305,
      -0.005225658221306581,  0.0008736873236674976,  -0.0001472977890927291,
      2.4386372956562453e-05, -3.889427079675299e-06, 5.856195375337415e-07,
      -8.121634802150659e-08, 9.511805186509167e-09};
  static constexpr double Q4[] = { // [4, 6), centre 5
      -27.200889545534363,    -10.192700054864046,    -0.9820669300441467,
      -0.0021526488425095496, 0.00028146299969599716, -3.801401573282258e-05,
      5.172685853435832e-06,  -7.00247560993484e-07,  9.722665207432207e-08,
      -1.2589973204132777e-08};
};

/// erfc(A) for A >= 1 (relative error about 1e-6 at the far end, from
/// rounding Q): e^Q(A), 0 where erfc underflows.
MOTE_RT_INLINE float erfcLarge(float A) {
  if (A < 4.0f)
    return expImpl(horner(ErfFitF::Q1, A - 2.5f));
  if (A < 10.5f)
    return expImpl(horner(ErfFitF::Q2, A - 7.25f));
  return 0.0f;
}

/// 1 - erf(A) for 1 <= A < ErfOne.
MOTE_RT_INLINE float erfcMid(float A) { return erfcLarge(A); }
MOTE_RT_INLINE double erfcMid(double A) {
  double Q;
  if (A < 2.0)
    Q = horner(ErfFitD::Q1, A - 1.5);
  else if (A < 3.0)
    Q = horner(ErfFitD::Q2, A - 2.5);
  else if (A < 4.0)
    Q = horner(ErfFitD::Q3, A - 3.5);
  else
    Q = horner(ErfFitD::Q4, A - 5.0);
  return expImpl(Q);
}

template <class T> MOTE_RT_INLINE T erfImpl(T X) {
  using F = Fp<T>;
  if (!(X == X))
    return X + X;
  T A = absOf(X);
  if (A < T(1))
    return X * horner(F::ErfSmall, X * X);
  T R = A < F::ErfOne ? T(1) - erfcMid(A) : T(1);
  return X < T(0) ? -R : R;
}

//===----------------------------------------------------------------------===//
// Square root.
//===----------------------------------------------------------------------===//

#if defined(__x86_64__) || defined(__aarch64__) ||                             \
    (defined(__ARM_FP) && (__ARM_FP & 4))
#define MOTE_RT_HW_SQRTF 1
#endif
#if defined(__x86_64__) || defined(__aarch64__) ||                             \
    (defined(__ARM_FP) && (__ARM_FP & 8))
#define MOTE_RT_HW_SQRT 1
#endif

// __builtin_sqrtf keeps a call to libm's sqrtf (for errno) unless the code
// is compiled with -fno-math-errno; clang's elementwise builtin never sets
// errno, and with GCC the instruction is spelt out.
#if defined(__clang__)
#if __has_builtin(__builtin_elementwise_sqrt)
#define MOTE_RT_SQRT_ELEMENTWISE 1
#endif
#endif

#if defined(MOTE_RT_HW_SQRTF)
MOTE_RT_INLINE float hwSqrt(float X) {
#if defined(MOTE_RT_SQRT_ELEMENTWISE)
  return __builtin_elementwise_sqrt(X);
#elif defined(__NO_MATH_ERRNO__)
  return __builtin_sqrtf(X);
#else
  float R;
#if defined(__x86_64__)
  __asm__("sqrtss %1, %0" : "=x"(R) : "x"(X));
#elif defined(__aarch64__)
  __asm__("fsqrt %s0, %s1" : "=w"(R) : "w"(X));
#else
  __asm__("vsqrt.f32 %0, %1" : "=t"(R) : "t"(X));
#endif
  return R;
#endif
}
#endif

#if defined(MOTE_RT_HW_SQRT)
MOTE_RT_INLINE double hwSqrt(double X) {
#if defined(MOTE_RT_SQRT_ELEMENTWISE)
  return __builtin_elementwise_sqrt(X);
#elif defined(__NO_MATH_ERRNO__)
  return __builtin_sqrt(X);
#else
  double R;
#if defined(__x86_64__)
  __asm__("sqrtsd %1, %0" : "=x"(R) : "x"(X));
#elif defined(__aarch64__)
  __asm__("fsqrt %d0, %d1" : "=w"(R) : "w"(X));
#else
  __asm__("vsqrt.f64 %P0, %P1" : "=w"(R) : "w"(X));
#endif
  return R;
#endif
}
#endif

/// Correctly rounded sqrt without a square root instruction: the integer
/// square root of the significand, digit by digit, rounded to nearest.
template <class T> MOTE_RT_INLINE T softSqrt(T X) {
  using F = Fp<T>;
  using B = typename F::Bits;
  if (!(X == X))
    return X + X;
  if (X == T(0) || X == infinity<T>())
    return X; // keeps the sign of -0
  if (X < T(0))
    return quietNaN<T>();
  B Bits = bitsOf(X);
  int32_t E = int32_t(Bits >> F::MantBits);
  uint64_t M = uint64_t(Bits & F::MantMask);
  if (E == 0) { // subnormal: normalise
    E = 1;
    while (!(M >> F::MantBits)) {
      M <<= 1;
      --E;
    }
  } else {
    M |= uint64_t(1) << F::MantBits;
  }
  // X = M 2^P with M in [2^MantBits, 2^(MantBits + 1)). Shift M into
  // [2^A0, 2^(A0 + 2)) (A0 even) with P even, so sqrt(M) has a fixed
  // number of bits.
  constexpr int32_t A0 = (F::MantBits + 1) & ~1;
  int32_t P = E - F::Bias - F::MantBits - (A0 - F::MantBits);
  M <<= A0 - F::MantBits;
  if (P & 1) {
    M <<= 1;
    --P;
  }
  // Q = floor(sqrt(M 2^S)) has MantBits + 3 bits: the significand and two
  // rounding bits; R is the remainder (sticky).
  constexpr int32_t S = 2 * F::MantBits + 4 - A0;
  uint64_t Q = 0, R = 0;
  for (int32_t I = F::MantBits + 2; I >= 0; --I) {
    uint64_t Pair = 2 * I >= S ? (M >> (2 * I - S)) & 3 : 0;
    R = (R << 2) | Pair;
    uint64_t Trial = (Q << 2) | 1;
    Q <<= 1;
    if (R >= Trial) {
      R -= Trial;
      Q |= 1;
    }
  }
  uint64_t Sig = Q >> 2, Round = Q & 3;
  // A square root is never exactly halfway between two floats.
  if (Round > 2 || (Round == 2 && (R != 0 || (Sig & 1))))
    ++Sig;
  // sqrt(X) = Sig 2^K, Sig in [2^MantBits, 2^(MantBits + 1)]; a carry out
  // of the significand field moves into the exponent, as it should.
  int32_t K = (P - S) / 2 + 2;
  return fromBits<T>(B(B(K + F::MantBits + F::Bias) << F::MantBits) + B(Sig) -
                     (B(1) << F::MantBits));
}

MOTE_RT_INLINE float sqrtImpl(float X) {
#if defined(MOTE_RT_HW_SQRTF)
  return hwSqrt(X);
#else
  return softSqrt(X);
#endif
}
MOTE_RT_INLINE double sqrtImpl(double X) {
#if defined(MOTE_RT_HW_SQRT)
  return hwSqrt(X);
#else
  return softSqrt(X);
#endif
}

//===----------------------------------------------------------------------===//
// Power.
//===----------------------------------------------------------------------===//

/// True if the finite \p Y is an integer; \p Odd tells whether it is odd.
template <class T> MOTE_RT_INLINE bool isInteger(T Y, bool &Odd) {
  using F = Fp<T>;
  T A = absOf(Y);
  Odd = false;
  if (A >= pow2<T>(F::MantBits)) {
    // Integers all; odd only below 2^(MantBits + 1), where the last
    // significand bit is the units bit.
    Odd = A < pow2<T>(F::MantBits + 1) && (bitsOf(A) & 1);
    return true;
  }
  // Below 2^MantBits the value fits the integer type.
  if constexpr (sizeof(T) == 4) {
    int32_t I = int32_t(A);
    if (T(I) != A)
      return false;
    Odd = (I & 1) != 0;
  } else {
    int64_t I = int64_t(A);
    if (T(I) != A)
      return false;
    Odd = (I & 1) != 0;
  }
  return true;
}

/// X^N for N != 0, |N| <= 64, by repeated squaring.
MOTE_RT_INLINE double powi(double X, int32_t N) {
  uint32_t E = uint32_t(N < 0 ? -N : N);
  double R = 1;
  for (;;) {
    if (E & 1)
      R *= X;
    E >>= 1;
    if (!E)
      break;
    X *= X;
  }
  return N < 0 ? 1 / R : R;
}

/// |X|^Y for finite nonzero X and finite Y; T is float or double.
MOTE_RT_INLINE float powAbs(float AX, float Y, bool YInt) {
  if (YInt && absOf(Y) <= 64.0f)
    return float(powi(double(AX), int32_t(Y)));
  return float(expImpl(double(Y) * logImpl(double(AX))));
}
MOTE_RT_INLINE double powAbs(double AX, double Y, bool YInt) {
  if (YInt && absOf(Y) <= 64.0)
    return powi(AX, int32_t(Y));
  return expImpl(Y * logImpl(AX));
}

/// X^Y with C99 Annex F's special cases.
template <class T> MOTE_RT_INLINE T powImpl(T X, T Y) {
  if (Y == T(0) || X == T(1))
    return T(1);
  if (!(X == X) || !(Y == Y))
    return X + Y;
  T AX = absOf(X);
  if (absOf(Y) == infinity<T>()) {
    if (AX == T(1)) // (-1)^+-inf
      return T(1);
    return (AX < T(1)) == (Y > T(0)) ? T(0) : infinity<T>();
  }
  bool Odd;
  bool YInt = isInteger(Y, Odd);
  bool Neg = (bitsOf(X) & Fp<T>::SignMask) != 0;
  if (X == T(0) || AX == infinity<T>()) {
    // |X|^Y is 0 or inf; an odd integer Y keeps X's sign.
    T M = (X == T(0)) == (Y < T(0)) ? infinity<T>() : T(0);
    return Neg && Odd ? -M : M;
  }
  if (Neg && !YInt)
    return quietNaN<T>();
  if (Y == T(1))
    return X;
  if (Y == T(2))
    return X * X;
  if (Y == T(-1))
    return T(1) / X;
  if (Y == T(0.5)) // X > 0 here
    return sqrtImpl(X);
  T M = powAbs(AX, Y, YInt);
  return Neg && Odd ? -M : M;
}

} // namespace math_detail

//===----------------------------------------------------------------------===//
// The functions.
//===----------------------------------------------------------------------===//

MOTE_RT_INLINE float sqrt(float X) { return math_detail::sqrtImpl(X); }
MOTE_RT_INLINE double sqrt(double X) { return math_detail::sqrtImpl(X); }

MOTE_RT_INLINE float exp(float X) { return math_detail::expImpl(X); }
MOTE_RT_INLINE double exp(double X) { return math_detail::expImpl(X); }
MOTE_RT_INLINE float log(float X) { return math_detail::logImpl(X); }
MOTE_RT_INLINE double log(double X) { return math_detail::logImpl(X); }
MOTE_RT_INLINE float tanh(float X) { return math_detail::tanhImpl(X); }
MOTE_RT_INLINE double tanh(double X) { return math_detail::tanhImpl(X); }
MOTE_RT_INLINE float erf(float X) { return math_detail::erfImpl(X); }
MOTE_RT_INLINE double erf(double X) { return math_detail::erfImpl(X); }

MOTE_RT_INLINE float pow(float X, float Y) {
  return math_detail::powImpl(X, Y);
}
MOTE_RT_INLINE double pow(double X, double Y) {
  return math_detail::powImpl(X, Y);
}

} // namespace mote_rt

#endif // MOTE_RT_MATH_H
