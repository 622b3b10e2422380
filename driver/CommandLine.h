//===- CommandLine.h - A declarative command-line parser --------*- C++ -*-===//
//
// Every tool of mote (each motec command, mote-opt) lists its options
// (name, whether it takes a value, whether it repeats, help) and parses its
// arguments here; the options that shape a compile are read from the result
// by the one validator in driver/Options.h. Unknown options, missing values
// and repeated single options are usage errors.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_DRIVER_COMMANDLINE_H
#define MOTE_DRIVER_COMMANDLINE_H

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mote {

struct OptionSpec {
  std::string_view Name;  ///< without the leading "--"
  std::string_view Value; ///< metavariable ("FILE"), empty for a flag
  bool Repeats = false;
  std::string_view Help;
};

/// Parsed command line of one subcommand.
class ParsedArgs {
public:
  std::vector<std::string> Positional;
  std::map<std::string, std::vector<std::string>, std::less<>> Values;

  bool has(std::string_view N) const { return Values.find(N) != Values.end(); }
  std::optional<std::string> get(std::string_view N) const {
    auto It = Values.find(N);
    if (It == Values.end() || It->second.empty())
      return std::nullopt;
    return It->second.back();
  }
  std::vector<std::string> getAll(std::string_view N) const {
    auto It = Values.find(N);
    return It == Values.end() ? std::vector<std::string>{} : It->second;
  }
};

/// A usage error (exit code 2).
struct UsageError {
  std::string Message;
};

/// Parses \p Args against \p Specs.
std::variant<ParsedArgs, UsageError>
parseArgs(std::span<const std::string> Args, std::span<const OptionSpec> Specs);

/// Help text for \p Specs, one option per line.
std::string formatOptions(std::span<const OptionSpec> Specs);

} // namespace mote

#endif // MOTE_DRIVER_COMMANDLINE_H
