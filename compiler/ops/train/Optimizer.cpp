//===- Optimizer.cpp - Parameter update ops -------------------------------===//
//
// The update ops add-optimizer inserts. Each takes the parameter X and its
// gradient G and returns the new X (and new optimizer state); a graph state
// update writes the results back, in place on a device. Semantics follow the
// ONNX preview-training ops (ai.onnx.preview.training Momentum and Adam),
// with the learning rate as an attribute:
//
//   SgdUpdate:      g' = G + norm_coefficient * X;   X' = X - lr * g'
//   MomentumUpdate: g' = G + norm_coefficient * X;
//                   V' = alpha * V + (T > 0 ? beta : 1) * g'
//                   X' = X - lr * V'                       (mode standard)
//                   X' = X - lr * (g' + alpha * V')        (mode nesterov)
//   AdamUpdate:     g' = G + norm_coefficient * X
//                   V' = alpha * V + (1 - alpha) * g'
//                   H' = beta * H + (1 - beta) * g'^2
//                   r  = T > 0 ? lr * sqrt(1 - beta^T) / (1 - alpha^T) : lr
//                   X' = (1 - norm_coefficient_post) * (X - r V' / (sqrt(H') + epsilon))
//
// Sparse update: with `channels = k`, only the first k slices of X along
// `axis` (its output channels) are updated; G then has extent k along
// `axis` (the gradient was computed for the kept slice only) or the full
// extent (then only its first k slices are read). Everything else of X and
// of the state passes through unchanged.
//
// A quantized parameter (an int8 weight, an int32 bias: SgdUpdate and
// MomentumUpdate only) has an f32 gradient with respect to its real value
// (compiler/GradContext.h) and moves by whole integer steps:
//
//   r = real value of X;  g' = G + norm_coefficient * r;  gi = g' * K[c]
//   SGD: d = lr * gi;  momentum: V' = alpha V + beta gi (V f32, in steps),
//        d = lr V' (or lr (gi + alpha V'), nesterov)
//   X' = saturate(X - round_half_even(d))
//
// with K[c] = 1 / scale[c] under `scaling = "qas"` (the default):
// quantization-aware scaling, which makes the step that of the float
// weight, requantized with its own scale (TTE, "On-Device Training Under
// 256KB Memory": the gradient of the integer, g' * scale, times scale^-2),
// or K[c] = scale[c] under "none" (SGD on the integers themselves, the
// baseline QAS corrects). The arithmetic is float, operation for operation
// as runtime-stub/mote_rt/optim.h has it.
//
// Accumulated gradients (--accumulate N, passes/AddOptimizer.cpp): an
// update with `every = N > 1` takes the accumulation count C (an i64
// scalar: the micro-batches summed so far) as its last input, after the
// optional step count, and applies only when C == N - 1; at every other
// count X and the state pass through unchanged. Its gradient is then the
// accumulator GradAccumulate keeps:
//
//   GradAccumulate(A, G, C):  A' = (C == 0 ? 0 : A) + scale * G
//
// with scale = 1/N, so the update applies the mean of the N gradients;
// AccumulateCount advances the count (and Adam's step count T when the
// update applied):
//
//   AccumulateCount(C, [T]):  C' = C + 1 == every ? 0 : C + 1
//                             T' = T + (C + 1 == every ? 1 : 0)
//
// (no integer division: on some targets that is a run-time call). For
// a partial-channel update A holds the trained slices only (`channels` on
// `axis`, as the update's), and G has that extent or the full one (then its
// first slices are read).
//
// Lowering: mote_rt::sgd_update / momentum_update / adam_update<T>
// (runtime-stub/mote_rt/optim.h). The generated code runs them in place
// (new parameter and state written over the old buffers), which the kernels
// support.
//
//===----------------------------------------------------------------------===//

#include "compiler/Quant.h"
#include "compiler/ops/OpUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"
#include "compiler/ops/train/Optimizer.h"

#include <algorithm>
#include <cmath>

