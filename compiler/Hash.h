//===- Hash.h - A fingerprint of bytes --------------------------*- C++ -*-===//
//
// 64-bit FNV-1a: the fingerprint of a model's read-only data that the C++
// emitter writes into NAME.cpp, and the seed of motec check's inputs. Not
// cryptographic; stable across hosts and builds.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_HASH_H
#define MOTE_COMPILER_HASH_H

#include <cstdint>
#include <string_view>

namespace mote {

inline uint64_t fnv1a64(std::string_view S) {
  uint64_t H = 0xcbf29ce484222325ULL;
  for (char C : S) {
    H ^= uint8_t(C);
    H *= 0x100000001b3ULL;
  }
  return H;
}

} // namespace mote

#endif // MOTE_COMPILER_HASH_H
