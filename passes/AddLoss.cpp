//===- AddLoss.cpp - Put a loss on the chosen output ----------------------===//
//
// Cross-entropy: logits [N, C] (or [N, C, d...]) and an integer class label
// input [N] (or [N, d...]) feed SoftmaxCrossEntropyLoss (mean reduction);
// the softmax is fused with the loss, so the backward is the stable
// softmax(x) - onehot(label).
// MSE: a float target input of the output's shape; loss = mean((y - t)^2).
// The label input is named TrainOptions::LabelName ("label"). A model whose
// output already comes from SoftmaxCrossEntropyLoss keeps its own loss.
// Afterwards the graph's only output is the scalar loss.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "passes/Pass.h"

#include <fmt/format.h>

namespace mote {

namespace {

Expected<Value *> addNode(Graph &G, OpKind Op, std::vector<Value *> Ins,
                          AttrMap Attrs, const std::string &Name) {
  Expected<Node *> N = G.createNode(nullptr, Op, G.uniqueName(Name),
                                    std::move(Ins), std::move(Attrs),
                                    {G.uniqueName(Name)});
  if (!N)
    return N.takeError();
  return (*N)->output(0);
}

Expected<Value *> chooseOutput(Graph &G, const TrainOptions &Opts) {
  if (!Opts.Output.empty()) {
    for (Value *V : G.outputs())
      if (V->name() == Opts.Output)
        return V;
    std::vector<std::string> Names;
    for (Value *V : G.outputs())
      Names.push_back(V->name());
    return Diag(fmt::format("--output '{}' is not a graph output (outputs: "
                            "{})",
                            Opts.Output, fmt::join(Names, ", ")));
  }
  if (G.outputs().size() != 1) {
    std::vector<std::string> Names;
    for (Value *V : G.outputs())
      Names.push_back(V->name());
    return Diag(fmt::format("the model has {} outputs ({}); choose the one "
                            "the loss goes on with --output",
                            Names.size(), fmt::join(Names, ", ")));
  }
  return G.outputs()[0];
}

} // namespace

Expected<bool> runAddLoss(Graph &G, PassContext &Ctx) {
  const TrainOptions &Opts = Ctx.Train;
  Expected<Value *> Out = chooseOutput(G, Opts);
  if (!Out)
    return Out.takeError();
  Value *Y = *Out;
  if (Y->producer() && Y->producer()->op() == OpKind::SoftmaxCrossEntropyLoss) {
    if (Y->type().numElements() != 1)
      return Diag(fmt::format("the model's SoftmaxCrossEntropyLoss output "
                              "'{}' is {}, not a scalar; export it with "
                              "reduction mean or sum",
                              Y->name(), Y->type().str()));
    Ctx.Loss = Y;
    G.setOutputs({Y});
    return false;
  }
  if (!isFloat(Y->type().Elem))
    return Diag(fmt::format("output '{}' is {}; a loss needs a float output",
                            Y->name(), Y->type().str()));
  if (G.isNameTaken(Opts.LabelName))
    return Diag(fmt::format("the model already has a value named '{}'; pick "
                            "another label name with --label-name",
                            Opts.LabelName));
  const Shape &D = Y->type().Dims;
  Value *Loss = nullptr;
  if (Opts.Loss == LossKind::CrossEntropy) {
    if (D.size() < 2)
      return Diag(fmt::format("cross-entropy needs logits of shape [N, C, "
                              "...], but output '{}' is {}; use --loss mse "
                              "or choose another --output",
                              Y->name(), Y->type().str()));
    Shape LabelDims = {D[0]};
    LabelDims.insert(LabelDims.end(), D.begin() + 2, D.end());
    Value *Label =
        G.addInput(Opts.LabelName, TensorType(DType::I32, LabelDims));
    AttrMap A;
    A.set("reduction", std::string("mean"));
    Expected<Value *> L = addNode(G, OpKind::SoftmaxCrossEntropyLoss,
                                  {Y, Label}, A, "loss");
    if (!L)
      return L.takeError();
    Loss = *L;
  } else {
    Value *Target = G.addInput(Opts.LabelName, Y->type());
    Expected<Value *> Diff = addNode(G, OpKind::Sub, {Y, Target}, {}, "loss.diff");
    if (!Diff)
      return Diff.takeError();
    Expected<Value *> Sq = addNode(G, OpKind::Mul, {*Diff, *Diff}, {}, "loss.sq");
    if (!Sq)
      return Sq.takeError();
    AttrMap A;
    A.set("keepdims", int64_t(0));
    Expected<Value *> L = addNode(G, OpKind::ReduceMean, {*Sq}, A, "loss");
    if (!L)
      return L.takeError();
    Loss = *L;
  }
  Ctx.Loss = Loss;
  Ctx.Prediction = Y;
  G.setOutputs({Loss});
  G.removeDeadCode();
  return true;
}

} // namespace mote
