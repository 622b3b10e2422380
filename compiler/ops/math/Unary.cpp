//===- Unary.cpp - Elementwise unary ops ----------------------------------===//
//
// Activations and elementwise math: one table row per op. The result has the
// input's type. Float ops compute in the element type (f32 or f64); the few
// ops that also accept integers (Relu, Neg, Abs, Identity, Clip) say so.
//
// Gelu is mote's own op (ONNX 1.12 has none): the importer fuses the erf
// form x * 0.5 * (1 + erf(x / sqrt 2)) into it; `approximate = "tanh"`
// selects the tanh form.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/math/MathLower.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mote {
namespace {

/// Which element types an op accepts.
enum class Accepts { Float, Numeric, Any };

Status checkAccepts(const Node &N, Accepts A) {
  DType T = N.inType(0).Elem;
  bool Okay = A == Accepts::Any || isFloat(T) ||
              (A == Accepts::Numeric && T != DType::Bool && T != DType::U8);
  if (A == Accepts::Numeric && T == DType::U8 && N.op() != OpKind::Neg)
    Okay = true;
  if (!Okay)
    return opError(fmt::format("element type {} is not supported",
                               dtypeName(T)));
  return ok();
}

template <Accepts A>
Expected<std::vector<TensorType>> inferUnary(const Node &N) {
  Status S = checkAccepts(N, A);
  if (!S)
    return S.takeError();
  return sameAsInput0(N);
}

/// Applies F(x, node) to every element.
template <class Fn>
Status mapKernel(const Tensor &In, Tensor &Out, const Node &N, Fn F) {
  return dispatchDType(In.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if constexpr (std::is_same_v<E, bool>) {
      auto I = In.data<bool>();
      auto O = Out.data<bool>();
      std::copy(I.begin(), I.end(), O.begin());
      return ok();
    } else {
      auto I = In.data<E>();
      auto O = Out.data<E>();
      for (size_t K = 0; K < I.size(); ++K)
        O[K] = E(F(I[K], N));
      return ok();
    }
  });
}

#define MOTE_UNARY_KERNEL(NAME, EXPR)                                          \
  Status kernel##NAME(const Node &N, std::span<const Tensor *const> In,        \
                      std::span<Tensor> Out) {                                 \
    return mapKernel(*In[0], Out[0], N, [](auto X, const Node &Nd) {           \
      (void)Nd;                                                                \
      using E = decltype(X);                                                   \
      return E(EXPR);                                                          \
    });                                                                        \
  }

// relu(x) = max(x, 0)
MOTE_UNARY_KERNEL(Relu, X > E(0) ? X : E(0))
// leaky_relu(x) = x if x >= 0 else alpha * x
MOTE_UNARY_KERNEL(LeakyRelu,
                  X >= E(0) ? X : E(Nd.attrs().getFloat("alpha", 0.01f) * X))
// sigmoid(x) = 1 / (1 + e^-x)
MOTE_UNARY_KERNEL(Sigmoid, E(1) / (E(1) + std::exp(-X)))
MOTE_UNARY_KERNEL(Tanh, std::tanh(X))
// hard_sigmoid(x) = clamp(alpha * x + beta, 0, 1)
MOTE_UNARY_KERNEL(HardSigmoid,
                  std::clamp<E>(E(E(Nd.attrs().getFloat("alpha", 0.2f)) * X +
                                 E(Nd.attrs().getFloat("beta", 0.5f))),
                             E(0), E(1)))
// hard_swish(x) = x * clamp(x / 6 + 1/2, 0, 1)
MOTE_UNARY_KERNEL(HardSwish,
                  X * std::clamp<E>(E(X / E(6) + E(0.5)), E(0), E(1)))
MOTE_UNARY_KERNEL(Exp, std::exp(X))
MOTE_UNARY_KERNEL(Log, std::log(X))
MOTE_UNARY_KERNEL(Sqrt, std::sqrt(X))
MOTE_UNARY_KERNEL(Neg, -X)
MOTE_UNARY_KERNEL(Abs, X < E(0) ? E(-X) : X)
MOTE_UNARY_KERNEL(Reciprocal, E(1) / X)
MOTE_UNARY_KERNEL(Erf, std::erf(X))
MOTE_UNARY_KERNEL(Identity, X)

