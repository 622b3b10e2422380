//===- CppEmitter.cpp - Freestanding C++ source from a planned graph ------===//

#include "codegen/cpp/CppEmitter.h"
#include "compiler/Graph.h"
#include "compiler/KernelCall.h"
#include "compiler/OpDef.h"
#include "memory/Layout.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <set>
#include <unordered_map>

namespace mote {

bool isCIdentifier(std::string_view S) {
  if (S.empty() || (S[0] >= '0' && S[0] <= '9'))
    return false;
  return std::all_of(S.begin(), S.end(), [](char C) {
    return (C >= 'a' && C <= 'z') || (C >= 'A' && C <= 'Z') ||
           (C >= '0' && C <= '9') || C == '_';
  });
}

InferencePlan inferencePlan(const Graph &G, bool Training,
                            const Value *Prediction) {
  InferencePlan R;
  if (!Training) {
    for (const auto &N : G.nodes())
      R.Nodes.push_back(N.get());
    R.Inputs.assign(G.inputs().begin(), G.inputs().end());
    R.Outputs.assign(G.outputs().begin(), G.outputs().end());
    return R;
  }
  if (!Prediction)
    return R;
  R.Outputs = {Prediction};
  std::set<const Value *> Wanted;
  std::set<const Node *> Need;
  std::vector<const Value *> Work = {Prediction};
  while (!Work.empty()) {
    const Value *V = Work.back();
    Work.pop_back();
    if (!Wanted.insert(V).second)
      continue;
    if (const Node *P = V->producer()) {
      Need.insert(P);
      for (const Value *In : P->inputs())
        if (In)
          Work.push_back(In);
    }
  }
  for (const auto &N : G.nodes())
    if (Need.count(N.get()))
      R.Nodes.push_back(N.get());
  for (const Value *In : G.inputs())
    if (Wanted.count(In))
      R.Inputs.push_back(In);
  return R;
}

std::vector<CheckpointEntry> checkpointLayout(const Graph &G) {
  std::vector<CheckpointEntry> R;
  int64_t Off = 0;
  for (const Value *P : G.params())
    if (P->isTrainable() || P->isOptimizerState()) {
      R.push_back({P, Off, P->type().bytes()});
      Off += (P->type().bytes() + 15) / 16 * 16;
    }
  return R;
}

namespace {

std::string_view cType(DType T) {
  switch (T) {
  case DType::F32: return "float";
  case DType::F64: return "double";
  case DType::I8: return "int8_t";
  case DType::U8: return "uint8_t";
  case DType::I32: return "int32_t";
  case DType::I64: return "int64_t";
  case DType::Bool: return "bool";
  }
  return "void";
}

/// A float literal that round-trips exactly (hex float) and needs no libc.
std::string floatLiteral(double V, bool Single) {
  if (std::isnan(V))
    return Single ? "__builtin_nanf(\"\")" : "__builtin_nan(\"\")";
  if (std::isinf(V))
    return std::string(V < 0 ? "-" : "") +
           (Single ? "__builtin_inff()" : "__builtin_inf()");
  if (V == 0)
    return std::signbit(V) ? (Single ? "-0.0f" : "-0.0") : (Single ? "0.0f" : "0.0");
  if (Single)
    return fmt::format("{:a}f", float(V));
  return fmt::format("{:a}", V);
}

/// One element of \p T as a C++ literal of its type.
std::string elementLiteral(const Tensor &T, int64_t I) {
  switch (T.dtype()) {
  case DType::F32: return floatLiteral(T.data<float>()[size_t(I)], true);
  case DType::F64: return floatLiteral(T.data<double>()[size_t(I)], false);
  case DType::Bool: return T.data<bool>()[size_t(I)] ? "true" : "false";
  case DType::I64: {
    int64_t V = T.data<int64_t>()[size_t(I)];
    // INT64_MIN has no literal of its own.
    if (V == INT64_MIN)
      return "(-9223372036854775807LL - 1)";
    return fmt::format("{}LL", V);
  }
  case DType::I32: {
    int64_t V = T.data<int32_t>()[size_t(I)];
    if (V == INT32_MIN)
      return "(-2147483647 - 1)";
    return fmt::format("{}", V);
  }
  default: return fmt::format("{}", T.getAsInt(I));
  }
}

bool allZero(const Tensor &T) {
  const std::byte *P = T.raw();
  return std::all_of(P, P + T.type().bytes(),
                     [](std::byte B) { return B == std::byte{0}; });
}

/// C comment text: no "*/" and no newlines.
std::string commentSafe(std::string_view S) {
  std::string R;
  for (size_t I = 0; I < S.size(); ++I) {
    char C = S[I];
    if (C == '\n' || C == '\r')
      C = ' ';
    if (C == '*' && I + 1 < S.size() && S[I + 1] == '/') {
      R += "* ";
      continue;
    }
    R += C;
  }
  return R;
}

std::string paramLiteral(const KernelParam &P) {
  switch (P.K) {
  case KernelParam::Kind::Int: return fmt::format("{}", P.I);
  case KernelParam::Kind::Float: return floatLiteral(P.F, true);
  case KernelParam::Kind::Ints: {
    std::string S = "{";
    for (size_t I = 0; I < P.Ints.size(); ++I)
      S += fmt::format("{}{}", I ? ", " : "", P.Ints[I]);
    return S + "}";
  }
  }
  return "0";
}

class Emitter {
public:
  Emitter(const Graph &G, const MemoryLayout &L, const CppEmitOptions &O)
      : G(G), L(L), O(O) {}

