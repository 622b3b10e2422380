//===- ActivationGrad.cpp - Backward ops of the activations ---------------===//
//
// Each takes the gradient of the activation's result dY and the value the
// derivative needs (the input X, or for Sigmoid and Tanh the result Y, which
// is cheaper) and returns dX = dY * f'(.):
//
//   ReluGrad(dY, X)        dY * [x > 0]
//   LeakyReluGrad(dY, X)   dY * (x >= 0 ? 1 : alpha)
//   ClipGrad(dY, X)        dY * [min < x < max]        (ReLU6: min 0, max 6)
//   SigmoidGrad(dY, Y)     dY * y (1 - y)
//   TanhGrad(dY, Y)        dY * (1 - y^2)
//   HardSigmoidGrad(dY, X) dY * alpha * [0 < alpha x + beta < 1]
//   HardSwishGrad(dY, X)   dY * (x < -3 ? 0 : x > 3 ? 1 : x / 3 + 1/2)
//   GeluGrad(dY, X)        dY * (Phi(x) + x phi(x))      (erf form)
//                          tanh form: derivative of x/2 (1 + tanh(u)),
//                          u = sqrt(2/pi) (x + 0.044715 x^3)
//   ErfGrad(dY, X)         dY * 2/sqrt(pi) e^(-x^2)
//
// ActivationGradSum(dY, V){activation, activation_min, activation_max,
//                          keepdims} -> (dX, dB)
//   dX as ReluGrad (activation = "Relu") or ClipGrad (activation = "Clip",
//   bounds in activation_min / activation_max) computes it, and dB[c] = the
//   sum of dX over every axis but 1 (the gradient of a bias added along the
//   channel axis), as ReduceSum over those axes with `keepdims` computes it.
//   The fuse pass makes it from an activation gradient and the bias
//   gradient reduction of its result: one pass over dX instead of two.
//
// ActivationMask(V){activation, activation_min, activation_max} -> M
//   the test of ReluGrad or ClipGrad (as ActivationGradSum's attributes
//   name it) on every element of V, packed: bit i % 8 of M[i / 8], M of u8
//   and ceil(|V| / 8) elements, the unused high bits 0.
// MaskGrad(dY, M){keepdims} -> dX [, dB]
//   dY * bit i of M; with a second result, also ActivationGradSum's dB.
//   The pack-masks pass (passes/PackMasks.cpp) saves M in the forward pass
//   in place of a value only a mask test reads in the backward: one bit
//   per element instead of 32 (f32) or 8 (int8 codes).
//
// At the kinks (x = 0 for ReLU, the clip bounds) the derivative taken is
// the one PyTorch takes, so training matches it bit for bit in direction.
//
// ReluGrad, ClipGrad and ActivationGradSum may read a quantized saved value
// (i8 or u8, one scale and zero point): the test is then that of its real
// values, which the kernels take on the codes (mask_grad_q,
// activation_grad_sum_q: codeInterval, compiler/Quant.h). The backward of a
// quantized model reads a ReLU's mask from the int8 result that way
// (passes/Autodiff.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/Quant.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/math/MathLower.h"
#include "compiler/ops/nn/NnUtils.h"

#include <bit>
#include <cmath>
#include <limits>
#include <optional>

