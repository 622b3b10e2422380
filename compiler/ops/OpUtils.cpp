//===- OpUtils.cpp - Helpers for op definitions and kernels ---------------===//

#include "compiler/ops/OpUtils.h"
#include "compiler/GradContext.h"

namespace mote {

std::vector<int64_t> broadcastStrides(const Shape &In, const Shape &Out) {
  std::vector<int64_t> S(Out.size(), 0);
  std::vector<int64_t> InStrides = stridesOf(In);
  size_t Lead = Out.size() - In.size();
  for (size_t I = 0; I < In.size(); ++I)
    S[Lead + I] = In[I] == 1 ? 0 : InStrides[I];
  return S;
}

Status requireSameDType(const Node &N) {
  const Value *First = nullptr;
  for (size_t I = 0; I < N.numInputs(); ++I) {
    const Value *V = N.input(I);
    if (!V)
      continue;
    if (!First) {
      First = V;
      continue;
    }
    if (V->type().Elem != First->type().Elem)
      return opError(fmt::format("input {} has element type {} but input 0 "
                                 "has {}; insert a Cast",
                                 I, dtypeName(V->type().Elem),
                                 dtypeName(First->type().Elem)));
  }
  return ok();
}

Value *scalarLike(GradContext &Ctx, const Value *Like, double V) {
  Tensor T(TensorType(Like->type().Elem, {}));
  T.setFromDouble(0, V);
  return Ctx.constant(std::move(T), "c");
}

} // namespace mote

namespace mote {

Status requireKernelRank(const TensorType &T) {
  if (T.Dims.size() > size_t(KernelMaxRank))
    return opError(fmt::format("rank {} exceeds the kernel limit of {}",
                               T.Dims.size(), KernelMaxRank));
  return ok();
}

Status lowerBroadcast(const Node &N, KernelCall &C) {
  const Shape &Out = N.outType(0).Dims;
  if (Status S = requireKernelRank(N.outType(0)); !S)
    return S;
  C.setParams(kparams::BroadcastP{
      .Rank = int64_t(Out.size()),
      .Dims = Out,
      .SA = broadcastStrides(N.inType(0).Dims, Out),
      .SB = broadcastStrides(N.inType(1).Dims, Out)});
  return ok();
}

} // namespace mote
