//===- Verifier.cpp - Structural and type checks of a Graph ---------------===//

#include "compiler/Verifier.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <fmt/format.h>
#include <unordered_set>

namespace mote {

namespace {
Diag located(const Graph &G, Diag D) {
  D.inFile(G.SourceFile);
  if (!D.OpType.empty())
    D.withOpset(G.Opset);
  return D;
}
} // namespace

Status verifyGraph(const Graph &G) {
  std::unordered_set<const Value *> Defined;
  for (const Value *V : G.inputs()) {
    if (V->kind() != ValueKind::Input)
      return located(G, Diag(fmt::format("graph input '{}' is not an input "
                                         "value",
                                         V->name())));
    if (!V->type().isValid())
      return located(G, Diag(fmt::format("graph input '{}' has an invalid "
                                         "type {}",
                                         V->name(), V->type().str())));
    Defined.insert(V);
  }
  for (const Value *V : G.params()) {
    if (!V->hasData())
      return located(G, Diag(fmt::format("parameter '{}' has no data",
                                         V->name())));
    if (V->data()->type() != V->type())
      return located(G, Diag(fmt::format("parameter '{}' is declared {} but "
                                         "its data is {}",
                                         V->name(), V->type().str(),
                                         V->data()->type().str())));
    Defined.insert(V);
  }
  for (const auto &NP : G.nodes()) {
    const Node &N = *NP;
    for (size_t I = 0; I < N.numInputs(); ++I) {
      const Value *In = N.input(I);
      if (!In)
        continue;
      if (G.lookup(In->name()) != In)
        return located(G, Diag(fmt::format("operand {} ('{}') does not "
                                           "belong to the graph",
                                           I, In->name()))
                                  .at(N));
      if (!Defined.count(In))
        return located(G, Diag(fmt::format("operand {} ('{}') is used before "
                                           "it is defined (or in a cycle)",
                                           I, In->name()))
                                  .at(N));
    }
    Expected<std::vector<TensorType>> Types = inferNodeTypes(N);
    if (!Types)
      return located(G, Types.takeError().at(N));
    if (Types->size() < N.numOutputs())
      return located(G, Diag(fmt::format("has {} results but its type rule "
                                         "gives {}",
                                         N.numOutputs(), Types->size()))
                                .at(N));
    for (size_t I = 0; I < N.numOutputs(); ++I) {
      const Value *Out = N.output(I);
      if (Out->producer() != &N || Out->resultIndex() != I)
        return located(G, Diag(fmt::format("result {} ('{}') is not linked to "
                                           "its node",
                                           I, Out->name()))
                                  .at(N));
      if (Out->type() != (*Types)[I])
        return located(G, Diag(fmt::format("result '{}' is declared {} but "
                                           "the op gives {}",
                                           Out->name(), Out->type().str(),
                                           (*Types)[I].str()))
                                  .at(N));
      if (!Defined.insert(Out).second)
        return located(G, Diag(fmt::format("result '{}' is defined twice",
                                           Out->name()))
                                  .at(N));
    }
  }
  std::unordered_set<const Value *> Updated;
  for (const Graph::StateUpdate &U : G.stateUpdates()) {
    if (!U.Param->isParam())
      return located(G, Diag(fmt::format("update of '{}', which is not a "
                                         "param",
                                         U.Param->name())));
    if (!Defined.count(U.NewValue))
      return located(G, Diag(fmt::format("update of '{}' with '{}', which is "
                                         "not defined",
                                         U.Param->name(),
                                         U.NewValue->name())));
    if (U.NewValue->type() != U.Param->type())
      return located(G, Diag(fmt::format("update of '{}' ({}) with a value "
                                         "of type {}",
                                         U.Param->name(),
                                         U.Param->type().str(),
                                         U.NewValue->type().str())));
    if (!Updated.insert(U.Param).second)
      return located(G, Diag(fmt::format("'{}' is updated twice",
                                         U.Param->name())));
  }
  for (const Value *V : G.outputs())
    if (!Defined.count(V))
      return located(G, Diag(fmt::format("graph output '{}' is not defined",
                                         V->name())));
  return ok();
}

} // namespace mote
