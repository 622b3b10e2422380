//===- Compile.cpp - motec compile ----------------------------------------===//
//
// Compiles a model to a self-contained directory: NAME.h + NAME.cpp +
// NAME.weights (the generated API, see docs/generated-api.md), the
// runtime-stub headers they include (mote_rt/), report.json and
// report.html. --emit obj writes NAME.h + NAME.o from the LLVM backend for
// --target instead of the C++, --emit both writes all of them, --emit none
// only the reports. The directory is written through a temporary sibling,
// so an error leaves no partial output.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "FileUtil.h"
#include "codegen/Targets.h"
#include "driver/Driver.h"
#include "driver/Report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fs = std::filesystem;

namespace mote::cli {

namespace {

const OptionSpec CompileOwnOptions[] = {
    {"o", "DIR", false,
     "output directory (created; files of the same names replaced)"},
    {"emit", "cpp|obj|both|none", false,
     "what to write besides the reports: C++ (default), an object file from "
     "the LLVM backend (NAME.h + NAME.o), both, or nothing"},
    {"name", "IDENT", false,
     "prefix of the generated symbols (default: model)"},
    {"check-bounds", "", false,
     "debug mode: each kernel call may touch only its operands' arena bytes, "
     "checked by AddressSanitizer (build the code with -fsanitize=address)"},
    {"target", "host|cortex-m4|cortex-m7|cortex-m55|aarch64|hexagon", false,
     "the device the code is for: the object's architecture with --emit obj "
     "(the C++ output is the same for all); docs/targets.md"},
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
  Expected<CompileOptions> O = parseCompileOptions(Args);
  if (!O)
    return reportDiag("compile", O.error());
  if (std::optional<Diag> E = reportOptionsError(Args))
    return reportDiag("compile", *E);
  auto Out = Args.get("o");
  if (!Out)
    return reportUsage("compile", Diag("-o DIR is required"));
  fs::path Dir(*Out);

  Expected<CompiledModel> M = compile(*O);
  if (!M)
    return reportDiag("compile", M.error());
  if (Status St = writeFilesAtomically(Dir, M->Files); !St)
    return reportError(St.error());
  if (int RC = writeReports(Args, *M, Dir); RC != ExitOk)
    return RC;
  const MemoryLayout &L = *M->Layout;
  fmt::print("arena: {} bytes (lower bound {}, efficiency {:.3f})\nflash: {} "
             "bytes\n",
             L.Plan.ArenaBytes, L.Plan.LowerBoundBytes, L.Plan.efficiency(),
             L.FlashBytes);
  if (int64_t T = kernelTableBytes(*M->G))
    fmt::print("kernel tables: {} bytes of flash besides the weights "
               "(per-channel quantization parameters)\n",
               T);
  const std::string &Name = O->Name;
  std::vector<std::string> Own;
  size_t Runtime = 0;
  for (const EmittedFile &F : M->Files) {
    if (F.Path.starts_with("mote_rt/") || F.Path.starts_with("board/"))
      ++Runtime;
    else if (!F.Path.ends_with(".o"))
      Own.push_back((Dir / F.Path).string());
  }
  if (O->Emit == EmitKind::Cpp || O->Emit == EmitKind::Both)
    fmt::print("wrote {} and {} runtime-stub files\n", fmt::join(Own, ", "),
               Runtime);
  if (O->Emit == EmitKind::Object || O->Emit == EmitKind::Both)
    fmt::print("wrote {}/{}.o for {} ({})\n", Dir.string(), Name,
               O->target().Name, O->target().Triple);
  return ExitOk;
}

} // namespace

const Command CompileCommand = {
    "compile",
    "compile model.onnx -o DIR [--emit cpp|obj|both|none] [--name IDENT] "
    "[model options]",
    "emit standalone C++ (NAME.h, NAME.cpp, NAME.weights, runtime headers) "
    "and the memory report",
    compileOptions,
    runCompile,
};

} // namespace mote::cli
