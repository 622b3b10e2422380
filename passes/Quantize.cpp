//===- Quantize.cpp - Post-training static int8 quantization --------------===//
//
// With --quantize int8 (PassContext::Quantize), the float model becomes the
// QDQ model a quantization tool would write, which fold-qdq then turns into
// integer ops:
//
//   - calibration: the interpreter runs the (canonical, float) graph on each
//     calibration sample and records the range of every activation that
//     feeds or leaves a quantizable layer;
//   - each Conv, Gemm (no transA, alpha = beta = 1, 2-D A) and MatMul
//     (2-D) whose weight is a float parameter or constant: its weight
//     becomes an int8 parameter of the same name, symmetric per output
//     channel (scale max|w_c| / 127, zero point 0), read through
//     DequantizeLinear; its bias an int32 parameter of the same name at
//     scale s_x * s_w[c] (rounded half to even, saturated);
//   - its input activation and its output (after the Relu or Clip that
//     alone reads it, so the activation folds into the requantization's
//     clamp; not a model output, which stays float and exact to the
//     accumulator) are quantized per tensor to int8 with the calibrated range
//     widened to include 0: scale (hi - lo) / 255 and the zero point that
//     maps lo to -128. One QuantizeLinear/DequantizeLinear pair per
//     activation, whoever reads it.
//
// Ops between layers (Add, pools, Reshape...) read the dequantized values;
// fold-qdq makes those with an integer form integer (a pool or a residual
// Add between quantized activations). Graph inputs and outputs keep their
// float types.
//
// Before a training step (PassContext::Training) every layer is quantized the
// same way: the trained int8 weights and int32 biases are updated in place
// (compiler/ops/train/Optimizer.cpp), and fold-qdq leaves the layers a
// gradient flows through in their QDQ form, which autodiff differentiates
// (float arithmetic on the dequantized int8 weights and activations). With
// --quantized-update float, a layer is quantized only if no gradient flows
// through it: none of its parameters trains (the update spec, every
// parameter without one) and its input depends on no trained parameter;
// the frozen front runs in int8 and the trained layers, and every layer
// after the first trained one, in float with float weights.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/Interpreter.h"
#include "compiler/OpDef.h"
#include "compiler/Quant.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <unordered_map>
#include <unordered_set>

namespace mote {

namespace {

/// A layer the pass quantizes, and where its parameters are.
struct Layer {
  Node *N = nullptr;
  int64_t WAxis = 0;    ///< the output-channel axis of the weight
  Value *Out = nullptr; ///< its result, or that of its lone activation
};

bool isFloatData(const Value *V) {
  return V && V->hasData() && V->type().Elem == DType::F32 &&
         !V->type().isQuantized();
}

/// The layer \p N is, if the pass quantizes it.
std::optional<Layer> layerOf(const Graph &G, Node *N) {
  Layer L{N};
  const AttrMap &A = N->attrs();
  if (A.has("activation"))
    return std::nullopt;
  Value *X = N->input(0), *W = N->input(1);
  if (X->type().Elem != DType::F32 || !isFloatData(W))
    return std::nullopt;
  Value *B = N->numInputs() > 2 ? N->input(2) : nullptr;
  switch (N->op()) {
  case OpKind::Conv:
    L.WAxis = 0;
    break;
  case OpKind::Gemm:
    if (A.getInt("transA", 0) || A.getFloat("alpha", 1) != 1 ||
        A.getFloat("beta", 1) != 1 || X->type().rank() != 2)
      return std::nullopt;
    L.WAxis = A.getInt("transB", 0) ? 0 : 1;
    break;
  case OpKind::MatMul:
    if (X->type().rank() != 2 || W->type().rank() != 2)
      return std::nullopt;
    L.WAxis = 1;
    break;
  default:
    return std::nullopt;
  }
  int64_t Channels = W->type().Dims[size_t(L.WAxis)];
  if (B && (!isFloatData(B) || B->type().Dims != Shape{Channels}))
    return std::nullopt;
  L.Out = N->output(0);
  std::vector<Node *> Us = G.users(L.Out);
  if (!G.isOutput(L.Out) && Us.size() == 1 &&
      (Us[0]->op() == OpKind::Relu || Us[0]->op() == OpKind::Clip))
    L.Out = Us[0]->output(0);
  return L;
}

/// The calibrated range of each value in \p Watch over \p Samples, widened
/// to include 0.
Expected<std::unordered_map<const Value *, std::pair<float, float>>>
calibrate(const Graph &G,
          const std::vector<std::map<std::string, Tensor>> &Samples,
          const std::unordered_set<const Value *> &Watch) {
  std::unordered_map<const Value *, std::pair<float, float>> R;
  for (const Value *V : Watch)
    R[V] = {0.0f, 0.0f};
  Interpreter I(G);
  for (size_t S = 0; S < Samples.size(); ++S) {
    if (Status St = I.run(Samples[S]); !St) {
      Diag D = St.takeError();
      D.Message = fmt::format("calibration sample {}: {}", S + 1, D.Message);
      return D;
    }
    for (const Value *V : Watch) {
      const Tensor *T = I.get(V);
      if (!T)
        continue;
      auto &[Lo, Hi] = R[V];
      for (float X : T->data<float>()) {
        if (std::isfinite(X)) {
          Lo = std::min(Lo, X);
          Hi = std::max(Hi, X);
        }
      }
    }
  }
  return R;
}

/// Per-tensor int8 parameters for the range [Lo, Hi] (Lo <= 0 <= Hi).
QuantParams activationParams(float Lo, float Hi) {
  float S = (Hi - Lo) / 255.0f;
  if (!(S > 0) || !std::isfinite(S))
    return {-1, {1.0f}, {0}};
  double Z = std::nearbyint(-128.0 - double(Lo) / double(S));
  return {-1, {S}, {int32_t(std::clamp(Z, -128.0, 127.0))}};
}

class Quantizer {
public:
  Quantizer(Graph &G) : G(G) {}

