//===- Parser.cpp - Reads the textual graph IR ----------------------------===//
//
// A small recursive-descent parser working directly on characters.
//
//===----------------------------------------------------------------------===//

#include "compiler/Parser.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace mote {

namespace {

/// Largest param or const the text format holds (keeps a hostile file from
/// allocating terabytes).
constexpr int64_t MaxTextDataBytes = int64_t(1) << 28;
/// Largest quantization axis the text format reads (ranks are small; the
/// type check then bounds it by the rank).
constexpr int64_t MaxTextAxis = 64;

bool isIdentChar(char C) {
  return (C >= 'a' && C <= 'z') || (C >= 'A' && C <= 'Z') ||
         (C >= '0' && C <= '9') || C == '_' || C == '.' || C == ':' ||
         C == '/' || C == '-';
}

class Parser {
public:
  Parser(std::string_view Text, std::string File)
      : Text(Text), File(std::move(File)) {}

  Expected<std::unique_ptr<Graph>> parse();

private:
  // Low-level scanning.
  void skipSpace();
  bool atEnd() {
    skipSpace();
    return Pos >= Text.size();
  }
  char peek() {
    skipSpace();
    return Pos < Text.size() ? Text[Pos] : '\0';
  }
  bool consume(char C) {
    if (peek() != C)
      return false;
    ++Pos;
    return true;
  }
  Diag error(std::string Msg) const {
    Diag D(std::move(Msg));
    D.File = File;
    D.Line = Line;
    return D;
  }
  Status expect(char C, std::string_view What) {
    if (consume(C))
      return ok();
    return error(fmt::format("expected '{}' {}", C, What));
  }
  /// A bare word (keyword, op name, dtype).
  std::string word();
  /// A plain or quoted name.
  /// A name: an identifier or a quoted string (empty only if AllowEmpty).
  Expected<std::string> name(bool AllowEmpty = false);
  Expected<std::string> quoted();
  Expected<double> number(bool &IsFloat, int64_t &IntVal);
  Expected<TensorType> type();
  /// The quantization parameters of a type, after its '<'.
  Expected<QuantParams> quantParams();
  Expected<Tensor> data(const TensorType &T);
  Expected<AttrValue> attrValue();
  Expected<Value *> operand();
  Status nodeLine();

