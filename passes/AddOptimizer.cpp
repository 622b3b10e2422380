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

/// \p Ins, then the accumulation count when there is one.
std::vector<Value *> withCount(std::vector<Value *> Ins, Value *Count) {
  if (Count)
    Ins.push_back(Count);
  else
    while (!Ins.empty() && !Ins.back())
      Ins.pop_back();
  return Ins;
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
  if (O.Accumulate < 1)
    return Diag(fmt::format("--accumulate must be at least 1, got {}",
                            O.Accumulate));
  Value *Step = nullptr;
  if (O.Optimizer == OptimizerKind::Adam) {
    Step = G.addParam(G.uniqueName("optimizer.step"),
                      Tensor::fromVector<int64_t>({1}, {}));
    Step->setOptimizerState(true);
  }
  const bool Accumulate = O.Accumulate > 1;
  Value *Count = nullptr;
  if (Accumulate) {
    Count = G.addParam(G.uniqueName("optimizer.accumulated"),
                       Tensor::fromVector<int64_t>({0}, {}));
    Count->setOptimizerState(true);
  }
  for (auto [W, Grad] : Ctx.Gradients) {
    if (Accumulate) {
      // A partial-channel update's accumulator holds its trained slices.
      TensorType AccType = Grad->type();
      AttrMap S;
      S.set("scale", float(1.0 / double(O.Accumulate)));
      if (W->train().Channels >= 0) {
        int64_t Axis = channelAxis(G, W);
        AccType.Dims[size_t(Axis)] = W->train().Channels;
        S.set("axis", Axis);
        S.set("channels", W->train().Channels);
      }
      Value *Acc = G.addParam(G.uniqueName(W->name() + ".accumulated"),
                              Tensor(AccType));
      Acc->setOptimizerState(true);
      ++Ctx.Accumulate.Accumulators;
      Ctx.Accumulate.Bytes += AccType.bytes();
      Expected<std::vector<Value *>> R =
          addUpdate(G, OpKind::GradAccumulate, {Acc, Grad, Count}, S,
                    {Acc->name() + ".new"});
      if (!R)
        return R.takeError();
      G.addStateUpdate(Acc, (*R)[0]);
      Grad = (*R)[0];
    }
    AttrMap A;
    A.set("lr", O.LearningRate);
    if (Accumulate)
      A.set("every", O.Accumulate);
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
      R = addUpdate(G, OpKind::SgdUpdate, withCount({W, Grad}, Count), A,
                    {Name + ".new"});
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
      // No step count (input 3): beta applies from the first step.
      R = addUpdate(G, OpKind::MomentumUpdate,
                    withCount({W, Grad, V, nullptr}, Count), A,
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
      R = addUpdate(G, OpKind::AdamUpdate,
                    withCount({W, Grad, M, V, Step}, Count), A,
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
  if (Count) {
    // The count, and Adam's step when the update applies.
    std::vector<Value *> Ins = {Count};
    std::vector<std::string> Names = {Count->name() + ".new"};
    if (Step) {
      Ins.push_back(Step);
      Names.push_back(Step->name() + ".new");
    }
    AttrMap A;
    A.set("every", O.Accumulate);
    Expected<std::vector<Value *>> R =
        addUpdate(G, OpKind::AccumulateCount, Ins, A, Names);
    if (!R)
      return R.takeError();
    G.addStateUpdate(Count, (*R)[0]);
    if (Step)
      G.addStateUpdate(Step, (*R)[1]);
  } else if (Step) {
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
