//===- ApiHeader.h - NAME.h of a lowered program ----------------*- C++ -*-===//
//
// The header of the generated API (docs/generated-api.md): the arena,
// flash and checkpoint sizes, the entry points the program has, the inputs
// and outputs they take, the checkpoint layout. Both backends ship the same
// header, written here from the lowered program, so they cannot drift.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_APIHEADER_H
#define MOTE_CODEGEN_APIHEADER_H

#include <string>

namespace mote {

struct LoweredProgram;

/// The text of NAME.h.
std::string emitApiHeader(const LoweredProgram &P);

} // namespace mote

#endif // MOTE_CODEGEN_APIHEADER_H
