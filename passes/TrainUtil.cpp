//===- TrainUtil.cpp - Helpers shared by the passes -----------------------===//

#include "passes/TrainUtil.h"
#include "compiler/Graph.h"
#include "passes/Pass.h"

#include <fnmatch.h>

namespace mote {

bool onlyUser(const Graph &G, const Value *V, const Node *User) {
  std::vector<Node *> Us = G.users(V);
  return !G.isOutput(V) && Us.size() == 1 && Us[0] == User;
}

void replaceValue(Graph &G, PassContext &Ctx, Value *Old, Value *New,
                  std::string_view Suffix) {
  G.replaceAllUsesWith(Old, New);
  if (Ctx.Prediction == Old)
    Ctx.Prediction = New;
  if (Ctx.Loss == Old)
    Ctx.Loss = New;
  std::string Name = Old->name();
  G.renameValue(Old, G.uniqueName(Name + std::string(Suffix)));
  G.renameValue(New, Name);
}

AttrMap maskTestAttrs(const Node &N) {
  AttrMap A;
  if (N.op() == OpKind::ReluGrad) {
    A.set("activation", std::string("Relu"));
    return A;
  }
  A.set("activation", std::string("Clip"));
  if (N.attrs().has("min"))
    A.set("activation_min", N.attrs().getFloat("min", 0));
  if (N.attrs().has("max"))
    A.set("activation_max", N.attrs().getFloat("max", 0));
  return A;
}

int64_t channelAxis(const Graph &G, const Value *P) {
  int64_t Rank = int64_t(P->type().rank());
  if (Rank == 0)
    return 0;
  // A quantized weight's scales are per output channel (Quantize.cpp).
  if (P->type().isQuantized() && P->type().Quant->perAxis())
    return P->type().Quant->Axis;
  for (const Node *N : G.users(P)) {
    if (N->op() == OpKind::DequantizeLinear)
      return channelAxis(G, N->output(0));
    if (N->op() == OpKind::Gemm && N->input(1) == P)
      return N->attrs().getInt("transB", 0) ? 0 : 1;
    if (N->op() == OpKind::Gemm && N->input(2) == P)
      return Rank - 1;
    if (N->op() == OpKind::MatMul && N->input(1) == P)
      return Rank - 1;
    if (N->op() == OpKind::Conv)
      return 0;
  }
  return 0;
}

bool trainsUnder(const Value *P, const std::vector<UpdateRule> &Rules) {
  if (!P->isParam() || P->isOptimizerState() ||
      !(isFloat(P->type().Elem) || P->type().isQuantized()))
    return false;
  if (Rules.empty())
    return true;
  for (const UpdateRule &R : Rules)
    if (fnmatch(R.Pattern.c_str(), P->name().c_str(), 0) == 0)
      return true;
  return false;
}

std::unordered_set<const Value *>
trainedDependents(const Graph &G, const std::vector<UpdateRule> &Rules) {
  std::unordered_set<const Value *> R;
  for (const auto &N : G.nodes()) {
    bool Dep = false;
    for (const Value *In : N->inputs())
      Dep = Dep || (In && (R.count(In) || trainsUnder(In, Rules)));
    if (Dep)
      for (const Value *Out : N->outputs())
        R.insert(Out);
  }
  return R;
}

bool isParameterUpdate(const Node &N) {
  return N.op() == OpKind::SgdUpdate || N.op() == OpKind::MomentumUpdate ||
         N.op() == OpKind::AdamUpdate;
}

} // namespace mote
