//===- GradCheck.h - Finite-difference checks of gradient rules -*- C++ -*-===//
//
// checkGradient(Op, Inputs, Attrs, Wrt) builds  loss = sum_k sum(R_k * y_k)
// over the op's float results y_k (R_k fixed random weights, so every
// element of every result matters), differentiates it with the autodiff
// engine, runs the backward graph on the interpreter, and compares each
// gradient element with a central difference of the forward graph. Inputs
// should be f64 so the difference is exact to ~1e-9; the comparison
// tolerance is 1e-6 absolute + 1e-5 relative.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TESTS_UNIT_GRADCHECK_H
#define MOTE_TESTS_UNIT_GRADCHECK_H

#include "TestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Verifier.h"
#include "passes/Autodiff.h"

#include <random>

namespace mote::test {

/// f64 tensor of shape \p Dims with uniform values in [Lo, Hi).
inline Tensor randomF64(Shape Dims, unsigned Seed, double Lo = -1.0,
                        double Hi = 1.0) {
  Tensor T(TensorType(DType::F64, std::move(Dims)));
  std::mt19937 Rng(Seed);
  std::uniform_real_distribution<double> D(Lo, Hi);
  for (double &V : T.data<double>())
    V = D(Rng);
  return T;
}

struct GradCheckOptions {
  /// Results that feed the loss (default: every float result).
  std::vector<size_t> Results;
  /// Number of results the node has (default: as the type rule gives).
  size_t NumResults = 0;
  double Eps = 1e-6;
  double AbsTol = 1e-6, RelTol = 1e-5;
};

namespace detail {

/// Builds the one-node graph with its weighted-sum loss; returns the loss.
inline Value *buildLossGraph(Graph &G, OpKind Op,
                             const std::vector<std::optional<Tensor>> &Inputs,
                             const AttrMap &Attrs,
                             const std::vector<size_t> &Wrt,
                             const GradCheckOptions &O,
                             std::vector<Value *> &Params) {
  std::vector<Value *> Ins;
  Params.assign(Inputs.size(), nullptr);
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (!Inputs[I]) {
      Ins.push_back(nullptr);
      continue;
    }
    bool Diff = std::find(Wrt.begin(), Wrt.end(), I) != Wrt.end();
    std::string Name = "in" + std::to_string(I);
    Value *V = Diff ? G.addParam(Name, *Inputs[I]) : G.addConst(Name, *Inputs[I]);
    if (Diff)
      V->setTrain({true, -1, ""});
    Params[I] = V;
    Ins.push_back(V);
  }
  size_t NumResults = O.NumResults;
  if (!NumResults)
    NumResults = 1;
  std::vector<ResultSpec> Rs;
  for (size_t I = 0; I < NumResults; ++I)
    Rs.push_back({"y" + std::to_string(I), TensorType()});
  Node *N = G.addNode(Op, "op", Ins, Attrs, Rs);
  auto Types = inferNodeTypes(*N);
  REQUIRE(Types);
  for (size_t I = 0; I < NumResults; ++I)
    N->output(I)->setType((*Types)[I]);
  std::vector<size_t> Use = O.Results;
  if (Use.empty())
    for (size_t I = 0; I < NumResults; ++I)
      if (isFloat((*Types)[I].Elem))
        Use.push_back(I);
  Value *Loss = nullptr;
  unsigned Seed = 1000;
  for (size_t K : Use) {
    Value *Y = N->output(K);
    Tensor R(Y->type());
    std::mt19937 Rng(Seed++);
    std::uniform_real_distribution<double> D(-1, 1);
    for (int64_t I = 0; I < R.numElements(); ++I)
      R.setFromDouble(I, D(Rng));
    Value *RV = G.addConst("r" + std::to_string(K), R);
    std::string P = "p" + std::to_string(K), S = "s" + std::to_string(K);
    Node *M = G.addNode(OpKind::Mul, P, {Y, RV}, {}, {{P, Y->type()}});
    AttrMap A;
    A.set("keepdims", int64_t(0));
    Node *Sum = G.addNode(OpKind::ReduceSum, S, {M->output(0)}, A,
                          {{S, TensorType(Y->type().Elem, {})}});
    if (!Loss) {
      Loss = Sum->output(0);
    } else {
      std::string L = "l" + std::to_string(K);
      Loss = G.addNode(OpKind::Add, L, {Loss, Sum->output(0)}, {},
                       {{L, Loss->type()}})
                 ->output(0);
    }
  }
  G.addOutput(Loss);
  return Loss;
}

} // namespace detail

/// Checks the gradient of \p Op with respect to the inputs listed in \p Wrt.
inline void checkGradient(OpKind Op, std::vector<std::optional<Tensor>> Inputs,
                          AttrMap Attrs, std::vector<size_t> Wrt,
                          GradCheckOptions O = {}) {
  // Analytic gradients.
  Graph G("gradcheck");
  std::vector<Value *> Params;
  Value *Loss = detail::buildLossGraph(G, Op, Inputs, Attrs, Wrt, O, Params);
  std::vector<Value *> WrtValues;
  for (size_t I : Wrt)
    WrtValues.push_back(Params[I]);
  auto Grads = buildGradients(G, Loss, WrtValues);
  if (!Grads)
    FAIL("autodiff failed: " << Grads.error().str());
  for (Value *W : WrtValues) {
    Value *Gr = (*Grads)[W];
    REQUIRE(Gr != nullptr);
    G.addOutput(Gr);
  }
  Status V = verifyGraph(G);
  if (!V)
    FAIL("backward graph does not verify: " << V.error().str());
  auto Out = interpret(G, {});
  if (!Out)
    FAIL("backward graph failed to run: " << Out.error().str());

  // Numeric gradients from the forward graph alone.
  Graph F("forward");
  std::vector<Value *> FParams;
  detail::buildLossGraph(F, Op, Inputs, Attrs, Wrt, O, FParams);
  auto LossAt = [&]() {
    auto R = interpret(F, {});
    REQUIRE(R);
    return (*R)[0].getAsDouble(0);
  };
  for (size_t K = 0; K < Wrt.size(); ++K) {
    Tensor &Data = *FParams[Wrt[K]]->mutableData();
    const Tensor &Analytic = (*Out)[1 + K];
    REQUIRE(Analytic.shape() == Data.shape());
    for (int64_t I = 0; I < Data.numElements(); ++I) {
      double X = Data.getAsDouble(I);
      Data.setFromDouble(I, X + O.Eps);
      double Up = LossAt();
      Data.setFromDouble(I, X - O.Eps);
      double Down = LossAt();
      Data.setFromDouble(I, X);
      double Numeric = (Up - Down) / (2 * O.Eps);
      double Got = Analytic.getAsDouble(I);
      INFO("input " << Wrt[K] << " element " << I << ": analytic " << Got
                    << " numeric " << Numeric);
      CHECK(std::fabs(Got - Numeric) <= O.AbsTol + O.RelTol * std::fabs(Numeric));
    }
  }
}

} // namespace mote::test

#endif // MOTE_TESTS_UNIT_GRADCHECK_H
