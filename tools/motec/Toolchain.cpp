//===- Toolchain.cpp - Building and running generated code ----------------===//

#include "Toolchain.h"
#include "codegen/Program.h"
#include "compiler/Graph.h"
#include "driver/Driver.h"
#include "frontends/onnx/OnnxImporter.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mote::cli {

namespace {

/// Converts an integer label tensor to the graph's integer type (PyTorch
/// writes int64 class indices; the label input is int32).
Expected<Tensor> adapt(const Value &In, Tensor T) {
  if (T.type().sameStorage(In.type()) && !T.type().isQuantized())
    return T.retyped(In.type()); // a quantized input's integers
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
  return Diag(fmt::format("input '{}' expects {}, the file holds {}", In.name(),
                          In.type().str(), T.type().str()));
}

/// Reads a whole binary file.
Expected<std::string> readBinary(const fs::path &P) {
  std::ifstream In(P, std::ios::binary);
  if (!In)
    return Diag(
        fmt::format("{}: the generated program wrote no result", P.string()));
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

Expected<RunResult>
runGenerated(const CompiledModel &M, const std::vector<EmittedFile> &ModelFiles,
             int64_t Steps, const std::map<std::string, Tensor> &Feeds,
             const TargetInfo &Target, const RunSettings &Settings) {
  const Graph &G = *M.G;
  const LoweredProgram &Program = *M.Program;
  const bool Training = Program.Train.has_value();
  const bool KeepDir = Settings.Keep;
  const fs::path &CountPlugin = Settings.CountPlugin;
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
  // The model's files and the runtime-stub files (the C++ output has them
  // already, an object does not).
  std::vector<EmittedFile> Files = ModelFiles;
  for (const EmittedFile &F : runtimeStubFiles())
    if (std::none_of(ModelFiles.begin(), ModelFiles.end(),
                     [&](const EmittedFile &E) { return E.Path == F.Path; }))
      Files.push_back(F);
  std::vector<const Value *> Outs(G.outputs().begin(), G.outputs().end());
  const std::vector<ProgramIo> &Ins =
      Training ? Program.Train->Inputs : Program.Infer->Inputs;
  for (size_t I = 0; I < Ins.size(); ++I) {
    const Tensor &T = Feeds.at(Ins[I].Name);
    Files.push_back({fmt::format("in{}.bin", I),
                     std::string(reinterpret_cast<const char *>(T.raw()),
                                 size_t(T.type().bytes()))});
  }
  const std::vector<CheckpointEntry> &Ck = Program.Checkpoint;
  bool Board = Target.Run != RunKind::Native;
  Files.push_back({"main.cpp", harnessSource(M, Target, Steps)});
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
      M.Options.CheckBounds
          ? " -O0 -g1 -DMOTE_RT_NO_FORCE_INLINE "
            "-fsanitize=address,undefined -fno-sanitize-recover=all "
            "-fno-omit-frame-pointer"
          : "";
  // What is compiled and linked: the model, the harness and, off the
  // host, every .cpp of the board directory (startup, memcpy, ...).
  // --emit obj: the LLVM backend's model.o stands for model.cpp.
  bool Object =
      std::any_of(Files.begin(), Files.end(),
                  [](const EmittedFile &F) { return F.Path == "model.o"; });
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
                      Dir.string(), Cxx, CheckFlags, Settings.CxxFlags,
                      fmt::join(Inputs, " "));
    break;
  case RunKind::Semihosting:
    Cmd = fmt::format("cd '{}' && {} -std=c++20 -O2 {} {} "
                      "-fno-tree-loop-distribute-patterns {} -I . -T "
                      "{}link.ld {} -lgcc -o run.elf > build.log 2>&1",
                      Dir.string(), Cxx, Target.CxxFlags, Freestanding,
                      Settings.CxxFlags, BoardDir, fmt::join(Inputs, " "));
    break;
  case RunKind::LinuxUser:
    Cmd = fmt::format("cd '{}' && {} -std=c++20 -O2 {} {} {} -static -I . "
                      "{} -o run.elf > build.log 2>&1",
                      Dir.string(), Cxx, Target.CxxFlags, Freestanding,
                      Settings.CxxFlags, fmt::join(Inputs, " "));
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
    Plugin =
        fmt::format("-plugin '{}',outfile=icount.txt", CountPlugin.string());
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
  if (Status St =
          runLogged(Cmd, Dir / "run.log", "the generated program failed");
      !St)
    return St.takeError();
  RunResult R;
  if (!CountPlugin.empty()) {
    auto Count = readBinary(Dir / "icount.txt");
    if (!Count)
      return Count.takeError();
    auto [P, EC] = std::from_chars(Count->data(), Count->data() + Count->size(),
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

Expected<CountedRun>
countInstructions(const CompiledModel &M, const std::vector<EmittedFile> &Files,
                  int64_t Steps, const std::map<std::string, Tensor> &Feeds,
                  const TargetInfo &Target, RunSettings S) {
  Expected<fs::path> Plugin = findCountPlugin();
  if (!Plugin)
    return Plugin.takeError();
  S.CountPlugin = *Plugin;
  CountedRun R;
  for (int64_t K = 1; K <= 2; ++K) {
    Expected<RunResult> RK = runGenerated(M, Files, K, Feeds, Target, S);
    if (!RK)
      return RK.takeError();
    R.Counts[K - 1] = RK->Instructions;
    if (K == Steps)
      R.Result = std::move(*RK);
  }
  R.PerStep = int64_t(R.Counts[1] - R.Counts[0]);
  return R;
}

Expected<std::map<std::string, Tensor>>
readInputFiles(const Graph &Gr, const std::vector<std::string> &Specs,
               bool RequireAll) {
  auto Usage = [](std::string Msg) { return usageError(std::move(Msg)); };
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
        std::system(
            fmt::format("command -v {} > /dev/null 2>&1", Exe).c_str()) != 0)
      return Diag(fmt::format("--target {} needs {}, which is not installed "
                              "(tools/install-deps.sh installs it)",
                              Target.Name, Exe));
  }
  return ok();
}

} // namespace mote::cli
