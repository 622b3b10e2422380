//===- NnLower.cpp - Lowering helpers of the neural-network ops -----------===//
//
// Parameter fields of the windowed kernels (mote_rt/conv.h, conv_grad.h and
// pool.h; geometry as in mote_rt/window.h) and of the layer-norm kernels
// (mote_rt/norm.h), and the size checks every nn lowering makes.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnLower.h"

#include <algorithm>
#include <limits>

namespace mote {
namespace {

/// Largest value the int32_t index arithmetic of a kernel may reach.
constexpr int64_t Int32Limit = std::numeric_limits<int32_t>::max();

/// Spatial dims of the windowed kernels (mote_rt::WindowRank).
constexpr size_t KernelSpatialRank = 3;

/// A Window as the three spatial dims [D, H, W] the windowed kernels loop
/// over: 1-D and 2-D windows get leading dims of size 1 with kernel 1,
/// stride 1 and no padding.
struct KernelWindow {
  Shape In, Out, Kernel, Strides, Dilations, PadBegin, PadEnd;
  /// Output positions [InteriorBegin, InteriorEnd) have their whole window
  /// inside the input.
  Shape InteriorBegin, InteriorEnd;
};

Expected<KernelWindow> kernelWindow(const Shape &InSpatial, const Window &Win) {
  size_t R = Win.rank();
  if (R > KernelSpatialRank)
    return opError(fmt::format("{} spatial dims are not supported by the "
                               "kernels; at most {} (1-D, 2-D and 3-D "
                               "windows) are",
                               R, KernelSpatialRank));
  KernelWindow K;
  size_t SR = KernelSpatialRank;
  K.In = K.Out = K.Kernel = K.Strides = K.Dilations = K.InteriorEnd =
      Shape(SR, 1);
  K.PadBegin = K.PadEnd = K.InteriorBegin = Shape(SR, 0);
  size_t Lead = SR - R;
  for (size_t I = 0; I < R; ++I) {
    int64_t In = InSpatial[I], Out = Win.Out[I], S = Win.Strides[I];
    int64_t PB = Win.PadBegin[I], PE = Win.PadEnd[I];
    for (int64_t V : {In, Out, S, Win.Dilations[I], PB, PE, Win.extent(I)})
      if (V > Int32Limit)
        return opError(fmt::format("the window along spatial dim {} exceeds "
                                   "the 32-bit index range of the kernels",
                                   I));
    // Input positions reach from -PB to (Out - 1) S + extent - PB.
    if (Out * S + Win.extent(I) + PB + PE + In > Int32Limit)
      return opError(fmt::format("the window along spatial dim {} exceeds "
                                 "the 32-bit index range of the kernels",
                                 I));
    size_t D = Lead + I;
    K.In[D] = In;
    K.Out[D] = Out;
    K.Kernel[D] = Win.Kernel[I];
    K.Strides[D] = S;
    K.Dilations[D] = Win.Dilations[I];
    K.PadBegin[D] = PB;
    K.PadEnd[D] = PE;
    // Output o has its whole window inside iff o s - PB >= 0 and
    // o s - PB + extent <= In.
    int64_t Begin = std::min((PB + S - 1) / S, Out);
    int64_t Last = In - Win.extent(I) + PB;
    int64_t End = Last < 0 ? 0 : std::min(Last / S + 1, Out);
    K.InteriorBegin[D] = Begin;
    K.InteriorEnd[D] = std::max(End, Begin);
  }
  return K;
}

} // namespace

Status requireKernelSizes(const Node &N) {
  auto Check = [](const TensorType &T, std::string_view What,
                  size_t I) -> Status {
    if (Status S = requireKernelRank(T); !S)
      return S;
    if (T.numElements() > Int32Limit)
      return opError(fmt::format("{} {} {} has more than 2^31 - 1 elements, "
                                 "the kernels' 32-bit index limit",
                                 What, I, T.str()));
    return ok();
  };
  for (size_t I = 0; I < N.numInputs(); ++I)
    if (N.input(I))
      if (Status S = Check(N.inType(I), "input", I); !S)
        return S;
  for (size_t I = 0; I < N.numOutputs(); ++I)
    if (Status S = Check(N.outType(I), "result", I); !S)
      return S;
  return ok();
}

kparams::ActivationP activationParams(const FusedActivation &A) {
  return {.HasMin = A.HasMin,
          .HasMax = A.HasMax,
          .Min = A.Min,
          .Max = A.Max,
          .HardSwish = A.HardSwish};
}

Expected<kparams::ConvP> convParams(const ConvGeometry &G, int64_t Channels,
                                    const ConvEpilogue &E) {
  Expected<KernelWindow> K = kernelWindow(G.InSpatial, G.Win);
  if (!K)
    return K.takeError();
  return kparams::ConvP{
      .Batch = G.Batch,
      .C = G.C,
      .M = G.M,
      .Group = G.Group,
      .CPerGroup = G.cPerGroup(),
      .MPerGroup = G.mPerGroup(),
      .Channels = Channels,
      .In = K->In,
      .Out = K->Out,
      .Kernel = K->Kernel,
      .Strides = K->Strides,
      .Dilations = K->Dilations,
      .PadBegin = K->PadBegin,
      .Act = activationParams(E.Act),
      .Update = updateStepParams(E.Kind, E.Update ? *E.Update : AttrMap())};
}

Status lowerConvParams(const ConvGeometry &G, int64_t Channels, KernelCall &C,
                       const ConvEpilogue &E) {
  Expected<kparams::ConvP> P = convParams(G, Channels, E);
  if (!P)
    return P.takeError();
  C.setParams(std::move(*P));
  return ok();
}

Status lowerPoolParams(const Node &N, const PoolGeometry &G, KernelCall &C) {
  Expected<kparams::PoolP> P = poolParams(N, G);
  if (!P)
    return P.takeError();
  C.setParams(std::move(*P));
  return ok();
}

Expected<kparams::PoolP> poolParams(const Node &N, const PoolGeometry &G) {
  Expected<KernelWindow> K = kernelWindow(G.InSpatial, G.Win);
  if (!K)
    return K.takeError();
  // Strides of MaxPool's Indices over the spatial dims: row-major, or
  // column-major with storage_order = 1.
  size_t R = G.InSpatial.size();
  Shape IndexStrides(KernelSpatialRank, 0);
  bool ColMajor = N.attrs().getInt("storage_order", 0) == 1;
  std::vector<int64_t> RowMajor = stridesOf(G.InSpatial);
  for (size_t I = 0; I < R; ++I)
    IndexStrides[KernelSpatialRank - R + I] =
        ColMajor ? productOf(G.InSpatial, 0, I) : RowMajor[I];
  return kparams::PoolP{
      .Planes = G.Planes,
      .CountIncludePad = N.attrs().getInt("count_include_pad", 0),
      .In = K->In,
      .Out = K->Out,
      .Kernel = K->Kernel,
      .Strides = K->Strides,
      .Dilations = K->Dilations,
      .PadBegin = K->PadBegin,
      .PadEnd = K->PadEnd,
      .InteriorBegin = K->InteriorBegin,
      .InteriorEnd = K->InteriorEnd,
      .IndexStrides = IndexStrides};
}

void collapseDims(Shape &Dims, std::initializer_list<Shape *> Strides) {
  Shape OutDims;
  std::vector<Shape> OutStrides(Strides.size());
  for (size_t I = 0; I < Dims.size(); ++I) {
    if (Dims[I] == 1)
      continue;
    bool Merge = !OutDims.empty();
    size_t K = 0;
    for (const Shape *S : Strides)
      Merge = Merge && OutStrides[K++].back() == (*S)[I] * Dims[I];
    if (Merge) {
      OutDims.back() *= Dims[I];
      K = 0;
      for (const Shape *S : Strides)
        OutStrides[K++].back() = (*S)[I];
      continue;
    }
    OutDims.push_back(Dims[I]);
    K = 0;
    for (const Shape *S : Strides)
      OutStrides[K++].push_back((*S)[I]);
  }
  Dims = std::move(OutDims);
  size_t K = 0;
  for (Shape *S : Strides)
    *S = std::move(OutStrides[K++]);
}

LayerNormRows layerNormRows(const Shape &X, int64_t Axis,
                            const Shape &ScaleDims, const Shape *BiasDims) {
  Shape Norm(X.begin() + Axis, X.end());
  LayerNormRows R;
  R.ScaleStrides = broadcastStrides(ScaleDims, Norm);
  R.BiasStrides =
      BiasDims ? broadcastStrides(*BiasDims, Norm) : Shape(Norm.size(), 0);
  R.Dims = Norm;
  collapseDims(R.Dims, {&R.ScaleStrides, &R.BiasStrides});
  R.Rows = productOf(X, 0, size_t(Axis));
  R.D = productOf(Norm, 0, Norm.size());
  return R;
}

void lowerBatchNormParams(const Node &N, const Shape &X, std::string Kernel,
                          KernelCall &C) {
  C.Header = "mote_rt/norm.h";
  C.Kernel = std::move(Kernel);
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(kparams::BatchNormP{
      .Batch = X[0],
      .C = X[1],
      .Inner = productOf(X, 2, X.size()),
      .Epsilon = N.attrs().getFloat("epsilon", 1e-5f)});
}

kparams::MatMulP matMulParams(const MatMulGeometry &G) {
  Shape Batch = G.Batch;
  Shape SA = broadcastStrides(G.ABatch, Batch);
  Shape SB = broadcastStrides(G.BBatch, Batch);
  for (int64_t &S : SA)
    S *= G.M * G.K;
  for (int64_t &S : SB)
    S *= G.K * G.N;
  int64_t M = G.M;
  if (G.ABatch == Batch && productOf(G.BBatch, 0, G.BBatch.size()) == 1) {
    // Consecutive matrices of A against one B: one [batch * M, K] matrix.
    M *= productOf(Batch, 0, Batch.size());
    Batch.clear();
    SA.clear();
    SB.clear();
  }
  collapseDims(Batch, {&SA, &SB});
  return kparams::MatMulP{.Rank = int64_t(Batch.size()),
                          .Dims = Batch,
                          .SA = SA,
                          .SB = SB,
                          .M = M,
                          .N = G.N,
                          .K = G.K};
}

} // namespace mote
