//===- Targets.cpp - The devices mote compiles for ------------------------===//

#include "codegen/Targets.h"

namespace mote {

namespace {
constexpr TargetInfo Targets[] = {
    {"host", "x86_64-unknown-linux-gnu", "x86-64", "", "", "", "",
     RunKind::Native, "", ""},
    {"cortex-m4", "thumbv7em-none-eabihf", "cortex-m4", "", "hard",
     "arm-none-eabi-g++",
     "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16",
     RunKind::Semihosting, "mps2", "qemu-system-arm -M mps2-an386 -cpu cortex-m4"},
    {"cortex-m7", "thumbv7em-none-eabihf", "cortex-m7", "", "hard",
     "arm-none-eabi-g++",
     "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16",
     RunKind::Semihosting, "mps2", "qemu-system-arm -M mps2-an500 -cpu cortex-m7"},
    {"cortex-m55", "thumbv8.1m.main-none-eabihf", "cortex-m55", "", "hard",
     "arm-none-eabi-g++", "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard",
     RunKind::Semihosting, "mps3",
     "qemu-system-arm -M mps3-an547 -cpu cortex-m55"},
    // Static freestanding Linux ELFs (own _start, raw system calls) run by
    // QEMU's user mode. clang++-19 finds lld-19 as ld.lld in its own
    // directory (/usr/lib/llvm-19/bin), whatever /usr/bin/ld.lld is.
    {"aarch64", "aarch64-unknown-linux-gnu", "cortex-a72", "", "",
     "clang++-19",
     "--target=aarch64-unknown-linux-gnu -mcpu=cortex-a72 -fuse-ld=lld",
     RunKind::LinuxUser, "linux", "qemu-aarch64"},
    // Hexagon V67, not V68: qemu-hexagon 7.2 refuses ELF files whose
    // e_flags name a core newer than V67 ("unable to find CPU model"); the
    // kernels compile to the same instructions for both. -G0: no
    // GP-relative small data, whose 8-byte entries ld.lld cannot relocate
    // (the LLVM backend sets the same, codegen/llvm/LlvmEmitter.cpp).
    {"hexagon", "hexagon-unknown-none-elf", "hexagonv67", "", "",
     "clang++-19",
     "--target=hexagon-unknown-none-elf -mcpu=hexagonv67 -G0 -fuse-ld=lld",
     RunKind::LinuxUser, "linux", "qemu-hexagon"},
};
} // namespace

std::span<const TargetInfo> allTargets() { return Targets; }

const TargetInfo *lookupTarget(std::string_view Name) {
  for (const TargetInfo &T : Targets)
    if (T.Name == Name)
      return &T;
  return nullptr;
}

std::string targetNames() {
  std::string R;
  for (const TargetInfo &T : Targets)
    R += (R.empty() ? "" : ", ") + std::string(T.Name);
  return R;
}

} // namespace mote
