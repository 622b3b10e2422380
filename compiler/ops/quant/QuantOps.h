//===- QuantOps.h - Checks the integer ops share ----------------*- C++ -*-===//
//
// The operand and result checks of the integer ops of compiler/ops/quant
// (QLinear.cpp, QPool.cpp): an i8/u8 operand with its quantization
// parameters, and the quantized result their attributes `to`, `scale`,
// `zero_point` and `clamp` describe.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_QUANT_QUANTOPS_H
#define MOTE_COMPILER_OPS_QUANT_QUANTOPS_H

#include "compiler/ops/OpUtils.h"

#include <cstdint>
#include <string_view>

namespace mote {

/// Checks operand \p I of \p N as an i8/u8 tensor quantized per tensor or,
/// if \p Axis >= 0, along that axis.
Status requireQuantOperand(const Node &N, size_t I, std::string_view Name,
                           int64_t Axis = -1);

/// The largest |q - z| of a tensor of type \p T (all channels).
int64_t largestTerm(const TensorType &T);

/// An i8 or u8 result of shape \p Dims quantized per tensor with the
/// attributes `scale` and `zero_point` of \p N, its codes narrowed to
/// [YMin, YMax] by `clamp` [lo, hi] (a folded ReLU or clip).
struct QuantResult {
  TensorType Out;
  int64_t YMin = 0, YMax = 0;
};

/// The result of \p N whose `to` is \p To (i8 or u8), checked.
Expected<QuantResult> quantResult(const Node &N, DType To, const Shape &Dims);

} // namespace mote

#endif // MOTE_COMPILER_OPS_QUANT_QUANTOPS_H
