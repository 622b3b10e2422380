//===- PoolGrad.cpp - Backward ops of MaxPool and AveragePool -------------===//
//
// Both carry the forward op's attributes and see its window geometry
// (poolGeometry, NnUtils.h). For each output position p of a channel plane,
// with w(p) the taps of its window that lie inside X:
//
//   MaxPoolGrad(dY, X)
//     dX[t*(p)] += dY[p],   t*(p) = the first t in w(p), in row-major window
//                                   order, with X[t] = max_{w(p)} X
//     (PyTorch's choice among ties; the forward MaxPool's Indices pick the
//     same element, a NaN being the maximum as there).
//
//   AveragePoolGrad(dY){input_shape = X.shape}
//     dX[t] += dY[p] / count(p)   for every t in w(p)
//     count(p) = |w(p)|, or with count_include_pad = 1 the window size
//     clipped to the padded input, exactly the forward divisor.
//
// Overlapping windows accumulate; taps in the padding receive nothing. The
// kernels accumulate in double.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnLower.h"

#include <limits>

namespace mote {
namespace {

/// Checks that dY (input 0) has the pooled shape of \p X under \p G.
Status checkPoolOutputGrad(const Node &N, const Shape &X,
                           const PoolGeometry &G) {
  Shape Want = {X[0], X[1]};
  Want.insert(Want.end(), G.Win.Out.begin(), G.Win.Out.end());
  if (N.inType(0).Dims != Want)
    return opError(fmt::format("the output gradient dY {} must have the "
                               "shape {} of the pooling result",
                               shapeStr(N.inType(0).Dims), shapeStr(Want)));
  return ok();
}

Expected<PoolGeometry> maxPoolGradGeometry(const Node &N) {
  if (Status S = requireFloatOperands(N, {0, 1}); !S)
    return S.takeError();
  const Shape &X = N.inType(1).Dims;
  Expected<PoolGeometry> G = poolGeometry(N, X, /*IsMax=*/true);
  if (!G)
    return G.takeError();
  if (Status S = checkPoolOutputGrad(N, X, *G); !S)
    return S.takeError();
  return G;
}

Expected<PoolGeometry> averagePoolGradGeometry(const Node &N) {
  if (Status S = requireFloatOperands(N, {0}); !S)
    return S.takeError();
  Shape X = N.attrs().getInts("input_shape");
  if (!TensorType(DType::F32, X).isValid())
    return opError(fmt::format("input_shape {} must have non-negative dims "
                               "and at most {} bytes",
                               shapeStr(X), MaxTensorBytes));
  Expected<PoolGeometry> G = poolGeometry(N, X, /*IsMax=*/false, "input_shape");
  if (!G)
    return G.takeError();
  if (Status S = checkPoolOutputGrad(N, X, *G); !S)
    return S.takeError();
  return G;
}

Expected<std::vector<TensorType>> inferMaxPoolGrad(const Node &N) {
  Expected<PoolGeometry> G = maxPoolGradGeometry(N);
  if (!G)
    return G.takeError();
  return std::vector<TensorType>{N.inType(1)};
}

Expected<std::vector<TensorType>> inferAveragePoolGrad(const Node &N) {
  Expected<PoolGeometry> G = averagePoolGradGeometry(N);
  if (!G)
    return G.takeError();
  return std::vector<TensorType>{
      TensorType(N.inType(0).Elem, N.attrs().getInts("input_shape"))};
}

template <class E>
void maxPoolGradImpl(const PoolGeometry &G, const Tensor &DY, const Tensor &X,
                     Tensor &DX) {
  auto PDY = DY.data<E>();
  auto PX = X.data<E>();
  int64_t InSize = productOf(G.InSpatial, 0, G.InSpatial.size());
  int64_t OutSize = productOf(G.Win.Out, 0, G.Win.rank());
  std::vector<double> Acc(size_t(G.Planes * InSize), 0.0);
  forEachPoolWindow(
      G, false, [&](int64_t P, const std::vector<PoolTap> &Taps, int64_t) {
        for (int64_t Pl = 0; Pl < G.Planes; ++Pl) {
          // The same selection as the forward MaxPool.
          E Best = -std::numeric_limits<E>::infinity();
          int64_t BestOff = -1;
          for (const PoolTap &T : Taps) {
            E V = PX[size_t(Pl * InSize + T.Offset)];
            bool IsNaN = V != V;
            if (V > Best || BestOff < 0 || IsNaN) {
              Best = V;
              BestOff = Pl * InSize + T.Offset;
              if (IsNaN)
                break;
            }
          }
          if (BestOff >= 0)
            Acc[size_t(BestOff)] += double(PDY[size_t(Pl * OutSize + P)]);
        }
      });
  auto PDX = DX.data<E>();
  for (size_t I = 0; I < Acc.size(); ++I)
    PDX[I] = E(Acc[I]);
}

template <class E>
void averagePoolGradImpl(const PoolGeometry &G, bool IncludePad,
                         const Tensor &DY, Tensor &DX) {
  auto PDY = DY.data<E>();
  int64_t InSize = productOf(G.InSpatial, 0, G.InSpatial.size());
  int64_t OutSize = productOf(G.Win.Out, 0, G.Win.rank());
  std::vector<double> Acc(size_t(G.Planes * InSize), 0.0);
  forEachPoolWindow(
      G, false,
      [&](int64_t P, const std::vector<PoolTap> &Taps, int64_t Count) {
        if (Taps.empty())
          return;
        double Div = double(IncludePad ? Count : int64_t(Taps.size()));
        for (int64_t Pl = 0; Pl < G.Planes; ++Pl) {
          double D = double(PDY[size_t(Pl * OutSize + P)]) / Div;
          for (const PoolTap &T : Taps)
            Acc[size_t(Pl * InSize + T.Offset)] += D;
        }
      });
  auto PDX = DX.data<E>();
  for (size_t I = 0; I < Acc.size(); ++I)
    PDX[I] = E(Acc[I]);
}

Status kernelMaxPoolGrad(const Node &N, std::span<const Tensor *const> In,
                         std::span<Tensor> Out) {
  Expected<PoolGeometry> G = maxPoolGradGeometry(N);
  if (!G)
    return G.takeError();
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    maxPoolGradImpl<E>(*G, *In[0], *In[1], Out[0]);
    return ok();
  });
}

