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

#include <span>

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

/// Prints a user error ("motec: error: ...") and returns ExitUserError.
int reportError(const Diag &D);
/// Prints a usage error of \p Command and returns ExitUsage.
int reportUsage(std::string_view Command, const Diag &D);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_COMMANDS_H
