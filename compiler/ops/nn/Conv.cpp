//===- Conv.cpp - N-D grouped convolution ---------------------------------===//
//
// Conv over any number of spatial dims (1-D, 2-D, 3-D, ...), with groups
// (depthwise convolution is group = C), strides, dilations, explicit or
// automatic padding and an optional bias. The reference kernel loops over
// output positions, gathers the kernel taps that fall inside the input once
// per position and accumulates in double.
//
// With X [N, C, D1..Dk], W [M, C/G, K1..Kk], B [M] and g = m / (M/G):
//
//   Y[n, m, o] = B[m] + sum_{c < C/G} sum_{k}
//                X[n, g C/G + c, o * s - pb + k * d] * W[m, c, k]
//
// where X reads as 0 in the padding and the output spatial dims are those of
// resolveWindow (NnUtils.h). The fuse pass may fold a following Relu, Clip
// or HardSwish into the node (attribute `activation`, see FusedActivation):
// it is then applied to Y after the sum. A fused node has no gradient rule: fuse runs after
// autodiff.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnLower.h"

namespace mote {
namespace {

/// Geometry of a Conv node, checked with its operands.
Expected<ConvGeometry> checkConv(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1, 2}); !S)
    return S.takeError();
  Expected<ConvGeometry> G =
      convGeometry(N, N.inType(0).Dims, N.inType(1).Dims);
  if (!G)
    return G.takeError();
  if (const Value *B = N.input(2); B && B->type().Dims != Shape{G->M})
    return opError(fmt::format("bias B {} must have shape [{}], one value per "
                               "output channel",
                               shapeStr(B->type().Dims), G->M));
  return G;
}

Expected<std::vector<TensorType>> inferConv(const Node &N) {
  Expected<ConvGeometry> G = checkConv(N);
  if (!G)
    return G.takeError();
  if (Expected<FusedActivation> A = fusedActivation(N); !A)
    return A.takeError();
  Shape Out = {G->Batch, G->M};
  Out.insert(Out.end(), G->Win.Out.begin(), G->Win.Out.end());
  return std::vector<TensorType>{TensorType(N.inType(0).Elem, Out)};
}

template <class E>
void convImpl(const ConvGeometry &G, const Tensor &X, const Tensor &W,
              const Tensor *B, Tensor &Y) {
  auto PX = X.data<E>();
  auto PW = W.data<E>();
  auto PY = Y.data<E>();
  // Each output's terms come one after another, so summing them into Acc
  // in this order is the same as a running sum per output.
  int64_t OutPlane = Y.numElements() / std::max<int64_t>(G.Batch * G.M, 1);
  std::vector<double> Acc(PY.size(), 0.0);
  if (B)
    for (size_t I = 0; I < Acc.size(); ++I)
      Acc[I] = double(B->data<E>()[size_t((int64_t(I) / OutPlane) % G.M)]);
  forEachConvTerm(G, G.M, [&](int64_t YOff, int64_t XOff, int64_t WOff) {
    Acc[size_t(YOff)] += double(PX[size_t(XOff)]) * double(PW[size_t(WOff)]);
  });
  for (size_t I = 0; I < Acc.size(); ++I)
    PY[I] = E(Acc[I]);
}

Status kernelConv(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  Expected<ConvGeometry> G = checkConv(N);
  if (!G)
    return G.takeError();
  Expected<FusedActivation> A = fusedActivation(N);
  if (!A)
    return A.takeError();
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    convImpl<E>(*G, *In[0], *In[1], In.size() > 2 ? In[2] : nullptr, Out[0]);
    applyFusedActivation(*A, Out[0]);
    return ok();
  });
}

// MACs = N * M * prod(out spatial) * (C / group) * prod(kernel).
int64_t macsConv(const Node &N) {
  Expected<ConvGeometry> G = checkConv(N);
  if (!G)
    return 0;
  size_t R = G->Win.rank();
  return G->Batch * G->M * productOf(G->Win.Out, 0, R) * (G->C / G->Group) *
         productOf(G->Win.Kernel, 0, R);
}

