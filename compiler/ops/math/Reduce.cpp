//===- Reduce.cpp - Sum, mean and max over axes ---------------------------===//
//
// ReduceSum, ReduceMean and ReduceMax combine the elements of x along the
// listed `axes` (negative counts from the back; each axis at most once):
//   - `keepdims` = 1 (default) keeps each reduced dim as a 1-dim, 0 drops it;
//   - with `axes` absent or empty, every dim is reduced, unless
//     `noop_with_empty_axes` = 1, which makes the op the identity.
// They take numeric element types (not bool); the result has the input's
// element type.
//   - sum: floats accumulate in double; integers wrap around in the element
//     type, as fixed-width hardware does (never undefined behaviour);
//   - mean = sum / count: integer means truncate toward zero;
//   - max: a NaN anywhere makes the result NaN (numpy.maximum).
// Reducing an empty set of values (a reduced dim of size 0) gives 0 for sum,
// -inf (floats) or the lowest value (integers) for max, as ONNX specifies
// from opset 18, and NaN for a float mean; an integer mean of nothing is
// rejected.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

enum class ReduceKind { Sum, Mean, Max };

/// Which dims a node reduces.
struct ReducePlan {
  bool Identity = false;     ///< noop_with_empty_axes with no axes
  std::vector<bool> Reduced; ///< per input dim
  bool KeepDims = true;
};

Expected<ReducePlan> reducePlan(const Node &N, const Shape &Dims) {
  const AttrMap &A = N.attrs();
  int64_t KeepDims = A.getInt("keepdims", 1);
  if (KeepDims != 0 && KeepDims != 1)
    return opError(fmt::format("keepdims must be 0 or 1, got {}", KeepDims));
  int64_t Noop = A.getInt("noop_with_empty_axes", 0);
  if (Noop != 0 && Noop != 1)
    return opError(
        fmt::format("noop_with_empty_axes must be 0 or 1, got {}", Noop));
  ReducePlan P;
  P.KeepDims = KeepDims == 1;
  int64_t Rank = int64_t(Dims.size());
  std::vector<int64_t> Axes = A.getInts("axes");
  if (Axes.empty()) {
    P.Identity = Noop == 1;
    P.Reduced.assign(Dims.size(), !P.Identity);
    return P;
  }
  P.Reduced.assign(Dims.size(), false);
  for (int64_t Axis : Axes) {
    std::optional<int64_t> Norm = normalizeAxis(Axis, Rank);
    if (!Norm)
      return opError(fmt::format("axes {} contains axis {}, which is out of "
                                 "range for rank {}",
                                 shapeStr(Axes), Axis, Rank));
    if (P.Reduced[size_t(*Norm)])
      return opError(fmt::format("axes {} names axis {} more than once",
                                 shapeStr(Axes), *Norm));
    P.Reduced[size_t(*Norm)] = true;
  }
  return P;
}

template <ReduceKind K> Expected<TypeList> inferReduce(const Node &N) {
  const TensorType &In = N.inType(0);
  if (In.Elem == DType::Bool)
    return opError("element type bool is not supported; insert a Cast");
  Expected<ReducePlan> P = reducePlan(N, In.Dims);
  if (!P)
    return P.takeError();
  Shape Dims;
  int64_t Count = 1;
  for (size_t D = 0; D < In.rank(); ++D) {
    if (!P->Reduced[D]) {
      Dims.push_back(In.Dims[D]);
      continue;
    }
    Count = In.Dims[D] == 0 ? 0 : Count;
    if (P->KeepDims)
      Dims.push_back(1);
  }
  TensorType Out(In.Elem, Dims);
  if (K == ReduceKind::Mean && !P->Identity && Count == 0 &&
      isInteger(In.Elem) && Out.numElements() > 0)
    return opError(fmt::format("the mean over axes of size 0 of {} is "
                               "undefined for integer type {}",
                               shapeStr(In.Dims), dtypeName(In.Elem)));
  return TypeList{Out};
}

/// Start value of a max: -inf for floats, the lowest value for integers.
template <class E> E maxIdentity() {
  if constexpr (std::numeric_limits<E>::has_infinity)
    return -std::numeric_limits<E>::infinity();
  else
    return std::numeric_limits<E>::lowest();
}

template <class E> bool isNaN(E V) {
  if constexpr (std::is_floating_point_v<E>)
    return std::isnan(V);
  else
    return false;
}

