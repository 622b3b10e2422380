//===- Interpreter.cpp - Reference interpreter ----------------------------===//

#include "compiler/Interpreter.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <fmt/format.h>

namespace mote {

Status Interpreter::run(const std::map<std::string, Tensor> &Feeds) {
  Values.clear();
  for (const Value *In : G.inputs()) {
    auto It = Feeds.find(In->name());
    if (It == Feeds.end())
      return Diag(fmt::format("no value given for graph input '{}' ({})",
                              In->name(), In->type().str()));
    // A feed for a quantized input holds the integers; the input's type
    // says what they mean.
    const TensorType &Got = It->second.type();
    if (!Got.sameStorage(In->type()) ||
        (Got.isQuantized() && Got != In->type()))
      return Diag(fmt::format("graph input '{}' expects {}, got {}",
                              In->name(), In->type().str(), Got.str()));
    Values[In] = It->second.retyped(In->type());
  }
  for (const auto &[Name, T] : Feeds)
    if (!G.lookup(Name) || !G.lookup(Name)->isInput())
      return Diag(fmt::format("'{}' is not a graph input", Name));
  for (const Value *P : G.params()) {
    auto It = State.find(P);
    Values[P] = It != State.end() ? It->second : *P->data();
  }
  for (const auto &NP : G.nodes()) {
    const Node &N = *NP;
    std::vector<const Tensor *> Ins;
    for (size_t I = 0; I < N.numInputs(); ++I) {
      const Value *V = N.input(I);
      if (!V) {
        Ins.push_back(nullptr);
        continue;
      }
      auto It = Values.find(V);
      if (It == Values.end())
        return Diag(fmt::format("operand '{}' has no value (graph not in "
                                "execution order)",
                                V->name()))
            .at(N);
      Ins.push_back(&It->second);
    }
    std::vector<Tensor> Outs;
    Outs.reserve(N.numOutputs());
    for (const Value *O : N.outputs())
      Outs.emplace_back(O->type());
    Status S = N.def().Kernel(N, Ins, Outs);
    if (!S) {
      Diag D = S.takeError();
      D.at(N);
      D.inFile(G.SourceFile);
      return D;
    }
    for (size_t I = 0; I < N.numOutputs(); ++I)
      Values[N.output(I)] = std::move(Outs[I]);
  }
  for (const Graph::StateUpdate &U : G.stateUpdates())
    State[U.Param] = Values.at(U.NewValue);
  return ok();
}

const Tensor *Interpreter::state(const Value *P) const {
  auto It = State.find(P);
  if (It != State.end())
    return &It->second;
  return P->data();
}

const Tensor *Interpreter::get(const Value *V) const {
  auto It = Values.find(V);
  return It == Values.end() ? nullptr : &It->second;
}

std::vector<Tensor> Interpreter::outputs() const {
  std::vector<Tensor> R;
  for (const Value *V : G.outputs())
    R.push_back(*get(V));
  return R;
}

Expected<std::vector<Tensor>>
interpret(const Graph &G, const std::map<std::string, Tensor> &Feeds) {
  Interpreter I(G);
  Status S = I.run(Feeds);
  if (!S)
    return S.takeError();
  return I.outputs();
}

} // namespace mote
