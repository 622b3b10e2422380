//===- KernelTestUtil.h - Run a lowered op through its kernel ---*- C++ -*-===//
//
// lowerOp runs an op through the interpreter (as runOp does) and through its
// lowering hook; paramsAs<P> turns the KernelCall's parameter list into the
// runtime-stub parameter struct P. All parameter fields are 4-byte types
// (int32_t, float, int32_t[MaxRank]), so the struct is exactly the sequence of
// pushed words; the size check catches a lowering that pushes the wrong
// number of fields. A kernel test then reads:
//
//   LoweredOp L = lowerOp(OpKind::Add, {A, B});
//   auto P = paramsAs<mote_rt::BroadcastP>(L.Call);
//   std::vector<float> Y(L.outElems(0));
//   mote_rt::add<float>(P, L.in<float>(0), L.in<float>(1), Y.data());
//   checkSame(L.Run.Results[0], Y);
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TESTS_UNIT_KERNELTESTUTIL_H
#define MOTE_TESTS_UNIT_KERNELTESTUTIL_H

#include "TestUtil.h"
#include "compiler/KernelCall.h"

#include <cstring>
#include <random>
#include <type_traits>

namespace mote::test {

struct LoweredOp {
  OpRun Run;                  ///< interpreter results (the oracle)
  std::vector<std::optional<Tensor>> Inputs;
  KernelCall Call;
  std::optional<Diag> LowerError;

  template <class T> const T *in(size_t I) const {
    return Inputs[I] ? Inputs[I]->data<T>().data() : nullptr;
  }
  size_t outElems(size_t I) const {
    return size_t(Run.Results.at(I).numElements());
  }
};

/// Runs \p Op on the interpreter and lowers it to a kernel call.
inline LoweredOp lowerOp(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
                         AttrMap Attrs = {}, size_t NumResults = 1) {
  LoweredOp L;
  bool Lowered = false;
  L.Run = runOp(Op, Inputs, std::move(Attrs), NumResults, [&](const Node &N) {
    REQUIRE(N.def().Lower != nullptr);
    if (Status S = N.def().Lower(N, L.Call); !S)
      L.LowerError = S.takeError();
    Lowered = true;
  });
  REQUIRE_FALSE(L.Run.Error);
  REQUIRE(Lowered);
  L.Inputs = std::move(Inputs);
  return L;
}

/// The lowering's parameters as the runtime-stub struct \p P.
template <class P> P paramsAs(const KernelCall &C) {
  static_assert(std::is_trivially_copyable_v<P>);
  std::vector<uint32_t> Words;
  for (const KernelParam &KP : C.Params) {
    switch (KP.K) {
    case KernelParam::Kind::Int:
      Words.push_back(uint32_t(int32_t(KP.I)));
      break;
    case KernelParam::Kind::Float: {
      float F = float(KP.F);
      uint32_t W;
      std::memcpy(&W, &F, 4);
      Words.push_back(W);
      break;
    }
    case KernelParam::Kind::Ints:
      REQUIRE(KP.Ints.size() <= size_t(KernelMaxRank));
      for (int I = 0; I < KernelMaxRank; ++I)
        Words.push_back(I < int(KP.Ints.size()) ? uint32_t(int32_t(KP.Ints[I]))
                                                : 0u);
      break;
    }
  }
  REQUIRE(Words.size() * 4 == sizeof(P));
  P R;
  std::memcpy(&R, Words.data(), sizeof(P));
  return R;
}

/// Checks kernel output \p Got against the interpreter's \p Want.
template <class T>
void checkSame(const Tensor &Want, const std::vector<T> &Got,
               double RelTol = 1e-5, double AbsTol = 1e-6) {
  auto W = Want.data<T>();
  REQUIRE(W.size() == Got.size());
  for (size_t I = 0; I < Got.size(); ++I) {
    INFO("element " << I);
    if constexpr (std::is_floating_point_v<T>)
      CHECK(double(Got[I]) ==
            Approx(double(W[I])).epsilon(RelTol).margin(AbsTol));
    else
      CHECK(Got[I] == W[I]);
  }
}

/// f32 tensor of \p Dims with deterministic values uniform in [Lo, Hi).
inline Tensor randomF32(Shape Dims, uint32_t Seed, float Lo = -1, float Hi = 1) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<float> D(Lo, Hi);
  Tensor T(TensorType(DType::F32, Dims));
  for (float &V : T.data<float>())
    V = D(Gen);
  return T;
}

/// Tensor of element type T with deterministic values uniform in [Lo, Hi).
template <class T>
Tensor randomOf(Shape Dims, uint32_t Seed, double Lo = -1, double Hi = 1) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<double> D(Lo, Hi);
  Tensor R(TensorType(DTypeOf<T>::value, Dims));
  for (T &V : R.data<T>())
    V = T(D(Gen));
  return R;
}

} // namespace mote::test

#endif // MOTE_TESTS_UNIT_KERNELTESTUTIL_H
