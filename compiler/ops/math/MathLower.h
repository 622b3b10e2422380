//===- MathLower.h - Shared pieces of the math ops' lowerings ---*- C++ -*-===//
//
// The elementwise kernels of runtime-stub/mote_rt/unary.h and
// activation_grad.h take a parameter struct that starts with the element
// count N; the lowerings of Unary.cpp, Cast.cpp and ActivationGrad.cpp
// share its checks here.
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

/// Fills the call of an elementwise kernel over the elements of result 0:
/// header, kernel, type arguments, and UnaryP {N}. Returns N; a kernel with
/// a parameter struct of its own (LeakyReluP, ClipP, ...) replaces UnaryP.
inline Expected<int64_t> lowerElementwise(const Node &N, KernelCall &C,
                                          std::string_view Header,
                                          std::string Kernel,
                                          std::vector<DType> TypeArgs) {
  int64_t Count = N.outType(0).numElements();
  if (Count > int64_t(INT32_MAX))
    return opError(fmt::format("{} has more than 2^31 - 1 elements, the "
                               "kernels' 32-bit index limit",
                               N.outType(0).str()));
  C.Header = Header;
  C.Kernel = std::move(Kernel);
  C.TypeArgs = std::move(TypeArgs);
  C.setParams(kparams::UnaryP{.N = Count});
  return Count;
}

/// ClipP for the \p Count elements of clip or clip_grad node \p N: a bound
/// its attributes leave out (min, max) is off.
inline kparams::ClipP clipParams(const Node &N, int64_t Count) {
  const AttrMap &A = N.attrs();
  return {.N = Count,
          .HasMin = A.has("min"),
          .HasMax = A.has("max"),
          .Min = A.has("min") ? A.getFloat("min", 0) : 0.0f,
          .Max = A.has("max") ? A.getFloat("max", 0) : 0.0f};
}

/// The element types of the float-only kernels.
inline constexpr DType FloatKernelDTypes[] = {DType::F32, DType::F64};

} // namespace mote

#endif // MOTE_COMPILER_OPS_MATH_MATHLOWER_H