Status kernelAveragePoolGrad(const Node &N, std::span<const Tensor *const> In,
                             std::span<Tensor> Out) {
  Expected<PoolGeometry> G = averagePoolGradGeometry(N);
  if (!G)
    return G.takeError();
  bool IncludePad = N.attrs().getInt("count_include_pad", 0) == 1;
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    averagePoolGradImpl<E>(*G, IncludePad, *In[0], Out[0]);
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::max_pool_grad<T>(PoolP, dY, X, dX) and
// avg_pool_grad<T>(PoolP, dY, dX) (pool.h).
//===----------------------------------------------------------------------===//

Status lowerMaxPoolGrad(const Node &N, KernelCall &C) {
  Expected<PoolGeometry> G = maxPoolGradGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/pool.h";
  C.Kernel = "max_pool_grad";
  C.TypeArgs = {N.inType(0).Elem};
  return lowerPoolParams(N, *G, C);
}

Status lowerAveragePoolGrad(const Node &N, KernelCall &C) {
  Expected<PoolGeometry> G = averagePoolGradGeometry(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/pool.h";
  C.Kernel = "avg_pool_grad";
  C.TypeArgs = {N.inType(0).Elem};
  return lowerPoolParams(N, *G, C);
}

constexpr AttrSpec MaxPoolGradAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"ceil_mode", AttrKind::Int},
    {"dilations", AttrKind::Ints},
    {"kernel_shape", AttrKind::Ints, /*Required=*/true},
    {"pads", AttrKind::Ints},
    {"storage_order", AttrKind::Int},
    {"strides", AttrKind::Ints},
};

constexpr AttrSpec AveragePoolGradAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"ceil_mode", AttrKind::Int},
    {"count_include_pad", AttrKind::Int},
    {"input_shape", AttrKind::Ints, /*Required=*/true},
    {"kernel_shape", AttrKind::Ints, /*Required=*/true},
    {"pads", AttrKind::Ints},
    {"strides", AttrKind::Ints},
};

} // namespace

extern const OpDef OpDef_MaxPoolGrad = {
    .Name = "MaxPoolGrad",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = MaxPoolGradAttrs,
    .Infer = inferMaxPoolGrad,
    .Kernel = kernelMaxPoolGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "gradient of MaxPool's input from dY and X: each dY goes to "
               "the first maximum of its window",
    .Lower = lowerMaxPoolGrad,
};

extern const OpDef OpDef_AveragePoolGrad = {
    .Name = "AveragePoolGrad",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = AveragePoolGradAttrs,
    .Infer = inferAveragePoolGrad,
    .Kernel = kernelAveragePoolGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "gradient of AveragePool's input from dY: dY / count spread "
               "over each window",
    .Lower = lowerAveragePoolGrad,
};

} // namespace mote