  /// \p V through a QuantizeLinear/DequantizeLinear pair with parameters
  /// \p Q; \p V's readers other than the pair read the dequantized value
  /// from then on (a graph output keeps its name on it), so a value is
  /// quantized once.
  Value *quantizeActivation(Value *V, const QuantParams &Q) {
    Node *P = V->producer();
    Node *Before = P ? nextNode(P) : firstNode();
    AttrMap A;
    A.set("to", std::string("i8"));
    A.set("scale", Q.Scale);
    A.set("zero_point", std::vector<int64_t>{Q.ZeroPoint[0]});
    bool WasOutput = G.isOutput(V);
    Expected<Node *> QN = G.createNode(
        Before, OpKind::QuantizeLinear, G.uniqueName(V->name() + ".quantize"),
        {V}, A, {G.uniqueName(V->name() + ".q")});
    assert(QN && "QuantizeLinear of an f32 tensor");
    Expected<Node *> DN =
        G.createNode(Before, OpKind::DequantizeLinear,
                     G.uniqueName(V->name() + ".dequantize"),
                     {(*QN)->output(0)}, {}, {G.uniqueName(V->name() + ".dq")});
    assert(DN && "DequantizeLinear of a quantized tensor");
    Value *D = (*DN)->output(0);
    G.replaceAllUsesWith(V, D);
    (*QN)->setInput(0, V); // the pair itself reads V
    if (WasOutput) {
      std::string Name = V->name();
      G.renameValue(V, G.uniqueName(Name + ".float"));
      G.renameValue(D, Name);
    }
    return D;
  }

  /// Float parameter \p W replaced by an int8 parameter of the same name,
  /// symmetric per index of \p Axis; returns its DequantizeLinear.
  Value *quantizeWeight(Value *W, int64_t Axis, std::vector<float> &Scales) {
    const Tensor &D = *W->data();
    const Shape &Dims = W->type().Dims;
    int64_t Channels = Dims[size_t(Axis)];
    int64_t Inner = 1;
    for (size_t D = size_t(Axis) + 1; D < Dims.size(); ++D)
      Inner *= Dims[D];
    std::vector<float> Max(size_t(Channels), 0.0f);
    auto Chan = [&](int64_t I) { return (I / Inner) % Channels; };
    auto F = D.data<float>();
    for (int64_t I = 0; I < D.numElements(); ++I)
      Max[size_t(Chan(I))] =
          std::max(Max[size_t(Chan(I))], std::fabs(F[size_t(I)]));
    QuantParams Q{int32_t(Axis), {}, {}};
    for (float M : Max) {
      Q.Scale.push_back(M > 0 && std::isfinite(M) ? M / 127.0f : 1.0f);
      Q.ZeroPoint.push_back(0);
    }
    if (Channels == 1)
      Q.Axis = -1;
    Scales = Q.Scale;
    Tensor R(TensorType(DType::I8, Dims, Q));
    for (int64_t I = 0; I < D.numElements(); ++I) {
      float S = Q.Scale[size_t(Q.perAxis() ? Chan(I) : 0)];
      R.setFromDouble(I, quantizeValue(F[size_t(I)], S, 0, -127, 127));
    }
    return replaceParam(W, std::move(R));
  }

  /// Float bias \p B as an int32 parameter of the same name counting in
  /// units \p Units (one per channel); returns its DequantizeLinear.
  Value *quantizeBias(Value *B, const std::vector<double> &Units) {
    QuantParams Q{Units.size() > 1 ? 0 : -1, {}, {}};
    for (double U : Units) {
      Q.Scale.push_back(float(U));
      Q.ZeroPoint.push_back(0);
    }
    Tensor R(TensorType(DType::I32, B->type().Dims, Q));
    auto F = B->data()->data<float>();
    for (size_t C = 0; C < F.size(); ++C) {
      double V = std::nearbyint(double(F[C]) / Units[C]);
      R.setFromDouble(int64_t(C),
                      std::clamp(V, double(INT32_MIN), double(INT32_MAX)));
    }
    return replaceParam(B, std::move(R));
  }

private:
  Node *nextNode(Node *P) {
    const auto &Ns = G.nodes();
    for (size_t I = 0; I + 1 < Ns.size(); ++I)
      if (Ns[I].get() == P)
        return Ns[I + 1].get();
    return nullptr;
  }
  Node *firstNode() {
    return G.nodes().empty() ? nullptr : G.nodes().front().get();
  }

