//===- CommandLine.cpp - A declarative command-line parser ----------------===//

#include "driver/CommandLine.h"

#include <algorithm>
#include <fmt/format.h>

namespace mote {

std::variant<ParsedArgs, UsageError>
parseArgs(std::span<const std::string> Args,
          std::span<const OptionSpec> Specs) {
  ParsedArgs R;
  for (size_t I = 0; I < Args.size(); ++I) {
    const std::string &A = Args[I];
    // One-letter options are spelled with one dash (-o DIR).
    bool Short = A.size() == 2 && A[0] == '-' && A[1] != '-';
    if (!Short && (A.size() < 3 || !A.starts_with("--"))) {
      if (A.starts_with("-") && A != "-")
        return UsageError{fmt::format("unknown option '{}'", A)};
      R.Positional.push_back(A);
      continue;
    }
    std::string_view Name = std::string_view(A).substr(Short ? 1 : 2);
    if (Name.size() == 1 && !Short)
      return UsageError{fmt::format("unknown option '{}' (use -{})", A, Name)};
    std::optional<std::string> Inline;
    if (size_t Eq = Name.find('='); Eq != std::string_view::npos) {
      Inline = std::string(Name.substr(Eq + 1));
      Name = Name.substr(0, Eq);
    }
    auto It = std::find_if(Specs.begin(), Specs.end(),
                           [&](const OptionSpec &S) { return S.Name == Name; });
    if (It == Specs.end())
      return UsageError{fmt::format("unknown option '{}'", A)};
    std::string Dashed = fmt::format("{}{}", Short ? "-" : "--", Name);
    std::string Val;
    if (It->Value.empty()) {
      if (Inline)
        return UsageError{fmt::format("option '{}' takes no value", Dashed)};
    } else if (Inline) {
      Val = *Inline;
    } else {
      if (I + 1 >= Args.size())
        return UsageError{
            fmt::format("option '{}' needs a value ({})", Dashed, It->Value)};
      Val = Args[++I];
    }
    auto &Slot = R.Values[std::string(Name)];
    if (!Slot.empty() && !It->Repeats)
      return UsageError{
          fmt::format("option '{}' given more than once", Dashed)};
    Slot.push_back(std::move(Val));
  }
  return R;
}

std::string formatOptions(std::span<const OptionSpec> Specs) {
  std::string S;
  for (const OptionSpec &O : Specs) {
    std::string Left =
        fmt::format("  {}{}", O.Name.size() == 1 ? "-" : "--", O.Name);
    if (!O.Value.empty())
      Left += fmt::format(" {}", O.Value);
    if (O.Repeats)
      Left += " ...";
    S += fmt::format("{:<34} {}\n", Left, O.Help);
  }
  return S;
}

} // namespace mote
