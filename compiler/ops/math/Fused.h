//===- Fused.h - Steps of a FusedElementwise node ---------------*- C++ -*-===//
//
// FusedElementwise(x0, ..., xk){ops, args} is a chain of elementwise ops
// evaluated in one pass (the fuse pass's elementwise-chain pattern; the
// kernel is mote_rt::fused_elementwise in runtime-stub/mote_rt/fused.h).
//
//   ops   the op of each step, in order (Strings: "Div", "Erf", ...);
//   args  two operands per step: I < k+1 is input I, k+1 + S the result of
//         step S (S before this step); the second is -1 for a unary op.
//
// Every step's result has the node's result type (only the inputs
// broadcast); the last step's result is the node's result.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_MATH_FUSED_H
#define MOTE_COMPILER_OPS_MATH_FUSED_H

#include "compiler/OpKind.h"

namespace mote {

/// Limits of one FusedElementwise (mote_rt::MaxFusedSteps, MaxFusedInputs).
inline constexpr int MaxFusedSteps = 6;
inline constexpr int MaxFusedInputs = 6;

/// Can an op of kind \p K be a step of a FusedElementwise? (Float
/// elementwise ops without attributes whose kernel has a fused form.)
bool isFusedElementwiseStep(OpKind K);

} // namespace mote

#endif // MOTE_COMPILER_OPS_MATH_FUSED_H
