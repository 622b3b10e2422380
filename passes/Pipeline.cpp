//===- Pipeline.cpp - The pass pipeline, as data --------------------------===//

#include "compiler/Graph.h"
#include "compiler/Verifier.h"
#include "passes/Pass.h"

#include <array>
#include <fmt/format.h>

namespace mote {

namespace {

const PassInfo PassTable[] = {
#define MOTE_PASS(NAME, FN, HELP) {NAME, FN, HELP},
#include "passes/Passes.def"
};

struct PipelineEntry {
  std::string_view Pass;
  bool TrainingOnly;
};

// The pipeline. Each entry says why it sits where it does.
const PipelineEntry Pipeline[] = {
    // First: every later pass sees one canonical form (no Identity or
    // Dropout, BatchNorm folded), and folding before autodiff means the
    // backward graph never differentiates through eval-mode BatchNorm.
    {"canonicalize", false},
    // --quantize int8 (only then in the pipeline) quantizes the canonical
    // float model (BatchNorm folded into the weights it quantizes) into
    // the QDQ form fold-qdq reads.
    {"quantize", false},
    // Quantized layers become integer ops before anything trains or fuses:
    // the float ops between QuantizeLinear/DequantizeLinear pairs that
    // remain are the ones with no integer form.
    {"fold-qdq", false},
    // The loss must exist before autodiff can differentiate it.
    {"add-loss", true},
    // Autodiff needs to know which parameters train to build only their
    // backward paths.
    {"select-trainable", true},
    {"autodiff", true},
    // Updates consume the gradients autodiff made.
    {"add-optimizer", true},
    // Last of the training passes: the updates decide which gradient
    // elements are used, so partial-channel slicing and dead-node removal
    // happen once everything that reads a gradient exists.
    {"prune-backward", true},
    // Again, now that the backward graph reads quantized tensors through
    // its own DequantizeLinear nodes: trained layers run as integer ops in
    // the forward pass too.
    {"fold-qdq", true},
    // After the training passes (the gradients, their channel slices and
    // the updates are final) and before schedule, which orders and sizes
    // the fused nodes. Also for inference (conv/gemm + activation).
    {"fuse", false},
    // After fuse, which points the mask gradients at the activated values
    // and makes the ActivationGradSum nodes this pass rewrites; before
    // schedule, which places the ActivationMask nodes.
    {"pack-masks", true},
    // Last: the order decides liveness, so it is chosen once the set of
    // nodes is final. Updates run as soon as their gradient exists.
    {"schedule", false},
    // After schedule: it reads the scheduled step's peak, and each chain's
    // bands take the place of its last node, keeping the rest of the order.
    {"stream", false},
};

} // namespace

std::span<const PassInfo> allPasses() { return PassTable; }

const PassInfo *lookupPass(std::string_view Name) {
  for (const PassInfo &P : PassTable)
    if (P.Name == Name)
      return &P;
  return nullptr;
}

Expected<bool> runPass(const PassInfo &P, Graph &G, PassContext &Ctx) {
  Expected<bool> Changed = P.Run(G, Ctx);
  if (!Changed) {
    Changed.error().inFile(G.SourceFile);
    return Changed;
  }
  Ctx.PassesRun.push_back(std::string(P.Name));
  if (Ctx.VerifyEach) {
    if (Status S = verifyGraph(G); !S) {
      Diag D = S.takeError();
      D.Message = fmt::format("after pass {}: {}", P.Name, D.Message);
      return D;
    }
  }
  return Changed;
}

std::vector<const PassInfo *> defaultPipeline(bool Training, bool Reorder,
                                              bool Fuse, bool Quantize,
                                              bool PackMasks, bool Stream) {
  std::vector<const PassInfo *> R;
  for (const PipelineEntry &E : Pipeline)
    if ((Training || !E.TrainingOnly) && (Reorder || E.Pass != "schedule") &&
        (Fuse || E.Pass != "fuse") && (Quantize || E.Pass != "quantize") &&
        (PackMasks || E.Pass != "pack-masks") &&
        (Stream || E.Pass != "stream"))
      R.push_back(lookupPass(E.Pass));
  return R;
}

Status runPipeline(const std::vector<const PassInfo *> &Pipeline, Graph &G,
                   PassContext &Ctx) {
  for (const PassInfo *P : Pipeline) {
    Expected<bool> R = runPass(*P, G, Ctx);
    if (!R)
      return R.takeError();
  }
  return ok();
}

} // namespace mote
