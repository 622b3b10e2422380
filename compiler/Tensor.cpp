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

bool TensorType::isValid() const {
  std::optional<int64_t> N = checkedNumElements(Dims);
  return N && *N <= MaxTensorBytes / int64_t(dtypeSize(Elem));
}

std::string TensorType::str() const {
  return fmt::format("{}[{}]", dtypeName(Elem), fmt::join(Dims, ","));
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

Tensor Tensor::reshaped(Shape NewDims) const {
  Tensor R = *this;
  R.Type.Dims = std::move(NewDims);
  assert(R.Type.numElements() == numElements() && "reshape changes size");
  return R;
}

} // namespace mote