  std::string_view Text;
  std::string File;
  size_t Pos = 0;
  int Line = 1;
  std::unique_ptr<Graph> G;
};

void Parser::skipSpace() {
  while (Pos < Text.size()) {
    char C = Text[Pos];
    if (C == '\n') {
      ++Line;
      ++Pos;
    } else if (C == ' ' || C == '\t' || C == '\r') {
      ++Pos;
    } else if (C == '/' && Pos + 1 < Text.size() && Text[Pos + 1] == '/') {
      while (Pos < Text.size() && Text[Pos] != '\n')
        ++Pos;
    } else {
      break;
    }
  }
}

std::string Parser::word() {
  skipSpace();
  size_t Start = Pos;
  while (Pos < Text.size() &&
         ((Text[Pos] >= 'a' && Text[Pos] <= 'z') ||
          (Text[Pos] >= 'A' && Text[Pos] <= 'Z') ||
          (Text[Pos] >= '0' && Text[Pos] <= '9') || Text[Pos] == '_'))
    ++Pos;
  return std::string(Text.substr(Start, Pos - Start));
}

Expected<std::string> Parser::quoted() {
  if (!consume('"'))
    return error("expected a quoted string");
  std::string R;
  while (true) {
    if (Pos >= Text.size() || Text[Pos] == '\n')
      return error("unterminated string");
    char C = Text[Pos++];
    if (C == '"')
      return R;
    if (C != '\\') {
      R += C;
      continue;
    }
    if (Pos >= Text.size())
      return error("unterminated string");
    char E = Text[Pos++];
    if (E == 'x') {
      if (Pos + 2 > Text.size())
        return error("bad \\x escape");
      unsigned V = 0;
      auto [P, EC] = std::from_chars(Text.data() + Pos, Text.data() + Pos + 2,
                                     V, 16);
      if (EC != std::errc() || P != Text.data() + Pos + 2)
        return error("bad \\x escape");
      Pos += 2;
      R += char(V);
    } else {
      R += E;
    }
  }
}

Expected<std::string> Parser::name(bool AllowEmpty) {
  if (peek() == '"') {
    Expected<std::string> Q = quoted();
    if (Q && Q->empty() && !AllowEmpty)
      return error("a value name cannot be empty");
    return Q;
  }
  size_t Start = Pos;
  while (Pos < Text.size() && isIdentChar(Text[Pos]))
    ++Pos;
  if (Pos == Start)
    return error("expected a name");
  return std::string(Text.substr(Start, Pos - Start));
}

Expected<double> Parser::number(bool &IsFloat, int64_t &IntVal) {
  skipSpace();
  size_t Start = Pos;
  bool Neg = Pos < Text.size() && Text[Pos] == '-';
  if (Neg || (Pos < Text.size() && Text[Pos] == '+'))
    ++Pos;
  std::string_view Rest = Text.substr(Pos);
  IsFloat = false;
  if (Rest.starts_with("inf") || Rest.starts_with("nan")) {
    Pos += 3;
    IsFloat = true;
    double V = Rest[0] == 'i' ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
    return Neg ? -V : V;
  }
  while (Pos < Text.size() &&
         ((Text[Pos] >= '0' && Text[Pos] <= '9') || Text[Pos] == '.' ||
          Text[Pos] == 'e' || Text[Pos] == 'E' ||
          ((Text[Pos] == '-' || Text[Pos] == '+') &&
           (Text[Pos - 1] == 'e' || Text[Pos - 1] == 'E')))) {
    if (Text[Pos] == '.' || Text[Pos] == 'e' || Text[Pos] == 'E')
      IsFloat = true;
    ++Pos;
  }
  std::string_view Tok = Text.substr(Start, Pos - Start);
  if (Tok.empty() || Tok == "-" || Tok == "+")
    return error("expected a number");
  const char *B = Tok.data() + (Tok[0] == '+' ? 1 : 0);
  const char *E = Tok.data() + Tok.size();
  if (!IsFloat) {
    auto [P, EC] = std::from_chars(B, E, IntVal);
    if (EC != std::errc() || P != E)
      return error(fmt::format("bad integer '{}'", Tok));
    return double(IntVal);
  }
  double V = 0;
  auto [P, EC] = std::from_chars(B, E, V);
  if (EC == std::errc::result_out_of_range) {
    // Overflow to +-inf or underflow to 0, as strtod would.
    V = std::strtod(std::string(B, E).c_str(), nullptr);
  } else if (EC != std::errc() || P != E) {
    return error(fmt::format("bad number '{}'", Tok));
  }
  return V;
}

Expected<TensorType> Parser::type() {
  std::string W = word();
  std::optional<DType> DT = parseDType(W);
  if (!DT)
    return error(fmt::format("unknown element type '{}'", W));
  Status S = expect('[', "after the element type");
  if (!S)
    return S.takeError();
  Shape Dims;
  if (!consume(']')) {
    do {
      bool IsFloat;
      int64_t V = 0;
      Expected<double> N = number(IsFloat, V);
      if (!N)
        return N.takeError();
      if (IsFloat)
        return error("dims must be integers");
      Dims.push_back(V);
    } while (consume(','));
    S = expect(']', "after the dims");
    if (!S)
      return S.takeError();
  }
  TensorType T(*DT, std::move(Dims));
  // The parameters follow the ']' directly (looking further would move the
  // line of a diagnostic about this type to the next one).
  if (Pos < Text.size() && Text[Pos] == '<') {
    ++Pos;
    Expected<QuantParams> Q = quantParams();
    if (!Q)
      return Q.takeError();
    T.Quant = std::move(*Q);
  }
  if (std::string Why = T.invalidReason(); !Why.empty())
    return error(fmt::format("type {} is invalid: {}", T.str(), Why));
  return T;
}

Expected<QuantParams> Parser::quantParams() {
  QuantParams Q;
  size_t Save = Pos;
  int SaveLine = Line;
  if (word() == "axis") {
    bool IsFloat;
    int64_t Axis = 0;
    Expected<double> N = number(IsFloat, Axis);
    if (!N)
      return N.takeError();
    if (IsFloat || Axis < 0 || Axis > MaxTextAxis)
      return error("the quantization axis must be a dim index");
    Q.Axis = int32_t(Axis);
    if (Status S = expect(':', "after the quantization axis"); !S)
      return S.takeError();
  } else {
    Pos = Save;
    Line = SaveLine;
  }
  do {
    // The scale is read as a float from its own characters: the printer
    // writes the shortest form that reads back as the same float.
    skipSpace();
    size_t Start = Pos;
    bool IsFloat;
    int64_t IntVal = 0;
    Expected<double> V = number(IsFloat, IntVal);
    if (!V)
      return V.takeError();
    float Scale = 0;
    std::string_view Tok = Text.substr(Start, Pos - Start);
    const char *B = Tok.data() + (Tok[0] == '+' ? 1 : 0);
    auto [P, EC] = std::from_chars(B, Tok.data() + Tok.size(), Scale);
    if (EC != std::errc() || P != Tok.data() + Tok.size())
      return error(fmt::format("bad scale '{}'", Tok));
    if (Status S = expect(':', "between a scale and its zero point"); !S)
      return S.takeError();
    int64_t Zp = 0;
    Expected<double> Z = number(IsFloat, Zp);
    if (!Z)
      return Z.takeError();
    if (IsFloat || Zp < INT32_MIN || Zp > INT32_MAX)
      return error("a zero point must be a 32-bit integer");
    Q.Scale.push_back(Scale);
    Q.ZeroPoint.push_back(int32_t(Zp));
  } while (consume(','));
  if (Status S = expect('>', "after the quantization parameters"); !S)
    return S.takeError();
  return Q;
}

Expected<Tensor> Parser::data(const TensorType &T) {
  Status S = expect('[', "to start the data");
  if (!S)
    return S.takeError();
  Tensor R(T);
  int64_t N = T.numElements();
  int64_t I = 0;
  if (!consume(']')) {
    do {
      bool IsFloat;
      int64_t IV = 0;
      Expected<double> V = number(IsFloat, IV);
      if (!V)
        return V.takeError();
      if (I >= N)
        return error(fmt::format("more than {} values for {}", N, T.str()));
      if (IsFloat && !isFloat(T.Elem))
        return error(fmt::format("float value in {} data", T.str()));
      if (!IsFloat && T.Elem == DType::I64)
        R.data<int64_t>()[size_t(I)] = IV;
      else
        R.setFromDouble(I, *V);
      ++I;
    } while (consume(','));
    S = expect(']', "after the data");
    if (!S)
      return S.takeError();
  }
  if (I != N)
    return error(fmt::format("{} values for {} ({} elements)", I, T.str(), N));
  return R;
}

Expected<AttrValue> Parser::attrValue() {
  char C = peek();
  if (C == '"') {
    Expected<std::string> S = quoted();
    if (!S)
      return S.takeError();
    return AttrValue(*S);
  }
  if (C == 'i' || C == 'f' || C == 's') {
    size_t Save = Pos;
    std::string W = word();
    if (consume('[')) {
      Status S = expect(']', "after an empty list");
      if (!S)
        return S.takeError();
      if (W == "ints")
        return AttrValue(std::vector<int64_t>{});
      if (W == "floats")
        return AttrValue(std::vector<float>{});
      if (W == "strings")
        return AttrValue(std::vector<std::string>{});
      return error(fmt::format("unknown list type '{}'", W));
    }
    Pos = Save; // "inf" is a number
  }
  if (consume('[')) {
    if (peek() == '"') {
      std::vector<std::string> L;
      do {
        Expected<std::string> S = quoted();
        if (!S)
          return S.takeError();
        L.push_back(*S);
      } while (consume(','));
      Status St = expect(']', "after the list");
      if (!St)
        return St.takeError();
      return AttrValue(L);
    }
    std::vector<double> Vals;
    std::vector<int64_t> Ints;
    bool AnyFloat = false;
    do {
      bool IsFloat;
      int64_t IV = 0;
      Expected<double> V = number(IsFloat, IV);
      if (!V)
        return V.takeError();
      AnyFloat |= IsFloat;
      Vals.push_back(*V);
      Ints.push_back(IV);
    } while (consume(','));
    Status St = expect(']', "after the list");
    if (!St)
      return St.takeError();
    if (!AnyFloat)
      return AttrValue(Ints);
    std::vector<float> F(Vals.begin(), Vals.end());
    return AttrValue(F);
  }
  bool IsFloat;
  int64_t IV = 0;
  Expected<double> V = number(IsFloat, IV);
  if (!V)
    return V.takeError();
  if (IsFloat)
    return AttrValue(float(*V));
  return AttrValue(IV);
}

Expected<Value *> Parser::operand() {
  if (consume('_'))
    return static_cast<Value *>(nullptr);
  Status S = expect('%', "before an operand");
  if (!S)
    return S.takeError();
  Expected<std::string> N = name();
  if (!N)
    return N.takeError();
  Value *V = G->lookup(*N);
  if (!V)
    return error(fmt::format("use of undefined value '%{}'", *N));
  return V;
}

Status Parser::nodeLine() {
  std::vector<std::string> ResultNames;
  do {
    Status S = expect('%', "before a result name");
    if (!S)
      return S;
    Expected<std::string> N = name();
    if (!N)
      return N.takeError();
    if (G->isNameTaken(*N))
      return error(fmt::format("redefinition of '%{}'", *N));
    ResultNames.push_back(*N);
  } while (consume(','));
  Status S = expect('=', "after the results");
  if (!S)
    return S;
  std::string OpName = word();
  NodePhase Phase = NodePhase::Forward;
  if (OpName == "backward" || OpName == "update") {
    Phase = OpName == "backward" ? NodePhase::Backward : NodePhase::Update;
    OpName = word();
  }
  std::optional<OpKind> Op = lookupOp(OpName);
  if (!Op)
    return error(OpName.empty() ? std::string("expected an op name")
                                : fmt::format("unknown op '{}'", OpName));
  std::string NodeName;
  if (peek() == '"') {
    Expected<std::string> Q = quoted();
    if (!Q)
      return Q.takeError();
    NodeName = *Q;
    if (G->lookupNode(NodeName))
      return error(fmt::format("duplicate node name \"{}\"", NodeName));
  }
  S = expect('(', "before the operands");
  if (!S)
    return S;
  std::vector<Value *> Ins;
  if (!consume(')')) {
    do {
      Expected<Value *> V = operand();
      if (!V)
        return V.takeError();
      Ins.push_back(*V);
    } while (consume(','));
    S = expect(')', "after the operands");
    if (!S)
      return S;
  }
  AttrMap Attrs;
  if (consume('{')) {
    if (!consume('}')) {
      do {
        Expected<std::string> AN = name();
        if (!AN)
          return AN.takeError();
        if (Attrs.has(*AN))
          return error(fmt::format("duplicate attribute '{}'", *AN));
        S = expect('=', "after the attribute name");
        if (!S)
          return S;
        Expected<AttrValue> AV = attrValue();
        if (!AV)
          return AV.takeError();
        Attrs.set(*AN, std::move(*AV));
      } while (consume(','));
      S = expect('}', "after the attributes");
      if (!S)
        return S;
    }
  }
  S = expect(':', "before the result types");
  if (!S)
    return S;
  std::vector<ResultSpec> Results;
  for (size_t I = 0; I < ResultNames.size(); ++I) {
    if (I) {
      S = expect(',', "between result types");
      if (!S)
        return S;
    }
    Expected<TensorType> T = type();
    if (!T)
      return T.takeError();
    Results.push_back({ResultNames[I], *T});
  }
  Node *Nd = G->addNode(*Op, NodeName, std::move(Ins), std::move(Attrs),
                        std::move(Results));
  Nd->setPhase(Phase);
  return ok();
}

Expected<std::unique_ptr<Graph>> Parser::parse() {
  if (word() != "graph")
    return error("expected 'graph'");
  Status S = expect('@', "before the graph name");
  if (!S)
    return S.takeError();
  Expected<std::string> GN = name(/*AllowEmpty=*/true);
  if (!GN)
    return GN.takeError();
  G = std::make_unique<Graph>(*GN);
  G->SourceFile = File;
  S = expect('{', "to open the graph");
  if (!S)
    return S.takeError();
  while (!consume('}')) {
    if (atEnd())
      return error("expected '}' to close the graph");
    if (peek() == '%') {
      S = nodeLine();
      if (!S)
        return S.takeError();
      continue;
    }
    std::string KW = word();
    if (KW == "update") {
      Expected<Value *> P = operand();
      if (!P)
        return P.takeError();
      if (!*P || !(*P)->isParam())
        return error("'update' needs a param on its left");
      Status Eq = expect('=', "in an update");
      if (!Eq)
        return Eq.takeError();
      Expected<Value *> V = operand();
      if (!V)
        return V.takeError();
      if (!*V)
        return error("an update cannot take an absent value");
      G->addStateUpdate(*P, *V);
      continue;
    }
    if (KW == "output") {
      Expected<Value *> V = operand();
      if (!V)
        return V.takeError();
      if (!*V)
        return error("a graph output cannot be absent");
      G->addOutput(*V);
      continue;
    }
    if (KW != "input" && KW != "param" && KW != "const")
      return error(KW.empty() ? std::string("expected a statement")
                              : fmt::format("unknown statement '{}'", KW));
    S = expect('%', "before the name");
    if (!S)
      return S.takeError();
    Expected<std::string> N = name();
    if (!N)
      return N.takeError();
    if (G->isNameTaken(*N))
      return error(fmt::format("redefinition of '%{}'", *N));
    S = expect(':', "before the type");
    if (!S)
      return S.takeError();
    Expected<TensorType> T = type();
    if (!T)
      return T.takeError();
    if (KW == "input") {
      G->addInput(*N, *T);
      continue;
    }
    TrainSpec Train;
    bool OptState = false;
    if (KW == "param") {
      size_t Save = Pos;
      int SaveLine = Line;
      if (word() == "trainable") {
        Train.Trainable = true;
        if (consume('(')) {
          bool IsFloat;
          int64_t Ch = 0;
          Expected<double> V = number(IsFloat, Ch);
          if (!V)
            return V.takeError();
          if (IsFloat || Ch < 1)
            return error("trainable(N) needs a positive channel count");
          Train.Channels = Ch;
          S = expect(')', "after the channel count");
          if (!S)
            return S.takeError();
        }
      } else {
        Pos = Save;
        Line = SaveLine;
      }
      Save = Pos;
      SaveLine = Line;
      if (word() == "optimizer_state") {
        OptState = true;
      } else {
        Pos = Save;
        Line = SaveLine;
      }
    } else if (peek() == 't') {
      return error("only params can be trainable");
    }
    if (T->bytes() > MaxTextDataBytes)
      return error(fmt::format("'{}' is {} bytes, more than the text format "
                               "holds ({} bytes)",
                               *N, T->bytes(), MaxTextDataBytes));
    Tensor D(*T);
    if (consume('=')) {
      Expected<Tensor> Dt = data(*T);
      if (!Dt)
        return Dt.takeError();
      D = std::move(*Dt);
    }
    if (KW == "param")
    {
      Value *P = G->addParam(*N, std::move(D));
      P->setTrain(Train);
      P->setOptimizerState(OptState);
    }
    else
      G->addConst(*N, std::move(D));
  }
  if (!atEnd())
    return error("unexpected text after the graph");
  return std::move(G);
}

} // namespace

Expected<std::unique_ptr<Graph>> parseGraph(std::string_view Text,
                                            std::string FileName) {
  return Parser(Text, std::move(FileName)).parse();
}

} // namespace mote
