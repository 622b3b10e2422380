//===- Compile.cpp - motec compile ----------------------------------------===//
//
// Compiles a model to a self-contained directory: NAME.h + NAME.cpp (the
// generated API, see docs/generated-api.md), the runtime-stub headers they
// include (mote_rt/), report.json and report.html. --emit none writes only
// the reports. The directory is written through a temporary sibling, so an
// error leaves no partial output.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Generate.h"
#include "codegen/Targets.h"

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace mote::cli {

namespace {

const OptionSpec CompileOwnOptions[] = {
    {"o", "DIR", false, "output directory (created; files of the same names replaced)"},
    {"emit", "cpp|none", false, "what to write besides the reports (default cpp)"},
    {"name", "IDENT", false, "prefix of the generated symbols (default: model)"},
    {"target", "host|cortex-m4|cortex-m7", false,
     "the device the code is for (the C++ output is the same for all)"},
};

std::span<const OptionSpec> compileOptions() {
  static const std::vector<OptionSpec> V = [] {
    std::vector<OptionSpec> Own(std::begin(CompileOwnOptions),
                                std::end(CompileOwnOptions));
    Own.insert(Own.end(), std::begin(ReportOptions), std::end(ReportOptions));
    return withModelOptions(Own);
  }();
  return V;
}

int runCompile(const ParsedArgs &Args) {
  Expected<Session> S = parseSession(Args);
  if (!S)
    return reportSessionError("compile", S.error());
  std::string Emit = Args.get("emit").value_or("cpp");
  if (Emit != "cpp" && Emit != "none")
    return reportUsage("compile", Diag("--emit must be cpp or none (obj needs "
                                       "the LLVM backend, not built yet)"));
  std::string Target = Args.get("target").value_or("host");
  if (!lookupTarget(Target))
    return reportUsage("compile",
                       Diag(fmt::format("--target '{}' is not a target this "
                                        "build knows (host, cortex-m4, "
                                        "cortex-m7)",
                                        Target)));
  std::string Name = Args.get("name").value_or("model");
  auto Out = Args.get("o");
  if (!Out)
    return reportUsage("compile", Diag("-o DIR is required"));
  fs::path Dir(*Out);

  Expected<Generated> Gen = generateCpp(*S, Name);
  if (!Gen)
    return reportError(Gen.error());
  std::vector<EmittedFile> Files;
  if (Emit == "cpp")
    Files = Gen->Files;
  if (Status St = writeFilesAtomically(Dir, Files); !St)
    return reportError(St.error());
  const MemoryLayout &L = Gen->Layout;
  if (int RC = budgetAndReports(Args, "compile", *S, *Gen->G, L, Dir);
      RC != ExitOk)
    return RC;
  fmt::print("arena: {} bytes (lower bound {}, efficiency {:.3f})\nflash: {} "
             "bytes\n",
             L.Plan.ArenaBytes, L.Plan.LowerBoundBytes, L.Plan.efficiency(),
             L.FlashBytes);
  if (Emit == "cpp")
    fmt::print("wrote {}/{}.h, {}/{}.cpp and {} runtime-stub files\n",
               Dir.string(), Name, Dir.string(), Name, Files.size() - 2);
  return ExitOk;
}

} // namespace

const Command CompileCommand = {
    "compile",
    "compile model.onnx -o DIR [--emit cpp|none] [--name IDENT] [model "
    "options]",
    "emit standalone C++ (NAME.h, NAME.cpp, runtime headers) and the memory "
    "report",
    compileOptions,
    runCompile,
};

} // namespace mote::cli
