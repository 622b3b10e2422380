//===- MoteOpt.cpp - Read, verify, transform and print textual IR ---------===//
//
// mote-opt FILE|- [--split-input-file] [--verify-diagnostics] [--no-verify]
//                 [--pass NAME ... | --pipeline infer|train]
//                 [--emit cpp|h|ll] [training options]
//
// The engine of the golden text tests (tests/ir, tests/codegen, run by lit +
// FileCheck): parses the IR, compiles it through the driver
// (driver/Driver.h) and prints the result. With --split-input-file the file
// is cut at lines `// -----` and each piece is handled on its own. With
// --verify-diagnostics a piece holding `// expected-error {{TEXT}}` must
// fail with a message containing TEXT, and every other piece must succeed;
// the exit code says whether all expectations held. Each --pass runs that
// pass (in the order given, verifying after each unless --no-verify);
// --pipeline runs the default pipeline instead. The training options
// (driver/Options.h: --loss, --optimizer, --lr, --update, ...) configure
// the passes as motec's do. --emit prints, instead of the IR, the generated
// code of the resulting graph (taken in its order as the schedule): NAME.cpp
// (cpp), NAME.h (h) or the LLVM backend's module before optimisation for
// the host (ll).
//
//===----------------------------------------------------------------------===//

#include "codegen/Targets.h"
#include "compiler/Graph.h"
#include "compiler/Parser.h"
#include "compiler/Printer.h"
#include "driver/Driver.h"

#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace mote;

namespace {

const OptionSpec OwnSpecs[] = {
    {"split-input-file", "", false,
     "handle each piece between lines '// -----' on its own"},
    {"verify-diagnostics", "", false,
     "pieces with '// expected-error {{TEXT}}' must fail with TEXT, the "
     "others must succeed"},
    {"no-verify", "", false, "do not verify the graph (after every pass)"},
    {"pass", "NAME", true, "run this pass (in the order given)"},
    {"pipeline", "infer|train", false,
     "run the default inference or training pipeline"},
    {"emit", "cpp|h|ll", false,
     "print the generated NAME.cpp, NAME.h or the LLVM module instead of "
     "the IR"},
};

std::span<const OptionSpec> allSpecs() {
  static const std::vector<OptionSpec> V = [] {
    std::vector<OptionSpec> R(std::begin(OwnSpecs), std::end(OwnSpecs));
    std::span<const OptionSpec> T = trainOptionSpecs();
    R.insert(R.end(), T.begin(), T.end());
    return R;
  }();
  return V;
}

struct Flags {
  bool Split = false;
  bool VerifyDiags = false;
  std::string Emit;
  CompileOptions Options;
};

std::vector<std::string> splitChunks(const std::string &Text, bool Split) {
  std::vector<std::string> Chunks(1);
  std::istringstream In(Text);
  std::string Line;
  while (std::getline(In, Line)) {
    if (Split && Line.starts_with("// -----")) {
      Chunks.emplace_back();
      continue;
    }
    Chunks.back() += Line + "\n";
  }
  return Chunks;
}

/// TEXT of each `expected-error {{TEXT}}` in \p Chunk.
std::vector<std::string> expectedErrors(const std::string &Chunk) {
  std::vector<std::string> R;
  size_t Pos = 0;
  while ((Pos = Chunk.find("expected-error", Pos)) != std::string::npos) {
    size_t Open = Chunk.find("{{", Pos);
    size_t Close = Chunk.find("}}", Open);
    if (Open == std::string::npos || Close == std::string::npos)
      break;
    R.push_back(Chunk.substr(Open + 2, Close - Open - 2));
    Pos = Close;
  }
  return R;
}

/// What one chunk prints, or its error.
Expected<std::string> compileChunk(const std::string &Chunk,
                                   const std::string &File, const Flags &F) {
  auto G = parseGraph(Chunk, File);
  if (!G)
    return G.takeError();
  Stage Until = F.Emit.empty() ? Stage::Graph : Stage::Code;
  Expected<CompiledModel> M = compileGraph(std::move(*G), F.Options, Until);
  if (!M)
    return M.takeError();
  if (F.Emit.empty())
    return printGraph(*M->G);
  if (F.Emit == "ll")
    return emitLlvmIr(*M, *lookupTarget("host"));
  std::string Want = F.Options.Name + (F.Emit == "h" ? ".h" : ".cpp");
  for (const EmittedFile &E : M->Files)
    if (E.Path == Want)
      return E.Text;
  return Diag(fmt::format("no {} was emitted", Want));
}

/// Handles one chunk; prints it or its error. Returns whether the chunk
/// met its expectations.
bool handleChunk(const std::string &Chunk, const std::string &File,
                 const Flags &F, bool &Printed) {
  std::vector<std::string> Expected =
      F.VerifyDiags ? expectedErrors(Chunk) : std::vector<std::string>{};
  mote::Expected<std::string> Out = compileChunk(Chunk, File, F);
  if (Expected.empty()) {
    if (!Out) {
      fmt::print(stderr, "{}{}\n", F.VerifyDiags ? "unexpected error: " : "",
                 Out.error().str());
      return false;
    }
    if (Printed)
      fmt::print("// -----\n");
    fmt::print("{}", *Out);
    Printed = true;
    return true;
  }
  if (Out) {
    fmt::print(stderr, "expected error '{}' but the input is valid\n",
               Expected.front());
    return false;
  }
  std::string Msg = Out.error().str();
  for (const std::string &E : Expected)
    if (Msg.find(E) == std::string::npos) {
      fmt::print(stderr, "expected error '{}' but got: {}\n", E, Msg);
      return false;
    }
  return true;
}

void printHelp() {
  fmt::print("usage: mote-opt FILE|- [options]\n\noptions:\n{}\npasses:\n",
             formatOptions(allSpecs()));
  for (const PassInfo &P : allPasses())
    fmt::print("  {:<18} {}\n", P.Name, P.Help);
}

} // namespace

