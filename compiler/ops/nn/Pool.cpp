//===- Pool.cpp - Average and max pooling ---------------------------------===//
//
// AveragePool and MaxPool slide kernel_shape over the spatial dims of
// X [N, C, D1..Dk] (any k) with the window geometry of resolveWindow
// (NnUtils.h); GlobalAveragePool averages each whole channel plane.
// For a window w (the taps o * s - pb + k * d, d = 1 for AveragePool):
//
//   MaxPool:     Y = max_{t in w, t inside X} X[t]
//   AveragePool: Y = sum_{t in w, t inside X} X[t] / count
//   GlobalAveragePool: Y[n, c, 1, ..] = mean over D1..Dk of X[n, c]
//
// where count is the number of taps inside X, or with count_include_pad = 1
// the window size clipped to the padded input (taps beyond the end padding,
// which ceil_mode can add, are not counted). MaxPool's optional Indices
// result holds, for each maximum, the index of the input element in X
// flattened row-major (storage_order = 0) or with the spatial dims flattened
// column-major (storage_order = 1): ((n C + c) prod(D) + spatial index).
// The first maximum in row-major window order wins; a NaN in the window
// propagates (the first NaN is the maximum, as in numpy and PyTorch). A
// window with no tap inside X (only possible with pads at least as large as
// the kernel) gives -inf and index -1 for MaxPool and 0 for AveragePool.
//
// MaxPool also takes an i8 or u8 operand quantized per tensor: the maximum
// of its codes, its result of the operand's type (dequantization is
// increasing, so this is the maximum of the real values, and a
// QuantizeLinear with the same parameters after a float MaxPool gives the
// same codes; passes/FoldQdq.cpp). An empty window gives the lowest code.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnLower.h"
#include "compiler/ops/quant/QuantOps.h"

#include <limits>