namespace mote {
namespace {

/// Whether \p N reads a quantized saved value (a mask op only).
bool readsCodes(const Node &N) { return N.inType(1).isQuantized(); }

Expected<std::vector<TensorType>> inferActGrad(const Node &N) {
  const TensorType &DY = N.inType(0);
  if (!isFloat(DY.Elem))
    return opError(fmt::format("the gradient must be a float tensor, got {}",
                               DY.str()));
  if (const TensorType &V = N.inType(1); V.isQuantized()) {
    if (N.op() != OpKind::ReluGrad && N.op() != OpKind::ClipGrad &&
        N.op() != OpKind::ActivationGradSum)
      return opError(fmt::format("the saved value {} is quantized; only the "
                                 "masks of ReLU and Clip read codes",
                                 V.str()));
    if ((V.Elem != DType::I8 && V.Elem != DType::U8) || V.Quant->perAxis() ||
        V.Dims != DY.Dims || DY.Elem != DType::F32)
      return opError(fmt::format("the gradient is {} but the saved value is "
                                 "{} (a quantized one must be i8 or u8 of "
                                 "the f32 gradient's shape, one scale)",
                                 DY.str(), V.str()));
    return std::vector<TensorType>{DY};
  }
  if (N.inType(1) != DY)
    return opError(fmt::format("the gradient is {} but the saved value is {}",
                               DY.str(), N.inType(1).str()));
  return std::vector<TensorType>{DY};
}

/// dX[i] = dY[i] * D(v[i], node).
template <class Fn>
Status gradKernel(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out, Fn D) {
  // A quantized saved value is tested on its real values.
  std::optional<Tensor> Real;
  if (In[1]->type().isQuantized())
    Real = dequantizeTensor(*In[1]);
  const Tensor &Saved = Real ? *Real : *In[1];
  return dispatchDType(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if constexpr (std::is_floating_point_v<E>) {
      auto DY = In[0]->data<E>();
      auto V = Saved.data<E>();
      auto DX = Out[0].data<E>();
      for (size_t I = 0; I < DY.size(); ++I)
        DX[I] = E(DY[I] * E(D(V[I], N)));
      return ok();
    } else {
      return opError("float tensors only");
    }
  });
}

#define MOTE_ACT_GRAD_KERNEL(NAME, EXPR)                                       \
  Status kernel##NAME(const Node &N, std::span<const Tensor *const> In,        \
                      std::span<Tensor> Out) {                                 \
    return gradKernel(N, In, Out, [](auto V, const Node &Nd) {                 \
      (void)Nd;                                                                \
      using E = decltype(V);                                                   \
      return E(EXPR);                                                          \
    });                                                                        \
  }

MOTE_ACT_GRAD_KERNEL(ReluGrad, V > E(0) ? E(1) : E(0))
MOTE_ACT_GRAD_KERNEL(LeakyReluGrad,
                     V >= E(0) ? E(1) : E(Nd.attrs().getFloat("alpha", 0.01f)))
MOTE_ACT_GRAD_KERNEL(SigmoidGrad, V *(E(1) - V))
MOTE_ACT_GRAD_KERNEL(TanhGrad, E(1) - V * V)
MOTE_ACT_GRAD_KERNEL(HardSwishGrad,
                     V < E(-3) ? E(0) : (V > E(3) ? E(1) : V / E(3) + E(0.5)))
MOTE_ACT_GRAD_KERNEL(ErfGrad, E(1.1283791670955126) * std::exp(-V * V))

#undef MOTE_ACT_GRAD_KERNEL

Status kernelClipGrad(const Node &N, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  double Lo = N.attrs().has("min") ? double(N.attrs().getFloat("min", 0))
                                   : -std::numeric_limits<double>::infinity();
  double Hi = N.attrs().has("max") ? double(N.attrs().getFloat("max", 0))
                                   : std::numeric_limits<double>::infinity();
  return gradKernel(N, In, Out, [Lo, Hi](auto V, const Node &) {
    using E = decltype(V);
    return double(V) > Lo && double(V) < Hi ? E(1) : E(0);
  });
}

Status kernelHardSigmoidGrad(const Node &N, std::span<const Tensor *const> In,
                             std::span<Tensor> Out) {
  double Alpha = N.attrs().getFloat("alpha", 0.2f);
  double Beta = N.attrs().getFloat("beta", 0.5f);
  return gradKernel(N, In, Out, [Alpha, Beta](auto V, const Node &) {
    using E = decltype(V);
    double Y = Alpha * double(V) + Beta;
    return Y > 0 && Y < 1 ? E(Alpha) : E(0);
  });
}

Status kernelGeluGrad(const Node &N, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  bool Tanh = N.attrs().getString("approximate", "none") == "tanh";
  return gradKernel(N, In, Out, [Tanh](auto V, const Node &) {
    using E = decltype(V);
    double X = double(V);
    if (Tanh) {
      double C = 0.7978845608028654;
      double U = C * (X + 0.044715 * X * X * X);
      double T = std::tanh(U);
      double DU = C * (1 + 3 * 0.044715 * X * X);
      return E(0.5 * (1 + T) + 0.5 * X * (1 - T * T) * DU);
    }
    double Cdf = 0.5 * (1 + std::erf(X * 0.7071067811865476));
    double Pdf = 0.3989422804014327 * std::exp(-0.5 * X * X);
    return E(Cdf + X * Pdf);
  });
}

