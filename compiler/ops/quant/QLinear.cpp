//===- QLinear.cpp - Integer convolution and matrix product ---------------===//
//
// The integer ops of a quantized model, with the requantization
// compiler/Quant.h states:
//
//   QConv(x, w[, b]) {Conv's window attributes, to[, scale, zero_point,
//                     clamp]}
//   QMatMul(a, b[, bias]) {to[, scale, zero_point, clamp]}
//
// x (a) is i8 or u8 quantized per tensor; w (b) is i8 or u8 quantized per
// tensor or per output channel (QConv: axis 0 of w [M, C/group, K...];
// QMatMul: the last axis of b [..., K, N]); the bias is an i32 [M] ([N])
// in units of s_x * s_w[c] (plain, or quantized with those scales and zero
// point 0). The sum
//
//   acc[c] = sum (x - z_x) * (w - z_w[c])
//
// is exact in int32: the type rule refuses operands whose largest possible
// sum does not fit. With `to` = "i8" or "u8" the result is quantized with
// `scale` and `zero_point` and every output requantizes through the
// multiplier s_x * s_w[c] / scale (fixedMultiplier); `clamp` [lo, hi]
// narrows the output range (a fused ReLU or clip). With `to` = "i32" the
// result is the plain accumulator (ONNX ConvInteger and MatMulInteger).
//
// The ops have no gradient rule yet; training through a quantized layer
// dequantizes it.
//
// Lowering: mote_rt::qconv / qmatmul<TX, TW, TY> (mote_rt/qlinear.h) with
// the weight zero points, multipliers and shifts as per-channel tables.
//
//===----------------------------------------------------------------------===//

#include "compiler/Quant.h"
#include "compiler/ops/nn/NnLower.h"
#include "compiler/ops/quant/QuantOps.h"

#include <cstdint>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The integer side of one QConv or QMatMul, checked: zero points, the
/// output type and range, and each output channel's multiplier.
struct Requant {
  int32_t XZeroPoint = 0;
  std::vector<int32_t> WZeroPoint; ///< one per output channel
  TensorType Out;                  ///< element type and quantization
  bool Requantize = false;
  int64_t YMin = 0, YMax = 0;
  std::vector<FixedMultiplier> Mult; ///< one per output channel
};

