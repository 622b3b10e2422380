//===- TensorLowering.cpp - Lowering helpers for data-movement ops --------===//

#include "compiler/ops/tensor/TensorLowering.h"

#include <limits>

namespace mote {

Status requireKernelElements(const Node &N) {
  constexpr int64_t Max = std::numeric_limits<int32_t>::max();
  auto Check = [&](const Value *V, std::string_view What, size_t I) -> Status {
    if (V && V->type().numElements() > Max)
      return opError(fmt::format("{} {} has {} elements; the runtime kernels "
                                 "handle at most {}",
                                 What, I, V->type().numElements(), Max));
    return ok();
  };
  for (size_t I = 0; I < N.numInputs(); ++I)
    if (Status S = Check(N.input(I), "input", I); !S)
      return S;
  for (size_t I = 0; I < N.numOutputs(); ++I)
    if (Status S = Check(N.output(I), "result", I); !S)
      return S;
  return ok();
}

Status lowerReshapeCopy(const Node &N, KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S;
  C.Header = "mote_rt/tensor.h";
  C.Kernel = "reshape";
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(kparams::ReshapeP{.N = N.inType(0).numElements()});
  return ok();
}

Status lowerStridedCopy(const Node &N, const Shape &Dims,
                        const std::vector<int64_t> &Strides, int64_t Base,
                        KernelCall &C) {
  assert(Dims.size() == Strides.size() && "one stride per result dim");
  if (Status S = requireKernelElements(N); !S)
    return S;
  // Keep the dims that matter, outermost first, merging dim I into the
  // previous kept dim when walking the previous one by a step is the same
  // as walking dim I over its whole extent.
  Shape D;
  std::vector<int64_t> St;
  bool Empty = false;
  for (size_t I = 0; I < Dims.size(); ++I) {
    Empty = Empty || Dims[I] == 0;
    if (Dims[I] == 1)
      continue;
    if (!D.empty() && St.back() == Strides[I] * Dims[I]) {
      D.back() *= Dims[I];
      St.back() = Strides[I];
      continue;
    }
    D.push_back(Dims[I]);
    St.push_back(Strides[I]);
  }
  if (Empty) {
    D = {0};
    St = {0};
    Base = 0;
  } else if (D.empty()) {
    D = {1};
    St = {0};
  }
  if (D.size() > size_t(KernelMaxRank))
    return opError(fmt::format("the copy needs {} dims after merging "
                               "contiguous ones; the kernel limit is {}",
                               D.size(), KernelMaxRank));
  C.Header = "mote_rt/tensor.h";
  C.Kernel = "strided_copy";
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(kparams::StridedP{
      .Rank = int64_t(D.size()), .Base = Base, .Dims = D, .Strides = St});
  return ok();
}

Status lowerSoftmaxFamily(const Node &N, KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S;
  const Shape &X = N.inType(0).Dims;
  std::optional<int64_t> Axis =
      normalizeAxis(N.attrs().getInt("axis", -1), int64_t(X.size()));
  if (!Axis)
    return opError("axis is out of range");
  int64_t Outer = 1, Inner = 1;
  for (size_t K = 0; K < X.size(); ++K) {
    if (K < size_t(*Axis))
      Outer *= X[K];
    if (K > size_t(*Axis))
      Inner *= X[K];
  }
  C.Header = "mote_rt/softmax.h";
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(
      kparams::SoftmaxP{.Outer = Outer, .Dim = X[size_t(*Axis)], .Inner = Inner});
  return ok();
}

Status lowerCrossEntropyFamily(const Node &N, size_t Scores, KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S;
  const Shape &X = N.inType(Scores).Dims;
  std::string Reduction = N.attrs().getString("reduction", "mean");
  int64_t Ignore = N.attrs().getInt("ignore_index", 0);
  bool HasIgnore = N.attrs().has("ignore_index");
  if (HasIgnore && (Ignore < std::numeric_limits<int32_t>::min() ||
                    Ignore > std::numeric_limits<int32_t>::max()))
    return opError(fmt::format("ignore_index {} does not fit in 32 bits, "
                               "which the kernel needs",
                               Ignore));
  int64_t Inner = 1;
  for (size_t K = 2; K < X.size(); ++K)
    Inner *= X[K];
  C.Header = "mote_rt/loss.h";
  C.TypeArgs = {N.inType(Scores).Elem, N.inType(Scores + 1).Elem};
  C.setParams(kparams::SoftmaxCrossEntropyP{
      .Batch = X[0],
      .Classes = X[1],
      .Inner = Inner,
      // mote_rt::ReduceNone, ReduceSum, ReduceMean.
      .Reduction = Reduction == "none" ? 0 : Reduction == "sum" ? 1 : 2,
      .HasIgnore = HasIgnore,
      .IgnoreIndex = HasIgnore ? Ignore : 0});
  // Weights may be absent (and the node may have no slot for them), so list
  // the operands: the emitter passes nullptr for a missing input.
  for (size_t I = 0; I < Scores + 3; ++I)
    C.Operands.push_back({false, int(I)});
  for (size_t I = 0; I < N.numOutputs(); ++I)
    C.Operands.push_back({true, int(I)});
  return ok();
}

} // namespace mote
