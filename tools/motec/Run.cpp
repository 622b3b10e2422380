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
#include "Generate.h"
#include "Run.h"
#include "Session.h"
#include "codegen/Targets.h"
#include "codegen/cpp/Harness.h"
#include "compiler/Graph.h"
#include "compiler/Interpreter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
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

/// Converts an integer label tensor to the graph's integer type (PyTorch
/// writes int64 class indices; the label input is int32).
Expected<Tensor> adapt(const Value &In, Tensor T) {
  if (T.type() == In.type())
    return T;
  if (T.shape() == In.type().Dims && isInteger(T.dtype()) &&
      isInteger(In.type().Elem)) {
    Tensor R(In.type());
    for (int64_t I = 0; I < T.numElements(); ++I) {
      int64_t V = T.getAsInt(I);
      if (In.type().Elem == DType::I32 && (V < INT32_MIN || V > INT32_MAX))
        return Diag(fmt::format("input '{}': value {} does not fit in i32",
                                In.name(), V));
      R.setFromDouble(I, double(V));
    }
    return R;
  }
  return Diag(fmt::format("input '{}' expects {}, the file holds {}",
                          In.name(), In.type().str(), T.type().str()));
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

/// Reads a whole binary file.
Expected<std::string> readBinary(const fs::path &P) {
  std::ifstream In(P, std::ios::binary);
  if (!In)
    return Diag(fmt::format("{}: the generated program wrote no result",
                            P.string()));
  return std::string(std::istreambuf_iterator<char>(In), {});
}

/// Runs \p Cmd through the shell; on failure, an error quoting \p Log.
Status runLogged(const std::string &Cmd, const fs::path &Log,
                 std::string_view What) {
  if (std::system(Cmd.c_str()) == 0)
    return ok();
  auto Text = readBinary(Log);
  std::string T = Text ? *Text : "";
  if (T.size() > 4000)
    T = "...\n" + T.substr(T.size() - 4000);
  return Diag(fmt::format("{}:\n{}", What, T));
}

} // namespace

