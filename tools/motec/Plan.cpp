//===- Plan.cpp - motec plan and report.json ------------------------------===//
//
// Builds the graph (training step or inference), lays out its memory and
// prints the arena, the liveness lower bound, the efficiency and the flash
// bytes; --report FILE.json writes the report in the format DESIGN.md fixes
// (arena_bytes, lower_bound_bytes, efficiency, flash_bytes, tensors, ops,
// update, passes).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "HtmlReport.h"
#include "Session.h"
#include "compiler/Graph.h"
#include "compiler/Json.h"
#include "compiler/OpDef.h"
#include "memory/Layout.h"

#include <algorithm>
#include <chrono>
#include <charconv>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>

namespace mote::cli {

const OptionSpec ReportOptions[3] = {
    {"report", "FILE.json", false, "write the memory report (report.json format)"},
    {"report-html", "FILE.html", false,
     "write the memory report as a page: the arena over time"},
    {"ram-budget", "BYTES", false,
     "fail (exit 1) if the arena is larger, naming what is live at the peak"},
};

namespace {

std::span<const OptionSpec> planOptions() {
  static const std::vector<OptionSpec> V = withModelOptions(ReportOptions);
  return V;
}

} // namespace

namespace {

/// The error for an arena over budget: the peak step and the largest
/// buffers live there, with their producer and why they are alive.
Diag overBudget(const Graph &G, const MemoryLayout &L, int64_t Budget) {
  int32_t Peak = peakStep(L);
  std::vector<const BufferInfo *> At = buffersLiveAt(L, Peak);
  std::vector<std::string> Top;
  const auto &Nodes = G.nodes();
  for (size_t I = 0; I < At.size() && I < 5; ++I) {
    const BufferInfo &B = *At[I];
    const Node *P = B.V->producer();
    std::string Why =
        B.Kind == BufferKind::Param || B.Kind == BufferKind::OptimizerState
            ? std::string("trained, kept for the whole step")
            : fmt::format("read until step {} ({})", B.Last,
                          Nodes[size_t(B.Last)]->name());
    Top.push_back(fmt::format("'{}' {} bytes ({}, from {}, {})",
                              B.V->name(), B.Bytes, bufferKindName(B.Kind),
                              P ? P->name() : std::string("outside"), Why));
  }
  const Node &PeakNode = *Nodes[size_t(Peak)];
  Diag D(fmt::format("the arena needs {} bytes, over the --ram-budget of {}; "
                     "at the peak (step {}, {} '{}') the largest live buffers "
                     "are: {}; freeze or shrink those layers",
                     L.Plan.ArenaBytes, Budget, Peak, PeakNode.opName(),
                     PeakNode.name(), fmt::join(Top, "; ")));
  D.File = G.SourceFile;
  return D;
}

std::string reportJson(const Graph &G, const MemoryLayout &L,
                       const PassContext &Ctx) {
  JsonWriter W;
  W.beginObject();
  W.field("arena_bytes", L.Plan.ArenaBytes);
  W.field("lower_bound_bytes", L.Plan.LowerBoundBytes);
  W.field("efficiency", L.Plan.efficiency());
  W.field("flash_bytes", L.FlashBytes);
  W.field("strategy", L.Plan.Strategy);
  W.key("tensors");
  W.beginArray();
  for (const BufferInfo &B : L.Buffers) {
    W.beginObject();
    W.field("name", B.V->name());
    W.field("kind", bufferKindName(B.Kind));
    W.field("region", B.InArena ? "arena" : "flash");
    W.field("bytes", B.Bytes);
    W.key("offset");
    if (B.InArena)
      W.value(B.Offset);
    else
      W.null();
    W.field("first", int64_t(B.First));
    W.field("last", int64_t(B.Last));
    W.key("inplace_with");
    if (B.InplaceWith)
      W.value(B.InplaceWith->name());
    else
      W.null();
    W.endObject();
  }
  W.endArray();
  W.key("ops");
  W.beginArray();
  int64_t I = 0;
  for (const auto &N : G.nodes()) {
    W.beginObject();
    W.field("index", I++);
    W.field("name", N->name());
    W.field("op", N->opName());
    W.field("macs", nodeMacs(*N));
    W.endObject();
  }
  W.endArray();
  W.key("update");
  W.beginArray();
  for (const Value *P : G.params())
    if (P->isTrainable()) {
      W.beginObject();
      W.field("param", P->name());
      W.key("channels");
      if (P->train().Channels >= 0)
        W.value(P->train().Channels);
      else
        W.null();
      W.field("rule", P->train().Rule);
      W.endObject();
    }
  W.endArray();
  W.key("passes");
  W.beginArray();
  for (const std::string &P : Ctx.PassesRun)
    W.value(P);
  W.endArray();
  W.key("fusion");
  W.beginObject();
  W.field("activations", Ctx.Fusion.Activations);
  W.field("weight_updates", Ctx.Fusion.WeightUpdates);
  W.field("bias_gradients", Ctx.Fusion.BiasGradients);
  W.field("gradient_bytes_not_stored", Ctx.Fusion.GradientBytes);
  W.field("pre_activation_bytes", Ctx.Fusion.PreActivationBytes);
  W.field("elementwise_chains", Ctx.Fusion.ElementwiseChains);
  W.field("elementwise_ops", Ctx.Fusion.ElementwiseOps);
  W.field("intermediate_bytes", Ctx.Fusion.IntermediateBytes);
  W.endObject();
  W.endObject();
  return W.str();
}

} // namespace

int budgetAndReports(const ParsedArgs &Args, std::string_view Command,
                     const Session &S, const Graph &G, const MemoryLayout &L,
                     const std::filesystem::path &DefaultDir) {
  const MemoryPlan &P = L.Plan;
  if (auto B = Args.get("ram-budget")) {
    int64_t Budget = 0;
    auto [Ptr, EC] = std::from_chars(B->data(), B->data() + B->size(), Budget);
    if (EC != std::errc() || Ptr != B->data() + B->size() || Budget < 0)
      return reportUsage(Command, Diag("--ram-budget must be a byte count"));
    if (P.ArenaBytes > Budget && !G.nodes().empty())
      return reportError(overBudget(G, L, Budget));
  }
  auto PathOf = [&](std::string_view Opt, std::string_view Default)
      -> std::optional<std::string> {
    if (auto R = Args.get(Opt))
      return std::string(*R);
    if (DefaultDir.empty())
      return std::nullopt;
    return (DefaultDir / Default).string();
  };
  if (auto R = PathOf("report-html", "report.html")) {
    std::ofstream Out(*R);
    Out << memoryReportHtml(G, L, S.ModelPath);
    if (!Out)
      return reportError(Diag(fmt::format("{}: cannot write the report", *R)));
    fmt::print("report: {}\n", *R);
  }
  if (auto R = PathOf("report", "report.json")) {
    std::ofstream Out(*R);
    Out << reportJson(G, L, S.Passes);
    if (!Out)
      return reportError(Diag(fmt::format("{}: cannot write the report", *R)));
  }
  return ExitOk;
}

namespace {

int runPlan(const ParsedArgs &Args) {
  Expected<Session> S = parseSession(Args);
  if (!S)
    return reportSessionError("plan", S.error());
  auto G = buildGraph(*S);
  if (!G)
    return reportError(G.error());
  auto Start = std::chrono::steady_clock::now();
  Expected<MemoryLayout> L = computeLayout(**G);
  if (!L)
    return reportError(L.error());
  double Ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - Start)
                  .count();
  const MemoryPlan &P = L->Plan;
  double Eff = P.efficiency();
  fmt::print("arena: {} bytes (lower bound {}, efficiency {:.3f}, strategy "
             "{})\nflash: {} bytes\nplanned {} buffers over {} steps in {:.1f} "
             "ms\n",
             P.ArenaBytes, P.LowerBoundBytes, Eff, P.Strategy, L->FlashBytes,
             P.Offsets.size(), L->NumSteps, Ms);
  const PassContext::FusionStats &F = S->Passes.Fusion;
  if (F.Activations || F.WeightUpdates || F.BiasGradients ||
      F.ElementwiseChains) {
    fmt::print("fused: {} activations into their Conv/Gemm, {} weight "
               "gradients into their update ({} gradient bytes never "
               "stored), {} bias gradients into their activation's "
               "gradient",
               F.Activations, F.WeightUpdates, F.GradientBytes,
               F.BiasGradients);
    if (F.ElementwiseChains)
      fmt::print(", {} elementwise ops into {} chains ({} intermediate "
                 "bytes never stored)",
                 F.ElementwiseOps, F.ElementwiseChains, F.IntermediateBytes);
    fmt::print("\n");
  }
  if (int RC = budgetAndReports(Args, "plan", *S, **G, *L, {}); RC != ExitOk)
    return RC;
  return ExitOk;
}

} // namespace

const Command PlanCommand = {
    "plan",
    "plan model.onnx [--report FILE.json] [model options]",
    "lay out the memory of the compiled step: arena bytes against the "
    "liveness lower bound, flash bytes, and the report",
    planOptions,
    runPlan,
};

} // namespace mote::cli
