//===- Printer.cpp - Textual form of the graph IR -------------------------===//

#include "compiler/Printer.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <cmath>
#include <fmt/format.h>

namespace mote {

namespace {

bool isPlainIdentChar(char C) {
  return (C >= 'a' && C <= 'z') || (C >= 'A' && C <= 'Z') ||
         (C >= '0' && C <= '9') || C == '_' || C == '.' || C == ':' ||
         C == '/' || C == '-';
}

std::string quote(const std::string &S) {
  std::string R = "\"";
  for (char C : S) {
    if (C == '"' || C == '\\') {
      R += '\\';
      R += C;
    } else if (static_cast<unsigned char>(C) < 0x20 || C == 0x7f) {
      R += fmt::format("\\x{:02x}", static_cast<unsigned char>(C));
    } else {
      R += C;
    }
  }
  return R + "\"";
}

template <class F> std::string printFloat(F V) {
  if (std::isnan(V))
    return "nan";
  if (std::isinf(V))
    return V > 0 ? "inf" : "-inf";
  std::string S = fmt::format("{}", V);
  if (S.find_first_of(".e") == std::string::npos)
    S += ".0";
  return S;
}

std::string printAttr(const AttrValue &V) {
  switch (kindOf(V)) {
  case AttrKind::Int:
    return fmt::format("{}", std::get<int64_t>(V));
  case AttrKind::Float:
    return printFloat(std::get<float>(V));
  case AttrKind::String:
    return quote(std::get<std::string>(V));
  case AttrKind::Ints: {
    const auto &L = std::get<std::vector<int64_t>>(V);
    return L.empty() ? "ints[]" : fmt::format("[{}]", fmt::join(L, ", "));
  }
  case AttrKind::Floats: {
    const auto &L = std::get<std::vector<float>>(V);
    if (L.empty())
      return "floats[]";
    std::string R = "[";
    for (size_t I = 0; I < L.size(); ++I)
      R += (I ? ", " : "") + printFloat(L[I]);
    return R + "]";
  }
  case AttrKind::Strings: {
    const auto &L = std::get<std::vector<std::string>>(V);
    if (L.empty())
      return "strings[]";
    std::string R = "[";
    for (size_t I = 0; I < L.size(); ++I)
      R += (I ? ", " : "") + quote(L[I]);
    return R + "]";
  }
  }
  return "";
}

std::string printData(const Tensor &T) {
  std::string R = "[";
  int64_t N = T.numElements();
  dispatchDType(T.dtype(), [&](auto Tag) {
    using E = decltype(Tag);
    auto D = T.data<E>();
    for (int64_t I = 0; I < N; ++I) {
      if (I)
        R += ", ";
      if constexpr (std::is_floating_point_v<E>)
        R += printFloat(D[size_t(I)]);
      else
        R += fmt::format("{}", int64_t(D[size_t(I)]));
    }
  });
  return R + "]";
}

} // namespace

std::string printName(const std::string &Name) {
  bool Plain = !Name.empty();
  for (char C : Name)
    Plain &= isPlainIdentChar(C);
  return Plain ? Name : quote(Name);
}

std::string printGraph(const Graph &G, const PrintOptions &Opts) {
  std::string S = fmt::format("graph @{} {{\n", printName(G.name()));
  for (const Value *V : G.inputs())
    S += fmt::format("  input %{} : {}\n", printName(V->name()),
                     V->type().str());
  for (const Value *V : G.params()) {
    S += fmt::format("  {} %{} : {}", V->isParam() ? "param" : "const",
                     printName(V->name()), V->type().str());
    if (V->isTrainable())
      S += V->train().Channels >= 0
               ? fmt::format(" trainable({})", V->train().Channels)
               : std::string(" trainable");
    if (V->isOptimizerState())
      S += " optimizer_state";
    if (Opts.ElideDataAbove < 0 ||
        V->type().numElements() <= Opts.ElideDataAbove)
      S += " = " + printData(*V->data());
    S += "\n";
  }
  for (const auto &NP : G.nodes()) {
    const Node &N = *NP;
    S += "  ";
    for (size_t I = 0; I < N.numOutputs(); ++I)
      S += (I ? ", %" : "%") + printName(N.output(I)->name());
    S += " = ";
    if (N.phase() == NodePhase::Backward)
      S += "backward ";
    else if (N.phase() == NodePhase::Update)
      S += "update ";
    S += fmt::format("{} {}(", N.opName(), quote(N.name()));
    for (size_t I = 0; I < N.numInputs(); ++I) {
      S += I ? ", " : "";
      S += N.input(I) ? "%" + printName(N.input(I)->name()) : "_";
    }
    S += ")";
    if (!N.attrs().empty()) {
      S += " {";
      bool First = true;
      for (const auto &[Name, Val] : N.attrs().all()) {
        S += fmt::format("{}{} = {}", First ? "" : ", ", printName(Name),
                         printAttr(Val));
        First = false;
      }
      S += "}";
    }
    S += " : ";
    for (size_t I = 0; I < N.numOutputs(); ++I)
      S += (I ? ", " : "") + N.output(I)->type().str();
    S += "\n";
  }
  for (const Value *V : G.outputs())
    S += fmt::format("  output %{}\n", printName(V->name()));
  for (const Graph::StateUpdate &U : G.stateUpdates())
    S += fmt::format("  update %{} = %{}\n", printName(U.Param->name()),
                     printName(U.NewValue->name()));
  S += "}\n";
  return S;
}

} // namespace mote