//===----------------------------------------------------------------------===//
// ActivationGradSum(dY, V) -> (dX, dB)
//===----------------------------------------------------------------------===//

/// The mask test of an ActivationGradSum: ReluGrad's [v > 0] or ClipGrad's
/// [min < v < max] with an absent bound at -inf / +inf.
struct MaskTest {
  bool Clip = false;
  double Lo = 0, Hi = std::numeric_limits<double>::infinity();

  bool pass(double V) const { return Clip ? V > Lo && V < Hi : V > 0; }
};

Expected<MaskTest> maskTest(const Node &N) {
  // fusedActivation also takes "HardSwish", whose gradient is no mask.
  std::string Kind = N.attrs().getString("activation", "");
  if (Kind != "Relu" && Kind != "Clip")
    return opError(fmt::format("activation must be \"Relu\" or \"Clip\", "
                               "got \"{}\"",
                               Kind));
  Expected<FusedActivation> A = fusedActivation(N);
  if (!A)
    return A.takeError();
  MaskTest M;
  M.Clip = Kind == "Clip";
  if (M.Clip) {
    M.Lo = A->HasMin ? A->Min : -std::numeric_limits<double>::infinity();
    M.Hi = A->HasMax ? A->Max : std::numeric_limits<double>::infinity();
  }
  return M;
}

/// The test of \p M on the codes of quantized \p T: Lo < q < Hi
/// (codeInterval; an infinite bound is none).
std::pair<int64_t, int64_t> codesOf(const MaskTest &M, const TensorType &T) {
  auto Bound = [](double V) {
    return std::isfinite(V) ? std::optional<double>(V) : std::nullopt;
  };
  return codeInterval(T, M.Clip ? Bound(M.Lo) : 0.0,
                      M.Clip ? Bound(M.Hi) : std::nullopt);
}

/// The type of the bias gradient of gradient \p DY: its sum over every
/// axis but 1, with the node's `keepdims` (ActivationGradSum, MaskGrad).
/// \p For ends the message of a gradient without a channel axis.
Expected<TensorType> channelSumType(const Node &N, const TensorType &DY,
                                    std::string_view For) {
  const Shape &Dims = DY.Dims;
  if (Dims.size() < 2)
    return opError(fmt::format("the gradient {} needs a channel axis (rank "
                               ">= 2){}",
                               DY.str(), For));
  int64_t KeepDims = N.attrs().getInt("keepdims", 1);
  if (KeepDims != 0 && KeepDims != 1)
    return opError(fmt::format("keepdims must be 0 or 1, got {}", KeepDims));
  Shape Sum = {Dims[1]};
  if (KeepDims) {
    Sum.assign(Dims.size(), 1);
    Sum[1] = Dims[1];
  }
  return TensorType(DY.Elem, Sum);
}

/// DB[c] = the sum of DX over every axis but 1 (DX of dims \p Dims), in
/// double, images then positions.
template <class E>
void channelSums(std::span<const E> DX, const Shape &Dims, std::span<E> DB) {
  int64_t C = Dims[1], Inner = productOf(Dims, 2, Dims.size());
  std::vector<double> Sum(size_t(C), 0.0);
  for (int64_t B = 0; B < Dims[0]; ++B)
    for (int64_t Ch = 0; Ch < C; ++Ch)
      for (int64_t I = 0; I < Inner; ++I)
        Sum[size_t(Ch)] += double(DX[size_t((B * C + Ch) * Inner + I)]);
  for (int64_t Ch = 0; Ch < C; ++Ch)
    DB[size_t(Ch)] = E(Sum[size_t(Ch)]);
}

Expected<std::vector<TensorType>> inferActivationGradSum(const Node &N) {
  if (Expected<MaskTest> M = maskTest(N); !M)
    return M.takeError();
  Expected<std::vector<TensorType>> DX = inferActGrad(N);
  if (!DX)
    return DX.takeError();
  Expected<TensorType> Sum = channelSumType(N, N.inType(0), "");
  if (!Sum)
    return Sum.takeError();
  DX->push_back(*Sum);
  return DX;
}

