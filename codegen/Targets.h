//===- Targets.h - The devices mote compiles for ----------------*- C++ -*-===//
//
// One row per target: what the LLVM backend needs to emit an object for it
// (triple, CPU, features, float ABI), how to build generated C++ for it with
// a compiler from Debian, and how to run it here (natively, on an emulated
// board with Arm semihosting, or under qemu's Linux user mode).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_TARGETS_H
#define MOTE_CODEGEN_TARGETS_H

#include <span>
#include <string>
#include <string_view>

namespace mote {

/// How `motec run` executes a program built for a target.
enum class RunKind {
  Native,        ///< the host runs it directly
  Semihosting,   ///< qemu-system-* board, Arm semihosting for files and exit
  LinuxUser,     ///< qemu-<arch> user mode, a static freestanding ELF
};

struct TargetInfo {
  std::string_view Name;
  /// LLVM target triple, CPU and extra features ("+mve.fp,-foo", may be
  /// empty) of the LLVM backend.
  std::string_view Triple;
  std::string_view Cpu;
  std::string_view Features;
  /// "hard" or "soft" for 32-bit Arm; empty elsewhere.
  std::string_view FloatAbi;
  /// C++ compiler for the generated source (empty: the host's $MOTE_CXX,
  /// $CXX or c++).
  std::string_view Cxx;
  /// Target flags for that compiler.
  std::string_view CxxFlags;
  RunKind Run;
  /// Board directory under runtime-stub/board (startup, linker script,
  /// I/O); empty for Native.
  std::string_view Board;
  /// Emulator command (the ELF path is appended); empty: runs natively.
  std::string_view Emulator;
};

std::span<const TargetInfo> allTargets();
const TargetInfo *lookupTarget(std::string_view Name);
/// "host, cortex-m4, ...": the target names, for messages.
std::string targetNames();

} // namespace mote

#endif // MOTE_CODEGEN_TARGETS_H
