//===- KernelParamsTest.cpp - The two sides of every parameter struct -----===//
//
// Every struct of runtime-stub/mote_rt/params.def, filled through the
// compiler's writer (KernelParams.h) with designated initialisers naming
// each field in schema order, as lowerings fill them, with a distinct value
// per int32_t; laid out in the host's C layout (KernelTestUtil.h
// paramsAs) and read back through the runtime struct (mote_rt/params.h)
// field by field. A field the two sides name, order or type differently
// fails to compile or to compare here.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "compiler/KernelParams.h"
#include "mote_rt/params.h"

#include <catch2/catch.hpp>
#include <cstddef>

using namespace mote;
using namespace mote::test;

namespace {

std::vector<int64_t> sequence(int64_t &Next, int Length) {
  std::vector<int64_t> V;
  for (int I = 0; I < Length; ++I)
    V.push_back(Next++);
  return V;
}

// sample<S>(Next): writer struct S with the values Next, Next + 1, ... in
// field order (floats too: small integers are exact floats).
template <class S> S sample(int64_t &Next);

#define MOTE_STRUCT(Name)                                                      \
  template <> kparams::Name sample<kparams::Name>(int64_t & Next) {            \
    return kparams::Name {
#define MOTE_I32(Field) .Field = Next++,
#define MOTE_F32(Field) .Field = double(Next++),
#define MOTE_I32_ARRAY(Field, Limit) .Field = sequence(Next, kparams::Limit),
#define MOTE_NESTED(Field, NestedT) .Field = sample<kparams::NestedT>(Next),
#define MOTE_TABLE(Field, Elem) .Field = std::vector<Elem>{Elem(Next++)},
#define MOTE_END(Name)                                                         \
  }                                                                            \
  ;                                                                            \
  }
#include "runtime-stub/mote_rt/params.def"

// check(R, Next): the runtime struct R holds those values.
#define MOTE_STRUCT(Name)                                                      \
  [[maybe_unused]] void check(const mote_rt::Name &R, int64_t &Next) {         \
    INFO(#Name);
#define MOTE_I32(Field) CHECK(R.Field == Next++);
#define MOTE_F32(Field) CHECK(R.Field == float(Next++));
#define MOTE_I32_ARRAY(Field, Limit)                                           \
  for (int I = 0; I < mote_rt::Limit; ++I)                                     \
    CHECK(R.Field[I] == Next++);
#define MOTE_NESTED(Field, NestedT) check(R.Field, Next);
#define MOTE_TABLE(Field, Elem) CHECK(R.Field[0] == Elem(Next++));
#define MOTE_END(Name) }
#include "runtime-stub/mote_rt/params.def"

template <class W, class R> void roundTrip() {
  int64_t Next = 1;
  KernelCall C;
  C.setParams(sample<W>(Next));
  CHECK(C.Params.Type == W::TypeName);
  R Runtime = paramsAs<R>(C);
  int64_t Again = 1;
  check(Runtime, Again);
  CHECK(Again == Next);
}

} // namespace

TEST_CASE("every parameter struct: the writer's fields are the runtime "
          "struct's, in order",
          "[kernel][params]") {
#define MOTE_STRUCT(Name) roundTrip<kparams::Name, mote_rt::Name>();
#define MOTE_I32(Field)
#define MOTE_F32(Field)
#define MOTE_I32_ARRAY(Field, Limit)
#define MOTE_NESTED(Field, NestedT)
#define MOTE_END(Name)
#include "runtime-stub/mote_rt/params.def"
}

TEST_CASE("the limits of the schema are the runtime's and the compiler's",
          "[kernel][params]") {
  STATIC_REQUIRE(kparams::MaxRank == mote_rt::MaxRank);
  STATIC_REQUIRE(KernelMaxRank == mote_rt::MaxRank);
  STATIC_REQUIRE(kparams::MaxFusedSteps == mote_rt::MaxFusedSteps);
  STATIC_REQUIRE(kparams::MaxConcatInputs == mote_rt::MaxConcatInputs);
  STATIC_REQUIRE(sizeof(mote_rt::ConvP) ==
                 4 * (7 + 6 * mote_rt::MaxRank + 5 + 7));
}

TEST_CASE("a writer struct becomes named fields, nested structs and tables",
          "[kernel][params]") {
  KernelCall C;
  C.setParams(kparams::SgdP{
      .Region = {.Outer = 2, .Run = 3, .XRow = 4, .GRow = 5, .Every = 6},
      .Lr = 0.5,
      .Norm = 0.25});
  REQUIRE(C.Params.Type == "SgdP");
  REQUIRE(C.Params.Fields.size() == 3);
  const ParamField &R = C.Params.Fields[0];
  CHECK(R.Name == "Region");
  CHECK(R.K == ParamField::Kind::Struct);
  CHECK(R.Type == "RegionP");
  REQUIRE(R.Fields.size() == 5);
  CHECK(R.Fields[3].Name == "GRow");
  CHECK(R.Fields[3].I == 5);
  CHECK(R.Fields[4].I == 6);
  CHECK(C.Params.Fields[1].K == ParamField::Kind::F32);
  CHECK(C.Params.Fields[1].F == 0.5);

  kparams::Table<int32_t> T(std::vector<int32_t>{7, -1, 1 << 20});
  ParamField F = kparams::fieldOf("Mult", T);
  CHECK(F.K == ParamField::Kind::Table);
  CHECK(F.Elem == DType::I32);
  REQUIRE(F.Data.size() == 12);
  int32_t Back[3];
  std::memcpy(Back, F.Data.data(), 12);
  CHECK(Back[0] == 7);
  CHECK(Back[1] == -1);
  CHECK(Back[2] == 1 << 20);
  ParamField G =
      kparams::fieldOf("Scale", kparams::Table<float>(std::vector<float>{0.5f}));
  CHECK(G.Elem == DType::F32);
  CHECK(G.Data.size() == 4);
}
