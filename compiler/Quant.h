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
// Requantize (the integer ops QConv, QMatMul and QAveragePool,
// compiler/ops/quant): an int32 accumulator a of real value s_in * a
// becomes an output of scale s_out through the real multiplier
// M = s_in / s_out, which the compiler represents once, in double, as
// M ~ m * 2^-n with m in [2^30, 2^31) (fixedMultiplier: a relative error
// below 2^-31). Then
//   requantize(a) = round_half_even(a * m / 2^n)
// computed exactly in 64-bit integers (|a * m| < 2^62), and the output is
// saturate(requantize(a) + zero_point). QAdd sums two such products with
// one shift (sumMultipliers). The same integers and the same rounding run
// in the kernels (mote_rt/qlinear.h, qpool.h), so the interpreter and
// the generated code agree bit for bit; against ONNX's reference (float
// arithmetic rounded half to even) the result differs by at most one step,
// only where a * M lies within 2^-31 relative of a tie.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_QUANT_H
#define MOTE_COMPILER_QUANT_H

#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"

#include <cstdint>
#include <optional>
#include <utility>

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

/// A real multiplier M > 0 as Multiplier * 2^-Shift (see the file comment):
/// Multiplier in [2^30, 2^31) and Shift in [0, 62], or both 0 when M is so
/// small (below 2^-32) that every int32 accumulator requantizes to 0.
struct FixedMultiplier {
  int32_t Multiplier = 0;
  int32_t Shift = 0;
};

/// The fixed-point form of \p M; an error for M not finite, <= 0, or
/// >= 2^31 (no int32 accumulator keeps a meaning in 8 bits then).
Expected<FixedMultiplier> fixedMultiplier(double M);

/// round_half_even(P / 2^Shift), exact; Shift in [0, 62].
int64_t roundShift(int64_t P, int32_t Shift);

/// round_half_even(Acc * F.Multiplier / 2^F.Shift), exact; Acc an int32.
int64_t requantize(int32_t Acc, FixedMultiplier F);

/// The two real multipliers of a sum of quantized tensors (QAdd,
/// compiler/ops/quant/QPool.cpp), Ra = s_a / s_y and Rb = s_b / s_y, as
/// A * 2^-Shift and B * 2^-Shift with one shift: the larger multiplier is
/// fixedMultiplier's (in [2^30, 2^31)), the other rounded half to even at
/// the same shift. Then
///   y = saturate(roundShift((a - z_a) * A + (b - z_b) * B, Shift) + z_y)
/// is exact in 64-bit integers (|terms| < 2^40). All 0 when both are below
/// 2^-32 (every output is the zero point).
struct SumMultipliers {
  int32_t A = 0;
  int32_t B = 0;
  int32_t Shift = 0;
};

/// The shared-shift form of \p Ra and \p Rb; an error as fixedMultiplier's
/// for either.
Expected<SumMultipliers> sumMultipliers(double Ra, double Rb);

/// The scale of output channel \p C's int32 accumulator in an integer op
/// reading x of type \p X (per tensor) and w of type \p W: s_x * s_w[c],
/// in double.
double accumulatorScale(const TensorType &X, const TensorType &W, int64_t C);

/// Whether a bias quantized with \p Scale and \p ZeroPoint counts in
/// accumulator units \p Unit: zero point 0 and the scale equal to float
/// precision (tools compute it in float32).
bool isAccumulatorUnit(float Scale, int32_t ZeroPoint, double Unit);

/// The extent of a quantized tensor around its quantization axis: element i
/// (row-major) has parameters (i / Inner) % Channels. A per-tensor type has
/// Channels = 1 and Inner = the element count.
struct QuantLayout {
  int64_t Outer = 1;
  int64_t Channels = 1;
  int64_t Inner = 1;
};
QuantLayout quantLayout(const TensorType &T);

/// The real values of quantized tensor \p Q as an f32 tensor of its shape
/// (DequantizeLinear's result; reference kernels reading a quantized
/// operand).
Tensor dequantizeTensor(const Tensor &Q);

/// The codes q of 8-bit per-tensor type \p T whose real values v satisfy
/// Below < v < Above (an absent bound: no test), as the open interval
/// (Lo, Hi) of codes: a mask on real values taken on the codes
/// (dequantization is strictly increasing). Lo may be one below the type's
/// lowest code and Hi one above its highest.
std::pair<int64_t, int64_t> codeInterval(const TensorType &T,
                                         std::optional<double> Below,
                                         std::optional<double> Above);

} // namespace mote

#endif // MOTE_COMPILER_QUANT_H
