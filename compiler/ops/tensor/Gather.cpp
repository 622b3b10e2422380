//===- Gather.cpp - Select slices of a tensor by index --------------------===//
//
// gather(data, indices; axis): with data of rank r >= 1 and indices (i32 or
// i64) of rank q, the result has shape
//   data.shape[:axis] + indices.shape + data.shape[axis+1:]
// and y[a..., i..., b...] = data[a..., k, b...] where k = indices[i...].
// Negative indices count from the end of the axis (k + d). An index outside
// [-d, d-1] is an error of the kernel, reported before anything is written.
//
// Lowers to mote_rt::gather<T, I> (tensor.h). The generated kernel cannot
// fail: an index out of range at run time gives a slice of zeros; constant
// indices (the common case) are checked here, at compile time.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

Expected<TypeList> inferGather(const Node &N) {
  const TensorType &Data = N.inType(0);
  const TensorType &Indices = N.inType(1);
  if (Indices.Elem != DType::I32 && Indices.Elem != DType::I64)
    return opError(fmt::format("indices must be i32 or i64, got {}",
                               dtypeName(Indices.Elem)));
  int64_t Rank = int64_t(Data.rank());
  if (Rank == 0)
    return opError("data must have rank 1 or more, got a scalar");
  int64_t AxisAttr = N.attrs().getInt("axis", 0);
  std::optional<int64_t> Axis = normalizeAxis(AxisAttr, Rank);
  if (!Axis)
    return opError(
        fmt::format("axis {} is out of range for rank {}", AxisAttr, Rank));
  Shape Dims(Data.Dims.begin(), Data.Dims.begin() + *Axis);
  Dims.insert(Dims.end(), Indices.Dims.begin(), Indices.Dims.end());
  Dims.insert(Dims.end(), Data.Dims.begin() + *Axis + 1, Data.Dims.end());
  return TypeList{TensorType(Data.Elem, Dims)};
}

/// The indices as int64, made non-negative, or an error naming the first
/// one outside [-Dim, Dim).
Expected<std::vector<int64_t>> readIndices(const Tensor &T, int64_t Dim,
                                           int64_t Axis) {
  std::vector<int64_t> R(size_t(T.numElements()));
  for (size_t I = 0; I < R.size(); ++I) {
    int64_t K = T.getAsInt(int64_t(I));
    if (K < -Dim || K >= Dim)
      return opError(fmt::format("index {} is out of range for axis {} of "
                                 "size {}",
                                 K, Axis, Dim));
    R[I] = K < 0 ? K + Dim : K;
  }
  return R;
}

Status kernelGather(const Node &N, std::span<const Tensor *const> In,
                    std::span<Tensor> Out) {
  const Tensor &Data = *In[0];
  const Shape &DS = Data.shape();
  size_t Axis =
      size_t(*normalizeAxis(N.attrs().getInt("axis", 0), int64_t(DS.size())));
  int64_t Dim = DS[Axis];
  Expected<std::vector<int64_t>> Indices =
      readIndices(*In[1], Dim, int64_t(Axis));
  if (!Indices)
    return Indices.takeError();
  Tensor &Y = Out[0];
  if (Y.numElements() == 0)
    return ok();
  // View data as [Outer, Dim, Inner] and the result as
  // [Outer, NumIndices, Inner].
  int64_t Outer = 1, Inner = 1;
  for (size_t K = 0; K < DS.size(); ++K) {
    if (K < Axis)
      Outer *= DS[K];
    if (K > Axis)
      Inner *= DS[K];
  }
  return dispatchDType(Data.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto Src = Data.data<E>();
    auto Dst = Y.data<E>();
    size_t Pos = 0;
    for (int64_t O = 0; O < Outer; ++O) {
      for (int64_t K : *Indices) {
        auto Row = Src.subspan(size_t((O * Dim + K) * Inner), size_t(Inner));
        std::copy(Row.begin(), Row.end(), Dst.begin() + ptrdiff_t(Pos));
        Pos += Row.size();
      }
    }
    return ok();
  });
}

constexpr AttrSpec GatherAttrs[] = {{"axis", AttrKind::Int}};

/// mote_rt::gather<T, I>(GatherP, data, indices, y): data viewed as
/// [Outer, Dim, Inner]; GatherP is {Outer, Dim, Inner, number of indices}.
Status lowerGather(const Node &N, KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S;
  const Shape &DS = N.inType(0).Dims;
  size_t Axis =
      size_t(*normalizeAxis(N.attrs().getInt("axis", 0), int64_t(DS.size())));
  int64_t Dim = DS[Axis];
  if (const Value *Idx = N.input(1); Idx->hasData())
    if (Expected<std::vector<int64_t>> R =
            readIndices(*Idx->data(), Dim, int64_t(Axis));
        !R)
      return R.takeError();
  int64_t Outer = 1, Inner = 1;
  for (size_t K = 0; K < DS.size(); ++K) {
    if (K < Axis)
      Outer *= DS[K];
    if (K > Axis)
      Inner *= DS[K];
  }
  C.Header = "mote_rt/tensor.h";
  C.Kernel = "gather";
  C.TypeArgs = {N.inType(0).Elem, N.inType(1).Elem};
  C.setParams(kparams::GatherP{.Outer = Outer,
                               .Dim = Dim,
                               .Inner = Inner,
                               .Count = N.inType(1).numElements()});
  return ok();
}

} // namespace

extern const OpDef OpDef_Gather = {
    .Name = "Gather",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = GatherAttrs,
    .Infer = inferGather,
    .Kernel = kernelGather,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagDataMovement,
    .Summary = "slices of data along `axis` picked by indices",
    .Lower = lowerGather,
};

} // namespace mote