Status kernelActivationGradSum(const Node &N,
                               std::span<const Tensor *const> In,
                               std::span<Tensor> Out) {
  Expected<MaskTest> M = maskTest(N);
  if (!M)
    return M.takeError();
  std::optional<Tensor> Real;
  if (In[1]->type().isQuantized())
    Real = dequantizeTensor(*In[1]);
  const Tensor &Saved = Real ? *Real : *In[1];
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto DY = In[0]->data<E>();
    auto V = Saved.data<E>();
    auto DX = Out[0].data<E>();
    for (size_t K = 0; K < DY.size(); ++K)
      DX[K] = E(DY[K] * (M->pass(double(V[K])) ? E(1) : E(0)));
    channelSums<E>(DX, In[0]->shape(), Out[1].data<E>());
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// ActivationMask(V) -> M, MaskGrad(dY, M) -> dX [, dB]
//===----------------------------------------------------------------------===//

/// Bytes of the packed mask of \p Elements values.
int64_t maskBytes(int64_t Elements) { return (Elements + 7) / 8; }

Expected<std::vector<TensorType>> inferActivationMask(const Node &N) {
  if (Expected<MaskTest> M = maskTest(N); !M)
    return M.takeError();
  const TensorType &V = N.inType(0);
  if (V.isQuantized()) {
    if ((V.Elem != DType::I8 && V.Elem != DType::U8) || V.Quant->perAxis())
      return opError(fmt::format("a quantized value must be i8 or u8 with "
                                 "one scale, got {}",
                                 V.str()));
  } else if (!isFloat(V.Elem)) {
    return opError(fmt::format("the value must be a float or quantized "
                               "tensor, got {}",
                               V.str()));
  }
  return std::vector<TensorType>{
      TensorType(DType::U8, Shape{maskBytes(V.numElements())})};
}

Status kernelActivationMask(const Node &N, std::span<const Tensor *const> In,
                            std::span<Tensor> Out) {
  Expected<MaskTest> M = maskTest(N);
  if (!M)
    return M.takeError();
  std::optional<Tensor> Real;
  if (In[0]->type().isQuantized())
    Real = dequantizeTensor(*In[0]);
  const Tensor &Saved = Real ? *Real : *In[0];
  auto Bytes = Out[0].data<uint8_t>();
  std::fill(Bytes.begin(), Bytes.end(), uint8_t(0));
  return dispatchFloat(Saved.dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto V = Saved.data<E>();
    for (size_t I = 0; I < V.size(); ++I)
      if (M->pass(double(V[I])))
        Bytes[I / 8] = uint8_t(Bytes[I / 8] | (1u << (I % 8)));
    return ok();
  });
}

Expected<std::vector<TensorType>> inferMaskGrad(const Node &N) {
  const TensorType &DY = N.inType(0), &M = N.inType(1);
  if (!isFloat(DY.Elem) || DY.isQuantized())
    return opError(fmt::format("the gradient must be a float tensor, got {}",
                               DY.str()));
  if (M.Elem != DType::U8 || M.isQuantized() || M.Dims.size() != 1 ||
      M.Dims[0] != maskBytes(DY.numElements()))
    return opError(fmt::format("the mask must be u8[{}] (one bit per element "
                               "of the gradient {}), got {}",
                               maskBytes(DY.numElements()), DY.str(),
                               M.str()));
  std::vector<TensorType> R{DY};
  if (N.numOutputs() == 2) {
    Expected<TensorType> Sum = channelSumType(N, DY, " for the bias gradient");
    if (!Sum)
      return Sum.takeError();
    R.push_back(*Sum);
  }
  return R;
}

Status kernelMaskGrad(const Node &, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  auto Bytes = In[1]->data<uint8_t>();
  auto Bit = [&](int64_t I) { return (Bytes[size_t(I / 8)] >> (I % 8)) & 1; };
  return dispatchFloat(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    auto DY = In[0]->data<E>();
    auto DX = Out[0].data<E>();
    for (size_t I = 0; I < DY.size(); ++I)
      DX[I] = E(DY[I] * (Bit(int64_t(I)) ? E(1) : E(0)));
    if (Out.size() == 2)
      channelSums<E>(DX, In[0]->shape(), Out[1].data<E>());
    return ok();
  });
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::<op>_grad<T>(params, dY, v, dX) (activation_grad.h).
//===----------------------------------------------------------------------===//

