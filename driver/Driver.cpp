//===- Driver.cpp - compile(): from a model to code, in the library -------===//

#include "driver/Driver.h"
#include "codegen/Targets.h"
#include "codegen/cpp/CppEmitter.h"
#include "codegen/cpp/Harness.h"
#include "codegen/llvm/LlvmEmitter.h"
#include "compiler/Verifier.h"
#include "driver/Report.h"

#include <chrono>
#include <filesystem>
#include <fmt/format.h>

namespace mote {

namespace {

/// \p D, located in the model file if it names no file yet.
Diag inModel(Diag D, const CompileOptions &O) {
  if (D.File.empty())
    D.File = O.ModelPath;
  return D;
}

Expected<std::vector<const PassInfo *>> pipelineOf(const CompileOptions &O) {
  if (!O.Passes)
    return defaultPipeline(O.Training, O.Reorder, O.Fuse, O.QuantizeInt8,
                           O.PackMasks, O.Stream);
  std::vector<const PassInfo *> R;
  for (const std::string &Name : *O.Passes) {
    const PassInfo *P = lookupPass(Name);
    if (!P)
      return usageError(fmt::format("unknown pass '{}'", Name));
    R.push_back(P);
  }
  return R;
}

/// The stages after import.
Expected<CompiledModel> finish(std::unique_ptr<Graph> G,
                               const CompileOptions &O, Stage Until) {
  CompiledModel M;
  M.Options = O;
  M.G = std::move(G);
  M.Passes.Train = O.Train;
  M.Passes.VerifyEach = O.VerifyEach;
  M.Passes.Training = O.Training;
  M.Passes.RamBudget = O.RamBudget;
  if (O.QuantizeInt8) {
    Expected<std::vector<std::map<std::string, Tensor>>> C =
        loadCalibration(*M.G, O.Calibration);
    if (!C)
      return C.takeError();
    M.Passes.Quantize = {true, std::move(*C)};
  }
  Expected<std::vector<const PassInfo *>> Pipeline = pipelineOf(O);
  if (!Pipeline)
    return Pipeline.takeError();
  if (Status S = runPipeline(*Pipeline, *M.G, M.Passes); !S)
    return inModel(S.takeError(), O);
  if (Until == Stage::Graph)
    return M;

  auto Start = std::chrono::steady_clock::now();
  Expected<MemoryLayout> L = computeLayout(*M.G);
  if (!L)
    return inModel(L.takeError(), O);
  M.LayoutMs = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - Start)
                   .count();
  M.Layout = std::move(*L);
  if (O.RamBudget && M.Layout->Plan.ArenaBytes > *O.RamBudget &&
      !M.G->nodes().empty())
    return inModel(ramBudgetError(*M.G, *M.Layout, *O.RamBudget), O);
  if (Until == Stage::Layout)
    return M;

  LowerOptions LO;
  LO.Name = O.Name;
  LO.Prediction = M.Passes.Prediction;
  LO.Source = std::filesystem::path(O.ModelPath).filename().string();
  Expected<LoweredProgram> P = lowerProgram(*M.G, *M.Layout, LO);
  if (!P)
    return inModel(P.takeError(), O);
  M.Program = std::move(*P);
  Expected<std::vector<EmittedFile>> Files = emitFiles(M, O.Emit, O.target());
  if (!Files)
    return Files.takeError();
  M.Files = std::move(*Files);
  return M;
}

/// Imports the model from \p Import and compiles it; with --update auto,
/// after choosing the update (each candidate imported afresh).
Expected<CompiledModel> importAndFinish(const CompileOptions &O, Stage Until,
                                        const GraphSource &Import) {
  std::optional<AutoUpdate> Auto;
  const CompileOptions *Use = &O;
  CompileOptions Chosen;
  if (O.Training && O.Train.UpdateAuto) {
    Expected<AutoUpdate> A = chooseUpdate(
        O, Import,
        [](std::unique_ptr<Graph> G,
           const CompileOptions &C) -> Expected<int64_t> {
          Expected<CompiledModel> M = finish(std::move(G), C, Stage::Layout);
          if (!M)
            return M.takeError();
          return M->Layout->Plan.ArenaBytes;
        });
    if (!A)
      return inModel(A.takeError(), O);
    Chosen = O;
    Chosen.Train.UpdateAuto = false;
    Chosen.Train.Update = A->Rules;
    Use = &Chosen;
    Auto = std::move(*A);
  }
  Expected<std::unique_ptr<Graph>> G = Import();
  if (!G)
    return G.takeError();
  Expected<CompiledModel> M = finish(std::move(*G), *Use, Until);
  if (M)
    M->Auto = std::move(Auto);
  return M;
}

} // namespace

