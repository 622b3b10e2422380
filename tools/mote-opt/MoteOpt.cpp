//===- MoteOpt.cpp - Read, verify, transform and print textual IR ---------===//
//
// mote-opt FILE [--split-input-file] [--verify-diagnostics] [--no-verify]
//              [--pass NAME ...] [--update PATTERN[:RATIO] ...] [--loss K]
//              [--optimizer O] [--lr F] [--output NAME]
//
// The engine of the golden IR tests (tests/ir, run by lit + FileCheck):
// parses the IR, verifies it, and prints it back. With --split-input-file
// the file is cut at lines `// -----` and each piece is handled on its own.
// With --verify-diagnostics a piece holding `// expected-error {{TEXT}}`
// must fail with a message containing TEXT, and every other piece must
// succeed; the exit code says whether all expectations held. Each --pass
// runs that pass (in the order given, verifying after each) before printing;
// the training options configure them as motec's flags do.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/Parser.h"
#include "compiler/Printer.h"
#include "compiler/Verifier.h"
#include "passes/Pass.h"

#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace mote;

namespace {

struct Flags {
  bool Split = false;
  bool VerifyDiags = false;
  bool Verify = true;
  std::vector<const PassInfo *> Passes;
  TrainOptions Train;
};

std::vector<std::string> splitChunks(const std::string &Text, bool Split) {
  std::vector<std::string> Chunks(1);
  std::istringstream In(Text);
  std::string Line;
  while (std::getline(In, Line)) {
    if (Split && Line.starts_with("// -----")) {
      Chunks.emplace_back();
      // Keep line numbers meaningful: pad the new chunk.
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

/// Parses and verifies one chunk; prints it or its error.
bool handleChunk(const std::string &Chunk, const std::string &File,
                 const Flags &F, bool &Printed) {
  std::vector<std::string> Expected =
      F.VerifyDiags ? expectedErrors(Chunk) : std::vector<std::string>{};
  auto G = parseGraph(Chunk, File);
  std::optional<Diag> Err;
  if (!G) {
    Err = G.takeError();
  } else if (F.Verify) {
    if (Status S = verifyGraph(**G); !S)
      Err = S.takeError();
  }
  if (!Err && !F.Passes.empty()) {
    PassContext Ctx;
    Ctx.Train = F.Train;
    Ctx.VerifyEach = F.Verify;
    if (Status S = runPipeline(F.Passes, **G, Ctx); !S)
      Err = S.takeError();
  }
  if (!F.VerifyDiags) {
    if (Err) {
      fmt::print(stderr, "{}\n", Err->str());
      return false;
    }
    if (Printed)
      fmt::print("// -----\n");
    fmt::print("{}", printGraph(**G));
    Printed = true;
    return true;
  }
  if (Expected.empty()) {
    if (Err) {
      fmt::print(stderr, "unexpected error: {}\n", Err->str());
      return false;
    }
    if (Printed)
      fmt::print("// -----\n");
    fmt::print("{}", printGraph(**G));
    Printed = true;
    return true;
  }
  if (!Err) {
    fmt::print(stderr, "expected error '{}' but the input is valid\n",
               Expected.front());
    return false;
  }
  std::string Msg = Err->str();
  for (const std::string &E : Expected)
    if (Msg.find(E) == std::string::npos) {
      fmt::print(stderr, "expected error '{}' but got: {}\n", E, Msg);
      return false;
    }
  return true;
}

} // namespace

int main(int Argc, char **Argv) {
  Flags F;
  std::string File;
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    if (A == "--split-input-file")
      F.Split = true;
    else if (A == "--verify-diagnostics")
      F.VerifyDiags = true;
    else if (A == "--no-verify")
      F.Verify = false;
    else if ((A == "--pass" || A == "--update" || A == "--loss" ||
              A == "--optimizer" || A == "--lr" || A == "--weight-decay" ||
              A == "--output") &&
             I + 1 >= Argc) {
      fmt::print(stderr, "mote-opt: {} needs a value\n", A);
      return 2;
    } else if (A == "--pass") {
      const PassInfo *P = lookupPass(Argv[++I]);
      if (!P) {
        fmt::print(stderr, "mote-opt: unknown pass '{}'\n", Argv[I]);
        return 2;
      }
      F.Passes.push_back(P);
    } else if (A == "--update") {
      auto R = parseUpdateRule(Argv[++I]);
      if (!R) {
        fmt::print(stderr, "mote-opt: {}\n", R.error().Message);
        return 2;
      }
      F.Train.Update.push_back(*R);
    } else if (A == "--loss") {
      std::string V = Argv[++I];
      F.Train.Loss = V == "mse" ? LossKind::Mse : LossKind::CrossEntropy;
    } else if (A == "--optimizer") {
      std::string V = Argv[++I];
      F.Train.Optimizer = V == "adam"       ? OptimizerKind::Adam
                          : V == "momentum" ? OptimizerKind::Momentum
                                            : OptimizerKind::Sgd;
    } else if (A == "--lr") {
      F.Train.LearningRate = std::stof(Argv[++I]);
    } else if (A == "--weight-decay") {
      F.Train.WeightDecay = std::stof(Argv[++I]);
    } else if (A == "--output") {
      F.Train.Output = Argv[++I];
    }
    else if (A == "--help" || A == "-h") {
      fmt::print("usage: mote-opt FILE|- [--split-input-file] "
                 "[--verify-diagnostics] [--no-verify] [--pass NAME ...] "
                 "[--update P[:R] ...] [--loss cross-entropy|mse] "
                 "[--optimizer sgd|momentum|adam] [--lr F] [--weight-decay F] "
                 "[--output NAME]\n"
                 "passes:\n");
      for (const PassInfo &P : allPasses())
        fmt::print("  {:<18} {}\n", P.Name, P.Help);
      return 0;
    } else if (!A.empty() && A[0] == '-' && A != "-") {
      fmt::print(stderr, "mote-opt: unknown option '{}'\n", A);
      return 2;
    } else if (File.empty()) {
      File = A;
    } else {
      fmt::print(stderr, "mote-opt: more than one input file\n");
      return 2;
    }
  }
  if (File.empty()) {
    fmt::print(stderr, "mote-opt: no input file (use - for stdin)\n");
    return 2;
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
