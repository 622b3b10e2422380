//===- AccumulateTest.cpp - Micro-batches (--accumulate N) ----------------===//
//
// N training steps of batch B accumulated (add-optimizer with
// TrainOptions::Accumulate = N) must train as one step of batch N*B on the
// same samples: the loss is a mean over the batch, so the mean of the N
// micro-batch gradients is the big batch's gradient. Checked through the
// whole pipeline (fused, a channel slice, momentum and Adam) in the
// interpreter, for two updates (the count restarts between them), with
// the parameters untouched by the steps that only accumulate.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "TestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Parser.h"
#include "passes/Pass.h"

#include <catch2/catch.hpp>

#include <string>

using namespace mote;
using namespace mote::test;

namespace {

/// SmallCnnText with batch \p B instead of 2.
std::string cnnWithBatch(int B) {
  std::string S = SmallCnnText;
  auto Replace = [&](const std::string &From, const std::string &To) {
    for (size_t P = S.find(From); P != std::string::npos;
         P = S.find(From, P + To.size()))
      S.replace(P, From.size(), To);
  };
  Replace("f32[2,", "f32[" + std::to_string(B) + ",");
  Replace("shape = [2, 96]", "shape = [" + std::to_string(B) + ", 96]");
  return S;
}

std::unique_ptr<Graph> build(int Batch, TrainOptions T) {
  auto G = parseGraph(cnnWithBatch(Batch));
  REQUIRE(G);
  uint32_t Seed = 1;
  for (Value *P : (*G)->params())
    *P->mutableData() = randomF32(P->type().Dims, Seed++, -0.5f, 0.5f);
  for (const char *U : {"conv2.*:0.5", "fc.*"}) {
    auto R = parseUpdateRule(U);
    REQUIRE(R);
    T.Update.push_back(*R);
  }
  PassContext Ctx;
  Ctx.Train = T;
  auto St = runPipeline(defaultPipeline(true, true, /*Fuse=*/true,
                                        /*Quantize=*/false,
                                        /*PackMasks=*/true),
                        **G, Ctx);
  if (!St)
    FAIL(St.error().str());
  return std::move(*G);
}

/// Samples [First, First + N) of a fixed sequence, batched.
std::map<std::string, Tensor> feeds(int First, int N) {
  Tensor X(TensorType(DType::F32, {int64_t(N), 1, 8, 8}));
  std::vector<int32_t> Labels;
  for (int I = 0; I < N; ++I) {
    Tensor S = randomF32({1, 1, 8, 8}, uint32_t(500 + First + I));
    for (int64_t E = 0; E < 64; ++E)
      X.setFromDouble(I * 64 + E, S.getAsDouble(E));
    Labels.push_back(int32_t((First + I) % 3));
  }
  return {{"x", X}, {"label", Tensor::fromVector<int32_t>(Labels, {N})}};
}

void requireClose(const Tensor &A, const Tensor &B, double Tol) {
  REQUIRE(A.type() == B.type());
  for (int64_t I = 0; I < A.numElements(); ++I) {
    double X = A.getAsDouble(I), Y = B.getAsDouble(I);
    INFO("element " << I << ": " << X << " vs " << Y);
    REQUIRE(std::abs(X - Y) <= Tol * std::max(1.0, std::abs(Y)));
  }
}

/// Trains N micro-batches of 2 per update against one batch of 2N, for
/// two updates.
void checkAccumulated(OptimizerKind Opt, int N) {
  TrainOptions T;
  T.Optimizer = Opt;
  T.LearningRate = 0.1f;
  T.Accumulate = N;
  auto Micro = build(2, T);
  T.Accumulate = 1;
  auto Big = build(2 * N, T);
  Interpreter IM(*Micro), IB(*Big);
  for (int Update = 0; Update < 2; ++Update) {
    for (int Step = 0; Step < N; ++Step) {
      std::map<std::string, Tensor> Before;
      for (const Value *P : Micro->params())
        if (P->isTrainable())
          Before.emplace(P->name(), *IM.state(P));
      REQUIRE(IM.run(feeds(2 * (Update * N + Step), 2)));
      // Every step but the last only accumulates.
      for (const Value *P : Micro->params())
        if (P->isTrainable() && Step + 1 < N) {
          INFO(P->name() << " moved at micro-batch " << Step);
          requireClose(*IM.state(P), Before.at(P->name()), 0);
        }
    }
    REQUIRE(IB.run(feeds(2 * Update * N, 2 * N)));
    for (const Value *P : Big->params()) {
      if (!P->isTrainable() && !P->isOptimizerState())
        continue;
      INFO("update " << Update << ": " << P->name());
      const Value *Q = Micro->lookup(P->name());
      REQUIRE(Q);
      requireClose(*IM.state(Q), *IB.state(P), 1e-6);
    }
  }
  const Value *Count = Micro->lookup("optimizer.accumulated");
  REQUIRE(Count);
  CHECK(IM.state(Count)->getAsInt(0) == 0);
}

} // namespace

TEST_CASE("accumulate: N micro-batches train as one batch N times as large",
          "[accumulate]") {
  checkAccumulated(OptimizerKind::Sgd, 3);
  checkAccumulated(OptimizerKind::Momentum, 2);
  checkAccumulated(OptimizerKind::Adam, 4);
}

TEST_CASE("accumulate: the accumulators hold the trained channels only",
          "[accumulate]") {
  TrainOptions T;
  T.Accumulate = 2;
  auto G = build(2, T);
  const Value *A = G->lookup("conv2.weight.accumulated");
  REQUIRE(A);
  CHECK(A->isOptimizerState());
  CHECK(A->type().Dims == Shape{3, 4, 3, 3});
  // No weight gradient fuses into an accumulated update.
  for (const auto &N : G->nodes())
    CHECK(N->op() != OpKind::ConvGradWeightSgd);
}

TEST_CASE("accumulate: add-optimizer rejects a count below 1",
          "[accumulate]") {
  auto G = parseGraph(SmallCnnText);
  REQUIRE(G);
  PassContext Ctx;
  Ctx.Train.Accumulate = 0;
  auto St = runPipeline(defaultPipeline(true, true, true, false, true), **G,
                        Ctx);
  REQUIRE_FALSE(St);
  CHECK(St.error().str().find("--accumulate must be at least 1") !=
        std::string::npos);
}
