//===- writer_fields.cpp - A lowering must name every field, in order -----===//
//
// Compiled by the kernel-params-* tests (tests/codegen/CMakeLists.txt) with
// -fsyntax-only: the complete initialiser compiles; one that leaves a field
// out, names them out of order or names a field the schema
// (runtime-stub/mote_rt/params.def) does not have must not.
//
//===----------------------------------------------------------------------===//

#include "compiler/KernelParams.h"

using namespace mote;

int main() {
#if defined(MISSING_FIELD)
  auto P = kparams::SoftmaxP{.Outer = 1, .Dim = 2};
#elif defined(WRONG_ORDER)
  auto P = kparams::SoftmaxP{.Dim = 2, .Outer = 1, .Inner = 3};
#elif defined(UNKNOWN_FIELD)
  auto P = kparams::SoftmaxP{.Outer = 1, .Dim = 2, .Inner = 3, .Axis = 0};
#elif defined(MISSING_NESTED)
  auto P = kparams::SgdP{.Lr = 0.5, .Norm = 0};
#elif defined(FLOAT_FOR_INT)
  auto P = kparams::SoftmaxP{.Outer = 1, .Dim = 2.5, .Inner = 3};
#else
  auto P = kparams::SoftmaxP{.Outer = 1, .Dim = 2, .Inner = 3};
#endif
  return int(paramBlock(P).Fields.size()) - 3;
}
