//===- Diagnostic.cpp - User-facing errors --------------------------------===//

#include "compiler/Diagnostic.h"
#include "compiler/Graph.h"

#include <fmt/format.h>

namespace mote {

Diag &Diag::at(const Node &N) {
  if (NodeName.empty())
    NodeName = N.name();
  if (OpType.empty())
    OpType = std::string(N.opName());
  return *this;
}

std::string Diag::str() const {
  std::string S;
  if (!File.empty()) {
    S += File;
    if (Line >= 0)
      S += fmt::format(":{}", Line);
    S += ": ";
  }
  if (!NodeName.empty() || !OpType.empty()) {
    S += fmt::format("node '{}'", NodeName);
    if (!OpType.empty()) {
      S += " (" + OpType;
      if (Opset >= 0)
        S += fmt::format(", opset {}", Opset);
      S += ")";
    }
    S += ": ";
  }
  S += Message;
  return S;
}

} // namespace mote
