//===- Commands.h - motec subcommands ---------------------------*- C++ -*-===//
//
// Each subcommand is one entry of the table in Main.cpp: its name, summary,
// options and an entry point returning the process exit code (0 ok, 1
// user/model error, 2 usage, >2 internal). Commands parse their arguments
// (driver/CommandLine.h, driver/Options.h), call the driver
// (driver/Driver.h) and print or write what it returns.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_COMMANDS_H
#define MOTE_TOOLS_MOTEC_COMMANDS_H

#include "compiler/Diagnostic.h"
#include "driver/CommandLine.h"

#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mote {
struct CompiledModel;
} // namespace mote

namespace mote::cli {

enum ExitCode : int {
  ExitOk = 0,
  ExitUserError = 1,
  ExitUsage = 2,
  ExitInternal = 3
};

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
/// reportUsage for a usage error (Diag::Usage), else reportError.
int reportDiag(std::string_view Command, const Diag &D);

/// A command's own options followed by the model options
/// (driver/Options.h).
std::vector<OptionSpec> withModelOptions(std::span<const OptionSpec> Own);

/// The report options of plan and compile: --report, --report-html,
/// --ram-budget, --save-update.
extern const OptionSpec ReportOptions[4];
/// A usage error in the report options of \p Args (--save-update without
/// --train), checked before compiling.
std::optional<Diag> reportOptionsError(const ParsedArgs &Args);
/// Writes the reports --report FILE.json and --report-html FILE.html ask
/// for (to DefaultDir/report.{json,html} when not given and DefaultDir is
/// not empty) and the --save-update file; prints what --update auto chose.
/// Returns an exit code.
int writeReports(const ParsedArgs &Args, const CompiledModel &M,
                 const std::filesystem::path &DefaultDir);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_COMMANDS_H
