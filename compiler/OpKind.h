//===- OpKind.h - Enumeration of all ops ------------------------*- C++ -*-===//
//
// One enumerator per op listed in Ops.def.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPKIND_H
#define MOTE_COMPILER_OPKIND_H

#include <cstdint>

namespace mote {

enum class OpKind : uint16_t {
#define MOTE_OP(Name, File) Name,
#include "compiler/Ops.def"
};

inline constexpr unsigned NumOpKinds = 0
#define MOTE_OP(Name, File) +1
#include "compiler/Ops.def"
    ;

} // namespace mote

#endif // MOTE_COMPILER_OPKIND_H