/// Reduces \p X into \p Y. Acc holds one accumulator per result element,
/// Add folds an element into one and Finish turns one into a result element
/// given the number of elements folded into it.
template <class E, class AccT, class AddFn, class FinishFn>
void reduceInto(const Tensor &X, const std::vector<bool> &Reduced, Tensor &Y,
                AccT Init, AddFn Add, FinishFn Finish) {
  const Shape &IS = X.shape();
  // The result as a tensor of the input's rank (reduced dims are 1), read
  // with stride 0 along reduced dims: input element I lands in Acc[offset].
  Shape Kept = IS;
  for (size_t D = 0; D < IS.size(); ++D)
    if (Reduced[D])
      Kept[D] = 1;
  std::vector<int64_t> Strides = broadcastStrides(Kept, IS);
  std::vector<AccT> Acc(size_t(Y.numElements()), Init);
  auto Src = X.data<E>();
  for (int64_t I = 0; I < int64_t(Src.size()); ++I)
    Add(Acc[size_t(offsetFor(I, IS, Strides))], Src[size_t(I)]);
  int64_t Count = Acc.empty() ? 0 : X.numElements() / int64_t(Acc.size());
  auto Dst = Y.data<E>();
  for (size_t I = 0; I < Acc.size(); ++I)
    Dst[I] = Finish(Acc[I], Count);
}

template <ReduceKind K>
Status kernelReduce(const Node &N, std::span<const Tensor *const> In,
                    std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  Expected<ReducePlan> P = reducePlan(N, X.shape());
  if (!P)
    return P.takeError();
  if (P->Identity) {
    assert(X.byteSize() == Y.byteSize() && "identity changes the size");
    std::copy(X.raw(), X.raw() + X.byteSize(), Y.raw());
    return ok();
  }
  return dispatchDType(X.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if constexpr (std::is_same_v<E, bool>) {
      return opError("element type bool is not supported; insert a Cast");
    } else if constexpr (K == ReduceKind::Max) {
      reduceInto<E>(
          X, P->Reduced, Y, maxIdentity<E>(),
          [](E &Acc, E V) {
            // A NaN wins (and, once in Acc, stays: nothing is > NaN).
            if (V > Acc || isNaN(V))
              Acc = V;
          },
          [](E Acc, int64_t) { return Acc; });
      return ok();
    } else if constexpr (std::is_floating_point_v<E>) {
      reduceInto<E>(
          X, P->Reduced, Y, 0.0, [](double &Acc, E V) { Acc += double(V); },
          [](double Acc, int64_t Count) {
            if (K == ReduceKind::Sum)
              return E(Acc);
            if (Count == 0)
              return std::numeric_limits<E>::quiet_NaN();
            return E(Acc / double(Count));
          });
      return ok();
    } else {
      // Integers: accumulate in uint64_t, where overflow wraps; converting
      // back to a narrower or signed type is modular (C++20).
      if (K == ReduceKind::Mean && Y.numElements() > 0 && X.numElements() == 0)
        return opError("the mean of an empty set of integers is undefined");
      reduceInto<E>(
          X, P->Reduced, Y, uint64_t(0),
          [](uint64_t &Acc, E V) { Acc += uint64_t(int64_t(V)); },
          [](uint64_t Acc, int64_t Count) {
            if (K == ReduceKind::Sum)
              return E(Acc);
            return E(int64_t(Acc) / Count);
          });
      return ok();
    }
  });
}