Expected<RunResult> runGenerated(const Generated &Gen, bool Training,
                                 int64_t Steps,
                                 const std::map<std::string, Tensor> &Feeds,
                                 const TargetInfo &Target, bool KeepDir,
                                 const fs::path &CountPlugin) {
  const Graph &G = *Gen.G;
  char Template[] = "/tmp/motec-run-XXXXXX";
  if (!::mkdtemp(Template))
    return Diag("cannot create a temporary directory");
  fs::path Dir(Template);
  struct Cleanup {
    fs::path D;
    bool Keep;
    ~Cleanup() {
      std::error_code EC;
      if (!Keep)
        fs::remove_all(D, EC);
    }
  } C{Dir, KeepDir};
  if (KeepDir)
    fmt::print("generated code kept in {}\n", Dir.string());
  std::vector<EmittedFile> Files = Gen.Files;
  HarnessSpec H;
  H.Name = "model";
  H.Training = Training;
  H.Steps = Steps;
  std::vector<const Value *> Outs(G.outputs().begin(), G.outputs().end());
  for (size_t I = 0; I < G.inputs().size(); ++I) {
    const Tensor &T = Feeds.at(G.inputs()[I]->name());
    H.InputBytes.push_back(T.type().bytes());
    Files.push_back({fmt::format("in{}.bin", I),
                     std::string(reinterpret_cast<const char *>(T.raw()),
                                 size_t(T.type().bytes()))});
  }
  for (const Value *O : Outs)
    H.OutputBytes.push_back(O->type().bytes());
  std::vector<CheckpointEntry> Ck = checkpointLayout(G);
  bool Board = Target.Run != RunKind::Native;
  H.Board = std::string(Target.Board);
  Files.push_back({"main.cpp", Board ? emitBoardHarness(H) : emitHostHarness(H)});
  for (const EmittedFile &F : Files) {
    fs::path P = Dir / F.Path;
    fs::create_directories(P.parent_path());
    std::ofstream Out(P, std::ios::binary);
    Out << F.Text;
    if (!Out)
      return Diag(fmt::format("{}: cannot write", P.string()));
  }
  std::string Cxx = "c++";
  if (!Target.Cxx.empty())
    Cxx = Target.Cxx;
  else if (const char *E = std::getenv("MOTE_CXX"))
    Cxx = E;
  else if (const char *E2 = std::getenv("CXX"))
    Cxx = E2;
  // --check-bounds: sanitizers; -O0 and kernels not forced inline keep the
  // sanitized build of a large model fast (mobilenet: 24 s, against 50 s at
  // -O1 and minutes with the kernels inline; docs/robustness.md).
  std::string CheckFlags =
      Gen.CheckBounds ? " -O0 -g1 -DMOTE_RT_NO_FORCE_INLINE "
                        "-fsanitize=address,undefined -fno-sanitize-recover=all "
                        "-fno-omit-frame-pointer"
                      : "";
  // What is compiled and linked: the model, the harness and, off the
  // host, every .cpp of the board directory (startup, memcpy, ...).
  // --emit obj: the LLVM backend's model.o stands for model.cpp.
  bool Object = std::any_of(Files.begin(), Files.end(), [](const EmittedFile &F) {
    return F.Path == "model.o";
  });
  std::vector<std::string> Inputs = {Object ? "model.o" : "model.cpp",
                                     "main.cpp"};
  std::string BoardDir = fmt::format("board/{}/", Target.Board);
  for (const EmittedFile &F : Files)
    if (Board && F.Path.starts_with(BoardDir) && F.Path.ends_with(".cpp"))
      Inputs.push_back(F.Path);
  std::string Freestanding = "-ffreestanding -fno-exceptions -fno-rtti "
                             "-nostdlib";
  std::string Cmd;
  switch (Target.Run) {
  case RunKind::Native:
    Cmd = fmt::format("cd '{}' && {} -std=c++20 -O2{} {} -I . {} -o run > "
                      "build.log 2>&1",
                      Dir.string(), Cxx, CheckFlags, Gen.CxxFlags,
                      fmt::join(Inputs, " "));
    break;
  case RunKind::Semihosting:
    Cmd = fmt::format("cd '{}' && {} -std=c++20 -O2 {} {} "
                      "-fno-tree-loop-distribute-patterns {} -I . -T "
                      "{}link.ld {} -lgcc -o run.elf > build.log 2>&1",
                      Dir.string(), Cxx, Target.CxxFlags, Freestanding,
                      Gen.CxxFlags, BoardDir, fmt::join(Inputs, " "));
    break;
  case RunKind::LinuxUser:
    Cmd = fmt::format("cd '{}' && {} -std=c++20 -O2 {} {} {} -static -I . "
                      "{} -o run.elf > build.log 2>&1",
                      Dir.string(), Cxx, Target.CxxFlags, Freestanding,
                      Gen.CxxFlags, fmt::join(Inputs, " "));
    break;
  }
  if (Status St = runLogged(Cmd, Dir / "build.log",
                            fmt::format("the generated code did not build "
                                        "with '{}' (an internal error of "
                                        "mote; please report it)",
                                        Cxx));
      !St)
    return St.takeError();
  // The counting plugin writes the executed guest instructions to
  // icount.txt when the emulator exits.
  std::string Plugin;
  if (!CountPlugin.empty())
    Plugin = fmt::format("-plugin '{}',outfile=icount.txt",
                         CountPlugin.string());
  switch (Target.Run) {
  case RunKind::Native:
    Cmd = fmt::format("cd '{}' && ./run > run.log 2>&1", Dir.string());
    break;
  case RunKind::Semihosting:
    Cmd = fmt::format("cd '{}' && timeout 900 {} {} -nographic -monitor none "
                      "-serial none -semihosting-config "
                      "enable=on,target=native -kernel run.elf > run.log 2>&1",
                      Dir.string(), Target.Emulator, Plugin);
    break;
  case RunKind::LinuxUser:
    Cmd = fmt::format("cd '{}' && timeout 900 {} {} ./run.elf > run.log 2>&1",
                      Dir.string(), Target.Emulator, Plugin);
    break;
  }
  if (Status St = runLogged(Cmd, Dir / "run.log", "the generated program failed");
      !St)
    return St.takeError();
  RunResult R;
  if (!CountPlugin.empty()) {
    auto Count = readBinary(Dir / "icount.txt");
    if (!Count)
      return Count.takeError();
    auto [P, EC] = std::from_chars(Count->data(),
                                   Count->data() + Count->size(),
                                   R.Instructions);
    if (EC != std::errc() || P == Count->data())
      return Diag("icount.txt: the counting plugin wrote no count");
  }
  if (Training) {
    auto L = readBinary(Dir / "loss.bin");
    if (!L)
      return L.takeError();
    R.Losses.resize(size_t(Steps));
    if (L->size() != R.Losses.size() * sizeof(float))
      return Diag("loss.bin has the wrong size");
    std::memcpy(R.Losses.data(), L->data(), L->size());
    auto CkData = readBinary(Dir / "checkpoint.bin");
    if (!CkData)
      return CkData.takeError();
    for (const CheckpointEntry &E : Ck) {
      if (!E.V->isTrainable())
        continue;
      if (size_t(E.Offset + E.Bytes) > CkData->size())
        return Diag("checkpoint.bin is too short");
      Tensor T(E.V->type());
      std::memcpy(T.raw(), CkData->data() + E.Offset, size_t(E.Bytes));
      R.Params.emplace_back(E.V, std::move(T));
    }
  } else {
    for (size_t I = 0; I < Outs.size(); ++I) {
      auto B = readBinary(Dir / fmt::format("out{}.bin", I));
      if (!B)
        return B.takeError();
      Tensor T(Outs[I]->type());
      if (int64_t(B->size()) != T.type().bytes())
        return Diag(fmt::format("out{}.bin has the wrong size", I));
      std::memcpy(T.raw(), B->data(), B->size());
      R.Outputs.emplace_back(Outs[I], std::move(T));
    }
  }
  return R;
}