  /// A new parameter (or constant) with \p Old's name and \p Data, read
  /// through a DequantizeLinear before the first node reading \p Old, which
  /// it replaces in every reader (a parameter several layers share is
  /// quantized once; Old, unused, goes with dead-code removal).
  Value *replaceParam(Value *Old, Tensor Data) {
    std::string Name = Old->name();
    bool Param = Old->isParam();
    Node *Before = nullptr;
    for (const auto &N : G.nodes())
      if (std::find(N->inputs().begin(), N->inputs().end(), Old) !=
          N->inputs().end()) {
        Before = N.get();
        break;
      }
    G.renameValue(Old, G.uniqueName(Name + ".float"));
    Value *New = Param ? G.addParam(Name, std::move(Data))
                       : G.addConst(Name, std::move(Data));
    Expected<Node *> DN = G.createNode(Before, OpKind::DequantizeLinear,
                                       G.uniqueName(Name + ".dequantize"),
                                       {New}, {}, {G.uniqueName(Name + ".dq")});
    assert(DN && "DequantizeLinear of a quantized tensor");
    Value *D = (*DN)->output(0);
    G.replaceAllUsesWith(Old, D);
    return D;
  }

  Graph &G;
};

/// The quantization of the tensor behind \p V when a DequantizeLinear
/// produces V (an activation or parameter quantized already), else null.
const QuantParams *quantizedSource(const Value *V) {
  const Node *P = V->producer();
  return P && P->op() == OpKind::DequantizeLinear ? &*P->input(0)->type().Quant
                                                  : nullptr;
}

} // namespace

Expected<bool> runQuantize(Graph &G, PassContext &Ctx) {
  if (!Ctx.Quantize.Int8)
    return false;
  if (Ctx.Quantize.Calibration.empty())
    return Diag("--quantize int8 needs calibration samples (--calibration)");
  // --quantized-update float: the layers a gradient flows through stay
  // float.
  bool KeepTrainedFloat = Ctx.Training &&
                          Ctx.Train.Quantized == QuantizedUpdate::Float;
  std::unordered_set<const Value *> Trained;
  if (KeepTrainedFloat)
    Trained = trainedDependents(G, Ctx.Train.Update);
  std::vector<Layer> Layers;
  std::unordered_set<const Value *> Watch;
  for (const auto &N : G.nodes())
    if (std::optional<Layer> L = layerOf(G, N.get())) {
      if (KeepTrainedFloat && Trained.count(L->N->output(0)))
        continue; // a gradient flows through it
      Layers.push_back(*L);
      Watch.insert(L->N->input(0));
      Watch.insert(L->Out);
    }
  if (Layers.empty()) {
    if (KeepTrainedFloat)
      return Diag("--quantize int8 --train --quantized-update float: every "
                  "layer trains or passes a gradient back, so none is left "
                  "to quantize; train fewer (--update selects them)");
    return false;
  }
  Expected<std::unordered_map<const Value *, std::pair<float, float>>> Ranges =
      calibrate(G, Ctx.Quantize.Calibration, Watch);
  if (!Ranges)
    return Ranges.takeError();
  // Every parameter is computed before the graph changes (an activation's
  // DequantizeLinear replaces the value the ranges are keyed by).
  std::unordered_map<const Value *, QuantParams> Act;
  for (const auto &[V, R] : *Ranges)
    Act[V] = activationParams(R.first, R.second);

  Quantizer Q(G);
  for (const Layer &L : Layers) {
    Node *N = L.N;
    Value *X = N->input(0);
    // An earlier layer's output (or a shared input) is already read
    // through its DequantizeLinear.
    // (Each quantize* call switches every reader, N included, to the
    // DequantizeLinear it makes.)
    const QuantParams *XQ = quantizedSource(X);
    if (!XQ) {
      XQ = &Act.at(X);
      Q.quantizeActivation(X, *XQ);
    }
    // A weight or bias an earlier layer shares is quantized already.
    std::vector<float> WScales;
    if (const QuantParams *WQ = quantizedSource(N->input(1)))
      WScales = WQ->Scale;
    else
      Q.quantizeWeight(N->input(1), L.WAxis, WScales);
    if (Value *B = N->numInputs() > 2 ? N->input(2) : nullptr;
        B && !quantizedSource(B)) {
      // Its units are this layer's; a layer sharing it with other units
      // gets it rescaled by fold-qdq.
      std::vector<double> Units;
      for (float S : WScales)
        Units.push_back(double(XQ->Scale[0]) * double(S));
      if (Units.size() == 1)
        Units.resize(size_t(B->type().numElements()), Units[0]);
      Q.quantizeBias(B, Units);
    }
    // A model output keeps its float values: fold-qdq keeps the layer's
    // int32 accumulator and scales it (no output step lost).
    if (!G.isOutput(L.Out))
      Q.quantizeActivation(L.Out, Act.at(L.Out));
  }
  G.removeDeadCode();
  return true;
}

} // namespace mote