constexpr char GradHeader[] = "mote_rt/activation_grad.h";

/// Starts the call of \p Kernel with UnaryP {N}; returns N.
Expected<int64_t> lowerGradCall(const Node &N, KernelCall &C,
                                std::string Kernel) {
  DType T = N.inType(0).Elem;
  if (Status S = requireKernelDType(T, FloatKernelDTypes, Kernel); !S)
    return S.takeError();
  return lowerElementwise(N, C, GradHeader, std::move(Kernel), {T});
}

template <const char *Kernel> Status lowerPlain(const Node &N, KernelCall &C) {
  Expected<int64_t> Count = lowerGradCall(N, C, Kernel);
  return Count ? ok() : Count.takeError();
}

/// The mask of a ReluGrad or ClipGrad reading codes:
/// mask_grad_q<T, TV>(MaskQP{N, lo, hi}, dY, q, dX), q passing when lo < q
/// < hi.
Status lowerMaskGradCodes(const Node &N, KernelCall &C,
                          std::optional<double> Below,
                          std::optional<double> Above) {
  Expected<int64_t> Count = lowerGradCall(N, C, "mask_grad_q");
  if (!Count)
    return Count.takeError();
  auto [Lo, Hi] = codeInterval(N.inType(1), Below, Above);
  C.TypeArgs = {N.inType(0).Elem, N.inType(1).Elem};
  C.setParams(kparams::MaskQP{.N = *Count, .Lo = Lo, .Hi = Hi});
  return ok();
}

constexpr char ReluGradName[] = "relu_grad", SigmoidGradName[] = "sigmoid_grad",
               TanhGradName[] = "tanh_grad",
               HardSwishGradName[] = "hard_swish_grad",
               ErfGradName[] = "erf_grad";

/// ReluGrad: relu_grad<T>(UnaryP{N}, dY, x, dX), or the mask on codes.
Status lowerReluGrad(const Node &N, KernelCall &C) {
  if (readsCodes(N))
    return lowerMaskGradCodes(N, C, 0.0, std::nullopt);
  return lowerPlain<ReluGradName>(N, C);
}

// LeakyReluP{N, alpha}
Status lowerLeakyReluGrad(const Node &N, KernelCall &C) {
  Expected<int64_t> Count = lowerGradCall(N, C, "leaky_relu_grad");
  if (!Count)
    return Count.takeError();
  C.setParams(kparams::LeakyReluP{
      .N = *Count, .Alpha = N.attrs().getFloat("alpha", 0.01f)});
  return ok();
}

// ClipP{N, has min, has max, min, max}; an absent bound is -inf / +inf in
// the kernel as here. Or the mask on codes.
Status lowerClipGrad(const Node &N, KernelCall &C) {
  if (readsCodes(N)) {
    const AttrMap &A = N.attrs();
    auto Bound = [&](const char *Name) -> std::optional<double> {
      if (!A.has(Name))
        return std::nullopt;
      return double(A.getFloat(Name, 0));
    };
    return lowerMaskGradCodes(N, C, Bound("min"), Bound("max"));
  }
  Expected<int64_t> Count = lowerGradCall(N, C, "clip_grad");
  if (!Count)
    return Count.takeError();
  C.setParams(clipParams(N, *Count));
  return ok();
}

