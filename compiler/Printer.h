//===- Printer.h - Textual form of the graph IR -----------------*- C++ -*-===//
//
// Prints a Graph in mote's textual IR, which Parser.h reads back: the format
// of golden tests and of `motec ... --print-ir`. Example:
//
//   graph @mlp {
//     input %x : f32[1,4]
//     param %fc.weight : f32[2,4] = [0.5, -1, ...]
//     const %axes : i64[1] = [0]
//     %y = Gemm "fc"(%x, %fc.weight, _) {transB = 1} : f32[1,2]
//     output %y
//   }
//
// `_` is an absent optional operand. Names that are not plain identifiers
// (letters, digits, _ . : / -) are quoted. Floats are printed in the
// shortest form that reads back to the same bits, so print -> parse -> print
// is the identity.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_PRINTER_H
#define MOTE_COMPILER_PRINTER_H

#include <cstdint>
#include <string>

namespace mote {

class Graph;
class Tensor;

struct PrintOptions {
  /// Parameter/constant data with more elements than this is left out (the
  /// parser then reads the parameter as zeros). -1 prints everything.
  int64_t ElideDataAbove = -1;
};

std::string printGraph(const Graph &G, const PrintOptions &Opts = {});

/// Quotes \p Name if it is not a plain identifier.
std::string printName(const std::string &Name);

} // namespace mote

#endif // MOTE_COMPILER_PRINTER_H