namespace mote {
namespace {

constexpr AttrSpec SgdAttrs[] = {{"lr", AttrKind::Float, true},
                                 {"norm_coefficient", AttrKind::Float},
                                 {"axis", AttrKind::Int},
                                 {"channels", AttrKind::Int},
                                 {"scaling", AttrKind::String},
                                 {"every", AttrKind::Int}};
constexpr AttrSpec MomentumAttrs[] = {
    {"lr", AttrKind::Float, true}, {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},     {"mode", AttrKind::String},
    {"norm_coefficient", AttrKind::Float}, {"axis", AttrKind::Int},
    {"channels", AttrKind::Int},   {"scaling", AttrKind::String},
    {"every", AttrKind::Int}};
constexpr AttrSpec AdamAttrs[] = {
    {"lr", AttrKind::Float, true},
    {"alpha", AttrKind::Float},
    {"beta", AttrKind::Float},
    {"epsilon", AttrKind::Float},
    {"norm_coefficient", AttrKind::Float},
    {"norm_coefficient_post", AttrKind::Float},
    {"axis", AttrKind::Int},
    {"channels", AttrKind::Int},
    {"every", AttrKind::Int}};
constexpr AttrSpec CountAttrs[] = {{"every", AttrKind::Int, true}};
constexpr AttrSpec AccumulateAttrs[] = {{"scale", AttrKind::Float},
                                        {"axis", AttrKind::Int},
                                        {"channels", AttrKind::Int}};

/// The input index of an update's accumulation count (the last slot).
size_t countIndex(OpKind K) {
  return K == OpKind::SgdUpdate ? 2 : K == OpKind::MomentumUpdate ? 4 : 5;
}

/// Whether update \p N applies at this step: not accumulated, or its count
/// input is every - 1.
bool updateDue(const Node &N, std::span<const Tensor *const> In) {
  int64_t Every = N.attrs().getInt("every", 1);
  size_t C = countIndex(N.op());
  return Every <= 1 || C >= In.size() || !In[C] ||
         In[C]->getAsInt(0) == Every - 1;
}

/// An update that is not due: X and the \p NumState states unchanged.
Status passThroughUpdate(std::span<const Tensor *const> In,
                         std::span<Tensor> Out, size_t NumState) {
  Out[0] = *In[0];
  for (size_t I = 0; I < NumState; ++I)
    Out[1 + I] = *In[2 + I];
  return ok();
}

/// Checks X, G (and the state inputs, same type as X) and the channel
/// slice; returns the result types: X's type, once per result.
Expected<std::vector<TensorType>> inferUpdate(const Node &N, size_t NumState,
                                              size_t NumResults) {
  const TensorType &X = N.inType(0);
  bool Quantized = X.isQuantized();
  if (!isFloat(X.Elem) && !Quantized)
    return opError(fmt::format("the parameter must be a float or quantized "
                               "tensor, got {}",
                               X.str()));
  // A quantized parameter's gradient and state are f32 (real units).
  const TensorType Real = Quantized ? TensorType(DType::F32, X.Dims) : X;
  std::string Scaling = N.attrs().getString("scaling", "qas");
  if (N.attrs().has("scaling") && !Quantized)
    return opError("scaling applies to quantized parameters only");
  if (Scaling != "qas" && Scaling != "none")
    return opError(fmt::format("scaling must be \"qas\" or \"none\", got "
                               "\"{}\"",
                               Scaling));
  if (Quantized && N.op() == OpKind::AdamUpdate)
    return opError(fmt::format("Adam does not update the quantized parameter "
                               "{}; use SGD or momentum",
                               X.str()));
  for (size_t I = 2; I < 2 + NumState; ++I)
    if (N.inType(I) != Real)
      return opError(fmt::format("optimizer state (input {}) is {} but the "
                                 "parameter is {}",
                                 I, N.inType(I).str(), X.str()));
  int64_t Rank = int64_t(X.rank());
  int64_t Axis = N.attrs().getInt("axis", 0);
  int64_t Channels = N.attrs().getInt("channels", -1);
  const TensorType &G = N.inType(1);
  if (G.Elem != Real.Elem)
    return opError(fmt::format("gradient is {} but the parameter is {}",
                               G.str(), X.str()));
  if (Channels == -1) {
    if (G.Dims != X.Dims)
      return opError(fmt::format("gradient is {} but the parameter is {}",
                                 G.str(), X.str()));
  } else {
    if (Rank == 0 || Axis < 0 || Axis >= Rank)
      return opError(fmt::format("axis {} is out of range for {}", Axis,
                                 X.str()));
    if (Channels < 1 || Channels > X.Dims[size_t(Axis)])
      return opError(fmt::format("channels {} must be in [1, {}]", Channels,
                                 X.Dims[size_t(Axis)]));
    Shape Sliced = X.Dims;
    Sliced[size_t(Axis)] = Channels;
    if (G.Dims != X.Dims && G.Dims != Sliced)
      return opError(fmt::format("gradient is {} but the parameter is {} "
                                 "(channels {} on axis {})",
                                 G.str(), X.str(), Channels, Axis));
  }
  for (size_t I = 2 + NumState; I < N.numInputs(); ++I) {
    if (!N.input(I))
      continue;
    const TensorType &T = N.inType(I);
    if (T.Elem != DType::I64 || T.numElements() != 1)
      return opError(fmt::format("the {} count must be an i64 scalar, got {}",
                                 I == countIndex(N.op()) ? "accumulation"
                                                         : "step",
                                 T.str()));
  }
  int64_t Every = N.attrs().getInt("every", 1);
  size_t Count = countIndex(N.op());
  bool HasCount = Count < N.numInputs() && N.input(Count);
  if (Every < 1)
    return opError(fmt::format("every must be at least 1, got {}", Every));
  if (Every > 1 && !HasCount)
    return opError(fmt::format("every = {} needs the accumulation count as "
                               "input {}",
                               Every, Count));
  if (Every == 1 && HasCount)
    return opError(fmt::format("input {} (the accumulation count) needs "
                               "every > 1",
                               Count));
  std::vector<TensorType> R(NumResults, Real);
  R[0] = X;
  return R;
}

Expected<std::vector<TensorType>> inferSgd(const Node &N) {
  return inferUpdate(N, 0, 1);
}
Expected<std::vector<TensorType>> inferMomentum(const Node &N) {
  std::string Mode = N.attrs().getString("mode", "standard");
  if (Mode != "standard" && Mode != "nesterov")
    return opError(fmt::format("mode must be \"standard\" or \"nesterov\", "
                               "got \"{}\"",
                               Mode));
  return inferUpdate(N, 1, 2);
}
Expected<std::vector<TensorType>> inferAdam(const Node &N) {
  return inferUpdate(N, 2, 3);
}

/// Calls F(XIndex, GIndex) for every element of X that updates.
template <class Fn> void forEachUpdated(const AttrMap &A, const Tensor &X,
                                       const Tensor &G, Fn F) {
  int64_t Channels = A.getInt("channels", -1);
  if (Channels == -1) {
    for (int64_t I = 0; I < X.numElements(); ++I)
      F(I, I);
    return;
  }
  size_t Axis = size_t(A.getInt("axis", 0));
  const Shape &XS = X.shape();
  int64_t Outer = 1, Inner = 1;
  for (size_t D = 0; D < Axis; ++D)
    Outer *= XS[D];
  for (size_t D = Axis + 1; D < XS.size(); ++D)
    Inner *= XS[D];
  int64_t GExtent = G.shape()[Axis];
  for (int64_t O = 0; O < Outer; ++O)
    for (int64_t C = 0; C < Channels; ++C)
      for (int64_t I = 0; I < Inner; ++I)
        F((O * XS[Axis] + C) * Inner + I, (O * GExtent + C) * Inner + I);
}

int64_t stepOf(std::span<const Tensor *const> In, size_t I) {
  return I < In.size() && In[I] ? In[I]->getAsInt(0) : 1;
}

/// The constants of the update of quantized parameter type \p X (QStepP).
struct QStepConsts {
  QuantLayout L;
  std::vector<float> Scale, K;
  std::vector<int32_t> ZeroPoint;
  int64_t Lo, Hi;
};

QStepConsts qstepConsts(const TensorType &X, const AttrMap &A) {
  QStepConsts C{quantLayout(X), X.Quant->Scale, {}, X.Quant->ZeroPoint,
                quantMin(X.Elem), quantMax(X.Elem)};
  bool Qas = A.getString("scaling", "qas") == "qas";
  for (float S : C.Scale)
    C.K.push_back(Qas ? 1.0f / S : S);
  return C;
}

/// One element of a quantized update, as optim.h's QStep: the gradient in
/// integer steps, and the value moved by -d.
struct QElement {
  const QStepConsts &C;
  int64_t channel(int64_t I) const { return (I / C.L.Inner) % C.L.Channels; }
  float steps(int64_t Q, float G, float Norm, int64_t Ch) const {
    const float R = dequantizeValue(Q, C.Scale[size_t(Ch)],
                                    C.ZeroPoint[size_t(Ch)]);
    const float Decay = Norm * R;
    const float GD = G + Decay;
    return GD * C.K[size_t(Ch)];
  }
  int64_t apply(int64_t Q, float D) const {
    D = std::isnan(D) ? 0.0f : std::clamp(D, -0x1p22f, 0x1p22f);
    return std::clamp(Q - int64_t(std::nearbyint(D)), C.Lo, C.Hi);
  }
};

Status applyQuantizedSgd(const AttrMap &A, std::span<const Tensor *const> In,
                         std::span<Tensor> Out) {
  const float Lr = A.getFloat("lr", 0), Norm = A.getFloat("norm_coefficient", 0);
  QStepConsts C = qstepConsts(In[0]->type(), A);
  QElement E{C};
  auto G = In[1]->data<float>();
  Out[0] = *In[0];
  forEachUpdated(A, *In[0], *In[1], [&](int64_t XI, int64_t GI) {
    int64_t Q = In[0]->getAsInt(XI);
    const float S = E.steps(Q, G[size_t(GI)], Norm, E.channel(XI));
    const float D = Lr * S;
    Out[0].setFromDouble(XI, double(E.apply(Q, D)));
  });
  return ok();
}

Status applyQuantizedMomentum(const AttrMap &A,
                              std::span<const Tensor *const> In,
                              std::span<Tensor> Out) {
  const float Lr = A.getFloat("lr", 0), Norm = A.getFloat("norm_coefficient", 0);
  const float Alpha = A.getFloat("alpha", 0.9f);
  const float Beta = stepOf(In, 3) <= 0 ? 1.0f : A.getFloat("beta", 1.0f);
  bool Nesterov = A.getString("mode", "standard") == "nesterov";
  QStepConsts C = qstepConsts(In[0]->type(), A);
  QElement E{C};
  auto G = In[1]->data<float>();
  auto V = In[2]->data<float>();
  Out[0] = *In[0];
  Out[1] = *In[2];
  auto VOut = Out[1].data<float>();
  forEachUpdated(A, *In[0], *In[1], [&](int64_t XI, int64_t GI) {
    int64_t Q = In[0]->getAsInt(XI);
    const float S = E.steps(Q, G[size_t(GI)], Norm, E.channel(XI));
    const float Keep = Alpha * V[size_t(XI)];
    const float Add = Beta * S;
    const float VV = Keep + Add;
    float D;
    if (Nesterov) {
      const float Ahead = Alpha * VV;
      const float Sum = S + Ahead;
      D = Lr * Sum;
    } else {
      D = Lr * VV;
    }
    VOut[size_t(XI)] = VV;
    Out[0].setFromDouble(XI, double(E.apply(Q, D)));
  });
  return ok();
}

} // namespace

Status applySgdUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  if (In[0]->type().isQuantized())
    return applyQuantizedSgd(A, In, Out);
  double Lr = A.getFloat("lr", 0);
  double Norm = A.getFloat("norm_coefficient", 0);
  Out[0] = *In[0];
  forEachUpdated(A, *In[0], *In[1], [&](int64_t XI, int64_t GI) {
    double X = In[0]->getAsDouble(XI);
    double G = In[1]->getAsDouble(GI) + Norm * X;
    Out[0].setFromDouble(XI, X - Lr * G);
  });
  return ok();
}