/// The epilogue of \p N: x (operand 0) and w (operand 1, per-channel along
/// \p WAxis) with \p Channels output channels summing \p Terms products
/// each; the bias (operand 2) if any must be i32 [Channels].
Expected<Requant> checkRequant(const Node &N, int64_t WAxis, int64_t Channels,
                               int64_t Terms, const Shape &OutDims) {
  if (Status S = requireQuantOperand(N, 0, "input x", -1); !S)
    return S.takeError();
  if (Status S = requireQuantOperand(N, 1, "weight w", WAxis); !S)
    return S.takeError();
  const TensorType &X = N.inType(0), &W = N.inType(1);
  // The worst sum must fit in int32 (exactness, and no wrap in a kernel).
  int64_t Bound = largestTerm(X) * largestTerm(W);
  if (Terms > 0 && Bound > 0 && Terms > int64_t(INT32_MAX) / Bound)
    return opError(fmt::format("a sum of {} products of up to {} could "
                               "overflow the int32 accumulator",
                               Terms, Bound));
  if (const Value *B = N.input(2)) {
    const TensorType &BT = B->type();
    if (BT.Elem != DType::I32 || BT.Dims != Shape{Channels})
      return opError(fmt::format("bias must be i32 [{}] (in units of the "
                                 "input scale times the weight scale), got "
                                 "{}",
                                 Channels, BT.str()));
    // A quantized bias must say the units the sum is in: zero point 0 and
    // scale s_x * s_w[c] (to float precision: tools compute it in float).
    if (BT.isQuantized()) {
      for (int64_t C = 0; C < Channels; ++C) {
        double Want = accumulatorScale(X, W, C);
        if (!isAccumulatorUnit(BT.Quant->scaleAt(C), BT.Quant->zeroPointAt(C),
                               Want))
          return opError(fmt::format(
              "bias {} does not count in units of the input scale times the "
              "weight scale: channel {} needs scale {} and zero point 0",
              BT.str(), C, float(Want)));
      }
    }
  }
  Requant R;
  R.XZeroPoint = X.Quant->ZeroPoint[0];
  for (int64_t C = 0; C < Channels; ++C)
    R.WZeroPoint.push_back(W.Quant->zeroPointAt(C));

  const AttrMap &A = N.attrs();
  std::string To = A.getString("to", "");
  std::optional<DType> T = parseDType(To);
  if (!T || (*T != DType::I8 && *T != DType::U8 && *T != DType::I32))
    return opError(
        fmt::format("to must be \"i8\", \"u8\" or \"i32\", got \"{}\"", To));
  R.Requantize = *T != DType::I32;
  if (!R.Requantize) {
    for (const char *Name : {"scale", "zero_point", "clamp"})
      if (A.has(Name))
        return opError(fmt::format("an i32 result is the accumulator itself; "
                                   "`{}` applies only to an i8 or u8 result",
                                   Name));
    R.Out = TensorType(DType::I32, OutDims);
    R.YMin = INT32_MIN;
    R.YMax = INT32_MAX;
    return R;
  }
  Expected<QuantResult> Res = quantResult(N, *T, OutDims);
  if (!Res)
    return Res.takeError();
  R.Out = std::move(Res->Out);
  R.YMin = Res->YMin;
  R.YMax = Res->YMax;
  for (int64_t C = 0; C < Channels; ++C) {
    double M = accumulatorScale(X, W, C) / double(R.Out.Quant->Scale[0]);
    Expected<FixedMultiplier> F = fixedMultiplier(M);
    if (!F)
      return opError(
          fmt::format("output channel {}: {}", C, F.error().Message));
    R.Mult.push_back(*F);
  }
  return R;
}

/// Output channel \p C's value of the exact sum \p Sum (bias \p Bias, or
/// none): compiler/Quant.h's epilogue.
int64_t finish(const Requant &R, int64_t C, int64_t Sum, const Tensor *Bias) {
  if (Bias)
    Sum = std::clamp<int64_t>(Sum + Bias->getAsInt(C), INT32_MIN, INT32_MAX);
  if (!R.Requantize)
    return Sum;
  int64_t Y =
      requantize(int32_t(Sum), R.Mult[size_t(C)]) + R.Out.Quant->ZeroPoint[0];
  return std::clamp(Y, R.YMin, R.YMax);
}

/// RequantP for \p R (tables of one entry per output channel).
kparams::RequantP requantParams(const Requant &R) {
  std::vector<int32_t> Mult, Shift;
  for (const FixedMultiplier &F : R.Mult) {
    Mult.push_back(F.Multiplier);
    Shift.push_back(F.Shift);
  }
  if (!R.Requantize) { // the kernel reads no multiplier; keep tables valid
    Mult.assign(R.WZeroPoint.size(), 0);
    Shift.assign(R.WZeroPoint.size(), 0);
  }
  return kparams::RequantP{.XZeroPoint = R.XZeroPoint,
                           .YZeroPoint =
                               R.Requantize ? R.Out.Quant->ZeroPoint[0] : 0,
                           .YMin = R.YMin,
                           .YMax = R.YMax,
                           .Requant = R.Requantize ? 1 : 0,
                           .WZeroPoint = R.WZeroPoint,
                           .Multiplier = Mult,
                           .Shift = Shift};
}

//===----------------------------------------------------------------------===//
// QConv
//===----------------------------------------------------------------------===//

struct QConvInfo {
  ConvGeometry G;
  Requant R;
};

