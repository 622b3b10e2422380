//===- Compile.cpp - motec compile ----------------------------------------===//
//
// Compiles a model to a self-contained directory: NAME.h + NAME.cpp (the
// generated API, see docs/generated-api.md), the runtime-stub headers they
// include (mote_rt/), report.json and report.html. --emit obj writes NAME.h
// + NAME.o from the LLVM backend for --target instead of the C++, --emit
// both writes all of them, --emit none only the reports. The directory is
// written through a temporary sibling, so an error leaves no partial output.
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
    {"emit", "cpp|obj|both|none", false,
     "what to write besides the reports: C++ (default), an object file from "
     "the LLVM backend (NAME.h + NAME.o), both, or nothing"},
    {"name", "IDENT", false, "prefix of the generated symbols (default: model)"},
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
  Expected<Session> S = parseSession(Args);
  if (!S)
    return reportSessionError("compile", S.error());
  std::string Emit = Args.get("emit").value_or("cpp");
  if (Emit != "cpp" && Emit != "obj" && Emit != "both" && Emit != "none")
    return reportUsage("compile", Diag("--emit must be cpp, obj, both or none"));
  std::string Target = Args.get("target").value_or("host");
  const TargetInfo *TI = lookupTarget(Target);
  if (!TI)
    return reportUsage("compile",
                       Diag(fmt::format("--target '{}' is not a target this "
                                        "build knows ({})",
                                        Target, targetNames())));
  if (Args.has("check-bounds") && Emit != "cpp")
    return reportUsage("compile", Diag("--check-bounds needs --emit cpp (the "
                                       "checks are C++ code built with "
                                       "AddressSanitizer)"));
  std::string Name = Args.get("name").value_or("model");
  auto Out = Args.get("o");
  if (!Out)
    return reportUsage("compile", Diag("-o DIR is required"));
  fs::path Dir(*Out);

  Expected<Generated> Gen = generateCpp(*S, Name, Args.has("check-bounds"));
  if (!Gen)
    return reportError(Gen.error());
  std::vector<EmittedFile> Files;
  if (Emit == "cpp" || Emit == "both")
    Files = Gen->Files;
  if (Emit == "obj" || Emit == "both") {
    Expected<std::vector<EmittedFile>> Obj =
        generateObject(*S, *Gen, Name, *TI);
    if (!Obj)
      return reportError(Obj.error());
    if (Emit == "obj")
      Files = std::move(*Obj);
    else
      Files.push_back(std::move((*Obj)[1])); // NAME.h is the same
  }
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
  if (Emit == "cpp" || Emit == "both")
    fmt::print("wrote {}/{}.h, {}/{}.cpp and {} runtime-stub files\n",
               Dir.string(), Name, Dir.string(), Name,
               Gen->Files.size() - 2);
  if (Emit == "obj" || Emit == "both")
    fmt::print("wrote {}/{}.o for {} ({})\n", Dir.string(), Name, TI->Name,
               TI->Triple);
  return ExitOk;
}

} // namespace

const Command CompileCommand = {
    "compile",
    "compile model.onnx -o DIR [--emit cpp|obj|both|none] [--name IDENT] "
    "[model options]",
    "emit standalone C++ (NAME.h, NAME.cpp, runtime headers) and the memory "
    "report",
    compileOptions,
    runCompile,
};

} // namespace mote::cli
