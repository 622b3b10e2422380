//===- Interpreter.h - Reference interpreter --------------------*- C++ -*-===//
//
// Executes a Graph node by node with each op's reference kernel. Plain and
// readable: it is the oracle that passes and generated code are compared
// against, not a fast runtime.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_INTERPRETER_H
#define MOTE_COMPILER_INTERPRETER_H

#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace mote {

class Graph;
class Value;

class Interpreter {
public:
  explicit Interpreter(const Graph &G) : G(G) {}

  /// Runs the graph on \p Feeds (graph input name -> tensor). Every graph
  /// input must be fed with a tensor of its declared type. Params start from
  /// their data in the graph; after each run, the graph's state updates are
  /// applied, so repeated runs are successive training steps.
  Status run(const std::map<std::string, Tensor> &Feeds);

  /// Current value of param \p P (after the updates of earlier runs).
  const Tensor *state(const Value *P) const;

  /// Value of \p V after run() (inputs, params, consts and results).
  const Tensor *get(const Value *V) const;
  /// The graph outputs, in order, after run().
  std::vector<Tensor> outputs() const;

private:
  const Graph &G;
  std::unordered_map<const Value *, Tensor> Values;
  std::unordered_map<const Value *, Tensor> State;
};

/// Runs \p G once and returns its outputs.
Expected<std::vector<Tensor>> interpret(const Graph &G,
                                        const std::map<std::string, Tensor> &Feeds);

} // namespace mote

#endif // MOTE_COMPILER_INTERPRETER_H
