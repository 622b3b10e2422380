//===- Json.cpp - A small JSON writer -------------------------------------===//

#include "compiler/Json.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace mote {

std::string JsonWriter::escape(std::string_view S) {
  std::string R = "\"";
  for (char C : S) {
    switch (C) {
    case '"': R += "\\\""; break;
    case '\\': R += "\\\\"; break;
    case '\n': R += "\\n"; break;
    case '\t': R += "\\t"; break;
    case '\r': R += "\\r"; break;
    default:
      if (static_cast<unsigned char>(C) < 0x20)
        R += fmt::format("\\u{:04x}", static_cast<unsigned char>(C));
      else
        R += C;
    }
  }
  return R + "\"";
}

void JsonWriter::separate() {
  if (AfterKey) {
    AfterKey = false;
    return;
  }
  if (!HasElem.empty()) {
    if (HasElem.back())
      Out += ",";
    HasElem.back() = true;
    Out += "\n" + std::string(HasElem.size() * 2, ' ');
  }
}

void JsonWriter::beginObject() {
  separate();
  Out += "{";
  HasElem.push_back(false);
}

void JsonWriter::endObject() {
  bool Any = HasElem.back();
  HasElem.pop_back();
  if (Any)
    Out += "\n" + std::string(HasElem.size() * 2, ' ');
  Out += "}";
  if (HasElem.empty())
    Out += "\n";
}

void JsonWriter::beginArray() {
  separate();
  Out += "[";
  HasElem.push_back(false);
}

void JsonWriter::endArray() {
  bool Any = HasElem.back();
  HasElem.pop_back();
  if (Any)
    Out += "\n" + std::string(HasElem.size() * 2, ' ');
  Out += "]";
}

void JsonWriter::key(std::string_view K) {
  separate();
  Out += escape(K) + ": ";
  AfterKey = true;
}

void JsonWriter::value(std::string_view S) {
  separate();
  Out += escape(S);
}

void JsonWriter::value(int64_t V) {
  separate();
  Out += fmt::format("{}", V);
}

void JsonWriter::value(double V) {
  separate();
  Out += std::isfinite(V) ? fmt::format("{}", V) : std::string("null");
}

void JsonWriter::value(bool V) {
  separate();
  Out += V ? "true" : "false";
}

void JsonWriter::null() {
  separate();
  Out += "null";
}

namespace {

class JsonParser {
public:
  explicit JsonParser(std::string_view T) : T(T) {}

  Expected<JsonValue> parseTop() {
    Expected<JsonValue> V = value(0);
    if (!V)
      return V;
    skip();
    if (P != T.size())
      return fail("unexpected text after the JSON value");
    return V;
  }

private:
  Diag fail(std::string Msg) const {
    return Diag(fmt::format("invalid JSON at offset {}: {}", P, Msg));
  }
  void skip() {
    while (P < T.size() && (T[P] == ' ' || T[P] == '\n' || T[P] == '\t' ||
                            T[P] == '\r'))
      ++P;
  }
  bool lit(std::string_view W) {
    if (T.substr(P, W.size()) != W)
      return false;
    P += W.size();
    return true;
  }
  Expected<std::string> str() {
    if (P >= T.size() || T[P] != '"')
      return fail("expected a string");
    ++P;
    std::string R;
    while (P < T.size() && T[P] != '"') {
      char C = T[P++];
      if (C != '\\') {
        R += C;
        continue;
      }
      if (P >= T.size())
        break;
      char E = T[P++];
      switch (E) {
      case 'n': R += '\n'; break;
      case 't': R += '\t'; break;
      case 'r': R += '\r'; break;
      case 'b': R += '\b'; break;
      case 'f': R += '\f'; break;
      case 'u': {
        if (P + 4 > T.size())
          return fail("bad \\u escape");
        unsigned V = 0;
        for (int I = 0; I < 4; ++I) {
          char H = T[P++];
          V <<= 4;
          if (H >= '0' && H <= '9') V |= unsigned(H - '0');
          else if (H >= 'a' && H <= 'f') V |= unsigned(H - 'a' + 10);
          else if (H >= 'A' && H <= 'F') V |= unsigned(H - 'A' + 10);
          else return fail("bad \\u escape");
        }
        R += V < 0x80 ? char(V) : '?';
        break;
      }
      default: R += E;
      }
    }
    if (P >= T.size())
      return fail("unterminated string");
    ++P;
    return R;
  }
  Expected<JsonValue> value(int Depth) {
    if (Depth > 64)
      return fail("nested too deeply");
    skip();
    if (P >= T.size())
      return fail("unexpected end");
    JsonValue V;
    char C = T[P];
    if (C == '{') {
      ++P;
      V.K = JsonValue::Kind::Object;
      skip();
      if (P < T.size() && T[P] == '}') {
        ++P;
        return V;
      }
      while (true) {
        skip();
        Expected<std::string> K = str();
        if (!K)
          return K.takeError();
        skip();
        if (P >= T.size() || T[P] != ':')
          return fail("expected ':'");
        ++P;
        Expected<JsonValue> E = value(Depth + 1);
        if (!E)
          return E;
        V.Obj[*K] = std::move(*E);
        skip();
        if (P < T.size() && T[P] == ',') {
          ++P;
          continue;
        }
        if (P < T.size() && T[P] == '}') {
          ++P;
          return V;
        }
        return fail("expected ',' or '}'");
      }
    }
    if (C == '[') {
      ++P;
      V.K = JsonValue::Kind::Array;
      skip();
      if (P < T.size() && T[P] == ']') {
        ++P;
        return V;
      }
      while (true) {
        Expected<JsonValue> E = value(Depth + 1);
        if (!E)
          return E;
        V.Arr.push_back(std::move(*E));
        skip();
        if (P < T.size() && T[P] == ',') {
          ++P;
          continue;
        }
        if (P < T.size() && T[P] == ']') {
          ++P;
          return V;
        }
        return fail("expected ',' or ']'");
      }
    }
    if (C == '"') {
      Expected<std::string> S = str();
      if (!S)
        return S.takeError();
      V.K = JsonValue::Kind::String;
      V.Str = std::move(*S);
      return V;
    }
    if (lit("true") || lit("false")) {
      V.K = JsonValue::Kind::Bool;
      V.B = T[P - 1] == 'e' && T[P - 2] == 'u';
      return V;
    }
    if (lit("null"))
      return V;
    size_t Start = P;
    while (P < T.size() && (std::isdigit(static_cast<unsigned char>(T[P])) ||
                            T[P] == '-' || T[P] == '+' || T[P] == '.' ||
                            T[P] == 'e' || T[P] == 'E'))
      ++P;
    if (Start == P)
      return fail("unexpected character");
    std::string Num(T.substr(Start, P - Start));
    char *End = nullptr;
    V.Num = std::strtod(Num.c_str(), &End);
    if (End != Num.c_str() + Num.size())
      return fail(fmt::format("bad number '{}'", Num));
    V.K = JsonValue::Kind::Number;
    return V;
  }

  std::string_view T;
  size_t P = 0;
};

} // namespace

Expected<JsonValue> parseJson(std::string_view Text) {
  if (Text.size() > (size_t(1) << 26))
    return Diag("JSON input larger than 64 MiB");
  return JsonParser(Text).parseTop();
}

} // namespace mote
