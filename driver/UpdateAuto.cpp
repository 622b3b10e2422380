//===- UpdateAuto.cpp - --update auto: the largest update that fits -------===//

#include "driver/UpdateAuto.h"
#include "compiler/Graph.h"
#include "compiler/Json.h"
#include "driver/Options.h"

#include <fmt/format.h>

namespace mote {

namespace {

/// A layer the search may train: its weight and bias parameters (the bias
/// empty if it has none).
struct Layer {
  std::string Weight, Bias;
};

/// The parameter \p V is, or that a DequantizeLinear computing \p V reads
/// (a QDQ model's weight); null if neither.
const Value *paramOf(const Value *V) {
  if (!V)
    return nullptr;
  if (V->isParam())
    return V;
  const Node *P = V->producer();
  if (P && P->op() == OpKind::DequantizeLinear && P->input(0) &&
      P->input(0)->isParam())
    return P->input(0);
  return nullptr;
}

/// The layers of \p G in forward order: Conv, Gemm and MatMul nodes whose
/// weight (input 1) is a parameter.
std::vector<Layer> layersOf(const Graph &G) {
  std::vector<Layer> R;
  for (const auto &N : G.nodes()) {
    OpKind K = N->op();
    if (K != OpKind::Conv && K != OpKind::Gemm && K != OpKind::MatMul)
      continue;
    const Value *W = N->numInputs() > 1 ? paramOf(N->input(1)) : nullptr;
    if (!W)
      continue;
    const Value *B = K != OpKind::MatMul && N->numInputs() > 2
                         ? paramOf(N->input(2))
                         : nullptr;
    R.push_back({W->name(), B ? B->name() : std::string()});
  }
  return R;
}

UpdateRule rule(const std::string &Param, double Ratio) {
  UpdateRule R;
  R.Pattern = escapeGlob(Param);
  R.Ratio = Ratio;
  R.Origin = fmt::format("--update auto: '{}'", ruleSpec(R));
  return R;
}

} // namespace

std::string ruleSpec(const UpdateRule &R) {
  return R.Ratio < 1 ? fmt::format("{}:{}", R.Pattern, R.Ratio) : R.Pattern;
}

std::string escapeGlob(const std::string &Name) {
  std::string R;
  for (char C : Name) {
    if (C == '*' || C == '?' || C == '[' || C == ']' || C == '\\')
      R += '\\';
    R += C;
  }
  return R;
}

std::string updateFileJson(const std::vector<UpdateRule> &Rules) {
  JsonWriter W;
  W.beginObject();
  W.key("update");
  W.beginArray();
  for (const UpdateRule &R : Rules) {
    W.beginObject();
    W.field("params", R.Pattern);
    if (R.Ratio < 1)
      W.field("channels", R.Ratio);
    W.endObject();
  }
  W.endArray();
  W.endObject();
  return W.str();
}

Expected<AutoUpdate> chooseUpdate(
    const CompileOptions &O, const GraphSource &Import,
    const std::function<Expected<int64_t>(std::unique_ptr<Graph>,
                                          const CompileOptions &)> &Compile) {
  if (!O.RamBudget)
    return usageError("--update auto needs --ram-budget (the update chosen "
                      "is the largest that fits it)");
  Expected<std::unique_ptr<Graph>> G0 = Import();
  if (!G0)
    return G0.takeError();
  std::vector<Layer> Layers = layersOf(**G0);
  G0->reset();
  if (Layers.empty())
    return Diag("--update auto found no layer to train (a Conv, Gemm or "
                "MatMul with a parameter weight)");
  AutoUpdate A;
  A.Budget = *O.RamBudget;
  A.Layers = int64_t(Layers.size());

  // Whether the step training Rules fits; Last is its arena.
  int64_t Last = 0;
  auto Fits = [&](const std::vector<UpdateRule> &Rules) -> Expected<bool> {
    CompileOptions C = O;
    C.Train.UpdateAuto = false;
    C.Train.Update = Rules;
    C.RamBudget.reset();
    Expected<std::unique_ptr<Graph>> G = Import();
    if (!G)
      return G.takeError();
    ++A.Compiles;
    Expected<int64_t> Arena = Compile(std::move(*G), C);
    if (!Arena)
      return Arena.takeError();
    Last = *Arena;
    return *Arena <= A.Budget;
  };

  // 1. Biases of the last k layers (last first): the largest k that fits.
  std::vector<std::string> Biases;
  for (auto It = Layers.rbegin(); It != Layers.rend(); ++It)
    if (!It->Bias.empty())
      Biases.push_back(It->Bias);
  auto BiasRules = [&](size_t K) {
    std::vector<UpdateRule> R;
    for (size_t I = 0; I < K; ++I)
      R.push_back(rule(Biases[I], 1));
    return R;
  };
  size_t K = 0;
  if (!Biases.empty()) {
    Expected<bool> One = Fits(BiasRules(1));
    if (!One)
      return One.takeError();
    if (!*One)
      return Diag(fmt::format(
          "--update auto: training even the last layer's bias ('{}') needs "
          "an arena of {} bytes, over the --ram-budget of {}",
          Biases[0], Last, A.Budget));
    // Largest fitting k in [Lo, Hi]: Lo fits, its arena LoArena.
    size_t Lo = 1, Hi = Biases.size();
    int64_t LoArena = Last;
    while (Lo < Hi) {
      size_t Mid = Lo + (Hi - Lo + 1) / 2;
      Expected<bool> F = Fits(BiasRules(Mid));
      if (!F)
        return F.takeError();
      if (*F) {
        Lo = Mid;
        LoArena = Last;
      } else {
        Hi = Mid - 1;
      }
    }
    K = Lo;
    A.ArenaBytes = LoArena;
  }
  std::vector<UpdateRule> Chosen = BiasRules(K);
  A.Biases = int64_t(K);

  // 2. Weights, from the last layer back over the layers the biases reach
  // (all of them when the model has no biases), at the first ratio that
  // fits.
  size_t Reach = Layers.size();
  if (!Biases.empty()) {
    Reach = 0;
    for (size_t Seen = 0; Reach < Layers.size(); ++Reach) {
      const Layer &L = Layers[Layers.size() - 1 - Reach];
      if (!L.Bias.empty() && ++Seen > K)
        break;
    }
  }
  for (size_t J = 0; J < Reach; ++J) {
    const Layer &L = Layers[Layers.size() - 1 - J];
    bool Took = false;
    for (double Ratio : {1.0, 0.5, 0.25, 0.125}) {
      std::vector<UpdateRule> Try = Chosen;
      Try.push_back(rule(L.Weight, Ratio));
      Expected<bool> F = Fits(Try);
      if (!F)
        return F.takeError();
      if (*F) {
        Chosen = std::move(Try);
        A.ArenaBytes = Last;
        ++A.Weights;
        Took = true;
        break;
      }
    }
    if (!Took)
      break;
  }
  if (Chosen.empty())
    return Diag(fmt::format("--update auto: not even the last layer's weight "
                            "('{}') fits the --ram-budget of {} (it needs {} "
                            "bytes at 1/8 of its channels)",
                            Layers.back().Weight, A.Budget, Last));
  A.Rules = std::move(Chosen);
  return A;
}

} // namespace mote
