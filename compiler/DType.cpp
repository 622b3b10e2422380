//===- DType.cpp - Element types of the graph IR --------------------------===//

#include "compiler/DType.h"

#include <array>

namespace mote {

namespace {
struct DTypeInfo {
  DType Type;
  std::string_view Name;
  size_t Size;
};
constexpr std::array<DTypeInfo, 7> DTypeTable = {{
    {DType::F32, "f32", 4},
    {DType::F64, "f64", 8},
    {DType::I8, "i8", 1},
    {DType::U8, "u8", 1},
    {DType::I32, "i32", 4},
    {DType::I64, "i64", 8},
    {DType::Bool, "bool", 1},
}};
} // namespace

size_t dtypeSize(DType T) { return DTypeTable[static_cast<size_t>(T)].Size; }

std::string_view dtypeName(DType T) {
  return DTypeTable[static_cast<size_t>(T)].Name;
}

std::optional<DType> parseDType(std::string_view Name) {
  for (const DTypeInfo &I : DTypeTable)
    if (I.Name == Name)
      return I.Type;
  return std::nullopt;
}

} // namespace mote
