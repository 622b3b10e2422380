//===- CppEmitter.cpp - Freestanding C++ from a lowered program -----------===//

#include "codegen/cpp/CppEmitter.h"
#include "codegen/ApiHeader.h"
#include "codegen/Program.h"
#include "compiler/Hash.h"

#include <cmath>
#include <fmt/format.h>
#include <functional>
#include <set>

namespace mote {

std::string weightsFileName(std::string_view Name) {
  return fmt::format("{}.weights", Name);
}

namespace {

std::string_view cType(DType T) {
  switch (T) {
  case DType::F32:
    return "float";
  case DType::F64:
    return "double";
  case DType::I8:
    return "int8_t";
  case DType::U8:
    return "uint8_t";
  case DType::I32:
    return "int32_t";
  case DType::I64:
    return "int64_t";
  case DType::Bool:
    return "bool";
  }
  return "void";
}

/// A float literal that round-trips exactly (hex float) and needs no libc.
std::string floatLiteral(double V) {
  float F = float(V);
  if (std::isnan(F))
    return "__builtin_nanf(\"\")";
  if (std::isinf(F))
    return std::string(F < 0 ? "-" : "") + "__builtin_inff()";
  if (F == 0)
    return std::signbit(F) ? "-0.0f" : "0.0f";
  return fmt::format("{:a}f", F);
}

class Emitter {
public:
  Emitter(const LoweredProgram &P, const CppEmitOptions &O) : P(P), O(O) {}

  std::vector<EmittedFile> run();

private:
  std::string symbol(int32_t Constant) const {
    return fmt::format("{}_{}", P.Name, P.Constants[size_t(Constant)].Symbol);
  }
  /// Pointer expression for \p R (arena offset or read-only array).
  std::string ptr(const ProgramRef &R, bool Const) const;
  std::string fieldsLiteral(const std::vector<ParamField> &Fields) const;
  void emitData();
  void emitCall(size_t I);
  std::string callNode(int32_t I) const {
    return fmt::format("  node{}(A{});\n", I,
                       P.Calls[size_t(I)].readsInputs() ? ", In" : "");
  }
  void emitInit();
  void emitTrainStep();
  void emitInfer();
  void emitCheckpoint();

