//===- AddOptimizer.cpp - Parameter updates after the backward graph ------===//
//
// For each trainable parameter W with gradient dW (from autodiff) this adds
// an update node and a state update W <- W' (in place on a device):
//   sgd:      W' = SgdUpdate(W, dW)
//   momentum: W', V' = MomentumUpdate(W, dW, V)          (V: W.momentum;
//             mode nesterov with --nesterov)
//   adam:     W', V', H' = AdamUpdate(W, dW, V, H, step)  (V: W.adam_m,
//             H: W.adam_v, step: optimizer.step, an i64 counter from 1)
// Optimizer state is a parameter marked optimizer_state: planned memory like
// anything else. A quantized parameter (an int8 weight, an int32 bias) is
// updated in place by whole integer steps, with quantization-aware scaling
// unless --quantized-update plain (the update ops' `scaling`); its
// momentum is f32; Adam does not update it. A partial-channel parameter's update carries axis and
// channels, so it touches only the channels that train.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <fmt/format.h>

namespace mote {

namespace {

Expected<std::vector<Value *>> addUpdate(Graph &G, OpKind Op,
                                         std::vector<Value *> Ins,
                                         AttrMap Attrs,
                                         std::vector<std::string> Names) {
  std::string NodeName = G.uniqueName(Names[0] + ".update");
  for (std::string &N : Names)
    N = G.uniqueName(N);
  Expected<Node *> N = G.createNode(nullptr, Op, std::move(NodeName),
                                    std::move(Ins), std::move(Attrs),
                                    std::move(Names));
  if (!N)
    return N.takeError();
  (*N)->setPhase(NodePhase::Update);
  return std::vector<Value *>((*N)->outputs().begin(), (*N)->outputs().end());
}

Value *stateLike(Graph &G, const Value *W, const std::string &Suffix) {
  Value *S = G.addParam(G.uniqueName(W->name() + "." + Suffix),
                        Tensor(gradType(W->type())));
  S->setOptimizerState(true);
  return S;
}

} // namespace

Expected<bool> runAddOptimizer(Graph &G, PassContext &Ctx) {
  const TrainOptions &O = Ctx.Train;
  if (Ctx.Gradients.empty())
    return Diag("add-optimizer needs gradients; run autodiff first");
  Value *Step = nullptr;
  if (O.Optimizer == OptimizerKind::Adam) {
    Step = G.addParam(G.uniqueName("optimizer.step"),
                      Tensor::fromVector<int64_t>({1}, {}));
    Step->setOptimizerState(true);
  }
  for (auto [W, Grad] : Ctx.Gradients) {
    AttrMap A;
    A.set("lr", O.LearningRate);
    if (O.WeightDecay != 0)
      A.set("norm_coefficient", O.WeightDecay);
    if (W->type().isQuantized()) {
      if (O.Optimizer == OptimizerKind::Adam)
        return Diag(fmt::format("Adam does not update the quantized "
                                "parameter '{}' ({}); use --optimizer sgd or "
                                "momentum, or keep the layer in float "
                                "(--quantized-update float)",
                                W->name(), W->type().str()));
      A.set("scaling", std::string(O.Quantized == QuantizedUpdate::Plain
                                       ? "none"
                                       : "qas"));
    }
    if (W->train().Channels >= 0) {
      A.set("axis", channelAxis(G, W));
      A.set("channels", W->train().Channels);
    }
    const std::string &Name = W->name();
    Expected<std::vector<Value *>> R = std::vector<Value *>{};
    switch (O.Optimizer) {
    case OptimizerKind::Sgd:
      R = addUpdate(G, OpKind::SgdUpdate, {W, Grad}, A, {Name + ".new"});
      if (!R)
        return R.takeError();
      G.addStateUpdate(W, (*R)[0]);
      break;
    case OptimizerKind::Momentum: {
      Value *V = stateLike(G, W, "momentum");
      A.set("alpha", O.Momentum);
      A.set("beta", 1.0f);
      if (O.Nesterov)
        A.set("mode", std::string("nesterov"));
      R = addUpdate(G, OpKind::MomentumUpdate, {W, Grad, V}, A,
                    {Name + ".new", V->name() + ".new"});
      if (!R)
        return R.takeError();
      G.addStateUpdate(W, (*R)[0]);
      G.addStateUpdate(V, (*R)[1]);
      break;
    }
    case OptimizerKind::Adam: {
      Value *M = stateLike(G, W, "adam_m");
      Value *V = stateLike(G, W, "adam_v");
      A.set("alpha", O.Beta1);
      A.set("beta", O.Beta2);
      A.set("epsilon", O.Epsilon);
      R = addUpdate(G, OpKind::AdamUpdate, {W, Grad, M, V, Step}, A,
                    {Name + ".new", M->name() + ".new", V->name() + ".new"});
      if (!R)
        return R.takeError();
      G.addStateUpdate(W, (*R)[0]);
      G.addStateUpdate(M, (*R)[1]);
      G.addStateUpdate(V, (*R)[2]);
      break;
    }
    }
  }
  if (Step) {
    Value *One = G.addConst(G.uniqueName("optimizer.one"),
                            Tensor::fromVector<int64_t>({1}, {}));
    Node *Inc = G.addNode(OpKind::Add, G.uniqueName("optimizer.step.inc"),
                          {Step, One}, {},
                          {{G.uniqueName("optimizer.step.new"), Step->type()}});
    Inc->setPhase(NodePhase::Update);
    G.addStateUpdate(Step, Inc->output(0));
  }
  return true;
}

} // namespace mote
