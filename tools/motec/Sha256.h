//===- Sha256.h - SHA-256 of byte strings -----------------------*- C++ -*-===//
//
// A small self-contained SHA-256 (FIPS 180-4) used by `motec check` to
// fingerprint the generated code, the model file and input data. Not for
// anything secret: no constant-time guarantees.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_SHA256_H
#define MOTE_TOOLS_MOTEC_SHA256_H

#include <string>
#include <string_view>

namespace mote::cli {

/// The SHA-256 digest of \p Data as 64 lowercase hex digits.
std::string sha256Hex(std::string_view Data);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_SHA256_H
