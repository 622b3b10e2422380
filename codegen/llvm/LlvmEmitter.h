//===- LlvmEmitter.h - Object code from a planned graph via LLVM -*- C++ -*-===//
//
// The LLVM backend: the lowered program (codegen/Program.h) the C++
// emitter (codegen/cpp) also writes, as an LLVM module that calls the
// runtime-stub kernels through the per-target kernel library
// (KernelLibrary.cpp compiled to bitcode at build time and embedded here). The kernels are linked in,
// inlined and specialised on their constant parameter structs, optimised at
// O2/O3 with the target's cost model and emitted as an ELF object.
//
// The object defines NAME_init, NAME_train_step_v, NAME_train_step,
// NAME_infer_v, NAME_infer, NAME_save and NAME_load exactly as NAME.cpp
// does (under the same conditions), and NAME.h is the same header
// (codegen/ApiHeader.h), so the two backends cannot drift apart. Frozen weights and initial values
// are read-only data (.rodata: flash). The only symbols it may need from
// outside are memcpy, memset and memmove, which LLVM emits for block copies
// and fills (the boards' runtime provides them). Output is deterministic:
// the same graph, layout and options give a byte-identical object.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_LLVM_LLVMEMITTER_H
#define MOTE_CODEGEN_LLVM_LLVMEMITTER_H

#include "codegen/Output.h"
#include "compiler/DType.h"
#include "compiler/Diagnostic.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mote {

struct TargetInfo;
struct LoweredProgram;

struct ObjectEmitOptions {
  /// The target (codegen/Targets.h); it needs a kernel library in this build.
  const TargetInfo *Target = nullptr;
  /// LLVM optimisation level, 0 to 3.
  int OptLevel = 2;
  /// Instead of NAME.o, NAME.ll: the module as mote builds it, before the
  /// kernel library is linked in and anything is optimised (golden tests).
  /// A call of a kernel instance the library lacks is then no error: its
  /// operand count and struct are the call's own.
  bool EmitIr = false;
};

/// NAME.h and NAME.o (binary, in EmittedFile::Text). Fails, naming the
/// node, if the kernel library has no instance of the kernel a call needs.
Expected<std::vector<EmittedFile>> emitObject(const LoweredProgram &P,
                                              const ObjectEmitOptions &O);

/// The kernel library of one target, embedded at build time.
struct KernelBitcode {
  std::string_view Target; ///< TargetInfo::Name
  std::string_view Triple; ///< the triple it was compiled for
  const unsigned char *Begin = nullptr;
  const unsigned char *End = nullptr;
};
std::span<const KernelBitcode> kernelBitcodes();

/// Name of the kernel library entry for a kernel and its element types, e.g.
/// "mote_k_conv_f32" or "mote_k_cast_f32_i64".
std::string kernelEntryName(std::string_view Kernel,
                            std::span<const DType> Types);

} // namespace mote

#endif // MOTE_CODEGEN_LLVM_LLVMEMITTER_H