Expected<CompiledModel> compile(const CompileOptions &O, Stage Until) {
  return importAndFinish(O, Until, [&]() -> Expected<std::unique_ptr<Graph>> {
    Expected<std::unique_ptr<Graph>> G = importOnnxFile(O.ModelPath, O.Import);
    if (!G)
      return inModel(G.takeError(), O);
    return G;
  });
}

Expected<CompiledModel> compileOnnxBytes(std::string_view Bytes,
                                         const std::string &SourceName,
                                         const std::string &BaseDir,
                                         const CompileOptions &O, Stage Until) {
  return importAndFinish(O, Until, [&]() -> Expected<std::unique_ptr<Graph>> {
    Expected<std::unique_ptr<Graph>> G =
        importOnnxBytes(Bytes, SourceName, BaseDir, O.Import);
    if (!G)
      return inModel(G.takeError(), O);
    return G;
  });
}

Expected<CompiledModel> compileGraph(std::unique_ptr<Graph> G,
                                     const CompileOptions &O, Stage Until) {
  if (O.Training && O.Train.UpdateAuto)
    return usageError("--update auto compiles the model once per candidate "
                      "update; it needs an ONNX model, not a built graph");
  if (O.VerifyEach)
    if (Status S = verifyGraph(*G); !S)
      return inModel(S.takeError(), O);
  return finish(std::move(G), O, Until);
}

Expected<std::vector<EmittedFile>>
emitFiles(const CompiledModel &M, EmitKind Emit, const TargetInfo &T) {
  assert(M.Program && "the model was not compiled to Stage::Code");
  const LoweredProgram &P = *M.Program;
  std::vector<EmittedFile> Files;
  if (Emit == EmitKind::Cpp || Emit == EmitKind::Both) {
    CppEmitOptions CO;
    CO.CheckBounds = M.Options.CheckBounds;
    Files = emitCpp(P, CO);
    for (const EmittedFile &F : runtimeStubFiles())
      Files.push_back(F);
  }
  if (Emit == EmitKind::Object || Emit == EmitKind::Both) {
    ObjectEmitOptions OO;
    OO.Target = &T;
    OO.OptLevel = M.Options.OptLevel;
    Expected<std::vector<EmittedFile>> Obj = emitObject(P, OO);
    if (!Obj)
      return inModel(Obj.takeError(), M.Options);
    if (Files.empty())
      Files.push_back(std::move((*Obj)[0])); // NAME.h: the same either way
    Files.push_back(std::move((*Obj)[1]));
  }
  return Files;
}

Expected<std::string> emitLlvmIr(const CompiledModel &M, const TargetInfo &T) {
  assert(M.Program && "the model was not compiled to Stage::Code");
  ObjectEmitOptions OO;
  OO.Target = &T;
  OO.EmitIr = true;
  Expected<std::vector<EmittedFile>> Ir = emitObject(*M.Program, OO);
  if (!Ir)
    return inModel(Ir.takeError(), M.Options);
  return std::move((*Ir)[1].Text);
}

std::string harnessSource(const CompiledModel &M, const TargetInfo &T,
                          int64_t Steps) {
  assert(M.Program && "the model was not compiled to Stage::Code");
  const LoweredProgram &P = *M.Program;
  HarnessSpec H;
  H.Name = P.Name;
  H.Training = P.Train.has_value();
  H.Steps = Steps;
  const ProgramEntry *E = P.Train ? &*P.Train : &*P.Infer;
  for (const ProgramIo &In : E->Inputs)
    H.InputBytes.push_back(In.Ref.Bytes);
  if (P.Infer && !H.Training)
    for (const ProgramIo &Out : P.Infer->Outputs)
      H.OutputBytes.push_back(Out.Ref.Bytes);
  H.Board = std::string(T.Board);
  return T.Run == RunKind::Native ? emitHostHarness(H) : emitBoardHarness(H);
}

} // namespace mote