#undef MOTE_UNARY_KERNEL

// gelu(x) = x/2 (1 + erf(x / sqrt 2)), or with approximate = "tanh":
// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
Status kernelGelu(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  bool Tanh = N.attrs().getString("approximate", "none") == "tanh";
  return mapKernel(*In[0], Out[0], N, [Tanh](auto X, const Node &) {
    using E = decltype(X);
    if (Tanh) {
      E C = E(0.7978845608028654);
      return E(E(0.5) * X * (E(1) + std::tanh(C * (X + E(0.044715) * X * X * X))));
    }
    return E(E(0.5) * X * (E(1) + std::erf(X * E(0.7071067811865476))));
  });
}

Expected<std::vector<TensorType>> inferGelu(const Node &N) {
  std::string A = N.attrs().getString("approximate", "none");
  if (A != "none" && A != "tanh")
    return opError(fmt::format("approximate must be \"none\" or \"tanh\", got "
                               "\"{}\"",
                               A));
  return inferUnary<Accepts::Float>(N);
}

// clip(x) = min(max(x, min), max); absent bounds are unbounded.
Status kernelClip(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  double Lo = N.attrs().has("min") ? double(N.attrs().getFloat("min", 0))
                                   : -std::numeric_limits<double>::infinity();
  double Hi = N.attrs().has("max") ? double(N.attrs().getFloat("max", 0))
                                   : std::numeric_limits<double>::infinity();
  return mapKernel(*In[0], Out[0], N, [Lo, Hi](auto X, const Node &) {
    using E = decltype(X);
    double V = double(X);
    if (V < Lo)
      return E(Lo);
    if (V > Hi)
      return E(Hi);
    return X;
  });
}

//===----------------------------------------------------------------------===//
// Gradient rules: dX from dY (the gradient of the result).
//===----------------------------------------------------------------------===//

/// dX = GradOp(dY, v) with v the input (UseResult false) or the result,
/// carrying the forward node's attributes.
template <OpKind GradOp, bool UseResult = false>
Status gradVia(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX =
      Ctx.emit1(GradOp, {DY, UseResult ? N.output(0) : N.input(0)}, N.attrs());
  if (!DX)
    return DX.takeError();
  return Ctx.addInputGrad(0, *DX);
}

