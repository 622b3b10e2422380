//===- Commands.h - motec subcommands ---------------------------*- C++ -*-===//
//
// Each subcommand is one entry of the table in Main.cpp: its name, summary,
// options and an entry point returning the process exit code (0 ok, 1
// user/model error, 2 usage, >2 internal).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_COMMANDS_H
#define MOTE_TOOLS_MOTEC_COMMANDS_H

#include "Options.h"

#include <filesystem>
#include <span>

namespace mote {
class Graph;
struct MemoryLayout;
} // namespace mote

namespace mote::cli {

enum ExitCode : int { ExitOk = 0, ExitUserError = 1, ExitUsage = 2, ExitInternal = 3 };

struct Command {
  std::string_view Name;
  std::string_view Synopsis;
  std::string_view Summary;
  /// The command's options (a function: the tables are built on first use,
  /// not during static initialisation).
  std::span<const OptionSpec> (*Options)();
  int (*Run)(const ParsedArgs &Args);
};

extern const Command InspectCommand;
extern const Command RunCommand;
extern const Command PlanCommand;
extern const Command CompileCommand;
extern const Command CheckCommand;

/// Prints a user error ("motec: error: ...") and returns ExitUserError.
int reportError(const Diag &D);
/// Prints a usage error of \p Command and returns ExitUsage.
int reportUsage(std::string_view Command, const Diag &D);

struct Session;
/// The memory report options shared by plan and compile: --ram-budget
/// (exit 1 naming the peak's contributors), --report FILE.json and
/// --report-html FILE.html (written to DefaultDir/report.{json,html} when
/// not given and DefaultDir is not empty). Returns an exit code.
int budgetAndReports(const ParsedArgs &Args, std::string_view Command,
                     const Session &S, const Graph &G, const MemoryLayout &L,
                     const std::filesystem::path &DefaultDir);
/// The options of budgetAndReports.
extern const OptionSpec ReportOptions[3];

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_COMMANDS_H
