//===- Parser.h - Reads the textual graph IR --------------------*- C++ -*-===//
//
// Reads the format Printer.h writes. Errors carry the file and line. The
// parser checks syntax, names (defined once, used after definition) and
// that data matches its declared type; op-level checks are the verifier's.
// A param or const written without `= [...]` is read as zeros.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_PARSER_H
#define MOTE_COMPILER_PARSER_H

#include "compiler/Diagnostic.h"

#include <memory>
#include <string>
#include <string_view>

namespace mote {

class Graph;

Expected<std::unique_ptr<Graph>> parseGraph(std::string_view Text,
                                            std::string FileName = "<input>");

} // namespace mote

#endif // MOTE_COMPILER_PARSER_H