Status applyMomentumUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                           std::span<Tensor> Out) {
  if (In[0]->type().isQuantized())
    return applyQuantizedMomentum(A, In, Out);
  double Lr = A.getFloat("lr", 0);
  double Alpha = A.getFloat("alpha", 0.9f);
  double Beta = A.getFloat("beta", 1.0f);
  double Norm = A.getFloat("norm_coefficient", 0);
  bool Nesterov = A.getString("mode", "standard") == "nesterov";
  if (stepOf(In, 3) <= 0)
    Beta = 1;
  Out[0] = *In[0];
  Out[1] = *In[2];
  forEachUpdated(A, *In[0], *In[1], [&](int64_t XI, int64_t GI) {
    double X = In[0]->getAsDouble(XI);
    double G = In[1]->getAsDouble(GI) + Norm * X;
    double V = Alpha * In[2]->getAsDouble(XI) + Beta * G;
    Out[1].setFromDouble(XI, V);
    Out[0].setFromDouble(XI, Nesterov ? X - Lr * (G + Alpha * V) : X - Lr * V);
  });
  return ok();
}

Status applyAdamUpdate(const AttrMap &A, std::span<const Tensor *const> In,
                       std::span<Tensor> Out) {
  double Lr = A.getFloat("lr", 0);
  double Alpha = A.getFloat("alpha", 0.9f);
  double Beta = A.getFloat("beta", 0.999f);
  double Eps = A.getFloat("epsilon", 0.0f); // ONNX default
  double Norm = A.getFloat("norm_coefficient", 0);
  double Post = A.getFloat("norm_coefficient_post", 0);
  int64_t T = stepOf(In, 4);
  double R = Lr;
  if (T > 0)
    R = Lr * std::sqrt(1 - std::pow(Beta, double(T))) /
        (1 - std::pow(Alpha, double(T)));
  Out[0] = *In[0];
  Out[1] = *In[2];
  Out[2] = *In[3];
  forEachUpdated(A, *In[0], *In[1], [&](int64_t XI, int64_t GI) {
    double X = In[0]->getAsDouble(XI);
    double G = In[1]->getAsDouble(GI) + Norm * X;
    double V = Alpha * In[2]->getAsDouble(XI) + (1 - Alpha) * G;
    double H = Beta * In[3]->getAsDouble(XI) + (1 - Beta) * G * G;
    Out[1].setFromDouble(XI, V);
    Out[2].setFromDouble(XI, H);
    Out[0].setFromDouble(XI, (1 - Post) * (X - R * V / (std::sqrt(H) + Eps)));
  });
  return ok();
}