namespace mote {
namespace {

/// Whether \p N is a MaxPool on quantized codes.
bool isQuantizedMaxPool(const Node &N) {
  return N.op() == OpKind::MaxPool && N.inType(0).isQuantized();
}

/// Geometry of a pooling node, checked with its operand.
Expected<PoolGeometry> checkPool(const Node &N) {
  Status S = isQuantizedMaxPool(N) ? requireQuantOperand(N, 0, "input X")
                                   : requireFloatOperands(N, {0});
  if (!S)
    return S.takeError();
  return poolGeometry(N, N.inType(0).Dims, N.op() == OpKind::MaxPool);
}

Expected<std::vector<TensorType>> inferPool(const Node &N) {
  Expected<PoolGeometry> G = checkPool(N);
  if (!G)
    return G.takeError();
  const Shape &X = N.inType(0).Dims;
  Shape Out = {X[0], X[1]};
  Out.insert(Out.end(), G->Win.Out.begin(), G->Win.Out.end());
  TensorType Y = N.inType(0); // a quantized MaxPool keeps the parameters
  Y.Dims = std::move(Out);
  std::vector<TensorType> Types = {Y};
  if (N.numOutputs() > 1)
    Types.emplace_back(DType::I64, Y.Dims);
  return Types;
}

template <class E>
void averagePoolImpl(const PoolGeometry &G, bool IncludePad, const Tensor &X,
                     Tensor &Y) {
  auto PX = X.data<E>();
  auto PY = Y.data<E>();
  int64_t InSize = productOf(G.InSpatial, 0, G.InSpatial.size());
  int64_t OutSize = productOf(G.Win.Out, 0, G.Win.rank());
  forEachPoolWindow(
      G, false,
      [&](int64_t P, const std::vector<PoolTap> &Taps, int64_t Count) {
        int64_t Div = IncludePad ? Count : int64_t(Taps.size());
        for (int64_t Pl = 0; Pl < G.Planes; ++Pl) {
          double Sum = 0;
          for (const PoolTap &T : Taps)
            Sum += double(PX[size_t(Pl * InSize + T.Offset)]);
          PY[size_t(Pl * OutSize + P)] =
              Taps.empty() ? E(0) : E(Sum / double(Div));
        }
      });
}

template <class E>
void maxPoolImpl(const PoolGeometry &G, bool ColMajor, const Tensor &X,
                 Tensor &Y, Tensor *Indices) {
  auto PX = X.data<E>();
  auto PY = Y.data<E>();
  int64_t InSize = productOf(G.InSpatial, 0, G.InSpatial.size());
  int64_t OutSize = productOf(G.Win.Out, 0, G.Win.rank());
  forEachPoolWindow(
      G, ColMajor, [&](int64_t P, const std::vector<PoolTap> &Taps, int64_t) {
        for (int64_t Pl = 0; Pl < G.Planes; ++Pl) {
          E Best = std::numeric_limits<E>::has_infinity
                       ? -std::numeric_limits<E>::infinity()
                       : std::numeric_limits<E>::lowest();
          int64_t BestIdx = -1;
          for (const PoolTap &T : Taps) {
            E V = PX[size_t(Pl * InSize + T.Offset)];
            bool IsNaN = V != V;
            if (V > Best || BestIdx < 0 || IsNaN) {
              Best = V;
              BestIdx = Pl * InSize + T.Index;
              if (IsNaN)
                break;
            }
          }
          PY[size_t(Pl * OutSize + P)] = Best;
          if (Indices)
            Indices->data<int64_t>()[size_t(Pl * OutSize + P)] = BestIdx;
        }
      });
}

Status kernelPool(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  Expected<PoolGeometry> G = checkPool(N);
  if (!G)
    return G.takeError();
  bool IsMax = N.op() == OpKind::MaxPool;
  auto Run = [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if (IsMax)
      maxPoolImpl<E>(*G, N.attrs().getInt("storage_order", 0) == 1, *In[0],
                     Out[0], Out.size() > 1 ? &Out[1] : nullptr);
    else
      averagePoolImpl<E>(*G, N.attrs().getInt("count_include_pad", 0) == 1,
                         *In[0], Out[0]);
    return ok();
  };
  if (isQuantizedMaxPool(N)) // i8 or u8 (checkPool)
    return In[0]->dtype() == DType::I8 ? Run(int8_t{}) : Run(uint8_t{});
  return dispatchFloat(In[0]->dtype(), Run);
}

//===----------------------------------------------------------------------===//
// GlobalAveragePool
//===----------------------------------------------------------------------===//

Expected<std::vector<TensorType>> inferGlobalAveragePool(const Node &N) {
  if (Status S = requireFloatOperands(N, {0}); !S)
    return S.takeError();
  const Shape &X = N.inType(0).Dims;
  if (X.size() < 3)
    return opError(fmt::format("input X {} must have rank 3 or more "
                               "([N, C, D1, ...])",
                               shapeStr(X)));
  Shape Out = X;
  std::fill(Out.begin() + 2, Out.end(), 1);
  return std::vector<TensorType>{TensorType(N.inType(0).Elem, Out)};
}

Status kernelGlobalAveragePool(const Node &, std::span<const Tensor *const> In,
                               std::span<Tensor> Out) {
  const Shape &XS = In[0]->shape();
  int64_t Planes = XS[0] * XS[1];
  int64_t Size = productOf(XS, 2, XS.size());
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto PX = In[0]->data<E>();
    auto PY = Out[0].data<E>();
    for (int64_t Pl = 0; Pl < Planes; ++Pl) {
      double Sum = 0;
      for (int64_t I = 0; I < Size; ++I)
        Sum += double(PX[size_t(Pl * Size + I)]);
      PY[size_t(Pl)] = E(Sum / double(Size));
    }
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// Gradient rules
//===----------------------------------------------------------------------===//

// dX = AveragePoolGrad(dY){AveragePool's attributes, input_shape = X.shape}:
// each dY spread over its window divided by the forward divisor.
Status gradAveragePool(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  AttrMap A = N.attrs();
  A.set("input_shape", N.inType(0).Dims);
  Expected<Value *> DX = Ctx.emit1(OpKind::AveragePoolGrad, {DY}, std::move(A));
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// dX = MaxPoolGrad(dY, X){MaxPool's attributes}: each dY goes to the first
// maximum of its window. Only Y carries a gradient (Indices are integers).
Status gradMaxPool(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX =
      Ctx.emit1(OpKind::MaxPoolGrad, {DY, N.input(0)}, N.attrs());
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// y[n, c] = sum_d x[n, c, d] / S with S = prod(D1..Dk), so
// dX = Expand(dY, X.shape) * (1 / S).
Status gradGlobalAveragePool(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  const Shape &X = N.inType(0).Dims;
  // dY / size, then broadcast over the plane: the division touches the
  // pooled values only, not every input position.
  int64_t Size = productOf(X, 2, X.size());
  Value *Scaled = DY;
  if (Size != 0) {
    Expected<Value *> M =
        Ctx.emit1(OpKind::Mul, {DY, scalarLike(Ctx, DY, 1.0 / double(Size))});
    if (!M)
      return M.takeError();
    Scaled = *M;
  }
  AttrMap A;
  A.set("shape", X);
  Expected<Value *> DX = Ctx.emit1(OpKind::Expand, {Scaled}, std::move(A));
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::avg_pool<T>(PoolP, X, Y), max_pool<T>(PoolP, X, Y
// [, Indices]) and global_avg_pool<T>(GlobalPoolP, X, Y) (pool.h).
//===----------------------------------------------------------------------===//

Status lowerPool(const Node &N, KernelCall &C) {
  Expected<PoolGeometry> G = checkPool(N);
  if (!G)
    return G.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/pool.h";
  C.Kernel = N.op() == OpKind::MaxPool ? "max_pool" : "avg_pool";
  C.TypeArgs = {N.inType(0).Elem};
  return lowerPoolParams(N, *G, C);
}

Status lowerGlobalAveragePool(const Node &N, KernelCall &C) {
  if (Status S = requireKernelSizes(N); !S)
    return S;
  const Shape &X = N.inType(0).Dims;
  C.Header = "mote_rt/pool.h";
  C.Kernel = "global_avg_pool";
  C.TypeArgs = {N.inType(0).Elem};
  C.setParams(kparams::GlobalPoolP{.Planes = X[0] * X[1],
                                   .Size = productOf(X, 2, X.size())});
  return ok();
}

constexpr AttrSpec AveragePoolAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"ceil_mode", AttrKind::Int},
    {"count_include_pad", AttrKind::Int},
    {"kernel_shape", AttrKind::Ints, /*Required=*/true},
    {"pads", AttrKind::Ints},
    {"strides", AttrKind::Ints},
};

constexpr AttrSpec MaxPoolAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"ceil_mode", AttrKind::Int},
    {"dilations", AttrKind::Ints},
    {"kernel_shape", AttrKind::Ints, /*Required=*/true},
    {"pads", AttrKind::Ints},
    {"storage_order", AttrKind::Int},
    {"strides", AttrKind::Ints},
};

} // namespace

extern const OpDef OpDef_AveragePool = {
    .Name = "AveragePool",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = AveragePoolAttrs,
    .Infer = inferPool,
    .Kernel = kernelPool,
    .Macs = nullptr,
    .Grad = gradAveragePool,
    .Flags = OpFlagNone,
    .Summary = "N-D average over sliding windows of the spatial dims",
    .Lower = lowerPool,
};

extern const OpDef OpDef_MaxPool = {
    .Name = "MaxPool",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 2,
    .Attrs = MaxPoolAttrs,
    .Infer = inferPool,
    .Kernel = kernelPool,
    .Macs = nullptr,
    .Grad = gradMaxPool,
    .Flags = OpFlagQuantAware,
    .Summary = "N-D maximum over sliding windows of the spatial dims, with "
               "optional flattened argmax Indices; on float values or the "
               "codes of a per-tensor quantized i8/u8 X",
    .Lower = lowerPool,
};

extern const OpDef OpDef_GlobalAveragePool = {
    .Name = "GlobalAveragePool",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = {},
    .Infer = inferGlobalAveragePool,
    .Kernel = kernelGlobalAveragePool,
    .Macs = nullptr,
    .Grad = gradGlobalAveragePool,
    .Flags = OpFlagNone,
    .Summary = "mean of each channel plane of X [N, C, D...] -> [N, C, 1...]",
    .Lower = lowerGlobalAveragePool,
};

} // namespace mote