Expected<std::map<std::string, Tensor>>
readInputFiles(const Graph &Gr, const std::vector<std::string> &Specs,
               bool RequireAll) {
  auto Usage = [](std::string Msg) {
    Diag D(std::move(Msg));
    D.Line = -2;
    return D;
  };
  std::map<std::string, Tensor> Feeds;
  for (const std::string &A : Specs) {
    size_t Eq = A.find('=');
    if (Eq == std::string::npos || Eq == 0)
      return Usage(fmt::format("--input '{}' must look like NAME=FILE.pb", A));
    std::string Name = A.substr(0, Eq);
    const Value *In = Gr.lookup(Name);
    if (!In || !In->isInput()) {
      std::vector<std::string> Names;
      for (const Value *V : Gr.inputs())
        Names.push_back(V->name());
      return Diag(fmt::format("--input {}: the compiled graph has no input "
                              "of that name (inputs: {})",
                              Name, fmt::join(Names, ", ")));
    }
    Expected<Tensor> T = readTensorFile(A.substr(Eq + 1));
    if (!T)
      return T.takeError();
    Expected<Tensor> Adapted = adapt(*In, std::move(*T));
    if (!Adapted)
      return Adapted.takeError();
    Feeds[Name] = std::move(*Adapted);
  }
  for (const Value *In : Gr.inputs())
    if (RequireAll && !Feeds.count(In->name()))
      return Diag(fmt::format("no --input for graph input '{}' ({})",
                              In->name(), In->type().str()));
  return Feeds;
}

Expected<fs::path> findCountPlugin() {
  std::error_code EC;
  fs::path P = fs::read_symlink("/proc/self/exe", EC).parent_path() /
               "libmote-icount.so";
  if (EC || !fs::exists(P))
    return Diag(fmt::format("--count-instructions needs the qemu plugin {}, "
                            "which is built with motec (build the "
                            "mote-icount target)",
                            P.string()));
  return P;
}

Status checkTargetTools(const TargetInfo &Target) {
  for (std::string_view Tool : {Target.Cxx, Target.Emulator}) {
    std::string Exe(Tool.substr(0, Tool.find(' ')));
    if (!Exe.empty() &&
        std::system(fmt::format("command -v {} > /dev/null 2>&1", Exe).c_str()) != 0)
      return Diag(fmt::format("--target {} needs {}, which is not installed "
                              "(tools/install-deps.sh installs it)",
                              Target.Name, Exe));
  }
  return ok();
}

Status useObject(const Session &S, Generated &Gen, const TargetInfo &Target) {
  auto Obj = generateObject(S, Gen, "model", Target);
  if (!Obj)
    return Obj.takeError();
  std::erase_if(Gen.Files,
                [](const EmittedFile &F) { return F.Path == "model.cpp"; });
  Gen.Files.push_back(std::move((*Obj)[1]));
  return ok();
}

