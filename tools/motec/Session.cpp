//===- Session.cpp - Options shared by compile, run and inspect -----------===//

#include "Session.h"
#include "Commands.h"
#include "compiler/Graph.h"

#include "passes/TrainUtil.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <unordered_set>

namespace mote::cli {

namespace {
constexpr OptionSpec ModelOptionSpecs[] = {
    {"input-shape", "NAME=1x3x96x96", true,
     "static shape for a graph input (binds dynamic dims)"},
    {"batch", "N", false, "batch size: dim 0 of every input (if 1 or symbolic)"},
    {"train", "", false, "compile a training step (default: inference)"},
    {"infer", "", false, "compile inference only (the default)"},
    {"loss", "cross-entropy|mse", false, "loss added on the output (default cross-entropy)"},
    {"output", "NAME", false, "which graph output the loss goes on"},
    {"label-name", "NAME", false, "name of the label/target input (default label)"},
    {"optimizer", "sgd|momentum|adam", false, "optimizer (default sgd)"},
    {"lr", "F", false, "learning rate (default 0.01)"},
    {"momentum", "F", false, "momentum coefficient (default 0.9)"},
    {"nesterov", "", false, "Nesterov momentum (with --optimizer momentum)"},
    {"weight-decay", "F", false, "L2 coefficient added to gradients (default 0)"},
    {"update", "PATTERN[:RATIO]", true,
     "train parameters matching the glob; RATIO trains the first "
     "ceil(RATIO*C) output channels (default: every parameter)"},
    {"no-reorder", "", false, "keep the naive order (all gradients, then all updates) to measure what scheduling buys"},
    {"no-fuse", "", false, "one kernel per op and every weight gradient stored, to measure what fusion buys"},
    {"update-file", "FILE", false, "update spec as JSON: {\"update\": [{\"params\": GLOB, \"channels\": RATIO}]}"},
};
} // namespace

std::vector<OptionSpec> withModelOptions(std::span<const OptionSpec> Own) {
  std::vector<OptionSpec> R(Own.begin(), Own.end());
  R.insert(R.end(), std::begin(ModelOptionSpecs), std::end(ModelOptionSpecs));
  return R;
}

namespace {

Diag usage(std::string Msg) {
  Diag D(std::move(Msg));
  D.Line = -2;
  return D;
}

Expected<float> parseFloat(const std::string &Opt, const std::string &V) {
  float F = 0;
  auto [P, EC] = std::from_chars(V.data(), V.data() + V.size(), F);
  if (V.empty() || EC != std::errc() || P != V.data() + V.size() ||
      !std::isfinite(F))
    return usage(fmt::format("--{} '{}' is not a number", Opt, V));
  return F;
}

} // namespace

Expected<Session> parseSession(const ParsedArgs &Args) {
  Session S;
  if (Args.Positional.size() != 1)
    return usage("expected one model file");
  S.ModelPath = Args.Positional[0];
  for (const std::string &V : Args.getAll("input-shape")) {
    auto P = parseInputShape(V);
    if (!P)
      return usage(P.error().Message);
    S.Import.InputShapes[P->first] = P->second;
  }
  if (auto B = Args.get("batch")) {
    int64_t N = 0;
    auto [P, EC] = std::from_chars(B->data(), B->data() + B->size(), N);
    if (EC != std::errc() || P != B->data() + B->size() || N < 1)
      return usage(fmt::format("--batch '{}' must be a positive integer", *B));
    S.Import.Batch = N;
  }
  if (Args.has("train") && Args.has("infer"))
    return usage("--train and --infer exclude each other");
  S.Training = Args.has("train");
  S.Reorder = !Args.has("no-reorder");
  S.Fuse = !Args.has("no-fuse");
  TrainOptions &T = S.Passes.Train;
  static constexpr std::string_view TrainOnly[] = {
      "loss", "output", "label-name", "optimizer", "lr", "momentum",
      "nesterov", "weight-decay", "update", "update-file"};
  for (std::string_view O : TrainOnly)
    if (Args.has(O) && !S.Training)
      return usage(fmt::format("--{} needs --train", O));
  if (auto L = Args.get("loss")) {
    if (*L == "cross-entropy")
      T.Loss = LossKind::CrossEntropy;
    else if (*L == "mse")
      T.Loss = LossKind::Mse;
    else
      return usage(fmt::format("--loss '{}': use cross-entropy or mse", *L));
  }
  if (auto O = Args.get("output"))
    T.Output = *O;
  if (auto L = Args.get("label-name"))
    T.LabelName = *L;
  if (auto O = Args.get("optimizer")) {
    if (*O == "sgd")
      T.Optimizer = OptimizerKind::Sgd;
    else if (*O == "momentum")
      T.Optimizer = OptimizerKind::Momentum;
    else if (*O == "adam")
      T.Optimizer = OptimizerKind::Adam;
    else
      return usage(fmt::format("--optimizer '{}': use sgd, momentum or adam",
                               *O));
  }
  T.Nesterov = Args.has("nesterov");
  if (T.Nesterov && T.Optimizer != OptimizerKind::Momentum)
    return usage("--nesterov needs --optimizer momentum");
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
    return usage("--lr must be positive");
  if (Args.has("update") && Args.has("update-file"))
    return usage("give the update spec with --update or --update-file, not "
                 "both");
  for (const std::string &U : Args.getAll("update")) {
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
  return S;
}

int reportSessionError(std::string_view Command, const Diag &D) {
  return D.Line == -2 ? reportUsage(Command, D) : reportError(D);
}

Expected<std::unique_ptr<Graph>> buildGraph(Session &S) {
  auto G = importOnnxFile(S.ModelPath, S.Import);
  if (!G)
    return G;
  Status St =
      runPipeline(defaultPipeline(S.Training, S.Reorder, S.Fuse), **G,
                  S.Passes);
  if (!St)
    return St.takeError();
  return G;
}

TrainingStats computeTrainingStats(const Graph &G) {
  TrainingStats R;
  std::unordered_set<const Value *> Saved;
  for (const auto &N : G.nodes()) {
    switch (N->phase()) {
    case NodePhase::Forward:
      ++R.ForwardNodes;
      break;
    case NodePhase::Backward:
      ++R.BackwardNodes;
      for (const Value *In : N->inputs()) {
        if (!In)
          continue;
        bool IsActivation =
            In->isInput() ||
            (In->producer() && In->producer()->phase() == NodePhase::Forward);
        if (IsActivation)
          Saved.insert(In);
      }
      break;
    case NodePhase::Update:
      ++R.UpdateNodes;
      break;
    }
  }
  R.SavedActivations = int64_t(Saved.size());
  for (const Value *V : Saved)
    R.SavedActivationBytes += V->type().bytes();
  for (const Value *P : G.params())
    if (P->isTrainable()) {
      ++R.TrainableParams;
      int64_t E = P->type().numElements();
      if (P->train().Channels >= 0 && P->type().rank() > 0) {
        int64_t Axis = channelAxis(G, P);
        E = E / P->type().Dims[size_t(Axis)] * P->train().Channels;
      }
      R.TrainableElements += E;
    }
  return R;
}

} // namespace mote::cli
