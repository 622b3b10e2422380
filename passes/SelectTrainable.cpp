//===- SelectTrainable.cpp - Apply the update spec ------------------------===//
//
// With no spec every float or quantized parameter trains (full update). A spec is a list
// of rules "GLOB[:RATIO]" over initializer names (fnmatch-style * ? [..]);
// a parameter trains if some rule matches it, and the LAST matching rule
// decides its channel ratio (BatchNorm running statistics and loss class
// weights never train: no gradient flows into them): only the first ceil(RATIO * C) output channels
// train, C being the parameter's output-channel extent (dim 0 of a Conv
// weight or bias, the output dim of a Gemm/MatMul weight). A rule matching
// no float parameter is an error: a typo must not silently freeze a layer.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/Json.h"
#include "compiler/OpDef.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fnmatch.h>
#include <fstream>
#include <sstream>

namespace mote {

Expected<UpdateRule> parseUpdateRule(std::string_view S) {
  UpdateRule R;
  R.Origin = fmt::format("--update '{}'", S);
  size_t Colon = S.rfind(':');
  std::string_view Pattern = S;
  if (Colon != std::string_view::npos) {
    std::string_view Ratio = S.substr(Colon + 1);
    double V = 0;
    auto [P, EC] = std::from_chars(Ratio.data(), Ratio.data() + Ratio.size(), V);
    bool IsNumber = !Ratio.empty() && EC == std::errc() &&
                    P == Ratio.data() + Ratio.size();
    // Names such as "onnx::Conv_12" contain colons: only a trailing number
    // is a ratio.
    if (IsNumber) {
      if (!(V > 0 && V <= 1))
        return Diag(fmt::format("{}: the channel ratio {} must be in (0, 1]",
                                R.Origin, Ratio));
      R.Ratio = V;
      Pattern = S.substr(0, Colon);
    }
  }
  if (Pattern.empty())
    return Diag(fmt::format("{}: the parameter pattern is empty", R.Origin));
  R.Pattern = std::string(Pattern);
  return R;
}

Expected<std::vector<UpdateRule>> readUpdateFile(const std::string &Path) {
  std::ifstream In(Path);
  if (!In)
    return Diag(fmt::format("{}: cannot open the update spec file", Path));
  std::stringstream SS;
  SS << In.rdbuf();
  Expected<JsonValue> J = parseJson(SS.str());
  if (!J)
    return J.takeError().inFile(Path);
  const JsonValue *List = J->get("update");
  if (J->K != JsonValue::Kind::Object || !List ||
      List->K != JsonValue::Kind::Array)
    return Diag(fmt::format("{}: expected {{\"update\": [{{\"params\": GLOB, "
                            "\"channels\": RATIO}}, ...]}}",
                            Path));
  std::vector<UpdateRule> Rules;
  for (size_t I = 0; I < List->Arr.size(); ++I) {
    const JsonValue &E = List->Arr[I];
    const JsonValue *P = E.get("params");
    const JsonValue *C = E.get("channels");
    std::string Where = fmt::format("{}: update entry {}", Path, I);
    if (E.K != JsonValue::Kind::Object || !P || P->K != JsonValue::Kind::String)
      return Diag(fmt::format("{} needs \"params\": a glob string", Where));
    for (const auto &[K, V] : E.Obj)
      if (K != "params" && K != "channels")
        return Diag(fmt::format("{} has an unknown key '{}'", Where, K));
    UpdateRule R;
    R.Pattern = P->Str;
    R.Origin = Where;
    if (R.Pattern.empty())
      return Diag(fmt::format("{}: the parameter pattern is empty", Where));
    if (C) {
      if (C->K != JsonValue::Kind::Number || !(C->Num > 0 && C->Num <= 1))
        return Diag(fmt::format("{}: \"channels\" must be a ratio in (0, 1]",
                                Where));
      R.Ratio = C->Num;
    }
    Rules.push_back(std::move(R));
  }
  if (Rules.empty())
    return Diag(fmt::format("{}: the update list is empty", Path));
  return Rules;
}

namespace {

/// Whether \p P is only read as an operand no gradient flows into: the
/// running statistics of an eval-mode BatchNormalization, the class weights
/// of a loss. Such parameters are constants of the training step.
bool onlyStatistics(const Graph &G, const Value *P) {
  std::vector<Node *> Users = G.users(P);
  if (Users.empty())
    return false;
  for (const Node *N : Users)
    for (size_t I = 0; I < N->numInputs(); ++I) {
      if (N->input(I) != P)
        continue;
      bool Stat = (N->op() == OpKind::BatchNormalization && I >= 3) ||
                  (N->op() == OpKind::SoftmaxCrossEntropyLoss && I == 2);
      if (!Stat)
        return false;
    }
  return true;
}

} // namespace

Expected<bool> runSelectTrainable(Graph &G, PassContext &Ctx) {
  const std::vector<UpdateRule> &Rules = Ctx.Train.Update;
  std::vector<Value *> Candidates;
  for (Value *P : G.params())
    if (P->isParam() && !P->isOptimizerState() &&
        (isFloat(P->type().Elem) || P->type().isQuantized()) &&
        !onlyStatistics(G, P))
      Candidates.push_back(P);
  if (Candidates.empty())
    return Diag("the model has no float parameters to train");
  if (Rules.empty()) {
    for (Value *P : Candidates)
      P->setTrain({true, -1, "full update"});
    return true;
  }
  std::vector<int> Matches(Rules.size(), 0);
  for (Value *P : Candidates) {
    const UpdateRule *Last = nullptr;
    for (size_t I = 0; I < Rules.size(); ++I)
      if (fnmatch(Rules[I].Pattern.c_str(), P->name().c_str(), 0) == 0) {
        Last = &Rules[I];
        ++Matches[I];
      }
    if (!Last) {
      P->setTrain({});
      continue;
    }
    TrainSpec S{true, -1, Last->Origin};
    if (Last->Ratio < 1.0 && P->type().rank() > 0) {
      int64_t Axis = channelAxis(G, P);
      int64_t C = P->type().Dims[size_t(Axis)];
      int64_t K = std::max<int64_t>(1, int64_t(std::ceil(Last->Ratio * double(C) - 1e-9)));
      if (K < C)
        S.Channels = K;
    }
    P->setTrain(S);
  }
  for (size_t I = 0; I < Rules.size(); ++I)
    if (!Matches[I]) {
      std::vector<std::string> Examples;
      for (size_t K = 0; K < Candidates.size() && K < 4; ++K)
        Examples.push_back("'" + Candidates[K]->name() + "'");
      // "classifier.*:half" is taken as a name with a colon; say so.
      std::string Hint;
      if (size_t Colon = Rules[I].Pattern.rfind(':'); Colon != std::string::npos)
        Hint = fmt::format("; a channel ratio after ':' must be a number in "
                           "(0, 1], e.g. '{}:0.5'",
                           Rules[I].Pattern.substr(0, Colon));
      return Diag(fmt::format("{} matches no float parameter (parameters are "
                              "named like {}){}",
                              Rules[I].Origin, fmt::join(Examples, ", "), Hint));
    }
  return true;
}

} // namespace mote
