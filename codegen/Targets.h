//===- Targets.h - The devices mote compiles for ----------------*- C++ -*-===//
//
// One row per target: how to build generated C++ for it with a cross
// compiler from Debian and how to run it here (native, or an emulated board
// with Arm semihosting). The LLVM backend adds its triple/CPU/features.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_TARGETS_H
#define MOTE_CODEGEN_TARGETS_H

#include <span>
#include <string_view>

namespace mote {

struct TargetInfo {
  std::string_view Name;
  std::string_view Triple;
  std::string_view Cpu;
  /// C++ compiler for the generated source (empty: the host's $CXX / c++).
  std::string_view Cxx;
  /// Target flags for that compiler.
  std::string_view CxxFlags;
  /// Board directory under runtime-stub/board (startup, linker script).
  std::string_view Board;
  /// Emulator command (the ELF path is appended); empty: runs natively.
  std::string_view Emulator;
};

std::span<const TargetInfo> allTargets();
const TargetInfo *lookupTarget(std::string_view Name);

} // namespace mote

#endif // MOTE_CODEGEN_TARGETS_H
