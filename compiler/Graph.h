//===- Graph.h - The typed graph IR -----------------------------*- C++ -*-===//
//
// A Graph is a list of Nodes in execution order over typed Values. Every Value
// has a static TensorType and is one of
//   - a graph input (fed at run time),
//   - a parameter (an ONNX initializer: has data, may be trained),
//   - a constant (has data, never trained: folded Constant nodes, shapes),
//   - the result of a node.
// The graph owns its values and nodes; values are referred to by pointer and
// by a unique name. Passes mutate the graph through the methods below and the
// verifier (Verifier.h) checks the invariants after each pass.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_GRAPH_H
#define MOTE_COMPILER_GRAPH_H

#include "compiler/Attribute.h"
#include "compiler/Diagnostic.h"
#include "compiler/OpKind.h"
#include "compiler/Tensor.h"

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mote {

class Graph;
class Node;
struct OpDef;

enum class ValueKind : uint8_t { Input, Param, Const, Result };

/// Which part of a training step a node belongs to.
enum class NodePhase : uint8_t { Forward, Backward, Update };

/// How a parameter trains (set by the select-trainable pass).
struct TrainSpec {
  bool Trainable = false;
  /// Number of leading output channels that train; -1 for all.
  int64_t Channels = -1;
  /// The spec entry that selected it (for the report), if any.
  std::string Rule;
};

/// A typed SSA value.
class Value {
public:
  const std::string &name() const { return Name; }
  const TensorType &type() const { return Type; }
  ValueKind kind() const { return Kind; }
  /// The node computing this value (Result values only).
  Node *producer() const { return Producer; }
  /// Which result of the producer this is.
  unsigned resultIndex() const { return ResultIndex; }
  /// Data of a Param or Const, null otherwise.
  const Tensor *data() const { return Data.get(); }
  Tensor *mutableData() { return Data.get(); }
  bool hasData() const { return Data != nullptr; }
  bool isParam() const { return Kind == ValueKind::Param; }
  bool isConst() const { return Kind == ValueKind::Const; }
  bool isInput() const { return Kind == ValueKind::Input; }

  /// Changes the static type; the caller keeps the graph consistent.
  void setType(TensorType T) { Type = std::move(T); }

  /// Training spec of a parameter.
  const TrainSpec &train() const { return Train; }
  void setTrain(TrainSpec S) { Train = std::move(S); }
  bool isTrainable() const { return Kind == ValueKind::Param && Train.Trainable; }
  /// Optimizer state (momentum, Adam moments, step counter): a param that
  /// is not a model weight.
  bool isOptimizerState() const { return OptimizerState; }
  void setOptimizerState(bool B) { OptimizerState = B; }

private:
  friend class Graph;
  std::string Name;
  TensorType Type;
  ValueKind Kind = ValueKind::Result;
  Node *Producer = nullptr;
  unsigned ResultIndex = 0;
  std::shared_ptr<Tensor> Data;
  TrainSpec Train;
  bool OptimizerState = false;
};

/// One operation: op kind, attributes, input values (null for an absent
/// optional input), result values.
class Node {
public:
  OpKind op() const { return Op; }
  const OpDef &def() const;
  std::string_view opName() const;
  /// The node's name (from ONNX, or made up); unique within a graph.
  const std::string &name() const { return Name; }

  size_t numInputs() const { return Inputs.size(); }
  size_t numOutputs() const { return Outputs.size(); }
  /// Input \p I, or null if absent (optional input left out).
  Value *input(size_t I) const { return I < Inputs.size() ? Inputs[I] : nullptr; }
  Value *output(size_t I) const { return Outputs[I]; }
  std::span<Value *const> inputs() const { return Inputs; }
  std::span<Value *const> outputs() const { return Outputs; }
  const AttrMap &attrs() const { return Attrs; }
  AttrMap &attrs() { return Attrs; }

  /// Type of input \p I (must be present).
  const TensorType &inType(size_t I) const { return Inputs[I]->type(); }
  /// Type of result \p I.
  const TensorType &outType(size_t I) const { return Outputs[I]->type(); }
  void setInput(size_t I, Value *V) { Inputs[I] = V; }
  /// Replaces the operand list (the caller re-checks types).
  void setInputs(std::vector<Value *> Vs) { Inputs = std::move(Vs); }

  NodePhase phase() const { return Phase; }
  void setPhase(NodePhase P) { Phase = P; }

private:
  friend class Graph;
  OpKind Op{};
  std::string Name;
  std::vector<Value *> Inputs;
  std::vector<Value *> Outputs;
  AttrMap Attrs;
  NodePhase Phase = NodePhase::Forward;
};

/// Name and type of a node result to create.
struct ResultSpec {
  std::string Name;
  TensorType Type;
};

class Graph {
public:
  explicit Graph(std::string Name = "main") : GraphName(std::move(Name)) {}
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;

  const std::string &name() const { return GraphName; }
  void setName(std::string N) { GraphName = std::move(N); }

  /// Source file and opset, used to locate diagnostics.
  std::string SourceFile;
  int Opset = -1;

  // Creation. Names must be unique (use uniqueName); the caller checks.
  Value *addInput(std::string Name, TensorType T);
  Value *addParam(std::string Name, Tensor Data);
  Value *addConst(std::string Name, Tensor Data);
  /// Appends a node at the end of the execution order.
  Node *addNode(OpKind Op, std::string NodeName, std::vector<Value *> Inputs,
                AttrMap Attrs, std::vector<ResultSpec> Results);
  /// Builder: inserts a node before \p Before (at the end if null) whose
  /// result types come from the op's type rule; on a type error nothing is
  /// added and the Diag (located at the node) is returned.
  Expected<Node *> createNode(Node *Before, OpKind Op, std::string NodeName,
                              std::vector<Value *> Inputs, AttrMap Attrs,
                              std::vector<std::string> ResultNames);
  /// Inserts a node before \p Before (or at the end if null).
  Node *insertNode(Node *Before, OpKind Op, std::string NodeName,
                   std::vector<Value *> Inputs, AttrMap Attrs,
                   std::vector<ResultSpec> Results);
  void addOutput(Value *V) { Outputs.push_back(V); }
  void setOutputs(std::vector<Value *> Vs) { Outputs = std::move(Vs); }

  /// State carried across training steps: after a step, each Param gets the
  /// value computed for it (updated weights, optimizer state). In-place on a
  /// device; explicit here so the IR stays SSA.
  struct StateUpdate {
    Value *Param;
    Value *NewValue;
  };
  const std::vector<StateUpdate> &stateUpdates() const { return Updates; }
  void addStateUpdate(Value *Param, Value *NewValue) {
    Updates.push_back({Param, NewValue});
  }
  void clearStateUpdates() { Updates.clear(); }

  /// A name not used by any value or node yet, based on \p Base.
  std::string uniqueName(std::string_view Base) const;
  bool isNameTaken(std::string_view N) const;

  Value *lookup(std::string_view Name) const;
  Node *lookupNode(std::string_view Name) const;

  const std::vector<std::unique_ptr<Node>> &nodes() const { return Nodes; }
  const std::vector<Value *> &inputs() const { return Inputs; }
  const std::vector<Value *> &outputs() const { return Outputs; }
  /// Whether \p V is one of the graph outputs.
  bool isOutput(const Value *V) const {
    return std::find(Outputs.begin(), Outputs.end(), V) != Outputs.end();
  }
  /// Params and consts in creation order.
  const std::vector<Value *> &params() const { return Params; }
  /// All values in creation order.
  std::vector<Value *> values() const;

  /// Nodes reading \p V, in execution order (a node reading V twice appears
  /// once).
  std::vector<Node *> users(const Value *V) const;
  /// Replaces every use of \p Old (node inputs and graph outputs) with \p New.
  void replaceAllUsesWith(Value *Old, Value *New);
  /// Removes \p N; its results must be unused.
  void eraseNode(Node *N);
  /// Removes nodes whose results reach no graph output, then params, consts
  /// and values nothing uses. Graph inputs are kept. Returns whether anything
  /// was removed.
  bool removeDeadCode();
  /// Turns a Result value into a Const holding \p Data, detaching it from its
  /// producer (used by constant folding; the producer is left to DCE).
  void convertToConst(Value *V, Tensor Data);
  /// Gives graph input, param or const \p V type \p T, which must have the
  /// same storage (element type and shape; see TensorType::sameStorage):
  /// adds, changes or drops its quantization parameters, in its data too.
  /// The caller keeps the graph consistent (the users' types).
  void retype(Value *V, TensorType T);
  /// Reorders the node list (must be a permutation of nodes()).
  void setNodeOrder(const std::vector<Node *> &Order);
  /// Renames a value; the new name must be free.
  void renameValue(Value *V, std::string NewName);

private:
  Value *newValue(std::string Name, TensorType T, ValueKind K);

  std::string GraphName;
  std::vector<std::unique_ptr<Value>> Values;
  std::vector<std::unique_ptr<Node>> Nodes;
  std::vector<Value *> Inputs;
  std::vector<Value *> Outputs;
  std::vector<Value *> Params;
  std::vector<StateUpdate> Updates;
  std::unordered_map<std::string, Value *> ValueByName;
  std::unordered_map<std::string, Node *> NodeByName;
};

} // namespace mote

#endif // MOTE_COMPILER_GRAPH_H
