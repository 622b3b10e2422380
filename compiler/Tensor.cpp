//===- Tensor.cpp - Tensor types and tensor data --------------------------===//

#include "compiler/Tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <fmt/format.h>

namespace mote {

std::optional<int64_t> checkedNumElements(const Shape &S) {
  // Zero-sized dims make the product 0 however large the other dims are;
  // still bound the product of the nonzero dims, so that row-major strides
  // (products of trailing dims) and every partial product stay in range.
  int64_t NonZero = 1;
  bool Empty = false;
  for (int64_t D : S) {
    if (D < 0)
      return std::nullopt;
    if (D == 0) {
      Empty = true;
      continue;
    }
    if (NonZero > MaxTensorBytes / D)
      return std::nullopt;
    NonZero *= D;
  }
  return Empty ? 0 : NonZero;
}

std::string shapeStr(const Shape &S) {
  return fmt::format("[{}]", fmt::join(S, ", "));
}

int64_t TensorType::numElements() const {
  std::optional<int64_t> N = checkedNumElements(Dims);
  assert(N && "numElements of an invalid type");
  return *N;
}

bool isQuantizable(DType T) {
  return T == DType::I8 || T == DType::U8 || T == DType::I32;
}

std::string TensorType::invalidReason() const {
  std::optional<int64_t> N = checkedNumElements(Dims);
  if (!N || *N > MaxTensorBytes / int64_t(dtypeSize(Elem)))
    return "a negative dim or a size over 1 TiB";
  if (!Quant)
    return {};
  const QuantParams &Q = *Quant;
  if (!isQuantizable(Elem))
    return fmt::format("{} cannot be quantized (only i8, u8 and i32 can)",
                       dtypeName(Elem));
  if (Q.Axis < -1 || Q.Axis >= int64_t(Dims.size()))
    return fmt::format("quantization axis {} is out of range for rank {}",
                       Q.Axis, Dims.size());
  size_t Want = Q.perAxis() ? size_t(Dims[size_t(Q.Axis)]) : 1;
  if (Want == 0)
    return fmt::format("quantization axis {} has no indices", Q.Axis);
  if (Q.Scale.size() != Want || Q.ZeroPoint.size() != Want)
    return fmt::format("{} scales and {} zero points where {} {} needed",
                       Q.Scale.size(), Q.ZeroPoint.size(), Want,
                       Want == 1 ? "is" : "are");
  int64_t Lo = Elem == DType::U8 ? 0 : Elem == DType::I8 ? -128 : INT32_MIN;
  int64_t Hi = Elem == DType::U8 ? 255 : Elem == DType::I8 ? 127 : INT32_MAX;
  for (size_t I = 0; I < Want; ++I) {
    float S = Q.Scale[I];
    if (!(std::isfinite(S) && S > 0))
      return fmt::format("scale {} is not a finite number > 0", S);
    if (Q.ZeroPoint[I] < Lo || Q.ZeroPoint[I] > Hi)
      return fmt::format("zero point {} is outside the range of {}",
                         Q.ZeroPoint[I], dtypeName(Elem));
  }
  return {};
}

std::string TensorType::str() const {
  std::string S =
      fmt::format("{}[{}]", dtypeName(Elem), fmt::join(Dims, ","));
  if (!Quant)
    return S;
  // Shortest round-trip forms: the parser reads back the same floats.
  std::vector<std::string> Pairs;
  for (size_t I = 0; I < Quant->size(); ++I)
    Pairs.push_back(fmt::format("{}:{}", Quant->Scale[I],
                                I < Quant->ZeroPoint.size()
                                    ? Quant->ZeroPoint[I]
                                    : 0));
  if (Quant->perAxis())
    return fmt::format("{}<axis {}: {}>", S, Quant->Axis,
                       fmt::join(Pairs, ", "));
  return fmt::format("{}<{}>", S, fmt::join(Pairs, ", "));
}

std::vector<int64_t> stridesOf(const Shape &S) {
  std::vector<int64_t> R(S.size(), 1);
  for (size_t I = S.size(); I-- > 1;)
    R[I - 1] = R[I] * S[I];
  return R;
}

Tensor::Tensor(TensorType T) : Type(std::move(T)) {
  assert(Type.isValid() && "tensor of an invalid type");
  Storage.assign(size_t(Type.bytes()), std::byte{0});
}

double Tensor::getAsDouble(int64_t I) const {
  return dispatchDType(dtype(), [&](auto Tag) -> double {
    using E = decltype(Tag);
    return double(data<E>()[size_t(I)]);
  });
}

int64_t Tensor::getAsInt(int64_t I) const {
  return dispatchDType(dtype(), [&](auto Tag) -> int64_t {
    using E = decltype(Tag);
    E V = data<E>()[size_t(I)];
    if constexpr (std::is_floating_point_v<E>) {
      if (!std::isfinite(V) || std::fabs(V) > 9.2e18)
        return 0;
    }
    return int64_t(V);
  });
}

void Tensor::setFromDouble(int64_t I, double V) {
  dispatchDType(dtype(), [&](auto Tag) {
    using E = decltype(Tag);
    if constexpr (std::is_integral_v<E> && !std::is_same_v<E, bool>) {
      // Out-of-range float-to-int conversion is undefined in C++; saturate.
      if (!std::isfinite(V))
        V = 0;
      V = std::clamp(V, double(std::numeric_limits<E>::lowest()),
                     double(std::numeric_limits<E>::max()));
      if (V >= 9.2e18)
        V = 9.2e18;
    }
    data<E>()[size_t(I)] = static_cast<E>(V);
  });
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> R(static_cast<size_t>(numElements()));
  for (size_t I = 0; I < R.size(); ++I)
    R[I] = getAsInt(int64_t(I));
  return R;
}

Tensor Tensor::retyped(TensorType T) const {
  assert(T.sameStorage(Type) && "retyped changes the storage");
  Tensor R = *this;
  R.Type = std::move(T);
  return R;
}

Tensor Tensor::reshaped(Shape NewDims) const {
  Tensor R = *this;
  R.Type.Dims = std::move(NewDims);
  assert(R.Type.numElements() == numElements() && "reshape changes size");
  return R;
}

} // namespace mote
