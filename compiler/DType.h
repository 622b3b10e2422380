//===- DType.h - Element types of the graph IR ------------------*- C++ -*-===//
//
// The element types a tensor of the IR may hold, their byte sizes and their
// textual names ("f32", "i64", ...). The textual names are the ones the IR
// printer writes and the parser reads.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_DTYPE_H
#define MOTE_COMPILER_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mote {

/// Element type of a tensor.
enum class DType : uint8_t { F32, F64, I8, U8, I32, I64, Bool };

/// Size in bytes of one element of \p T.
size_t dtypeSize(DType T);

/// Short textual name ("f32", "i64", "bool", ...).
std::string_view dtypeName(DType T);

/// Inverse of dtypeName.
std::optional<DType> parseDType(std::string_view Name);

inline bool isFloat(DType T) { return T == DType::F32 || T == DType::F64; }
inline bool isInteger(DType T) {
  return T == DType::I8 || T == DType::U8 || T == DType::I32 ||
         T == DType::I64;
}

/// Maps a C++ element type to its DType.
template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::I8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };

/// Calls \p F with a value-initialised object of the C++ type of \p T, so a
/// kernel can be written once as a generic lambda: `[&](auto Tag) { using E =
/// decltype(Tag); ... }`.
template <class Fn> decltype(auto) dispatchDType(DType T, Fn &&F) {
  switch (T) {
  case DType::F32: return F(float{});
  case DType::F64: return F(double{});
  case DType::I8: return F(int8_t{});
  case DType::U8: return F(uint8_t{});
  case DType::I32: return F(int32_t{});
  case DType::I64: return F(int64_t{});
  case DType::Bool: return F(bool{});
  }
  __builtin_unreachable();
}

} // namespace mote

#endif // MOTE_COMPILER_DTYPE_H
