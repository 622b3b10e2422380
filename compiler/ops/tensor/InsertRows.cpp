//===- InsertRows.cpp - Write a band of rows into a tensor -----------------===//
//
// InsertRows(band, dst?){axis, start, size} -> y
//   y is dst with the slices start .. start + band_dim - 1 along `axis`
//   replaced by band's; without dst, the result has `size` slices along
//   the axis and the ones outside the band are unspecified (the
//   interpreter gives zeros). Every other dim is band's (and dst's).
//
// The stream pass (passes/Stream.cpp) builds a tensor band by band with a
// chain of them, each writing over the last one's result (OpFlagInPlace:
// the memory plan gives the whole chain one buffer), so a layer's output is
// complete without its input ever being whole. A quantized band and dst
// share their type's quantization; the bytes move unchanged.
//
// Lowers to mote_rt::insert_rows<T>(InsertRowsP, band, dst, y) (tensor.h):
// [Outer, Rows, Inner] views of y and band, dst copied first unless it is
// y itself (in place) or absent.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/OpUtils.h"
#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>
#include <cstring>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The axis, normalised, or an error.
Expected<int64_t> insertAxis(const Node &N, int64_t Rank) {
  int64_t A = N.attrs().getInt("axis", 2);
  std::optional<int64_t> Axis = normalizeAxis(A, Rank);
  if (!Axis)
    return opError(fmt::format("axis {} is out of range for rank {}", A, Rank));
  return *Axis;
}

Expected<TypeList> inferInsertRows(const Node &N) {
  const TensorType &Band = N.inType(0);
  Expected<int64_t> Axis = insertAxis(N, int64_t(Band.rank()));
  if (!Axis)
    return Axis.takeError();
  if (Band.isQuantized() && Band.Quant->perAxis() &&
      Band.Quant->Axis == *Axis)
    return opError(fmt::format("the band {} is quantized along axis {}, the "
                               "axis rows are inserted along",
                               Band.str(), *Axis));
  TensorType Y = Band;
  if (const Value *D = N.input(1)) {
    Y = D->type();
    Shape Want = Y.Dims;
    Want[size_t(*Axis)] = Band.Dims[size_t(*Axis)];
    TensorType B = Y;
    B.Dims = Want;
    if (B != Band)
      return opError(fmt::format("the band {} does not match the tensor {} "
                                 "outside axis {}",
                                 Band.str(), Y.str(), *Axis));
  } else {
    if (!N.attrs().has("size"))
      return opError("size (the result's extent along the axis) is required "
                     "without a tensor to insert into");
    Y.Dims[size_t(*Axis)] = N.attrs().getInt("size", 0);
  }
  int64_t Start = N.attrs().getInt("start", 0);
  int64_t Size = Y.Dims[size_t(*Axis)], Rows = Band.Dims[size_t(*Axis)];
  if (N.attrs().has("size") && N.attrs().getInt("size", 0) != Size)
    return opError(fmt::format("size {} differs from the tensor's {} along "
                               "axis {}",
                               N.attrs().getInt("size", 0), Size, *Axis));
  if (Start < 0 || Rows > Size || Start > Size - Rows)
    return opError(fmt::format("rows {} .. {} are outside the {} along axis "
                               "{}",
                               Start, Start + Rows - 1, Size, *Axis));
  return TypeList{Y};
}

/// [Outer, Rows, Inner] of a tensor of dims \p D split at \p Axis.
struct Split3 {
  int64_t Outer, Rows, Inner;
};
Split3 split3(const Shape &D, int64_t Axis) {
  return {productOf(D, 0, size_t(Axis)), D[size_t(Axis)],
          productOf(D, size_t(Axis) + 1, D.size())};
}

Status kernelInsertRows(const Node &N, std::span<const Tensor *const> In,
                        std::span<Tensor> Out) {
  const Tensor &Band = *In[0];
  Tensor &Y = Out[0];
  Expected<int64_t> Axis = insertAxis(N, int64_t(Band.shape().size()));
  if (!Axis)
    return Axis.takeError();
  size_t Elem = dtypeSize(Y.dtype());
  auto *YB = reinterpret_cast<unsigned char *>(Y.raw());
  if (In.size() > 1 && In[1])
    std::memcpy(YB, In[1]->raw(), size_t(Y.type().bytes()));
  else
    std::memset(YB, 0, size_t(Y.type().bytes()));
  Split3 Y3 = split3(Y.shape(), *Axis), B3 = split3(Band.shape(), *Axis);
  int64_t Start = N.attrs().getInt("start", 0);
  const auto *BB = reinterpret_cast<const unsigned char *>(Band.raw());
  size_t Run = size_t(B3.Rows * B3.Inner) * Elem;
  for (int64_t O = 0; O < Y3.Outer; ++O)
    if (Run)
      std::memcpy(YB + size_t((O * Y3.Rows + Start) * Y3.Inner) * Elem,
                  BB + size_t(O * B3.Rows * B3.Inner) * Elem, Run);
  return ok();
}

/// InsertRowsP{outer, rows of y, rows of the band, start, inner}.
Status lowerInsertRows(const Node &N, KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S;
  Expected<int64_t> Axis = insertAxis(N, int64_t(N.inType(0).rank()));
  if (!Axis)
    return Axis.takeError();
  Split3 Y3 = split3(N.outType(0).Dims, *Axis);
  C.Header = "mote_rt/tensor.h";
  C.Kernel = "insert_rows";
  C.TypeArgs = {N.outType(0).Elem};
  C.setParams(kparams::InsertRowsP{.Outer = Y3.Outer,
                                   .Rows = Y3.Rows,
                                   .BandRows = N.inType(0).Dims[size_t(*Axis)],
                                   .Start = N.attrs().getInt("start", 0),
                                   .Inner = Y3.Inner});
  return ok();
}

constexpr AttrSpec InsertRowsAttrs[] = {{"axis", AttrKind::Int},
                                        {"size", AttrKind::Int},
                                        {"start", AttrKind::Int, true}};

} // namespace

extern const OpDef OpDef_InsertRows = {
    .Name = "InsertRows",
    .MinInputs = 1,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = InsertRowsAttrs,
    .Infer = inferInsertRows,
    .Kernel = kernelInsertRows,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagDataMovement | OpFlagInPlace | OpFlagNotDifferentiable |
             OpFlagQuantAware,
    .Summary = "dst with the slices start.. along `axis` replaced by band's "
               "(the stream pass's band-by-band result)",
    .Lower = lowerInsertRows,
};

} // namespace mote
