//===- Autodiff.h - Compile-time reverse-mode differentiation ---*- C++ -*-===//
//
// Appends to a graph the backward IR that computes d(loss)/d(w) for chosen
// parameters. Only values on a path from one of them to the loss get a
// gradient, so frozen parameters cost nothing and backpropagation stops at
// the earliest layer that trains. Each op's gradient rule (OpDef::Grad)
// emits ordinary IR; fan-out is summed.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_PASSES_AUTODIFF_H
#define MOTE_PASSES_AUTODIFF_H

#include "compiler/Diagnostic.h"

#include <span>
#include <unordered_map>

namespace mote {

class Graph;
class Value;
struct PassContext;

/// Gradient of each value of \p Wrt (null for one the loss does not depend
/// on). \p Loss must be a scalar (or one-element) f32/f64 value.
Expected<std::unordered_map<const Value *, Value *>>
buildGradients(Graph &G, Value *Loss, std::span<Value *const> Wrt);

} // namespace mote

#endif // MOTE_PASSES_AUTODIFF_H
