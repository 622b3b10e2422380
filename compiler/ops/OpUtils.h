//===- OpUtils.h - Helpers for op definitions and kernels -------*- C++ -*-===//
//
// Small helpers the op definitions under compiler/ops/ share: index
// arithmetic for broadcasting and transposition, attribute shorthands.
// Internal to compiler/ops.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_OPUTILS_H
#define MOTE_COMPILER_OPS_OPUTILS_H

#include "compiler/OpDef.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mote {

/// Element strides of a tensor of shape \p In read as if broadcast to \p Out
/// (right-aligned; 0 along broadcast dims). Result has Out.size() entries.
std::vector<int64_t> broadcastStrides(const Shape &In, const Shape &Out);

/// Offset into a tensor with \p Strides of the element at linear index \p I
/// of a row-major tensor of shape \p Out.
inline int64_t offsetFor(int64_t I, const Shape &Out,
                         const std::vector<int64_t> &Strides) {
  int64_t Off = 0;
  for (size_t D = Out.size(); D-- > 0;) {
    int64_t Dim = Out[D];
    if (Dim == 0)
      return 0;
    Off += (I % Dim) * Strides[D];
    I /= Dim;
  }
  return Off;
}

/// Calls \p F with a float or a double tag for f32 / f64 (\p F returns
/// Status); any other element type is an error. The float-only kernels
/// dispatch through this.
template <class Fn> Status dispatchFloat(DType T, Fn &&F) {
  if (T == DType::F32)
    return F(float{});
  if (T == DType::F64)
    return F(double{});
  return opError(
      fmt::format("element type {} is not supported", dtypeName(T)));
}

/// Ok if all inputs that are present have the same element type.
Status requireSameDType(const Node &N);

/// Pushes the fields of mote_rt::BroadcastP for a node whose result 0 is the
/// broadcast of inputs 0 and 1: rank, out dims, strides of A, strides of B.
Status lowerBroadcast(const Node &N, KernelCall &C);

/// Fails with a clear message if \p T's rank exceeds the kernels' limit.
Status requireKernelRank(const TensorType &T);

class GradContext;
class Value;

/// A scalar constant of \p Like's element type (for gradient rules, which
/// must work in f32 and in the f64 of the gradient checks).
Value *scalarLike(GradContext &Ctx, const Value *Like, double V);

} // namespace mote

#endif // MOTE_COMPILER_OPS_OPUTILS_H