namespace {

int runRun(const ParsedArgs &Args) {
  Expected<Session> S = parseSession(Args);
  if (!S)
    return reportSessionError("run", S.error());
  std::string Engine = Args.get("engine").value_or("generated");
  if (Engine != "interp" && Engine != "generated")
    return reportUsage("run", Diag("--engine must be interp or generated"));
  int64_t Steps = 1;
  if (auto V = Args.get("steps")) {
    auto [P, EC] = std::from_chars(V->data(), V->data() + V->size(), Steps);
    if (EC != std::errc() || P != V->data() + V->size() || Steps < 1)
      return reportUsage("run", Diag("--steps must be a positive integer"));
  }
  if (!S->Training && Steps != 1)
    return reportUsage("run", Diag("--steps needs --train"));
  std::string TargetName = Args.get("target").value_or("host");
  const TargetInfo *Target = lookupTarget(TargetName);
  if (!Target)
    return reportUsage("run", Diag(fmt::format("--target '{}' is not a "
                                               "target this build runs ({})",
                                               TargetName, targetNames())));
  if (Target->Name != "host" && Engine != "generated")
    return reportUsage("run", Diag("--target needs --engine generated"));
  if (Args.has("check-bounds") && (Engine != "generated" || Target->Name != "host"))
    return reportUsage("run", Diag("--check-bounds needs --engine generated "
                                   "on the host target (it uses "
                                   "AddressSanitizer)"));
  if (Args.has("cxxflags") && Engine != "generated")
    return reportUsage("run", Diag("--cxxflags needs --engine generated"));
  fs::path CountPlugin;
  if (Args.has("count-instructions")) {
    if (Target->Run == RunKind::Native || Engine != "generated")
      return reportUsage("run", Diag("--count-instructions needs an emulated "
                                     "--target (not host) and --engine "
                                     "generated: qemu counts the "
                                     "instructions"));
    Expected<fs::path> P = findCountPlugin();
    if (!P)
      return reportError(P.error());
    CountPlugin = *P;
  }
  if (Status St = checkTargetTools(*Target); !St)
    return reportError(St.error());
  Generated Gen;
  if (Engine == "generated") {
    Expected<Generated> G = generateCpp(*S, "model", Args.has("check-bounds"));
    if (!G)
      return reportError(G.error());
    Gen = std::move(*G);
    if (auto F = Args.get("cxxflags")) {
      // The flags go into a shell command: words of plain characters only.
      auto Plain = [](char C) {
        return std::isalnum(static_cast<unsigned char>(C)) ||
               std::string_view(" =_.,+-/:").find(C) != std::string_view::npos;
      };
      if (!std::all_of(F->begin(), F->end(), Plain))
        return reportUsage("run", Diag("--cxxflags may hold letters, digits, "
                                       "spaces and = _ . , + - / : only"));
      Gen.CxxFlags = *F;
    }
    std::string Emit = Args.get("emit").value_or("cpp");
    if (Emit != "cpp" && Emit != "obj")
      return reportUsage("run", Diag("--emit must be cpp or obj"));
    if (Emit == "obj" && Args.has("check-bounds"))
      return reportUsage("run", Diag("--check-bounds needs --emit cpp (the "
                                     "checks are C++ code built with "
                                     "AddressSanitizer)"));
    if (Emit == "obj") {
      // The object replaces model.cpp; model.h is the same.
      if (Status St = useObject(*S, Gen, *Target); !St)
        return reportError(St.error());
    }
  } else {
    auto G = buildGraph(*S);
    if (!G)
      return reportError(G.error());
    Gen.G = std::move(*G);
  }
  const Graph &Gr = *Gen.G;

  Expected<std::map<std::string, Tensor>> Feeds =
      readInputFiles(Gr, Args.getAll("input"));
  if (!Feeds)
    return reportSessionError("run", Feeds.error());

  // Counting runs the program with 1 and with 2 steps (inferences); the
  // difference is the cost of one step, without start-up and file I/O.
  Expected<RunResult> R = Diag("");
  uint64_t Counts[2] = {0, 0};
  if (!CountPlugin.empty()) {
    for (int64_t K = 1; K <= 2; ++K) {
      Expected<RunResult> RK = runGenerated(Gen, S->Training, K, *Feeds,
                                            *Target, Args.has("keep"),
                                            CountPlugin);
      if (!RK)
        return reportError(RK.error());
      Counts[K - 1] = RK->Instructions;
      if (K == Steps)
        R = std::move(RK);
    }
  }
  if (CountPlugin.empty() || Steps > 2)
    R = Engine == "generated"
            ? runGenerated(Gen, S->Training, Steps, *Feeds, *Target,
                           Args.has("keep"))
            : runInterpreter(Gr, S->Training, Steps, *Feeds);
  if (!R)
    return reportError(R.error());
  if (!CountPlugin.empty())
    fmt::print("instructions executed: {} ({} {}), {} ({} {}s)\n"
               "instructions per {}: {}\n",
               Counts[0], 1, S->Training ? "step" : "inference", Counts[1], 2,
               S->Training ? "step" : "inference",
               S->Training ? "training step" : "inference",
               int64_t(Counts[1] - Counts[0]));
  for (size_t K = 0; K < R->Losses.size(); ++K)
    fmt::print("step {}: loss {}\n", K + 1, R->Losses[K]);
  for (const auto &[O, T] : R->Outputs)
    fmt::print("output {}: {}\n", O->name(), O->type().str());

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
    if (S->Training) {
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
