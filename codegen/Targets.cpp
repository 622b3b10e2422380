//===- Targets.cpp - The devices mote compiles for ------------------------===//

#include "codegen/Targets.h"

namespace mote {

namespace {
constexpr TargetInfo Targets[] = {
    {"host", "x86_64-linux-gnu", "", "", "", "", ""},
    {"cortex-m4", "thumbv7em-none-eabihf", "cortex-m4", "arm-none-eabi-g++",
     "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16", "mps2",
     "qemu-system-arm -M mps2-an386 -cpu cortex-m4"},
    {"cortex-m7", "thumbv7em-none-eabihf", "cortex-m7", "arm-none-eabi-g++",
     "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16", "mps2",
     "qemu-system-arm -M mps2-an500 -cpu cortex-m7"},
};
} // namespace

std::span<const TargetInfo> allTargets() { return Targets; }

const TargetInfo *lookupTarget(std::string_view Name) {
  for (const TargetInfo &T : Targets)
    if (T.Name == Name)
      return &T;
  return nullptr;
}

} // namespace mote
