//===- Shape.cpp - The shape of a tensor as a tensor ----------------------===//
//
// shape(x; start, end) = the dims x.shape[start:end] as a 1-D i64 tensor
// (opset 15). start defaults to 0 and end to the rank r; a negative value
// has r added to it, and both are then clamped to [0, r], so the result is
// empty when start >= end. The input data is never read.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/OpUtils.h"

#include <algorithm>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The range [Start, End) of dims the node returns for a rank-\p Rank input.
std::pair<int64_t, int64_t> dimRange(const Node &N, int64_t Rank) {
  auto Clamp = [Rank](int64_t V) {
    // Rank is small, so V + Rank cannot overflow for negative V.
    if (V < 0)
      V += Rank;
    return std::clamp<int64_t>(V, 0, Rank);
  };
  int64_t Start = Clamp(N.attrs().getInt("start", 0));
  int64_t End = Clamp(N.attrs().getInt("end", Rank));
  return {Start, std::max(Start, End)};
}

Expected<TypeList> inferShape(const Node &N) {
  auto [Start, End] = dimRange(N, int64_t(N.inType(0).rank()));
  return TypeList{TensorType(DType::I64, {End - Start})};
}

Status kernelShape(const Node &N, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  const Shape &Dims = In[0]->shape();
  auto [Start, End] = dimRange(N, int64_t(Dims.size()));
  auto Dst = Out[0].data<int64_t>();
  std::copy(Dims.begin() + Start, Dims.begin() + End, Dst.begin());
  return ok();
}

constexpr AttrSpec ShapeAttrs[] = {{"start", AttrKind::Int},
                                   {"end", AttrKind::Int}};

} // namespace

extern const OpDef OpDef_Shape = {
    .Name = "Shape",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ShapeAttrs,
    .Infer = inferShape,
    .Kernel = kernelShape,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "x.shape[start:end] as a 1-D i64 tensor",
};

} // namespace mote
