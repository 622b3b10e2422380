//===- Quant.cpp - The integer semantics of quantized tensors -------------===//

#include "compiler/Quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace mote {

int64_t quantMin(DType T) {
  switch (T) {
  case DType::I8:
    return -128;
  case DType::U8:
    return 0;
  case DType::I32:
    return INT32_MIN;
  default:
    assert(false && "not a quantizable type");
    return 0;
  }
}

int64_t quantMax(DType T) {
  switch (T) {
  case DType::I8:
    return 127;
  case DType::U8:
    return 255;
  case DType::I32:
    return INT32_MAX;
  default:
    assert(false && "not a quantizable type");
    return 0;
  }
}

int32_t quantizeValue(float X, float Scale, int32_t ZeroPoint, int64_t QMin,
                      int64_t QMax) {
  float R = X / Scale;
  if (std::isnan(R))
    R = 0;
  // Beyond 2^62 every result saturates anyway (also for i32); the bound
  // keeps the int64 arithmetic below exact.
  R = std::clamp(R, -0x1p62f, 0x1p62f);
  int64_t Q = int64_t(std::nearbyint(R)) + ZeroPoint; // ties to even
  return int32_t(std::clamp(Q, QMin, QMax));
}

float dequantizeValue(int64_t Q, float Scale, int32_t ZeroPoint) {
  return float(Q - ZeroPoint) * Scale;
}

QuantLayout quantLayout(const TensorType &T) {
  QuantLayout L;
  if (!T.Quant || !T.Quant->perAxis()) {
    L.Inner = T.numElements();
    return L;
  }
  size_t Axis = size_t(T.Quant->Axis);
  for (size_t D = 0; D < T.Dims.size(); ++D) {
    if (D < Axis)
      L.Outer *= T.Dims[D];
    else if (D > Axis)
      L.Inner *= T.Dims[D];
  }
  L.Channels = T.Dims[Axis];
  return L;
}

} // namespace mote
