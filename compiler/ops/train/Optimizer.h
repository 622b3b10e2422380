//===- Optimizer.h - The arithmetic of the update ops -----------*- C++ -*-===//
//
// The interpreter kernels of SgdUpdate, MomentumUpdate and AdamUpdate
// (Optimizer.cpp), reading their attributes from an AttrMap, so the fused
// ops that compute a gradient and apply its update in one kernel
// (ConvGradWeightSgd, ConvGradWeightMomentum, ConvGradWeightAdam) apply
// exactly the same update, with the same operand checks and kernel
// parameters. Operands and results are those of the update ops: X, G, then
// the state (V; V and H), then the step count; X', then the new state.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_TRAIN_OPTIMIZER_H
#define MOTE_COMPILER_OPS_TRAIN_OPTIMIZER_H

#include "compiler/Attribute.h"
#include "compiler/Diagnostic.h"
#include "compiler/Graph.h"
#include "compiler/KernelCall.h"
#include "compiler/Tensor.h"

#include <span>

namespace mote {

Status applySgdUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                      std::span<Tensor> Out);
Status applyMomentumUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                           std::span<Tensor> Out);
Status applyAdamUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                       std::span<Tensor> Out);

/// Which update a fused gradient-and-update op applies.
enum class UpdateKind { Sgd, Momentum, Adam };

/// The optimizer state tensors of \p K: 0, 1 (V) or 2 (V, H).
size_t numUpdateStates(UpdateKind K);

/// Checks the update operands of fused node \p N whose weight W is input
/// \p WIndex: the state inputs after it have W's type (f32 of W's shape for
/// a quantized W), an input after them
/// is an i64 scalar step count, and momentum's mode is known.
Status checkUpdateOperands(const Node &N, UpdateKind K, size_t WIndex);

/// Runs update \p K (its attributes in \p A) on W = \p In[0], G = \p In[1]
/// and the state and step count after them.
Status applyUpdate(UpdateKind K, const AttrMap &A,
                   std::span<const Tensor *const> In, std::span<Tensor> Out);

/// The constants of update \p K from attributes \p A (defaults as the
/// update ops have them): the Update field of ConvP and GemmUpdateP.
kparams::UpdateStepP updateStepParams(UpdateKind K, const AttrMap &A);

/// The constants of the update of quantized parameter type \p X (its
/// attributes in \p A: scaling): QSgdP::Q, QMomentumP::Q and
/// QConvGradWeightP::Q.
kparams::QStepP qstepParams(const TensorType &X, const AttrMap &A);

} // namespace mote

#endif // MOTE_COMPILER_OPS_TRAIN_OPTIMIZER_H
