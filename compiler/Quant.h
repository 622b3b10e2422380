//===- Quant.h - The integer semantics of quantized tensors -----*- C++ -*-===//
//
// The one statement of what mote's quantization ops compute, for the
// reference interpreter (the oracle the generated kernels of
// runtime-stub/mote_rt/quant.h must match bit for bit) and for the passes
// that quantize. A quantized tensor's type carries its QuantParams
// (Tensor.h): real = scale * (q - zero_point).
//
// Quantize (ONNX QuantizeLinear):
//   q = saturate(round_half_even(x / scale) + zero_point)
// with x / scale a float32 division (as ONNX's reference computes it), the
// rounding to nearest with ties to even, and saturation to the range of the
// element type. NaN quantizes to the zero point (ONNX leaves it
// undefined); +-inf saturate.
//
// Dequantize (ONNX DequantizeLinear):
//   x = float(q - zero_point) * scale
// with q - zero_point exact (in 64-bit for i32 tensors), its conversion to
// float rounded to nearest, and one float32 multiplication.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_QUANT_H
#define MOTE_COMPILER_QUANT_H

#include "compiler/Tensor.h"

#include <cstdint>

namespace mote {

/// Lowest and highest value of quantizable element type \p T.
int64_t quantMin(DType T);
int64_t quantMax(DType T);

/// x / scale rounded half to even, plus the zero point, saturated to
/// [QMin, QMax] (see the file comment).
int32_t quantizeValue(float X, float Scale, int32_t ZeroPoint, int64_t QMin,
                      int64_t QMax);

/// float(q - zero point) * scale (see the file comment).
float dequantizeValue(int64_t Q, float Scale, int32_t ZeroPoint);

/// The extent of a quantized tensor around its quantization axis: element i
/// (row-major) has parameters (i / Inner) % Channels. A per-tensor type has
/// Channels = 1 and Inner = the element count.
struct QuantLayout {
  int64_t Outer = 1;
  int64_t Channels = 1;
  int64_t Inner = 1;
};
QuantLayout quantLayout(const TensorType &T);

} // namespace mote

#endif // MOTE_COMPILER_QUANT_H