// Gradient rule. With the backward ops of grad/ConvGrad.cpp:
//   dX = ConvGradInput(dY, W){Conv's attributes, input_shape = X.shape}
//   dW = ConvGradWeight(X, dY){Conv's attributes, weight_shape = W.shape}
//   dB[m] = sum_{n, o} dY[n, m, o]  (ReduceSum over every dim but 1)
Status gradConv(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  if (N.attrs().has("activation"))
    return opError("a Conv with a fused activation has no gradient rule; "
                   "run the fuse pass after autodiff");
  if (Ctx.needsGrad(0)) {
    AttrMap A = N.attrs();
    A.set("input_shape", N.inType(0).Dims);
    Expected<Value *> DX =
        Ctx.emit1(OpKind::ConvGradInput, {DY, N.input(1)}, std::move(A));
    if (!DX)
      return DX.takeError();
    if (Status S = Ctx.addInputGrad(0, *DX); !S)
      return S;
  }
  if (Ctx.needsGrad(1)) {
    AttrMap A = N.attrs();
    A.set("weight_shape", N.inType(1).Dims);
    Expected<Value *> DW =
        Ctx.emit1(OpKind::ConvGradWeight, {N.input(0), DY}, std::move(A));
    if (!DW)
      return DW.takeError();
    if (Status S = Ctx.addInputGrad(1, *DW); !S)
      return S;
  }
  if (Ctx.needsGrad(2)) {
    std::vector<int64_t> Axes;
    for (size_t D = 0; D < DY->type().rank(); ++D)
      if (D != 1)
        Axes.push_back(int64_t(D));
    AttrMap A;
    A.set("axes", Axes);
    A.set("keepdims", int64_t(0));
    Expected<Value *> DB = Ctx.emit1(OpKind::ReduceSum, {DY}, std::move(A));
    if (!DB)
      return DB.takeError();
    if (Status S = Ctx.addInputGrad(2, *DB); !S)
      return S;
  }
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::conv / conv_depthwise / conv_pointwise<T>(ConvP, X, W,
// B, Y) (conv.h). A 1x1 kernel with stride 1 and no padding is a matrix
// product per image and group; one input channel per group (depthwise) needs
// no channel loop; everything else takes the general kernel.
//===----------------------------------------------------------------------===//

Status lowerConv(const Node &N, KernelCall &C) {
  Expected<ConvGeometry> G = checkConv(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/conv.h";
  C.Kernel = isPointwise(*G)       ? "conv_pointwise"
             : G->cPerGroup() == 1 ? "conv_depthwise"
                                   : "conv";
  C.TypeArgs = {N.inType(0).Elem};
  Expected<FusedActivation> A = fusedActivation(N);
  if (!A)
    return A.takeError();
  return lowerConvParams(*G, G->M, C, {.Act = *A});
}

constexpr AttrSpec ConvAttrs[] = {
    {"auto_pad", AttrKind::String}, {"dilations", AttrKind::Ints},
    {"group", AttrKind::Int},       {"kernel_shape", AttrKind::Ints},
    {"pads", AttrKind::Ints},       {"strides", AttrKind::Ints},
    FusedActivationAttrs[0],        FusedActivationAttrs[1],
    FusedActivationAttrs[2],
};

} // namespace

extern const OpDef OpDef_Conv = {
    .Name = "Conv",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ConvAttrs,
    .Infer = inferConv,
    .Kernel = kernelConv,
    .Macs = macsConv,
    .Grad = gradConv,
    .Flags = OpFlagNone,
    .Summary = "N-D grouped convolution of X [N, C, D...] with W [M, C/group, "
               "K...] plus bias B [M]",
    .Lower = lowerConv,
};

} // namespace mote