// ActGradSumP{batch, channels, inner size, clip, has min, has max, min,
// max}: dims 0, 1 and the product of the rest.
Status lowerActivationGradSum(const Node &N, KernelCall &C) {
  Expected<MaskTest> M = maskTest(N);
  if (!M)
    return M.takeError();
  bool Codes = readsCodes(N);
  if (Expected<int64_t> Count = lowerGradCall(
          N, C, Codes ? "activation_grad_sum_q" : "activation_grad_sum");
      !Count)
    return Count.takeError();
  const Shape &Dims = N.inType(0).Dims;
  const AttrMap &A = N.attrs();
  kparams::ActGradSumP P{.Batch = Dims[0],
                         .C = Dims[1],
                         .Inner = productOf(Dims, 2, Dims.size()),
                         .Clip = M->Clip,
                         .HasMin = A.has("activation_min"),
                         .HasMax = A.has("activation_max"),
                         .Min = A.getFloat("activation_min", 0),
                         .Max = A.getFloat("activation_max", 0)};
  if (Codes) {
    // The test on codes: Min < q < Max, both bounds present.
    auto [Lo, Hi] = codesOf(*M, N.inType(1));
    C.TypeArgs = {N.inType(0).Elem, N.inType(1).Elem};
    P.Clip = P.HasMin = P.HasMax = 1;
    P.Min = float(Lo);
    P.Max = float(Hi);
  }
  C.setParams(P);
  return ok();
}

/// ActivationMask: mask_pack<T>(ClipP{N, ...}, v, m) with ReLU as the
/// lower bound 0 alone, or mask_pack_q<TV>(MaskQP{N, lo, hi}, q, m) on
/// codes. N counts the values, not the mask's bytes.
Status lowerActivationMask(const Node &N, KernelCall &C) {
  Expected<MaskTest> M = maskTest(N);
  if (!M)
    return M.takeError();
  const TensorType &V = N.inType(0);
  int64_t Count = V.numElements();
  if (Count > int64_t(INT32_MAX))
    return opError(fmt::format("{} has more than 2^31 - 1 elements, the "
                               "kernels' 32-bit index limit",
                               V.str()));
  C.Header = GradHeader;
  if (V.isQuantized()) {
    auto [Lo, Hi] = codesOf(*M, V);
    C.Kernel = "mask_pack_q";
    C.TypeArgs = {V.Elem};
    C.setParams(kparams::MaskQP{.N = Count, .Lo = Lo, .Hi = Hi});
    return ok();
  }
  if (Status S = requireKernelDType(V.Elem, FloatKernelDTypes, "mask_pack");
      !S)
    return S;
  C.Kernel = "mask_pack";
  C.TypeArgs = {V.Elem};
  bool Lo = !M->Clip || std::isfinite(M->Lo);
  bool Hi = M->Clip && std::isfinite(M->Hi);
  C.setParams(kparams::ClipP{.N = Count,
                             .HasMin = Lo,
                             .HasMax = Hi,
                             .Min = Lo ? float(M->Clip ? M->Lo : 0.0) : 0.0f,
                             .Max = Hi ? float(M->Hi) : 0.0f});
  return ok();
}

/// MaskGrad: mask_grad<T>(UnaryP{N}, dY, m, dX), or with the bias gradient
/// mask_grad_sum<T>(ActGradSumP{batch, channels, inner, ...}, dY, m, dX,
/// dB).
Status lowerMaskGrad(const Node &N, KernelCall &C) {
  bool Sum = N.numOutputs() == 2;
  Expected<int64_t> Count =
      lowerGradCall(N, C, Sum ? "mask_grad_sum" : "mask_grad");
  if (!Count)
    return Count.takeError();
  if (Sum) {
    const Shape &Dims = N.inType(0).Dims;
    C.setParams(kparams::ActGradSumP{.Batch = Dims[0],
                                     .C = Dims[1],
                                     .Inner = productOf(Dims, 2, Dims.size()),
                                     .Clip = 0,
                                     .HasMin = 0,
                                     .HasMax = 0,
                                     .Min = 0.0f,
                                     .Max = 0.0f});
  }
  return ok();
}

/// The floats in the order of their values as integers (-0 and +0 both 0),
/// and back.
int64_t floatKey(float V) {
  uint32_t B = std::bit_cast<uint32_t>(V);
  return B & 0x80000000u ? -int64_t(B & 0x7FFFFFFFu) : int64_t(B);
}
float keyFloat(int64_t K) {
  return std::bit_cast<float>(K < 0 ? uint32_t(-K) | 0x80000000u : uint32_t(K));
}

