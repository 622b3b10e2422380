//===- KernelParams.h - The compiler's side of the parameter structs -*- C++ -*-===//
//
// A kernel's parameter struct is declared once, in
// runtime-stub/mote_rt/params.def. From it come the runtime structs
// (mote_rt/params.h) and, here, one writer struct per parameter struct in
// namespace mote::kparams with the same fields in the same order. A
// lowering fills one with designated initialisers:
//
//   C.setParams(kparams::SoftmaxP{.Outer = Outer, .Dim = Dim, .Inner = In});
//
// Every field type has no default constructor, so a field left out does
// not compile, and designators must follow the declaration order, so a
// field moved in the schema does not compile until the lowering follows.
// The filled struct becomes a ParamBlock: the fields by name and kind, in
// order, which the emitters turn into code (designated initialisers in the
// C++, a constant of the C layout in the LLVM backend).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_KERNELPARAMS_H
#define MOTE_COMPILER_KERNELPARAMS_H

#include "compiler/DType.h"

#include <cassert>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mote {

/// One field of a parameter struct, as the emitters see it.
struct ParamField {
  enum class Kind : uint8_t {
    I32,      ///< int32_t: I
    F32,      ///< float: F
    I32Array, ///< int32_t[Length]: Ints (at most Length values, zero-padded)
    Struct,   ///< a nested struct Type: Fields
    Table,    ///< const Elem *: the constant array Data (Elem i32 or f32)
  };
  Kind K = Kind::I32;
  std::string_view Name;
  int64_t I = 0;
  double F = 0;
  std::vector<int64_t> Ints;
  int32_t Length = 0;
  DType Elem = DType::I32;
  /// Table: the elements' bytes, in the host's (little-endian) order, which
  /// is every target's.
  std::string Data;
  /// Table: the read-only array of the lowered program that holds Data
  /// (codegen/Program.h; -1 until the program is built).
  int32_t Constant = -1;
  std::string_view Type;
  std::vector<ParamField> Fields;
};

/// A filled parameter struct: its type name (empty: the kernel takes none)
/// and its fields in declaration order.
struct ParamBlock {
  std::string_view Type;
  std::vector<ParamField> Fields;
  bool empty() const { return Type.empty(); }
};

namespace kparams {

/// An int32_t field. Out-of-range values are a lowering bug (lowerings
/// check their sizes against the kernels' 32-bit limits first).
class I32 {
public:
  I32(int64_t V) : V(V) {}
  template <std::floating_point T> I32(T) = delete;
  int64_t V;
};

/// A float field.
class F32 {
public:
  F32(double V) : V(V) {}
  template <std::integral T> F32(T) = delete;
  double V;
};

/// An int32_t[Limit] field; fewer values are zero-padded.
template <int Limit> class I32Array {
public:
  I32Array(const std::vector<int64_t> &V) : V(V) {
    assert(V.size() <= size_t(Limit) && "array field longer than its limit");
  }
  I32Array(std::initializer_list<int64_t> L) : V(L) {
    assert(V.size() <= size_t(Limit) && "array field longer than its limit");
  }
  std::vector<int64_t> V;
};

/// A `const Elem *` field: a constant array in read-only memory.
template <class Elem> class Table {
  static_assert(std::same_as<Elem, int32_t> || std::same_as<Elem, float>,
                "tables hold int32_t or float");

public:
  Table(std::vector<Elem> V) : V(std::move(V)) {}
  std::vector<Elem> V;
};

#define MOTE_LIMIT(Name, Value) inline constexpr int Name = Value;
#define MOTE_STRUCT(Name)                                                      \
  struct Name {                                                                \
    static constexpr std::string_view TypeName = #Name;
#define MOTE_I32(Field) I32 Field;
#define MOTE_F32(Field) F32 Field;
#define MOTE_I32_ARRAY(Field, Limit) I32Array<Limit> Field;
#define MOTE_NESTED(Field, NestedT) NestedT Field;
#define MOTE_TABLE(Field, Elem) Table<Elem> Field;
#define MOTE_END(Name)                                                         \
  }                                                                            \
  ;
#include "runtime-stub/mote_rt/params.def"

/// A field of kind \p K named \p Name, its value still to set.
inline ParamField field(ParamField::Kind K, std::string_view Name) {
  ParamField F;
  F.K = K;
  F.Name = Name;
  return F;
}
inline ParamField fieldOf(std::string_view Name, const I32 &V) {
  ParamField F = field(ParamField::Kind::I32, Name);
  F.I = V.V;
  return F;
}
inline ParamField fieldOf(std::string_view Name, const F32 &V) {
  ParamField F = field(ParamField::Kind::F32, Name);
  F.F = V.V;
  return F;
}
template <int Limit>
ParamField fieldOf(std::string_view Name, const I32Array<Limit> &V) {
  ParamField F = field(ParamField::Kind::I32Array, Name);
  F.Ints = V.V;
  F.Length = Limit;
  return F;
}
template <class Elem>
ParamField fieldOf(std::string_view Name, const Table<Elem> &V) {
  ParamField F = field(ParamField::Kind::Table, Name);
  F.Elem = std::same_as<Elem, float> ? DType::F32 : DType::I32;
  F.Data.assign(reinterpret_cast<const char *>(V.V.data()),
                V.V.size() * sizeof(Elem));
  return F;
}

// writeFields(const S &, Out) for every struct S: its fields in order.
#define MOTE_STRUCT(Name)                                                      \
  inline void writeFields(const Name &P, std::vector<ParamField> &Out) {
#define MOTE_I32(Field) Out.push_back(fieldOf(#Field, P.Field));
#define MOTE_F32(Field) Out.push_back(fieldOf(#Field, P.Field));
#define MOTE_I32_ARRAY(Field, Limit) Out.push_back(fieldOf(#Field, P.Field));
#define MOTE_TABLE(Field, Elem) Out.push_back(fieldOf(#Field, P.Field));
#define MOTE_NESTED(Field, NestedT)                                             \
  {                                                                            \
    ParamField F = field(ParamField::Kind::Struct, #Field);                    \
    F.Type = NestedT::TypeName;                                                \
    writeFields(P.Field, F.Fields);                                            \
    Out.push_back(std::move(F));                                               \
  }
#define MOTE_END(Name) }
#include "runtime-stub/mote_rt/params.def"

} // namespace kparams

/// The ParamBlock of a filled writer struct.
template <class P> ParamBlock paramBlock(const P &V) {
  ParamBlock B;
  B.Type = P::TypeName;
  kparams::writeFields(V, B.Fields);
  return B;
}

} // namespace mote

#endif // MOTE_COMPILER_KERNELPARAMS_H
