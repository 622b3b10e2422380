//===- Main.cpp - The motec driver ----------------------------------------===//
//
// motec SUBCOMMAND [options]: dispatches through the command table.
// Library code never exits; only the commands turn results into exit codes.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Version.h"
#include "driver/Options.h"

#include <cstdio>
#include <exception>
#include <fmt/format.h>
#include <string>
#include <vector>

using namespace mote;
using namespace mote::cli;

namespace {

const Command *const Commands[] = {&InspectCommand, &CompileCommand, &PlanCommand,
                                   &RunCommand, &CheckCommand};

void printUsage(std::FILE *Out) {
  fmt::print(Out, "usage: motec <command> [options]\n\n"
                  "mote: an ahead-of-time training compiler for tiny devices.\n"
                  "ONNX model in, standalone training code out.\n\ncommands:\n");
  for (const Command *C : Commands)
    fmt::print(Out, "  {:<10} {}\n", C->Name, C->Summary);
  fmt::print(Out, "\nmotec <command> --help shows a command's options.\n"
                  "exit codes: 0 ok, 1 model or user error, 2 usage error, "
                  ">2 internal error\n");
}

void printCommandHelp(const Command &C) {
  fmt::print("usage: motec {}\n\n{}\n\noptions:\n{}", C.Synopsis, C.Summary,
             formatOptions(C.Options()));
}

int run(int Argc, char **Argv) {
  std::vector<std::string> Args(Argv + 1, Argv + Argc);
  if (Args.empty()) {
    printUsage(stderr);
    return ExitUsage;
  }
  const std::string &Cmd = Args[0];
  if (Cmd == "--help" || Cmd == "-h" || Cmd == "help") {
    printUsage(stdout);
    return ExitOk;
  }
  if (Cmd == "--version") {
    fmt::print("motec {} (mote training compiler; LLVM {})\n", MOTE_VERSION,
               MOTE_LLVM_VERSION);
    return ExitOk;
  }
  for (const Command *C : Commands) {
    if (C->Name != Cmd)
      continue;
    std::span<const std::string> Rest(Args.data() + 1, Args.size() - 1);
    for (const std::string &A : Rest)
      if (A == "--help" || A == "-h") {
        printCommandHelp(*C);
        return ExitOk;
      }
    auto Parsed = parseArgs(Rest, C->Options());
    if (auto *U = std::get_if<UsageError>(&Parsed)) {
      fmt::print(stderr, "motec {}: {}\nusage: motec {}\n", C->Name,
                 U->Message, C->Synopsis);
      return ExitUsage;
    }
    return C->Run(std::get<ParsedArgs>(Parsed));
  }
  fmt::print(stderr, "motec: unknown command '{}'\n", Cmd);
  printUsage(stderr);
  return ExitUsage;
}

} // namespace

int mote::cli::reportUsage(std::string_view Command, const mote::Diag &D) {
  fmt::print(stderr, "motec {}: {}\n", Command, D.Message);
  return ExitUsage;
}

int mote::cli::reportError(const mote::Diag &D) {
  fmt::print(stderr, "motec: error: {}\n", D.str());
  return ExitUserError;
}

int mote::cli::reportDiag(std::string_view Command, const mote::Diag &D) {
  return D.Usage ? reportUsage(Command, D) : reportError(D);
}

std::vector<mote::OptionSpec>
mote::cli::withModelOptions(std::span<const OptionSpec> Own) {
  std::vector<OptionSpec> R(Own.begin(), Own.end());
  std::span<const OptionSpec> Model = modelOptionSpecs();
  R.insert(R.end(), Model.begin(), Model.end());
  return R;
}

int main(int Argc, char **Argv) {
  try {
    return run(Argc, Argv);
  } catch (const std::bad_alloc &) {
    fmt::print(stderr, "motec: error: out of memory\n");
    return ExitUserError;
  } catch (const std::exception &E) {
    fmt::print(stderr, "motec: internal error: {}\n", E.what());
    return ExitInternal;
  }
}
