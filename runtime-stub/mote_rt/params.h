//===- params.h - The kernels' parameter structs ----------------*- C++ -*-===//
//
// Every parameter struct a kernel takes, generated from mote_rt/params.def
// (the schema the compiler's writers come from too; see that file for what
// each struct and field means). Generated code initialises them with
// designated initialisers, so a field name that does not match fails to
// compile.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_PARAMS_H
#define MOTE_RT_PARAMS_H

#include <stdint.h>

namespace mote_rt {

#define MOTE_LIMIT(Name, Value) inline constexpr int Name = Value;
#define MOTE_STRUCT(Name) struct Name {
#define MOTE_I32(Field) int32_t Field;
#define MOTE_F32(Field) float Field;
#define MOTE_I32_ARRAY(Field, Limit) int32_t Field[Limit];
#define MOTE_NESTED(Field, Type) Type Field;
#define MOTE_TABLE(Field, Elem) const Elem *Field;
#define MOTE_END(Name)                                                         \
  }                                                                            \
  ;
#include "mote_rt/params.def"

} // namespace mote_rt

#endif // MOTE_RT_PARAMS_H