Expected<QConvInfo> checkQConv(const Node &N) {
  Expected<ConvGeometry> G =
      convGeometry(N, N.inType(0).Dims, N.inType(1).Dims);
  if (!G)
    return G.takeError();
  Shape Out = {G->Batch, G->M};
  Out.insert(Out.end(), G->Win.Out.begin(), G->Win.Out.end());
  int64_t Terms =
      G->cPerGroup() * productOf(G->Win.Kernel, 0, G->Win.Kernel.size());
  Expected<Requant> R = checkRequant(N, 0, G->M, Terms, Out);
  if (!R)
    return R.takeError();
  return QConvInfo{std::move(*G), std::move(*R)};
}

Expected<TypeList> inferQConv(const Node &N) {
  Expected<QConvInfo> I = checkQConv(N);
  if (!I)
    return I.takeError();
  return TypeList{I->R.Out};
}

Status kernelQConv(const Node &N, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  Expected<QConvInfo> I = checkQConv(N);
  if (!I)
    return I.takeError();
  const ConvGeometry &G = I->G;
  const Tensor &X = *In[0], &W = *In[1];
  const Tensor *B = In.size() > 2 ? In[2] : nullptr;
  Tensor &Y = Out[0];
  int64_t OutPlane = Y.numElements() / std::max<int64_t>(G.Batch * G.M, 1);
  std::vector<int64_t> Acc(size_t(Y.numElements()), 0);
  int64_t WPerM = W.numElements() / std::max<int64_t>(G.M, 1);
  int64_t Zx = I->R.XZeroPoint;
  forEachConvTerm(G, G.M, [&](int64_t YOff, int64_t XOff, int64_t WOff) {
    int64_t M = WOff / WPerM;
    Acc[size_t(YOff)] += (X.getAsInt(XOff) - Zx) *
                         (W.getAsInt(WOff) - I->R.WZeroPoint[size_t(M)]);
  });
  for (int64_t K = 0; K < Y.numElements(); ++K)
    Y.setFromDouble(
        K, double(finish(I->R, (K / OutPlane) % G.M, Acc[size_t(K)], B)));
  return ok();
}

int64_t macsQConv(const Node &N) {
  Expected<QConvInfo> I = checkQConv(N);
  if (!I)
    return 0;
  const ConvGeometry &G = I->G;
  size_t R = G.Win.rank();
  return G.Batch * G.M * productOf(G.Win.Out, 0, R) * (G.C / G.Group) *
         productOf(G.Win.Kernel, 0, R);
}

// mote_rt::qconv<TX, TW, TY>(QConvP, x, w, b, y)
Status lowerQConv(const Node &N, KernelCall &C) {
  Expected<QConvInfo> I = checkQConv(N);
  if (!I)
    return I.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  Expected<kparams::ConvP> P = convParams(I->G, I->G.M);
  if (!P)
    return P.takeError();
  C.Header = "mote_rt/qlinear.h";
  C.Kernel = "qconv";
  C.TypeArgs = {N.inType(0).Elem, N.inType(1).Elem, N.outType(0).Elem};
  C.setParams(kparams::QConvP{.Conv = std::move(*P), .Q = requantParams(I->R)});
  return ok();
}

//===----------------------------------------------------------------------===//
// QMatMul
//===----------------------------------------------------------------------===//

struct QMatMulInfo {
  MatMulGeometry G;
  Requant R;
};

Expected<QMatMulInfo> checkQMatMul(const Node &N) {
  Expected<MatMulGeometry> G =
      matMulGeometry(N.inType(0).Dims, N.inType(1).Dims);
  if (!G)
    return G.takeError();
  int64_t BRank = int64_t(N.inType(1).rank());
  // Per-column parameters run along b's last axis (a 1-D b has one column).
  Expected<Requant> R =
      checkRequant(N, BRank >= 2 ? BRank - 1 : -1, G->N, G->K, G->Out);
  if (!R)
    return R.takeError();
  return QMatMulInfo{std::move(*G), std::move(*R)};
}

Expected<TypeList> inferQMatMul(const Node &N) {
  Expected<QMatMulInfo> I = checkQMatMul(N);
  if (!I)
    return I.takeError();
  return TypeList{I->R.Out};
}