/// The first key in [Lo, Hi] where the nondecreasing predicate \p F holds,
/// or Hi + 1.
template <class Fn> int64_t firstKey(int64_t Lo, int64_t Hi, Fn F) {
  while (Lo <= Hi) {
    int64_t Mid = Lo + (Hi - Lo) / 2;
    if (F(Mid))
      Hi = Mid - 1;
    else
      Lo = Mid + 1;
  }
  return Lo;
}

/// The open interval (Lo, Hi) of the floats x for which the interpreter's
/// test 0 < alpha x + beta < 1, evaluated in double, holds (Lo = +inf,
/// Hi = -inf if there are none). Each half of the test is monotone in x, so
/// the set is an interval and binary searches over the floats find its
/// ends; the float kernel then agrees with the interpreter for every x.
std::pair<float, float> hardSigmoidInterval(float Alpha, float Beta) {
  const float Inf = std::numeric_limits<float>::infinity();
  double A = Alpha, B = Beta;
  auto Above0 = [&](int64_t K) { return A * double(keyFloat(K)) + B > 0; };
  auto Below1 = [&](int64_t K) { return A * double(keyFloat(K)) + B < 1; };
  if (A == 0) // alpha x is 0, or NaN at x = +-inf
    return B > 0 && B < 1 ? std::pair(-Inf, Inf) : std::pair(Inf, -Inf);
  int64_t KMin = floatKey(-Inf), KMax = floatKey(Inf);
  int64_t First, Last;
  if (A > 0) {
    First = firstKey(KMin, KMax, Above0);
    Last = firstKey(KMin, KMax, [&](int64_t K) { return !Below1(K); }) - 1;
  } else {
    First = firstKey(KMin, KMax, Below1);
    Last = firstKey(KMin, KMax, [&](int64_t K) { return !Above0(K); }) - 1;
  }
  if (First > Last || std::isnan(A) || std::isnan(B))
    return {Inf, -Inf};
  // First > KMin and Last < KMax: alpha x + beta is +-inf at x = +-inf.
  return {keyFloat(First - 1), keyFloat(Last + 1)};
}

// HardSigmoidGradP{N, alpha, beta, lo, hi}: lo and hi bound the passing
// floats (see hardSigmoidInterval); the double kernel uses alpha and beta.
Status lowerHardSigmoidGrad(const Node &N, KernelCall &C) {
  Expected<int64_t> Count = lowerGradCall(N, C, "hard_sigmoid_grad");
  if (!Count)
    return Count.takeError();
  float Alpha = N.attrs().getFloat("alpha", 0.2f);
  float Beta = N.attrs().getFloat("beta", 0.5f);
  std::pair<float, float> Pass = {0.0f, 0.0f};
  if (N.inType(0).Elem == DType::F32)
    Pass = hardSigmoidInterval(Alpha, Beta);
  C.setParams(kparams::HardSigmoidGradP{.N = *Count,
                                        .Alpha = Alpha,
                                        .Beta = Beta,
                                        .Lo = Pass.first,
                                        .Hi = Pass.second});
  return ok();
}

// UnaryP{N}; the erf and the tanh forms are two kernels.
Status lowerGeluGrad(const Node &N, KernelCall &C) {
  std::string A = N.attrs().getString("approximate", "none");
  if (A != "none" && A != "tanh")
    return opError(fmt::format("approximate must be \"none\" or \"tanh\", "
                               "got \"{}\"",
                               A));
  Expected<int64_t> Count =
      lowerGradCall(N, C, A == "tanh" ? "gelu_tanh_grad" : "gelu_grad");
  return Count ? ok() : Count.takeError();
}

constexpr AttrSpec LeakyAttrs[] = {{"alpha", AttrKind::Float}};
constexpr AttrSpec ClipAttrs[] = {{"min", AttrKind::Float},
                                  {"max", AttrKind::Float}};
constexpr AttrSpec HardSigmoidAttrs[] = {{"alpha", AttrKind::Float},
                                         {"beta", AttrKind::Float}};
constexpr AttrSpec GeluAttrs[] = {{"approximate", AttrKind::String}};
constexpr std::span<const AttrSpec> NoAttrs = {};
constexpr AttrSpec ActivationGradSumAttrs[] = {
    {"activation", AttrKind::String, /*Required=*/true},
    {"activation_max", AttrKind::Float},
    {"activation_min", AttrKind::Float},
    {"keepdims", AttrKind::Int},
};
constexpr AttrSpec ActivationMaskAttrs[] = {
    {"activation", AttrKind::String, /*Required=*/true},
    {"activation_max", AttrKind::Float},
    {"activation_min", AttrKind::Float},
};
constexpr AttrSpec MaskGradAttrs[] = {{"keepdims", AttrKind::Int}};

} // namespace

