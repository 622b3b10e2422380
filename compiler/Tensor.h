//===- Tensor.h - Tensor types and tensor data ------------------*- C++ -*-===//
//
// TensorType is the static type of every IR value: an element type and a
// fully static shape. Tensor is a TensorType with its data, used for
// parameters, folded constants and by the reference interpreter.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_TENSOR_H
#define MOTE_COMPILER_TENSOR_H

#include "compiler/DType.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mote {

using Shape = std::vector<int64_t>;

/// Largest tensor the compiler accepts, in bytes (1 TiB): keeps every size
/// computation far from int64 overflow.
inline constexpr int64_t MaxTensorBytes = int64_t(1) << 40;

/// Product of \p S, or nullopt if a dim is negative or the product overflows
/// MaxTensorBytes.
std::optional<int64_t> checkedNumElements(const Shape &S);

/// "[1, 3, 224, 224]".
std::string shapeStr(const Shape &S);

/// Static type of a value: element type and shape.
struct TensorType {
  DType Elem = DType::F32;
  Shape Dims;

  TensorType() = default;
  TensorType(DType E, Shape D) : Elem(E), Dims(std::move(D)) {}

  size_t rank() const { return Dims.size(); }
  /// Number of elements; the type must be valid (see isValid).
  int64_t numElements() const;
  int64_t bytes() const { return numElements() * int64_t(dtypeSize(Elem)); }
  /// All dims non-negative and the byte size within MaxTensorBytes.
  bool isValid() const;
  /// "f32[1,3,224,224]" (scalars: "f32[]").
  std::string str() const;

  friend bool operator==(const TensorType &, const TensorType &) = default;
};

/// Row-major strides of \p S in elements.
std::vector<int64_t> stridesOf(const Shape &S);

/// A tensor type with its data, stored contiguously in row-major order.
class Tensor {
public:
  Tensor() = default;
  /// Zero-filled tensor of type \p T (which must be valid).
  explicit Tensor(TensorType T);

  const TensorType &type() const { return Type; }
  DType dtype() const { return Type.Elem; }
  const Shape &shape() const { return Type.Dims; }
  int64_t numElements() const { return Type.numElements(); }
  size_t byteSize() const { return Storage.size(); }

  std::byte *raw() { return Storage.data(); }
  const std::byte *raw() const { return Storage.data(); }

  template <class T> std::span<T> data() {
    assert(DTypeOf<T>::value == Type.Elem && "wrong element type");
    return {reinterpret_cast<T *>(Storage.data()),
            size_t(Type.numElements())};
  }
  template <class T> std::span<const T> data() const {
    assert(DTypeOf<T>::value == Type.Elem && "wrong element type");
    return {reinterpret_cast<const T *>(Storage.data()),
            size_t(Type.numElements())};
  }

  /// Element \p I converted to double (any dtype).
  double getAsDouble(int64_t I) const;
  /// Element \p I converted to int64 (any dtype; floats truncate).
  int64_t getAsInt(int64_t I) const;
  /// Sets element \p I from a double, converting to the element type.
  void setFromDouble(int64_t I, double V);

  /// All elements as int64 (for shape-like tensors).
  std::vector<int64_t> toInts() const;

  /// Same data, different shape with the same element count.
  Tensor reshaped(Shape NewDims) const;

  friend bool operator==(const Tensor &A, const Tensor &B) {
    return A.Type == B.Type && A.Storage == B.Storage;
  }

  /// Builds a 1-D or scalar tensor from values.
  template <class T> static Tensor fromVector(std::vector<T> V, Shape Dims) {
    Tensor R(TensorType(DTypeOf<T>::value, std::move(Dims)));
    assert(int64_t(V.size()) == R.numElements() && "size mismatch");
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t I = 0; I < V.size(); ++I)
        R.data<bool>()[I] = V[I];
    } else if (!V.empty()) {
      // memcpy with the null pointers of empty storage is undefined.
      std::memcpy(R.raw(), V.data(), V.size() * sizeof(T));
    }
    return R;
  }

private:
  TensorType Type;
  std::vector<std::byte> Storage;
};

} // namespace mote

#endif // MOTE_COMPILER_TENSOR_H
