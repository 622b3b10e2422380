//===- Plan.cpp - motec plan and the reports ------------------------------===//
//
// Compiles the graph (training step or inference) to its memory layout and
// prints the arena, the liveness lower bound, the efficiency and the flash
// bytes; --report FILE.json writes the report (driver/Report.h).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "FileUtil.h"
#include "driver/Driver.h"
#include "driver/Report.h"

#include <fmt/format.h>

namespace mote::cli {

const OptionSpec ReportOptions[4] = {
    {"report", "FILE.json", false,
     "write the memory report (report.json format)"},
    {"report-html", "FILE.html", false,
     "write the memory report as a page: the arena over time"},
    {"ram-budget", "SIZE", false,
     "fail (exit 1) if the arena is larger, naming what is live at the peak "
     "(bytes, or with a K or M suffix: 256K)"},
    {"save-update", "FILE.json", false,
     "write the update spec the step trains as an --update-file (with "
     "--update auto: the one it chose)"},
};

std::optional<Diag> reportOptionsError(const ParsedArgs &Args) {
  if (Args.has("save-update") && !Args.has("train"))
    return usageError("--save-update needs --train (an inference step trains "
                      "nothing)");
  return std::nullopt;
}

int writeReports(const ParsedArgs &Args, const CompiledModel &M,
                 const std::filesystem::path &DefaultDir) {
  if (const std::optional<AutoUpdate> &A = M.Auto) {
    std::string Weights =
        A->Weights ? fmt::format("weights of the last {}", A->Weights)
                   : std::string("no weights");
    fmt::print("update auto: biases of the last {} of {} layers, {}; arena {} "
               "bytes within the --ram-budget of {} ({} compiles):\n ",
               A->Biases, A->Layers, Weights, A->ArenaBytes, A->Budget,
               A->Compiles);
    for (const UpdateRule &R : A->Rules)
      fmt::print(" --update '{}'", ruleSpec(R));
    fmt::print("\n");
  }
  if (auto F = Args.get("save-update")) {
    // The rules the step was compiled with; none given: every parameter.
    std::vector<UpdateRule> Rules = M.Options.Train.Update;
    if (Rules.empty())
      Rules.push_back({"*", 1.0, "full update"});
    if (Status St = writeFileAtomically(std::string(*F),
                                        updateFileJson(Rules) + "\n");
        !St)
      return reportError(St.error());
  }
  auto PathOf = [&](std::string_view Opt,
                    std::string_view Default) -> std::optional<std::string> {
    if (auto R = Args.get(Opt))
      return std::string(*R);
    if (DefaultDir.empty())
      return std::nullopt;
    return (DefaultDir / Default).string();
  };
  if (auto R = PathOf("report-html", "report.html")) {
    if (Status St = writeFileAtomically(*R, reportHtml(M)); !St)
      return reportError(St.error());
    fmt::print("report: {}\n", *R);
  }
  if (auto R = PathOf("report", "report.json"))
    if (Status St = writeFileAtomically(*R, reportJson(M)); !St)
      return reportError(St.error());
  return ExitOk;
}

namespace {

std::span<const OptionSpec> planOptions() {
  static const std::vector<OptionSpec> V = withModelOptions(ReportOptions);
  return V;
}

int runPlan(const ParsedArgs &Args) {
  Expected<CompileOptions> O = parseCompileOptions(Args);
  if (!O)
    return reportDiag("plan", O.error());
  if (std::optional<Diag> E = reportOptionsError(Args))
    return reportDiag("plan", *E);
  Expected<CompiledModel> M = compile(*O, Stage::Layout);
  if (!M)
    return reportDiag("plan", M.error());
  const MemoryLayout &L = *M->Layout;
  const MemoryPlan &P = L.Plan;
  fmt::print("arena: {} bytes (lower bound {}, efficiency {:.3f}, strategy "
             "{})\nflash: {} bytes\nplanned {} buffers over {} steps in {:.1f} "
             "ms\n",
             P.ArenaBytes, P.LowerBoundBytes, P.efficiency(), P.Strategy,
             L.FlashBytes, P.Offsets.size(), L.NumSteps, M->LayoutMs);
  if (int64_t T = kernelTableBytes(*M->G))
    fmt::print("kernel tables: {} bytes of flash besides the weights "
               "(per-channel quantization parameters)\n",
               T);
  const PassContext::FusionStats &F = M->Passes.Fusion;
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
  if (const PassContext::MaskStats &K = M->Passes.Masks; K.Values)
    fmt::print("masks: {} saved values the backward tests only ({} bytes) "
               "kept as 1-bit masks ({} bytes)\n",
               K.Values, K.ValueBytes, K.MaskBytes);
  if (const PassContext::StreamStats &T = M->Passes.Stream; T.Chains)
    fmt::print("streamed: {} chains of convolutions in {} bands of rows "
               "({} bytes of intermediate tensors never whole; {} MACs "
               "recomputed at band edges)\n",
               T.Chains, T.Bands, T.IntermediateBytes, T.ExtraMacs);
  if (const PassContext::AccumulateStats &A = M->Passes.Accumulate;
      A.Accumulators)
    fmt::print("accumulated: the update applies every {} steps to the mean "
               "gradient; {} accumulators ({} bytes, in the arena)\n",
               M->Options.Train.Accumulate, A.Accumulators, A.Bytes);
  return writeReports(Args, *M, {});
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
