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

const OptionSpec ReportOptions[3] = {
    {"report", "FILE.json", false,
     "write the memory report (report.json format)"},
    {"report-html", "FILE.html", false,
     "write the memory report as a page: the arena over time"},
    {"ram-budget", "SIZE", false,
     "fail (exit 1) if the arena is larger, naming what is live at the peak "
     "(bytes, or with a K or M suffix: 256K)"},
};

int writeReports(const ParsedArgs &Args, const CompiledModel &M,
                 const std::filesystem::path &DefaultDir) {
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