  const LoweredProgram &P;
  const CppEmitOptions &O;
  std::set<std::string, std::less<>> Headers;
  std::string Asm, Decls, NodeFns, Code, Weights;
};

std::string Emitter::ptr(const ProgramRef &R, bool Const) const {
  switch (R.K) {
  case ProgramRef::Kind::Null:
    return "nullptr";
  case ProgramRef::Kind::Arena:
    return fmt::format("reinterpret_cast<{}{} *>(A + {})",
                       Const ? "const " : "", cType(R.Elem), R.Offset);
  case ProgramRef::Kind::Constant:
    return symbol(R.Constant);
  case ProgramRef::Kind::Input:
    return fmt::format("static_cast<const {} *>(In[{}])", cType(R.Elem),
                       R.Input);
  }
  return "nullptr";
}

/// The designated initialiser of a parameter struct with fields \p Fields.
std::string
Emitter::fieldsLiteral(const std::vector<ParamField> &Fields) const {
  std::vector<std::string> Parts;
  for (const ParamField &F : Fields) {
    std::string V;
    switch (F.K) {
    case ParamField::Kind::I32:
      V = fmt::format("{}", F.I);
      break;
    case ParamField::Kind::F32:
      V = floatLiteral(F.F);
      break;
    case ParamField::Kind::I32Array:
      V = fmt::format("{{{}}}", fmt::join(F.Ints, ", "));
      break;
    case ParamField::Kind::Struct:
      V = fieldsLiteral(F.Fields);
      break;
    case ParamField::Kind::Table:
      V = symbol(F.Constant);
      break;
    }
    Parts.push_back(fmt::format(".{} = {}", F.Name, V));
  }
  return fmt::format("{{{}}}", fmt::join(Parts, ", "));
}

// The read-only arrays are NAME.weights, one after another; the assembler
// includes each slice at its label in a read-only section (16-byte aligned,
// as the kernels' vector loads like), and C++ sees them as extern arrays of
// their element type.
void Emitter::emitData() {
  if (P.Constants.empty())
    return;
  std::string File = weightsFileName(P.Name);
  std::vector<std::string> Lines;
  for (const ProgramConstant &C : P.Constants) {
    std::string_view Bytes = C.bytes();
    std::string Sym = fmt::format("{}_{}", P.Name, C.Symbol);
    Lines.push_back(".balign 16");
    Lines.push_back(fmt::format(".globl {}", Sym));
    Lines.push_back(fmt::format(".hidden {}", Sym));
    Lines.push_back(fmt::format("{}:", Sym));
    if (!Bytes.empty())
      Lines.push_back(fmt::format(".incbin \\\"{}\\\", {}, {}", File,
                                  Weights.size(), Bytes.size()));
    Weights.append(Bytes);
    Decls += fmt::format("// {}\nextern \"C\" alignas(16) MOTE_RT_DATA const "
                         "{} {}[{}];\n",
                         commentSafe(C.Comment), cType(C.Elem), Sym,
                         std::max<int64_t>(C.Elements, 1));
  }
  // The data's size and fingerprint are in the source, so the source
  // changes whenever the data does (build caches key on the source).
  uint64_t Fingerprint = fnv1a64(Weights);
  Asm += fmt::format("// Read-only data: {}, {} bytes (FNV-1a {:#018x}),\n"
                     "// placed in a read-only section by the assembler "
                     "(found through -I).\n",
                     File, Weights.size(), Fingerprint);
  // --check-bounds: the block's ends, which the DataGuards poison between
  // (mote_rt/check.h).
  if (O.CheckBounds) {
    std::string Begin = fmt::format("{}_weights_begin", P.Name);
    std::string End = fmt::format("{}_weights_end", P.Name);
    Lines.insert(Lines.begin(),
                 {".balign 16", fmt::format(".globl {}", Begin),
                  fmt::format(".hidden {}", Begin), Begin + ":"});
    Lines.insert(Lines.end(), {fmt::format(".globl {}", End),
                               fmt::format(".hidden {}", End), End + ":"});
    Decls += fmt::format("extern \"C\" MOTE_RT_DATA const unsigned char "
                         "{}[], {}[];\n",
                         Begin, End);
  }
  Asm += fmt::format("__asm__(\".pushsection .rodata.{}_weights, "
                     "\\\"a\\\"\\n\"\n",
                     P.Name);
  Asm += fmt::format("        \"/* {} bytes, FNV-1a {:#018x} */\\n\"\n",
                     Weights.size(), Fingerprint);
  for (const std::string &L : Lines)
    Asm += fmt::format("        \"{}\\n\"\n", L);
  Asm += "        \".popsection\\n\");\n\n";
}

void Emitter::emitCall(size_t I) {
  const ProgramCall &C = P.Calls[I];
  Headers.insert(std::string(C.Header));
  std::vector<std::string> Args;
  if (!C.Params.empty())
    Args.push_back("P");
  for (const ProgramRef &R : C.Operands)
    Args.push_back(ptr(R, /*Const=*/!R.Written));
  std::string TArgs;
  for (size_t K = 0; K < C.TypeArgs.size(); ++K)
    TArgs += fmt::format("{}{}", K ? ", " : "", cType(C.TypeArgs[K]));
  std::string Body;
  if (!C.Params.empty())
    Body += fmt::format("  static constexpr mote_rt::{} P = {};\n",
                        C.Params.Type, fieldsLiteral(C.Params.Fields));
  // --check-bounds: only the planned bytes of this call's arena operands,
  // and of the read-only arrays it reads, are addressable while it runs
  // (mote_rt/check.h).
  if (O.CheckBounds && !P.Constants.empty()) {
    std::vector<std::string> Data;
    auto AddData = [&](int32_t K) {
      Data.push_back(fmt::format("{{{}, {}}}", symbol(K),
                                 P.Constants[size_t(K)].bytes().size()));
    };
    for (const ProgramRef &R : C.Operands)
      if (R.K == ProgramRef::Kind::Constant)
        AddData(R.Constant);
    std::function<void(const std::vector<ParamField> &)> Tables =
        [&](const std::vector<ParamField> &Fields) {
          for (const ParamField &F : Fields) {
            if (F.K == ParamField::Kind::Table)
              AddData(F.Constant);
            Tables(F.Fields);
          }
        };
    Tables(C.Params.Fields);
    if (Data.empty())
      Data.push_back("{nullptr, 0}");
    Body += fmt::format("  const mote_rt::DataRange D[] = {{{0}}};\n"
                        "  mote_rt::DataGuard DGuard({1}_weights_begin, "
                        "{1}_weights_end, D);\n",
                        fmt::join(Data, ", "), P.Name);
  }
  if (O.CheckBounds) {
    std::vector<std::string> Ranges;
    for (const ProgramRef &R : C.Operands)
      if (R.inArena())
        Ranges.push_back(fmt::format("{{{}, {}}}", R.Offset, R.Bytes));
    if (Ranges.empty())
      Ranges.push_back("{0, 0}");
    Body += fmt::format("  const mote_rt::ArenaRange R[] = {{{}}};\n"
                        "  mote_rt::ArenaGuard Guard(A, {}, R);\n",
                        fmt::join(Ranges, ", "), P.ArenaBytes);
  }
  Body += fmt::format("  mote_rt::{}{}({});\n", C.Kernel,
                      TArgs.empty() ? "" : "<" + TArgs + ">",
                      fmt::join(Args, ", "));
  // One function per node, never inlined into the step: each kernel is
  // still specialised on its constants inside its node's function, and
  // compile time stays linear in the model (one function holding every
  // kernel took g++ and the sanitizers superlinear time on mobilenet).
  // noexcept: built with exceptions on (a user's firmware flags), a call of
  // a function that may throw makes arm-none-eabi-g++ reference the
  // unwinder's personality routine.
  NodeFns += fmt::format("// {} '{}'\nMOTE_RT_NODE void node{}(unsigned "
                         "char *A{}) noexcept {{\n{}}}\n\n",
                         C.OpName, commentSafe(C.NodeName), I,
                         C.readsInputs() ? ", const void *const *In" : "",
                         Body);
}

void Emitter::emitInit() {
  Code += fmt::format("extern \"C\" void {}_init(void *arena) {{\n", P.Name);
  Code += "  unsigned char *A = static_cast<unsigned char *>(arena);\n";
  for (const InitStep &S : P.Init) {
    std::string_view T = cType(S.Dst.Elem);
    if (S.Constant < 0)
      Code += fmt::format("  mote_rt::fill<{}>(reinterpret_cast<{} *>(A + {}), "
                          "{}(0), {});\n",
                          T, T, S.Dst.Offset, T, S.Dst.elements());
    else
      Code +=
          fmt::format("  mote_rt::copy<{}>({}, reinterpret_cast<{} *>(A + "
                      "{}), {});\n",
                      T, symbol(S.Constant), T, S.Dst.Offset, S.Dst.elements());
  }
  if (P.Init.empty())
    Code += "  (void)A;\n";
  Code += "}\n\n";
}

/// In, the caller's input pointers in graph-input order (what the node
/// functions that read inputs take): the entry's own array when its inputs
/// are the graph's, in order, else an array of them with null for the
/// graph inputs this entry does not take. An input the program places in
/// the arena (a ProgramRef::Kind::Arena input) is copied there instead.
std::string inputPointers(const std::vector<ProgramIo> &Inputs,
                          int32_t GraphInputs,
                          const std::function<std::string(const ProgramRef &)> &Ptr) {
  std::string S;
  bool Same = int32_t(Inputs.size()) == GraphInputs;
  std::vector<std::string> Slots(size_t(std::max(GraphInputs, 1)), "nullptr");
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const ProgramRef &R = Inputs[I].Ref;
    Same = Same && R.Input == int32_t(I);
    if (R.isInput()) {
      Slots[size_t(R.Input)] = fmt::format("inputs[{}]", I);
      continue;
    }
    std::string_view T = cType(R.Elem);
    S += fmt::format("  mote_rt::copy<{}>(static_cast<const {} *>(inputs[{}]), "
                     "{}, {});\n",
                     T, T, I, Ptr(R), R.elements());
  }
  if (Same)
    return S + "  const void *const *In = inputs;\n  (void)In;\n";
  return S + fmt::format("  const void *const In[{}] = {{{}}};\n  (void)In;\n",
                         Slots.size(), fmt::join(Slots, ", "));
}

void Emitter::emitTrainStep() {
  const ProgramEntry &E = *P.Train;
  Code += fmt::format("extern \"C\" float {}_train_step_v(void *arena, const "
                      "void *const *inputs) {{\n",
                      P.Name);
  Code += "  unsigned char *A = static_cast<unsigned char *>(arena);\n";
  Code += inputPointers(E.Inputs, P.GraphInputs,
                        [&](const ProgramRef &R) { return ptr(R, false); });
  for (const EntryStep &S : E.Steps)
    Code += callNode(S.Index);
  Code +=
      fmt::format("  return float(*{});\n}}\n\n", ptr(E.Outputs[0].Ref, true));
  // The two-argument form of the generated API when it fits: one float
  // input and an int32 label.
  if (P.TrainTwoArgForm)
    Code += fmt::format(
        "extern \"C\" float {0}_train_step(void *arena, const float *input, "
        "const int32_t *label) {{\n  const void *inputs[2] = {{input, "
        "label}};\n  return {0}_train_step_v(arena, inputs);\n}}\n\n",
        P.Name);
}

void Emitter::emitInfer() {
  const ProgramEntry &E = *P.Infer;
  Code += fmt::format("extern \"C\" void {}_infer_v(void *arena, const void "
                      "*const *inputs, void *const *outputs) {{\n",
                      P.Name);
  Code += "  unsigned char *A = static_cast<unsigned char *>(arena);\n";
  Code += inputPointers(E.Inputs, P.GraphInputs,
                        [&](const ProgramRef &R) { return ptr(R, false); });
  for (const EntryStep &S : E.Steps) {
    if (S.K == EntryStep::Kind::Call) {
      Code += callNode(S.Index);
      continue;
    }
    const ProgramRef &R = E.Outputs[size_t(S.Index)].Ref;
    std::string_view T = cType(R.Elem);
    Code += fmt::format("  mote_rt::copy<{}>({}, static_cast<{} *>"
                        "(outputs[{}]), {});\n",
                        T, ptr(R, true), T, S.Index, R.elements());
  }
  Code += "}\n\n";
  if (P.InferOneToOneForm)
    Code += fmt::format(
        "extern \"C\" void {0}_infer(void *arena, const float *input, float "
        "*output) {{\n  const void *inputs[1] = {{input}};\n  void "
        "*outputs[1] = {{output}};\n  {0}_infer_v(arena, inputs, "
        "outputs);\n}}\n\n",
        P.Name);
}

void Emitter::emitCheckpoint() {
  for (int Save = 1; Save >= 0; --Save) {
    Code += Save ? fmt::format("extern \"C\" void {}_save(const void *arena, "
                               "void *checkpoint) {{\n",
                               P.Name)
                 : fmt::format("extern \"C\" void {}_load(void *arena, const "
                               "void *checkpoint) {{\n",
                               P.Name);
    Code += Save ? "  const unsigned char *A = static_cast<const unsigned char "
                   "*>(arena);\n  unsigned char *C = static_cast<unsigned "
                   "char *>(checkpoint);\n"
                 : "  unsigned char *A = static_cast<unsigned char "
                   "*>(arena);\n  const unsigned char *C = static_cast<const "
                   "unsigned char *>(checkpoint);\n";
    for (const CheckpointEntry &E : P.Checkpoint)
      Code += Save ? fmt::format("  mote_rt::copy(A + {}, C + {}, {});\n",
                                 E.ArenaOffset, E.Offset, E.Bytes)
                   : fmt::format("  mote_rt::copy(C + {}, A + {}, {});\n",
                                 E.Offset, E.ArenaOffset, E.Bytes);
    if (P.Checkpoint.empty())
      Code += "  (void)A;\n  (void)C;\n";
    Code += "}\n\n";
  }
}

std::vector<EmittedFile> Emitter::run() {
  Headers.insert("mote_rt/core.h");
  if (O.CheckBounds)
    Headers.insert("mote_rt/check.h");
  emitData();
  for (size_t I = 0; I < P.Calls.size(); ++I)
    emitCall(I);
  emitInit();
  if (P.Train)
    emitTrainStep();
  if (P.Infer)
    emitInfer();
  emitCheckpoint();

  std::string Cpp;
  Cpp += fmt::format("// Generated by motec from {}. Do not edit.\n",
                     commentSafe(P.Source));
  Cpp += fmt::format("#include \"{}.h\"\n\n", P.Name);
  for (const std::string &H : Headers)
    Cpp += fmt::format("#include \"{}\"\n", H);
  Cpp += "\n" + Asm + Decls;
  if (!Decls.empty())
    Cpp += "\n";
  Cpp += "namespace {\n\n" + NodeFns + "} // namespace\n\n" + Code;
  // NAME.weights always comes with NAME.cpp (empty when the model has no
  // read-only data), so build systems can name it as an output.
  return {{P.Name + ".h", emitApiHeader(P)},
          {P.Name + ".cpp", std::move(Cpp)},
          {weightsFileName(P.Name), std::move(Weights)}};
}

} // namespace

std::vector<EmittedFile> emitCpp(const LoweredProgram &P,
                                 const CppEmitOptions &O) {
  return Emitter(P, O).run();
}

} // namespace mote
