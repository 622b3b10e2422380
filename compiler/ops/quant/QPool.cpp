//===- QPool.cpp - Integer average pooling and addition -------------------===//
//
// The integer forms of AveragePool, GlobalAveragePool and Add between
// quantized tensors (passes/FoldQdq.cpp makes them from their QDQ
// patterns), with the integers compiler/Quant.h states:
//
//   QAveragePool(x) {AveragePool's attributes, to, scale, zero_point[,
//                    clamp]}
//     For the window of each output, with its divisor d (the taps inside x,
//     or with count_include_pad = 1 the window size clipped to the padded
//     input, as AveragePool; compiler/ops/nn/Pool.cpp):
//       y = clamp(requantize(sum (x - z_x), M_d) + z_y, lo, hi)
//     with M_d = s_x / (s_y * d) in fixedMultiplier's form, the sum exact in
//     int32 (the type rule refuses windows whose sum could overflow), and
//     a window with no tap inside x giving clamp(z_y). GlobalAveragePool is
//     the window of the whole plane.
//   QAdd(a, b) {to, scale, zero_point[, clamp]}
//       y = clamp(roundShift((a - z_a) * A + (b - z_b) * B, n) + z_y, lo, hi)
//     with A * 2^-n and B * 2^-n the multipliers s_a / s_y and s_b / s_y
//     sharing one shift (sumMultipliers), exact in 64-bit integers. a and
//     b have one shape (no broadcasting).
//
// x, a and b are i8 or u8 quantized per tensor; `to` is i8 or u8; `clamp`
// [lo, hi] narrows the output codes (a folded ReLU or clip). Against the
// float ops on dequantized values, quantized as ONNX does, an output
// differs by at most one step, and only where the exact value lies within
// 2^-31 relative of a rounding tie. MaxPool needs no integer op of its
// own: it takes quantized operands itself (Pool.cpp).
//
// Lowering: mote_rt::qavg_pool<TX, TY>(QAvgPoolP, x, y) with the multipliers
// and shifts of the divisors the windows have as tables, and
// mote_rt::qadd<TA, TB, TY>(QAddP, a, b, y) (runtime-stub/mote_rt/qpool.h).
//
//===----------------------------------------------------------------------===//

#include "compiler/Quant.h"
#include "compiler/ops/nn/NnLower.h"
#include "compiler/ops/quant/QuantOps.h"

#include <cstdint>

