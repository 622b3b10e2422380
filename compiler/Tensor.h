//===- Tensor.h - Tensor types and tensor data ------------------*- C++ -*-===//
//
// TensorType is the static type of every IR value: an element type, a fully
// static shape and, for quantized integer tensors, the quantization
// parameters (QuantParams). Tensor is a TensorType with its data, used for
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

/// How the integers of a quantized tensor stand for real numbers (affine
/// quantization, as ONNX's QuantizeLinear and TFLite define it):
///
///   real = Scale[c] * (q - ZeroPoint[c])
///
/// where c is the element's index along Axis (per-axis quantization, e.g.
/// one scale per output channel of a weight), or 0 when Axis is -1 (one
/// scale and zero point for the whole tensor). Scales are finite and > 0;
/// zero points lie in the range of the element type.
struct QuantParams {
  int32_t Axis = -1;
  std::vector<float> Scale;
  std::vector<int32_t> ZeroPoint;

  bool perAxis() const { return Axis >= 0; }
  /// Number of (scale, zero point) pairs.
  size_t size() const { return Scale.size(); }
  /// The scale and zero point of index \p C along the axis (the one pair
  /// of a per-tensor quantization, whatever C).
  float scaleAt(int64_t C) const { return Scale[perAxis() ? size_t(C) : 0]; }
  int32_t zeroPointAt(int64_t C) const {
    return ZeroPoint[perAxis() ? size_t(C) : 0];
  }

  friend bool operator==(const QuantParams &, const QuantParams &) = default;
};

/// Element types a tensor may be quantized in (i8, u8, i32: the last for
/// biases and accumulators).
bool isQuantizable(DType T);

/// Static type of a value: element type, shape and, for a quantized tensor,
/// its quantization parameters.
struct TensorType {
  DType Elem = DType::F32;
  Shape Dims;
  std::optional<QuantParams> Quant;

  TensorType() = default;
  TensorType(DType E, Shape D) : Elem(E), Dims(std::move(D)) {}
  TensorType(DType E, Shape D, QuantParams Q)
      : Elem(E), Dims(std::move(D)), Quant(std::move(Q)) {}

  size_t rank() const { return Dims.size(); }
  /// Number of elements; the type must be valid (see isValid).
  int64_t numElements() const;
  int64_t bytes() const { return numElements() * int64_t(dtypeSize(Elem)); }
  /// All dims non-negative, the byte size within MaxTensorBytes and the
  /// quantization parameters (if any) well formed (see invalidReason).
  bool isValid() const { return invalidReason().empty(); }
  /// Why the type is invalid ("" if it is valid): a negative dim, a size
  /// over MaxTensorBytes, or quantization parameters that do not fit the
  /// element type and shape.
  std::string invalidReason() const;
  bool isQuantized() const { return Quant.has_value(); }
  /// The same element type and shape without quantization parameters: how
  /// the tensor is stored.
  TensorType storage() const { return TensorType(Elem, Dims); }
  /// Same element type and shape (quantization parameters aside).
  bool sameStorage(const TensorType &O) const {
    return Elem == O.Elem && Dims == O.Dims;
  }
  /// "f32[1,3,224,224]" (scalars: "f32[]"); a quantized type adds its
  /// parameters, "i8[1,16]<0.05:-3>" or, per axis,
  /// "i8[2,3]<axis 0: 0.1:0, 0.2:0>".
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
  /// Same data under type \p T, which must have the same storage (element
  /// type and shape): adds, changes or drops quantization parameters.
  Tensor retyped(TensorType T) const;

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
