//===- Options.cpp - The options of a compile, and their one parser -------===//

#include "driver/Options.h"
#include "codegen/Program.h"
#include "codegen/Targets.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <initializer_list>
#include <limits>

namespace mote {

namespace {

constexpr OptionSpec TrainSpecs[] = {
    {"loss", "cross-entropy|mse", false,
     "loss added on the output (default cross-entropy)"},
    {"output", "NAME", false, "which graph output the loss goes on"},
    {"label-name", "NAME", false,
     "name of the label/target input (default label)"},
    {"optimizer", "sgd|momentum|adam", false, "optimizer (default sgd)"},
    {"lr", "F", false, "learning rate (default 0.01)"},
    {"momentum", "F", false, "momentum coefficient (default 0.9)"},
    {"nesterov", "", false, "Nesterov momentum (with --optimizer momentum)"},
    {"weight-decay", "F", false,
     "L2 coefficient added to gradients (default 0)"},
    {"update", "PATTERN[:RATIO]|auto", true,
     "train parameters matching the glob; RATIO trains the first "
     "ceil(RATIO*C) output channels (default: every parameter); auto, with "
     "--ram-budget: the largest update that fits (biases from the last "
     "layer back, then weights at channel ratios 1 to 1/8)"},
    {"accumulate", "N", false,
     "micro-batches: the update applies every N training steps, to the "
     "mean of their gradients, summed in f32 accumulators (state in the "
     "arena) (default 1: every step)"},
    {"quantized-update", "qas|plain|float", false,
     "how quantized parameters train: int8 weights and int32 biases moved "
     "in place by whole steps with quantization-aware scaling (qas, the "
     "default) or without it (plain); float: --quantize leaves every layer "
     "a gradient flows through in float"},
};
constexpr OptionSpec UpdateFileSpec = {
    "update-file", "FILE", false,
    "update spec as JSON: {\"update\": [{\"params\": GLOB, \"channels\": "
    "RATIO}]}"};

std::vector<OptionSpec> makeModelSpecs() {
  std::vector<OptionSpec> R = {
      {"input-shape", "NAME=1x3x96x96", true,
       "static shape for a graph input (binds dynamic dims)"},
      {"batch", "N", false,
       "batch size: dim 0 of every input (if 1 or symbolic)"},
      {"train", "", false, "compile a training step (default: inference)"},
      {"infer", "", false, "compile inference only (the default)"},
  };
  R.insert(R.end(), std::begin(TrainSpecs), std::end(TrainSpecs));
  R.push_back({"no-reorder", "", false,
               "keep the naive order (all gradients, then all updates) to "
               "measure what scheduling buys"});
  R.push_back({"no-fuse", "", false,
               "one kernel per op and every weight gradient stored, to "
               "measure what fusion buys"});
  R.push_back({"no-pack-masks", "", false,
               "save the values ReLU/Clip gradients read whole instead of "
               "1-bit masks, to measure what the masks buy"});
  R.push_back({"no-stream", "", false,
               "compute every forward chain of convolutions whole instead of "
               "in bands of rows, to measure what streaming buys"});
  R.push_back(UpdateFileSpec);
  R.push_back({"quantize", "int8", false,
               "post-training static quantization: int8 weights per output "
               "channel, int32 biases and int8 activations with the ranges "
               "of the --calibration samples; quantized layers run as "
               "integer ops"});
  R.push_back({"calibration", "[NAME=]PATH", true,
               "samples for --quantize: a .pb TensorProto (one sample or a "
               "batch of them) or a directory of .pb files; NAME= names the "
               "graph input when the model has several"});
  return R;
}

Expected<float> parseFloat(std::string_view Opt, const std::string &V) {
  float F = 0;
  auto [P, EC] = std::from_chars(V.data(), V.data() + V.size(), F);
  if (V.empty() || EC != std::errc() || P != V.data() + V.size() ||
      !std::isfinite(F))
    return usageError(fmt::format("--{} '{}' is not a number", Opt, V));
  return F;
}

/// Sets \p Dest to the value \p Args gives option \p Opt, one of the names
/// of \p Choices; a usage error listing them otherwise. Unchanged when the
/// option is not given.
template <class T>
Status readChoice(const ParsedArgs &Args, std::string_view Opt,
                  std::initializer_list<std::pair<std::string_view, T>> Choices,
                  T &Dest) {
  std::optional<std::string> V = Args.get(Opt);
  if (!V)
    return ok();
  std::string Names;
  size_t I = 0;
  for (const auto &[Name, Value] : Choices) {
    if (Name == *V) {
      Dest = Value;
      return ok();
    }
    Names += fmt::format("{}{}",
                         I == 0                    ? ""
                         : I + 1 == Choices.size() ? " or "
                                                   : ", ",
                         Name);
    ++I;
  }
  return usageError(fmt::format("--{} '{}': use {}", Opt, *V, Names));
}

} // namespace

const TargetInfo &CompileOptions::target() const {
  return Target ? *Target : *lookupTarget("host");
}

std::span<const OptionSpec> modelOptionSpecs() {
  static const std::vector<OptionSpec> V = makeModelSpecs();
  return V;
}

std::span<const OptionSpec> trainOptionSpecs() {
  static const std::vector<OptionSpec> V = [] {
    std::vector<OptionSpec> R(std::begin(TrainSpecs), std::end(TrainSpecs));
    R.push_back(UpdateFileSpec);
    return R;
  }();
  return V;
}

Status parseTrainOptions(const ParsedArgs &Args, TrainOptions &T) {
  if (Status S = readChoice<LossKind>(
          Args, "loss",
          {{"cross-entropy", LossKind::CrossEntropy}, {"mse", LossKind::Mse}},
          T.Loss);
      !S)
    return S;
  if (auto O = Args.get("output"))
    T.Output = *O;
  if (auto L = Args.get("label-name"))
    T.LabelName = *L;
  if (Status S =
          readChoice<OptimizerKind>(Args, "optimizer",
                                    {{"sgd", OptimizerKind::Sgd},
                                     {"momentum", OptimizerKind::Momentum},
                                     {"adam", OptimizerKind::Adam}},
                                    T.Optimizer);
      !S)
    return S;
  if (Status S = readChoice<QuantizedUpdate>(
          Args, "quantized-update",
          {{"qas", QuantizedUpdate::Qas},
           {"plain", QuantizedUpdate::Plain},
           {"float", QuantizedUpdate::Float}},
          T.Quantized);
      !S)
    return S;
  T.Nesterov = Args.has("nesterov");
  if (T.Nesterov && T.Optimizer != OptimizerKind::Momentum)
    return usageError("--nesterov needs --optimizer momentum");
  struct {
    const char *Name;
    float *Dest;
  } Floats[] = {{"lr", &T.LearningRate},
                {"momentum", &T.Momentum},
                {"weight-decay", &T.WeightDecay}};
  for (auto &F : Floats)
    if (auto V = Args.get(F.Name)) {
      Expected<float> X = parseFloat(F.Name, *V);
      if (!X)
        return X.takeError();
      *F.Dest = *X;
    }
  if (T.LearningRate <= 0)
    return usageError("--lr must be positive");
  if (auto V = Args.get("accumulate")) {
    int64_t N = 0;
    auto [P, EC] = std::from_chars(V->data(), V->data() + V->size(), N);
    if (EC != std::errc() || P != V->data() + V->size() || N < 1 ||
        N > std::numeric_limits<int32_t>::max())
      return usageError(fmt::format(
          "--accumulate '{}' must be a positive integer (the training steps "
          "whose gradients one update applies)",
          *V));
    T.Accumulate = N;
  }
  if (Args.has("update") && Args.has("update-file"))
    return usageError("give the update spec with --update or --update-file, "
                      "not both");
  for (const std::string &U : Args.getAll("update")) {
    if (U == "auto") {
      if (Args.getAll("update").size() != 1 || Args.has("update-file"))
        return usageError("--update auto chooses the whole update spec; give "
                          "no other --update or --update-file with it");
      if (!Args.has("ram-budget"))
        return usageError("--update auto needs --ram-budget (motec plan and "
                          "compile: the update chosen is the largest that "
                          "fits it; save it with --save-update for the other "
                          "commands)");
      T.UpdateAuto = true;
      continue;
    }
    Expected<UpdateRule> R = parseUpdateRule(U);
    if (!R)
      return R.takeError(); // a spec error is a user error (exit 1)
    T.Update.push_back(std::move(*R));
  }
  if (auto F = Args.get("update-file")) {
    auto Rules = readUpdateFile(*F);
    if (!Rules)
      return Rules.takeError();
    T.Update = std::move(*Rules);
  }
  return ok();
}

Expected<CompileOptions> parseCompileOptions(const ParsedArgs &Args) {
  CompileOptions O;
  if (Args.Positional.size() != 1)
    return usageError("expected one model file");
  O.ModelPath = Args.Positional[0];
  for (const std::string &V : Args.getAll("input-shape")) {
    auto P = parseInputShape(V);
    if (!P)
      return P.takeError();
    O.Import.InputShapes[P->first] = P->second;
  }
  if (auto B = Args.get("batch")) {
    int64_t N = 0;
    auto [P, EC] = std::from_chars(B->data(), B->data() + B->size(), N);
    if (EC != std::errc() || P != B->data() + B->size() || N < 1)
      return usageError(
          fmt::format("--batch '{}' must be a positive integer", *B));
    O.Import.Batch = N;
  }
  if (Args.has("train") && Args.has("infer"))
    return usageError("--train and --infer exclude each other");
  O.Training = Args.has("train");
  O.Reorder = !Args.has("no-reorder");
  O.Fuse = !Args.has("no-fuse");
  O.PackMasks = !Args.has("no-pack-masks");
  O.Stream = !Args.has("no-stream");
  for (const OptionSpec &S : trainOptionSpecs())
    if (Args.has(S.Name) && !O.Training)
      return usageError(fmt::format("--{} needs --train", S.Name));
  if (Status S = parseTrainOptions(Args, O.Train); !S)
    return S.takeError();

  if (auto Q = Args.get("quantize")) {
    if (*Q != "int8")
      return usageError(fmt::format("--quantize '{}': use int8", *Q));
    O.QuantizeInt8 = true;
  }
  O.Calibration = Args.getAll("calibration");
  if (O.QuantizeInt8 && O.Calibration.empty())
    return usageError("--quantize int8 needs --calibration (samples whose "
                      "ranges set the activations' scales)");
  if (!O.QuantizeInt8 && !O.Calibration.empty())
    return usageError("--calibration needs --quantize int8");

  if (auto B = Args.get("ram-budget")) {
    Expected<int64_t> N = parseByteSize("ram-budget", *B);
    if (!N)
      return N.takeError();
    O.RamBudget = *N;
  }
  if (auto N = Args.get("name"))
    O.Name = *N;
  // A user error (exit 1 in motec), as it has always been.
  if (!isCIdentifier(O.Name))
    return Diag(fmt::format("--name '{}' is not a C identifier", O.Name));
  if (Status S = readChoice<EmitKind>(Args, "emit",
                                      {{"cpp", EmitKind::Cpp},
                                       {"obj", EmitKind::Object},
                                       {"both", EmitKind::Both},
                                       {"none", EmitKind::None}},
                                      O.Emit);
      !S)
    return S.takeError();
  if (auto T = Args.get("target")) {
    O.Target = lookupTarget(*T);
    if (!O.Target)
      return usageError(fmt::format("--target '{}' is not a target this "
                                    "build knows ({})",
                                    *T, targetNames()));
  }
  O.CheckBounds = Args.has("check-bounds");
  if (O.CheckBounds && O.Emit != EmitKind::Cpp)
    return usageError("--check-bounds needs --emit cpp (the checks are C++ "
                      "code built with AddressSanitizer)");
  return O;
}

Expected<std::pair<std::string, Shape>> parseInputShape(std::string_view S) {
  size_t Eq = S.rfind('=');
  if (Eq == std::string_view::npos || Eq == 0 || Eq + 1 == S.size())
    return usageError(
        fmt::format("--input-shape '{}' must look like NAME=1x3x96x96", S));
  std::string Name(S.substr(0, Eq));
  std::string_view Dims = S.substr(Eq + 1);
  Shape R;
  while (true) {
    size_t X = Dims.find('x');
    std::string_view Tok = Dims.substr(0, X);
    int64_t V = 0;
    auto [P, EC] = std::from_chars(Tok.data(), Tok.data() + Tok.size(), V);
    if (Tok.empty() || EC != std::errc() || P != Tok.data() + Tok.size() ||
        V < 0)
      return usageError(fmt::format("--input-shape '{}': '{}' is not a dim "
                                    "(use non-negative integers joined by "
                                    "'x')",
                                    S, Tok));
    R.push_back(V);
    if (X == std::string_view::npos)
      break;
    Dims = Dims.substr(X + 1);
  }
  return std::make_pair(std::move(Name), std::move(R));
}

Expected<int64_t> parseByteSize(std::string_view Option, std::string_view S) {
  auto Bad = [&] {
    return usageError(fmt::format("--{} '{}' must be a byte count, or one "
                                  "with a K or M suffix (256K = 262144 "
                                  "bytes)",
                                  Option, S));
  };
  int64_t Scale = 1;
  std::string_view Digits = S;
  if (!Digits.empty() && (Digits.back() == 'K' || Digits.back() == 'k')) {
    Scale = 1024;
    Digits.remove_suffix(1);
  } else if (!Digits.empty() &&
             (Digits.back() == 'M' || Digits.back() == 'm')) {
    Scale = 1024 * 1024;
    Digits.remove_suffix(1);
  }
  int64_t N = 0;
  auto [P, EC] =
      std::from_chars(Digits.data(), Digits.data() + Digits.size(), N);
  if (Digits.empty() || EC != std::errc() ||
      P != Digits.data() + Digits.size() || N < 0 ||
      N > std::numeric_limits<int64_t>::max() / Scale)
    return Bad();
  return N * Scale;
}

} // namespace mote