namespace mote {
namespace {

using TypeList = std::vector<TensorType>;

/// The i8 or u8 result of \p N (its attribute `to`) of shape \p Dims.
Expected<QuantResult> checkResult(const Node &N, const Shape &Dims) {
  std::string To = N.attrs().getString("to", "");
  std::optional<DType> T = parseDType(To);
  if (!T || (*T != DType::I8 && *T != DType::U8))
    return opError(fmt::format("to must be \"i8\" or \"u8\", got \"{}\"", To));
  return quantResult(N, *T, Dims);
}

/// clamp(\p Y + z_y, lo, hi) for result \p R.
int64_t finish(const QuantResult &R, int64_t Y) {
  return std::clamp(Y + R.Out.Quant->ZeroPoint[0], R.YMin, R.YMax);
}

//===----------------------------------------------------------------------===//
// QAveragePool
//===----------------------------------------------------------------------===//

struct QAvgPoolInfo {
  PoolGeometry G;
  bool IncludePad = false;
  QuantResult R;
  int64_t MinDivisor = 0;
  std::vector<FixedMultiplier> Mult; ///< divisors MinDivisor, MinDivisor + 1..
};

Expected<QAvgPoolInfo> checkQAveragePool(const Node &N) {
  if (Status S = requireQuantOperand(N, 0, "input X"); !S)
    return S.takeError();
  const TensorType &X = N.inType(0);
  Expected<PoolGeometry> G = poolGeometry(N, X.Dims, /*IsMax=*/false);
  if (!G)
    return G.takeError();
  // Every sum of codes (not only of x - z_x) fits in int32: the kernel
  // subtracts the zero point once per window.
  int64_t Taps = productOf(G->Win.Kernel, 0, G->Win.rank());
  if (Taps > int64_t(INT32_MAX) / 255)
    return opError(fmt::format("a window of {} taps could overflow the "
                               "int32 sum",
                               Taps));
  Shape Out = {X.Dims[0], X.Dims[1]};
  Out.insert(Out.end(), G->Win.Out.begin(), G->Win.Out.end());
  Expected<QuantResult> R = checkResult(N, Out);
  if (!R)
    return R.takeError();
  QAvgPoolInfo I{std::move(*G), N.attrs().getInt("count_include_pad", 0) == 1,
                 std::move(*R)};
  // The divisors the windows have, as one range.
  int64_t Lo = INT64_MAX, Hi = 0;
  forEachPoolWindow(I.G, false,
                    [&](int64_t, const std::vector<PoolTap> &T, int64_t Count) {
                      if (T.empty())
                        return;
                      int64_t D = I.IncludePad ? Count : int64_t(T.size());
                      Lo = std::min(Lo, D);
                      Hi = std::max(Hi, D);
                    });
  I.MinDivisor = Hi ? Lo : 1;
  double Ratio = double(X.Quant->Scale[0]) / double(I.R.Out.Quant->Scale[0]);
  for (int64_t D = I.MinDivisor; D <= Hi; ++D) {
    Expected<FixedMultiplier> F = fixedMultiplier(Ratio / double(D));
    if (!F)
      return opError(fmt::format("divisor {}: {}", D, F.error().Message));
    I.Mult.push_back(*F);
  }
  return I;
}

Expected<TypeList> inferQAveragePool(const Node &N) {
  Expected<QAvgPoolInfo> I = checkQAveragePool(N);
  if (!I)
    return I.takeError();
  return TypeList{I->R.Out};
}

Status kernelQAveragePool(const Node &N, std::span<const Tensor *const> In,
                          std::span<Tensor> Out) {
  Expected<QAvgPoolInfo> I = checkQAveragePool(N);
  if (!I)
    return I.takeError();
  const PoolGeometry &G = I->G;
  const Tensor &X = *In[0];
  Tensor &Y = Out[0];
  int64_t Zx = X.type().Quant->ZeroPoint[0];
  int64_t InSize = productOf(G.InSpatial, 0, G.InSpatial.size());
  int64_t OutSize = productOf(G.Win.Out, 0, G.Win.rank());
  forEachPoolWindow(
      G, false,
      [&](int64_t P, const std::vector<PoolTap> &Taps, int64_t Count) {
        int64_t D = I->IncludePad ? Count : int64_t(Taps.size());
        for (int64_t Pl = 0; Pl < G.Planes; ++Pl) {
          int64_t Sum = 0;
          for (const PoolTap &T : Taps)
            Sum += X.getAsInt(Pl * InSize + T.Offset) - Zx;
          int64_t V = Taps.empty()
                          ? 0
                          : requantize(int32_t(Sum),
                                       I->Mult[size_t(D - I->MinDivisor)]);
          Y.setFromDouble(Pl * OutSize + P, double(finish(I->R, V)));
        }
      });
  return ok();
}

// mote_rt::qavg_pool<TX, TY>(QAvgPoolP, x, y)
Status lowerQAveragePool(const Node &N, KernelCall &C) {
  Expected<QAvgPoolInfo> I = checkQAveragePool(N);
  if (!I)
    return I.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  Expected<kparams::PoolP> P = poolParams(N, I->G);
  if (!P)
    return P.takeError();
  std::vector<int32_t> Mult, Shift;
  for (const FixedMultiplier &F : I->Mult) {
    Mult.push_back(F.Multiplier);
    Shift.push_back(F.Shift);
  }
  C.Header = "mote_rt/qpool.h";
  C.Kernel = "qavg_pool";
  C.TypeArgs = {N.inType(0).Elem, N.outType(0).Elem};
  C.setParams(kparams::QAvgPoolP{.Pool = std::move(*P),
                                 .XZeroPoint = N.inType(0).Quant->ZeroPoint[0],
                                 .YZeroPoint = I->R.Out.Quant->ZeroPoint[0],
                                 .YMin = I->R.YMin,
                                 .YMax = I->R.YMax,
                                 .MinDivisor = I->MinDivisor,
                                 .Multiplier = Mult,
                                 .Shift = Shift});
  return ok();
}

//===----------------------------------------------------------------------===//
// QAdd
//===----------------------------------------------------------------------===//

struct QAddInfo {
  QuantResult R;
  SumMultipliers M;
};

Expected<QAddInfo> checkQAdd(const Node &N) {
  if (Status S = requireQuantOperand(N, 0, "operand a"); !S)
    return S.takeError();
  if (Status S = requireQuantOperand(N, 1, "operand b"); !S)
    return S.takeError();
  const TensorType &A = N.inType(0), &B = N.inType(1);
  if (A.Dims != B.Dims)
    return opError(fmt::format("a {} and b {} must have one shape (QAdd does "
                               "not broadcast)",
                               shapeStr(A.Dims), shapeStr(B.Dims)));
  Expected<QuantResult> R = checkResult(N, A.Dims);
  if (!R)
    return R.takeError();
  double Sy = R->Out.Quant->Scale[0];
  Expected<SumMultipliers> M = sumMultipliers(double(A.Quant->Scale[0]) / Sy,
                                              double(B.Quant->Scale[0]) / Sy);
  if (!M)
    return M.takeError();
  return QAddInfo{std::move(*R), *M};
}

Expected<TypeList> inferQAdd(const Node &N) {
  Expected<QAddInfo> I = checkQAdd(N);
  if (!I)
    return I.takeError();
  return TypeList{I->R.Out};
}

Status kernelQAdd(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  Expected<QAddInfo> I = checkQAdd(N);
  if (!I)
    return I.takeError();
  const Tensor &A = *In[0], &B = *In[1];
  int64_t Za = A.type().Quant->ZeroPoint[0], Zb = B.type().Quant->ZeroPoint[0];
  for (int64_t K = 0; K < A.numElements(); ++K) {
    int64_t T = (A.getAsInt(K) - Za) * I->M.A + (B.getAsInt(K) - Zb) * I->M.B;
    Out[0].setFromDouble(K, double(finish(I->R, roundShift(T, I->M.Shift))));
  }
  return ok();
}

// mote_rt::qadd<TA, TB, TY>(QAddP, a, b, y)
Status lowerQAdd(const Node &N, KernelCall &C) {
  Expected<QAddInfo> I = checkQAdd(N);
  if (!I)
    return I.takeError();
  if (Status S = requireKernelSizes(N); !S)
    return S;
  C.Header = "mote_rt/qpool.h";
  C.Kernel = "qadd";
  C.TypeArgs = {N.inType(0).Elem, N.inType(1).Elem, N.outType(0).Elem};
  C.setParams(kparams::QAddP{.N = N.inType(0).numElements(),
                             .AZeroPoint = N.inType(0).Quant->ZeroPoint[0],
                             .BZeroPoint = N.inType(1).Quant->ZeroPoint[0],
                             .AMultiplier = I->M.A,
                             .BMultiplier = I->M.B,
                             .Shift = I->M.Shift,
                             .YZeroPoint = I->R.Out.Quant->ZeroPoint[0],
                             .YMin = I->R.YMin,
                             .YMax = I->R.YMax});
  return ok();
}

constexpr AttrSpec QAveragePoolAttrs[] = {
    {"auto_pad", AttrKind::String},
    {"ceil_mode", AttrKind::Int},
    {"count_include_pad", AttrKind::Int},
    {"kernel_shape", AttrKind::Ints, /*Required=*/true},
    {"pads", AttrKind::Ints},
    {"strides", AttrKind::Ints},
    {"to", AttrKind::String, true},
    {"scale", AttrKind::Floats},
    {"zero_point", AttrKind::Ints},
    {"clamp", AttrKind::Ints},
};

constexpr AttrSpec QAddAttrs[] = {
    {"to", AttrKind::String, true},
    {"scale", AttrKind::Floats},
    {"zero_point", AttrKind::Ints},
    {"clamp", AttrKind::Ints},
};

} // namespace

extern const OpDef OpDef_QAveragePool = {
    .Name = "QAveragePool",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = QAveragePoolAttrs,
    .Infer = inferQAveragePool,
    .Kernel = kernelQAveragePool,
    .Macs = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "integer N-D average over sliding windows of quantized x, "
               "requantized per divisor to `to` (i8, u8)",
    .Lower = lowerQAveragePool,
};

extern const OpDef OpDef_QAdd = {
    .Name = "QAdd",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = QAddAttrs,
    .Infer = inferQAdd,
    .Kernel = kernelQAdd,
    .Macs = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware | OpFlagInPlace,
    .Summary = "integer sum of quantized a and b of one shape, requantized "
               "to `to` (i8, u8)",
    .Lower = lowerQAdd,
};

} // namespace mote
