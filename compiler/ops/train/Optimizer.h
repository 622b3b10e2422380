//===- Optimizer.h - The arithmetic of the update ops -----------*- C++ -*-===//
//
// The interpreter kernels of SgdUpdate, MomentumUpdate and AdamUpdate
// (Optimizer.cpp), reading their attributes from an AttrMap, so the fused
// ops that compute a gradient and apply its update in one kernel
// (ConvGradWeightSgd, ConvGradWeightMomentum, ConvGradWeightAdam) apply
// exactly the same update. Operands and results are those of the update
// ops: X, G, then the state (V; V and H), then the step count; X', then the
// new state.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_TRAIN_OPTIMIZER_H
#define MOTE_COMPILER_OPS_TRAIN_OPTIMIZER_H

#include "compiler/Attribute.h"
#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"

#include <span>

namespace mote {

Status applySgdUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                      std::span<Tensor> Out);
Status applyMomentumUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                           std::span<Tensor> Out);
Status applyAdamUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                       std::span<Tensor> Out);

} // namespace mote

#endif // MOTE_COMPILER_OPS_TRAIN_OPTIMIZER_H
