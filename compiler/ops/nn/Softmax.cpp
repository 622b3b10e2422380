//===- Softmax.cpp - Softmax and LogSoftmax along one axis ----------------===//
//
// Opset-13 semantics: normalise along the single dim `axis` (default -1),
// every other dim indexes an independent vector x. Both kernels subtract
// max(x) first so exp never overflows, and accumulate in double:
//
//   Softmax(x)_i    = e^(x_i - m) / sum_j e^(x_j - m)
//   LogSoftmax(x)_i = x_i - m - log(sum_j e^(x_j - m)),   m = max_j x_j
//
// (The importer rewrites opset < 13 models, which flatten from `axis` on,
// into this form.)
//
// Lowering: mote_rt::softmax<T> / log_softmax<T>(SoftmaxP, x, y)
// (runtime-stub/mote_rt/softmax.h), the input viewed as [Outer, D, Inner].
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mote {
namespace {

Expected<std::vector<TensorType>> inferSoftmax(const Node &N) {
  if (Status S = requireFloatOperands(N, {0}); !S)
    return S.takeError();
  const Shape &X = N.inType(0).Dims;
  int64_t Axis = N.attrs().getInt("axis", -1);
  if (!normalizeAxis(Axis, int64_t(X.size())))
    return opError(fmt::format("axis {} is out of range for input {} of rank "
                               "{}",
                               Axis, shapeStr(X), X.size()));
  return std::vector<TensorType>{N.inType(0)};
}

template <class E>
void softmaxImpl(bool Log, int64_t Axis, const Tensor &X, Tensor &Y) {
  const Shape &XS = X.shape();
  int64_t Outer = productOf(XS, 0, size_t(Axis));
  int64_t D = XS[size_t(Axis)];
  int64_t Inner = productOf(XS, size_t(Axis) + 1, XS.size());
  auto PX = X.data<E>();
  auto PY = Y.data<E>();
  for (int64_t O = 0; O < Outer; ++O) {
    for (int64_t I = 0; I < Inner; ++I) {
      int64_t Base = O * D * Inner + I;
      auto At = [&](int64_t J) { return size_t(Base + J * Inner); };
      double Max = -std::numeric_limits<double>::infinity();
      for (int64_t J = 0; J < D; ++J)
        Max = std::max(Max, double(PX[At(J)]));
      double Sum = 0;
      for (int64_t J = 0; J < D; ++J)
        Sum += std::exp(double(PX[At(J)]) - Max);
      double LogSum = std::log(Sum);
      for (int64_t J = 0; J < D; ++J) {
        double Shifted = double(PX[At(J)]) - Max;
        PY[At(J)] = Log ? E(Shifted - LogSum) : E(std::exp(Shifted) / Sum);
      }
    }
  }
}

Status kernelSoftmax(const Node &N, std::span<const Tensor *const> In,
                     std::span<Tensor> Out) {
  std::optional<int64_t> Axis = normalizeAxis(N.attrs().getInt("axis", -1),
                                              int64_t(In[0]->shape().size()));
  if (!Axis)
    return opError("axis is out of range");
  bool Log = N.op() == OpKind::LogSoftmax;
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    softmaxImpl<E>(Log, *Axis, *In[0], Out[0]);
    return ok();
  });
}

// Gradient rules, from the result y (grad/SoftmaxGrad.cpp):
//   Softmax:    dX = SoftmaxGrad(dY, Y)    = y (dY - sum_axis(dY y))
//   LogSoftmax: dX = LogSoftmaxGrad(dY, Y) = dY - exp(y) sum_axis(dY)
template <OpKind GradOp> Status gradSoftmax(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX = Ctx.emit1(GradOp, {DY, N.output(0)}, N.attrs());
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

constexpr AttrSpec SoftmaxAttrs[] = {{"axis", AttrKind::Int}};

Status lowerSoftmax(const Node &N, KernelCall &C) {
  C.Kernel = N.op() == OpKind::LogSoftmax ? "log_softmax" : "softmax";
  return lowerSoftmaxFamily(N, C);
}

} // namespace

extern const OpDef OpDef_Softmax = {
    .Name = "Softmax",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SoftmaxAttrs,
    .Infer = inferSoftmax,
    .Kernel = kernelSoftmax,
    .Macs = nullptr,
    .Grad = gradSoftmax<OpKind::SoftmaxGrad>,
    .Flags = OpFlagNone,
    .Summary = "e^x / sum(e^x) along axis",
    .Lower = lowerSoftmax,
};

extern const OpDef OpDef_LogSoftmax = {
    .Name = "LogSoftmax",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SoftmaxAttrs,
    .Infer = inferSoftmax,
    .Kernel = kernelSoftmax,
    .Macs = nullptr,
    .Grad = gradSoftmax<OpKind::LogSoftmaxGrad>,
    .Flags = OpFlagNone,
    .Summary = "x - log(sum(e^x)) along axis",
    .Lower = lowerSoftmax,
};

} // namespace mote