size_t numUpdateStates(UpdateKind K) {
  return K == UpdateKind::Momentum ? 1 : K == UpdateKind::Adam ? 2 : 0;
}

Status checkUpdateOperands(const Node &N, UpdateKind K, size_t WIndex) {
  const TensorType &W = N.inType(WIndex);
  const TensorType Real =
      W.isQuantized() ? TensorType(DType::F32, W.Dims) : W;
  size_t States = numUpdateStates(K);
  for (size_t I = WIndex + 1; I <= WIndex + States; ++I)
    if (N.inType(I) != Real)
      return opError(fmt::format("optimizer state (input {}) is {} but the "
                                 "weight is {}",
                                 I, N.inType(I).str(), W.str()));
  for (size_t I = WIndex + 1 + States; I < N.numInputs(); ++I)
    if (N.input(I) && (N.inType(I).Elem != DType::I64 ||
                       N.inType(I).numElements() != 1))
      return opError(fmt::format("the step count must be an i64 scalar, got "
                                 "{}",
                                 N.inType(I).str()));
  if (K == UpdateKind::Momentum) {
    std::string Mode = N.attrs().getString("mode", "standard");
    if (Mode != "standard" && Mode != "nesterov")
      return opError(fmt::format("mode must be \"standard\" or \"nesterov\", "
                                 "got \"{}\"",
                                 Mode));
  }
  return ok();
}

