//===- GradContext.h - What a gradient rule sees and emits ------*- C++ -*-===//
//
// Gradient rules (the Grad hook of an OpDef) run inside the autodiff pass,
// once per forward node on a path from a trainable parameter to the loss. A
// rule reads the gradients of the node's results, emits ordinary IR for the
// gradients of the inputs that need one, and hands them back with
// addInputGrad. Fan-out is summed by the context; broadcasting is undone by
// the rule with sumToShape.
//
// The gradient of a quantized value (an int8 weight or activation) is an
// f32 tensor of its shape, with respect to the real value it stands for
// (scale * (q - zero point)): DequantizeLinear passes it through unchanged,
// and the update of an int8 weight (compiler/ops/train/Optimizer.cpp)
// turns it into integer steps.
//
// Every node a rule emits is marked as backward (NodePhase::Backward) and
// goes through the op's type rule, so a rule cannot build an ill-typed graph.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_GRADCONTEXT_H
#define MOTE_COMPILER_GRADCONTEXT_H

#include "compiler/Graph.h"

#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mote {

/// The type of the gradient of a value of type \p T: T itself, or f32 of
/// T's shape for a quantized T.
TensorType gradType(const TensorType &T);

class GradContext {
public:
  /// \p NeedsGrad says which values need a gradient; \p Grads maps a value
  /// to its (accumulated) gradient so far.
  GradContext(Graph &G, const Node &N,
              std::function<bool(const Value *)> NeedsGrad,
              std::unordered_map<const Value *, Value *> &Grads,
              Node *InsertBefore)
      : G(G), N(N), NeedsGradFn(std::move(NeedsGrad)), Grads(Grads),
        InsertBefore(InsertBefore) {}

  const Node &node() const { return N; }
  Graph &graph() { return G; }

  /// Gradient of result \p I of the node, or null if nothing depends on it.
  Value *outputGrad(size_t I) const;
  /// Whether input \p I is present and needs a gradient.
  bool needsGrad(size_t I) const;
  /// Adds \p Grad (which must have gradType of input \p I's type) to input
  /// \p I's gradient.
  Status addInputGrad(size_t I, Value *Grad);

  /// Emits a backward node; result types come from the op's type rule.
  Expected<std::vector<Value *>> emit(OpKind Op, std::vector<Value *> Ins,
                                      AttrMap Attrs = {}, size_t NumResults = 1,
                                      std::string_view Hint = "");
  /// emit() for single-result ops.
  Expected<Value *> emit1(OpKind Op, std::vector<Value *> Ins,
                          AttrMap Attrs = {}, std::string_view Hint = "");
  /// A constant holding \p T.
  Value *constant(Tensor T, std::string_view Hint = "c");
  /// A scalar f32 constant.
  Value *scalar(float V) {
    return constant(Tensor::fromVector<float>({V}, {}), "c");
  }
  /// Sums \p Grad over the dims that broadcasting added or stretched so the
  /// result has shape \p To.
  Expected<Value *> sumToShape(Value *Grad, const Shape &To);

private:
  Graph &G;
  const Node &N;
  std::function<bool(const Value *)> NeedsGradFn;
  std::unordered_map<const Value *, Value *> &Grads;
  Node *InsertBefore;
};

} // namespace mote

#endif // MOTE_COMPILER_GRADCONTEXT_H
