//===- Expand.cpp - Broadcast a tensor to a larger shape ------------------===//
//
// expand(x, shape) = x broadcast against `shape` with numpy rules, i.e. the
// value of numpy `x * ones(shape)`: dims are right-aligned, each pair must be
// equal or contain a 1, and the result takes the larger of each pair. As in
// ONNX, the result can be smaller than `shape` where `shape` has 1s (or fewer
// dims) and x does not. `shape` is an attribute here (ONNX passes it as a
// constant input; the importer converts it). Lowers to
// mote_rt::strided_copy<T> (tensor.h) with stride 0 along broadcast dims.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

Expected<TypeList> inferExpand(const Node &N) {
  const TensorType &In = N.inType(0);
  Shape Target = N.attrs().getInts("shape");
  for (int64_t D : Target)
    if (D < 0)
      return opError(
          fmt::format("shape {} has a negative dim", shapeStr(Target)));
  std::optional<Shape> Out = broadcastShapes(In.Dims, Target);
  if (!Out)
    return opError(fmt::format("cannot expand {} to shape {}: dims must be "
                               "equal or 1",
                               shapeStr(In.Dims), shapeStr(Target)));
  return TypeList{TensorType(In.Elem, *Out)};
}

Status kernelExpand(const Node &, std::span<const Tensor *const> In,
                    std::span<Tensor> Out) {
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  const Shape &OS = Y.shape();
  assert(broadcastShapes(X.shape(), OS) == OS && "result is not a broadcast");
  std::vector<int64_t> Strides = broadcastStrides(X.shape(), OS);
  return dispatchDType(X.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto Src = X.data<E>();
    auto Dst = Y.data<E>();
    for (int64_t I = 0; I < int64_t(Dst.size()); ++I)
      Dst[size_t(I)] = Src[size_t(offsetFor(I, OS, Strides))];
    return ok();
  });
}

constexpr AttrSpec ExpandAttrs[] = {{"shape", AttrKind::Ints, true}};

/// The gradient of a broadcast is its sum back to the input's shape.
Status gradExpand(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX = Ctx.sumToShape(DY, N.inType(0).Dims);
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

/// mote_rt::strided_copy<T>(StridedP, x, y): the input read with its
/// broadcast strides.
Status lowerExpand(const Node &N, KernelCall &C) {
  const Shape &Out = N.outType(0).Dims;
  return lowerStridedCopy(N, Out, broadcastStrides(N.inType(0).Dims, Out), 0,
                          C);
}

} // namespace

extern const OpDef OpDef_Expand = {
    .Name = "Expand",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ExpandAttrs,
    .Infer = inferExpand,
    .Kernel = kernelExpand,
    .Macs = nullptr,
    .Grad = gradExpand,
    .Flags = OpFlagDataMovement,
    .Summary = "x broadcast with numpy rules against `shape`",
    .Lower = lowerExpand,
};

} // namespace mote