Status applyUpdate(UpdateKind K, const AttrMap &A,
                   std::span<const Tensor *const> In, std::span<Tensor> Out) {
  switch (K) {
  case UpdateKind::Momentum:
    return applyMomentumUpdate(A, In, Out);
  case UpdateKind::Adam:
    return applyAdamUpdate(A, In, Out);
  case UpdateKind::Sgd:
    break;
  }
  return applySgdUpdate(A, In, Out);
}

kparams::UpdateStepP updateStepParams(UpdateKind K, const AttrMap &A) {
  double Alpha = 0, Beta = 0, Eps = 0, Post = 0;
  bool Nesterov = false;
  if (K == UpdateKind::Momentum) {
    Alpha = A.getFloat("alpha", 0.9f);
    Beta = A.getFloat("beta", 1.0f);
    Nesterov = A.getString("mode", "standard") == "nesterov";
  } else if (K == UpdateKind::Adam) {
    Alpha = A.getFloat("alpha", 0.9f);
    Beta = A.getFloat("beta", 0.999f);
    Eps = A.getFloat("epsilon", 0.0f);
    Post = A.getFloat("norm_coefficient_post", 0);
  }
  return {.Lr = A.getFloat("lr", 0),
          .Decay = A.getFloat("norm_coefficient", 0),
          .Alpha = Alpha,
          .Beta = Beta,
          .Epsilon = Eps,
          .DecayPost = Post,
          .Nesterov = Nesterov};
}

kparams::QStepP qstepParams(const TensorType &X, const AttrMap &A) {
  QStepConsts Q = qstepConsts(X, A);
  return {.Channels = int32_t(Q.L.Channels),
          .Inner = int32_t(Q.L.Inner),
          .Lo = int32_t(Q.Lo),
          .Hi = int32_t(Q.Hi),
          .Scale = Q.Scale,
          .ZeroPoint = Q.ZeroPoint,
          .K = Q.K};
}