  Expected<std::vector<EmittedFile>> run();

private:
  /// Pointer expression for \p V (arena offset or flash array).
  std::string ptr(const Value *V, bool Const) const;
  /// Appends the body of a function that runs \p N (kernel call, its
  /// constant parameters, the --check-bounds guard) to \p Out.
  Status emitNode(const Node &N, std::string &Out);
  /// Appends a call of \p N's function to \p Out, defining the function
  /// the first time (the inference entry shares the training step's).
  /// One function per node, never inlined into the step: each kernel is
  /// still specialised on its constants inside its node's function, and
  /// compile time stays linear in the model (one function holding every
  /// kernel took g++ and the sanitizers superlinear time on mobilenet).
  Status emitNodeCall(const Node &N, std::string &Out);
  void emitConstants();
  void emitInit();
  Status emitTrainStep();
  Status emitInfer();
  std::string header() const;
  std::string arrayName(const Value *V) const { return Names.at(V); }

  const Graph &G;
  const MemoryLayout &L;
  const CppEmitOptions &O;
  bool Training = false;
  std::unordered_map<const Value *, const BufferInfo *> Buf;
  std::unordered_map<const Value *, std::string> Names; ///< flash arrays
  std::set<std::string, std::less<>> Headers;
  std::string Data, NodeFns, Code;
  std::unordered_map<const Node *, std::string> NodeFnNames;
  /// Inputs of the inference entry, in graph order, and what it returns.
  std::vector<const Value *> InferInputs, InferOutputs;
};

std::string Emitter::ptr(const Value *V, bool Const) const {
  std::string_view T = cType(V->type().Elem);
  auto It = Buf.find(V);
  if (It != Buf.end() && It->second->InArena)
    return fmt::format("reinterpret_cast<{}{} *>(A + {})", Const ? "const " : "",
                       T, It->second->Offset);
  return arrayName(V);
}

void Emitter::emitConstants() {
  int Index = 0;
  for (const Value *P : G.params()) {
    bool Arena = P->isTrainable() || P->isOptimizerState();
    std::string Name = fmt::format("{}{}", Arena ? "init" : "w", Index++);
    Names[P] = Name;
    const Tensor *T = P->data();
    if (!T || (Arena && allZero(*T)))
      continue; // zero-initialised state needs no flash copy
    Data += fmt::format("// '{}' {}{}\n", commentSafe(P->name()),
                        P->type().str(),
                        Arena ? ", initial value (copied into the arena)"
                              : ", frozen (flash)");
    int64_t N = T->numElements();
    Data += fmt::format("alignas(16) const {} {}[{}] = {{", cType(T->dtype()),
                        Name, std::max<int64_t>(N, 1));
    for (int64_t I = 0; I < N; ++I) {
      if (I % 8 == 0)
        Data += "\n    ";
      Data += elementLiteral(*T, I);
      Data += ",";
    }
    Data += "\n};\n";
  }
}

Status Emitter::emitNode(const Node &N, std::string &Out) {
  const OpDef &D = N.def();
  auto Fail = [&](std::string Why) {
    Diag E(std::move(Why));
    E.NodeName = N.name();
    E.OpType = std::string(N.opName());
    return Status(std::move(E));
  };
  if (!D.Lower)
    return Fail(fmt::format("op {} has no lowering to a runtime kernel (the "
                            "C++ code generator cannot compile it)",
                            N.opName()));
  KernelCall C;
  if (Status S = D.Lower(N, C); !S) {
    Diag E = S.takeError();
    E.NodeName = N.name();
    E.OpType = std::string(N.opName());
    E.Message = "cannot generate code: " + E.Message;
    return Status(std::move(E));
  }
  Headers.insert(std::string(C.Header));
  std::vector<KernelOperand> Ops = C.Operands;
  if (Ops.empty()) {
    // Absent optional inputs, also trailing ones, are passed as nullptr.
    size_t NumIn = N.numInputs();
    if (D.MaxInputs != Variadic)
      NumIn = std::max(NumIn, size_t(D.MaxInputs));
    for (size_t I = 0; I < NumIn; ++I)
      Ops.push_back({false, int(I)});
    for (size_t I = 0; I < N.numOutputs(); ++I)
      Ops.push_back({true, int(I)});
  }
  std::vector<std::string> Args;
  if (!C.ParamType.empty())
    Args.push_back("P");
  for (const KernelOperand &K : Ops) {
    const Value *V = K.IsResult ? N.output(size_t(K.Index)) : N.input(size_t(K.Index));
    Args.push_back(V ? ptr(V, !K.IsResult) : "nullptr");
  }
  std::string TArgs;
  for (size_t I = 0; I < C.TypeArgs.size(); ++I)
    TArgs += fmt::format("{}{}", I ? ", " : "", cType(C.TypeArgs[I]));
  std::string Call = fmt::format("mote_rt::{}{}({});", C.Kernel,
                                 TArgs.empty() ? "" : "<" + TArgs + ">",
                                 fmt::join(Args, ", "));
  // --check-bounds: only the planned bytes of this call's arena operands
  // are addressable while it runs (mote_rt/check.h).
  std::string Guard;
  if (O.CheckBounds) {
    std::vector<std::string> Ranges;
    for (const KernelOperand &K : Ops) {
      const Value *V = K.IsResult ? N.output(size_t(K.Index)) : N.input(size_t(K.Index));
      auto It = V ? Buf.find(V) : Buf.end();
      if (It != Buf.end() && It->second->InArena)
        Ranges.push_back(fmt::format("{{{}, {}}}", It->second->Offset,
                                     V->type().bytes()));
    }
    if (Ranges.empty())
      Ranges.push_back("{0, 0}");
    Guard = fmt::format("  const mote_rt::ArenaRange R[] = {{{}}};\n"
                        "  mote_rt::ArenaGuard Guard(A, {}, R);\n",
                        fmt::join(Ranges, ", "), L.Plan.ArenaBytes);
  }
  if (!C.ParamType.empty()) {
    std::vector<std::string> Fields;
    for (const KernelParam &P : C.Params)
      Fields.push_back(paramLiteral(P));
    Out += fmt::format("  static constexpr mote_rt::{} P = {{{}}};\n",
                       C.ParamType, fmt::join(Fields, ", "));
  }
  Out += Guard + "  " + Call + "\n";
  return ok();
}

Status Emitter::emitNodeCall(const Node &N, std::string &Out) {
  auto It = NodeFnNames.find(&N);
  if (It == NodeFnNames.end()) {
    std::string Body;
    if (Status S = emitNode(N, Body); !S)
      return S;
    std::string Fn = fmt::format("node{}", NodeFnNames.size());
    // noexcept: built with exceptions on (a user's firmware flags), a call
    // of a function that may throw makes arm-none-eabi-g++ reference the
    // unwinder's personality routine.
    NodeFns += fmt::format("// {} '{}'\nMOTE_RT_NODE void {}(unsigned "
                           "char *A) noexcept {{\n{}}}\n\n",
                           N.opName(), commentSafe(N.name()), Fn, Body);
    It = NodeFnNames.emplace(&N, std::move(Fn)).first;
  }
  Out += fmt::format("  {}(A);\n", It->second);
  return ok();
}

void Emitter::emitInit() {
  Code += fmt::format("extern \"C\" void {}_init(void *arena) {{\n", O.Name);
  Code += "  unsigned char *A = static_cast<unsigned char *>(arena);\n";
  bool Any = false;
  for (const Value *P : G.params()) {
    if (!(P->isTrainable() || P->isOptimizerState()))
      continue;
    Any = true;
    const BufferInfo &B = *Buf.at(P);
    int64_t N = P->type().numElements();
    std::string_view T = cType(P->type().Elem);
    if (!P->data() || allZero(*P->data()))
      Code += fmt::format("  mote_rt::fill<{}>(reinterpret_cast<{} *>(A + {}), "
                          "{}(0), {});\n",
                          T, T, B.Offset, T, N);
    else
      Code += fmt::format("  mote_rt::copy<{}>({}, reinterpret_cast<{} *>(A + "
                          "{}), {});\n",
                          T, arrayName(P), T, B.Offset, N);
  }
  if (!Any)
    Code += "  (void)A;\n";
  Code += "}\n\n";
}

Status Emitter::emitTrainStep() {
  std::string Body;
  for (const auto &N : G.nodes())
    if (Status S = emitNodeCall(*N, Body); !S)
      return S;
  Code += fmt::format("extern \"C\" float {}_train_step_v(void *arena, const "
                      "void *const *inputs) {{\n",
                      O.Name);
  Code += "  unsigned char *A = static_cast<unsigned char *>(arena);\n";
  for (size_t I = 0; I < G.inputs().size(); ++I) {
    const Value *In = G.inputs()[I];
    std::string_view T = cType(In->type().Elem);
    Code += fmt::format("  mote_rt::copy<{}>(static_cast<const {} *>(inputs[{}]), "
                        "{}, {});\n",
                        T, T, I, ptr(In, false), In->type().numElements());
  }
  Code += Body;
  const Value *Loss = G.outputs()[0];
  Code += fmt::format("  return float(*{});\n}}\n\n", ptr(Loss, true));
  // The two-argument form of DESIGN.md when it fits: one float input and an
  // int32 label.
  if (G.inputs().size() == 2 && G.inputs()[0]->type().Elem == DType::F32 &&
      G.inputs()[1]->type().Elem == DType::I32)
    Code += fmt::format(
        "extern \"C\" float {0}_train_step(void *arena, const float *input, "
        "const int32_t *label) {{\n  const void *inputs[2] = {{input, "
        "label}};\n  return {0}_train_step_v(arena, inputs);\n}}\n\n",
        O.Name);
  return ok();
}

Status Emitter::emitInfer() {
  if (Training && !O.Prediction)
    return ok(); // the model computes its own loss: no inference entry
  InferencePlan Plan = inferencePlan(G, Training, O.Prediction);
  const std::vector<const Node *> &Run = Plan.Nodes;
  InferInputs = Plan.Inputs;
  InferOutputs = Plan.Outputs;
  Code += fmt::format("extern \"C\" void {}_infer_v(void *arena, const void "
                      "*const *inputs, void *const *outputs) {{\n",
                      O.Name);
  Code += "  unsigned char *A = static_cast<unsigned char *>(arena);\n";
  for (size_t I = 0; I < InferInputs.size(); ++I) {
    const Value *In = InferInputs[I];
    std::string_view T = cType(In->type().Elem);
    Code += fmt::format("  mote_rt::copy<{}>(static_cast<const {} *>(inputs[{}]), "
                        "{}, {});\n",
                        T, T, I, ptr(In, false), In->type().numElements());
  }
  auto CopyOut = [&](const Value *V) {
    std::string Out;
    for (size_t I = 0; I < InferOutputs.size(); ++I)
      if (InferOutputs[I] == V) {
        std::string_view T = cType(V->type().Elem);
        Out += fmt::format("  mote_rt::copy<{}>({}, static_cast<{} *>"
                           "(outputs[{}]), {});\n",
                           T, ptr(V, true), T, I, V->type().numElements());
      }
    return Out;
  };
  // Outputs without a producer (inputs or weights passed through) first.
  for (const Value *V : InferOutputs)
    if (!V->producer())
      Code += CopyOut(V);
  for (const Node *N : Run) {
    if (Status S = emitNodeCall(*N, Code); !S)
      return S;
    // Copy an output out as soon as it exists: in a training schedule its
    // buffer may be reused by a later node of the step.
    for (const Value *V : N->outputs())
      Code += CopyOut(V);
  }
  Code += "}\n\n";
  if (InferInputs.size() == 1 && InferOutputs.size() == 1 &&
      InferInputs[0]->type().Elem == DType::F32 &&
      InferOutputs[0]->type().Elem == DType::F32)
    Code += fmt::format(
        "extern \"C\" void {0}_infer(void *arena, const float *input, float "
        "*output) {{\n  const void *inputs[1] = {{input}};\n  void "
        "*outputs[1] = {{output}};\n  {0}_infer_v(arena, inputs, "
        "outputs);\n}}\n\n",
        O.Name);
  return ok();
}

std::string Emitter::header() const {
  std::string U = O.Name;
  std::transform(U.begin(), U.end(), U.begin(),
                 [](char C) { return C >= 'a' && C <= 'z' ? char(C - 32) : C; });
  std::string H;
  H += fmt::format("/* Generated by motec from {}. Do not edit.\n", commentSafe(O.Source));
  H += " * API: docs/generated-api.md. No heap, no exceptions, no libc. */\n";
  H += fmt::format("#ifndef {0}_H\n#define {0}_H\n\n", U);
  H += "#include <stdint.h>\n\n";
  H += fmt::format("/* RAM the caller provides: activations, trainable "
                   "parameters, gradients,\n   optimizer state; aligned to "
                   "{}_ARENA_ALIGN. */\n",
                   O.Name);
  H += fmt::format("#define {}_ARENA_BYTES {}\n", O.Name, L.Plan.ArenaBytes);
  H += fmt::format("#define {}_ARENA_ALIGN 16\n", O.Name);
  H += fmt::format("/* Read-only data (frozen weights and initial values). */\n"
                   "#define {}_FLASH_BYTES {}\n",
                   O.Name, L.FlashBytes);
  H += fmt::format("#define {}_TRAINING {}\n", O.Name, Training ? 1 : 0);
  std::vector<CheckpointEntry> Ck = checkpointLayout(G);
  int64_t CkBytes = Ck.empty() ? 0 : Ck.back().Offset + (Ck.back().Bytes + 15) / 16 * 16;
  H += fmt::format("#define {}_CHECKPOINT_BYTES {}\n\n", O.Name, CkBytes);
  auto Describe = [&](std::string_view What, const std::vector<const Value *> &Vs) {
    for (size_t I = 0; I < Vs.size(); ++I)
      H += fmt::format(" *   {}[{}] '{}' {}\n", What, I, commentSafe(Vs[I]->name()),
                       Vs[I]->type().str());
  };
  H += "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  H += fmt::format("/* Loads the initial trainable parameters and zeroes the "
                   "optimizer state. */\nvoid {}_init(void *arena);\n\n",
                   O.Name);
  if (Training) {
    std::vector<const Value *> Ins(G.inputs().begin(), G.inputs().end());
    H += "/* One training step (forward, backward, parameter updates); returns "
         "the loss.\n";
    Describe("inputs", Ins);
    H += " */\n";
    H += fmt::format("float {}_train_step_v(void *arena, const void *const "
                     "*inputs);\n",
                     O.Name);
    if (Code.find(O.Name + "_train_step(") != std::string::npos)
      H += fmt::format("float {}_train_step(void *arena, const float *input, "
                       "const int32_t *label);\n",
                       O.Name);
    H += "\n";
  }
  if (!InferInputs.empty() || !InferOutputs.empty()) {
    H += "/* Inference (forward only).\n";
    Describe("inputs", InferInputs);
    Describe("outputs", InferOutputs);
    H += " */\n";
    H += fmt::format("void {}_infer_v(void *arena, const void *const *inputs, "
                     "void *const *outputs);\n",
                     O.Name);
    if (Code.find(O.Name + "_infer(") != std::string::npos)
      H += fmt::format("void {}_infer(void *arena, const float *input, float "
                       "*output);\n",
                       O.Name);
    H += "\n";
  }
  H += fmt::format("/* Checkpoint: the trainable parameters and optimizer "
                   "state, {}_CHECKPOINT_BYTES\n   bytes, entries 16-byte "
                   "aligned:\n",
                   O.Name);
  for (const CheckpointEntry &E : Ck)
    H += fmt::format(" *   offset {:>8}: '{}' {}\n", E.Offset,
                     commentSafe(E.V->name()), E.V->type().str());
  H += " */\n";
  H += fmt::format("void {}_save(const void *arena, void *checkpoint);\n", O.Name);
  H += fmt::format("void {}_load(void *arena, const void *checkpoint);\n\n", O.Name);
  H += "#ifdef __cplusplus\n}\n#endif\n\n";
  H += fmt::format("#endif /* {}_H */\n", U);
  return H;
}

Expected<std::vector<EmittedFile>> Emitter::run() {
  if (!isCIdentifier(O.Name))
    return Diag(fmt::format("--name '{}' is not a C identifier", O.Name));
  for (const BufferInfo &B : L.Buffers)
    Buf[B.V] = &B;
  Training = !G.stateUpdates().empty() ||
             std::any_of(G.params().begin(), G.params().end(),
                         [](const Value *P) { return P->isTrainable(); });
  Headers.insert("mote_rt/core.h");
  if (O.CheckBounds)
    Headers.insert("mote_rt/check.h");
  emitConstants();
  emitInit();
  if (Training)
    if (Status S = emitTrainStep(); !S)
      return S.takeError();
  if (Status S = emitInfer(); !S)
    return S.takeError();

  // Checkpoint save/load.
  std::vector<CheckpointEntry> Ck = checkpointLayout(G);
  for (int Save = 1; Save >= 0; --Save) {
    Code += Save ? fmt::format("extern \"C\" void {}_save(const void *arena, "
                               "void *checkpoint) {{\n",
                               O.Name)
                 : fmt::format("extern \"C\" void {}_load(void *arena, const "
                               "void *checkpoint) {{\n",
                               O.Name);
    Code += Save ? "  const unsigned char *A = static_cast<const unsigned char "
                   "*>(arena);\n  unsigned char *C = static_cast<unsigned "
                   "char *>(checkpoint);\n"
                 : "  unsigned char *A = static_cast<unsigned char "
                   "*>(arena);\n  const unsigned char *C = static_cast<const "
                   "unsigned char *>(checkpoint);\n";
    for (const CheckpointEntry &E : Ck) {
      int64_t Off = Buf.at(E.V)->Offset;
      Code += Save ? fmt::format("  mote_rt::copy(A + {}, C + {}, {});\n", Off,
                                 E.Offset, E.Bytes)
                   : fmt::format("  mote_rt::copy(C + {}, A + {}, {});\n",
                                 E.Offset, Off, E.Bytes);
    }
    if (Ck.empty())
      Code += "  (void)A;\n  (void)C;\n";
    Code += "}\n\n";
  }

  std::string Cpp;
  Cpp += fmt::format("// Generated by motec from {}. Do not edit.\n",
                     commentSafe(O.Source));
  Cpp += fmt::format("#include \"{}.h\"\n\n", O.Name);
  for (const std::string &H : Headers)
    Cpp += fmt::format("#include \"{}\"\n", H);
  Cpp += "\nnamespace {\n\n" + Data + "\n" + NodeFns + "} // namespace\n\n" +
         Code;
  return std::vector<EmittedFile>{{O.Name + ".h", header()},
                                  {O.Name + ".cpp", std::move(Cpp)}};
}

} // namespace

Expected<std::vector<EmittedFile>> emitCpp(const Graph &G, const MemoryLayout &L,
                                           const CppEmitOptions &O) {
  return Emitter(G, L, O).run();
}

} // namespace mote
