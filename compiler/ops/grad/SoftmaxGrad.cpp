//===- SoftmaxGrad.cpp - Backward ops of Softmax and LogSoftmax -----------===//
//
// Both take the gradient dY of the result and the result Y itself (cheaper
// than recomputing it from X) and work along the forward op's `axis`, every
// other dim indexing an independent vector:
//
//   SoftmaxGrad(dY, Y)     dX = Y * (dY - sum_axis(dY * Y))
//                          (Jacobian of softmax: diag(y) - y y^T)
//   LogSoftmaxGrad(dY, Y)  dX = dY - exp(Y) * sum_axis(dY)
//                          (Jacobian of log-softmax: I - 1 softmax(x)^T,
//                          softmax(x) = exp(Y))
//
// The kernels accumulate in double.
//
// Lowering: mote_rt::softmax_grad<T> / log_softmax_grad<T>(SoftmaxP, dy, y,
// dx) (runtime-stub/mote_rt/softmax.h).
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <cmath>

namespace mote {
namespace {

Expected<std::vector<TensorType>> inferSoftmaxGrad(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1}); !S)
    return S.takeError();
  const TensorType &DY = N.inType(0);
  if (N.inType(1) != DY)
    return opError(fmt::format("the gradient is {} but the saved result is "
                               "{}",
                               DY.str(), N.inType(1).str()));
  int64_t Axis = N.attrs().getInt("axis", -1);
  if (!normalizeAxis(Axis, int64_t(DY.rank())))
    return opError(fmt::format("axis {} is out of range for input {} of rank "
                               "{}",
                               Axis, shapeStr(DY.Dims), DY.rank()));
  return std::vector<TensorType>{DY};
}

template <class E>
void softmaxGradImpl(bool Log, int64_t Axis, const Tensor &DY, const Tensor &Y,
                     Tensor &DX) {
  const Shape &S = DY.shape();
  int64_t Outer = productOf(S, 0, size_t(Axis));
  int64_t D = S[size_t(Axis)];
  int64_t Inner = productOf(S, size_t(Axis) + 1, S.size());
  auto PDY = DY.data<E>();
  auto PY = Y.data<E>();
  auto PDX = DX.data<E>();
  for (int64_t O = 0; O < Outer; ++O) {
    for (int64_t I = 0; I < Inner; ++I) {
      int64_t Base = O * D * Inner + I;
      auto At = [&](int64_t J) { return size_t(Base + J * Inner); };
      double Sum = 0;
      for (int64_t J = 0; J < D; ++J)
        Sum +=
            Log ? double(PDY[At(J)]) : double(PDY[At(J)]) * double(PY[At(J)]);
      for (int64_t J = 0; J < D; ++J) {
        double G = double(PDY[At(J)]), V = double(PY[At(J)]);
        PDX[At(J)] = Log ? E(G - std::exp(V) * Sum) : E(V * (G - Sum));
      }
    }
  }
}

Status kernelSoftmaxGrad(const Node &N, std::span<const Tensor *const> In,
                         std::span<Tensor> Out) {
  std::optional<int64_t> Axis = normalizeAxis(N.attrs().getInt("axis", -1),
                                              int64_t(In[0]->shape().size()));
  if (!Axis)
    return opError("axis is out of range");
  bool Log = N.op() == OpKind::LogSoftmaxGrad;
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    softmaxGradImpl<E>(Log, *Axis, *In[0], *In[1], Out[0]);
    return ok();
  });
}

constexpr AttrSpec SoftmaxGradAttrs[] = {{"axis", AttrKind::Int}};

Status lowerSoftmaxGrad(const Node &N, KernelCall &C) {
  C.Kernel =
      N.op() == OpKind::LogSoftmaxGrad ? "log_softmax_grad" : "softmax_grad";
  return lowerSoftmaxFamily(N, C);
}

} // namespace

extern const OpDef OpDef_SoftmaxGrad = {
    .Name = "SoftmaxGrad",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SoftmaxGradAttrs,
    .Infer = inferSoftmaxGrad,
    .Kernel = kernelSoftmaxGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "Y * (dY - sum_axis(dY * Y)), from the Softmax result Y",
    .Lower = lowerSoftmaxGrad,
};

extern const OpDef OpDef_LogSoftmaxGrad = {
    .Name = "LogSoftmaxGrad",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SoftmaxGradAttrs,
    .Infer = inferSoftmaxGrad,
    .Kernel = kernelSoftmaxGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "dY - exp(Y) * sum_axis(dY), from the LogSoftmax result Y",
    .Lower = lowerSoftmaxGrad,
};

} // namespace mote
