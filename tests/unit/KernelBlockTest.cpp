//===- KernelBlockTest.cpp - The blocked loops of block.h -----------------===//
//
// rowsAxpy and rowsDot against plain loops written here, on rows of every
// length from 0 to past two vectors and every offset, float and double.
// On a host with vectors (MOTE_RT_SIMD) float rows with unit strides take
// the vector path: rowsAxpy must stay bit-identical to the plain loop (the
// same terms in the same order per output), rowsDot may differ only by the
// order of its sums (checked against a double-precision sum). Strided rows
// take the scalar loop and must be bit-identical too. The file is built
// twice on x86-64: in the unit tests (SSE2, 16-byte vectors) and alone with
// AVX2 (32-byte vectors: 8-lane sums, rowsAxpy's 16-byte last step).
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "mote_rt/block.h"

#include <cmath>

using namespace mote;
using namespace mote::test;

namespace {

template <class T> std::vector<T> randomRow(size_t N, uint32_t Seed) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<double> D(-1, 1);
  std::vector<T> R(N);
  for (T &V : R)
    V = T(D(Gen));
  return R;
}

} // namespace

TEMPLATE_TEST_CASE("block rowsAxpy is the plain loop, vector path or not",
                   "[kernel]", float, double) {
  using T = TestType;
  constexpr int NO = 3, NI = 4;
  uint32_t Seed = 1;
  for (int32_t Stride : {1, 2}) {
    for (int32_t Len = 0; Len <= 21; ++Len) {
      for (int32_t Lo = 0; Lo <= 3 && Lo <= Len; ++Lo) {
        INFO("stride " << Stride << ", len " << Len << ", lo " << Lo);
        const size_t Span = size_t(Len * Stride + 1);
        std::vector<T> InRows[NI], OutRows[NO], Want[NO];
        const T *In[NI];
        T *Out[NO];
        T Wt[NO][NI];
        for (int K = 0; K < NI; ++K) {
          InRows[K] = randomRow<T>(Span, ++Seed);
          In[K] = InRows[K].data();
        }
        for (int O = 0; O < NO; ++O) {
          OutRows[O] = randomRow<T>(Span, ++Seed);
          Want[O] = OutRows[O];
          Out[O] = OutRows[O].data();
          for (int K = 0; K < NI; ++K)
            Wt[O][K] = T(0.25) * T(O + 1) - T(0.125) * T(K);
        }
        for (int32_t I = Lo; I < Len; ++I)
          for (int O = 0; O < NO; ++O) {
            T Acc = Want[O][size_t(I * Stride)];
            for (int K = 0; K < NI; ++K)
              Acc += Wt[O][K] * In[K][I * Stride];
            Want[O][size_t(I * Stride)] = Acc;
          }
        T *const (&OutRef)[NO] = Out;
        const T *const (&InRef)[NI] = In;
        mote_rt::detail::rowsAxpy<NO, NI>(Lo, Len, OutRef, Stride, InRef,
                                          Stride, Wt);
        for (int O = 0; O < NO; ++O)
          CHECK(OutRows[O] == Want[O]);
      }
    }
  }
}

TEMPLATE_TEST_CASE("block rowsDot sums every term once, vector path or not",
                   "[kernel]", float, double) {
  using T = TestType;
  constexpr int NA = 4, NB = 3;
  uint32_t Seed = 100;
  for (int32_t Stride : {1, 3}) {
    for (int32_t Len = 0; Len <= 37; ++Len) {
      INFO("stride " << Stride << ", len " << Len);
      const size_t Span = size_t(Len * Stride + 1);
      std::vector<T> ARows[NA], BRows[NB];
      const T *A[NA], *B[NB];
      for (int K = 0; K < NA; ++K) {
        ARows[K] = randomRow<T>(Span, ++Seed);
        A[K] = ARows[K].data();
      }
      for (int K = 0; K < NB; ++K) {
        BRows[K] = randomRow<T>(Span, ++Seed);
        B[K] = BRows[K].data();
      }
      T Acc[NA][NB], Plain[NA][NB];
      double Exact[NA][NB];
      for (int X = 0; X < NA; ++X)
        for (int Y = 0; Y < NB; ++Y) {
          Acc[X][Y] = Plain[X][Y] = T(0.5);
          Exact[X][Y] = 0.5;
          for (int32_t I = 0; I < Len; ++I) {
            Plain[X][Y] += A[X][I] * B[Y][I * Stride];
            Exact[X][Y] += double(A[X][I]) * double(B[Y][I * Stride]);
          }
        }
      const T *const (&ARef)[NA] = A;
      const T *const (&BRef)[NB] = B;
      mote_rt::detail::rowsDot<NA, NB>(0, Len, ARef, 1, BRef, Stride, Acc);
      for (int X = 0; X < NA; ++X)
        for (int Y = 0; Y < NB; ++Y) {
          bool Vector = MOTE_RT_SIMD && std::is_same_v<T, float> &&
                        Stride == 1;
          if (!Vector) {
            CHECK(Acc[X][Y] == Plain[X][Y]);
          } else {
            // Another order of the same float terms: within a few ulp of
            // the sum of |terms| (at most 37 terms of magnitude <= 1).
            CHECK(std::abs(double(Acc[X][Y]) - Exact[X][Y]) <=
                  double(Len + 1) * 2e-7);
          }
        }
    }
  }
}

#if MOTE_RT_SIMD
namespace {

/// addLaneSums over N vectors whose lanes hold distinct small integers, so
/// every order of the sums is exact: each Acc[i] must gain exactly its own
/// vector's lane total (a vector sent to the wrong lane, a lane left out or
/// a zero-padded group read past N all change some result).
template <int N> void checkLaneSums() {
  using mote_rt::detail::VecF;
  using mote_rt::detail::VecLanes;
  INFO(N << " vectors of " << VecLanes << " lanes");
  VecF V[N];
  float Acc[N + 1];
  for (int I = 0; I < N; ++I) {
    for (int L = 0; L < VecLanes; ++L)
      V[I][L] = float(I * 100 + L * 3 - 7);
    Acc[I] = float(1000 * I);
  }
  Acc[N] = -1.0f; // past the end: must stay
  mote_rt::detail::addLaneSums<N>(V, Acc);
  for (int I = 0; I < N; ++I) {
    float Want = float(1000 * I);
    for (int L = 0; L < VecLanes; ++L)
      Want += float(I * 100 + L * 3 - 7);
    CHECK(Acc[I] == Want);
  }
  CHECK(Acc[N] == -1.0f);
}

} // namespace

TEST_CASE("block addLaneSums adds each vector's lanes to its own sum",
          "[kernel]") {
  checkLaneSums<1>();
  checkLaneSums<3>();
  checkLaneSums<4>();
  checkLaneSums<5>();
  checkLaneSums<8>();
  checkLaneSums<12>();
  checkLaneSums<13>();
  checkLaneSums<25>();
}
#endif
