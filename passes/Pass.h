//===- Pass.h - Pass interface, options and shared state --------*- C++ -*-===//
//
// A pass is a function `Expected<bool> run(Graph &, PassContext &)` that
// returns whether it changed the graph, or a Diag for a user/model error.
// Passes are listed once in Passes.def; the pipeline (Pipeline.cpp) is a
// list of them with the reason each sits where it does.
//
// PassContext carries the user's options (TrainOptions) and what earlier
// passes hand to later ones (the loss value, the gradients).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_PASSES_PASS_H
#define MOTE_PASSES_PASS_H

#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mote {

class Graph;
class Value;

/// One entry of an update spec: parameters whose name matches the glob
/// Pattern train; with Ratio < 1 only the first ceil(Ratio * C) output
/// channels do.
struct UpdateRule {
  std::string Pattern;
  double Ratio = 1.0;
  /// "--update 'x:0.5'" or "spec.json entry 2", for messages and the report.
  std::string Origin;
};

/// Parses "PATTERN[:RATIO]" (--update).
Expected<UpdateRule> parseUpdateRule(std::string_view S);
/// Reads {"update": [{"params": GLOB, "channels": RATIO?}, ...]}.
Expected<std::vector<UpdateRule>> readUpdateFile(const std::string &Path);

enum class LossKind { CrossEntropy, Mse };
enum class OptimizerKind { Sgd, Momentum, Adam };

/// How a quantized parameter trains (the update ops' `scaling`, and what
/// --quantize int8 quantizes before a training step).
enum class QuantizedUpdate {
  /// In place, by whole steps, with quantization-aware scaling.
  Qas,
  /// In place, by whole steps, SGD on the integers (no scaling).
  Plain,
  /// --quantize leaves the layers a gradient flows through in float.
  Float,
};

struct TrainOptions {
  LossKind Loss = LossKind::CrossEntropy;
  /// Which graph output gets the loss (empty: the only output).
  std::string Output;
  /// Name of the label/target input add-loss creates.
  std::string LabelName = "label";
  OptimizerKind Optimizer = OptimizerKind::Sgd;
  float LearningRate = 0.01f;
  /// Momentum coefficient (alpha of ONNX Momentum).
  float Momentum = 0.9f;
  /// Nesterov momentum (ONNX Momentum mode "nesterov").
  bool Nesterov = false;
  /// Adam coefficients (ONNX Adam: alpha, beta, epsilon).
  float Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;
  /// L2 regularisation coefficient (ONNX norm_coefficient).
  float WeightDecay = 0.0f;
  /// Empty: every float or quantized parameter trains (full update).
  std::vector<UpdateRule> Update;
  /// --update auto: the driver chooses Update (driver/UpdateAuto.h) and
  /// clears this before the passes run.
  bool UpdateAuto = false;
  QuantizedUpdate Quantized = QuantizedUpdate::Qas;
  /// --accumulate N: the update applies every N training steps, to the
  /// mean of their gradients (1: every step).
  int64_t Accumulate = 1;
};

struct PassContext {
  TrainOptions Train;
  /// Set by add-loss.
  Value *Loss = nullptr;
  /// Set by add-loss: the model output the loss is on (what inference
  /// returns); null if the model computes its own loss.
  Value *Prediction = nullptr;
  /// Set by autodiff: (trainable parameter, its gradient).
  std::vector<std::pair<Value *, Value *>> Gradients;
  /// Names of the passes that ran, in order.
  std::vector<std::string> PassesRun;
  /// Set by fuse: what it folded, and the bytes of the values it removed
  /// (weight gradients, pre-activation tensors), for the report.
  struct FusionStats {
    int64_t Activations = 0, WeightUpdates = 0, BiasGradients = 0;
    int64_t GradientBytes = 0, PreActivationBytes = 0;
    /// elementwise-chain: FusedElementwise nodes made, the ops they hold,
    /// and the bytes of the intermediate results that no longer exist.
    int64_t ElementwiseChains = 0, ElementwiseOps = 0, IntermediateBytes = 0;
  } Fusion;
  /// Set by pack-masks: the saved values it replaced by 1-bit masks, their
  /// bytes and the masks' bytes.
  struct MaskStats {
    int64_t Values = 0, ValueBytes = 0, MaskBytes = 0;
  } Masks;
  /// Set by stream: the chains it runs in bands of rows, the bands, the
  /// MACs recomputed at band edges, and the bytes of the intermediate
  /// tensors that are no longer whole.
  struct StreamStats {
    int64_t Chains = 0, Bands = 0, ExtraMacs = 0, IntermediateBytes = 0;
  } Stream;
  /// Set by add-optimizer with --accumulate N > 1: the f32 accumulators it
  /// added (one per trained parameter) and their bytes.
  struct AccumulateStats {
    int64_t Accumulators = 0, Bytes = 0;
  } Accumulate;
  /// --quantize int8: the quantize pass makes the model int8 with the
  /// ranges the calibration samples (graph input name -> tensor, one map
  /// per sample) give.
  struct QuantizeRequest {
    bool Int8 = false;
    std::vector<std::map<std::string, Tensor>> Calibration;
  } Quantize;
  /// A training step follows (the driver's --train): passes that run
  /// before select-trainable read the update spec in Train.
  bool Training = false;
  /// Verify the graph after every pass (tests, debug builds).
  bool VerifyEach = true;
  /// --ram-budget: the stream pass stops once the step fits, and may
  /// recompute as much as it takes until then.
  std::optional<int64_t> RamBudget;
};

using PassFn = Expected<bool> (*)(Graph &, PassContext &);

struct PassInfo {
  std::string_view Name;
  PassFn Run;
  std::string_view Help;
};

#define MOTE_PASS(NAME, FN, HELP) Expected<bool> FN(Graph &G, PassContext &Ctx);
#include "passes/Passes.def"

/// Every pass, in Passes.def order.
std::span<const PassInfo> allPasses();
const PassInfo *lookupPass(std::string_view Name);

/// Runs one pass (and the verifier after it if Ctx.VerifyEach).
Expected<bool> runPass(const PassInfo &P, Graph &G, PassContext &Ctx);

/// The default pipeline: for training (loss, autodiff, optimizer...) or for
/// inference; without \p Reorder the schedule pass is left out (the naive
/// order: forward, all gradients, all updates), without \p Fuse the fuse
/// pass (one kernel per op, every gradient stored); with \p Quantize the
/// quantize pass (--quantize int8).
std::vector<const PassInfo *> defaultPipeline(bool Training,
                                              bool Reorder = true,
                                              bool Fuse = true,
                                              bool Quantize = false,
                                              bool PackMasks = true,
                                              bool Stream = true);

/// Runs \p Pipeline in order.
Status runPipeline(const std::vector<const PassInfo *> &Pipeline, Graph &G,
                   PassContext &Ctx);

} // namespace mote

#endif // MOTE_PASSES_PASS_H
