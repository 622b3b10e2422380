//===- Graph.cpp - The typed graph IR -------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <algorithm>
#include <cassert>
#include <fmt/format.h>
#include <unordered_set>

namespace mote {

const OpDef &Node::def() const { return getOpDef(Op); }
std::string_view Node::opName() const { return def().Name; }

Value *Graph::newValue(std::string Name, TensorType T, ValueKind K) {
  assert(!Name.empty() && "values need a name");
  assert(!ValueByName.count(Name) && "duplicate value name");
  auto V = std::make_unique<Value>();
  V->Name = std::move(Name);
  V->Type = std::move(T);
  V->Kind = K;
  Value *P = V.get();
  ValueByName[P->Name] = P;
  Values.push_back(std::move(V));
  return P;
}

Value *Graph::addInput(std::string Name, TensorType T) {
  Value *V = newValue(std::move(Name), std::move(T), ValueKind::Input);
  Inputs.push_back(V);
  return V;
}

Value *Graph::addParam(std::string Name, Tensor Data) {
  Value *V = newValue(std::move(Name), Data.type(), ValueKind::Param);
  V->Data = std::make_shared<Tensor>(std::move(Data));
  Params.push_back(V);
  return V;
}

Value *Graph::addConst(std::string Name, Tensor Data) {
  Value *V = newValue(std::move(Name), Data.type(), ValueKind::Const);
  V->Data = std::make_shared<Tensor>(std::move(Data));
  Params.push_back(V);
  return V;
}

Node *Graph::addNode(OpKind Op, std::string NodeName, std::vector<Value *> Ins,
                     AttrMap Attrs, std::vector<ResultSpec> Results) {
  return insertNode(nullptr, Op, std::move(NodeName), std::move(Ins),
                    std::move(Attrs), std::move(Results));
}

Node *Graph::insertNode(Node *Before, OpKind Op, std::string NodeName,
                        std::vector<Value *> Ins, AttrMap Attrs,
                        std::vector<ResultSpec> Results) {
  auto N = std::make_unique<Node>();
  N->Op = Op;
  if (NodeName.empty() || NodeByName.count(NodeName))
    NodeName = uniqueName(NodeName.empty() ? getOpDef(Op).Name : NodeName);
  N->Name = std::move(NodeName);
  N->Inputs = std::move(Ins);
  N->Attrs = std::move(Attrs);
  for (size_t I = 0; I < Results.size(); ++I) {
    Value *V = newValue(std::move(Results[I].Name), std::move(Results[I].Type),
                        ValueKind::Result);
    V->Producer = N.get();
    V->ResultIndex = unsigned(I);
    N->Outputs.push_back(V);
  }
  Node *P = N.get();
  NodeByName[P->Name] = P;
  auto Pos = Nodes.end();
  if (Before)
    Pos = std::find_if(Nodes.begin(), Nodes.end(),
                       [&](const auto &X) { return X.get() == Before; });
  Nodes.insert(Pos, std::move(N));
  return P;
}

Expected<Node *> Graph::createNode(Node *Before, OpKind Op,
                                  std::string NodeName,
                                  std::vector<Value *> Ins, AttrMap Attrs,
                                  std::vector<std::string> ResultNames) {
  std::vector<ResultSpec> Results;
  for (std::string &R : ResultNames)
    Results.push_back({std::move(R), TensorType()});
  Node *N = insertNode(Before, Op, std::move(NodeName), std::move(Ins),
                       std::move(Attrs), std::move(Results));
  Expected<std::vector<TensorType>> Types = inferNodeTypes(*N);
  if (!Types) {
    Diag D = Types.takeError();
    D.at(*N);
    eraseNode(N);
    return D;
  }
  for (size_t I = 0; I < N->numOutputs(); ++I)
    N->output(I)->setType((*Types)[I]);
  return N;
}

bool Graph::isNameTaken(std::string_view N) const {
  std::string S(N);
  return ValueByName.count(S) || NodeByName.count(S);
}

std::string Graph::uniqueName(std::string_view Base) const {
  std::string B = Base.empty() ? std::string("v") : std::string(Base);
  if (!isNameTaken(B))
    return B;
  for (unsigned I = 1;; ++I) {
    std::string C = fmt::format("{}_{}", B, I);
    if (!isNameTaken(C))
      return C;
  }
}

Value *Graph::lookup(std::string_view Name) const {
  auto It = ValueByName.find(std::string(Name));
  return It == ValueByName.end() ? nullptr : It->second;
}

Node *Graph::lookupNode(std::string_view Name) const {
  auto It = NodeByName.find(std::string(Name));
  return It == NodeByName.end() ? nullptr : It->second;
}

std::vector<Value *> Graph::values() const {
  std::vector<Value *> R;
  R.reserve(Values.size());
  for (const auto &V : Values)
    R.push_back(V.get());
  return R;
}

std::vector<Node *> Graph::users(const Value *V) const {
  std::vector<Node *> R;
  for (const auto &N : Nodes)
    if (std::find(N->Inputs.begin(), N->Inputs.end(), V) != N->Inputs.end())
      R.push_back(N.get());
  return R;
}

void Graph::replaceAllUsesWith(Value *Old, Value *New) {
  for (const auto &N : Nodes)
    for (Value *&In : N->Inputs)
      if (In == Old)
        In = New;
  for (Value *&O : Outputs)
    if (O == Old)
      O = New;
  for (StateUpdate &U : Updates)
    if (U.NewValue == Old)
      U.NewValue = New;
}

void Graph::eraseNode(Node *N) {
  auto It = std::find_if(Nodes.begin(), Nodes.end(),
                         [&](const auto &X) { return X.get() == N; });
  assert(It != Nodes.end() && "node not in graph");
  for (Value *O : N->Outputs)
    O->Producer = nullptr;
  NodeByName.erase(N->Name);
  Nodes.erase(It);
}

bool Graph::removeDeadCode() {
  std::unordered_set<const Value *> Live(Outputs.begin(), Outputs.end());
  for (const StateUpdate &U : Updates) {
    Live.insert(U.NewValue);
    Live.insert(U.Param);
  }
  std::unordered_set<const Node *> LiveNodes;
  for (auto It = Nodes.rbegin(); It != Nodes.rend(); ++It) {
    Node *N = It->get();
    bool Needed = std::any_of(N->Outputs.begin(), N->Outputs.end(),
                              [&](Value *V) { return Live.count(V); });
    if (!Needed)
      continue;
    LiveNodes.insert(N);
    for (Value *In : N->Inputs)
      if (In)
        Live.insert(In);
  }
  bool Changed = false;
  std::vector<std::unique_ptr<Node>> Kept;
  for (auto &N : Nodes) {
    if (LiveNodes.count(N.get())) {
      Kept.push_back(std::move(N));
      continue;
    }
    NodeByName.erase(N->Name);
    Changed = true;
  }
  Nodes = std::move(Kept);
  // Drop values that no longer belong to a live node, param or input.
  std::unordered_set<const Value *> Keep(Inputs.begin(), Inputs.end());
  for (const auto &N : Nodes) {
    for (Value *V : N->Outputs)
      Keep.insert(V);
    for (Value *V : N->Inputs)
      if (V)
        Keep.insert(V);
  }
  for (Value *V : Outputs)
    Keep.insert(V);
  for (const StateUpdate &U : Updates) {
    Keep.insert(U.Param);
    Keep.insert(U.NewValue);
  }
  std::vector<Value *> KeptParams;
  for (Value *P : Params)
    if (Keep.count(P))
      KeptParams.push_back(P);
  Params = std::move(KeptParams);
  std::vector<std::unique_ptr<Value>> KeptValues;
  for (auto &V : Values) {
    if (Keep.count(V.get())) {
      KeptValues.push_back(std::move(V));
      continue;
    }
    ValueByName.erase(V->Name);
    Changed = true;
  }
  Values = std::move(KeptValues);
  return Changed;
}

void Graph::retype(Value *V, TensorType T) {
  assert(!V->Producer && "retype of a node's result");
  assert(V->Type.sameStorage(T) && "retype changes the storage");
  if (V->Data)
    // A fresh tensor: the old one may be shared with a copy of the graph.
    V->Data = std::make_shared<Tensor>(V->Data->retyped(T));
  V->Type = std::move(T);
}

void Graph::convertToConst(Value *V, Tensor Data) {
  assert(V->Kind == ValueKind::Result && "only results become constants");
  assert(Data.type() == V->Type && "constant of the wrong type");
  if (V->Producer) {
    // Detach V from its producer: give the node a fresh dead result instead.
    Node *P = V->Producer;
    auto Fresh = std::make_unique<Value>();
    Fresh->Name = uniqueName(V->Name + ".dead");
    Fresh->Type = V->Type;
    Fresh->Kind = ValueKind::Result;
    Fresh->Producer = P;
    Fresh->ResultIndex = V->ResultIndex;
    P->Outputs[V->ResultIndex] = Fresh.get();
    ValueByName[Fresh->Name] = Fresh.get();
    Values.push_back(std::move(Fresh));
  }
  V->Kind = ValueKind::Const;
  V->Producer = nullptr;
  V->ResultIndex = 0;
  V->Data = std::make_shared<Tensor>(std::move(Data));
  Params.push_back(V);
}

void Graph::setNodeOrder(const std::vector<Node *> &Order) {
  assert(Order.size() == Nodes.size() && "not a permutation");
  std::unordered_map<const Node *, std::unique_ptr<Node>> ByPtr;
  for (auto &N : Nodes)
    ByPtr[N.get()] = std::move(N);
  Nodes.clear();
  for (Node *N : Order) {
    auto It = ByPtr.find(N);
    assert(It != ByPtr.end() && It->second && "not a permutation");
    Nodes.push_back(std::move(It->second));
  }
}

void Graph::renameValue(Value *V, std::string NewName) {
  assert(!ValueByName.count(NewName) && "name taken");
  ValueByName.erase(V->Name);
  V->Name = std::move(NewName);
  ValueByName[V->Name] = V;
}

} // namespace mote