/// d/dx of a sum or mean over axes: the result gradient, reshaped to the
/// keepdims shape and broadcast back over the reduced dims (divided by the
/// element count for the mean). ReduceMax has no rule.
template <ReduceKind K> Status gradReduce(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  const Shape &XD = N.inType(0).Dims;
  Expected<ReducePlan> P = reducePlan(N, XD);
  if (!P)
    return P.takeError();
  if (P->Identity)
    return Ctx.addInputGrad(0, DY);
  Shape Keep = XD;
  int64_t Count = 1;
  for (size_t I = 0; I < XD.size(); ++I)
    if (P->Reduced[I]) {
      Keep[I] = 1;
      Count *= XD[I];
    }
  Value *G = DY;
  if (G->type().Dims != Keep) {
    AttrMap R;
    R.set("shape", Keep);
    Expected<Value *> Rs = Ctx.emit1(OpKind::Reshape, {G}, R);
    if (!Rs)
      return Rs.takeError();
    G = *Rs;
  }
  if (Keep != XD) {
    AttrMap E;
    E.set("shape", XD);
    Expected<Value *> Ex = Ctx.emit1(OpKind::Expand, {G}, E);
    if (!Ex)
      return Ex.takeError();
    G = *Ex;
  }
  if (K == ReduceKind::Mean && Count != 1) {
    Expected<Value *> M =
        Ctx.emit1(OpKind::Mul, {G, scalarLike(Ctx, G, 1.0 / double(Count))});
    if (!M)
      return M.takeError();
    G = *M;
  }
  return Ctx.addInputGrad(0, G);
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::reduce_sum / reduce_mean / reduce_max<T>(ReduceP, x, y)
// (reduce.h). The input's dims are split into kept (outer) and reduced
// (inner) boxes with the input's strides; 1-dims are dropped and neighbours
// of the same kind merged (they are contiguous in a row-major tensor): axes
// {2, 3} of [N, C, H, W] give outer [N*C] (stride H*W) and inner [H*W]
// (stride 1); axes {0, 2} of [A, B, C] give outer [B] (stride C) and inner
// [A, C] (strides B*C, 1).
//===----------------------------------------------------------------------===//

/// One merged dim of the input: its size, stride and kind.
struct BoxDim {
  int64_t Size, Stride;
  bool Reduced;
};

template <ReduceKind K> Status lowerReduce(const Node &N, KernelCall &C) {
  const TensorType &In = N.inType(0);
  if (Status S = requireKernelRank(In); !S)
    return S;
  if (In.numElements() > int64_t(INT32_MAX))
    return opError(fmt::format("{} has more than 2^31 - 1 elements, the "
                               "kernels' 32-bit index limit",
                               In.str()));
  if (In.Elem == DType::Bool)
    return opError("element type bool is not supported; insert a Cast");
  Expected<ReducePlan> P = reducePlan(N, In.Dims);
  if (!P)
    return P.takeError();
  std::vector<int64_t> Strides = stridesOf(In.Dims);
  std::vector<BoxDim> Dims;
  int64_t Count = 1;
  for (size_t D = 0; D < In.rank(); ++D) {
    bool Reduced = !P->Identity && P->Reduced[D];
    if (Reduced)
      Count *= In.Dims[D];
    if (In.Dims[D] == 1)
      continue;
    if (!Dims.empty() && Dims.back().Reduced == Reduced) {
      Dims.back().Size *= In.Dims[D];
      Dims.back().Stride = Strides[D];
      continue;
    }
    Dims.push_back({In.Dims[D], Strides[D], Reduced});
  }
  if (K == ReduceKind::Mean && Count == 0 && isInteger(In.Elem))
    return opError("the mean of an empty set of integers is undefined");
  std::vector<int64_t> OuterDims, OuterStrides, InnerDims, InnerStrides;
  for (const BoxDim &B : Dims) {
    (B.Reduced ? InnerDims : OuterDims).push_back(B.Size);
    (B.Reduced ? InnerStrides : OuterStrides).push_back(B.Stride);
  }
  C.Header = "mote_rt/reduce.h";
  C.Kernel = K == ReduceKind::Sum    ? "reduce_sum"
             : K == ReduceKind::Mean ? "reduce_mean"
                                     : "reduce_max";
  C.TypeArgs = {In.Elem};
  C.setParams(kparams::ReduceP{.OuterRank = int64_t(OuterDims.size()),
                               .OuterDims = OuterDims,
                               .OuterStrides = OuterStrides,
                               .InnerRank = int64_t(InnerDims.size()),
                               .InnerDims = InnerDims,
                               .InnerStrides = InnerStrides,
                               .Count = Count});
  return ok();
}

constexpr AttrSpec ReduceAttrs[] = {{"axes", AttrKind::Ints},
                                    {"keepdims", AttrKind::Int},
                                    {"noop_with_empty_axes", AttrKind::Int}};

/// The definition shared by the three reductions.
template <ReduceKind K>
constexpr OpDef reduceOpDef(std::string_view Name, std::string_view Summary) {
  return {
      .Name = Name,
      .MinInputs = 1,
      .MaxInputs = 1,
      .MinOutputs = 1,
      .MaxOutputs = 1,
      .Attrs = ReduceAttrs,
      .Infer = inferReduce<K>,
      .Kernel = kernelReduce<K>,
      .Macs = nullptr,
      .Grad = K == ReduceKind::Max ? nullptr : gradReduce<K>,
      .Flags = OpFlagNone,
      .Summary = Summary,
      .Lower = lowerReduce<K>,
  };
}

} // namespace

extern const OpDef OpDef_ReduceSum = reduceOpDef<ReduceKind::Sum>(
    "ReduceSum", "sum over `axes` (integers wrap)");
extern const OpDef OpDef_ReduceMean = reduceOpDef<ReduceKind::Mean>(
    "ReduceMean", "mean over `axes` (integers truncate)");
extern const OpDef OpDef_ReduceMax =
    reduceOpDef<ReduceKind::Max>("ReduceMax", "max over `axes`, NaN wins");

} // namespace mote
