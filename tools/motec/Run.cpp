//===- Run.cpp - motec run ------------------------------------------------===//
//
// Compiles a model (training step or inference) and runs it on inputs given
// as ONNX TensorProto files: N training steps (the parameters carry over
// between steps) or one inference. --dump DIR writes loss.pb (one value per
// step) and every trainable parameter after the last step as
// <initializer name>.pb ('/' in names becomes '_'); for inference, every
// graph output as <output name>.pb.
//
// Engines: generated (the default: the C++ code generator's output built for
// the host with $MOTE_CXX, else $CXX, else c++, and run in a temporary
// directory) and interp (the reference interpreter). Both print and dump
// exactly the same things.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Toolchain.h"
#include "codegen/Targets.h"
#include "compiler/Graph.h"
#include "compiler/Interpreter.h"
#include "driver/Driver.h"
#include "frontends/onnx/OnnxImporter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace mote::cli {

namespace {

const OptionSpec RunOwnOptions[] = {
    {"input", "NAME=FILE.pb", true, "value of a graph input (ONNX TensorProto)"},
    {"steps", "N", false, "training steps to run (default 1)"},
    {"dump", "DIR", false, "write loss.pb and the trained parameters (or the outputs) here"},
    {"engine", "interp|generated", false,
     "how to run: generated code built for the host (default) or the "
     "reference interpreter"},
    {"target", "host|cortex-m4|cortex-m7|cortex-m55|aarch64|hexagon", false,
     "where the generated code runs (emulated boards and Linux user mode "
     "under qemu)"},
    {"count-instructions", "", false,
     "emulated targets: count the guest instructions qemu executes (a TCG "
     "plugin) in runs of 1 and 2 training steps (or inferences) and print "
     "'instructions per training step: N' (or per inference), their "
     "difference; deterministic"},
    {"keep", "", false, "keep the generated code and harness (prints where)"},
    {"emit", "cpp|obj", false,
     "generated engine: build the C++ (default) or link the LLVM backend's "
     "object file (motec compile --emit obj)"},
    {"cxxflags", "FLAGS", false,
     "generated engine: extra flags for building the generated code and "
     "harness, after the defaults (-O2 ...), e.g. '-O3 -march=native'"},
    {"check-bounds", "", false,
     "host only: build the generated code with AddressSanitizer and "
     "UndefinedBehaviorSanitizer, each kernel call confined to its operands' "
     "arena bytes (motec compile --check-bounds)"},
};
std::span<const OptionSpec> runOptions() {
  static const std::vector<OptionSpec> V = withModelOptions(RunOwnOptions);
  return V;
}

std::string fileNameFor(const std::string &Name) {
  std::string R = Name;
  for (char &C : R)
    if (C == '/' || C == '\\')
      C = '_';
  return R + ".pb";
}

Expected<RunResult> runInterpreter(const Graph &G, bool Training,
                                   int64_t Steps,
                                   const std::map<std::string, Tensor> &Feeds) {
  RunResult R;
  Interpreter I(G);
  for (int64_t K = 0; K < Steps; ++K) {
    if (Status St = I.run(Feeds); !St)
      return St.takeError();
    if (Training)
      R.Losses.push_back(float(I.get(G.outputs()[0])->getAsDouble(0)));
  }
  if (Training) {
    for (const Value *P : G.params())
      if (P->isTrainable())
        R.Params.emplace_back(P, *I.state(P));
  } else {
    for (const Value *O : G.outputs())
      R.Outputs.emplace_back(O, *I.get(O));
  }
  return R;
}

int runRun(const ParsedArgs &Args) {
  Expected<CompileOptions> O = parseCompileOptions(Args);
  if (!O)
    return reportDiag("run", O.error());
  O->Name = "model";
  std::string Engine = Args.get("engine").value_or("generated");
  if (Engine != "interp" && Engine != "generated")
    return reportUsage("run", Diag("--engine must be interp or generated"));
  int64_t Steps = 1;
  if (auto V = Args.get("steps")) {
    auto [P, EC] = std::from_chars(V->data(), V->data() + V->size(), Steps);
    if (EC != std::errc() || P != V->data() + V->size() || Steps < 1)
      return reportUsage("run", Diag("--steps must be a positive integer"));
  }
  if (!O->Training && Steps != 1)
    return reportUsage("run", Diag("--steps needs --train"));
  const TargetInfo &Target = O->target();
  if (Target.Name != "host" && Engine != "generated")
    return reportUsage("run", Diag("--target needs --engine generated"));
  if (O->CheckBounds && (Engine != "generated" || Target.Name != "host"))
    return reportUsage("run", Diag("--check-bounds needs --engine generated "
                                   "on the host target (it uses "
                                   "AddressSanitizer)"));
  if (O->Emit != EmitKind::Cpp && O->Emit != EmitKind::Object)
    return reportUsage("run", Diag("--emit must be cpp or obj"));
  RunSettings Settings;
  Settings.Keep = Args.has("keep");
  if (auto F = Args.get("cxxflags")) {
    if (Engine != "generated")
      return reportUsage("run", Diag("--cxxflags needs --engine generated"));
    // The flags go into a shell command: words of plain characters only.
    auto Plain = [](char C) {
      return std::isalnum(static_cast<unsigned char>(C)) ||
             std::string_view(" =_.,+-/:").find(C) != std::string_view::npos;
    };
    if (!std::all_of(F->begin(), F->end(), Plain))
      return reportUsage("run", Diag("--cxxflags may hold letters, digits, "
                                     "spaces and = _ . , + - / : only"));
    Settings.CxxFlags = *F;
  }
  bool Count = Args.has("count-instructions");
  if (Count) {
    if (Target.Run == RunKind::Native || Engine != "generated")
      return reportUsage("run", Diag("--count-instructions needs an emulated "
                                     "--target (not host) and --engine "
                                     "generated: qemu counts the "
                                     "instructions"));
    if (Expected<fs::path> P = findCountPlugin(); !P)
      return reportError(P.error());
  }
  if (Status St = checkTargetTools(Target); !St)
    return reportError(St.error());
  Expected<CompiledModel> M =
      compile(*O, Engine == "generated" ? Stage::Code : Stage::Graph);
  if (!M)
    return reportDiag("run", M.error());
  const Graph &Gr = *M->G;

  Expected<std::map<std::string, Tensor>> Feeds =
      readInputFiles(Gr, Args.getAll("input"));
  if (!Feeds)
    return reportDiag("run", Feeds.error());

  // Counting runs the program with 1 and with 2 steps (inferences); the
  // difference is the cost of one step, without start-up and file I/O.
  std::optional<CountedRun> Counted;
  if (Count) {
    Expected<CountedRun> C =
        countInstructions(*M, M->Files, Steps, *Feeds, Target, Settings);
    if (!C)
      return reportError(C.error());
    Counted = std::move(*C);
  }
  Expected<RunResult> R = Diag("");
  if (Counted && Counted->Result)
    R = std::move(*Counted->Result);
  else
    R = Engine == "generated"
            ? runGenerated(*M, M->Files, Steps, *Feeds, Target, Settings)
            : runInterpreter(Gr, O->Training, Steps, *Feeds);
  if (!R)
    return reportError(R.error());
  if (Counted)
    fmt::print("instructions executed: {} ({} {}), {} ({} {}s)\n"
               "instructions per {}: {}\n",
               Counted->Counts[0], 1, O->Training ? "step" : "inference",
               Counted->Counts[1], 2, O->Training ? "step" : "inference",
               O->Training ? "training step" : "inference", Counted->PerStep);
  for (size_t K = 0; K < R->Losses.size(); ++K)
    fmt::print("step {}: loss {}\n", K + 1, R->Losses[K]);
  for (const auto &[V, T] : R->Outputs)
    fmt::print("output {}: {}\n", V->name(), V->type().str());

  if (auto Dir = Args.get("dump")) {
    std::error_code EC;
    fs::create_directories(*Dir, EC);
    if (EC)
      return reportError(Diag(fmt::format("{}: cannot create the directory: "
                                          "{}",
                                          *Dir, EC.message())));
    auto Write = [&](const std::string &Name, const Tensor &T) {
      return writeTensorFile((fs::path(*Dir) / fileNameFor(Name)).string(), T,
                             Name);
    };
    if (O->Training) {
      Tensor L = Tensor::fromVector<float>(R->Losses,
                                           {int64_t(R->Losses.size())});
      if (Status St = Write("loss", L); !St)
        return reportError(St.error());
    }
    for (const auto &[V, T] : R->Params)
      if (Status St = Write(V->name(), T); !St)
        return reportError(St.error());
    for (const auto &[V, T] : R->Outputs)
      if (Status St = Write(V->name(), T); !St)
        return reportError(St.error());
  }
  return ExitOk;
}

} // namespace

const Command RunCommand = {
    "run",
    "run model.onnx [--train ...] --input NAME=FILE.pb ... [--steps N] "
    "[--dump DIR] [--engine interp|generated]",
    "compile a model and run it: N training steps, or one inference",
    runOptions,
    runRun,
};

} // namespace mote::cli