namespace {

Status kernelSgd(const Node &N, std::span<const Tensor *const> In,
                 std::span<Tensor> Out) {
  if (!updateDue(N, In))
    return passThroughUpdate(In, Out, 0);
  return applySgdUpdate(N.attrs(), In, Out);
}
Status kernelMomentum(const Node &N, std::span<const Tensor *const> In,
                      std::span<Tensor> Out) {
  if (!updateDue(N, In))
    return passThroughUpdate(In, Out, 1);
  return applyMomentumUpdate(N.attrs(), In, Out);
}
Status kernelAdam(const Node &N, std::span<const Tensor *const> In,
                  std::span<Tensor> Out) {
  if (!updateDue(N, In))
    return passThroughUpdate(In, Out, 2);
  return applyAdamUpdate(N.attrs(), In, Out);
}

Expected<std::vector<TensorType>> inferAccumulate(const Node &N) {
  const TensorType &A = N.inType(0), &G = N.inType(1);
  if (!isFloat(A.Elem))
    return opError(fmt::format("the accumulator must be a float tensor, got "
                               "{}",
                               A.str()));
  bool Fits = G == A;
  if (N.attrs().has("channels")) {
    int64_t Axis = N.attrs().getInt("axis", 0);
    int64_t Channels = N.attrs().getInt("channels", -1);
    if (Axis < 0 || Axis >= int64_t(A.rank()))
      return opError(fmt::format("axis {} is out of range for {}", Axis,
                                 A.str()));
    if (A.Dims[size_t(Axis)] != Channels)
      return opError(fmt::format("the accumulator {} must hold {} channels "
                                 "on axis {}",
                                 A.str(), Channels, Axis));
    Shape Full = G.Dims;
    if (G.Elem == A.Elem && Full.size() == A.Dims.size() &&
        Full[size_t(Axis)] >= Channels) {
      Full[size_t(Axis)] = Channels;
      Fits = Full == A.Dims;
    }
  }
  if (!Fits)
    return opError(fmt::format("gradient is {} but the accumulator is {}",
                               G.str(), A.str()));
  const TensorType &C = N.inType(2);
  if (C.Elem != DType::I64 || C.numElements() != 1)
    return opError(fmt::format("the accumulation count must be an i64 "
                               "scalar, got {}",
                               C.str()));
  return std::vector<TensorType>{A};
}

Expected<std::vector<TensorType>> inferCount(const Node &N) {
  if (N.attrs().getInt("every", 0) < 2)
    return opError(fmt::format("every must be at least 2, got {}",
                               N.attrs().getInt("every", 0)));
  if (N.numOutputs() != N.numInputs())
    return opError(fmt::format("{} inputs but {} results; each count has "
                               "its new value",
                               N.numInputs(), N.numOutputs()));
  std::vector<TensorType> R;
  for (size_t I = 0; I < N.numInputs(); ++I) {
    const TensorType &T = N.inType(I);
    if (T.Elem != DType::I64 || T.numElements() != 1)
      return opError(fmt::format("the {} count must be an i64 scalar, got {}",
                                 I == 0 ? "accumulation" : "step", T.str()));
    R.push_back(T);
  }
  return R;
}

Status kernelCount(const Node &N, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  const int64_t Next = In[0]->getAsInt(0) + 1;
  const bool Due = Next >= N.attrs().getInt("every", 2);
  Out[0] = *In[0];
  Out[0].setFromDouble(0, double(Due ? 0 : Next));
  if (In.size() > 1) {
    Out[1] = *In[1];
    Out[1].setFromDouble(0, double(In[1]->getAsInt(0) + (Due ? 1 : 0)));
  }
  return ok();
}

/// The accumulator as [Outer, Run] and the gradient as [Outer, GRow]: the
/// first Run elements of each gradient row are summed.
struct AccumulateRegion {
  int64_t Outer, Run, GRow;
  float Scale;
};
AccumulateRegion accumulateRegion(const Node &N) {
  const Shape &AS = N.inType(0).Dims, &GS = N.inType(1).Dims;
  AccumulateRegion P{.Outer = 1,
                     .Run = N.inType(0).numElements(),
                     .GRow = N.inType(0).numElements(),
                     .Scale = N.attrs().getFloat("scale", 1.0f)};
  if (N.attrs().has("channels")) {
    size_t Axis = size_t(N.attrs().getInt("axis", 0));
    int64_t Outer = 1, Inner = 1;
    for (size_t D = 0; D < Axis; ++D)
      Outer *= AS[D];
    for (size_t D = Axis + 1; D < AS.size(); ++D)
      Inner *= AS[D];
    P.Outer = Outer;
    P.Run = AS[Axis] * Inner;
    P.GRow = GS[Axis] * Inner;
  }
  return P;
}

Status kernelAccumulate(const Node &N, std::span<const Tensor *const> In,
                        std::span<Tensor> Out) {
  const AccumulateRegion P = accumulateRegion(N);
  const double Scale = P.Scale;
  const bool Fresh = In[2]->getAsInt(0) == 0;
  Out[0] = *In[0];
  for (int64_t O = 0; O < P.Outer; ++O)
    for (int64_t I = 0; I < P.Run; ++I) {
      int64_t AI = O * P.Run + I, GI = O * P.GRow + I;
      Out[0].setFromDouble(AI, (Fresh ? 0.0 : In[0]->getAsDouble(AI)) +
                                   Scale * In[1]->getAsDouble(GI));
    }
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering. Every kernel's parameters start with the update region
// {Outer, Run, XRow, GRow}: X as [Outer, XRow], G as [Outer, GRow], the
// first Run elements of each row updated (forEachUpdated's loops).
//===----------------------------------------------------------------------===//

/// Fills header, kernel and element type of an update and returns its
/// region.
Expected<kparams::RegionP> lowerUpdateRegion(const Node &N, const char *Kernel,
                                             KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S.takeError();
  const Shape &XS = N.inType(0).Dims;
  int64_t Channels = N.attrs().getInt("channels", -1);
  int64_t Outer = 1, Run = N.inType(0).numElements(), XRow = Run, GRow = Run;
  if (Channels != -1) {
    size_t Axis = size_t(N.attrs().getInt("axis", 0));
    int64_t Inner = 1;
    Outer = 1;
    for (size_t D = 0; D < Axis; ++D)
      Outer *= XS[D];
    for (size_t D = Axis + 1; D < XS.size(); ++D)
      Inner *= XS[D];
    Run = Channels * Inner;
    XRow = XS[Axis] * Inner;
    GRow = N.inType(1).Dims[Axis] * Inner;
  }
  C.Header = "mote_rt/optim.h";
  C.Kernel = Kernel;
  C.TypeArgs = {N.inType(0).Elem};
  return kparams::RegionP{.Outer = Outer,
                          .Run = Run,
                          .XRow = XRow,
                          .GRow = GRow,
                          .Every = int32_t(N.attrs().getInt("every", 1))};
}

/// sgd_update<T>(SgdP, x, g, count or nullptr, x'): {region, lr,
/// norm_coefficient}; qsgd_update<T>(QSgdP, x, g, count, x') for a
/// quantized x.
Status lowerSgd(const Node &N, KernelCall &C) {
  bool Quantized = N.inType(0).isQuantized();
  Expected<kparams::RegionP> R =
      lowerUpdateRegion(N, Quantized ? "qsgd_update" : "sgd_update", C);
  if (!R)
    return R.takeError();
  kparams::SgdP P{.Region = *R,
                  .Lr = N.attrs().getFloat("lr", 0),
                  .Norm = N.attrs().getFloat("norm_coefficient", 0)};
  if (Quantized)
    C.setParams(kparams::QSgdP{.Sgd = P,
                               .Q = qstepParams(N.inType(0), N.attrs())});
  else
    C.setParams(P);
  return ok();
}

/// momentum_update<T>(MomentumP, x, g, v, step or nullptr, count or
/// nullptr, x', v'): {region, lr, alpha, beta, norm_coefficient, nesterov}.
Status lowerMomentum(const Node &N, KernelCall &C) {
  bool Quantized = N.inType(0).isQuantized();
  Expected<kparams::RegionP> R = lowerUpdateRegion(
      N, Quantized ? "qmomentum_update" : "momentum_update", C);
  if (!R)
    return R.takeError();
  const AttrMap &A = N.attrs();
  kparams::MomentumP P{
      .Region = *R,
      .Lr = A.getFloat("lr", 0),
      .Alpha = A.getFloat("alpha", 0.9f),
      .Beta = A.getFloat("beta", 1.0f),
      .Norm = A.getFloat("norm_coefficient", 0),
      .Nesterov = A.getString("mode", "standard") == "nesterov"};
  if (Quantized)
    C.setParams(kparams::QMomentumP{.Momentum = P,
                                    .Q = qstepParams(N.inType(0), A)});
  else
    C.setParams(P);
  return ok();
}

/// adam_update<T>(AdamP, x, g, v, h, step, count or nullptr, x', v', h'):
/// {region, lr, alpha, beta, epsilon, norm_coefficient,
/// norm_coefficient_post}.
Status lowerAdam(const Node &N, KernelCall &C) {
  Expected<kparams::RegionP> R = lowerUpdateRegion(N, "adam_update", C);
  if (!R)
    return R.takeError();
  const AttrMap &A = N.attrs();
  C.setParams(kparams::AdamP{
      .Region = *R,
      .Lr = A.getFloat("lr", 0),
      .Alpha = A.getFloat("alpha", 0.9f),
      .Beta = A.getFloat("beta", 0.999f),
      .Epsilon = A.getFloat("epsilon", 0.0f),
      .Norm = A.getFloat("norm_coefficient", 0),
      .NormPost = A.getFloat("norm_coefficient_post", 0)});
  return ok();
}

/// accumulate_count<int64_t>(AccumulateCountP, c, step or nullptr, c',
/// step' or nullptr): {every}.
Status lowerCount(const Node &N, KernelCall &C) {
  C.Header = "mote_rt/optim.h";
  C.Kernel = "accumulate_count";
  C.TypeArgs = {DType::I64};
  C.setParams(kparams::AccumulateCountP{
      .Every = int32_t(N.attrs().getInt("every", 2))});
  C.Operands = {{false, 0}, {false, 1}, {true, 0}, {true, 1}};
  return ok();
}

/// grad_accumulate<T>(GradAccumulateP, a, g, count, a'): {outer, run, grow,
/// scale}.
Status lowerAccumulate(const Node &N, KernelCall &C) {
  if (Status S = requireKernelElements(N); !S)
    return S;
  C.Header = "mote_rt/optim.h";
  C.Kernel = "grad_accumulate";
  C.TypeArgs = {N.inType(0).Elem};
  const AccumulateRegion R = accumulateRegion(N);
  C.setParams(kparams::GradAccumulateP{.Outer = int32_t(R.Outer),
                                       .Run = int32_t(R.Run),
                                       .GRow = int32_t(R.GRow),
                                       .Scale = R.Scale});
  return ok();
}

} // namespace

extern const OpDef OpDef_SgdUpdate = {
    .Name = "SgdUpdate",
    .MinInputs = 2,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = SgdAttrs,
    .Infer = inferSgd,
    .Kernel = kernelSgd,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "X - lr * (G + norm_coefficient * X), optionally on the first "
               "channels only",
    .Lower = lowerSgd,
};

extern const OpDef OpDef_MomentumUpdate = {
    .Name = "MomentumUpdate",
    .MinInputs = 3,
    .MaxInputs = 5,
    .MinOutputs = 2,
    .MaxOutputs = 2,
    .Attrs = MomentumAttrs,
    .Infer = inferMomentum,
    .Kernel = kernelMomentum,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "SGD with momentum (ONNX Momentum semantics)",
    .Lower = lowerMomentum,
};

extern const OpDef OpDef_AdamUpdate = {
    .Name = "AdamUpdate",
    .MinInputs = 5,
    .MaxInputs = 6,
    .MinOutputs = 3,
    .MaxOutputs = 3,
    .Attrs = AdamAttrs,
    .Infer = inferAdam,
    .Kernel = kernelAdam,
    .Flags = OpFlagNotDifferentiable | OpFlagQuantAware,
    .Summary = "Adam (ONNX Adam semantics)",
    .Lower = lowerAdam,
};

extern const OpDef OpDef_AccumulateCount = {
    .Name = "AccumulateCount",
    .MinInputs = 1,
    .MaxInputs = 2,
    .MinOutputs = 1,
    .MaxOutputs = 2,
    .Attrs = CountAttrs,
    .Infer = inferCount,
    .Kernel = kernelCount,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "the accumulation count C + 1 modulo `every`, and the step "
               "count T + 1 when C + 1 reached `every`",
    .Lower = lowerCount,
};

extern const OpDef OpDef_GradAccumulate = {
    .Name = "GradAccumulate",
    .MinInputs = 3,
    .MaxInputs = 3,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = AccumulateAttrs,
    .Infer = inferAccumulate,
    .Kernel = kernelAccumulate,
    .Flags = OpFlagNotDifferentiable,
    .Summary = "(C == 0 ? 0 : A) + scale * G: the sum of the micro-batches' "
               "gradients an update with `every` applies",
    .Lower = lowerAccumulate,
};

} // namespace mote