#define MOTE_ACT_GRAD(NAME, ATTRS, SUMMARY, LOWER)                             \
  extern const OpDef OpDef_##NAME = {                                          \
      .Name = #NAME,                                                           \
      .MinInputs = 2,                                                          \
      .MaxInputs = 2,                                                          \
      .MinOutputs = 1,                                                         \
      .MaxOutputs = 1,                                                         \
      .Attrs = ATTRS,                                                          \
      .Infer = inferActGrad,                                                   \
      .Kernel = kernel##NAME,                                                  \
      .Macs = nullptr,                                                         \
      .Grad = nullptr,                                                         \
      .Flags = OpFlagElementwise | OpFlagNotDifferentiable | OpFlagInPlace |   \
               OpFlagQuantAware,                                               \
      .Summary = SUMMARY,                                                      \
      .Lower = LOWER,                                                          \
  };

MOTE_ACT_GRAD(ReluGrad, NoAttrs, "dY * [x > 0]", lowerReluGrad)
MOTE_ACT_GRAD(LeakyReluGrad, LeakyAttrs, "dY * (x >= 0 ? 1 : alpha)",
              lowerLeakyReluGrad)
MOTE_ACT_GRAD(ClipGrad, ClipAttrs, "dY * [min < x < max]", lowerClipGrad)
MOTE_ACT_GRAD(SigmoidGrad, NoAttrs, "dY * y (1 - y), from the result y",
              lowerPlain<SigmoidGradName>)
MOTE_ACT_GRAD(TanhGrad, NoAttrs, "dY * (1 - y^2), from the result y",
              lowerPlain<TanhGradName>)
MOTE_ACT_GRAD(HardSigmoidGrad, HardSigmoidAttrs,
              "dY * alpha * [0 < alpha x + beta < 1]", lowerHardSigmoidGrad)
MOTE_ACT_GRAD(HardSwishGrad, NoAttrs,
              "dY * (x/3 + 1/2 on [-3, 3], 0 / 1 outside)",
              lowerPlain<HardSwishGradName>)
MOTE_ACT_GRAD(GeluGrad, GeluAttrs, "dY * (Phi(x) + x phi(x))", lowerGeluGrad)
MOTE_ACT_GRAD(ErfGrad, NoAttrs, "dY * 2/sqrt(pi) e^(-x^2)",
              lowerPlain<ErfGradName>)

#undef MOTE_ACT_GRAD

extern const OpDef OpDef_ActivationGradSum = {
    .Name = "ActivationGradSum",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 2,
    .MaxOutputs = 2,
    .Attrs = ActivationGradSumAttrs,
    .Infer = inferActivationGradSum,
    .Kernel = kernelActivationGradSum,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagInPlace | OpFlagQuantAware,
    .Summary = "ReluGrad or ClipGrad (attribute activation) and the sum of "
               "its result over every axis but 1 (a bias gradient) in one "
               "pass",
    .Lower = lowerActivationGradSum,
};

extern const OpDef OpDef_ActivationMask = {
    .Name = "ActivationMask",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = ActivationMaskAttrs,
    .Infer = inferActivationMask,
    .Kernel = kernelActivationMask,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "the test of ReluGrad or ClipGrad (attribute activation) on "
               "each element, packed one bit per element into u8",
    .Lower = lowerActivationMask,
};

extern const OpDef OpDef_MaskGrad = {
    .Name = "MaskGrad",
    .MinInputs = 2,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 2,
    .Attrs = MaskGradAttrs,
    .Infer = inferMaskGrad,
    .Kernel = kernelMaskGrad,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagNotDifferentiable | OpFlagInPlace,
    .Summary = "dY * bit i of a packed mask (ActivationMask); with a second "
               "result also its sum over every axis but 1 (a bias gradient)",
    .Lower = lowerMaskGrad,
};

} // namespace mote