// d/dx e^x = e^x = y
Status gradExp(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX = Ctx.emit1(OpKind::Mul, {DY, N.output(0)});
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// d/dx ln x = 1 / x
Status gradLog(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX = Ctx.emit1(OpKind::Div, {DY, N.input(0)});
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// d/dx sqrt x = 1 / (2 sqrt x) = 0.5 / y
Status gradSqrt(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> Half =
      Ctx.emit1(OpKind::Mul, {DY, scalarLike(Ctx, DY, 0.5)});
  if (!Half)
    return Half.takeError();
  Expected<Value *> DX = Ctx.emit1(OpKind::Div, {*Half, N.output(0)});
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// d/dx -x = -1
Status gradNeg(GradContext &Ctx, const Node &) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> DX = Ctx.emit1(OpKind::Neg, {DY});
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// d/dx 1/x = -1/x^2 = -y^2
Status gradReciprocal(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  Expected<Value *> Y2 = Ctx.emit1(OpKind::Mul, {N.output(0), N.output(0)});
  if (!Y2)
    return Y2.takeError();
  Expected<Value *> P = Ctx.emit1(OpKind::Mul, {DY, *Y2});
  if (!P)
    return P.takeError();
  Expected<Value *> DX = Ctx.emit1(OpKind::Neg, {*P});
  return DX ? Ctx.addInputGrad(0, *DX) : DX.takeError();
}

// Identity passes the gradient through.
Status gradIdentity(GradContext &Ctx, const Node &) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  return Ctx.addInputGrad(0, DY);
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::<kernel><T>(UnaryP{N}, x, y) and the few kernels with
// attributes (unary.h). The kernels evaluate the interpreter's expressions
// above in the same element type.
//===----------------------------------------------------------------------===//

constexpr char UnaryHeader[] = "mote_rt/unary.h";

/// The element types the kernels of each Accepts class are instantiated
/// for (the type rule has already narrowed them further).
std::span<const DType> kernelDTypes(Accepts A) {
  static constexpr DType Numeric[] = {DType::F32, DType::F64, DType::I8,
                                      DType::U8,  DType::I32, DType::I64};
  static constexpr DType Any[] = {DType::F32, DType::F64, DType::I8,  DType::U8,
                                  DType::I32, DType::I64, DType::Bool};
  switch (A) {
  case Accepts::Float:
    return FloatKernelDTypes;
  case Accepts::Numeric:
    return Numeric;
  case Accepts::Any:
    return Any;
  }
  return {};
}

/// Starts the call of unary.h kernel \p Kernel on input 0's element type,
/// with UnaryP {N}; returns N.
Expected<int64_t> lowerUnaryCall(const Node &N, KernelCall &C,
                                 std::string Kernel, Accepts A) {
  DType T = N.inType(0).Elem;
  if (Status S = requireKernelDType(T, kernelDTypes(A), Kernel); !S)
    return S.takeError();
  return lowerElementwise(N, C, UnaryHeader, std::move(Kernel), {T});
}

template <const char *Kernel, Accepts A>
Status lowerPlain(const Node &N, KernelCall &C) {
  Expected<int64_t> Count = lowerUnaryCall(N, C, Kernel, A);
  return Count ? ok() : Count.takeError();
}

constexpr char ReluName[] = "relu", SigmoidName[] = "sigmoid",
               TanhName[] = "tanh", HardSwishName[] = "hard_swish",
               ExpName[] = "exp", LogName[] = "log", SqrtName[] = "sqrt",
               NegName[] = "neg", AbsName[] = "abs",
               ReciprocalName[] = "reciprocal", ErfName[] = "erf",
               IdentityName[] = "identity";

// mote_rt::leaky_relu<T>(LeakyReluP{N, alpha}, x, y)
Status lowerLeakyRelu(const Node &N, KernelCall &C) {
  Expected<int64_t> Count = lowerUnaryCall(N, C, "leaky_relu", Accepts::Float);
  if (!Count)
    return Count.takeError();
  C.setParams(kparams::LeakyReluP{
      .N = *Count, .Alpha = N.attrs().getFloat("alpha", 0.01f)});
  return ok();
}

// mote_rt::hard_sigmoid<T>(HardSigmoidP{N, alpha, beta}, x, y)
Status lowerHardSigmoid(const Node &N, KernelCall &C) {
  Expected<int64_t> Count =
      lowerUnaryCall(N, C, "hard_sigmoid", Accepts::Float);
  if (!Count)
    return Count.takeError();
  C.setParams(kparams::HardSigmoidP{.N = *Count,
                                    .Alpha = N.attrs().getFloat("alpha", 0.2f),
                                    .Beta = N.attrs().getFloat("beta", 0.5f)});
  return ok();
}

// mote_rt::gelu<T> or gelu_tanh<T>(UnaryP{N}, x, y)
Status lowerGelu(const Node &N, KernelCall &C) {
  std::string A = N.attrs().getString("approximate", "none");
  if (A != "none" && A != "tanh")
    return opError(fmt::format("approximate must be \"none\" or \"tanh\", "
                               "got \"{}\"",
                               A));
  Expected<int64_t> Count =
      lowerUnaryCall(N, C, A == "tanh" ? "gelu_tanh" : "gelu", Accepts::Float);
  return Count ? ok() : Count.takeError();
}

/// A clip bound on an integer tensor as the kernel's integer test: the
/// interpreter clamps x to E(bound) where double(x) < min (> max). For an
/// integer x, x < min iff x < ceil(min) and x > max iff x > floor(max).
struct IntBound {
  bool Has = false;
  int64_t Limit = 0; ///< ceil(min) or floor(max)
  int64_t Value = 0; ///< E(bound): the bound truncated toward zero
};

Expected<IntBound> intClipBound(const Node &N, const char *Name, bool IsMin) {
  IntBound R;
  if (!N.attrs().has(Name))
    return R;
  double B = double(N.attrs().getFloat(Name, 0));
  if (std::isnan(B)) // no comparison with NaN is true: never clamps
    return R;
  DType T = N.inType(0).Elem;
  double Lowest = 0, Highest = 0;
  dispatchDType(T, [&](auto Tag) {
    using E = decltype(Tag);
    Lowest = double(std::numeric_limits<E>::lowest());
    Highest = double(std::numeric_limits<E>::max());
  });
  double Limit = IsMin ? std::ceil(B) : std::floor(B);
  // A bound no value of the type crosses never clamps.
  if (IsMin ? Limit <= Lowest : Limit >= Highest)
    return R;
  double Value = std::trunc(B);
  if (Value < Lowest || Value > Highest)
    return opError(fmt::format("clip {} {} lies outside the range of {}, "
                               "where the conversion is undefined",
                               Name, B, dtypeName(T)));
  auto FitsInt32 = [](double V) { return V >= INT32_MIN && V <= INT32_MAX; };
  if (!FitsInt32(Limit) || !FitsInt32(Value))
    return opError(fmt::format("clip {} {} on a {} tensor does not fit the "
                               "kernel's 32-bit bounds",
                               Name, B, dtypeName(T)));
  R.Has = true;
  R.Limit = int64_t(Limit);
  R.Value = int64_t(Value);
  return R;
}

// Float tensors: mote_rt::clip<T>(ClipP{N, has min, has max, min, max}, x, y)
// Integer tensors: mote_rt::clip_int<T>(ClipIntP{N, has min, has max,
//   min limit, min value, max limit, max value}, x, y)
Status lowerClip(const Node &N, KernelCall &C) {
  if (isFloat(N.inType(0).Elem)) {
    Expected<int64_t> Count = lowerUnaryCall(N, C, "clip", Accepts::Float);
    if (!Count)
      return Count.takeError();
    C.setParams(clipParams(N, *Count));
    return ok();
  }
  Expected<IntBound> Lo = intClipBound(N, "min", true);
  if (!Lo)
    return Lo.takeError();
  Expected<IntBound> Hi = intClipBound(N, "max", false);
  if (!Hi)
    return Hi.takeError();
  Expected<int64_t> Count =
      lowerUnaryCall(N, C, "clip_int", Accepts::Numeric);
  if (!Count)
    return Count.takeError();
  C.setParams(kparams::ClipIntP{.N = *Count,
                                .HasMin = Lo->Has,
                                .HasMax = Hi->Has,
                                .MinBelow = Lo->Limit,
                                .MinValue = Lo->Value,
                                .MaxAbove = Hi->Limit,
                                .MaxValue = Hi->Value});
  return ok();
}

constexpr AttrSpec LeakyReluAttrs[] = {{"alpha", AttrKind::Float}};
constexpr AttrSpec HardSigmoidAttrs[] = {{"alpha", AttrKind::Float},
                                         {"beta", AttrKind::Float}};
constexpr AttrSpec ClipAttrs[] = {{"min", AttrKind::Float},
                                  {"max", AttrKind::Float}};
constexpr AttrSpec GeluAttrs[] = {{"approximate", AttrKind::String}};

} // namespace

#define MOTE_UNARY(NAME, ATTRS, INFER, GRAD, FLAGS, SUMMARY, LOWER)            \
  extern const OpDef OpDef_##NAME = {                                          \
      .Name = #NAME,                                                           \
      .MinInputs = 1,                                                          \
      .MaxInputs = 1,                                                          \
      .MinOutputs = 1,                                                         \
      .MaxOutputs = 1,                                                         \
      .Attrs = ATTRS,                                                          \
      .Infer = INFER,                                                          \
      .Kernel = kernel##NAME,                                                  \
      .Macs = nullptr,                                                         \
      .Grad = GRAD,                                                            \
      .Flags = OpFlagElementwise | OpFlagInPlace | (FLAGS),                    \
      .Summary = SUMMARY,                                                      \
      .Lower = LOWER,                                                          \
  };

constexpr std::span<const AttrSpec> NoAttrs = {};

MOTE_UNARY(Relu, NoAttrs, inferUnary<Accepts::Numeric>,
           (gradVia<OpKind::ReluGrad>), 0, "max(x, 0)",
           (lowerPlain<ReluName, Accepts::Numeric>))
MOTE_UNARY(LeakyRelu, LeakyReluAttrs, inferUnary<Accepts::Float>,
           (gradVia<OpKind::LeakyReluGrad>), 0, "x >= 0 ? x : alpha * x",
           lowerLeakyRelu)
MOTE_UNARY(Clip, ClipAttrs, inferUnary<Accepts::Numeric>,
           (gradVia<OpKind::ClipGrad>), 0,
           "min(max(x, min), max) (ReLU6 = Clip 0..6)", lowerClip)
MOTE_UNARY(Sigmoid, NoAttrs, inferUnary<Accepts::Float>,
           (gradVia<OpKind::SigmoidGrad, true>), 0, "1 / (1 + e^-x)",
           (lowerPlain<SigmoidName, Accepts::Float>))
MOTE_UNARY(Tanh, NoAttrs, inferUnary<Accepts::Float>,
           (gradVia<OpKind::TanhGrad, true>), 0, "tanh(x)",
           (lowerPlain<TanhName, Accepts::Float>))
MOTE_UNARY(HardSigmoid, HardSigmoidAttrs, inferUnary<Accepts::Float>,
           (gradVia<OpKind::HardSigmoidGrad>), 0,
           "clamp(alpha * x + beta, 0, 1)", lowerHardSigmoid)
MOTE_UNARY(HardSwish, NoAttrs, inferUnary<Accepts::Float>,
           (gradVia<OpKind::HardSwishGrad>), 0, "x * clamp(x / 6 + 1/2, 0, 1)",
           (lowerPlain<HardSwishName, Accepts::Float>))
MOTE_UNARY(Exp, NoAttrs, inferUnary<Accepts::Float>, gradExp, 0, "e^x",
           (lowerPlain<ExpName, Accepts::Float>))
MOTE_UNARY(Log, NoAttrs, inferUnary<Accepts::Float>, gradLog, 0, "ln(x)",
           (lowerPlain<LogName, Accepts::Float>))
MOTE_UNARY(Sqrt, NoAttrs, inferUnary<Accepts::Float>, gradSqrt, 0, "sqrt(x)",
           (lowerPlain<SqrtName, Accepts::Float>))
MOTE_UNARY(Neg, NoAttrs, inferUnary<Accepts::Numeric>, gradNeg, 0, "-x",
           (lowerPlain<NegName, Accepts::Numeric>))
MOTE_UNARY(Abs, NoAttrs, inferUnary<Accepts::Numeric>, nullptr, 0, "|x|",
           (lowerPlain<AbsName, Accepts::Numeric>))
MOTE_UNARY(Reciprocal, NoAttrs, inferUnary<Accepts::Float>, gradReciprocal, 0,
           "1 / x", (lowerPlain<ReciprocalName, Accepts::Float>))
MOTE_UNARY(Erf, NoAttrs, inferUnary<Accepts::Float>, (gradVia<OpKind::ErfGrad>),
           0, "erf(x)", (lowerPlain<ErfName, Accepts::Float>))
MOTE_UNARY(Gelu, GeluAttrs, inferGelu, (gradVia<OpKind::GeluGrad>), 0,
           "x/2 (1 + erf(x / sqrt 2)), or its tanh approximation", lowerGelu)
MOTE_UNARY(Identity, NoAttrs, inferUnary<Accepts::Any>, gradIdentity,
           OpFlagDataMovement, "x", (lowerPlain<IdentityName, Accepts::Any>))

#undef MOTE_UNARY

} // namespace mote