Status kernelQMatMul(const Node &N, std::span<const Tensor *const> In,
                     std::span<Tensor> Out) {
  Expected<QMatMulInfo> I = checkQMatMul(N);
  if (!I)
    return I.takeError();
  const MatMulGeometry &G = I->G;
  const Tensor &A = *In[0], &B = *In[1];
  const Tensor *Bias = In.size() > 2 ? In[2] : nullptr;
  Tensor &Y = Out[0];
  std::vector<int64_t> AStrides = broadcastStrides(G.ABatch, G.Batch);
  std::vector<int64_t> BStrides = broadcastStrides(G.BBatch, G.Batch);
  int64_t NumBatch = productOf(G.Batch, 0, G.Batch.size());
  int64_t Za = I->R.XZeroPoint;
  for (int64_t Bt = 0; Bt < NumBatch; ++Bt) {
    int64_t ABase = offsetFor(Bt, G.Batch, AStrides) * G.M * G.K;
    int64_t BBase = offsetFor(Bt, G.Batch, BStrides) * G.K * G.N;
    int64_t YBase = Bt * G.M * G.N;
    for (int64_t R = 0; R < G.M; ++R)
      for (int64_t C = 0; C < G.N; ++C) {
        int64_t Zb = I->R.WZeroPoint[size_t(C)];
        int64_t Acc = 0;
        for (int64_t K = 0; K < G.K; ++K)
          Acc += (A.getAsInt(ABase + R * G.K + K) - Za) *
                 (B.getAsInt(BBase + K * G.N + C) - Zb);
        Y.setFromDouble(YBase + R * G.N + C,
                        double(finish(I->R, C, Acc, Bias)));
      }
  }
  return ok();
}

int64_t macsQMatMul(const Node &N) {
  Expected<QMatMulInfo> I = checkQMatMul(N);
  if (!I)
    return 0;
  return productOf(I->G.Batch, 0, I->G.Batch.size()) * I->G.M * I->G.N * I->G.K;
}

// mote_rt::qmatmul<TA, TB, TY>(QMatMulP, a, b, bias, y)
Status lowerQMatMul(const Node &N, KernelCall &C) {
  Expected<QMatMulInfo> I = checkQMatMul(N);
  if (!I)
    return I.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/qlinear.h";
  C.Kernel = "qmatmul";
  C.TypeArgs = {N.inType(0).Elem, N.inType(1).Elem, N.outType(0).Elem};
  C.setParams(
      kparams::QMatMulP{.Mm = matMulParams(I->G), .Q = requantParams(I->R)});
  return ok();
}

constexpr AttrSpec QConvAttrs[] = {
    {"auto_pad", AttrKind::String}, {"dilations", AttrKind::Ints},
    {"group", AttrKind::Int},       {"kernel_shape", AttrKind::Ints},
    {"pads", AttrKind::Ints},       {"strides", AttrKind::Ints},
    {"to", AttrKind::String, true}, {"scale", AttrKind::Floats},
    {"zero_point", AttrKind::Ints}, {"clamp", AttrKind::Ints},
};

constexpr AttrSpec QMatMulAttrs[] = {
    {"to", AttrKind::String, true},
    {"scale", AttrKind::Floats},
    {"zero_point", AttrKind::Ints},
    {"clamp", AttrKind::Ints},
};

} // namespace

extern const OpDef OpDef_QConv = {
    .Name = "QConv",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = QConvAttrs,
    .Infer = inferQConv,
    .Kernel = kernelQConv,
    .Macs = macsQConv,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "integer N-D grouped convolution of quantized x and w plus "
               "an i32 bias, requantized per output channel to `to` (i8, "
               "u8) or the i32 accumulator",
    .Lower = lowerQConv,
};

extern const OpDef OpDef_QMatMul = {
    .Name = "QMatMul",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = QMatMulAttrs,
    .Infer = inferQMatMul,
    .Kernel = kernelQMatMul,
    .Macs = macsQMatMul,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "integer numpy matmul of quantized a and b plus an i32 bias "
               "per column, requantized per column to `to` (i8, u8) or the "
               "i32 accumulator",
    .Lower = lowerQMatMul,
};

} // namespace mote
