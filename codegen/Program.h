//===- Program.h - The lowered program both backends emit -------*- C++ -*-===//
//
// A scheduled, laid-out graph lowered once into what the generated code
// does, with nothing left to decide:
//   - the read-only data (flash): every frozen tensor, the initial value of
//     every trained tensor that is not all zeros, and every table a kernel's
//     parameters point to, each a named array;
//   - one kernel call per node, in schedule order: the op's lowering
//     (header, kernel, element types, parameter block) with every operand
//     resolved to an arena offset, a read-only array or null;
//   - the API: what NAME_init copies or zeroes, the training step (every
//     call, the loss; the inputs are read where the caller keeps them), the inference entry (the calls the
//     prediction needs, outputs copied out as soon as they exist), the
//     checkpoint layout.
// The C++ emitter (codegen/cpp) and the LLVM backend (codegen/llvm) turn it
// into NAME.cpp and NAME.o, and ApiHeader.h writes NAME.h from it; neither
// looks at the graph again. The lowering is a pure function of the graph,
// the layout and the options.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_CODEGEN_PROGRAM_H
#define MOTE_CODEGEN_PROGRAM_H

#include "compiler/DType.h"
#include "compiler/Diagnostic.h"
#include "compiler/KernelParams.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mote {

class Graph;
class Value;
struct MemoryLayout;

/// A read-only array (flash).
struct ProgramConstant {
  /// Unique in the program: "w3" (a frozen tensor), "init0" (a trained
  /// tensor's initial value), "t1" (a parameter table). Emitters prefix it
  /// with the model's name where it becomes a symbol.
  std::string Symbol;
  /// What it is, for comments in the generated code.
  std::string Comment;
  DType Elem = DType::F32;
  int64_t Elements = 0;
  /// The bytes (Elements * dtypeSize(Elem)) in the host's order, which is
  /// every target's (little-endian): a view of the graph's tensor, or Owned.
  std::string_view bytes() const { return Owned.empty() ? View : Owned; }
  std::string_view View;
  std::string Owned;
};

/// An operand: arena bytes, a read-only array, a graph input in the
/// caller's buffer, or nothing.
struct ProgramRef {
  enum class Kind : uint8_t { Null, Arena, Constant, Input };
  Kind K = Kind::Null;
  int64_t Offset = 0;    ///< Arena: byte offset
  int32_t Constant = -1; ///< Constant: index into LoweredProgram::Constants
  DType Elem = DType::F32;
  int64_t Bytes = 0;
  /// A call operand the kernel writes (a result).
  bool Written = false;
  /// Input: the graph input's index; the entry point's pointer to it is
  /// read where the caller keeps it, never copied.
  int32_t Input = -1;
  int64_t elements() const { return Bytes / int64_t(dtypeSize(Elem)); }
  bool isNull() const { return K == Kind::Null; }
  bool inArena() const { return K == Kind::Arena; }
  bool isInput() const { return K == Kind::Input; }
};

/// One node's kernel call. Table fields of Params name their array in
/// ParamField::Constant.
struct ProgramCall {
  std::string NodeName;
  std::string OpName;
  std::string_view Header;
  std::string Kernel;
  std::vector<DType> TypeArgs;
  ParamBlock Params;
  std::vector<ProgramRef> Operands;
  /// Whether an operand is a graph input (the node then needs the inputs'
  /// pointers).
  bool readsInputs() const {
    for (const ProgramRef &R : Operands)
      if (R.isInput())
        return true;
    return false;
  }
};

/// A value the caller passes in or gets back.
struct ProgramIo {
  std::string Name;
  std::string Type; ///< as TensorType::str() prints it
  ProgramRef Ref;
};

/// What NAME_init does for one trained tensor or optimizer state: copy
/// Constant (its initial value) into Dst, or zero Dst when Constant is -1.
struct InitStep {
  ProgramRef Dst;
  int32_t Constant = -1;
};

/// A step of an entry point: run Calls[Index], or copy Outputs[Index] out.
struct EntryStep {
  enum class Kind : uint8_t { Call, CopyOut };
  Kind K = Kind::Call;
  int32_t Index = 0;
};

struct ProgramEntry {
  /// The entry's input pointers, in order: each a graph input (Ref.Input)
  /// that the calls read in place.
  std::vector<ProgramIo> Inputs;
  /// Training: the loss. Inference: the outputs, in the caller's order.
  std::vector<ProgramIo> Outputs;
  std::vector<EntryStep> Steps;
};

/// One entry of the checkpoint: the trainable parameters and optimizer
/// state in graph order, each 16-byte aligned in the checkpoint.
struct CheckpointEntry {
  const Value *V = nullptr;
  std::string Name;
  std::string Type;
  int64_t ArenaOffset = 0;
  int64_t Offset = 0; ///< in the checkpoint
  int64_t Bytes = 0;
};

struct LoweredProgram {
  /// Prefix of every exported symbol (a C identifier).
  std::string Name = "model";
  /// The model file, for banners.
  std::string Source;
  int64_t ArenaBytes = 0;
  int64_t ArenaAlign = 16;
  /// Bytes of the frozen tensors and initial values (the layout's count).
  int64_t FlashBytes = 0;
  int64_t CheckpointBytes = 0;
  bool Training = false;
  /// --accumulate N: the training step updates the parameters at every
  /// N-th call, with the mean gradient of the N (1: every call).
  int64_t AccumulateSteps = 1;
  /// Number of graph inputs: node functions that read one take the array
  /// of their pointers in graph order (ProgramRef::Input indexes it).
  int32_t GraphInputs = 0;
  std::vector<ProgramConstant> Constants;
  /// One per node, in schedule order; entries refer to them by index.
  std::vector<ProgramCall> Calls;
  std::vector<InitStep> Init;
  /// Training graphs: every call; its one output is the loss.
  std::optional<ProgramEntry> Train;
  /// The forward subset that computes the prediction (every call of an
  /// inference graph); none for a training graph whose model computes its
  /// own loss.
  std::optional<ProgramEntry> Infer;
  std::vector<CheckpointEntry> Checkpoint;
  /// NAME_train_step(arena, input, label) exists: one f32 input and an i32
  /// label.
  bool TrainTwoArgForm = false;
  /// NAME_infer(arena, input, output) exists: one f32 input and output.
  bool InferOneToOneForm = false;
};

struct LowerOptions {
  /// Prefix of every exported symbol; must be a C identifier.
  std::string Name = "model";
  /// Shown in the banners of the generated files.
  std::string Source;
  /// Training graphs: the model output inference returns (the value the
  /// loss is on); null for inference graphs (the graph outputs) or models
  /// that compute their own loss (no inference entry then).
  const Value *Prediction = nullptr;
};

/// Lowers \p G in its node order with layout \p L. Fails, naming the node,
/// if a node has no lowering or its lowering rejects it.
Expected<LoweredProgram> lowerProgram(const Graph &G, const MemoryLayout &L,
                                      const LowerOptions &O);

/// Whether \p S is a valid C identifier (and so a valid --name).
bool isCIdentifier(std::string_view S);

/// Text for a C comment: no "*/" and no line breaks.
std::string commentSafe(std::string_view S);

} // namespace mote

#endif // MOTE_CODEGEN_PROGRAM_H
