//===- TensorLowering.h - Lowering helpers of the tensor ops ----*- C++ -*-===//
//
// Shared by the lowerings of the tensor ops, Dropout, and the softmax, loss
// and optimizer ops (which all flatten their operands): the check that a
// kernel's int32_t indices reach every element, the plain copy of the
// reshape family, the strided copy of Expand, Transpose and Slice with its
// compile-time simplification, the [Outer, Dim, Inner] split of the
// softmax family and the parameters of the cross-entropy kernels. Internal
// to compiler/ops.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_TENSOR_TENSORLOWERING_H
#define MOTE_COMPILER_OPS_TENSOR_TENSORLOWERING_H

#include "compiler/ops/OpUtils.h"

namespace mote {

/// Fails unless every input and result of \p N has at most INT32_MAX
/// elements (runtime-stub kernels index with int32_t).
Status requireKernelElements(const Node &N);

/// Lowers to mote_rt::reshape<T> (tensor.h): result 0 is a copy of the
/// elements of input 0 (Reshape, Flatten, Squeeze, Unsqueeze, Dropout).
Status lowerReshapeCopy(const Node &N, KernelCall &C);

/// Lowers to mote_rt::strided_copy<T> (tensor.h): the result, of dims
/// \p Dims, reads input 0 at \p Base + sum_d j_d * Strides[d]. Drops dims of
/// size 1 and merges neighbouring dims that are contiguous in both tensors
/// first, so a rank above the kernel limit fails only if it stays above.
Status lowerStridedCopy(const Node &N, const Shape &Dims,
                        const std::vector<int64_t> &Strides, int64_t Base,
                        KernelCall &C);

/// Fills Header, TypeArgs and the parameters mote_rt::SoftmaxP {Outer,
/// Dim, Inner} (softmax.h) of input 0 split at the node's `axis` (default
/// -1) for Softmax, LogSoftmax and their gradient ops; the caller sets the
/// kernel name.
Status lowerSoftmaxFamily(const Node &N, KernelCall &C);

/// Fills Header, TypeArgs {scores, labels}, the parameters
/// mote_rt::SoftmaxCrossEntropyP (loss.h) and Operands {scores - 1 ..
/// scores + 2 inputs (weights nullptr if absent), then the results} for
/// SoftmaxCrossEntropyLoss (\p Scores = 0) and its gradient op (\p Scores =
/// 1, after dLoss); the caller sets the kernel name.
Status lowerCrossEntropyFamily(const Node &N, size_t Scores, KernelCall &C);

} // namespace mote

#endif // MOTE_COMPILER_OPS_TENSOR_TENSORLOWERING_H