int main(int Argc, char **Argv) {
  std::vector<std::string> Args(Argv + 1, Argv + Argc);
  for (const std::string &A : Args)
    if (A == "--help" || A == "-h") {
      printHelp();
      return 0;
    }
  auto Parsed = parseArgs(Args, allSpecs());
  if (auto *U = std::get_if<UsageError>(&Parsed)) {
    fmt::print(stderr, "mote-opt: {}\n", U->Message);
    return 2;
  }
  const ParsedArgs &P = std::get<ParsedArgs>(Parsed);
  if (P.Positional.size() != 1) {
    fmt::print(stderr, "mote-opt: {} (use - for stdin)\n",
               P.Positional.empty() ? "no input file"
                                    : "more than one input file");
    return 2;
  }
  Flags F;
  const std::string &File = P.Positional[0];
  F.Split = P.has("split-input-file");
  F.VerifyDiags = P.has("verify-diagnostics");
  F.Options.ModelPath = File;
  F.Options.VerifyEach = !P.has("no-verify");
  if (Status S = parseTrainOptions(P, F.Options.Train); !S) {
    fmt::print(stderr, "mote-opt: {}\n", S.error().Message);
    return S.error().Usage ? 2 : 1;
  }
  if (P.has("pass") && P.has("pipeline")) {
    fmt::print(stderr, "mote-opt: --pass and --pipeline exclude each other\n");
    return 2;
  }
  if (auto Pipe = P.get("pipeline")) {
    if (*Pipe != "infer" && *Pipe != "train") {
      fmt::print(stderr, "mote-opt: --pipeline '{}': use infer or train\n",
                 *Pipe);
      return 2;
    }
    F.Options.Training = *Pipe == "train";
  } else {
    std::vector<std::string> Passes = P.getAll("pass");
    for (const std::string &Name : Passes)
      if (!lookupPass(Name)) {
        fmt::print(stderr, "mote-opt: unknown pass '{}'\n", Name);
        return 2;
      }
    F.Options.Passes = std::move(Passes);
  }
  if (auto E = P.get("emit")) {
    if (*E != "cpp" && *E != "h" && *E != "ll") {
      fmt::print(stderr, "mote-opt: --emit '{}': use cpp, h or ll\n", *E);
      return 2;
    }
    F.Emit = *E;
  }
  std::string Text;
  if (File == "-") {
    std::ostringstream SS;
    SS << std::cin.rdbuf();
    Text = SS.str();
  } else {
    std::ifstream In(File);
    if (!In) {
      fmt::print(stderr, "mote-opt: cannot open '{}'\n", File);
      return 1;
    }
    std::ostringstream SS;
    SS << In.rdbuf();
    Text = SS.str();
  }
  bool AllOk = true, Printed = false;
  for (const std::string &Chunk : splitChunks(Text, F.Split))
    AllOk &= handleChunk(Chunk, File, F, Printed);
  return AllOk ? 0 : 1;
}
