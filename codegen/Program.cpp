//===- Program.cpp - Lower a laid-out graph once for both backends --------===//

#include "codegen/Program.h"
#include "compiler/Graph.h"
#include "compiler/KernelCall.h"
#include "compiler/OpDef.h"
#include "memory/Layout.h"

#include <algorithm>
#include <cassert>
#include <fmt/format.h>
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

namespace {

bool allZero(std::string_view Bytes) {
  return std::all_of(Bytes.begin(), Bytes.end(), [](char B) { return B == 0; });
}

class Lowering {
public:
  Lowering(const Graph &G, const MemoryLayout &L, const LowerOptions &O)
      : G(G), L(L), O(O) {}

  Expected<LoweredProgram> run();

private:
  ProgramRef ref(const Value *V) const;
  ProgramIo io(const Value *V) const {
    return {V->name(), V->type().str(), ref(V)};
  }
  void addConstants();
  Status addCalls();
  /// Gives every table field of \p Fields (recursively) a read-only array;
  /// tables with the same elements share one (the zero points of symmetric
  /// weights, a weight's scales read by its forward, backward and update).
  void addTables(std::vector<ParamField> &Fields, const ProgramCall &C);
  void addInit();
  void addTrain();
  void addInfer();
  void addCheckpoint();

  const Graph &G;
  const MemoryLayout &L;
  const LowerOptions &O;
  LoweredProgram P;
  std::unordered_map<const Value *, const BufferInfo *> Buf;
  std::unordered_map<const Value *, int32_t> ConstantOf;
  std::unordered_map<const Node *, int32_t> CallOf;
  int32_t Tables = 0;
  /// Element type and bytes of each table made -> its constant.
  std::unordered_map<std::string, int32_t> TableOf;
};

ProgramRef Lowering::ref(const Value *V) const {
  ProgramRef R;
  if (!V)
    return R;
  R.Elem = V->type().Elem;
  R.Bytes = V->type().bytes();
  auto It = Buf.find(V);
  if (It != Buf.end() && It->second->InArena) {
    R.K = ProgramRef::Kind::Arena;
    R.Offset = It->second->Offset;
    return R;
  }
  if (It != Buf.end() && It->second->FromCaller) {
    auto In = std::find(G.inputs().begin(), G.inputs().end(), V);
    assert(In != G.inputs().end() && "a caller's buffer that is no input");
    R.K = ProgramRef::Kind::Input;
    R.Input = int32_t(In - G.inputs().begin());
    return R;
  }
  auto C = ConstantOf.find(V);
  assert(C != ConstantOf.end() && "value neither in the arena nor in flash");
  R.K = ProgramRef::Kind::Constant;
  R.Constant = C->second;
  return R;
}

void Lowering::addConstants() {
  int Index = 0;
  for (const Value *V : G.params()) {
    bool Arena = V->isTrainable() || V->isOptimizerState();
    std::string Symbol = fmt::format("{}{}", Arena ? "init" : "w", Index++);
    // A value without data (parsed IR may declare one) reads as zeros.
    const Tensor *T = V->data();
    std::string_view Bytes;
    if (T)
      Bytes = std::string_view(reinterpret_cast<const char *>(T->raw()),
                               size_t(T->type().bytes()));
    if (Arena && allZero(Bytes))
      continue; // zero-initialised state needs no flash copy
    ProgramConstant C;
    C.Symbol = std::move(Symbol);
    C.Comment = fmt::format("'{}' {}{}", V->name(), V->type().str(),
                            Arena ? ", initial value (copied into the arena)"
                                  : ", frozen (flash)");
    C.Elem = V->type().Elem;
    C.Elements = V->type().numElements();
    if (T)
      C.View = Bytes;
    else
      C.Owned.assign(size_t(V->type().bytes()), '\0');
    ConstantOf[V] = int32_t(P.Constants.size());
    P.Constants.push_back(std::move(C));
  }
}

void Lowering::addTables(std::vector<ParamField> &Fields,
                         const ProgramCall &Call) {
  for (ParamField &F : Fields) {
    if (F.K == ParamField::Kind::Struct)
      addTables(F.Fields, Call);
    if (F.K != ParamField::Kind::Table)
      continue;
    std::string Key = std::string(dtypeName(F.Elem)) + ":" + F.Data;
    if (auto It = TableOf.find(Key); It != TableOf.end()) {
      F.Constant = It->second;
      continue;
    }
    ProgramConstant C;
    C.Symbol = fmt::format("t{}", Tables++);
    C.Comment = fmt::format("{}::{} of {} '{}'", Call.Params.Type, F.Name,
                            Call.OpName, Call.NodeName);
    C.Elem = F.Elem;
    C.Elements = int64_t(F.Data.size() / dtypeSize(F.Elem));
    C.Owned = F.Data;
    F.Constant = int32_t(P.Constants.size());
    TableOf.emplace(std::move(Key), F.Constant);
    P.Constants.push_back(std::move(C));
  }
}

Status Lowering::addCalls() {
  for (const auto &NP : G.nodes()) {
    const Node &N = *NP;
    const OpDef &D = N.def();
    auto Fail = [&](std::string Why) {
      Diag E(std::move(Why));
      E.NodeName = N.name();
      E.OpType = std::string(N.opName());
      return Status(std::move(E));
    };
    if (!D.Lower)
      return Fail(fmt::format("op {} has no lowering to a runtime kernel (the "
                              "code generators cannot compile it)",
                              N.opName()));
    KernelCall K;
    if (Status S = D.Lower(N, K); !S) {
      Diag E = S.takeError();
      E.NodeName = N.name();
      E.OpType = std::string(N.opName());
      E.Message = "cannot generate code: " + E.Message;
      return Status(std::move(E));
    }
    ProgramCall C;
    C.NodeName = N.name();
    C.OpName = std::string(N.opName());
    C.Header = K.Header;
    C.Kernel = std::move(K.Kernel);
    C.TypeArgs = std::move(K.TypeArgs);
    C.Params = std::move(K.Params);
    addTables(C.Params.Fields, C);
    std::vector<KernelOperand> Ops = K.Operands;
    if (Ops.empty()) {
      // Absent optional inputs, also trailing ones, are passed as null.
      size_t NumIn = N.numInputs();
      if (D.MaxInputs != Variadic)
        NumIn = std::max(NumIn, size_t(D.MaxInputs));
      for (size_t I = 0; I < NumIn; ++I)
        Ops.push_back({false, int(I)});
      for (size_t I = 0; I < N.numOutputs(); ++I)
        Ops.push_back({true, int(I)});
    }
    for (const KernelOperand &KO : Ops) {
      const Value *V = nullptr;
      // An operand list may name absent optional inputs and results:
      // both are passed as null.
      if (KO.IsResult) {
        if (size_t(KO.Index) < N.numOutputs())
          V = N.output(size_t(KO.Index));
      } else if (size_t(KO.Index) < N.numInputs())
        V = N.input(size_t(KO.Index));
      C.Operands.push_back(ref(V));
      C.Operands.back().Written = KO.IsResult && V;
    }
    CallOf[&N] = int32_t(P.Calls.size());
    P.Calls.push_back(std::move(C));
  }
  return ok();
}

void Lowering::addInit() {
  for (const Value *V : G.params()) {
    if (!(V->isTrainable() || V->isOptimizerState()))
      continue;
    InitStep S;
    S.Dst = ref(V);
    auto C = ConstantOf.find(V);
    if (C != ConstantOf.end())
      S.Constant = C->second;
    P.Init.push_back(S);
  }
}

void Lowering::addTrain() {
  ProgramEntry E;
  for (const Value *In : G.inputs())
    E.Inputs.push_back(io(In));
  E.Outputs.push_back(io(G.outputs()[0]));
  for (size_t I = 0; I < P.Calls.size(); ++I)
    E.Steps.push_back({EntryStep::Kind::Call, int32_t(I)});
  P.TrainTwoArgForm = G.inputs().size() == 2 &&
                      G.inputs()[0]->type().Elem == DType::F32 &&
                      G.inputs()[1]->type().Elem == DType::I32;
  P.Train = std::move(E);
}

void Lowering::addInfer() {
  // What the inference entry runs: for an inference graph, everything; for
  // a training graph, the forward nodes the prediction depends on (in
  // schedule order, at their planned offsets: a prefix-closed subset of the
  // step), the graph inputs they read and the prediction.
  std::vector<const Node *> Run;
  std::vector<const Value *> Inputs, Outputs;
  if (!P.Training) {
    for (const auto &N : G.nodes())
      Run.push_back(N.get());
    Inputs.assign(G.inputs().begin(), G.inputs().end());
    Outputs.assign(G.outputs().begin(), G.outputs().end());
  } else {
    if (!O.Prediction)
      return; // the model computes its own loss: no inference entry
    Outputs = {O.Prediction};
    std::set<const Value *> Wanted;
    std::set<const Node *> Need;
    std::vector<const Value *> Work = {O.Prediction};
    while (!Work.empty()) {
      const Value *V = Work.back();
      Work.pop_back();
      if (!Wanted.insert(V).second)
        continue;
      if (const Node *Pr = V->producer()) {
        Need.insert(Pr);
        for (const Value *In : Pr->inputs())
          if (In)
            Work.push_back(In);
      }
    }
    for (const auto &N : G.nodes())
      if (Need.count(N.get()))
        Run.push_back(N.get());
    for (const Value *In : G.inputs())
      if (Wanted.count(In))
        Inputs.push_back(In);
  }
  ProgramEntry E;
  for (const Value *V : Inputs)
    E.Inputs.push_back(io(V));
  for (const Value *V : Outputs)
    E.Outputs.push_back(io(V));
  // An output is copied out as soon as it exists: in a training schedule
  // its buffer may be reused by a later node of the step. Outputs without a
  // producer (inputs or weights passed through) come first.
  auto CopyOut = [&](const Value *V) {
    for (size_t I = 0; I < Outputs.size(); ++I)
      if (Outputs[I] == V)
        E.Steps.push_back({EntryStep::Kind::CopyOut, int32_t(I)});
  };
  for (const Value *V : Outputs)
    if (!V->producer())
      CopyOut(V);
  for (const Node *N : Run) {
    E.Steps.push_back({EntryStep::Kind::Call, CallOf.at(N)});
    for (const Value *V : N->outputs())
      CopyOut(V);
  }
  P.InferOneToOneForm = Inputs.size() == 1 && Outputs.size() == 1 &&
                        Inputs[0]->type().Elem == DType::F32 &&
                        Outputs[0]->type().Elem == DType::F32;
  P.Infer = std::move(E);
}

void Lowering::addCheckpoint() {
  int64_t Off = 0;
  for (const Value *V : G.params())
    if (V->isTrainable() || V->isOptimizerState()) {
      CheckpointEntry E;
      E.V = V;
      E.Name = V->name();
      E.Type = V->type().str();
      E.ArenaOffset = Buf.at(V)->Offset;
      E.Offset = Off;
      E.Bytes = V->type().bytes();
      P.Checkpoint.push_back(std::move(E));
      Off += (V->type().bytes() + 15) / 16 * 16;
    }
  P.CheckpointBytes = Off;
}

Expected<LoweredProgram> Lowering::run() {
  if (!isCIdentifier(O.Name))
    return Diag(fmt::format("--name '{}' is not a C identifier", O.Name));
  P.Name = O.Name;
  P.Source = O.Source;
  P.ArenaBytes = L.Plan.ArenaBytes;
  P.FlashBytes = L.FlashBytes;
  P.GraphInputs = int32_t(G.inputs().size());
  for (const BufferInfo &B : L.Buffers)
    Buf[B.V] = &B;
  P.Training = !G.stateUpdates().empty() ||
               std::any_of(G.params().begin(), G.params().end(),
                           [](const Value *V) { return V->isTrainable(); });
  for (const auto &N : G.nodes())
    if (N->op() == OpKind::AccumulateCount)
      P.AccumulateSteps = N->attrs().getInt("every", 1);
  addConstants();
  if (Status S = addCalls(); !S)
    return S.takeError();
  addInit();
  if (P.Training)
    addTrain();
  addInfer();
  addCheckpoint();
  return std::move(P);
}

} // namespace

Expected<LoweredProgram> lowerProgram(const Graph &G, const MemoryLayout &L,
                                      const LowerOptions &O) {
  return Lowering(G, L, O).run();
}

} // namespace mote
