//===- NnUtils.cpp - Helpers shared by the neural-network ops -------------===//
//
// Sliding-window geometry (auto_pad, pads, strides, dilations, ceil_mode) of
// Conv and the pooling ops, the conv and pooling geometry their backward ops
// share with them, the operand checks of the softmax cross-entropy loss, and
// the float-operand check of the nn ops.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/nn/NnUtils.h"

#include <algorithm>

namespace mote {
namespace {

/// Largest kernel, stride, dilation, pad or kernel extent accepted: keeps the
/// window arithmetic far from int64 overflow.
constexpr int64_t MaxWindowValue = MaxTensorBytes;

/// Checks that \p Values has \p Want entries, each in [Min, MaxWindowValue].
Status checkWindowList(std::string_view Name, const Shape &Values, size_t Want,
                       std::string_view Layout, int64_t Min) {
  if (Values.size() != Want)
    return opError(fmt::format("{} {} must have {} values, {}", Name,
                               shapeStr(Values), Want, Layout));
  for (int64_t V : Values) {
    if (V < Min)
      return opError(fmt::format("{} {} must be {}", Name, shapeStr(Values),
                                 Min > 0 ? "positive" : "non-negative"));
    if (V > MaxWindowValue)
      return opError(fmt::format("{} {} must be at most {}", Name,
                                 shapeStr(Values), MaxWindowValue));
  }
  return ok();
}

bool isAllZero(const Shape &S) {
  return std::all_of(S.begin(), S.end(), [](int64_t V) { return V == 0; });
}

} // namespace

Expected<Window> resolveWindow(const Node &N, const Shape &InSpatial,
                               const Shape &Kernel, WindowOptions Opts) {
  const AttrMap &A = N.attrs();
  size_t R = InSpatial.size();
  Window W;
  W.Kernel = Kernel;
  W.Strides = A.getInts("strides", Shape(R, 1));
  W.Dilations =
      Opts.HasDilations ? A.getInts("dilations", Shape(R, 1)) : Shape(R, 1);
  Shape Pads = A.getInts("pads", Shape(2 * R, 0));
  const char *PerDim = "one per spatial dim";
  if (Status S = checkWindowList("kernel_shape", W.Kernel, R, PerDim, 1); !S)
    return S.takeError();
  if (Status S = checkWindowList("strides", W.Strides, R, PerDim, 1); !S)
    return S.takeError();
  if (Status S = checkWindowList("dilations", W.Dilations, R, PerDim, 1); !S)
    return S.takeError();
  if (Status S = checkWindowList("pads", Pads, 2 * R,
                                 "the begin pads of each spatial dim, then the "
                                 "end pads",
                                 0);
      !S)
    return S.takeError();

  std::string AutoPad = A.getString("auto_pad", "NOTSET");
  bool Same = AutoPad == "SAME_UPPER" || AutoPad == "SAME_LOWER";
  if (!Same && AutoPad != "NOTSET" && AutoPad != "VALID")
    return opError(fmt::format("auto_pad must be NOTSET, SAME_UPPER, "
                               "SAME_LOWER or VALID, got \"{}\"",
                               AutoPad));
  if (AutoPad != "NOTSET" && !isAllZero(Pads))
    return opError(fmt::format("pads {} cannot be combined with auto_pad {}; "
                               "use auto_pad NOTSET",
                               shapeStr(Pads), AutoPad));
  int64_t CeilMode = Opts.HasCeilMode ? A.getInt("ceil_mode", 0) : 0;
  if (CeilMode != 0 && CeilMode != 1)
    return opError(fmt::format("ceil_mode must be 0 or 1, got {}", CeilMode));

  for (int64_t D : InSpatial)
    if (D < 1)
      return opError(fmt::format("input spatial dims {} must be positive",
                                 shapeStr(InSpatial)));

  W.PadBegin.assign(Pads.begin(), Pads.begin() + ptrdiff_t(R));
  W.PadEnd.assign(Pads.begin() + ptrdiff_t(R), Pads.end());
  W.Out.resize(R);
  for (size_t I = 0; I < R; ++I) {
    int64_t In = InSpatial[I], K = Kernel[I], S = W.Strides[I];
    int64_t Ext;
    if (__builtin_mul_overflow(K - 1, W.Dilations[I], &Ext) ||
        Ext >= MaxWindowValue)
      return opError(fmt::format(
          "the dilated kernel is too large along spatial dim {} (kernel {}, "
          "dilation {})",
          I, K, W.Dilations[I]));
    ++Ext;
    if (Same) {
      // Pad so that out = ceil(in / s); an odd total puts the extra pad at
      // the end (SAME_UPPER) or at the beginning (SAME_LOWER).
      int64_t Out = (In + S - 1) / S;
      int64_t Total = std::max<int64_t>(0, (Out - 1) * S + Ext - In);
      int64_t Small = Total / 2;
      W.PadBegin[I] = AutoPad == "SAME_UPPER" ? Small : Total - Small;
      W.PadEnd[I] = Total - W.PadBegin[I];
      W.Out[I] = Out;
      continue;
    }
    int64_t Padded = In + W.PadBegin[I] + W.PadEnd[I];
    if (Ext > Padded)
      return opError(fmt::format(
          "the dilated kernel extent {} is larger than the padded input size "
          "{} along spatial dim {}",
          Ext, Padded, I));
    int64_t Out = (Padded - Ext) / S + 1;
    if (CeilMode && (Padded - Ext) % S != 0) {
      ++Out;
      // A last window that would start in the end padding is dropped.
      if ((Out - 1) * S >= In + W.PadBegin[I])
        --Out;
    }
    W.Out[I] = Out;
  }
  return W;
}

Expected<ConvGeometry> convGeometry(const Node &N, const Shape &X,
                                    const Shape &W, ConvShapeNames Names) {
  if (X.size() < 3)
    return opError(fmt::format("{} {} must have rank 3 or more "
                               "([N, C, D1, ...])",
                               Names.XLong, shapeStr(X)));
  if (W.size() != X.size())
    return opError(fmt::format("{} {} must have the rank of {} {} "
                               "([M, C / group, k1, ...])",
                               Names.WLong, shapeStr(W), Names.X, shapeStr(X)));
  for (int64_t D : X)
    if (D < 0)
      return opError(
          fmt::format("{} {} has a negative dim", Names.XLong, shapeStr(X)));
  for (int64_t D : W)
    if (D < 0)
      return opError(
          fmt::format("{} {} has a negative dim", Names.WLong, shapeStr(W)));
  ConvGeometry G;
  G.Batch = X[0];
  G.C = X[1];
  G.M = W[0];
  G.Group = N.attrs().getInt("group", 1);
  if (G.Group < 1)
    return opError(fmt::format("group must be positive, got {}", G.Group));
  if (G.C % G.Group != 0)
    return opError(fmt::format("input channels {} of {} {} are not divisible "
                               "by group {}",
                               G.C, Names.X, shapeStr(X), G.Group));
  if (W[1] != G.C / G.Group)
    return opError(fmt::format("{} {} has {} input channels per group "
                               "but {} {} with group {} has {}",
                               Names.WLong, shapeStr(W), W[1], Names.X,
                               shapeStr(X), G.Group, G.C / G.Group));
  if (G.M % G.Group != 0)
    return opError(fmt::format("output channels {} of {} {} are not "
                               "divisible by group {}",
                               G.M, Names.W, shapeStr(W), G.Group));
  Shape Kernel(W.begin() + 2, W.end());
  for (int64_t K : Kernel)
    if (K < 1)
      return opError(fmt::format("kernel dims {} of {} {} must be positive",
                                 shapeStr(Kernel), Names.W, shapeStr(W)));
  if (N.attrs().has("kernel_shape") &&
      N.attrs().getInts("kernel_shape") != Kernel)
    return opError(fmt::format("kernel_shape {} does not match the kernel "
                               "dims {} of {} {}",
                               shapeStr(N.attrs().getInts("kernel_shape")),
                               shapeStr(Kernel), Names.W, shapeStr(W)));
  G.InSpatial.assign(X.begin() + 2, X.end());
  Expected<Window> Win =
      resolveWindow(N, G.InSpatial, Kernel, {.HasDilations = true});
  if (!Win)
    return Win.takeError();
  G.Win = std::move(*Win);
  return G;
}

Expected<PoolGeometry> poolGeometry(const Node &N, const Shape &X, bool IsMax,
                                    std::string_view XName) {
  if (X.size() < 3)
    return opError(fmt::format("{} {} must have rank 3 or more "
                               "([N, C, D1, ...])",
                               XName, shapeStr(X)));
  for (int64_t D : X)
    if (D < 0)
      return opError(
          fmt::format("{} {} has a negative dim", XName, shapeStr(X)));
  for (const char *Flag : {"count_include_pad", "storage_order"}) {
    int64_t V = N.attrs().getInt(Flag, 0);
    if (V != 0 && V != 1)
      return opError(fmt::format("{} must be 0 or 1, got {}", Flag, V));
  }
  PoolGeometry G;
  G.Planes = X[0] * X[1];
  G.InSpatial.assign(X.begin() + 2, X.end());
  Expected<Window> Win =
      resolveWindow(N, G.InSpatial, N.attrs().getInts("kernel_shape"),
                    {.HasDilations = IsMax, .HasCeilMode = true});
  if (!Win)
    return Win.takeError();
  G.Win = std::move(*Win);
  return G;
}

Expected<Shape> checkSoftmaxCrossEntropyOperands(const Node &N, size_t Scores) {
  std::string Reduction = N.attrs().getString("reduction", "mean");
  if (Reduction != "mean" && Reduction != "none" && Reduction != "sum")
    return opError(fmt::format("reduction must be \"mean\", \"none\" or "
                               "\"sum\", got \"{}\"",
                               Reduction));
  const Shape &X = N.inType(Scores).Dims;
  if (X.size() < 2)
    return opError(fmt::format("scores {} must have rank 2 or more ([N, C] "
                               "or [N, C, d1, ...])",
                               shapeStr(X)));
  DType LT = N.inType(Scores + 1).Elem;
  if (LT != DType::I32 && LT != DType::I64)
    return opError(
        fmt::format("labels must be i32 or i64, got {}", dtypeName(LT)));
  Shape LabelDims = {X[0]};
  LabelDims.insert(LabelDims.end(), X.begin() + 2, X.end());
  const Shape &L = N.inType(Scores + 1).Dims;
  if (L != LabelDims)
    return opError(fmt::format("labels {} must have shape {} ([N, d1, ...] "
                               "of scores {})",
                               shapeStr(L), shapeStr(LabelDims), shapeStr(X)));
  if (const Value *W = N.input(Scores + 2); W && W->type().Dims != Shape{X[1]})
    return opError(fmt::format("weights {} must have shape [{}], one value "
                               "per class",
                               shapeStr(W->type().Dims), X[1]));
  return LabelDims;
}

Status requireFloatOperands(const Node &N,
                            std::initializer_list<size_t> Indices) {
  const Value *First = nullptr;
  size_t FirstIdx = 0;
  for (size_t I : Indices) {
    const Value *V = N.input(I);
    if (!V)
      continue;
    if (!First) {
      if (!isFloat(V->type().Elem))
        return opError(fmt::format("element type {} is not supported; "
                                   "expected f32 or f64",
                                   dtypeName(V->type().Elem)));
      First = V;
      FirstIdx = I;
      continue;
    }
    if (V->type().Elem != First->type().Elem)
      return opError(fmt::format("input {} has element type {} but input {} "
                                 "has {}; insert a Cast",
                                 I, dtypeName(V->type().Elem), FirstIdx,
                                 dtypeName(First->type().Elem)));
  }
  return ok();
}

Expected<FusedActivation> fusedActivation(const Node &N) {
  const AttrMap &A = N.attrs();
  FusedActivation R;
  bool HasBound = A.has("activation_min") || A.has("activation_max");
  if (!A.has("activation")) {
    if (HasBound)
      return opError("activation_min / activation_max need activation = "
                     "\"Clip\"");
    return R;
  }
  std::string Kind = A.getString("activation", "");
  if (Kind == "Relu" || Kind == "HardSwish") {
    if (HasBound)
      return opError(fmt::format("activation \"{}\" takes no activation_min "
                                 "/ activation_max; use \"Clip\"",
                                 Kind));
    (Kind == "Relu" ? R.HasMin : R.HardSwish) = true;
    return R;
  }
  if (Kind != "Clip")
    return opError(fmt::format("activation must be \"Relu\", \"Clip\" or "
                               "\"HardSwish\", got \"{}\"",
                               Kind));
  R.HasMin = A.has("activation_min");
  R.HasMax = A.has("activation_max");
  R.Min = A.getFloat("activation_min", 0);
  R.Max = A.getFloat("activation_max", 0);
  return R;
}

void applyFusedActivation(const FusedActivation &A, Tensor &Y) {
  if (!A.any())
    return;
  if (A.HardSwish) {
    // As the HardSwish kernel computes it, in the element type.
    auto Apply = [&](auto Tag) {
      using E = decltype(Tag);
      for (E &V : Y.data<E>())
        V = E(V * std::clamp<E>(E(V / E(6) + E(0.5)), E(0), E(1)));
    };
    if (Y.dtype() == DType::F32)
      Apply(float());
    else
      Apply(double());
    return;
  }
  for (int64_t I = 0, E = Y.numElements(); I < E; ++I)
    Y.setFromDouble(I, A.apply(Y.getAsDouble(I)));
}

Expected<GemmGeometry> gemmGeometry(const Node &N) {
  const Shape &A = N.inType(0).Dims;
  const Shape &B = N.inType(1).Dims;
  if (A.size() != 2)
    return opError(fmt::format("A {} must be a matrix (rank 2); insert a "
                               "Flatten or use MatMul",
                               shapeStr(A)));
  if (B.size() != 2)
    return opError(fmt::format("B {} must be a matrix (rank 2)", shapeStr(B)));
  GemmGeometry G;
  for (const char *Name : {"transA", "transB"}) {
    int64_t V = N.attrs().getInt(Name, 0);
    if (V != 0 && V != 1)
      return opError(fmt::format("{} must be 0 or 1, got {}", Name, V));
  }
  G.TransA = N.attrs().getInt("transA", 0) == 1;
  G.TransB = N.attrs().getInt("transB", 0) == 1;
  G.M = G.TransA ? A[1] : A[0];
  G.K = G.TransA ? A[0] : A[1];
  int64_t KB = G.TransB ? B[1] : B[0];
  G.N = G.TransB ? B[0] : B[1];
  if (G.K != KB)
    return opError(fmt::format("inner dims do not match: A {} (transA = {}) "
                               "has K = {} but B {} (transB = {}) has K = {}",
                               shapeStr(A), int(G.TransA), G.K, shapeStr(B),
                               int(G.TransB), KB));
  return G;
}

Expected<MatMulGeometry> matMulGeometry(const Shape &A, const Shape &B) {
  if (A.empty() || B.empty())
    return opError(fmt::format("operands must have rank 1 or more, got A {} "
                               "and B {}",
                               shapeStr(A), shapeStr(B)));
  MatMulGeometry G;
  // Promote 1-D operands to matrices.
  Shape AM = A.size() == 1 ? Shape{1, A[0]} : A;
  Shape BM = B.size() == 1 ? Shape{B[0], 1} : B;
  G.M = AM[AM.size() - 2];
  G.K = AM[AM.size() - 1];
  G.N = BM[BM.size() - 1];
  int64_t KB = BM[BM.size() - 2];
  if (G.K != KB)
    return opError(fmt::format("inner dims do not match: A {} has K = {} but "
                               "B {} has K = {}",
                               shapeStr(A), G.K, shapeStr(B), KB));
  G.ABatch.assign(AM.begin(), AM.end() - 2);
  G.BBatch.assign(BM.begin(), BM.end() - 2);
  std::optional<Shape> Batch = broadcastShapes(G.ABatch, G.BBatch);
  if (!Batch)
    return opError(fmt::format("batch dims {} of A {} and {} of B {} cannot "
                               "be broadcast",
                               shapeStr(G.ABatch), shapeStr(A),
                               shapeStr(G.BBatch), shapeStr(B)));
  G.Batch = *Batch;
  G.Out = G.Batch;
  if (A.size() > 1)
    G.Out.push_back(G.M);
  if (B.size() > 1)
    G.Out.push_back(G.N);
  return G;
}

bool isPointwise(const ConvGeometry &G) {
  const Window &W = G.Win;
  auto AllEqual = [](const Shape &S, int64_t V) {
    return std::all_of(S.begin(), S.end(), [V](int64_t E) { return E == V; });
  };
  return AllEqual(W.Kernel, 1) && AllEqual(W.Strides, 1) &&
         AllEqual(W.PadBegin, 0) && AllEqual(W.PadEnd, 0);
}

} // namespace mote
