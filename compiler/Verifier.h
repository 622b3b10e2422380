//===- Verifier.h - Structural and type checks of a Graph -------*- C++ -*-===//
//
// The verifier checks the invariants every pass must keep:
//   - each node's arity and attributes match its OpDef schema,
//   - each node's recorded result types equal what its type rule infers,
//   - SSA order: every operand is a graph input, a parameter, a constant, or
//     the result of an earlier node (this also rules out cycles),
//   - parameters and constants carry data of their declared type,
//   - every value belongs to this graph, and graph outputs are defined.
// Tests and debug builds run it after every pass.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_VERIFIER_H
#define MOTE_COMPILER_VERIFIER_H

#include "compiler/Diagnostic.h"

namespace mote {

class Graph;

/// Verifies \p G; returns the first problem found.
Status verifyGraph(const Graph &G);

} // namespace mote

#endif // MOTE_COMPILER_VERIFIER_H
