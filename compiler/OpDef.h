//===- OpDef.h - The one definition of an op --------------------*- C++ -*-===//
//
// Everything the compiler knows about an op sits in one OpDef: arity,
// attribute schema, the type rule (which is also its verifier), the
// reference interpreter kernel, the MAC count, the gradient rule and the
// lowering to a runtime-stub kernel. Ops are listed in Ops.def; each
// defines `const OpDef OpDef_<Name>` in its file under compiler/ops/.
// docs/adding-an-op.md walks through every file an op touches.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPDEF_H
#define MOTE_COMPILER_OPDEF_H

#include "compiler/Attribute.h"
#include "compiler/Diagnostic.h"
#include "compiler/Graph.h"
#include "compiler/KernelCall.h"
#include "compiler/Tensor.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mote {

class GradContext;

/// An attribute an op accepts.
struct AttrSpec {
  std::string_view Name;
  AttrKind Kind;
  bool Required = false;
};

/// Checks a node's attributes and input types and returns its result types.
/// Input types are those of node.input(i) (null inputs are absent optional
/// inputs). The message of a returned Diag describes the problem only; the
/// caller attaches the node.
using InferFn = Expected<std::vector<TensorType>> (*)(const Node &N);

/// Reference kernel: computes the results into \p Out, which the interpreter
/// has allocated with the node's result types. In[i] is null for an absent
/// optional input.
using KernelFn = Status (*)(const Node &N, std::span<const Tensor *const> In,
                            std::span<Tensor> Out);

/// Multiply-accumulate count of one execution of the node.
using MacsFn = int64_t (*)(const Node &N);

/// Gradient rule: given the gradients of the node's results, emits IR that
/// computes the gradient of each input (null where not needed or not
/// differentiable). Filled in by the training-graph work.
using GradFn = Status (*)(GradContext &Ctx, const Node &N);

/// Lowering to a runtime-stub kernel call (see KernelCall.h). Ops the
/// canonical pipeline removes or folds (Identity, Dropout, Shape) have none;
/// code generation reports a node without one as unsupported.
using LowerFn = Status (*)(const Node &N, KernelCall &Call);

enum OpFlags : unsigned {
  OpFlagNone = 0,
  /// Result i depends only on element i of each (broadcast) input.
  OpFlagElementwise = 1u << 0,
  /// No numeric change: the result is a view/copy of the input data.
  OpFlagDataMovement = 1u << 1,
  /// The op has no derivative (integer outputs, shape queries...).
  OpFlagNotDifferentiable = 1u << 2,
  /// Result 0 may be written into the buffer of an input of the same type
  /// whose last use is this node: its kernel reads element i of every input
  /// before it writes element i of the result (memory planning, Liveness).
  OpFlagInPlace = 1u << 3,
  /// The type rule takes quantized operands (TensorType::Quant) and says
  /// what they mean for the result; inferNodeTypes refuses a quantized
  /// operand of any other op, so an op that knows nothing of quantization
  /// never reads integers as if they were the real values.
  OpFlagQuantAware = 1u << 4,
};

inline constexpr int Variadic = -1;

struct OpDef {
  std::string_view Name;
  int MinInputs;
  int MaxInputs; ///< Variadic for no limit
  int MinOutputs;
  int MaxOutputs;
  std::span<const AttrSpec> Attrs;
  InferFn Infer;
  KernelFn Kernel;
  MacsFn Macs = nullptr;
  GradFn Grad = nullptr;
  unsigned Flags = OpFlagNone;
  std::string_view Summary = {};
  LowerFn Lower = nullptr;
};

/// The definition of \p K.
const OpDef &getOpDef(OpKind K);
/// Looks an op up by its textual name.
std::optional<OpKind> lookupOp(std::string_view Name);
/// All op kinds, in Ops.def order.
std::span<const OpKind> allOps();

/// Checks \p N's arity and attributes against its OpDef schema.
Status checkOpSchema(const Node &N);
/// Runs the op's type rule on \p N (schema checked first).
Expected<std::vector<TensorType>> inferNodeTypes(const Node &N);
/// MACs of \p N (0 for ops without a MAC rule).
int64_t nodeMacs(const Node &N);

//===----------------------------------------------------------------------===//
// Helpers shared by op definitions.
//===----------------------------------------------------------------------===//

/// Numpy-style broadcast of two shapes, or nullopt if incompatible.
std::optional<Shape> broadcastShapes(const Shape &A, const Shape &B);

/// Normalises an axis in [-Rank, Rank) to [0, Rank); nullopt if out of range.
std::optional<int64_t> normalizeAxis(int64_t Axis, int64_t Rank);

/// Builds a Diag with a formatted message.
Diag opError(std::string Msg);

/// Shorthand for ops whose result type is the (broadcast) type of inputs.
Expected<std::vector<TensorType>> sameAsInput0(const Node &N);

/// Requires input \p I to be a float (f32 or f64) tensor.
Status requireFloat(const Node &N, size_t I);

} // namespace mote

#endif // MOTE_COMPILER_OPDEF_H
