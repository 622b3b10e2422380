//===- KernelTestUtil.h - Run a lowered op through its kernel ---*- C++ -*-===//
//
// lowerOp runs an op through the interpreter (as runOp does) and through its
// lowering hook; paramsAs<P> turns the KernelCall's parameter block into the
// runtime-stub parameter struct P (both come from mote_rt/params.def; the
// size check catches a block of another struct). A kernel test then reads:
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

namespace detail {

/// Appends \p Fields to \p Out in the host's C layout (4-byte fields and
/// arrays of them, nested structs, tables as pointers to their data) and
/// returns their alignment.
inline size_t appendHostFields(const std::vector<ParamField> &Fields,
                               std::vector<unsigned char> &Out) {
  size_t Align = 4;
  auto Pad = [&](size_t A) {
    while (Out.size() % A)
      Out.push_back(0);
  };
  auto Put = [&](const void *P, size_t N) {
    const auto *B = static_cast<const unsigned char *>(P);
    Out.insert(Out.end(), B, B + N);
  };
  for (const ParamField &F : Fields) {
    switch (F.K) {
    case ParamField::Kind::I32: {
      Pad(4);
      int32_t V = int32_t(F.I);
      REQUIRE(int64_t(V) == F.I);
      Put(&V, 4);
      break;
    }
    case ParamField::Kind::F32: {
      Pad(4);
      float V = float(F.F);
      Put(&V, 4);
      break;
    }
    case ParamField::Kind::I32Array:
      Pad(4);
      REQUIRE(F.Ints.size() <= size_t(F.Length));
      for (int32_t I = 0; I < F.Length; ++I) {
        int32_t V = size_t(I) < F.Ints.size() ? int32_t(F.Ints[size_t(I)]) : 0;
        Put(&V, 4);
      }
      break;
    case ParamField::Kind::Struct: {
      std::vector<unsigned char> Sub;
      size_t A = appendHostFields(F.Fields, Sub);
      Align = std::max(Align, A);
      Pad(A);
      Out.insert(Out.end(), Sub.begin(), Sub.end());
      break;
    }
    case ParamField::Kind::Table: {
      Pad(alignof(const void *));
      Align = std::max(Align, alignof(const void *));
      const void *P = F.Data.data();
      Put(&P, sizeof(P));
      break;
    }
    }
  }
  Pad(Align);
  return Align;
}

} // namespace detail

/// The lowering's parameters as the runtime-stub struct \p P (mote_rt/
/// params.h), laid out as the host's compiler lays P out; the size check
/// catches a block of another struct. Table fields point into \p C, which
/// must outlive the result.
template <class P> P paramsAs(const KernelCall &C) {
  static_assert(std::is_trivially_copyable_v<P>);
  std::vector<unsigned char> Bytes;
  detail::appendHostFields(C.Params.Fields, Bytes);
  REQUIRE(Bytes.size() == sizeof(P));
  P R;
  std::memcpy(&R, Bytes.data(), sizeof(P));
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
