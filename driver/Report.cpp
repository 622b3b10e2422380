//===- Report.cpp - What tools print and write about a compile ------------===//

#include "driver/Report.h"
#include "compiler/Graph.h"
#include "compiler/Json.h"
#include "compiler/OpDef.h"
#include "driver/Driver.h"
#include "driver/HtmlReport.h"
#include "passes/TrainUtil.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unordered_set>

namespace mote {

Diag ramBudgetError(const Graph &G, const MemoryLayout &L, int64_t Budget) {
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
    Top.push_back(fmt::format("'{}' {} bytes ({}, from {}, {})", B.V->name(),
                              B.Bytes, bufferKindName(B.Kind),
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

std::string briefType(const TensorType &T) {
  if (!T.Quant || !T.Quant->perAxis())
    return T.str();
  const QuantParams &Q = *T.Quant;
  auto [SLo, SHi] = std::minmax_element(Q.Scale.begin(), Q.Scale.end());
  auto [ZLo, ZHi] = std::minmax_element(Q.ZeroPoint.begin(), Q.ZeroPoint.end());
  std::string Zp = *ZLo == *ZHi ? fmt::format("{}", *ZLo)
                                 : fmt::format("{}..{}", *ZLo, *ZHi);
  std::string Sc = *SLo == *SHi ? fmt::format("{}", *SLo)
                                 : fmt::format("{:.3g}..{:.3g}", *SLo, *SHi);
  return fmt::format("{}<axis {}: {} scales {}, zero points {}>",
                     T.storage().str(), Q.Axis, Q.size(), Sc, Zp);
}

namespace {

/// Adds the tables of \p Fields (recursively) to \p Seen, keyed by element
/// type and bytes as the lowered program shares them (codegen/Program.cpp).
void collectTables(const std::vector<ParamField> &Fields,
                   std::unordered_set<std::string> &Seen) {
  for (const ParamField &F : Fields) {
    if (F.K == ParamField::Kind::Struct)
      collectTables(F.Fields, Seen);
    if (F.K == ParamField::Kind::Table)
      Seen.insert(std::string(dtypeName(F.Elem)) + ":" + F.Data);
  }
}

} // namespace

int64_t kernelTableBytes(const Graph &G) {
  std::unordered_set<std::string> Seen;
  for (const auto &N : G.nodes()) {
    const OpDef &D = N->def();
    KernelCall C;
    if (D.Lower && D.Lower(*N, C))
      collectTables(C.Params.Fields, Seen);
  }
  int64_t R = 0;
  for (const std::string &K : Seen)
    R += int64_t(K.size() - K.find(':') - 1);
  return R;
}

std::string reportJson(const CompiledModel &M) {
  const Graph &G = *M.G;
  const MemoryLayout &L = *M.Layout;
  const PassContext &Ctx = M.Passes;
  JsonWriter W;
  W.beginObject();
  W.field("arena_bytes", L.Plan.ArenaBytes);
  W.field("lower_bound_bytes", L.Plan.LowerBoundBytes);
  W.field("efficiency", L.Plan.efficiency());
  W.field("flash_bytes", L.FlashBytes);
  W.field("flash_tables_bytes", kernelTableBytes(G));
  W.field("strategy", L.Plan.Strategy);
  W.key("tensors");
  W.beginArray();
  for (const BufferInfo &B : L.Buffers) {
    if (B.FromCaller)
      continue;
    W.beginObject();
    W.field("name", B.V->name());
    W.field("kind", bufferKindName(B.Kind));
    W.field("dtype", dtypeName(B.V->type().Elem));
    W.field("type", B.V->type().str());
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
  // The graph inputs, read from the caller's buffers: neither arena nor
  // flash, so not among the tensors.
  W.field("caller_input_bytes", L.CallerBytes);
  W.key("caller_inputs");
  W.beginArray();
  for (const BufferInfo &B : L.Buffers) {
    if (!B.FromCaller)
      continue;
    W.beginObject();
    W.field("name", B.V->name());
    W.field("type", B.V->type().str());
    W.field("bytes", B.Bytes);
    W.field("first", int64_t(B.First));
    W.field("last", int64_t(B.Last));
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
  W.key("masks");
  W.beginObject();
  W.field("values", Ctx.Masks.Values);
  W.field("value_bytes", Ctx.Masks.ValueBytes);
  W.field("mask_bytes", Ctx.Masks.MaskBytes);
  W.endObject();
  W.key("streaming");
  W.beginObject();
  W.field("chains", Ctx.Stream.Chains);
  W.field("bands", Ctx.Stream.Bands);
  W.field("extra_macs", Ctx.Stream.ExtraMacs);
  W.field("intermediate_bytes", Ctx.Stream.IntermediateBytes);
  W.endObject();
  W.key("accumulate");
  if (Ctx.Accumulate.Accumulators) {
    W.beginObject();
    W.field("steps", M.Options.Train.Accumulate);
    W.field("accumulators", Ctx.Accumulate.Accumulators);
    W.field("accumulator_bytes", Ctx.Accumulate.Bytes);
    W.endObject();
  } else {
    W.null();
  }
  W.key("update_auto");
  if (const std::optional<AutoUpdate> &A = M.Auto) {
    W.beginObject();
    W.field("budget", A->Budget);
    W.field("layers", A->Layers);
    W.field("biases", A->Biases);
    W.field("weights", A->Weights);
    W.field("compiles", A->Compiles);
    W.key("rules");
    W.beginArray();
    for (const UpdateRule &R : A->Rules) {
      W.beginObject();
      W.field("params", R.Pattern);
      W.field("channels", R.Ratio);
      W.endObject();
    }
    W.endArray();
    W.endObject();
  } else {
    W.null();
  }
  W.endObject();
  return W.str();
}

std::string reportHtml(const CompiledModel &M) {
  const PassContext &Ctx = M.Passes;
  std::vector<std::string> Notes;
  if (Ctx.Masks.Values)
    Notes.push_back(fmt::format("{} saved values the backward tests only "
                                "({} bytes) are kept as 1-bit masks ({} "
                                "bytes).",
                                Ctx.Masks.Values, Ctx.Masks.ValueBytes,
                                Ctx.Masks.MaskBytes));
  if (Ctx.Stream.Chains)
    Notes.push_back(fmt::format(
        "{} chains of convolutions run in {} bands of rows ({} bytes of "
        "intermediate tensors never whole; {} MACs recomputed at band "
        "edges).",
        Ctx.Stream.Chains, Ctx.Stream.Bands, Ctx.Stream.IntermediateBytes,
        Ctx.Stream.ExtraMacs));
  if (Ctx.Accumulate.Accumulators)
    Notes.push_back(fmt::format(
        "The update applies every {} steps to the mean of their gradients, "
        "summed in {} accumulators ({} bytes).",
        M.Options.Train.Accumulate, Ctx.Accumulate.Accumulators,
        Ctx.Accumulate.Bytes));
  return memoryReportHtml(*M.G, *M.Layout, M.Options.ModelPath,
                          fmt::format("{}", fmt::join(Notes, " ")));
}

TrainingStats trainingStats(const Graph &G) {
  TrainingStats R;
  std::unordered_set<const Value *> Saved;
  for (const auto &N : G.nodes()) {
    switch (N->phase()) {
    case NodePhase::Forward:
      ++R.ForwardNodes;
      break;
    case NodePhase::Backward:
      ++R.BackwardNodes;
      for (const Value *In : N->inputs()) {
        if (!In)
          continue;
        bool IsActivation =
            In->isInput() ||
            (In->producer() && In->producer()->phase() == NodePhase::Forward);
        if (IsActivation)
          Saved.insert(In);
      }
      break;
    case NodePhase::Update:
      ++R.UpdateNodes;
      break;
    }
  }
  R.SavedActivations = int64_t(Saved.size());
  for (const Value *V : Saved)
    R.SavedActivationBytes += V->type().bytes();
  for (const Value *P : G.params())
    if (P->isTrainable()) {
      ++R.TrainableParams;
      int64_t E = P->type().numElements();
      if (P->train().Channels >= 0 && P->type().rank() > 0) {
        int64_t Axis = channelAxis(G, P);
        E = E / P->type().Dims[size_t(Axis)] * P->train().Channels;
      }
      R.TrainableElements += E;
    }
  return R;
}

} // namespace mote
