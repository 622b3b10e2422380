//===- MathLower.h - Shared pieces of the math ops' lowerings ---*- C++ -*-===//
//
// The elementwise kernels of runtime-stub/mote_rt/unary.h and
// activation_grad.h take a parameter struct that starts with the element
// count N (an int32_t); the lowerings of Unary.cpp, Cast.cpp and
// ActivationGrad.cpp share the checks and the start of that struct here.
// Internal to compiler/ops.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_MATH_MATHLOWER_H
#define MOTE_COMPILER_OPS_MATH_MATHLOWER_H

#include "compiler/ops/OpUtils.h"

#include <algorithm>
#include <cstdint>
#include <span>

namespace mote {

/// Fails unless \p T is one of \p Allowed (the kernel's element types).
inline Status requireKernelDType(DType T, std::span<const DType> Allowed,
                                 std::string_view Kernel) {
  if (std::find(Allowed.begin(), Allowed.end(), T) != Allowed.end())
    return ok();
  return opError(fmt::format("the {} kernel has no version for element type "
                             "{}",
                             Kernel, dtypeName(T)));
}

/// Fills the call of an elementwise kernel over the \p N elements of
/// result 0: header, kernel, type arguments, parameter struct and its first
/// field, N. The caller pushes the remaining fields.
inline Status lowerElementwise(const Node &N, KernelCall &C,
                               std::string_view Header, std::string Kernel,
                               std::vector<DType> TypeArgs,
                               std::string ParamType = "UnaryP") {
  int64_t Count = N.outType(0).numElements();
  if (Count > int64_t(INT32_MAX))
    return opError(fmt::format("{} has more than 2^31 - 1 elements, the "
                               "kernels' 32-bit index limit",
                               N.outType(0).str()));
  C.Header = Header;
  C.Kernel = std::move(Kernel);
  C.TypeArgs = std::move(TypeArgs);
  C.ParamType = std::move(ParamType);
  C.addInt(Count);
  return ok();
}

/// The element types of the float-only kernels.
inline constexpr DType FloatKernelDTypes[] = {DType::F32, DType::F64};

} // namespace mote

#endif // MOTE_COMPILER_OPS_MATH_MATHLOWER_H
